/* Real cgroups for integration tests (test_cgroup_quota, test_devgate): a scratch subtree
 * under the cgroup2 mount, cgroups made in it, VMM stand-ins living in them, and all of it
 * killed and removed at the end. The functions assert (Check) rather than return errors. */
#ifndef PASIDD_ITCGROUP_H
#define PASIDD_ITCGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct itcg {
	char mnt[1024]; /* the cgroup2 mount */
	char top[128];  /* the scratch subtree, as a cgroup path: /PREFIX.XXXXXX */
	pid_t owners[32];
	unsigned nowners;
};

/* Finds the cgroup2 mount (of the whole hierarchy) and makes the scratch subtree
 * /PREFIX.XXXXXX under it. False with why when this process cannot. */
bool itcg_open(struct itcg *g, const char *prefix, char *why, size_t len);
/* Kills every process left in the subtree and removes it, deepest first. */
void itcg_remove(struct itcg *g);
/* The cgroup path of rel inside the subtree (kept until it_release_kept). */
const char *itcg_path(const struct itcg *g, const char *rel);
/* The directory of a cgroup path. */
void itcg_dir(const struct itcg *g, const char *cgroup, char *out, size_t len);
/* mkdir -p of a cgroup path inside the subtree. */
void itcg_mk(const struct itcg *g, const char *cgroup);
void itcg_move(const struct itcg *g, pid_t pid, const char *cgroup);
/* A VMM stand-in living in cgroup (made if needed) until killed or the test process ends. */
pid_t itcg_owner_in(struct itcg *g, const char *cgroup);
void itcg_owner_kill(struct itcg *g, pid_t pid);
/* Kills and reaps every stand-in. */
void itcg_owners_kill(struct itcg *g);

#endif
