#include "driver/cpxml.h"

#include <errno.h>
#include <libxml/parser.h>
#include <string.h>

G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlBuffer, xmlBufferFree)

gboolean
cpfs_xml_is(const xmlNode *node, const char *name)
{
    return node && node->type == XML_ELEMENT_NODE && strcmp((const char *)node->name, name) == 0;
}

const xmlNode *
cpfs_xml_child(const xmlNode *node, const char *name)
{
    for (const xmlNode *c = node ? node->children : NULL; c; c = c->next) {
        if (cpfs_xml_is(c, name))
            return c;
    }
    return NULL;
}

char *
cpfs_xml_text(const xmlNode *node)
{
    xmlChar *content;
    char *text;

    if (!node)
        return NULL;
    content = xmlNodeGetContent(node);
    text = g_strdup((const char *)content);
    xmlFree(content);
    return text ? g_strstrip(text) : NULL;
}

char *
cpfs_xml_attr(const xmlNode *node, const char *name)
{
    xmlChar *value;
    char *copy;

    if (!node)
        return NULL;
    value = xmlGetProp(node, BAD_CAST name);
    copy = g_strdup((const char *)value);
    xmlFree(value);
    return copy;
}

xmlDoc *
cpfs_xml_read(const char *xml, gsize len, const char *root)
{
    g_autoptr(xmlDoc) doc = NULL;

    if (!xml || len > G_MAXINT)
        return NULL;
    doc = xmlReadMemory(xml, (int)len, "document.xml", NULL,
                        XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!doc || !cpfs_xml_is(xmlDocGetRootElement(doc), root))
        return NULL;
    return g_steal_pointer(&doc);
}

char *
cpfs_xml_dump(xmlNode *root)
{
    g_autoptr(xmlBuffer) buf = xmlBufferCreate();

    xmlNodeDump(buf, root->doc, root, 0, 0);
    return g_strndup((const char *)xmlBufferContent(buf), xmlBufferLength(buf));
}

static CpfsCheckpointRecord *
parse_document(const char *xml, gsize len)
{
    g_autoptr(xmlDoc) doc = cpfs_xml_read(xml, len, "domaincheckpoint");
    const xmlNode *root;
    g_autofree char *name = NULL;
    g_autofree char *parent = NULL;
    g_autofree char *created = NULL;
    gint64 creation_time = 0;

    if (!doc)
        return NULL;
    root = xmlDocGetRootElement(doc);
    name = cpfs_xml_text(cpfs_xml_child(root, "name"));
    if (!name || !*name)
        return NULL;
    parent = cpfs_xml_text(cpfs_xml_child(cpfs_xml_child(root, "parent"), "name"));
    if (parent && !*parent)
        g_clear_pointer(&parent, g_free);
    created = cpfs_xml_text(cpfs_xml_child(root, "creationTime"));
    if (created) {
        char *end = NULL;
        gint64 value;

        errno = 0;
        value = g_ascii_strtoll(created, &end, 10);
        if (errno == 0 && end && *end == '\0' && end != created && value >= 0)
            creation_time = value;
    }
    return cpfs_checkpoint_record_new(name, parent, creation_time);
}

/* Where the embedded <domain> element starts in XML, or NULL.  Element
 * markup only: libvirt escapes '<' in text and writes no CDATA or comments. */
static const char *
domain_element(const char *xml, gsize len)
{
    static const char tag[] = "<domain";
    const char *end = xml + len;
    const char *p = xml;

    while ((p = memmem(p, (gsize)(end - p), tag, sizeof(tag) - 1))) {
        const char *after = p + sizeof(tag) - 1;

        if (after < end && *after && strchr(" \t\r\n>/", *after))
            return p;
        p = after;
    }
    return NULL;
}

/* The document ends with </domain></domaincheckpoint>, blanks aside, as
 * libvirt writes it: nothing of the checkpoint's own follows its domain. */
static gboolean
domain_is_last(const char *xml, gsize len)
{
    static const char tail[] = "</domain>";
    static const char root_end[] = "</domaincheckpoint>";
    gsize end = len;

    while (end > 0 && g_ascii_isspace(xml[end - 1]))
        end--;
    if (end < sizeof(root_end) - 1 ||
        memcmp(xml + end - (sizeof(root_end) - 1), root_end, sizeof(root_end) - 1) != 0)
        return FALSE;
    end -= sizeof(root_end) - 1;
    while (end > 0 && g_ascii_isspace(xml[end - 1]))
        end--;
    return end >= sizeof(tail) - 1 &&
           memcmp(xml + end - (sizeof(tail) - 1), tail, sizeof(tail) - 1) == 0;
}

CpfsCheckpointRecord *
cpfs_cpxml_parse(const char *xml, gsize len)
{
    const char *cut;

    if (!xml || len > G_MAXINT)
        return NULL;
    /* libvirt writes name, parent and creationTime first and the domain's
     * whole definition (most of the document) last: parse only what comes
     * before that, which takes a fraction of the time for a real domain.
     * Anything unusual falls back to the whole document. */
    cut = domain_element(xml, len);
    if (cut && cut > xml && domain_is_last(xml, len)) {
        static const char close_root[] = "</domaincheckpoint>";
        gsize head_len = (gsize)(cut - xml);
        g_autofree char *head = g_malloc(head_len + sizeof(close_root));
        CpfsCheckpointRecord *rec;

        memcpy(head, xml, head_len);
        memcpy(head + head_len, close_root, sizeof(close_root));
        rec = parse_document(head, head_len + sizeof(close_root) - 1);
        if (rec)
            return rec;
    }
    return parse_document(xml, len);
}

char *
cpfs_cpxml_build_create(const char *name)
{
    g_autoptr(xmlDoc) doc = xmlNewDoc(BAD_CAST "1.0");
    xmlNode *root = xmlNewNode(NULL, BAD_CAST "domaincheckpoint");
    xmlChar *buf = NULL;
    int len = 0;
    char *result;

    xmlDocSetRootElement(doc, root);
    /* xmlNewTextChild escapes the text; the name is checked beforehand too. */
    xmlNewTextChild(root, NULL, BAD_CAST "name", BAD_CAST name);
    xmlDocDumpMemory(doc, &buf, &len);
    result = g_strndup((const char *)buf, len);
    xmlFree(buf);
    return result;
}
