/* Mappings: the indexes that hold them, allocation (next-fit, invariant 8), insertion of given
 * numbers, freeing, and lookups. */
#include "ns_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The VM's count of mappings for wq, whose entry reserve() made. */
static struct ns_vm_wq *
vm_wq(struct ns_vm *vm, const struct ns_wq *wq)
{
	for (unsigned i = 0; i < vm->nwqs; i++)
		if (vm->wqs[i].wq == wq)
			return &vm->wqs[i];
	return NULL;
}

/* Into every index. Room was made in every map before (reserve()), so this cannot fail.
 * Inline where a mapping is added or freed; ns_map_link for undoing. */
static inline void
link_map(struct ns *ns, struct ns_mapping *m)
{
	struct ns_vm *vm = m->vm;
	const struct ns_range *loc = &ns->cfg.local, *sh = &ns->cfg.shared;

	u32map_put_obj(&vm->maps, m->gpasid, m);
	if (ns_in_range(loc, m->gpasid))
		idmap_set(&vm->guest, m->gpasid - loc->first);
	else if (ns_in_range(sh, m->gpasid))
		idmap_set(&vm->ident, m->gpasid - sh->first);
	if (m->type == NS_TYPE_LOCAL) {
		u32map_put_obj(&m->dev->lmaps, m->hpasid, m);
		idmap_set(&m->dev->local, m->hpasid - loc->first);
		vm->nlocal++;
		ns->nlocal++;
	} else {
		u32map_put_obj(&ns->shared_maps, m->hpasid, m);
		idmap_set(&ns->shared_used, m->hpasid - sh->first);
	}
	if (m->wq) {
		m->wq->nmaps++;
		vm_wq(vm, m->wq)->nmaps++;
	}
	if (ns->nresvs)
		ns_resv_count(ns, m, 1);
}

static inline void
unlink_map(struct ns *ns, struct ns_mapping *m)
{
	struct ns_vm *vm = m->vm;
	const struct ns_range *loc = &ns->cfg.local, *sh = &ns->cfg.shared;

	u32map_del(&vm->maps, m->gpasid);
	if (ns_in_range(loc, m->gpasid))
		idmap_clear(&vm->guest, m->gpasid - loc->first);
	else if (ns_in_range(sh, m->gpasid))
		idmap_clear(&vm->ident, m->gpasid - sh->first);
	if (m->type == NS_TYPE_LOCAL) {
		u32map_del(&m->dev->lmaps, m->hpasid);
		idmap_clear(&m->dev->local, m->hpasid - loc->first);
		vm->nlocal--;
		ns->nlocal--;
	} else {
		u32map_del(&ns->shared_maps, m->hpasid);
		idmap_clear(&ns->shared_used, m->hpasid - sh->first);
	}
	if (m->wq) {
		m->wq->nmaps--;
		vm_wq(vm, m->wq)->nmaps--;
	}
	if (ns->nresvs)
		ns_resv_count(ns, m, -1);
}

void
ns_map_link(struct ns *ns, struct ns_mapping *m)
{
	link_map(ns, m);
}

void
ns_map_unlink(struct ns *ns, struct ns_mapping *m)
{
	unlink_map(ns, m);
}

/* The VM's entry for wq, made (idle) when it has none: never taken back, so that undoing a
 * change needs no allocation. */
static int
reserve_wq(struct ns_vm *vm, struct ns_wq *wq)
{
	if (!wq || vm_wq(vm, wq))
		return 0;
	if (vm->nwqs == vm->wqs_cap) {
		unsigned cap = vm->wqs_cap ? 2 * vm->wqs_cap : 2;
		struct ns_vm_wq *p = realloc(vm->wqs, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		vm->wqs = p;
		vm->wqs_cap = cap;
	}
	vm->wqs[vm->nwqs++] = (struct ns_vm_wq){.wq = wq};
	return 0;
}

static __attribute__((noinline, cold)) int
out_of_memory(struct ns_err *err)
{
	return ns_fail(err, NS_E_NOMEM, NULL, "out of memory");
}

static inline int
reserve(struct ns *ns, struct ns_vm *vm, enum ns_type type, struct ns_device *dev, struct ns_wq *wq,
        unsigned n, struct ns_err *err)
{
	if (u32map_reserve(&vm->maps, n) < 0 ||
	    u32map_reserve(type == NS_TYPE_LOCAL ? &dev->lmaps : &ns->shared_maps, n) < 0 ||
	    (wq && reserve_wq(vm, wq) < 0))
		return out_of_memory(err);
	return 0;
}

_Static_assert(sizeof(struct ns_mapping) <= 48, "a mapping takes 48 bytes of the pool");

void
ns_map_free(struct ns *ns, struct ns_mapping *m)
{
	if (m->atts)
		free(m->atts);
	slab_free(&ns->maps_pool, m);
}

/* Adds the mapping (g, h) and logs it. */
static inline struct ns_mapping *
add(struct ns *ns, struct ns_vm *vm, enum ns_type type, struct ns_device *dev, struct ns_wq *wq,
    uint32_t g, uint32_t h, struct ns_err *err)
{
	struct ns_mapping *m = slab_alloc(&ns->maps_pool);

	if (!m) {
		out_of_memory(err);
		return NULL;
	}
	/* Every field written (the pool does not zero): the id is the pool's. */
	*m = (struct ns_mapping){.vm = vm,
	                         .dev = type == NS_TYPE_LOCAL ? dev : NULL,
	                         .wq = wq,
	                         .gpasid = g,
	                         .hpasid = h,
	                         .id = m->id,
	                         .type = (uint8_t)type};
	link_map(ns, m);
	ns_log_map(ns, NS_EV_MAP_ADDED, m);
	return m;
}

/* Whether h may be taken: no reservation holds it but the one named, if any (named: h must
 * lie in it). Replay re-creates what was handed out, also out of reservations by name. */
static int
check_reserved(const struct ns *ns, const struct ns_vm *vm, enum ns_type type, uint32_t h,
               const struct ns_resv *named, struct ns_err *err)
{
	/* The parameter that named h: the gPASID where it is the hPASID. */
	const char *hparam =
	    type == NS_TYPE_LOCAL || vm->mode == NS_MODE_IDENTITY ? "gpasid" : "hpasid";
	const struct ns_resv *r = ns_resv_at(ns, h);

	if (r && r != named) {
		/* Not its why, which is for administrators (range.list). */
		ns_fail(err, NS_E_CONFLICT, hparam, "hPASID %u is reserved (%s, %u-%u)", h, r->name,
		        r->first, r->last);
		if (err)
			err->resv = r;
		return -EEXIST;
	}
	if (named && (h < named->first || h > named->last))
		return ns_fail(err, NS_E_RANGE, hparam,
		               "hPASID %u lies outside reservation %s (%u-%u)", h, named->name,
		               named->first, named->last);
	return 0;
}

/* Whether (g, h) may be added for this VM; the full rule set, used by allocation (where it
 * mostly confirms the search) and by ns_insert (where it is the only check). named: the
 * reservation the request takes h from, or NULL. */
static int
check_slot(const struct ns *ns, const struct ns_vm *vm, enum ns_type type,
           const struct ns_device *dev, uint32_t g, uint32_t h, const struct ns_resv *named,
           struct ns_err *err)
{
	const struct ns_range *loc = &ns->cfg.local, *sh = &ns->cfg.shared;
	bool identity = vm->mode == NS_MODE_IDENTITY;
	char name[NS_BDF_LEN + 1];
	int r;

	if (ns->nresvs && !ns->replaying && (r = check_reserved(ns, vm, type, h, named, err)) < 0)
		return r;
	if (type == NS_TYPE_LOCAL) {
		if (g != h || !ns_in_range(loc, h))
			return ns_fail(err, NS_E_RANGE, "gpasid",
			               "local PASID %u outside the local range %u-%u", h,
			               loc->first, loc->last);
		if (u32map_get(&vm->maps, g))
			return ns_fail(err, NS_E_CONFLICT, "gpasid",
			               "gPASID %u is already used in %s", g, vm->name);
		if (u32map_get(&dev->lmaps, h))
			return ns_fail(err, NS_E_CONFLICT, "gpasid",
			               "PASID %u is already used on the device", h);
		if (ns_foreign_held(ns, dev->bdf, h)) {
			ns_bdf_format(dev->bdf, name);
			return ns_fail(err, NS_E_CONFLICT, "gpasid",
			               "PASID %u is attached to device %s by another process", h,
			               name);
		}
		return 0;
	}
	if (identity ? (g != h || !ns_in_range(sh, g)) : !ns_in_range(loc, g))
		return ns_fail(err, NS_E_RANGE, "gpasid", "gPASID %u outside the %s range %u-%u", g,
		               identity ? "shared" : "guest", identity ? sh->first : loc->first,
		               identity ? sh->last : loc->last);
	if (!ns_in_range(sh, h))
		return ns_fail(err, NS_E_RANGE, "hpasid",
		               "hPASID %u outside the shared range %u-%u", h, sh->first, sh->last);
	if (u32map_get(&vm->maps, g))
		return ns_fail(err, NS_E_CONFLICT, "gpasid", "gPASID %u is already used in %s", g,
		               vm->name);
	if (idmap_test(&ns->shared_used, h - sh->first))
		return ns_fail(err, NS_E_CONFLICT, "gpasid", "hPASID %u is already taken", h);
	/* The parameter that named it: an identity VM's gPASID is its hPASID. */
	if (idmap_test(&ns->shared_foreign, h - sh->first)) {
		ns_bdf_format(ns_foreign_shared_device(ns, h), name);
		return ns_fail(err, NS_E_CONFLICT, identity ? "gpasid" : "hpasid",
		               "hPASID %u is attached to device %s by another process", h, name);
	}
	return 0;
}

/* First offset >= from free in every one of the n maps: each map moves
 * the position to its next free offset until all agree. Local ranges are small (4095 by
 * default), so the leapfrog is bounded by a few dozen words; in the shared range only the
 * foreign map is ever consulted beside the used one, and it holds a handful of numbers, so
 * each is skipped in a step or two. Each step is O(levels). */
static int64_t
find_free_maps(const struct idmap *const *maps, unsigned n, uint32_t from)
{
	int64_t p = from;
	unsigned agree = 0;

	/* One map (the shared range without foreign numbers): its own search. */
	if (n == 1)
		return idmap_find_free(maps[0], from);
	for (unsigned i = 0; agree < n; i = i + 1 == n ? 0 : i + 1) {
		int64_t q;

		q = idmap_find_free(maps[i], (uint32_t)p);
		if (q < 0)
			return -1;
		agree = q == p ? agree + 1 : 1;
		p = q;
	}
	return p;
}

/* Where a search over range r takes numbers from: every reservation left out (resv NULL), or
 * one reservation's part of r only. */
struct search {
	const struct ns *ns;
	const struct ns_range *r;
	const struct ns_resv *resv;
};

/* find_free_maps, also leaving out every reserved number unless the search is within one
 * reservation: a reserved interval is skipped whole, and the maps then leapfrog from its end. */
static int64_t
find_free_all(const struct idmap *const *maps, unsigned n, uint32_t from, const struct search *s)
{
	uint32_t size = ns_range_size(s->r);
	int64_t p = from;

	for (;;) {
		uint64_t q;

		if ((p = find_free_maps(maps, n, (uint32_t)p)) < 0)
			return -1;
		if (s->resv)
			return p <= (int64_t)s->resv->last - s->r->first ? p : -1;
		if (!s->ns->nresvs || (q = ns_resv_skip(s->ns, s->r->first + (uint64_t)p)) ==
		                          s->r->first + (uint64_t)p)
			return p;
		if (q - s->r->first >= size)
			return -1;
		p = (int64_t)(q - s->r->first);
	}
}

/* find_free_all from `from`, then from the start (of the reservation, for one): the next-fit
 * search. */
static int64_t
find_free_all_wrap(const struct idmap *const *maps, unsigned n, uint32_t from,
                   const struct search *s)
{
	uint32_t start = 0;
	int64_t r;

	/* Without reservations, the search of before them: nothing more per allocation. */
	if (!s->resv && !s->ns->nresvs) {
		r = find_free_maps(maps, n, from);
		return r >= 0 || from == 0 ? r : find_free_maps(maps, n, 0);
	}
	if (s->resv) {
		start = s->resv->first > s->r->first ? s->resv->first - s->r->first : 0;
		if (from < start || from > s->resv->last - s->r->first)
			from = start;
	}
	r = find_free_all(maps, n, from, s);
	return r >= 0 || from == start ? r : find_free_all(maps, n, start, s);
}

static uint32_t
advance(uint32_t off, uint32_t size)
{
	return off + 1 >= size ? 0 : off + 1;
}

/* Picks the numbers of the i-th mapping of a request, moving the next-fit position. */
static int
choose(struct ns *ns, struct ns_vm *vm, const struct ns_alloc_req *req, struct ns_device *dev,
       struct ns_resv *resv, unsigned i, uint32_t *g, uint32_t *h, struct ns_err *err)
{
	const struct ns_range *loc = &ns->cfg.local, *sh = &ns->cfg.shared;
	struct search s = {.ns = ns, .resv = resv};
	int64_t off;

	if (req->type == NS_TYPE_LOCAL) {
		if (req->gpasid >= 0) {
			*g = *h = (uint32_t)req->gpasid + i;
			return 0;
		}
		const struct idmap *maps[] = {&dev->local, &vm->guest,
		                              ns_foreign_local(ns, dev->bdf)};

		s.r = loc;
		off = find_free_all_wrap(maps, maps[2] ? 3 : 2,
		                         resv ? resv->cursor - loc->first : dev->local_cursor, &s);
		if (off < 0)
			return resv ? ns_fail(err, NS_E_EXHAUSTED, "count",
			                      "no free local PASID left on the device for %s in "
			                      "reservation %s",
			                      vm->name, resv->name)
			            : ns_fail(err, NS_E_EXHAUSTED, "count",
			                      "no free local PASID left on the device for %s",
			                      vm->name);
		*g = *h = loc->first + (uint32_t)off;
		if (resv)
			resv->cursor = *h == resv->last ? resv->first : *h + 1;
		else
			dev->local_cursor = advance((uint32_t)off, ns_range_size(loc));
		return 0;
	}
	if (vm->mode == NS_MODE_IDENTITY && req->gpasid >= 0) {
		*g = *h = (uint32_t)req->gpasid + i;
		return 0;
	}
	/* The foreign map is consulted only when it holds something, and without reservations
	 * the common case is the one bitmap's own next-fit search. */
	const struct idmap *maps[] = {&ns->shared_used, &ns->shared_foreign};

	s.r = sh;
	if (!resv && !ns->nresvs && !ns->shared_foreign.used)
		off = idmap_find_free_wrap(&ns->shared_used, ns->shared_cursor);
	else
		off = find_free_all_wrap(maps, ns->shared_foreign.used ? 2 : 1,
		                         resv ? resv->cursor - sh->first : ns->shared_cursor, &s);
	if (off < 0)
		return resv ? ns_fail(err, NS_E_EXHAUSTED, "count",
		                      "no free PASID left in reservation %s", resv->name)
		            : ns_fail(err, NS_E_EXHAUSTED, "count",
		                      "no free PASID left in the shared range");
	*h = sh->first + (uint32_t)off;
	/* Next-fit within the reservation; the range's own position stays where it is. */
	if (resv)
		resv->cursor = *h == resv->last ? resv->first : *h + 1;
	else
		ns->shared_cursor = advance((uint32_t)off, ns_range_size(sh));
	if (vm->mode == NS_MODE_IDENTITY) {
		*g = *h;
		return 0;
	}
	if (req->gpasid >= 0) {
		*g = (uint32_t)req->gpasid + i;
		return 0;
	}
	off = idmap_find_free(&vm->guest, 0);
	if (off < 0)
		return ns_fail(err, NS_E_EXHAUSTED, "count", "no free guest PASID left in %s",
		               vm->name);
	*g = loc->first + (uint32_t)off;
	return 0;
}

/* The device a local request names, held exclusively by the VM. */
static struct ns_device *
local_device(struct ns *ns, struct ns_vm *vm, uint32_t bdf, struct ns_err *err)
{
	const struct ns_vm_dev *vd = ns_vm_device(vm, bdf);
	char name[NS_BDF_LEN + 1];

	ns_bdf_format(bdf, name);
	if (!vd)
		ns_fail(err, NS_E_CONFLICT, "device", "device %s is not assigned to %s", name,
		        vm->name);
	else if (vd->shared)
		ns_fail(err, NS_E_CONFLICT, "device",
		        "device %s is shared: local PASIDs need an exclusive device", name);
	return vd && !vd->shared ? vd->dev : NULL;
}

/* The entry of the work queue a request names (NULL for none), checked; -errno with err. */
static int
wq_of(struct ns *ns, enum ns_type type, const char *ref, struct ns_wq **out, struct ns_err *err)
{
	*out = NULL;
	if (!ref)
		return 0;
	if (type != NS_TYPE_SHARED)
		return ns_fail(err, NS_E_INVALID, "wq",
		               "a work queue is for shared PASIDs; local ones have none");
	if (!ns_wq_ref_valid(ref))
		return ns_fail(err, NS_E_INVALID, "wq",
		               "a work queue is named like dsa0/wq0.1 or iax1/wq1.0");
	/* Made before the change and never taken back: an idle entry is harmless. */
	if (!(*out = ns_wq_get(ns, ref)))
		return ns_fail(err, NS_E_NOMEM, NULL, "out of memory");
	return 0;
}

/* Numbers lo..hi (within the local range) that are neither used on dev nor attached to it
 * around pasidd. O(hi - lo): the local range is small. */
static uint32_t
local_free_in(const struct ns *ns, const struct ns_device *dev, uint32_t lo, uint32_t hi)
{
	const struct ns_range *loc = &ns->cfg.local;
	const struct idmap *foreign = ns_foreign_local(ns, dev->bdf);
	uint32_t n = 0;

	if (lo < loc->first)
		lo = loc->first;
	if (hi > loc->last)
		hi = loc->last;
	for (uint64_t p = lo; p <= hi; p++)
		n += !idmap_test(&dev->local, (uint32_t)p - loc->first) &&
		     !(foreign && idmap_test(foreign, (uint32_t)p - loc->first));
	return n;
}

/* Free local numbers of dev that reservations hold (not handed out without naming them). */
static uint32_t
local_reserved_free(const struct ns *ns, const struct ns_device *dev)
{
	uint32_t n = 0;

	for (unsigned i = 0; i < ns->nresvs && ns->resvs[i]->first <= ns->cfg.local.last; i++)
		n += local_free_in(ns, dev, ns->resvs[i]->first, ns->resvs[i]->last);
	return n;
}

/* The reservation a request names, if any: a runtime one that shares numbers with the range
 * the request draws from. */
static int
resv_of(const struct ns *ns, const char *name, enum ns_type type, struct ns_resv **out,
        struct ns_err *err)
{
	const struct ns_range *q = type == NS_TYPE_LOCAL ? &ns->cfg.local : &ns->cfg.shared;
	struct ns_resv *r;
	int rc;

	*out = NULL;
	if (!name)
		return 0;
	if ((rc = ns_resv_named(ns, name, &r, err)) < 0)
		return rc;
	if (r->last < q->first || r->first > q->last)
		return ns_fail(err, NS_E_RANGE, "reservation",
		               "reservation %s (%u-%u) holds nothing of the %s range %u-%u", name,
		               r->first, r->last, ns_type_name(type), q->first, q->last);
	*out = r;
	return 0;
}

/* " (and N attached[ to it] by other processes, M reserved)": what else is not free. */
static void
also_say(char *out, size_t len, uint32_t foreign, const char *to, uint32_t reserved)
{
	*out = '\0';
	if (foreign && reserved)
		snprintf(out, len, " (and %u attached%s by other processes, %u reserved)", foreign,
		         to, reserved);
	else if (foreign)
		snprintf(out, len, " (and %u attached%s by other processes)", foreign, to);
	else if (reserved)
		snprintf(out, len, " (and %u reserved)", reserved);
}

/* Whether the ranges a request draws from have room for all of it, said precisely before
 * anything is looked for: which range is short, what it has and what was asked. The
 * parameter at fault is the one to change: `count` when fewer would fit, otherwise what names
 * the full range (the VM for its guest range, the device, the type for the shared range). */
static int
check_room(const struct ns *ns, const struct ns_vm *vm, const struct ns_alloc_req *req,
           const struct ns_device *dev, const struct ns_resv *resv, struct ns_err *err)
{
	const struct ns_range *loc = &ns->cfg.local, *sh = &ns->cfg.shared;
	bool identity_pick = req->type == NS_TYPE_SHARED && vm->mode == NS_MODE_IDENTITY;
	uint32_t n = req->count, free_g = ns_range_size(loc) - vm->guest.used, free, foreign;
	char name[NS_BDF_LEN + 1], also[96];

	if (req->gpasid >= 0) {
		const struct ns_range *r = identity_pick ? sh : loc;

		if (ns_in_range(r, (uint64_t)req->gpasid) &&
		    (uint64_t)req->gpasid + n - 1 > r->last)
			return ns_fail(err, NS_E_RANGE, "count",
			               "gPASIDs %lld-%llu run past the end of the %s range %u-%u",
			               (long long)req->gpasid,
			               (unsigned long long)req->gpasid + n - 1,
			               identity_pick ? "shared" : "guest", r->first, r->last);
		if (req->type == NS_TYPE_LOCAL || identity_pick)
			return 0;
	}
	/* Numbers attached around pasidd are not free, and the message says how many of the
	 * others they are: a range whose only free numbers are those is exhausted. */
	if (resv && req->type == NS_TYPE_SHARED) {
		struct ns_range in = {resv->first > sh->first ? resv->first : sh->first,
		                      resv->last < sh->last ? resv->last : sh->last};

		free = ns_range_size(&in) - resv->nshared;
		if (free < n)
			return ns_fail(err, NS_E_EXHAUSTED, free ? "count" : "reservation",
			               "reservation %s has %u free PASIDs in %u-%u; %u asked",
			               resv->name, free, in.first, in.last, n);
		if (identity_pick)
			return 0;
	} else if (resv) {
		ns_bdf_format(dev->bdf, name);
		free = local_free_in(ns, dev, resv->first, resv->last);
		if (free < n)
			return ns_fail(
			    err, NS_E_EXHAUSTED, free ? "count" : "reservation",
			    "device %s has %u free local PASIDs in reservation %s; %u asked", name,
			    free, resv->name, n);
	} else if (req->type == NS_TYPE_LOCAL) {
		uint32_t held = ns->nresvs ? local_reserved_free(ns, dev) : 0;

		foreign = ns_foreign_local_unmapped(ns, dev);
		free = ns_range_size(loc) - dev->local.used - foreign;
		free = free > held ? free - held : 0;
		if (free < n) {
			/* Said only when refused: formatting costs more than the allocation. */
			ns_bdf_format(dev->bdf, name);
			also_say(also, sizeof(also), foreign, " to it", held);
			return ns_fail(err, NS_E_EXHAUSTED, free ? "count" : "device",
			               "device %s has %u free local PASIDs in %u-%u%s; %u asked",
			               name, free, loc->first, loc->last, also, n);
		}
	} else {
		free = ns_shared_free(ns);
		if (free < n) {
			/* What else is not free, counted only when refusing. */
			also_say(also, sizeof(also), ns_foreign_shared_unmapped(ns), "",
			         ns_resv_shared_free(ns));
			return ns_fail(err, NS_E_EXHAUSTED, free ? "count" : "type",
			               "the shared range %u-%u has %u free PASIDs%s; %u asked",
			               sh->first, sh->last, free, also, n);
		}
		if (identity_pick)
			return 0;
	}
	if (req->gpasid < 0 && free_g < n)
		return ns_fail(err, NS_E_EXHAUSTED, free_g ? "count" : "vm",
		               "VM %s has %u free guest PASIDs in %u-%u; %u asked", vm->name,
		               free_g, loc->first, loc->last, n);
	return 0;
}

/* Whether allocation re-verifies the numbers its own search chose (check_slot). The search
 * takes only what the bitmaps say is free (used in the range or on the device, the VM's guest
 * numbers, foreign numbers), skipping every reserved interval or staying within the one
 * named, and check_slot tests exactly those rules against the tables the bitmaps index, which
 * ns_check verifies agree with them. For a chosen slot it can fail only on a namespace
 * already corrupt, which no request can make so. Builds without NDEBUG (Debug: the CI's
 * sanitizer build runs every suite in one) keep it, as the assertion that search and rules
 * agree; a release build saves its ~110 instructions, 8 % of an alloc+free pair. Numbers a
 * request names are always checked. */
#ifdef NDEBUG
#define RECHECK_CHOSEN 0
#else
#define RECHECK_CHOSEN 1
#endif

int
ns_alloc(struct ns *ns, struct ns_vm *vm, const struct ns_alloc_req *req, struct ns_mapping **out,
         struct ns_err *err)
{
	struct ns_device *dev = NULL;
	struct ns_resv *resv;
	uint32_t resv_cursor;
	struct ns_wq *wq;
	uint32_t cursor_before;
	struct ns_op op;
	bool check = RECHECK_CHOSEN || req->gpasid >= 0;
	int r;

	if (req->count < 1 || req->count > NS_MAX_COUNT)
		return ns_fail(err, NS_E_INVALID, "count", "count must be 1-%d", NS_MAX_COUNT);
	if ((r = wq_of(ns, req->type, req->wq, &wq, err)) < 0)
		return r;
	if (req->type == NS_TYPE_LOCAL && !(dev = local_device(ns, vm, req->bdf, err)))
		return -EEXIST;
	resv = NULL;
	if (req->reservation && (r = resv_of(ns, req->reservation, req->type, &resv, err)) < 0)
		return r;
	resv_cursor = resv ? resv->cursor : 0;
	r = check_room(ns, vm, req, dev, resv, err);
	if (r < 0 || (r = reserve(ns, vm, req->type, dev, wq, req->count, err)) < 0 ||
	    (r = ns_op_begin(ns, &op, req->count + 1, err)) < 0)
		return r;
	/* The next-fit position moves once a request, after its last number. */
	cursor_before = dev ? dev->local_cursor : ns->shared_cursor;
	for (unsigned i = 0; i < req->count; i++) {
		uint32_t g = 0, h = 0;

		if ((r = choose(ns, vm, req, dev, resv, i, &g, &h, err)) < 0 ||
		    (check && (r = check_slot(ns, vm, req->type, dev, g, h, resv, err)) < 0) ||
		    !(out[i] = add(ns, vm, req->type, dev, wq, g, h, err))) {
			/* The positions are put back with everything else. */
			if (dev)
				dev->local_cursor = cursor_before;
			else
				ns->shared_cursor = cursor_before;
			if (resv)
				resv->cursor = resv_cursor;
			return ns_op_end(ns, &op, r < 0 ? r : -ENOMEM, err);
		}
	}
	ns_log_cursor(ns, dev, cursor_before);
	return ns_op_end(ns, &op, 0, err);
}

int
ns_insert(struct ns *ns, struct ns_vm *vm, enum ns_type type, uint32_t bdf, uint32_t gpasid,
          uint32_t hpasid, const char *wqref, struct ns_mapping **out, struct ns_err *err)
{
	return ns_insert_from(ns, vm, type, bdf, gpasid, hpasid, wqref, NULL, out, err);
}

int
ns_insert_from(struct ns *ns, struct ns_vm *vm, enum ns_type type, uint32_t bdf, uint32_t gpasid,
               uint32_t hpasid, const char *wqref, const char *reservation, struct ns_mapping **out,
               struct ns_err *err)
{
	struct ns_device *dev = NULL;
	struct ns_resv *resv;
	struct ns_mapping *m;
	struct ns_wq *wq;
	struct ns_op op;
	int r;

	if ((r = wq_of(ns, type, wqref, &wq, err)) < 0)
		return r;
	if (type == NS_TYPE_LOCAL && !(dev = local_device(ns, vm, bdf, err)))
		return -EEXIST;
	if ((r = resv_of(ns, reservation, type, &resv, err)) < 0 ||
	    (r = check_slot(ns, vm, type, dev, gpasid, hpasid, resv, err)) < 0 ||
	    (r = reserve(ns, vm, type, dev, wq, 1, err)) < 0 ||
	    (r = ns_op_begin(ns, &op, 1, err)) < 0)
		return r;
	m = add(ns, vm, type, dev, wq, gpasid, hpasid, err);
	if (m && out)
		*out = m;
	return ns_op_end(ns, &op, m ? 0 : -ENOMEM, err);
}

/* The mapping of a gPASID, or NULL with the request's error. */
static struct ns_mapping *
mapping_of(struct ns_vm *vm, uint32_t gpasid, struct ns_err *err)
{
	struct ns_mapping *m = ns_lookup_gpasid(vm, gpasid);

	if (!m)
		ns_fail(err, NS_E_NOT_FOUND, "gpasid", "gPASID %u is not allocated in %s", gpasid,
		        vm->name);
	return m;
}

int
ns_free(struct ns *ns, struct ns_vm *vm, uint32_t gpasid, struct ns_err *err)
{
	struct ns_mapping *m = mapping_of(vm, gpasid, err);
	struct ns_op op;
	int r;

	if (!m)
		return -ENOENT;
	r = ns_op_begin(ns, &op, 1, err);
	if (r < 0)
		return r;
	/* Detach first, free the number after (DESIGN.md §5): a number is never free while a
	 * device may still use it. */
	if (m->natts && (r = ns_detach_all(ns, m, err)) < 0)
		return ns_op_end(ns, &op, r, err);
	unlink_map(ns, m);
	if (ns->replaying)
		ns_map_free(ns, m);
	else
		ns_log_map(ns, NS_EV_MAP_REMOVED, m);
	return ns_op_end(ns, &op, 0, err);
}

/* ---- lookups ---- */

struct ns_mapping *
ns_lookup_gpasid(const struct ns_vm *vm, uint32_t gpasid)
{
	return u32map_get(&vm->maps, gpasid);
}

struct ns_mapping *
ns_lookup_hpasid(const struct ns *ns, uint32_t hpasid, uint32_t bdf)
{
	struct ns_mapping *best = NULL;
	size_t it = 0;
	void *d;

	if (ns_in_range(&ns->cfg.shared, hpasid))
		return u32map_get(&ns->shared_maps, hpasid);
	if (!ns_in_range(&ns->cfg.local, hpasid))
		return NULL;
	if (bdf != UINT32_MAX) {
		struct ns_device *dev = ns_device_find(ns, bdf);

		return dev ? u32map_get(&dev->lmaps, hpasid) : NULL;
	}
	while (u32map_next(&ns->devices, &it, NULL, &d)) {
		struct ns_mapping *m = u32map_get(&((struct ns_device *)d)->lmaps, hpasid);

		if (m && (!best || m->dev->bdf < best->dev->bdf))
			best = m;
	}
	return best;
}

/* The lowest used gPASID above `after` among those a bitmap over range r records. */
static int64_t
next_in(const struct idmap *map, const struct ns_range *r, uint32_t after)
{
	int64_t off;

	if (!map->level[0] || after >= r->last)
		return -1;
	off = idmap_find_used(map, after < r->first ? 0 : after - r->first + 1);
	return off < 0 ? -1 : (int64_t)r->first + off;
}

struct ns_mapping *
ns_vm_next(const struct ns *ns, const struct ns_vm *vm, uint32_t after)
{
	int64_t a = next_in(&vm->guest, &ns->cfg.local, after);
	int64_t b = next_in(&vm->ident, &ns->cfg.shared, after);

	if (a < 0 || (b >= 0 && b < a))
		a = b;
	return a < 0 ? NULL : u32map_get(&vm->maps, (uint32_t)a);
}

void
ns_vm_walk_start(const struct ns *ns, const struct ns_vm *vm, struct ns_vm_walk *w)
{
	const struct ns_range *loc = &ns->cfg.local, *sh = &ns->cfg.shared;
	/* The two ranges do not overlap: one's gPASIDs all come before the other's. */
	unsigned lo = loc->first < sh->first ? 0 : 1;

	*w = (struct ns_vm_walk){.vm = vm, .word = UINT32_MAX};
	w->map[lo] = vm->guest.level[0] ? &vm->guest : NULL;
	w->firsts[lo] = loc->first;
	w->map[1 - lo] = vm->ident.level[0] ? &vm->ident : NULL;
	w->firsts[1 - lo] = sh->first;
}

bool
ns_vm_walk_refill(struct ns_vm_walk *w)
{
	for (; w->k < 2; w->k++, w->word = UINT32_MAX) {
		const struct idmap *map = w->map[w->k];

		if (!map)
			continue;
		w->first = w->firsts[w->k];
		w->size = map->size;
		while (++w->word < map->nwords[0])
			if ((w->bits = map->level[0][w->word]))
				return true;
	}
	return false;
}

uint32_t
ns_shared_used(const struct ns *ns)
{
	return (uint32_t)ns->shared_maps.count;
}

uint32_t
ns_shared_free(const struct ns *ns)
{
	/* A reserved number attached around pasidd counts once only as foreign: rare, and an
	 * undercount that makes a request say exhausted a little early at worst. */
	uint32_t avail = ns->shared_used.size - ns->shared_used.used;
	uint32_t resv;

	/* No foreign numbers and no reservation: asked on every allocation. */
	if (!ns->shared_foreign_n.count && !ns->nresvs)
		return avail;
	avail -= ns_foreign_shared_unmapped(ns);
	resv = ns_resv_shared_free(ns);

	return avail > resv ? avail - resv : 0;
}
