/* The checkpoint XML documents checkpointfs reads and writes, via libxml2. */
#pragma once
#include <glib.h>
#include <libxml/tree.h>

#include "model/tree.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlDoc, xmlFreeDoc)

/* Parses a <domaincheckpoint> document (any flags) into a record holding its
 * name, parent and creationTime.  NULL when it is not such a document. */
CpfsCheckpointRecord *cpfs_cpxml_parse(const char *xml, gsize len);

/* <domaincheckpoint><name>NAME</name></domaincheckpoint>: libvirt picks the
 * disks and the parent. */
char *cpfs_cpxml_build_create(const char *name);
