/* vm.import's core (ns_import.h): every conflict found by reading the tables only, then the VM
 * made with the namespace's own operations, so that an import keeps exactly the rules of
 * vm.register, device.assign and pasid.alloc and logs the same changes. */
#include "ns_import.h"
#include "backend.h"
#include "ns_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *
ns_conflict_name(enum ns_conflict_what w)
{
	static const char *const names[] = {
	    [NS_CF_TAKEN] = "taken",
	    [NS_CF_RESERVED] = "reserved",
	    [NS_CF_RANGE] = "out_of_range",
	    [NS_CF_WIDTH] = "width",
	    [NS_CF_QUOTA] = "quota",
	    [NS_CF_MISSING] = "missing",
	    [NS_CF_WQ] = "wq",
	    [NS_CF_EXHAUSTED] = "exhausted",
	};

	return names[w];
}

const char *
ns_import_reserved_by(const struct ns *ns, const struct ns_import *im, uint32_t h)
{
	const struct ns_resv *r = ns->nresvs ? ns_resv_at(ns, h) : NULL;

	return r && !(im->reservation && !strcmp(r->name, im->reservation)) ? r->name : NULL;
}

/* The reservation an identity or local mapping's PASID is taken from: the one im names when
 * the PASID lies in it, else none. */
static const char *
taken_from(const struct ns *ns, const struct ns_import *im, uint32_t h)
{
	const struct ns_resv *r = im->reservation && ns->nresvs ? ns_resv_at(ns, h) : NULL;

	return r && !strcmp(r->name, im->reservation) ? im->reservation : NULL;
}

struct report {
	void (*cb)(void *ctx, const struct ns_conflict *c);
	void *ctx;
	size_t n;
	const struct ns_import *im;
};

static void __attribute__((format(printf, 6, 7)))
report(struct report *rp, int64_t g, int64_t bdf, enum ns_conflict_what what, enum ns_errc code,
       const char *fmt, ...)
{
	struct ns_conflict c = {.gpasid = g, .bdf = bdf, .what = what, .code = code};
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c.why, sizeof(c.why), fmt, ap);
	va_end(ap);
	rp->n++;
	rp->cb(rp->ctx, &c);
}

/* Whether device bdf can be assigned as im wants: the rules of ns_device_assign, read only. */
static void
check_device(const struct ns *ns, const struct ns_import_dev *d, struct report *rp)
{
	const struct ns_device *dev = ns_device_find(ns, d->bdf);
	char name[NS_BDF_LEN + 1], why[128] = "";
	int r;

	ns_bdf_format(d->bdf, name);
	if (dev && dev->nvms && !dev->shared) {
		report(rp, -1, d->bdf, NS_CF_TAKEN, NS_E_CONFLICT,
		       "device %s is assigned exclusively to another VM", name);
		return;
	}
	if (dev && dev->nvms && !d->shared) {
		report(rp, -1, d->bdf, NS_CF_TAKEN, NS_E_CONFLICT,
		       "device %s is shared by other VMs and cannot be assigned exclusively", name);
		return;
	}
	r = ns->be->ops->device_probe(ns->be, d->bdf, d->shared, why, sizeof(why));
	if (r == -ENODEV)
		report(rp, -1, d->bdf, NS_CF_MISSING, NS_E_NOT_FOUND, "%s", why);
	else if (r == -EOPNOTSUPP)
		report(rp, -1, d->bdf, NS_CF_WIDTH, NS_E_UNSUPPORTED, "%s", why);
	else if (r < 0)
		report(rp, -1, d->bdf, NS_CF_MISSING, NS_E_KERNEL, "device %s refused: %s", name,
		       why);
}

/* The PASID width of a device of the import, asked once per device: -1 unknown, -2 not
 * asked yet. */
struct widths {
	const struct ns_import *im;
	int *bits; /* per device of im; NULL: all unknown */
};

static int
width_of(const struct ns *ns, struct widths *w, uint32_t bdf)
{
	for (unsigned i = 0; w->bits && i < w->im->ndevs; i++) {
		if (w->im->devs[i].bdf != bdf)
			continue;
		if (w->bits[i] == -2)
			w->bits[i] =
			    ns->be->ops->device_width ? ns->be->ops->device_width(ns->be, bdf) : -1;
		return w->bits[i];
	}
	return -1;
}

static void
check_local(const struct ns *ns, const struct ns_import_map *m, struct widths *w, struct report *rp)
{
	const struct ns_range *loc = &ns->cfg.local;
	const struct ns_device *dev = ns_device_find(ns, m->bdf);
	char name[NS_BDF_LEN + 1];
	const char *res;
	int bits;

	ns_bdf_format(m->bdf, name);
	if (!ns_in_range(loc, m->gpasid)) {
		report(rp, m->gpasid, m->bdf, NS_CF_RANGE, NS_E_RANGE,
		       "local PASID %u outside the local range %u-%u", m->gpasid, loc->first,
		       loc->last);
		return;
	}
	bits = width_of(ns, w, m->bdf);
	if (bits >= 0 && m->gpasid >= 1u << bits)
		report(rp, m->gpasid, m->bdf, NS_CF_WIDTH, NS_E_RANGE,
		       "PASID %u is beyond device %s's %d-bit PASID width", m->gpasid, name, bits);
	if (dev && u32map_get(&dev->lmaps, m->gpasid))
		report(rp, m->gpasid, m->bdf, NS_CF_TAKEN, NS_E_CONFLICT,
		       "PASID %u is already used on device %s", m->gpasid, name);
	else if (ns_foreign_held(ns, m->bdf, m->gpasid))
		report(rp, m->gpasid, m->bdf, NS_CF_TAKEN, NS_E_CONFLICT,
		       "PASID %u is attached to device %s by another process", m->gpasid, name);
	else if ((res = ns_import_reserved_by(ns, rp->im, m->gpasid)))
		report(rp, m->gpasid, m->bdf, NS_CF_RESERVED, NS_E_CONFLICT,
		       "PASID %u is reserved (%s)", m->gpasid, res);
}

/* An identity mapping's hPASID (its gPASID): 1 when it will take a free shared one. */
static int
check_identity(const struct ns *ns, const struct ns_import_map *m, struct report *rp)
{
	const struct ns_range *sh = &ns->cfg.shared;
	const char *res;

	if (!ns_in_range(sh, m->gpasid)) {
		report(rp, m->gpasid, -1, NS_CF_RANGE, NS_E_RANGE,
		       "identity hPASID %u outside the shared range %u-%u", m->gpasid, sh->first,
		       sh->last);
		return 0;
	}
	if (idmap_test(&ns->shared_used, m->gpasid - sh->first)) {
		report(rp, m->gpasid, -1, NS_CF_TAKEN, NS_E_CONFLICT,
		       "hPASID %u is already taken on this host", m->gpasid);
		return 0;
	}
	if (idmap_test(&ns->shared_foreign, m->gpasid - sh->first)) {
		report(rp, m->gpasid, -1, NS_CF_TAKEN, NS_E_CONFLICT,
		       "hPASID %u is attached to a device by another process", m->gpasid);
		return 0;
	}
	if ((res = ns_import_reserved_by(ns, rp->im, m->gpasid))) {
		report(rp, m->gpasid, -1, NS_CF_RESERVED, NS_E_CONFLICT,
		       "hPASID %u is reserved (%s)", m->gpasid, res);
		return 0;
	}
	return 1;
}

size_t
ns_import_check(const struct ns *ns, const struct ns_import *im,
                void (*cb)(void *ctx, const struct ns_conflict *c), void *ctx)
{
	struct report rp = {cb, ctx, 0, im};
	const struct ns_range *loc = &ns->cfg.local;
	struct widths w = {im, NULL};
	uint64_t need = 0, free_sh;
	bool identity = im->mode == NS_MODE_IDENTITY;

	if (ns_vm_find(ns, im->name))
		report(&rp, -1, -1, NS_CF_TAKEN, NS_E_CONFLICT,
		       "VM name '%s' is taken on this host", im->name);
	if (im->pasid_bits > ns->cfg.pasid_bits)
		report(&rp, -1, -1, NS_CF_WIDTH, NS_E_RANGE,
		       "the guest was given %u-bit PASIDs; this host's PASID width is %u bits",
		       im->pasid_bits, ns->cfg.pasid_bits);
	for (unsigned i = 0; i < im->ndevs; i++)
		check_device(ns, &im->devs[i], &rp);
	/* Without memory for it the widths stay unknown: pasid.attach checks them anyway. */
	w.bits = im->ndevs ? malloc(im->ndevs * sizeof(*w.bits)) : NULL;
	for (unsigned i = 0; w.bits && i < im->ndevs; i++)
		w.bits[i] = -2;
	for (size_t i = 0; i < im->nmaps; i++) {
		const struct ns_import_map *m = &im->maps[i];

		if (m->gpasid >= 1u << ns->cfg.pasid_bits)
			report(&rp, m->gpasid, m->type == NS_TYPE_LOCAL ? (int64_t)m->bdf : -1,
			       NS_CF_RANGE, NS_E_RANGE,
			       "PASID %u is beyond this host's %u-bit width", m->gpasid,
			       ns->cfg.pasid_bits);
		else if (m->type == NS_TYPE_LOCAL)
			check_local(ns, m, &w, &rp);
		else if (identity)
			need += (uint64_t)check_identity(ns, m, &rp);
		else if (!ns_in_range(loc, m->gpasid))
			report(&rp, m->gpasid, -1, NS_CF_RANGE, NS_E_RANGE,
			       "gPASID %u outside the guest range %u-%u", m->gpasid, loc->first,
			       loc->last);
		else
			need++;
	}
	free(w.bits);
	free_sh = ns_shared_free(ns);
	if (need > free_sh)
		report(&rp, -1, -1, NS_CF_EXHAUSTED, NS_E_EXHAUSTED,
		       "the VM needs %llu shared hPASID(s); this host has %llu free",
		       (unsigned long long)need, (unsigned long long)free_sh);
	return rp.n;
}

/* The translated shared mappings from i on whose gPASIDs follow each other for one work
 * queue: one allocation, one next-fit move. */
static size_t
run_of(const struct ns_import *im, size_t i)
{
	const struct ns_import_map *a = &im->maps[i];
	size_t j = i + 1;

	while (j < im->nmaps && j - i < NS_MAX_COUNT) {
		const struct ns_import_map *b = &im->maps[j];

		if (b->type != NS_TYPE_SHARED || b->gpasid != a->gpasid + (j - i) ||
		    (a->wq == NULL) != (b->wq == NULL) || (a->wq && strcmp(a->wq, b->wq)))
			break;
		j++;
	}
	return j - i;
}

int
ns_import(struct ns *ns, const struct ns_import *im, const struct ns_owner *owner,
          const char *cgroup, int pin, struct ns_vm **out, struct ns_err *err)
{
	struct ns_mapping **scratch = NULL;
	struct ns_vm *vm;
	int r;

	if (!ns->txn) /* all or nothing needs the caller's transaction */
		return ns_fail(err, NS_E_INVALID, NULL, "an import needs an open transaction");
	r = ns_vm_create(ns, im->name, im->uuid, im->mode, owner, cgroup, pin, &vm, err);
	for (unsigned i = 0; r == 0 && i < im->ndevs; i++)
		r = ns_device_assign(ns, vm, im->devs[i].bdf, im->devs[i].shared, err);
	for (size_t i = 0; r == 0 && i < im->nmaps;) {
		const struct ns_import_map *m = &im->maps[i];

		if (m->type == NS_TYPE_LOCAL || im->mode == NS_MODE_IDENTITY) {
			r = ns_insert_from(ns, vm, m->type, m->bdf, m->gpasid, m->gpasid, m->wq,
			                   taken_from(ns, im, m->gpasid), NULL, err);
			i++;
			continue;
		}
		if (!scratch && !(scratch = calloc(NS_MAX_COUNT, sizeof(*scratch)))) {
			r = ns_fail(err, NS_E_NOMEM, NULL, "out of memory");
			break;
		}
		struct ns_alloc_req req = {.type = NS_TYPE_SHARED,
		                           .gpasid = m->gpasid,
		                           .count = (unsigned)run_of(im, i),
		                           .wq = m->wq};

		r = ns_alloc(ns, vm, &req, scratch, err);
		i += req.count;
	}
	free(scratch);
	if (r == 0 && out)
		*out = vm;
	return r;
}
