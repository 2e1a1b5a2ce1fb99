/* PASIDs attached around pasidd (namespace.h): what the BPF observer saw another process
 * attach, kept out of allocation until it is seen detached. Not state: no transaction, no
 * event, no journal record (see namespace.h for why, and for the limit across a restart). */
#include "ns_internal.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

int
ns_foreign_init(struct ns *ns)
{
	u32map_init(&ns->foreign);
	u32map_init(&ns->shared_foreign_n);
	ns->nforeign = 0;
	return idmap_init(&ns->shared_foreign, ns_range_size(&ns->cfg.shared));
}

static void
record_free(struct ns_foreign *f)
{
	idmap_free(&f->local);
	u32map_free(&f->shared);
	free(f);
}

void
ns_foreign_destroy(struct ns *ns)
{
	size_t it = 0;
	void *p;

	while (u32map_next(&ns->foreign, &it, NULL, &p))
		record_free(p);
	u32map_free(&ns->foreign);
	u32map_free(&ns->shared_foreign_n);
	idmap_free(&ns->shared_foreign);
	ns->nforeign = 0;
}

/* A device's record goes once it holds nothing, so that ns->foreign lists only devices with
 * foreign PASIDs and a stream of attach/detach pairs leaves nothing behind. */
static void
drop_if_empty(struct ns *ns, uint32_t bdf, struct ns_foreign *f)
{
	if (f->shared.count || f->local.used)
		return;
	u32map_del(&ns->foreign, bdf);
	record_free(f);
}

static struct ns_foreign *
record_get(struct ns *ns, uint32_t bdf)
{
	struct ns_foreign *f = u32map_get(&ns->foreign, bdf);

	if (f)
		return f;
	f = calloc(1, sizeof(*f));
	if (!f || u32map_put(&ns->foreign, bdf, f) < 0) {
		free(f);
		return NULL;
	}
	u32map_init(&f->shared);
	return f;
}

static int
take_shared(struct ns *ns, uint32_t bdf, uint32_t h)
{
	struct ns_foreign *f = record_get(ns, bdf);
	uintptr_t n;

	if (!f)
		return -ENOMEM;
	if (u32map_get(&f->shared, h))
		return 0;
	/* Room in both maps first: nothing is changed unless all of it can be. */
	if (u32map_reserve(&f->shared, 1) < 0 || u32map_reserve(&ns->shared_foreign_n, 1) < 0) {
		drop_if_empty(ns, bdf, f);
		return -ENOMEM;
	}
	n = (uintptr_t)u32map_get(&ns->shared_foreign_n, h);
	u32map_put(&f->shared, h, (void *)(uintptr_t)1);
	u32map_put(&ns->shared_foreign_n, h, (void *)(n + 1));
	idmap_set(&ns->shared_foreign, h - ns->cfg.shared.first);
	ns->nforeign++;
	return 1;
}

static int
take_local(struct ns *ns, uint32_t bdf, uint32_t p)
{
	const struct ns_range *loc = &ns->cfg.local;
	struct ns_foreign *f = record_get(ns, bdf);

	if (!f)
		return -ENOMEM;
	if (!f->local.level[0] && idmap_init(&f->local, ns_range_size(loc)) < 0) {
		drop_if_empty(ns, bdf, f);
		return -ENOMEM;
	}
	if (idmap_test(&f->local, p - loc->first))
		return 0;
	idmap_set(&f->local, p - loc->first);
	ns->nforeign++;
	return 1;
}

int
ns_foreign_take(struct ns *ns, uint32_t bdf, uint32_t pasid)
{
	if (ns_in_range(&ns->cfg.shared, pasid))
		return take_shared(ns, bdf, pasid);
	if (ns_in_range(&ns->cfg.local, pasid))
		return take_local(ns, bdf, pasid);
	return 0; /* not a number pasidd hands out */
}

int
ns_foreign_release(struct ns *ns, uint32_t bdf, uint32_t pasid)
{
	struct ns_foreign *f = u32map_get(&ns->foreign, bdf);
	const struct ns_range *loc = &ns->cfg.local;

	if (!ns_foreign_held(ns, bdf, pasid))
		return -ENOENT;
	if (ns_in_range(&ns->cfg.shared, pasid)) {
		uintptr_t n = (uintptr_t)u32map_get(&ns->shared_foreign_n, pasid);

		u32map_del(&f->shared, pasid);
		/* Another device may still hold it: the number stays out until the last goes. */
		if (n > 1) {
			u32map_put(&ns->shared_foreign_n, pasid, (void *)(n - 1)); /* replaces */
		} else {
			u32map_del(&ns->shared_foreign_n, pasid);
			idmap_clear(&ns->shared_foreign, pasid - ns->cfg.shared.first);
		}
	} else {
		idmap_clear(&f->local, pasid - loc->first);
	}
	ns->nforeign--;
	drop_if_empty(ns, bdf, f);
	return 0;
}

bool
ns_foreign_held(const struct ns *ns, uint32_t bdf, uint32_t pasid)
{
	const struct ns_foreign *f = u32map_get(&ns->foreign, bdf);
	const struct ns_range *loc = &ns->cfg.local;

	if (!f)
		return false;
	if (ns_in_range(&ns->cfg.shared, pasid))
		return u32map_get(&f->shared, pasid) != NULL;
	return ns_in_range(loc, pasid) && f->local.level[0] &&
	       idmap_test(&f->local, pasid - loc->first);
}

uint32_t
ns_foreign_count(const struct ns *ns)
{
	return ns->nforeign;
}

const struct idmap *
ns_foreign_local(const struct ns *ns, uint32_t bdf)
{
	const struct ns_foreign *f = u32map_get(&ns->foreign, bdf);

	return f && f->local.used ? &f->local : NULL;
}

uint32_t
ns_foreign_shared_unmapped(const struct ns *ns)
{
	const struct ns_range *sh = &ns->cfg.shared;
	uint32_t n = 0, h;
	size_t it = 0;

	/* Computed, not counted as mappings come and go: few foreign PASIDs are expected, and
	 * a count kept in step would have to follow every change and its undoing. None is the
	 * usual case, asked on every allocation. */
	if (!ns->shared_foreign_n.count)
		return 0;
	while (u32map_next(&ns->shared_foreign_n, &it, &h, NULL))
		n += !idmap_test(&ns->shared_used, h - sh->first);
	return n;
}

uint32_t
ns_foreign_local_unmapped(const struct ns *ns, const struct ns_device *dev)
{
	const struct idmap *f = ns_foreign_local(ns, dev->bdf);
	uint32_t n = 0;
	int64_t off = 0;

	if (!f)
		return 0;
	while ((off = idmap_find_used(f, (uint32_t)off)) >= 0) {
		n += !idmap_test(&dev->local, (uint32_t)off);
		off++;
	}
	return n;
}

uint32_t
ns_foreign_shared_device(const struct ns *ns, uint32_t h)
{
	uint32_t best = UINT32_MAX, bdf;
	size_t it = 0;
	void *p;

	while (u32map_next(&ns->foreign, &it, &bdf, &p))
		if (bdf < best && u32map_get(&((struct ns_foreign *)p)->shared, h))
			best = bdf;
	return best;
}
