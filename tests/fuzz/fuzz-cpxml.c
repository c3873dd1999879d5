/* libFuzzer target: the parser of libvirt's checkpoint XML, and the builder
 * of creation requests, which must round-trip any name. */
#include <stdint.h>
#include <string.h>

#include "driver/cpxml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autoptr(CpfsCheckpointRecord) rec = cpfs_cpxml_parse((const char *)data, size);
    g_autofree char *name = NULL;
    g_autofree char *request = NULL;
    g_autoptr(CpfsCheckpointRecord) back = NULL;

    if (rec) {
        /* A parsed record always has a non-empty name and a sane time. */
        if (!rec->name || !*rec->name || rec->creation_time < 0)
            __builtin_trap();
    }

    /* Any NUL-free text as a name must survive building and parsing back. */
    name = g_strndup((const char *)data, size);
    if (!*name || !g_utf8_validate(name, -1, NULL))
        return 0;
    /* XML 1.0 cannot carry control characters at all; names are checked
     * long before they get here, so only text XML can hold matters. */
    for (const char *p = name; *p; p++) {
        if ((unsigned char)*p < 0x20)
            return 0;
    }
    request = cpfs_cpxml_build_create(name);
    back = cpfs_cpxml_parse(request, strlen(request));
    {
        /* White space around the name is trimmed on parsing; nothing else
         * may change, and only an all-blank name may fail to come back. */
        g_autofree char *trimmed = g_strstrip(g_strdup(name));

        if (*trimmed && (!back || strcmp(trimmed, back->name) != 0))
            __builtin_trap();
    }
    return 0;
}
