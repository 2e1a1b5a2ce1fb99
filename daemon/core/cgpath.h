/* The canonical forms of cgroup v2 paths and of PASID limits, as the quotas key and parse
 * them: pure text, shared by the core (quotas), the configuration and the host (xattrs). */
#ifndef PASIDD_CGPATH_H
#define PASIDD_CGPATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CGROUP_PATH_MAX 4096 /* bytes of a cgroup path, NUL included */

/* The canonical form of a cgroup path as the kernel writes it in /proc/<pid>/cgroup: absolute,
 * no empty, "." or ".." components, no trailing slash except for the root "/". Repeated and
 * trailing slashes are dropped; anything else that is not canonical (a relative path, ".",
 * "..", a control character, too long) is -EINVAL. */
int cgroup_normalize(const char *in, char *out, size_t len);
/* Turns a canonical path into its parent's, in place; false for "/", which has none. */
bool cgroup_parent(char *path);

/* A limit as written in the xattr or the configuration: a decimal number up to INT64_MAX
 * or "max" for none, blanks and a newline around it allowed. 1 with *max set, 0 for "max",
 * -EINVAL otherwise. */
int cgroup_parse_max(const char *s, size_t len, uint64_t *max);

#endif
