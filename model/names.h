/* The rules a checkpoint name must follow before libvirt is asked. */
#pragma once
#include <glib.h>

/* qemu stores a bitmap before it fails on names of 248 bytes and more,
 * leaving the bitmap behind: refuse those ourselves. */
#define CPFS_NAME_MAX 247

/* The file every directory holds; a checkpoint cannot take this name. */
#define CPFS_XML_NAME "xml"

/* 0 when NAME may become a checkpoint; -ENAMETOOLONG above CPFS_NAME_MAX;
 * -EEXIST for "xml"; -EINVAL when it breaks [A-Za-z0-9_-][A-Za-z0-9_.-]*. */
int cpfs_name_check(const char *name);

/* TRUE when NAME matches libvirt's name schema (length not checked). */
gboolean cpfs_name_is_valid(const char *name);

/* Why cpfs_name_check refused with RC, for a log line. */
const char *cpfs_name_refusal(int rc);

/* TRUE when a domain called NAME can be shown as a directory: not "." or
 * "..", no '/', at most CPFS_NAME_MAX bytes (what statfs promises). */
gboolean cpfs_domain_name_is_listable(const char *name);
