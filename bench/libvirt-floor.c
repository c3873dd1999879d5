/* libvirt-floor: the least a client must ask libvirt for to do what a walk,
 * a read and a mkdir of checkpointfs do, timed.
 *
 *   libvirt-floor [--create N] [--repeat K] [--shape FILE] [--delete] URI
 *
 * In one connection to URI, in this order:
 *   create  (with --create N) N checkpoints per domain, one chain each, named
 *           cp00001..cpN (virDomainCheckpointCreateXML, flags 0: libvirt
 *           makes the previous one the parent);
 *   list    every domain and every checkpoint with its parent
 *           (virConnectListAllDomains, virDomainListAllCheckpoints,
 *           virDomainCheckpointGetParent per checkpoint);
 *   read    the XML of every domain and checkpoint (flags 0), what the xml
 *           files of a mount hold, with the handles the list returned;
 *           list and read are done K times (--repeat, default 1);
 *   delete  (with --delete) every checkpoint (DELETE_CHILDREN on each root).
 * With --shape FILE it writes the tree it listed, for bench/fuse-floor:
 *   D <domain> <xml bytes>
 *   C <domain> <checkpoint> <parent or -> <xml bytes>
 * On the test driver the state lives in the connection, so this program
 * must create its own checkpoints: it cannot see those of a mount.
 *
 * Output, one line per step, machine-readable:
 *   floor op=create seconds=0.123456 calls=1000 checkpoints=1000
 *   floor op=list seconds=... calls=... domains=... checkpoints=...
 *   floor op=read seconds=... calls=... files=... bytes=...
 *   floor op=delete seconds=... calls=...
 *   floor op=rss vmhwm_kib=... rss_anon_kib=... rss_file_kib=...
 * The calls counted are libvirt API calls that may reach the driver (name
 * getters and frees are not counted). */
#include <errno.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static unsigned long long calls;

static double
now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
silent(void *opaque, virErrorPtr err)
{
    (void)opaque;
    (void)err;
}

static void
die(const char *what)
{
    const char *msg = virGetLastErrorMessage();

    fprintf(stderr, "libvirt-floor: %s: %s\n", what, msg ? msg : "unknown error");
    exit(1);
}

/* A field of /proc/self/status in KiB (VmHWM, RssAnon, RssFile), or -1. */
static long
status_kib(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    size_t len = strlen(field);
    char line[256];
    long kib = -1;

    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, field, len) == 0 && line[len] == ':') {
            kib = strtol(line + len + 1, NULL, 10);
            break;
        }
    }
    fclose(f);
    return kib;
}

typedef struct {
    virDomainPtr dom;
    virDomainCheckpointPtr *cps;
    int ncps;
    char **parents;  /* per checkpoint: parent name or NULL */
} DomainRec;

static int
cmp_domain(const void *a, const void *b)
{
    const DomainRec *x = a, *y = b;

    return strcmp(virDomainGetName(x->dom), virDomainGetName(y->dom));
}

static void
free_recs(DomainRec *recs, int ndoms)
{
    for (int d = 0; d < ndoms; d++) {
        for (int i = 0; i < recs[d].ncps; i++) {
            virDomainCheckpointFree(recs[d].cps[i]);
            free(recs[d].parents[i]);
        }
        free(recs[d].cps);
        free(recs[d].parents);
        virDomainFree(recs[d].dom);
    }
    free(recs);
}

/* One list (every domain, checkpoint and parent) and one read (every XML a
 * mount shows), each timed; writes the shape to SHAPE_PATH when given. */
static DomainRec *
list_and_read(virConnectPtr conn, const char *shape_path, int *ndoms_out)
{
    virDomainPtr *doms = NULL;
    DomainRec *recs;
    int ndoms;
    unsigned long long c0, total = 0, files = 0, bytes = 0;
    double t0;
    FILE *shape = NULL;

    /* list: every domain, every checkpoint, every parent */
    t0 = now();
    c0 = calls;
    calls++;
    ndoms = virConnectListAllDomains(conn, &doms, 0);
    if (ndoms < 0)
        die("list domains");
    recs = calloc((size_t)ndoms + 1, sizeof(*recs));
    for (int d = 0; d < ndoms; d++) {
        DomainRec *r = &recs[d];

        r->dom = doms[d];
        calls++;
        r->ncps = virDomainListAllCheckpoints(r->dom, &r->cps, 0);
        if (r->ncps < 0)
            die("list checkpoints");
        r->parents = calloc((size_t)r->ncps + 1, sizeof(char *));
        for (int i = 0; i < r->ncps; i++) {
            virDomainCheckpointPtr parent;

            calls++;
            parent = virDomainCheckpointGetParent(r->cps[i], 0);
            if (parent) {
                r->parents[i] = strdup(virDomainCheckpointGetName(parent));
                virDomainCheckpointFree(parent);
            } else if (virGetLastErrorCode() != VIR_ERR_NO_DOMAIN_CHECKPOINT) {
                die("checkpoint parent");
            }
            virResetLastError();
        }
        total += (unsigned long long)r->ncps;
    }
    printf("floor op=list seconds=%.6f calls=%llu domains=%d checkpoints=%llu\n",
           now() - t0, calls - c0, ndoms, total);
    fflush(stdout);

    /* read: every XML document a mount shows */
    qsort(recs, (size_t)ndoms, sizeof(*recs), cmp_domain);
    if (shape_path) {
        shape = fopen(shape_path, "w");
        if (!shape) {
            fprintf(stderr, "libvirt-floor: %s: %s\n", shape_path, strerror(errno));
            exit(1);
        }
    }
    t0 = now();
    c0 = calls;
    for (int d = 0; d < ndoms; d++) {
        DomainRec *r = &recs[d];
        char *xml;

        calls++;
        xml = virDomainGetXMLDesc(r->dom, 0);
        if (!xml)
            die("domain XML");
        files++;
        bytes += strlen(xml);
        if (shape)
            fprintf(shape, "D %s %zu\n", virDomainGetName(r->dom), strlen(xml));
        free(xml);
        for (int i = 0; i < r->ncps; i++) {
            calls++;
            xml = virDomainCheckpointGetXMLDesc(r->cps[i], 0);
            if (!xml)
                die("checkpoint XML");
            files++;
            bytes += strlen(xml);
            if (shape)
                fprintf(shape, "C %s %s %s %zu\n", virDomainGetName(r->dom),
                        virDomainCheckpointGetName(r->cps[i]),
                        r->parents[i] ? r->parents[i] : "-", strlen(xml));
            free(xml);
        }
    }
    printf("floor op=read seconds=%.6f calls=%llu files=%llu bytes=%llu\n", now() - t0,
           calls - c0, files, bytes);
    fflush(stdout);
    if (shape && fclose(shape) != 0) {
        fprintf(stderr, "libvirt-floor: %s: %s\n", shape_path, strerror(errno));
        exit(1);
    }
    free(doms);  /* the handles live on in RECS */
    *ndoms_out = ndoms;
    return recs;
}

static void
usage(void)
{
    fprintf(stderr,
            "usage: libvirt-floor [--create N] [--repeat K] [--shape FILE] [--delete] URI\n");
    exit(2);
}

int
main(int argc, char **argv)
{
    const char *uri = NULL, *shape_path = NULL;
    long create = 0;
    int do_delete = 0;
    virConnectPtr conn;
    virDomainPtr *doms = NULL;
    DomainRec *recs = NULL;
    int ndoms = 0;
    long repeat = 1;
    unsigned long long c0;
    double t0;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--create") == 0 && i + 1 < argc)
            create = strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--repeat") == 0 && i + 1 < argc)
            repeat = strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--shape") == 0 && i + 1 < argc)
            shape_path = argv[++i];
        else if (strcmp(argv[i], "--delete") == 0)
            do_delete = 1;
        else if (argv[i][0] == '-' || uri)
            usage();
        else
            uri = argv[i];
    }
    if (!uri || create < 0 || repeat < 1)
        usage();

    virSetErrorFunc(NULL, silent);
    if (virInitialize() < 0)
        die("initialize");
    conn = virConnectOpen(uri);
    if (!conn)
        die(uri);

    if (create > 0) {
        t0 = now();
        c0 = calls;
        calls++;
        ndoms = virConnectListAllDomains(conn, &doms, 0);
        if (ndoms < 0)
            die("list domains");
        for (int d = 0; d < ndoms; d++) {
            for (long i = 1; i <= create; i++) {
                char xml[128];
                virDomainCheckpointPtr cp;

                snprintf(xml, sizeof(xml),
                         "<domaincheckpoint><name>cp%05ld</name></domaincheckpoint>", i);
                calls++;
                cp = virDomainCheckpointCreateXML(doms[d], xml, 0);
                if (!cp)
                    die("create checkpoint");
                virDomainCheckpointFree(cp);
            }
        }
        printf("floor op=create seconds=%.6f calls=%llu checkpoints=%ld\n", now() - t0,
               calls - c0, create * ndoms);
        fflush(stdout);
        for (int d = 0; d < ndoms; d++)
            virDomainFree(doms[d]);
        free(doms);
        doms = NULL;
    }

    for (long k = 0; k < repeat; k++) {
        recs = list_and_read(conn, k == 0 ? shape_path : NULL, &ndoms);
        if (k + 1 < repeat)
            free_recs(recs, ndoms);
    }

    if (do_delete) {
        t0 = now();
        c0 = calls;
        for (int d = 0; d < ndoms; d++) {
            virDomainCheckpointPtr *roots = NULL;
            int n;

            calls++;
            n = virDomainListAllCheckpoints(recs[d].dom, &roots,
                                            VIR_DOMAIN_CHECKPOINT_LIST_ROOTS);
            if (n < 0)
                die("list root checkpoints");
            for (int i = 0; i < n; i++) {
                calls++;
                if (virDomainCheckpointDelete(roots[i],
                                              VIR_DOMAIN_CHECKPOINT_DELETE_CHILDREN) < 0)
                    die("delete checkpoints");
                virDomainCheckpointFree(roots[i]);
            }
            free(roots);
        }
        printf("floor op=delete seconds=%.6f calls=%llu\n", now() - t0, calls - c0);
    }
    printf("floor op=rss vmhwm_kib=%ld rss_anon_kib=%ld rss_file_kib=%ld\n",
           status_kib("VmHWM"), status_kib("RssAnon"), status_kib("RssFile"));

    free_recs(recs, ndoms);
    virConnectClose(conn);
    return 0;
}
