#include "model/names.h"

#include <errno.h>
#include <string.h>

static gboolean
name_char_ok(char c, gboolean first)
{
    if (g_ascii_isalnum(c) || c == '_' || c == '-')
        return TRUE;
    return !first && c == '.';
}

gboolean
cpfs_name_is_valid(const char *name)
{
    if (!name || !*name)
        return FALSE;
    for (const char *p = name; *p; p++) {
        if (!name_char_ok(*p, p == name))
            return FALSE;
    }
    return TRUE;
}

int
cpfs_name_check(const char *name)
{
    if (strlen(name) > CPFS_NAME_MAX)
        return -ENAMETOOLONG;
    if (strcmp(name, CPFS_XML_NAME) == 0)
        return -EEXIST;
    if (!cpfs_name_is_valid(name))
        return -EINVAL;
    return 0;
}

const char *
cpfs_name_refusal(int rc)
{
    switch (rc) {
    case -ENAMETOOLONG:
        return "name longer than " G_STRINGIFY(CPFS_NAME_MAX) " bytes";
    case -EEXIST:
        return "'" CPFS_XML_NAME "' is the name of the description file";
    default:
        return "a name must match [A-Za-z0-9_-][A-Za-z0-9_.-]*";
    }
}

gboolean
cpfs_domain_name_is_listable(const char *name)
{
    gsize len = strlen(name);

    return len > 0 && len <= CPFS_NAME_MAX && strcmp(name, ".") != 0 && strcmp(name, "..") != 0 &&
           !strchr(name, '/');
}
