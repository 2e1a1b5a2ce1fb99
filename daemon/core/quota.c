#include "quota.h"
#include "sorted.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct quota_node {
	char *path;
	struct quota_node *parent;
	unsigned nchildren;
	uint64_t self;    /* charged to this cgroup itself */
	uint64_t current; /* self plus the children's current */
	uint64_t denied;
	uint64_t limit[QUOTA_NSRC];
};

struct quota {
	struct quota_node **nodes; /* in tree order (path_cmp) */
	size_t n, cap;
	struct quota_reader reader; /* the xattr limits; read NULL: none */
	uint64_t vm_max;
	struct quota_denial last;
	struct quota_stats st;
};

/* ---- configuration ---- */

int
quota_config_assign(struct quota_config *qc, const char *key, const char *val, char *why,
                    size_t len)
{
	char path[CGROUP_PATH_MAX], raw[CGROUP_PATH_MAX];
	uint64_t max = QUOTA_NO_LIMIT;
	const char *sp;
	size_t n;
	int r;

	if (!strcmp(key, "DefaultVMMax")) {
		r = cgroup_parse_max(val, strlen(val), &max);
		if (r < 0) {
			snprintf(why, len, "DefaultVMMax= must be a number or max, not '%s'", val);
			return -EINVAL;
		}
		qc->has_vm_max = r > 0;
		qc->vm_max = r > 0 ? max : QUOTA_NO_LIMIT;
		return 0;
	}
	if (strcmp(key, "Max")) {
		snprintf(why, len, "unknown key %s= in [Quota]", key);
		return -EINVAL;
	}
	/* "CGROUP MAX": the last blank splits them, so that a path may hold blanks. */
	sp = strrchr(val, ' ');
	if (!sp || strrchr(val, '\t') > sp)
		sp = strrchr(val, '\t');
	if (!sp) {
		snprintf(why, len, "Max= must be CGROUP MAX, not '%s'", val);
		return -EINVAL;
	}
	n = (size_t)(sp - val);
	while (n && (val[n - 1] == ' ' || val[n - 1] == '\t'))
		n--;
	if (n < sizeof(raw)) {
		memcpy(raw, val, n);
		raw[n] = '\0';
	}
	if (n >= sizeof(raw) || cgroup_normalize(raw, path, sizeof(path)) < 0) {
		snprintf(why, len, "Max=: '%.*s' is not an absolute cgroup path", (int)n, val);
		return -EINVAL;
	}
	r = cgroup_parse_max(sp + 1, strlen(sp + 1), &max);
	if (r < 0) {
		snprintf(why, len, "Max=: the limit must be a number or max, not '%s'", sp + 1);
		return -EINVAL;
	}
	if (r == 0)
		max = QUOTA_NO_LIMIT;
	/* A later line for the same cgroup wins, as later assignments do everywhere. */
	for (size_t i = 0; i < qc->nlimits; i++) {
		if (!strcmp(qc->limits[i].cgroup, path)) {
			qc->limits[i].max = max;
			return 0;
		}
	}
	{
		struct quota_config_limit *nl =
		    realloc(qc->limits, (qc->nlimits + 1) * sizeof(*qc->limits));
		char *dup = strdup(path);

		if (nl)
			qc->limits = nl;
		if (!nl || !dup) {
			free(dup);
			snprintf(why, len, "out of memory");
			return -ENOMEM;
		}
		qc->limits[qc->nlimits].cgroup = dup;
		qc->limits[qc->nlimits].max = max;
		qc->nlimits++;
	}
	return 0;
}

void
quota_config_free(struct quota_config *qc)
{
	for (size_t i = 0; i < qc->nlimits; i++)
		free(qc->limits[i].cgroup);
	free(qc->limits);
	memset(qc, 0, sizeof(*qc));
}

/* ---- the tree ---- */

/* Tree order: '/' sorts before every other byte, so that a cgroup's descendants follow it
 * directly ("/a", "/a/b", "/a.x"). */
static int
path_cmp(const char *a, const char *b)
{
	for (;; a++, b++) {
		unsigned ca = *a == '/' ? 1 : (unsigned char)*a;
		unsigned cb = *b == '/' ? 1 : (unsigned char)*b;

		if (ca != cb || !ca)
			return (int)ca - (int)cb;
	}
}

static int
cmp_path(const void *key, const void *elem)
{
	return path_cmp(key, (*(struct quota_node *const *)elem)->path);
}

/* Index of the node of path, or where it would go (with *found false). */
static size_t
slot(const struct quota *q, const char *path, bool *found)
{
	return sorted_slot(q->nodes, q->n, sizeof(*q->nodes), path, cmp_path, found);
}

static struct quota_node *
find(const struct quota *q, const char *path)
{
	bool found;
	size_t i = slot(q, path, &found);

	return found ? q->nodes[i] : NULL;
}

static uint64_t
node_max(const struct quota_node *x)
{
	uint64_t m = QUOTA_NO_LIMIT;

	for (int s = 0; s < QUOTA_NSRC; s++)
		if (x->limit[s] < m)
			m = x->limit[s];
	return m;
}

static bool
node_empty(const struct quota_node *x)
{
	return !x->current && !x->self && !x->denied && !x->nchildren &&
	       node_max(x) == QUOTA_NO_LIMIT;
}

/* Drops x and then its ancestors for as long as they hold nothing: the tree stays the size
 * of what is charged or limited, however many cgroups come and go. */
static void
prune(struct quota *q, struct quota_node *x)
{
	while (x && node_empty(x)) {
		struct quota_node *parent = x->parent;
		bool found;
		size_t i = slot(q, x->path, &found);

		if (found) {
			memmove(&q->nodes[i], &q->nodes[i + 1], (q->n - i - 1) * sizeof(*q->nodes));
			q->n--;
		}
		if (parent)
			parent->nchildren--;
		free(x->path);
		free(x);
		x = parent;
	}
	q->st.cgroups = q->n;
}

/* A new node for path under parent (its parent's node, NULL for "/"). NULL on ENOMEM. */
static struct quota_node *
node_new(struct quota *q, const char *path, struct quota_node *parent)
{
	struct quota_node *x;
	bool found;
	size_t i;

	if (q->n == q->cap) {
		size_t ncap = q->cap ? q->cap * 2 : 16;
		struct quota_node **nn = realloc(q->nodes, ncap * sizeof(*nn));

		if (!nn)
			return NULL;
		q->nodes = nn;
		q->cap = ncap;
	}
	x = calloc(1, sizeof(*x));
	if (!x || !(x->path = strdup(path))) {
		free(x);
		return NULL;
	}
	for (int s = 0; s < QUOTA_NSRC; s++)
		x->limit[s] = QUOTA_NO_LIMIT;
	x->parent = parent;
	if (parent)
		parent->nchildren++;
	i = slot(q, path, &found);
	memmove(&q->nodes[i + 1], &q->nodes[i], (q->n - i) * sizeof(*q->nodes));
	q->nodes[i] = x;
	q->n++;
	q->st.cgroups = q->n;
	return x;
}

/* The node of a canonical path, created with its ancestors when missing. NULL on ENOMEM.
 * A loop over the path's prefixes from "/" down, not recursion: a path of 4095 bytes may
 * have two thousand levels. */
static struct quota_node *
node_get(struct quota *q, const char *path)
{
	char prefix[CGROUP_PATH_MAX];
	struct quota_node *x = find(q, path), *parent = NULL;
	size_t len = strlen(path);

	if (x)
		return x;
	for (size_t end = 1;; end++) {
		if (end == 1 || end == len || path[end] == '/') {
			memcpy(prefix, path, end);
			prefix[end] = '\0';
			x = find(q, prefix);
			if (!x && !(x = node_new(q, prefix, parent))) {
				prune(q, parent);
				return NULL;
			}
			parent = x;
		}
		if (end >= len)
			return x;
	}
}

int
quota_new(struct quota **out)
{
	struct quota *q = calloc(1, sizeof(*q));

	if (!q)
		return -ENOMEM;
	q->vm_max = QUOTA_NO_LIMIT;
	*out = q;
	return 0;
}

void
quota_free(struct quota *q)
{
	if (!q)
		return;
	for (size_t i = 0; i < q->n; i++) {
		free(q->nodes[i]->path);
		free(q->nodes[i]);
	}
	free(q->nodes);
	if (q->reader.free)
		q->reader.free(q->reader.ctx);
	free(q);
}

void
quota_set_reader(struct quota *q, const struct quota_reader *r)
{
	if (q->reader.free)
		q->reader.free(q->reader.ctx);
	q->reader = *r;
}

int
quota_set_limit(struct quota *q, const char *cgroup, enum quota_source src, uint64_t max)
{
	struct quota_node *x;

	if (max == QUOTA_NO_LIMIT) {
		x = find(q, cgroup);
		if (x) {
			x->limit[src] = QUOTA_NO_LIMIT;
			prune(q, x);
		}
		return 0;
	}
	x = node_get(q, cgroup);
	if (!x)
		return -ENOMEM;
	x->limit[src] = max;
	return 0;
}

int
quota_apply_config(struct quota *q, const struct quota_config *qc)
{
	size_t i = 0;

	/* Clear first, then set: pruning while clearing moves nodes around. */
	while (i < q->n) {
		struct quota_node *x = q->nodes[i];
		size_t before = q->n;

		if (x->limit[QUOTA_SRC_CONFIG] != QUOTA_NO_LIMIT) {
			x->limit[QUOTA_SRC_CONFIG] = QUOTA_NO_LIMIT;
			prune(q, x);
		}
		/* Pruning removes x and maybe ancestors, which sort before it. */
		if (q->n == before)
			i++;
		else
			i = 0;
	}
	for (size_t k = 0; k < qc->nlimits; k++)
		if (quota_set_limit(q, qc->limits[k].cgroup, QUOTA_SRC_CONFIG, qc->limits[k].max) <
		    0)
			return -ENOMEM;
	q->vm_max = qc->has_vm_max ? qc->vm_max : QUOTA_NO_LIMIT;
	return 0;
}

/* Reads the xattr of one cgroup into its node. A limit that cannot be read is no limit (the
 * reader has said why). */
static int
refresh_one(struct quota *q, const char *path)
{
	uint64_t max = QUOTA_NO_LIMIT;

	if (q->reader.read(q->reader.ctx, path, &max) != 1)
		max = QUOTA_NO_LIMIT;
	return quota_set_limit(q, path, QUOTA_SRC_XATTR, max);
}

int
quota_refresh_xattrs(struct quota *q, const char *cgroup)
{
	char path[CGROUP_PATH_MAX];
	int r = 0;

	if (!q->reader.read)
		return 0;
	snprintf(path, sizeof(path), "%s", cgroup[0] ? cgroup : "/");
	do
		r = r < 0 ? r : refresh_one(q, path);
	while (cgroup_parent(path));
	return r;
}

int
quota_refresh_all_xattrs(struct quota *q)
{
	char **paths;
	size_t n = q->n;
	int r = 0;

	if (!q->reader.read || !n)
		return 0;
	/* Copies: refreshing may prune nodes and move the rest. */
	paths = calloc(n, sizeof(*paths));
	if (!paths)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		paths[i] = strdup(q->nodes[i]->path);
	for (size_t i = 0; i < n; i++) {
		if (!paths[i] || refresh_one(q, paths[i]) < 0)
			r = -ENOMEM;
		free(paths[i]);
	}
	free(paths);
	return r;
}

/* ---- charges ---- */

static void
deny(struct quota *q, const char *cgroup, const char *vm, uint64_t max, uint64_t current,
     unsigned n)
{
	snprintf(q->last.cgroup, sizeof(q->last.cgroup), "%s", cgroup);
	snprintf(q->last.vm, sizeof(q->last.vm), "%s", vm ? vm : "");
	q->last.max = max;
	q->last.current = current;
	q->last.asked = n;
}

/* Whether n more PASIDs for a VM holding `held` fit every limit on the cgroup's path; a
 * refusal is recorded and counted. The leaf of a cgroup that has none yet is made (0 or
 * -EDQUOT, -ENOMEM). */
static int
admit(struct quota *q, const char *path, const char *vm, uint64_t held, unsigned n,
      struct quota_node **leafp)
{
	struct quota_node *leaf, *x;

	if (q->vm_max != QUOTA_NO_LIMIT && held + n > q->vm_max) {
		deny(q, path, vm ? vm : "?", q->vm_max, held, n);
		q->st.denied_vm++;
		return -EDQUOT;
	}
	leaf = node_get(q, path);
	if (!leaf)
		return -ENOMEM;
	/* Every level is checked before any is charged: a refused charge leaves no trace
	 * but the denied counter of the cgroup that refused it. */
	for (x = leaf; x; x = x->parent) {
		uint64_t max = node_max(x);

		if (max != QUOTA_NO_LIMIT && x->current + n > max) {
			deny(q, x->path, NULL, max, x->current, n);
			x->denied++;
			q->st.denied_cgroup++;
			prune(q, leaf);
			return -EDQUOT;
		}
	}
	*leafp = leaf;
	return 0;
}

int
quota_admit(struct quota *q, const char *cgroup, const char *vm, uint64_t held, unsigned n)
{
	struct quota_node *leaf;
	int r = admit(q, cgroup && cgroup[0] ? cgroup : "/", vm, held, n, &leaf);

	if (r == 0)
		prune(q, leaf);
	return r;
}

int
quota_charge(struct quota *q, const char *cgroup, const char *vm, uint64_t held, unsigned n,
             bool force)
{
	const char *path = cgroup && cgroup[0] ? cgroup : "/";
	struct quota_node *leaf = NULL, *x;
	int r =
	    force ? ((leaf = node_get(q, path)) ? 0 : -ENOMEM) : admit(q, path, vm, held, n, &leaf);

	if (r < 0)
		return r;
	leaf->self += n;
	for (x = leaf; x; x = x->parent)
		x->current += n;
	q->st.charged += n;
	return 0;
}

void
quota_uncharge(struct quota *q, const char *cgroup, unsigned n)
{
	const char *path = cgroup && cgroup[0] ? cgroup : "/";
	struct quota_node *leaf = find(q, path), *x;

	if (!leaf || leaf->self < n) {
		/* Charges and returns come in pairs through the namespace's events; if they
		 * ever did not, clamping keeps the tree consistent rather than wrap. */
		if (!leaf)
			return;
		n = (unsigned)leaf->self;
	}
	leaf->self -= n;
	for (x = leaf; x; x = x->parent)
		x->current -= n;
	q->st.uncharged += n;
	prune(q, leaf);
}

const struct quota_denial *
quota_last_denial(const struct quota *q)
{
	return &q->last;
}

uint64_t
quota_vm_max(const struct quota *q)
{
	return q->vm_max;
}

/* ---- reading ---- */

static void
fill(const struct quota_node *x, struct quota_entry *e)
{
	e->cgroup = x->path;
	memcpy(e->limit, x->limit, sizeof(e->limit));
	e->max = node_max(x);
	e->current = x->current;
	e->denied = x->denied;
}

int
quota_get(const struct quota *q, const char *cgroup, struct quota_entry *e)
{
	const struct quota_node *x = find(q, cgroup);

	if (x) {
		fill(x, e);
		return 0;
	}
	memset(e, 0, sizeof(*e));
	e->cgroup = cgroup;
	for (int s = 0; s < QUOTA_NSRC; s++)
		e->limit[s] = QUOTA_NO_LIMIT;
	e->max = QUOTA_NO_LIMIT;
	return -ENOENT;
}

int
quota_describe(const struct quota *q, const char *cgroup, struct quota_entry *e)
{
	uint64_t max;
	int r = quota_get(q, cgroup, e);

	/* Nothing has been read for a cgroup without a node: show what a VM registered in it
	 * would find there now. */
	if (r == -ENOENT && q->reader.read && q->reader.read(q->reader.ctx, cgroup, &max) == 1) {
		e->limit[QUOTA_SRC_XATTR] = max;
		e->max = max;
	}
	return r;
}

int
quota_fits(const struct quota *q, const char *cgroup, uint64_t held, unsigned n,
           struct quota_denial *d)
{
	char path[CGROUP_PATH_MAX];
	uint64_t xmax;

	memset(d, 0, sizeof(*d));
	d->asked = n;
	if (q->vm_max != QUOTA_NO_LIMIT && held + n > q->vm_max) {
		snprintf(d->vm, sizeof(d->vm), "?");
		snprintf(d->cgroup, sizeof(d->cgroup), "%s", cgroup);
		d->max = q->vm_max;
		d->current = held;
		return -EDQUOT;
	}
	snprintf(path, sizeof(path), "%s", cgroup && cgroup[0] ? cgroup : "/");
	/* Leaf to root, as admit() walks it, without making a node or counting anything. */
	for (;;) {
		const struct quota_node *x = find(q, path);
		uint64_t max = x ? node_max(x) : QUOTA_NO_LIMIT, cur = x ? x->current : 0;
		char *slash;

		if (!x && q->reader.read && q->reader.read(q->reader.ctx, path, &xmax) == 1)
			max = xmax;
		if (max != QUOTA_NO_LIMIT && cur + n > max) {
			snprintf(d->cgroup, sizeof(d->cgroup), "%s", path);
			d->max = max;
			d->current = cur;
			return -EDQUOT;
		}
		if (!strcmp(path, "/"))
			return 0;
		slash = strrchr(path, '/');
		if (slash == path)
			slash[1] = '\0';
		else
			*slash = '\0';
	}
}

bool
quota_next(const struct quota *q, size_t *it, struct quota_entry *e)
{
	if (*it >= q->n)
		return false;
	fill(q->nodes[(*it)++], e);
	return true;
}

void
quota_get_stats(const struct quota *q, struct quota_stats *st)
{
	*st = q->st;
}

#define BROKEN(...)                                                                                \
	do {                                                                                       \
		snprintf(why, len, __VA_ARGS__);                                                   \
		return -EUCLEAN;                                                                   \
	} while (0)

int
quota_check(const struct quota *q, char *why, size_t len)
{
	for (size_t i = 0; i < q->n; i++) {
		const struct quota_node *x = q->nodes[i];
		char parent[CGROUP_PATH_MAX];
		uint64_t sum = x->self;
		unsigned kids = 0;

		if (i && path_cmp(q->nodes[i - 1]->path, x->path) >= 0)
			BROKEN("quota tree out of order at %s", x->path);
		snprintf(parent, sizeof(parent), "%s", x->path);
		if (cgroup_parent(parent) ? !x->parent || strcmp(x->parent->path, parent) ||
		                                find(q, parent) != x->parent
		                          : x->parent != NULL)
			BROKEN("cgroup %s has the wrong parent", x->path);
		for (size_t k = 0; k < q->n; k++) {
			if (q->nodes[k]->parent == x) {
				sum += q->nodes[k]->current;
				kids++;
			}
		}
		if (kids != x->nchildren)
			BROKEN("cgroup %s counts %u children but has %u", x->path, x->nchildren,
			       kids);
		if (sum != x->current)
			BROKEN("cgroup %s holds %llu but its own and its children's charges add up "
			       "to %llu",
			       x->path, (unsigned long long)x->current, (unsigned long long)sum);
		if (node_empty(x))
			BROKEN("cgroup %s holds nothing but is kept", x->path);
	}
	return 0;
}
