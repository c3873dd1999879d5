/* The XML of libvirt's backup API (driver/backup.h): the pull-mode request
 * checkpointfs sends, the job libvirt reports back, and which disks a
 * domain or checkpoint offers.  Pure functions over text, via libxml2. */
#include "driver/backup.h"
#include "driver/cpxml.h"

#include <errno.h>
#include <string.h>

/* NAME is in NAMES (char*). */
static gboolean
has_name(const GPtrArray *names, const char *name)
{
    for (guint i = 0; names && i < names->len; i++) {
        if (strcmp(g_ptr_array_index(names, i), name) == 0)
            return TRUE;
    }
    return FALSE;
}

/* <disk name='D' backup='yes' type='file'><scratch file='...'/></disk>. */
static void
add_backed_up_disk(xmlNode *disks, const CpfsBackupRequest *req, const char *name)
{
    xmlNode *disk = xmlNewChild(disks, NULL, BAD_CAST "disk", NULL);
    xmlNode *scratch;
    g_autofree char *file_name = g_strconcat(req->scratch_prefix ? req->scratch_prefix : "",
                                             name, ".scratch", NULL);
    g_autofree char *path = g_build_filename(req->scratch_dir, file_name, NULL);

    xmlNewProp(disk, BAD_CAST "name", BAD_CAST name);
    xmlNewProp(disk, BAD_CAST "backup", BAD_CAST "yes");
    xmlNewProp(disk, BAD_CAST "type", BAD_CAST "file");
    scratch = xmlNewChild(disk, NULL, BAD_CAST "scratch", NULL);
    xmlNewProp(scratch, BAD_CAST "file", BAD_CAST path);
}

char *
cpfs_backup_request_xml(const CpfsBackupRequest *req)
{
    g_autoptr(xmlDoc) doc = xmlNewDoc(BAD_CAST "1.0");
    xmlNode *root = xmlNewNode(NULL, BAD_CAST "domainbackup");
    xmlNode *server;
    xmlNode *disks;

    xmlDocSetRootElement(doc, root);
    xmlNewProp(root, BAD_CAST "mode", BAD_CAST "pull");
    /* Text and attribute values are escaped by libxml2 as they are set. */
    if (req->incremental)
        xmlNewTextChild(root, NULL, BAD_CAST "incremental", BAD_CAST req->incremental);
    server = xmlNewChild(root, NULL, BAD_CAST "server", NULL);
    if (req->socket_path) {
        xmlNewProp(server, BAD_CAST "transport", BAD_CAST "unix");
        xmlNewProp(server, BAD_CAST "socket", BAD_CAST req->socket_path);
    } else {
        g_autofree char *port = g_strdup_printf("%d", req->tcp_port);

        xmlNewProp(server, BAD_CAST "transport", BAD_CAST "tcp");
        xmlNewProp(server, BAD_CAST "name", BAD_CAST req->tcp_host);
        xmlNewProp(server, BAD_CAST "port", BAD_CAST port);
    }
    disks = xmlNewChild(root, NULL, BAD_CAST "disks", NULL);
    /* libvirt backs up every disk it is not told to leave out. */
    for (guint i = 0; req->all_disks && i < req->all_disks->len; i++) {
        const char *name = g_ptr_array_index(req->all_disks, i);

        if (has_name(req->disks, name)) {
            add_backed_up_disk(disks, req, name);
        } else {
            xmlNode *disk = xmlNewChild(disks, NULL, BAD_CAST "disk", NULL);

            xmlNewProp(disk, BAD_CAST "name", BAD_CAST name);
            xmlNewProp(disk, BAD_CAST "backup", BAD_CAST "no");
        }
    }
    for (guint i = 0; req->disks && i < req->disks->len; i++) {
        const char *name = g_ptr_array_index(req->disks, i);

        if (!has_name(req->all_disks, name))
            add_backed_up_disk(disks, req, name);
    }
    return cpfs_xml_dump(root);
}

void
cpfs_backup_job_info_free(CpfsBackupJobInfo *info)
{
    if (!info)
        return;
    g_free(info->socket_path);
    g_free(info->tcp_host);
    g_free(info->incremental);
    if (info->scratch_files)
        g_ptr_array_unref(info->scratch_files);
    g_free(info);
}

/* The TCP port in TEXT (1..65535), or -1. */
static int
parse_port(const char *text)
{
    guint64 port;

    if (!text || !g_ascii_string_to_unsigned(text, 10, 1, 65535, &port, NULL))
        return -1;
    return (int)port;
}

/* Reads <server> into INFO: FALSE when it names no usable endpoint. */
static gboolean
parse_server(const xmlNode *server, CpfsBackupJobInfo *info)
{
    g_autofree char *transport = cpfs_xml_attr(server, "transport");
    g_autofree char *port = NULL;

    if (!server)
        return FALSE;
    if (g_strcmp0(transport, "unix") == 0) {
        info->socket_path = cpfs_xml_attr(server, "socket");
        return info->socket_path && *info->socket_path;
    }
    if (transport && strcmp(transport, "tcp") != 0)
        return FALSE;
    port = cpfs_xml_attr(server, "port");
    info->tcp_host = cpfs_xml_attr(server, "name");
    info->tcp_port = parse_port(port);
    return info->tcp_host && *info->tcp_host && info->tcp_port > 0;
}

CpfsBackupJobInfo *
cpfs_backup_job_info_parse(const char *xml)
{
    g_autoptr(xmlDoc) doc = cpfs_xml_read(xml, xml ? strlen(xml) : 0, "domainbackup");
    g_autoptr(CpfsBackupJobInfo) info = NULL;
    g_autofree char *mode = NULL;
    const xmlNode *root;

    if (!doc)
        return NULL;
    root = xmlDocGetRootElement(doc);
    /* No mode is push mode, libvirt's default. */
    mode = cpfs_xml_attr(root, "mode");
    if (g_strcmp0(mode, "pull") != 0)
        return NULL;
    info = g_new0(CpfsBackupJobInfo, 1);
    info->scratch_files = g_ptr_array_new_with_free_func(g_free);
    if (!parse_server(cpfs_xml_child(root, "server"), info))
        return NULL;
    info->incremental = cpfs_xml_text(cpfs_xml_child(root, "incremental"));
    if (info->incremental && !*info->incremental)
        g_clear_pointer(&info->incremental, g_free);
    for (const xmlNode *d = cpfs_xml_child(cpfs_xml_child(root, "disks"), "disk"); d;
         d = d->next) {
        g_autofree char *backup = cpfs_xml_attr(d, "backup");
        char *file;

        if (!cpfs_xml_is(d, "disk") || g_strcmp0(backup, "no") == 0)
            continue;
        file = cpfs_xml_attr(cpfs_xml_child(d, "scratch"), "file");
        if (file && *file)
            g_ptr_array_add(info->scratch_files, file);
        else
            g_free(file);
    }
    return g_steal_pointer(&info);
}

static gint
compare_names(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Adds NAME (stolen) to NAMES unless empty or there already. */
static void
add_unique(GPtrArray *names, char *name)
{
    if (!name || !*name || has_name(names, name))
        g_free(name);
    else
        g_ptr_array_add(names, name);
}

/* A disk the backup can copy: a writable 'disk' device with a source. */
static gboolean
disk_is_copyable(const xmlNode *disk)
{
    g_autofree char *device = cpfs_xml_attr(disk, "device");
    const xmlNode *source = cpfs_xml_child(disk, "source");

    /* No device attribute means 'disk'. */
    if (device && strcmp(device, "disk") != 0)
        return FALSE;
    if (cpfs_xml_child(disk, "readonly"))
        return FALSE;
    /* An empty drive has no <source>, or one without attributes. */
    return source && source->properties;
}

GPtrArray *
cpfs_backup_domain_disks(const char *domain_xml)
{
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(xmlDoc) doc = cpfs_xml_read(domain_xml, domain_xml ? strlen(domain_xml) : 0,
                                          "domain");
    const xmlNode *devices = doc ? cpfs_xml_child(xmlDocGetRootElement(doc), "devices") : NULL;

    for (const xmlNode *d = devices ? devices->children : NULL; d; d = d->next) {
        if (cpfs_xml_is(d, "disk") && disk_is_copyable(d))
            add_unique(names, cpfs_xml_attr(cpfs_xml_child(d, "target"), "dev"));
    }
    g_ptr_array_sort(names, compare_names);
    return names;
}

/* SIZE_TEXT as a byte count into *SIZE; FALSE if it is none. */
static gboolean
parse_size(const char *size_text, guint64 *size)
{
    return size_text && g_ascii_string_to_unsigned(size_text, 10, 0, G_MAXUINT64, size, NULL);
}

GPtrArray *
cpfs_backup_checkpoint_disks(const char *checkpoint_xml, GHashTable *sizes)
{
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(xmlDoc) doc = cpfs_xml_read(checkpoint_xml,
                                          checkpoint_xml ? strlen(checkpoint_xml) : 0,
                                          "domaincheckpoint");
    const xmlNode *disks = doc ? cpfs_xml_child(xmlDocGetRootElement(doc), "disks") : NULL;

    for (const xmlNode *d = disks ? disks->children : NULL; d; d = d->next) {
        g_autofree char *mode = NULL;
        g_autofree char *name = NULL;
        g_autofree char *size_text = NULL;
        guint64 size;

        if (!cpfs_xml_is(d, "disk"))
            continue;
        mode = cpfs_xml_attr(d, "checkpoint");
        name = cpfs_xml_attr(d, "name");
        if (g_strcmp0(mode, "bitmap") != 0 || !name || !*name || has_name(names, name))
            continue;
        size_text = cpfs_xml_attr(d, "size");
        if (sizes && parse_size(size_text, &size))
        {
            guint64 *value = g_new(guint64, 1);

            *value = size;
            g_hash_table_replace(sizes, g_strdup(name), value);
        }
        g_ptr_array_add(names, g_steal_pointer(&name));
    }
    g_ptr_array_sort(names, compare_names);
    return names;
}
