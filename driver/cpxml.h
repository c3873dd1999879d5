/* The checkpoint XML documents checkpointfs reads and writes, via libxml2. */
#pragma once
#include <glib.h>
#include <libxml/tree.h>

#include "model/tree.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlDoc, xmlFreeDoc)

/* The small reader the driver's XML parsers share. */
/* LEN bytes of XML parsed without network or messages, if its root element
 * is ROOT; NULL otherwise. */
xmlDoc *cpfs_xml_read(const char *xml, gsize len, const char *root);
/* NODE's first child element named NAME, or NULL (also for a NULL NODE). */
const xmlNode *cpfs_xml_child(const xmlNode *node, const char *name);
/* NODE's text, blanks trimmed; NULL for a NULL NODE. */
char *cpfs_xml_text(const xmlNode *node);
/* NODE's attribute NAME, or NULL. */
char *cpfs_xml_attr(const xmlNode *node, const char *name);
/* NODE is an element named NAME. */
gboolean cpfs_xml_is(const xmlNode *node, const char *name);
/* A document as text, without the XML declaration. */
char *cpfs_xml_dump(xmlNode *root);

/* Parses a <domaincheckpoint> document (any flags) into a record holding its
 * name, parent and creationTime.  NULL when it is not such a document. */
CpfsCheckpointRecord *cpfs_cpxml_parse(const char *xml, gsize len);

/* <domaincheckpoint><name>NAME</name></domaincheckpoint>: libvirt picks the
 * disks and the parent. */
char *cpfs_cpxml_build_create(const char *name);
