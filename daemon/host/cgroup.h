/* The cgroup v2 facts that PASID quotas need: where the unified hierarchy is mounted (not
 * always /sys/fs/cgroup: /sys/fs/cgroup/unified on hybrid hosts), the canonical form of a
 * cgroup path, and the user.pasid.max extended attribute an orchestrator may put on a cgroup's
 * directory. No state. */
#ifndef PASIDD_CGROUP_H
#define PASIDD_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cgpath.h"

#define CGROUP_XATTR "user.pasid.max"

/* Finds the first cgroup2 mount in the text of /proc/<pid>/mountinfo: its mount point and
 * the cgroup path at its root (field 4, "/" unless a subtree is bind-mounted). 0, or -ENOENT
 * when there is none. */
int cgroup_parse_mountinfo(const char *text, char *mnt, size_t mntlen, char *root, size_t rootlen);
/* The same from /proc/self/mountinfo. */
int cgroup_find_mount(char *mnt, size_t mntlen, char *root, size_t rootlen);

/* The directory of `cgroup` under the cgroup2 mount (mnt, root as found above): 0, -ENOENT
 * when the cgroup is outside the mounted subtree, -ENAMETOOLONG. */
int cgroup_dir(const char *mnt, const char *root, const char *cgroup, char *out, size_t len);

/* Reads user.pasid.max of `cgroup` under the cgroup2 mount (mnt, root as found above).
 * 1 with *max set, 0 when the cgroup has no limit there (no attribute, "max", no such
 * directory), -EINVAL for a value that is not a limit, other negative errnos for failures. */
int cgroup_read_max(const char *mnt, const char *root, const char *cgroup, uint64_t *max);

struct quota;
/* Makes q read the xattr limits under the cgroup2 mount (mnt, root); failures to read them
 * are logged here, once. -ENOMEM. */
int cgroup_feed_quota(struct quota *q, const char *mnt, const char *root);

#endif
