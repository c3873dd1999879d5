#include "driver/cpxml.h"

#include <errno.h>
#include <libxml/parser.h>
#include <string.h>

static const xmlNode *
child_element(const xmlNode *node, const char *name)
{
    for (const xmlNode *c = node ? node->children : NULL; c; c = c->next) {
        if (c->type == XML_ELEMENT_NODE && strcmp((const char *)c->name, name) == 0)
            return c;
    }
    return NULL;
}

static char *
element_text(const xmlNode *node)
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

CpfsCheckpointRecord *
cpfs_cpxml_parse(const char *xml, gsize len)
{
    g_autoptr(xmlDoc) doc = NULL;
    const xmlNode *root;
    g_autofree char *name = NULL;
    g_autofree char *parent = NULL;
    g_autofree char *created = NULL;
    gint64 creation_time = 0;

    if (!xml || len > G_MAXINT)
        return NULL;
    doc = xmlReadMemory(xml, (int)len, "checkpoint.xml", NULL,
                        XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!doc)
        return NULL;
    root = xmlDocGetRootElement(doc);
    if (!root || strcmp((const char *)root->name, "domaincheckpoint") != 0)
        return NULL;

    name = element_text(child_element(root, "name"));
    if (!name || !*name)
        return NULL;
    parent = element_text(child_element(child_element(root, "parent"), "name"));
    if (parent && !*parent)
        g_clear_pointer(&parent, g_free);
    created = element_text(child_element(root, "creationTime"));
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
