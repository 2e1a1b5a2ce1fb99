/* PASID quotas per cgroup v2, hierarchical like the kernel's misc controller (DESIGN.md §3
 * invariant 5), which has no PASID resource: pasidd keeps the accounting itself.
 *
 * Every cgroup that holds charges or has a limit is a node of a tree keyed by its path. A
 * charge made to a cgroup counts in it and in every ancestor up to "/", so a node's current
 * is what its whole subtree holds. A node's max is the smallest of the limits set on it by
 * the configuration, at run time (quota.set) and by its user.pasid.max xattr; a charge
 * succeeds only if no node on the path would go above its max. Lowering a max below current
 * refuses new charges and takes nothing back. Pure bookkeeping apart from reading xattrs. */
#ifndef PASIDD_QUOTA_H
#define PASIDD_QUOTA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cgpath.h"

#define QUOTA_NO_LIMIT UINT64_MAX

/* Where a limit comes from; the smallest of them applies. */
enum quota_source {
	QUOTA_SRC_CONFIG,  /* [Quota] Max= in the configuration */
	QUOTA_SRC_RUNTIME, /* quota.set, kept in the journal */
	QUOTA_SRC_XATTR,   /* user.pasid.max on the cgroup's directory */
	QUOTA_NSRC
};

/* The [Quota] section of the configuration. */
struct quota_config_limit {
	char *cgroup; /* canonical */
	uint64_t max; /* QUOTA_NO_LIMIT for "max": cancels an earlier line for the cgroup */
};

struct quota_config {
	struct quota_config_limit *limits;
	size_t nlimits;
	bool has_vm_max;
	uint64_t vm_max; /* DefaultVMMax=: PASIDs one VM may hold */
};

/* One Key=Value of [Quota]. 0, or -EINVAL with the problem in why (-ENOMEM). */
int quota_config_assign(struct quota_config *qc, const char *key, const char *val, char *why,
                        size_t len);
void quota_config_free(struct quota_config *qc);

/* What a refused charge ran into: the node closest to the VM that would go above its max,
 * or, with vm set, the per-VM limit. */
struct quota_denial {
	char cgroup[CGROUP_PATH_MAX];
	char vm[65];      /* "" unless the per-VM limit refused */
	uint64_t max;     /* the limit in force there */
	uint64_t current; /* what is held there */
	unsigned asked;
};

/* A node as the protocol shows it. */
struct quota_entry {
	const char *cgroup; /* valid until the next change */
	uint64_t max;       /* the smallest of limit[], QUOTA_NO_LIMIT when none */
	uint64_t limit[QUOTA_NSRC];
	uint64_t current; /* held by the cgroup and its descendants */
	uint64_t denied;  /* charges it refused since the daemon started */
};

/* Counters for daemon.metrics. */
struct quota_stats {
	uint64_t charged;       /* PASIDs charged (each charge once, not per level) */
	uint64_t uncharged;     /* PASIDs returned */
	uint64_t denied_cgroup; /* charges refused by a cgroup's max */
	uint64_t denied_vm;     /* charges refused by the per-VM limit */
	uint64_t cgroups;       /* nodes in the tree */
};

struct quota;

int quota_new(struct quota **out);
void quota_free(struct quota *q);

/* Where the xattr limits (user.pasid.max) come from: read(ctx, cgroup, &max) answers 1 with a
 * limit, 0 without one, a negative errno when it cannot tell (no limit then; the reader says
 * why where it can). free(ctx), if set, when the quotas go or another reader comes. */
struct quota_reader {
	int (*read)(void *ctx, const char *cgroup, uint64_t *max);
	void (*free)(void *ctx);
	void *ctx;
};
void quota_set_reader(struct quota *q, const struct quota_reader *r);

/* Replaces every configuration limit and the per-VM limit with those of qc. */
int quota_apply_config(struct quota *q, const struct quota_config *qc);
/* Sets (QUOTA_NO_LIMIT: removes) the limit of a canonical cgroup path from one source. */
int quota_set_limit(struct quota *q, const char *cgroup, enum quota_source src, uint64_t max);
/* Re-reads user.pasid.max of cgroup and each of its ancestors. 0 or -ENOMEM. */
int quota_refresh_xattrs(struct quota *q, const char *cgroup);
/* Re-reads user.pasid.max of every node. 0 or -ENOMEM. */
int quota_refresh_all_xattrs(struct quota *q);

/* Charges n PASIDs of a VM that holds `held` to cgroup ("" counts as "/") and its ancestors.
 * Checks the per-VM limit and every level before it changes anything: 0, or -EDQUOT with the
 * denial recorded (quota_last_denial) and counted, or -ENOMEM. force skips the limits: the
 * charges of a replayed state are rebuilt that way, whatever the limits are now. */
int quota_charge(struct quota *q, const char *cgroup, const char *vm, uint64_t held, unsigned n,
                 bool force);
/* The check of quota_charge alone: whether n more would fit, nothing charged (a refusal is
 * recorded and counted all the same). */
int quota_admit(struct quota *q, const char *cgroup, const char *vm, uint64_t held, unsigned n);
/* Whether n more would fit, as quota_admit decides, but reading only: nothing is made,
 * recorded or counted (vm.import's dry run). 0, or -EDQUOT with d filled (d->vm "?" when the
 * per-VM limit refuses). */
int quota_fits(const struct quota *q, const char *cgroup, uint64_t held, unsigned n,
               struct quota_denial *d);
/* Takes back n PASIDs charged to cgroup. */
void quota_uncharge(struct quota *q, const char *cgroup, unsigned n);
const struct quota_denial *quota_last_denial(const struct quota *q);

uint64_t quota_vm_max(const struct quota *q);
/* The node of a cgroup: 0, or -ENOENT with e filled as an empty node would be (current 0, no
 * limits) when the cgroup has none. */
int quota_get(const struct quota *q, const char *cgroup, struct quota_entry *e);
/* Like quota_get, and for a cgroup without a node the limit its xattr would give it. */
int quota_describe(const struct quota *q, const char *cgroup, struct quota_entry *e);
/* Walks the nodes in tree order (a parent before its children); *it starts at 0. */
bool quota_next(const struct quota *q, size_t *it, struct quota_entry *e);
void quota_get_stats(const struct quota *q, struct quota_stats *st);

/* Checks the tree against itself: each current is the node's own charges plus its
 * children's, parents are the paths' parents, nothing is kept that holds nothing. 0, or
 * -EUCLEAN with the first problem in why. */
int quota_check(const struct quota *q, char *why, size_t len);

#endif
