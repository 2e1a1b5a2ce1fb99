/* Reservations (namespace.h, struct ns_resv): hPASID ranges kept away from allocation. Kept
 * sorted by their first number, and since they never overlap that sorts them whole: the
 * allocator skips a reserved interval in one binary search (ns_resv_skip) rather than testing
 * each number against each reservation. */
#include "ns_internal.h"
#include "sorted.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Index of the first reservation whose first number is above p. */
static unsigned
upper(const struct ns *ns, uint64_t p)
{
	unsigned lo = 0, hi = ns->nresvs;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;

		if (ns->resvs[mid]->first <= p)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct ns_resv *
ns_resv_at(const struct ns *ns, uint32_t pasid)
{
	unsigned i = ns->nresvs ? upper(ns, pasid) : 0;

	return i && ns->resvs[i - 1]->last >= pasid ? ns->resvs[i - 1] : NULL;
}

uint64_t
ns_resv_skip(const struct ns *ns, uint64_t p)
{
	unsigned i = ns->nresvs ? upper(ns, p) : 0;

	if (!i || ns->resvs[i - 1]->last < p)
		return p;
	/* Adjacent reservations are skipped together. */
	for (p = (uint64_t)ns->resvs[i - 1]->last + 1; i < ns->nresvs && ns->resvs[i]->first == p;
	     i++)
		p = (uint64_t)ns->resvs[i]->last + 1;
	return p;
}

struct ns_resv *
ns_resv_find(const struct ns *ns, const char *name)
{
	for (unsigned i = 0; i < ns->nresvs; i++)
		if (!strcmp(ns->resvs[i]->name, name))
			return ns->resvs[i];
	return NULL;
}

int
ns_resv_named(const struct ns *ns, const char *name, struct ns_resv **out, struct ns_err *err)
{
	if (!(*out = ns_resv_find(ns, name)))
		return ns_fail(err, NS_E_NOT_FOUND, "reservation", "no reservation named %s", name);
	if ((*out)->config)
		return ns_fail(err, NS_E_CONFLICT, "reservation",
		               "reservation %s comes from the configuration, which hands nothing "
		               "out of it",
		               name);
	return 0;
}

/* How many numbers of r lie in range q. */
static uint32_t
overlap(const struct ns_resv *r, const struct ns_range *q)
{
	uint32_t lo = r->first > q->first ? r->first : q->first;
	uint32_t hi = r->last < q->last ? r->last : q->last;

	return lo <= hi ? hi - lo + 1 : 0;
}

void
ns_resv_link(struct ns *ns, struct ns_resv *r)
{
	unsigned i = upper(ns, r->first);

	/* Room was made before (ns_reserve), and an unlink never gives it back. */
	memmove(&ns->resvs[i + 1], &ns->resvs[i], (ns->nresvs - i) * sizeof(*ns->resvs));
	ns->resvs[i] = r;
	ns->nresvs++;
	ns->resv_shared += overlap(r, &ns->cfg.shared);
	ns->resv_shared_used += r->nshared;
}

void
ns_resv_unlink(struct ns *ns, struct ns_resv *r)
{
	for (unsigned i = 0; i < ns->nresvs; i++)
		if (ns->resvs[i] == r) {
			memmove(&ns->resvs[i], &ns->resvs[i + 1],
			        (ns->nresvs - i - 1) * sizeof(*ns->resvs));
			ns->nresvs--;
			break;
		}
	ns->resv_shared -= overlap(r, &ns->cfg.shared);
	ns->resv_shared_used -= r->nshared;
}

void
ns_resv_count(struct ns *ns, const struct ns_mapping *m, int delta)
{
	struct ns_resv *r = ns->nresvs ? ns_resv_at(ns, m->hpasid) : NULL;

	if (!r)
		return;
	r->nmaps += (uint32_t)delta;
	if (m->type == NS_TYPE_SHARED) {
		r->nshared += (uint32_t)delta;
		ns->resv_shared_used += (uint32_t)delta;
	}
}

void
ns_resvs_free(struct ns *ns)
{
	for (unsigned i = 0; i < ns->nresvs; i++)
		free(ns->resvs[i]);
	free(ns->resvs);
	ns->resvs = NULL;
	ns->nresvs = ns->resvs_cap = 0;
}

uint32_t
ns_resv_shared_free(const struct ns *ns)
{
	return ns->resv_shared - ns->resv_shared_used;
}

/* The lowest used number of map (over range r) within lo..hi, or -1. */
static int64_t
first_used(const struct idmap *map, const struct ns_range *r, uint32_t lo, uint32_t hi)
{
	int64_t off;

	if (lo < r->first)
		lo = r->first;
	if (hi > r->last)
		hi = r->last;
	if (lo > hi || !map->level[0] || !map->used)
		return -1;
	off = idmap_find_used(map, lo - r->first);
	return off < 0 || off > hi - r->first ? -1 : (int64_t)r->first + off;
}

const struct ns_mapping *
ns_first_mapping_in(const struct ns *ns, uint32_t first, uint32_t last)
{
	const struct ns_mapping *best = NULL;
	size_t it = 0;
	int64_t h;
	void *d;

	while (u32map_next(&ns->devices, &it, NULL, &d)) {
		const struct ns_device *dev = d;
		const struct ns_mapping *m;

		if ((h = first_used(&dev->local, &ns->cfg.local, first, last)) < 0)
			continue;
		m = u32map_get(&dev->lmaps, (uint32_t)h);
		if (m && (!best || m->hpasid < best->hpasid ||
		          (m->hpasid == best->hpasid && dev->bdf < best->dev->bdf)))
			best = m;
	}
	if ((h = first_used(&ns->shared_used, &ns->cfg.shared, first, last)) >= 0 &&
	    (!best || (uint32_t)h < best->hpasid))
		best = u32map_get(&ns->shared_maps, (uint32_t)h);
	return best;
}

/* Whether a why is text for a person: no control characters (it is logged and listed). */
static bool
why_valid(const char *s)
{
	size_t n = strnlen(s, NS_RESV_WHY_MAX + 1);

	if (n > NS_RESV_WHY_MAX)
		return false;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return false;
	return true;
}

/* A conflict with reservation o, which err names for the edge. */
static int resv_conflict(struct ns_err *err, const struct ns_resv *o, const char *param,
                         const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int
resv_conflict(struct ns_err *err, const struct ns_resv *o, const char *param, const char *fmt, ...)
{
	char msg[sizeof(err->message)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ns_fail(err, NS_E_CONFLICT, param, "%s", msg);
	if (err)
		err->resv = o;
	return -EEXIST;
}

/* Everything that refuses spec, before anything changes; fills in its default name. */
static int
check_spec(const struct ns *ns, struct ns_resv *spec, struct ns_err *err)
{
	uint32_t max = (1U << ns->cfg.pasid_bits) - 1;
	const struct ns_resv *o;
	const struct ns_mapping *m;
	char dev[NS_BDF_LEN + 1] = "";
	unsigned i;

	if (spec->first > max)
		return ns_fail(err, NS_E_RANGE, "first",
		               "first %u lies beyond the %u-bit PASID width (at most %u)",
		               spec->first, ns->cfg.pasid_bits, max);
	if (spec->last > max)
		return ns_fail(err, NS_E_RANGE, "last",
		               "last %u lies beyond the %u-bit PASID width (at most %u)",
		               spec->last, ns->cfg.pasid_bits, max);
	if (spec->first > spec->last)
		return ns_fail(err, NS_E_RANGE, "last", "last %u lies below first %u", spec->last,
		               spec->first);
	if (!spec->name[0])
		snprintf(spec->name, sizeof(spec->name), "%u-%u", spec->first, spec->last);
	else if (!ns_vm_name_valid(spec->name))
		return ns_fail(err, NS_E_INVALID, "name",
		               "a reservation's name is 1-64 characters [A-Za-z0-9._:@+-] starting "
		               "with a letter or digit");
	if (!why_valid(spec->why))
		return ns_fail(err, NS_E_INVALID, "why",
		               "why is at most %d bytes of text without control characters",
		               NS_RESV_WHY_MAX);
	if ((o = ns_resv_find(ns, spec->name)))
		return resv_conflict(err, o, "name", "a reservation named %s exists (%u-%u)",
		                     o->name, o->first, o->last);
	/* The lowest one in the way: the one that starts at or before first, or the next. */
	i = upper(ns, spec->first);
	o = i && ns->resvs[i - 1]->last >= spec->first            ? ns->resvs[i - 1]
	    : i < ns->nresvs && ns->resvs[i]->first <= spec->last ? ns->resvs[i]
	                                                          : NULL;
	if (o)
		return resv_conflict(err, o, "first", "%u-%u overlaps reservation %s (%u-%u%s)",
		                     spec->first, spec->last, o->name, o->first, o->last,
		                     o->config ? ", from the configuration" : "");
	if ((m = ns_first_mapping_in(ns, spec->first, spec->last))) {
		if (m->dev)
			ns_bdf_format(m->dev->bdf, dev);
		ns_fail(
		    err, NS_E_CONFLICT, "first",
		    "%u-%u holds live mappings, the first %s hPASID %u%s%s of VM %s (gPASID %u)",
		    spec->first, spec->last, ns_type_name(m->type), m->hpasid, dev[0] ? " on " : "",
		    dev, m->vm->name, m->gpasid);
		if (err)
			err->map = m;
		return -EEXIST;
	}
	return 0;
}

/* Room for one more reservation, taken before anything changes. */
static int
make_room(struct ns *ns, unsigned more, struct ns_err *err)
{
	struct ns_resv **p;
	unsigned cap;

	if (ns->nresvs + more <= ns->resvs_cap)
		return 0;
	cap = ns->resvs_cap ? 2 * ns->resvs_cap : 8;
	while (cap < ns->nresvs + more)
		cap *= 2;
	if (!(p = realloc(ns->resvs, cap * sizeof(*p))))
		return ns_fail(err, NS_E_NOMEM, NULL, "out of memory");
	ns->resvs = p;
	ns->resvs_cap = cap;
	return 0;
}

/* Checks, makes and logs one reservation inside an operation begun by the caller. */
static int
reserve_one(struct ns *ns, const struct ns_resv *spec, struct ns_resv **out, struct ns_err *err)
{
	struct ns_resv *r = malloc(sizeof(*r));
	int rc;

	if (!r)
		return ns_fail(err, NS_E_NOMEM, NULL, "out of memory");
	*r = *spec;
	r->name[NS_VM_NAME_MAX] = r->why[NS_RESV_WHY_MAX] = '\0';
	r->nmaps = r->nshared = 0;
	if ((rc = check_spec(ns, r, err)) < 0 || (rc = make_room(ns, 1, err)) < 0) {
		free(r);
		return rc;
	}
	r->cursor = r->first;
	ns_resv_link(ns, r);
	ns_log(ns, &(struct ns_event){.kind = NS_EV_RESERVED, .resv = r},
	       &(struct ns_change){.resv = r});
	if (out)
		*out = r;
	return 0;
}

int
ns_reserve(struct ns *ns, const struct ns_resv *spec, struct ns_resv **out, struct ns_err *err)
{
	struct ns_op op;
	int r;

	if ((r = ns_op_begin(ns, &op, 1, err)) < 0)
		return r;
	return ns_op_end(ns, &op, reserve_one(ns, spec, out, err), err);
}

static void
unreserve_one(struct ns *ns, struct ns_resv *r)
{
	ns_resv_unlink(ns, r);
	if (ns->replaying)
		free(r);
	else
		ns_log(ns, &(struct ns_event){.kind = NS_EV_UNRESERVED, .resv = r},
		       &(struct ns_change){.resv = r});
}

int
ns_unreserve(struct ns *ns, struct ns_resv *r, struct ns_err *err)
{
	struct ns_op op;
	int rc;

	if ((rc = ns_op_begin(ns, &op, 1, err)) < 0)
		return rc;
	unreserve_one(ns, r);
	return ns_op_end(ns, &op, 0, err);
}

uint64_t
ns_resv_next_expiry(const struct ns *ns)
{
	uint64_t next = 0;

	for (unsigned i = 0; i < ns->nresvs; i++)
		if (ns->resvs[i]->expires && (!next || ns->resvs[i]->expires < next))
			next = ns->resvs[i]->expires;
	return next;
}

int
ns_resv_expire(struct ns *ns, uint64_t now, struct ns_err *err)
{
	int n = 0, r;

	for (unsigned i = 0; i < ns->nresvs;) {
		struct ns_resv *rv = ns->resvs[i];

		if (!rv->expires || rv->expires > now) {
			i++;
			continue;
		}
		if ((r = ns_unreserve(ns, rv, err)) < 0)
			return r;
		n++;
	}
	return n;
}

int
ns_resv_set_config(struct ns *ns, const struct ns_resv *specs, size_t n, size_t *bad,
                   struct ns_err *err)
{
	unsigned old = 0;
	struct ns_op op;
	int rc = 0;

	for (unsigned i = 0; i < ns->nresvs; i++)
		old += ns->resvs[i]->config;
	if ((rc = ns_op_begin(ns, &op, old + n, err)) < 0)
		return rc;
	for (unsigned i = 0; i < ns->nresvs;)
		if (ns->resvs[i]->config)
			unreserve_one(ns, ns->resvs[i]);
		else
			i++;
	for (size_t k = 0; k < n && rc == 0; k++) {
		struct ns_resv s = specs[k];

		s.config = true;
		s.expires = 0;
		if ((rc = reserve_one(ns, &s, NULL, err)) < 0 && bad)
			*bad = k;
	}
	return ns_op_end(ns, &op, rc, err);
}
