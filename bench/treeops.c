/* treeops: the client side of bench/run for what find and a shell cannot do
 * on paths longer than PATH_MAX (a chain of 1,000 checkpoints is one).
 * Everything goes through directory file descriptors (openat, mkdirat), so
 * depth costs nothing but one descriptor per level.
 *
 *   treeops read DIR        reads every file named xml below DIR, like
 *                           `find DIR -name xml -exec cat {} +` would; prints
 *                           "files=N bytes=B"
 *   treeops mkchain DIR N   in every subdirectory of DIR (a domain), makes a
 *                           chain of N directories cp00001/cp00002/.../cpN
 *                           by mkdir, one process for all; prints "dirs=N"
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static unsigned long long files, bytes;

static void
die(const char *what, const char *name)
{
    fprintf(stderr, "treeops: %s %s: %s\n", what, name, strerror(errno));
    exit(1);
}

typedef struct {
    char **names;
    unsigned char *types;
    size_t n, cap;
} Listing;

static void
list_dir(int fd, Listing *l)
{
    int dupfd = dup(fd);
    DIR *d = dupfd >= 0 ? fdopendir(dupfd) : NULL;
    struct dirent *e;

    if (!d)
        die("opendir", "");
    memset(l, 0, sizeof(*l));
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (l->n == l->cap) {
            l->cap = l->cap ? 2 * l->cap : 16;
            l->names = realloc(l->names, l->cap * sizeof(char *));
            l->types = realloc(l->types, l->cap);
        }
        l->names[l->n] = strdup(e->d_name);
        l->types[l->n++] = e->d_type;
    }
    closedir(d);
}

static void
list_free(Listing *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->names[i]);
    free(l->names);
    free(l->types);
}

static void
read_file(int dirfd, const char *name)
{
    static char buf[1 << 16];
    int fd = openat(dirfd, name, O_RDONLY);
    ssize_t got;

    if (fd < 0)
        die("open", name);
    while ((got = read(fd, buf, sizeof(buf))) > 0)
        bytes += (unsigned long long)got;
    if (got < 0)
        die("read", name);
    close(fd);
    files++;
}

static void
read_tree(int fd)
{
    Listing l;

    list_dir(fd, &l);
    for (size_t i = 0; i < l.n; i++) {
        if (l.types[i] != DT_DIR && strcmp(l.names[i], "xml") == 0)
            read_file(fd, l.names[i]);
    }
    for (size_t i = 0; i < l.n; i++) {
        int sub;

        if (l.types[i] != DT_DIR)
            continue;
        sub = openat(fd, l.names[i], O_RDONLY | O_DIRECTORY);
        if (sub < 0)
            die("open directory", l.names[i]);
        read_tree(sub);
        close(sub);
    }
    list_free(&l);
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static unsigned long long
mkchain(int root, long n)
{
    Listing l;
    unsigned long long made = 0;

    list_dir(root, &l);
    qsort(l.names, l.n, sizeof(char *), cmp_str);
    for (size_t i = 0; i < l.n; i++) {
        int fd = openat(root, l.names[i], O_RDONLY | O_DIRECTORY);

        if (fd < 0) {
            if (errno == ENOTDIR)
                continue;
            die("open directory", l.names[i]);
        }
        for (long k = 1; k <= n; k++) {
            char name[32];
            int sub;

            snprintf(name, sizeof(name), "cp%05ld", k);
            if (mkdirat(fd, name, 0755) < 0)
                die("mkdir", name);
            made++;
            sub = openat(fd, name, O_RDONLY | O_DIRECTORY);
            if (sub < 0)
                die("open directory", name);
            close(fd);
            fd = sub;
        }
        close(fd);
    }
    list_free(&l);
    return made;
}

int
main(int argc, char **argv)
{
    struct rlimit rl;
    int fd;

    if (argc < 3) {
        fprintf(stderr, "usage: treeops read DIR | treeops mkchain DIR N\n");
        return 2;
    }
    /* One descriptor per level of a deep chain. */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    fd = open(argv[2], O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        die("open directory", argv[2]);
    if (strcmp(argv[1], "read") == 0) {
        read_tree(fd);
        printf("files=%llu bytes=%llu\n", files, bytes);
    } else if (strcmp(argv[1], "mkchain") == 0 && argc == 4) {
        printf("dirs=%llu\n", mkchain(fd, strtol(argv[3], NULL, 10)));
    } else {
        fprintf(stderr, "usage: treeops read DIR | treeops mkchain DIR N\n");
        return 2;
    }
    close(fd);
    return 0;
}
