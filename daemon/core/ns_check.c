/* The invariant checker: every rule of DESIGN.md §3 that the tables can show, and every index
 * against every other. Run on a replayed state before it is served, and by the tests after
 * every step. */
#include "backend.h"
#include "ns_internal.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define BROKEN(...)                                                                                \
	do {                                                                                       \
		snprintf(why, whylen, __VA_ARGS__);                                                \
		return -EUCLEAN;                                                                   \
	} while (0)

static int
check_mapping(const struct ns *ns, const struct ns_vm *vm, const struct ns_mapping *m, char *why,
              size_t whylen)
{
	const struct ns_range *loc = &ns->cfg.local, *sh = &ns->cfg.shared;
	uint32_t max = (1U << ns->cfg.pasid_bits) - 1;

	if (m->vm != vm || u32map_get(&vm->maps, m->gpasid) != m)
		BROKEN("invariant 3: gPASID %u of %s is not indexed by its VM", m->gpasid,
		       vm->name);
	if (m->hpasid == 0 || m->hpasid > max)
		BROKEN("invariant 4: hPASID %u of %s is 0 or above the %u-bit width", m->hpasid,
		       vm->name, ns->cfg.pasid_bits);
	if (ns_in_range(loc, m->gpasid) && !idmap_test(&vm->guest, m->gpasid - loc->first))
		BROKEN("invariant 3: gPASID %u of %s missing from its guest table", m->gpasid,
		       vm->name);
	if (ns_in_range(sh, m->gpasid) &&
	    (!vm->ident.level[0] || !idmap_test(&vm->ident, m->gpasid - sh->first)))
		BROKEN("invariant 3: gPASID %u of %s missing from its identity table", m->gpasid,
		       vm->name);
	if (m->wq && (m->type != NS_TYPE_SHARED || ns_wq_find(ns, m->wq->ref) != m->wq))
		BROKEN("gPASID %u of %s names a work queue it may not (%s)", m->gpasid, vm->name,
		       m->wq->ref);
	if (m->type == NS_TYPE_LOCAL) {
		const struct ns_vm_dev *vd = m->dev ? ns_vm_device(vm, m->dev->bdf) : NULL;

		if (!vd || vd->shared || m->dev->owner != vm || m->dev->shared)
			BROKEN("invariant 2: local PASID %u of %s on a device it does not hold "
			       "exclusively",
			       m->hpasid, vm->name);
		if (m->gpasid != m->hpasid || !ns_in_range(loc, m->hpasid))
			BROKEN("invariant 4: local mapping %u->%u of %s outside the local range",
			       m->gpasid, m->hpasid, vm->name);
		if (u32map_get(&m->dev->lmaps, m->hpasid) != m ||
		    !idmap_test(&m->dev->local, m->hpasid - loc->first))
			BROKEN("invariant 2: local PASID %u of %s not indexed by its device",
			       m->hpasid, vm->name);
		return 0;
	}
	if (!ns_in_range(sh, m->hpasid))
		BROKEN("invariant 4: shared hPASID %u of %s outside the shared range", m->hpasid,
		       vm->name);
	if (u32map_get(&ns->shared_maps, m->hpasid) != m ||
	    !idmap_test(&ns->shared_used, m->hpasid - sh->first))
		BROKEN("invariant 1: shared hPASID %u of %s is not owned by that mapping alone",
		       m->hpasid, vm->name);
	if (vm->mode == NS_MODE_IDENTITY ? m->gpasid != m->hpasid : !ns_in_range(loc, m->gpasid))
		BROKEN("invariant 4: gPASID %u of %s (%s mode) outside its range", m->gpasid,
		       vm->name, ns_mode_name(vm->mode));
	return 0;
}

/* Live mappings with hPASID in lo..hi of map (over range q): O(words + mappings). */
static uint32_t
count_used(const struct idmap *map, const struct ns_range *q, uint32_t lo, uint32_t hi)
{
	uint32_t n = 0;
	int64_t off;

	if (lo < q->first)
		lo = q->first;
	if (hi > q->last)
		hi = q->last;
	if (lo > hi || !map->level[0])
		return 0;
	for (off = idmap_find_used(map, lo - q->first); off >= 0 && off <= hi - q->first;
	     off = idmap_find_used(map, (uint32_t)off + 1))
		n++;
	return n;
}

/* Reservations: sorted, apart, within the width, named once, and counted right. */
static int
check_resvs(const struct ns *ns, char *why, size_t whylen)
{
	uint32_t max = (1U << ns->cfg.pasid_bits) - 1, shared = 0, shared_used = 0;

	for (unsigned i = 0; i < ns->nresvs; i++) {
		const struct ns_resv *r = ns->resvs[i];
		const struct ns_range *sh = &ns->cfg.shared;
		uint32_t nsh, nloc = 0;
		size_t it = 0;
		void *d;

		if (r->first > r->last || r->last > max)
			BROKEN(
			    "invariant 4: reservation %s (%u-%u) is not a range within the %u-bit "
			    "width",
			    r->name, r->first, r->last, ns->cfg.pasid_bits);
		if (i && ns->resvs[i - 1]->last >= r->first)
			BROKEN("reservations %s and %s overlap or are out of order",
			       ns->resvs[i - 1]->name, r->name);
		if (!ns_vm_name_valid(r->name) || ns_resv_find(ns, r->name) != r)
			BROKEN("reservation %s is not named once", r->name);
		nsh = count_used(&ns->shared_used, sh, r->first, r->last);
		while (u32map_next(&ns->devices, &it, NULL, &d))
			nloc += count_used(&((const struct ns_device *)d)->local, &ns->cfg.local,
			                   r->first, r->last);
		if (r->nshared != nsh || r->nmaps != nsh + nloc)
			BROKEN("reservation %s counts %u mappings (%u shared) but holds %u (%u)",
			       r->name, r->nmaps, r->nshared, nsh + nloc, nsh);
		if (r->last >= sh->first && r->first <= sh->last)
			shared += (r->last < sh->last ? r->last : sh->last) -
			          (r->first > sh->first ? r->first : sh->first) + 1;
		shared_used += nsh;
	}
	if (shared != ns->resv_shared || shared_used != ns->resv_shared_used)
		BROKEN("the reservations count %u shared numbers (%u mapped) but hold %u (%u)",
		       ns->resv_shared, ns->resv_shared_used, shared, shared_used);
	return 0;
}

/* Each attachment on a device the VM holds (a local PASID only on its own device), once. */
static int
check_attachments(const struct ns_vm *vm, const struct ns_mapping *m, char *why, size_t whylen)
{
	for (unsigned i = 0; i < m->natts; i++) {
		uint32_t bdf = m->atts[i]->bdf;

		if (!ns_vm_device(vm, bdf) || (m->dev && m->dev->bdf != bdf))
			BROKEN("gPASID %u of %s is attached on a device it may not use", m->gpasid,
			       vm->name);
		for (unsigned k = 0; k < i; k++)
			if (m->atts[k]->bdf == bdf)
				BROKEN("gPASID %u of %s is attached twice on one device", m->gpasid,
				       vm->name);
	}
	return 0;
}

/* The PASIDs attached around pasidd agree with their indexes. They are not mappings: no rule
 * about mappings counts them, and a number may be both (a foreign attach of pasidd's). */
static int
check_foreign(const struct ns *ns, char *why, size_t whylen)
{
	const struct ns_range *sh = &ns->cfg.shared;
	size_t it = 0, pairs = 0, shared_pairs = 0;
	uint32_t bdf, h;
	void *p;

	while (u32map_next(&ns->foreign, &it, &bdf, &p)) {
		const struct ns_foreign *f = p;
		size_t k = 0;

		if (!f->shared.count && !f->local.used)
			BROKEN("device %x is kept with no foreign PASID", bdf);
		while (u32map_next(&f->shared, &k, &h, NULL))
			if (!ns_in_range(sh, h) || !idmap_test(&ns->shared_foreign, h - sh->first))
				BROKEN("foreign shared PASID %u of device %x is not indexed", h,
				       bdf);
		pairs += f->shared.count + f->local.used;
		shared_pairs += f->shared.count;
	}
	it = 0;
	while (u32map_next(&ns->shared_foreign_n, &it, &h, &p)) {
		shared_pairs -= (uintptr_t)p;
		if (!ns_in_range(sh, h) || !idmap_test(&ns->shared_foreign, h - sh->first))
			BROKEN("foreign shared PASID %u is counted but not indexed", h);
	}
	if (shared_pairs || ns->shared_foreign_n.count != ns->shared_foreign.used)
		BROKEN("the foreign shared PASIDs disagree with their counts");
	if (pairs != ns->nforeign)
		BROKEN("%zu foreign PASIDs but %u counted", pairs, ns->nforeign);
	return 0;
}

/* A table of mappings in itself (the mappings are checked against it by check_mapping). */
static int
check_map(const struct u32map *m, const char *what, const char *name, char *why, size_t whylen)
{
	char inner[160];

	if (u32map_check(m, inner, sizeof(inner)) < 0)
		BROKEN("the %s table of %s: %s", what, name, inner);
	return 0;
}

int
ns_check(const struct ns *ns, char *why, size_t whylen)
{
	size_t nshared = 0, nlocal = 0, nattached = 0, nwq = 0, nrid = 0, it = 0;
	void *p;
	int r;

	for (unsigned i = 0; i < ns->nvms; i++) {
		const struct ns_vm *vm = ns->vms[i];
		size_t vit = 0;
		unsigned vlocal = 0;
		void *m;

		if (i && strcmp(ns->vms[i - 1]->name, vm->name) >= 0)
			BROKEN("VM table out of order at %s", vm->name);
		if ((r = check_map(&vm->maps, "VM", vm->name, why, whylen)) < 0)
			return r;
		while (u32map_next(&vm->maps, &vit, NULL, &m)) {
			r = check_mapping(ns, vm, m, why, whylen);
			if (r < 0 || (r = check_attachments(vm, m, why, whylen)) < 0)
				return r;
			nattached += ((struct ns_mapping *)m)->natts;
			nwq += ((struct ns_mapping *)m)->wq != NULL;
			if (((struct ns_mapping *)m)->type == NS_TYPE_LOCAL)
				vlocal++;
			else
				nshared++;
		}
		if (vm->guest.used + vm->ident.used != vm->maps.count)
			BROKEN("invariant 3: VM %s indexes %u gPASIDs but holds %zu", vm->name,
			       vm->guest.used + vm->ident.used, vm->maps.count);
		for (unsigned k = 0; k < vm->nwqs; k++) {
			unsigned n = 0;
			size_t wit = 0;

			while (u32map_next(&vm->maps, &wit, NULL, &m))
				n += ((struct ns_mapping *)m)->wq == vm->wqs[k].wq;
			if (n != vm->wqs[k].nmaps)
				BROKEN("VM %s counts %u mappings for work queue %s but holds %u",
				       vm->name, vm->wqs[k].nmaps, vm->wqs[k].wq->ref, n);
		}
		if (vlocal != vm->nlocal)
			BROKEN("VM %s counts %u local PASIDs but holds %u", vm->name, vm->nlocal,
			       vlocal);
		nlocal += vlocal;
		for (unsigned d = 0; d < vm->ndevs; d++)
			if (ns_device_find(ns, vm->devs[d].dev->bdf) != vm->devs[d].dev)
				BROKEN("VM %s holds an unknown device", vm->name);
	}
	if ((r = check_map(&ns->shared_maps, "shared", "range", why, whylen)) < 0)
		return r;
	/* A mapping removed by the open transaction stays allocated until it ends. */
	if (!ns->txn && ns->maps_pool.live != nshared + nlocal)
		BROKEN("%u mappings allocated but %zu held", ns->maps_pool.live, nshared + nlocal);
	if (nshared != ns->shared_maps.count || nshared != ns->shared_used.used)
		BROKEN("invariant 1: %zu shared mappings but %zu indexed and %u numbers in use",
		       nshared, ns->shared_maps.count, ns->shared_used.used);
	if (nlocal != ns->nlocal)
		BROKEN("%zu local mappings but %u counted", nlocal, ns->nlocal);
	if (nattached != ns->nattached)
		BROKEN("%zu attachments but %u counted", nattached, ns->nattached);
	for (unsigned i = 0; i < ns->nwqs; i++) {
		if (i && strcmp(ns->wqs[i - 1]->ref, ns->wqs[i]->ref) >= 0)
			BROKEN("work queue table out of order at %s", ns->wqs[i]->ref);
		nwq -= ns->wqs[i]->nmaps;
	}
	if (nwq)
		BROKEN("the work queues count %s mappings than name them",
		       (ssize_t)nwq > 0 ? "fewer" : "more");
	while (u32map_next(&ns->devices, &it, NULL, &p)) {
		const struct ns_device *dev = p;
		unsigned holders = 0;

		for (unsigned i = 0; i < ns->nvms; i++) {
			const struct ns_vm_dev *vd = ns_vm_device(ns->vms[i], dev->bdf);

			if (vd && vd->shared != dev->shared)
				BROKEN("invariant 2: device held both shared and exclusively");
			holders += vd != NULL;
		}
		if (holders != dev->nvms || (!dev->shared && holders > 1))
			BROKEN("invariant 2: a device is held by %u VMs (counted %u, shared %d)",
			       holders, dev->nvms, dev->shared);
		if ((r = check_map(&dev->lmaps, "device", "local", why, whylen)) < 0)
			return r;
		if (dev->shared && dev->lmaps.count)
			BROKEN("invariant 2: local PASIDs on a shared device");
		if (dev->lmaps.count != dev->local.used || (dev->lmaps.count && !dev->owner))
			BROKEN("invariant 2: device local table disagrees with its index");
		/* A requester ID is attached for the device's one exclusive holder only. */
		if (dev->rid && (dev->shared || !dev->owner || dev->rid->bdf != dev->bdf))
			BROKEN("the requester ID of device %x is attached while no VM holds it "
			       "exclusively",
			       dev->bdf);
		nrid += dev->rid != NULL;
	}
	if (nrid != ns->nrid)
		BROKEN("%zu requester ID attachments but %u counted", nrid, ns->nrid);
	if ((r = check_resvs(ns, why, whylen)) < 0)
		return r;
	return check_foreign(ns, why, whylen);
}
