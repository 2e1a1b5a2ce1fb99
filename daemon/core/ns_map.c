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

/* Into every index. Room was made in every map before (reserve()), so this cannot fail. */
void
ns_map_link(struct ns *ns, struct ns_mapping *m)
{
	struct ns_vm *vm = m->vm;
	const struct ns_range *loc = &ns->cfg.local, *sh = &ns->cfg.shared;

	u32map_put(&vm->maps, m->gpasid, m);
	if (ns_in_range(loc, m->gpasid))
		idmap_set(&vm->guest, m->gpasid - loc->first);
	else if (ns_in_range(sh, m->gpasid))
		idmap_set(&vm->ident, m->gpasid - sh->first);
	if (m->type == NS_TYPE_LOCAL) {
		u32map_put(&m->dev->lmaps, m->hpasid, m);
		idmap_set(&m->dev->local, m->hpasid - loc->first);
		vm->nlocal++;
		ns->nlocal++;
	} else {
		u32map_put(&ns->shared_maps, m->hpasid, m);
		idmap_set(&ns->shared_used, m->hpasid - sh->first);
	}
	if (m->wq) {
		m->wq->nmaps++;
		vm_wq(vm, m->wq)->nmaps++;
	}
}

void
ns_map_unlink(struct ns *ns, struct ns_mapping *m)
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

static int
reserve(struct ns *ns, struct ns_vm *vm, enum ns_type type, struct ns_device *dev, struct ns_wq *wq,
        unsigned n, struct ns_err *err)
{
	if (u32map_reserve(&vm->maps, n) < 0 ||
	    u32map_reserve(type == NS_TYPE_LOCAL ? &dev->lmaps : &ns->shared_maps, n) < 0 ||
	    reserve_wq(vm, wq) < 0)
		return ns_fail(err, NS_E_NOMEM, NULL, "out of memory");
	return 0;
}

void
ns_map_free(struct ns_mapping *m)
{
	free(m->atts);
	free(m);
}

/* Adds the mapping (g, h) and logs it. */
static struct ns_mapping *
add(struct ns *ns, struct ns_vm *vm, enum ns_type type, struct ns_device *dev, struct ns_wq *wq,
    uint32_t g, uint32_t h, struct ns_err *err)
{
	struct ns_mapping *m = calloc(1, sizeof(*m));

	if (!m) {
		ns_fail(err, NS_E_NOMEM, NULL, "out of memory");
		return NULL;
	}
	m->vm = vm;
	m->dev = type == NS_TYPE_LOCAL ? dev : NULL;
	m->gpasid = g;
	m->hpasid = h;
	m->type = type;
	m->wq = wq;
	ns_map_link(ns, m);
	ns_log(ns, &(struct ns_event){.kind = NS_EV_MAP_ADDED, .vm = vm, .map = m},
	       &(struct ns_change){.map = m});
	return m;
}

/* Whether (g, h) may be added for this VM; the full rule set, used by allocation (where it
 * mostly confirms the search) and by ns_insert (where it is the only check). */
static int
check_slot(const struct ns *ns, const struct ns_vm *vm, enum ns_type type,
           const struct ns_device *dev, uint32_t g, uint32_t h, struct ns_err *err)
{
	const struct ns_range *loc = &ns->cfg.local, *sh = &ns->cfg.shared;
	bool identity = vm->mode == NS_MODE_IDENTITY;
	char name[NS_BDF_LEN + 1];

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

/* First offset >= from free in every one of the n maps (NULL ones left out): each map moves
 * the position to its next free offset until all agree. Local ranges are small (4095 by
 * default), so the leapfrog is bounded by a few dozen words; in the shared range only the
 * foreign map is ever consulted beside the used one, and it holds a handful of numbers, so
 * each is skipped in a step or two. Each step is O(levels). */
static int64_t
find_free_all(const struct idmap *const *maps, unsigned n, uint32_t from)
{
	int64_t p = from;
	unsigned agree = 0;

	for (unsigned i = 0; agree < n; i = (i + 1) % n) {
		int64_t q;

		if (!maps[i]) {
			agree++;
			continue;
		}
		q = idmap_find_free(maps[i], (uint32_t)p);
		if (q < 0)
			return -1;
		agree = q == p ? agree + 1 : 1;
		p = q;
	}
	return p;
}

/* find_free_all from `from`, then from the start: the next-fit search. */
static int64_t
find_free_all_wrap(const struct idmap *const *maps, unsigned n, uint32_t from)
{
	int64_t r = find_free_all(maps, n, from);

	return r >= 0 || from == 0 ? r : find_free_all(maps, n, 0);
}

static uint32_t
advance(uint32_t off, uint32_t size)
{
	return off + 1 >= size ? 0 : off + 1;
}

/* Picks the numbers of the i-th mapping of a request, moving the next-fit position. */
static int
choose(struct ns *ns, struct ns_vm *vm, const struct ns_alloc_req *req, struct ns_device *dev,
       unsigned i, uint32_t *g, uint32_t *h, struct ns_err *err)
{
	const struct ns_range *loc = &ns->cfg.local, *sh = &ns->cfg.shared;
	int64_t off;

	if (req->type == NS_TYPE_LOCAL) {
		if (req->gpasid >= 0) {
			*g = *h = (uint32_t)req->gpasid + i;
			return 0;
		}
		const struct idmap *maps[] = {&dev->local, &vm->guest,
		                              ns_foreign_local(ns, dev->bdf)};

		off = find_free_all_wrap(maps, 3, dev->local_cursor);
		if (off < 0)
			return ns_fail(err, NS_E_EXHAUSTED, "count",
			               "no free local PASID left on the device for %s", vm->name);
		*g = *h = loc->first + (uint32_t)off;
		dev->local_cursor = advance((uint32_t)off, ns_range_size(loc));
		return 0;
	}
	if (vm->mode == NS_MODE_IDENTITY && req->gpasid >= 0) {
		*g = *h = (uint32_t)req->gpasid + i;
		return 0;
	}
	/* The foreign map is consulted only when it holds something: the common case stays a
	 * single search. */
	const struct idmap *maps[] = {&ns->shared_used,
	                              ns->shared_foreign.used ? &ns->shared_foreign : NULL};

	off = find_free_all_wrap(maps, 2, ns->shared_cursor);
	if (off < 0)
		return ns_fail(err, NS_E_EXHAUSTED, "count",
		               "no free PASID left in the shared range");
	*h = sh->first + (uint32_t)off;
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

/* Whether the ranges a request draws from have room for all of it, said precisely before
 * anything is looked for: which range is short, what it has and what was asked. The
 * parameter at fault is the one to change: `count` when fewer would fit, otherwise what names
 * the full range (the VM for its guest range, the device, the type for the shared range). */
static int
check_room(const struct ns *ns, const struct ns_vm *vm, const struct ns_alloc_req *req,
           const struct ns_device *dev, struct ns_err *err)
{
	const struct ns_range *loc = &ns->cfg.local, *sh = &ns->cfg.shared;
	bool identity_pick = req->type == NS_TYPE_SHARED && vm->mode == NS_MODE_IDENTITY;
	uint32_t n = req->count, free_g = ns_range_size(loc) - vm->guest.used, free, foreign;
	char name[NS_BDF_LEN + 1], also[64] = "";

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
	if (req->type == NS_TYPE_LOCAL) {
		foreign = ns_foreign_local_unmapped(ns, dev);
		free = ns_range_size(loc) - dev->local.used - foreign;
		ns_bdf_format(dev->bdf, name);
		if (foreign)
			snprintf(also, sizeof(also), " (and %u attached to it by other processes)",
			         foreign);
		if (free < n)
			return ns_fail(err, NS_E_EXHAUSTED, free ? "count" : "device",
			               "device %s has %u free local PASIDs in %u-%u%s; %u asked",
			               name, free, loc->first, loc->last, also, n);
	} else {
		foreign = ns_foreign_shared_unmapped(ns);
		free = ns_shared_free(ns);
		if (foreign)
			snprintf(also, sizeof(also), " (and %u attached by other processes)",
			         foreign);
		if (free < n)
			return ns_fail(err, NS_E_EXHAUSTED, free ? "count" : "type",
			               "the shared range %u-%u has %u free PASIDs%s; %u asked",
			               sh->first, sh->last, free, also, n);
		if (identity_pick)
			return 0;
	}
	if (req->gpasid < 0 && free_g < n)
		return ns_fail(err, NS_E_EXHAUSTED, free_g ? "count" : "vm",
		               "VM %s has %u free guest PASIDs in %u-%u; %u asked", vm->name,
		               free_g, loc->first, loc->last, n);
	return 0;
}

int
ns_alloc(struct ns *ns, struct ns_vm *vm, const struct ns_alloc_req *req, struct ns_mapping **out,
         struct ns_err *err)
{
	struct ns_device *dev = NULL;
	struct ns_wq *wq;
	struct ns_change u;
	struct ns_event ev;
	struct ns_op op;
	int r;

	if (req->count < 1 || req->count > NS_MAX_COUNT)
		return ns_fail(err, NS_E_INVALID, "count", "count must be 1-%d", NS_MAX_COUNT);
	if ((r = wq_of(ns, req->type, req->wq, &wq, err)) < 0)
		return r;
	if (req->type == NS_TYPE_LOCAL && !(dev = local_device(ns, vm, req->bdf, err)))
		return -EEXIST;
	r = check_room(ns, vm, req, dev, err);
	if (r < 0 || (r = reserve(ns, vm, req->type, dev, wq, req->count, err)) < 0 ||
	    (r = ns_op_begin(ns, &op, req->count + 1, err)) < 0)
		return r;
	/* The next-fit position moves once a request, after its last number. */
	if (dev) {
		u = (struct ns_change){.dev = dev, .cursor_before = dev->local_cursor};
		ev = (struct ns_event){.kind = NS_EV_LCURSOR, .bdf = dev->bdf};
	} else {
		u = (struct ns_change){.cursor_before = ns->shared_cursor};
		ev = (struct ns_event){.kind = NS_EV_CURSOR};
	}
	for (unsigned i = 0; i < req->count; i++) {
		uint32_t g = 0, h = 0;

		if ((r = choose(ns, vm, req, dev, i, &g, &h, err)) < 0 ||
		    (r = check_slot(ns, vm, req->type, dev, g, h, err)) < 0 ||
		    !(out[i] = add(ns, vm, req->type, dev, wq, g, h, err))) {
			/* The positions are put back with everything else. */
			if (dev)
				dev->local_cursor = u.cursor_before;
			else
				ns->shared_cursor = u.cursor_before;
			return ns_op_end(ns, &op, r < 0 ? r : -ENOMEM, err);
		}
	}
	ev.cursor = dev ? dev->local_cursor : ns->shared_cursor;
	ns_log(ns, &ev, &u);
	return ns_op_end(ns, &op, 0, err);
}

int
ns_insert(struct ns *ns, struct ns_vm *vm, enum ns_type type, uint32_t bdf, uint32_t gpasid,
          uint32_t hpasid, const char *wqref, struct ns_mapping **out, struct ns_err *err)
{
	struct ns_device *dev = NULL;
	struct ns_mapping *m;
	struct ns_wq *wq;
	struct ns_op op;
	int r;

	if ((r = wq_of(ns, type, wqref, &wq, err)) < 0)
		return r;
	if (type == NS_TYPE_LOCAL && !(dev = local_device(ns, vm, bdf, err)))
		return -EEXIST;
	if ((r = check_slot(ns, vm, type, dev, gpasid, hpasid, err)) < 0 ||
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
	r = ns_detach_all(ns, m, err);
	if (r < 0)
		return ns_op_end(ns, &op, r, err);
	ns_map_unlink(ns, m);
	if (ns->replaying)
		ns_map_free(m);
	else
		ns_log(ns, &(struct ns_event){.kind = NS_EV_MAP_REMOVED, .vm = vm, .map = m},
		       &(struct ns_change){.map = m});
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

uint32_t
ns_shared_used(const struct ns *ns)
{
	return (uint32_t)ns->shared_maps.count;
}

uint32_t
ns_shared_free(const struct ns *ns)
{
	return ns->shared_used.size - ns->shared_used.used - ns_foreign_shared_unmapped(ns);
}
