/*
 * The PASID namespace. Every index is kept in step with every other by two primitives,
 * map_add() and map_remove(); every public operation validates first, reserves memory
 * first, and only then changes anything, so a refused request leaves no trace.
 */
#include "namespace.h"
#include "backend.h"
#include "record.h"
#include "pasid-proto.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int __attribute__((format(printf, 4, 5)))
fail(struct ns_err *err, int code, const char *param, const char *fmt, ...)
{
	va_list ap;

	if (err) {
		err->code = code;
		err->param = param;
		va_start(ap, fmt);
		vsnprintf(err->message, sizeof(err->message), fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* Hands a change record to the journal hook; replay itself records nothing. */
static void
emit(struct ns *ns, const uint8_t *rec, size_t len)
{
	if (!ns->replaying && ns->hooks.record)
		ns->hooks.record(ns->hooks.ctx, rec, len);
}

static uint32_t
range_size(const struct ns_range *r)
{
	return r->last - r->first + 1;
}

static bool
in_range(const struct ns_range *r, uint64_t v)
{
	return v >= r->first && v <= r->last;
}

int
ns_config_check(const struct ns_config *cfg, char *why, size_t whylen)
{
	uint32_t max;

	if (cfg->pasid_bits < 1 || cfg->pasid_bits > NS_MAX_BITS) {
		snprintf(why, whylen, "PASID width %u outside 1-%u", cfg->pasid_bits, NS_MAX_BITS);
		return -EINVAL;
	}
	max = (1U << cfg->pasid_bits) - 1;
	for (int i = 0; i < 2; i++) {
		const struct ns_range *r = i ? &cfg->shared : &cfg->local;
		const char *n = i ? "shared" : "local";

		if (r->first == 0) {
			snprintf(why, whylen, "%s range must not include PASID 0", n);
			return -EINVAL;
		}
		if (r->first > r->last) {
			snprintf(why, whylen, "%s range %u-%u is reversed", n, r->first, r->last);
			return -EINVAL;
		}
		if (r->last > max) {
			snprintf(why, whylen,
			         "%s range %u-%u exceeds the %u-bit PASID width (max %u)", n,
			         r->first, r->last, cfg->pasid_bits, max);
			return -EINVAL;
		}
	}
	if (cfg->local.first <= cfg->shared.last && cfg->shared.first <= cfg->local.last) {
		snprintf(why, whylen, "local range %u-%u overlaps shared range %u-%u",
		         cfg->local.first, cfg->local.last, cfg->shared.first, cfg->shared.last);
		return -EINVAL;
	}
	return 0;
}

int
ns_init(struct ns *ns, const struct ns_config *cfg, struct backend *be)
{
	char why[160];

	memset(ns, 0, sizeof(*ns));
	if (ns_config_check(cfg, why, sizeof(why)) < 0)
		return -EINVAL;
	ns->cfg = *cfg;
	ns->be = be;
	u32map_init(&ns->shared_maps);
	u32map_init(&ns->devices);
	return idmap_init(&ns->shared_used, range_size(&cfg->shared));
}

void
ns_destroy(struct ns *ns)
{
	/* Tearing down the process, not the VMs: nothing to record or report. */
	memset(&ns->hooks, 0, sizeof(ns->hooks));
	while (ns->nvms) {
		struct ns_vm *vm = ns->vms[ns->nvms - 1];

		/* Teardown of the process, not of the VMs: leave the kernel side alone. */
		size_t it = 0;
		void *m;

		while (u32map_next(&vm->maps, &it, NULL, &m))
			((struct ns_mapping *)m)->attached = false;
		ns_vm_destroy(ns, vm);
	}
	free(ns->vms);
	{
		size_t it = 0;
		void *d;

		while (u32map_next(&ns->devices, &it, NULL, &d)) {
			idmap_free(&((struct ns_device *)d)->local);
			u32map_free(&((struct ns_device *)d)->lmaps);
			free(d);
		}
	}
	idmap_free(&ns->shared_used);
	u32map_free(&ns->shared_maps);
	u32map_free(&ns->devices);
}

/* ---- value formats ---- */

bool
ns_vm_name_valid(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > NS_VM_NAME_MAX || !isalnum((unsigned char)name[0]))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];

		if (!(isalnum(c) || strchr("._:@+-", c)) || c >= 0x80)
			return false;
	}
	return true;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static bool
hexfield(const char *s, int n, unsigned *out)
{
	*out = 0;
	for (int i = 0; i < n; i++) {
		int v = hexval(s[i]);

		if (v < 0)
			return false;
		*out = *out * 16 + (unsigned)v;
	}
	return true;
}

int
ns_bdf_parse(const char *s, uint32_t *bdf)
{
	unsigned dom, bus, dev, fn;

	if (strlen(s) != NS_BDF_LEN || s[4] != ':' || s[7] != ':' || s[10] != '.')
		return -EINVAL;
	if (!hexfield(s, 4, &dom) || !hexfield(s + 5, 2, &bus) || !hexfield(s + 8, 2, &dev) ||
	    !hexfield(s + 11, 1, &fn) || dev > 0x1f || fn > 7)
		return -EINVAL;
	*bdf = dom << 16 | bus << 8 | dev << 3 | fn;
	return 0;
}

void
ns_bdf_format(uint32_t bdf, char out[NS_BDF_LEN + 1])
{
	snprintf(out, NS_BDF_LEN + 1, "%04x:%02x:%02x.%x", bdf >> 16, (bdf >> 8) & 0xff,
	         (bdf >> 3) & 0x1f, bdf & 7);
}

int
ns_uuid_normalize(const char *in, char out[NS_UUID_LEN + 1])
{
	if (strlen(in) != NS_UUID_LEN)
		return -EINVAL;
	for (int i = 0; i < NS_UUID_LEN; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? in[i] != '-' : hexval(in[i]) < 0)
			return -EINVAL;
		out[i] = (char)tolower((unsigned char)in[i]);
	}
	out[NS_UUID_LEN] = '\0';
	return 0;
}

const char *
ns_mode_name(enum ns_mode m)
{
	return m == NS_MODE_IDENTITY ? "identity" : "translated";
}

const char *
ns_type_name(enum ns_type t)
{
	return t == NS_TYPE_LOCAL ? "local" : "shared";
}

/* ---- VMs ---- */

/* Index of the VM named `name`, or where it would be inserted (with *found false). */
static unsigned
vm_slot(const struct ns *ns, const char *name, bool *found)
{
	unsigned lo = 0, hi = ns->nvms;

	*found = false;
	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;
		int c = strcmp(ns->vms[mid]->name, name);

		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct ns_vm *
ns_vm_find(const struct ns *ns, const char *name)
{
	bool found;
	unsigned i = vm_slot(ns, name, &found);

	return found ? ns->vms[i] : NULL;
}

int
ns_vm_create(struct ns *ns, const char *name, const char *uuid, enum ns_mode mode,
             const struct ns_owner *owner, const char *cgroup, struct ns_vm **out,
             struct ns_err *err)
{
	struct ns_vm *vm;
	bool found;
	unsigned slot;

	if (!ns_vm_name_valid(name))
		return fail(err, PROTO_E_INVALID_PARAMS, "vm", "invalid VM name");
	slot = vm_slot(ns, name, &found);
	if (found)
		return fail(err, PROTO_E_CONFLICT, "vm", "VM '%s' already exists", name);
	if (ns->nvms == ns->vms_cap) {
		unsigned ncap = ns->vms_cap ? ns->vms_cap * 2 : 16;
		struct ns_vm **nv = realloc(ns->vms, ncap * sizeof(*nv));

		if (!nv)
			return fail(err, PROTO_E_INTERNAL, NULL, "out of memory");
		ns->vms = nv;
		ns->vms_cap = ncap;
	}
	vm = calloc(1, sizeof(*vm));
	if (!vm || !(vm->cgroup = strdup(cgroup ? cgroup : "")) ||
	    idmap_init(&vm->guest, range_size(&ns->cfg.local)) < 0 ||
	    (mode == NS_MODE_IDENTITY && idmap_init(&vm->ident, range_size(&ns->cfg.shared)) < 0)) {
		if (vm) {
			free(vm->cgroup);
			idmap_free(&vm->guest);
		}
		free(vm);
		return fail(err, PROTO_E_INTERNAL, NULL, "out of memory");
	}
	snprintf(vm->name, sizeof(vm->name), "%s", name);
	snprintf(vm->uuid, sizeof(vm->uuid), "%s", uuid);
	vm->mode = mode;
	vm->owner = *owner;
	u32map_init(&vm->maps);
	memmove(&ns->vms[slot + 1], &ns->vms[slot], (ns->nvms - slot) * sizeof(*ns->vms));
	ns->vms[slot] = vm;
	ns->nvms++;
	if (out)
		*out = vm;
	if (!ns->replaying && ns->hooks.record) {
		uint8_t rec[REC_BUF_MAX];

		emit(ns, rec, rec_vm(rec, vm));
	}
	return 0;
}

void
ns_vm_set_owner(struct ns *ns, struct ns_vm *vm, const struct ns_owner *owner)
{
	uint8_t rec[REC_BUF_MAX];

	vm->owner = *owner;
	emit(ns, rec, rec_owner(rec, vm));
}

/* ---- devices ---- */

struct ns_device *
ns_device_find(const struct ns *ns, uint32_t bdf)
{
	return u32map_get(&ns->devices, bdf);
}

const struct ns_vm_dev *
ns_vm_device(const struct ns_vm *vm, uint32_t bdf)
{
	for (unsigned i = 0; i < vm->ndevs; i++)
		if (vm->devs[i].dev->bdf == bdf)
			return &vm->devs[i];
	return NULL;
}

/* Devices outlive their assignments, idle, so that a device's local next-fit position
 * survives release and re-assignment (invariant 8). */
struct ns_device *
ns_device_get(struct ns *ns, uint32_t bdf)
{
	struct ns_device *dev = ns_device_find(ns, bdf);

	if (dev)
		return dev;
	dev = calloc(1, sizeof(*dev));
	if (!dev || u32map_put(&ns->devices, bdf, dev) < 0) {
		free(dev);
		return NULL;
	}
	dev->bdf = bdf;
	u32map_init(&dev->lmaps);
	return dev;
}

int
ns_device_assign(struct ns *ns, struct ns_vm *vm, uint32_t bdf, bool shared, struct ns_err *err)
{
	struct ns_device *dev = ns_device_find(ns, bdf);
	const struct ns_vm_dev *held = ns_vm_device(vm, bdf);
	struct ns_vm_dev *nd;
	char name[NS_BDF_LEN + 1], why[128] = "";
	uint8_t rec[REC_BUF_MAX];

	ns_bdf_format(bdf, name);
	if (held) {
		if (held->shared == shared)
			return 0;
		return fail(err, PROTO_E_CONFLICT, "shared",
		            "device %s is already assigned to %s %s", name, vm->name,
		            held->shared ? "shared" : "exclusively");
	}
	if (dev && dev->nvms && !dev->shared)
		return fail(err, PROTO_E_CONFLICT, "device",
		            "device %s is assigned exclusively to another VM", name);
	if (dev && dev->nvms && !shared)
		return fail(err, PROTO_E_CONFLICT, "device",
		            "device %s is shared by other VMs and cannot be assigned exclusively",
		            name);
	if (!ns->replaying && ns->be->ops->device_probe(ns->be, bdf, shared, why, sizeof(why)) < 0)
		return fail(err, PROTO_E_KERNEL, "device", "device %s refused: %s", name, why);
	nd = realloc(vm->devs, (vm->ndevs + 1) * sizeof(*vm->devs));
	if (!nd)
		return fail(err, PROTO_E_INTERNAL, NULL, "out of memory");
	vm->devs = nd;
	dev = ns_device_get(ns, bdf);
	/* Shared devices never carry local PASIDs (invariant 2): no table for them. */
	if (!dev || (!shared && !dev->local.level[0] &&
	             idmap_init(&dev->local, range_size(&ns->cfg.local)) < 0))
		return fail(err, PROTO_E_INTERNAL, NULL, "out of memory");
	dev->shared = shared;
	dev->nvms++;
	if (!shared)
		dev->owner = vm;
	vm->devs[vm->ndevs].dev = dev;
	vm->devs[vm->ndevs].shared = shared;
	vm->ndevs++;
	emit(ns, rec, rec_dev(rec, vm->name, bdf, shared));
	return 0;
}

static void
vm_drop_device(struct ns *ns, struct ns_vm *vm, unsigned idx)
{
	struct ns_device *dev = vm->devs[idx].dev;

	vm->devs[idx] = vm->devs[vm->ndevs - 1];
	vm->ndevs--;
	if (dev->owner == vm)
		dev->owner = NULL;
	dev->nvms--;
}

int
ns_device_release(struct ns *ns, struct ns_vm *vm, uint32_t bdf, struct ns_err *err)
{
	char name[NS_BDF_LEN + 1];

	ns_bdf_format(bdf, name);
	for (unsigned i = 0; i < vm->ndevs; i++) {
		struct ns_device *dev = vm->devs[i].dev;

		if (dev->bdf != bdf)
			continue;
		if (!vm->devs[i].shared && dev->lmaps.count)
			return fail(err, PROTO_E_CONFLICT, "device",
			            "device %s still has %zu local PASID(s) of %s", name,
			            dev->lmaps.count, vm->name);
		vm_drop_device(ns, vm, i);
		{
			uint8_t rec[REC_BUF_MAX];

			emit(ns, rec, rec_undev(rec, vm->name, bdf));
		}
		return 0;
	}
	return fail(err, PROTO_E_NOT_FOUND, "device", "device %s is not assigned to %s", name,
	            vm->name);
}

/* ---- mappings ---- */

/* Insertion into every index. The caller has validated the numbers and reserved room in
 * every map, so nothing here can fail. */
static struct ns_mapping *
map_add(struct ns *ns, struct ns_vm *vm, enum ns_type type, struct ns_device *dev, uint32_t g,
        uint32_t h, struct ns_mapping *m)
{
	m->vm = vm;
	m->dev = type == NS_TYPE_LOCAL ? dev : NULL;
	m->gpasid = g;
	m->hpasid = h;
	m->type = type;
	m->attached = false;
	u32map_put(&vm->maps, g, m);
	if (in_range(&ns->cfg.local, g))
		idmap_set(&vm->guest, g - ns->cfg.local.first);
	else if (in_range(&ns->cfg.shared, g))
		idmap_set(&vm->ident, g - ns->cfg.shared.first);
	if (type == NS_TYPE_LOCAL) {
		u32map_put(&dev->lmaps, h, m);
		idmap_set(&dev->local, h - ns->cfg.local.first);
		vm->nlocal++;
		ns->nlocal++;
	} else {
		u32map_put(&ns->shared_maps, h, m);
		idmap_set(&ns->shared_used, h - ns->cfg.shared.first);
	}
	return m;
}

static void
map_remove(struct ns *ns, struct ns_mapping *m)
{
	struct ns_vm *vm = m->vm;

	u32map_del(&vm->maps, m->gpasid);
	if (in_range(&ns->cfg.local, m->gpasid))
		idmap_clear(&vm->guest, m->gpasid - ns->cfg.local.first);
	else if (in_range(&ns->cfg.shared, m->gpasid))
		idmap_clear(&vm->ident, m->gpasid - ns->cfg.shared.first);
	if (m->type == NS_TYPE_LOCAL) {
		u32map_del(&m->dev->lmaps, m->hpasid);
		idmap_clear(&m->dev->local, m->hpasid - ns->cfg.local.first);
		vm->nlocal--;
		ns->nlocal--;
	} else {
		u32map_del(&ns->shared_maps, m->hpasid);
		idmap_clear(&ns->shared_used, m->hpasid - ns->cfg.shared.first);
	}
	free(m);
}

static bool
guest_free(const struct ns *ns, const struct ns_vm *vm, uint32_t g)
{
	return !u32map_get(&vm->maps, g);
}

/* Whether (g, h) may be added for this VM; the full rule set, used by allocation (where it
 * mostly confirms the search) and by ns_insert (where it is the only check). */
static int
check_slot(const struct ns *ns, const struct ns_vm *vm, enum ns_type type,
           const struct ns_device *dev, uint32_t g, uint32_t h, struct ns_err *err)
{
	const struct ns_range *loc = &ns->cfg.local, *sh = &ns->cfg.shared;

	if (type == NS_TYPE_LOCAL) {
		if (g != h || !in_range(loc, h))
			return fail(err, PROTO_E_OUT_OF_RANGE, "gpasid",
			            "local PASID %u outside the local range %u-%u", h, loc->first,
			            loc->last);
		if (!guest_free(ns, vm, g))
			return fail(err, PROTO_E_CONFLICT, "gpasid",
			            "gPASID %u is already used in %s", g, vm->name);
		if (u32map_get(&dev->lmaps, h))
			return fail(err, PROTO_E_CONFLICT, "gpasid",
			            "PASID %u is already used on the device", h);
		return 0;
	}
	if (vm->mode == NS_MODE_IDENTITY ? (g != h || !in_range(sh, g)) : !in_range(loc, g))
		return fail(err, PROTO_E_OUT_OF_RANGE, "gpasid",
		            "gPASID %u outside the %s range %u-%u", g,
		            vm->mode == NS_MODE_IDENTITY ? "shared" : "guest",
		            vm->mode == NS_MODE_IDENTITY ? sh->first : loc->first,
		            vm->mode == NS_MODE_IDENTITY ? sh->last : loc->last);
	if (!in_range(sh, h))
		return fail(err, PROTO_E_OUT_OF_RANGE, "hpasid",
		            "hPASID %u outside the shared range %u-%u", h, sh->first, sh->last);
	if (!guest_free(ns, vm, g))
		return fail(err, PROTO_E_CONFLICT, "gpasid", "gPASID %u is already used in %s", g,
		            vm->name);
	if (idmap_test(&ns->shared_used, h - sh->first))
		return fail(err, PROTO_E_CONFLICT, "gpasid", "hPASID %u is already taken", h);
	return 0;
}

/* First offset >= from free in both maps. Local ranges are small (4095 by default), so the
 * leapfrog between the two maps is bounded by a few dozen words; each step is O(levels). */
static int64_t
find_free_both(const struct idmap *a, const struct idmap *b, uint32_t from)
{
	int64_t p = from;

	for (;;) {
		p = idmap_find_free(a, (uint32_t)p);
		if (p < 0 || !idmap_test(b, (uint32_t)p))
			return p;
		p = idmap_find_free(b, (uint32_t)p);
		if (p < 0 || !idmap_test(a, (uint32_t)p))
			return p;
	}
}

static uint32_t
advance(uint32_t off, uint32_t size)
{
	return off + 1 >= size ? 0 : off + 1;
}

/* Picks the numbers of the next mapping of a request. 0, or an error. */
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
		off = find_free_both(&dev->local, &vm->guest, dev->local_cursor);
		if (off < 0 && dev->local_cursor)
			off = find_free_both(&dev->local, &vm->guest, 0);
		if (off < 0)
			return fail(err, PROTO_E_EXHAUSTED, "count",
			            "no free local PASID left on the device for %s", vm->name);
		*g = *h = loc->first + (uint32_t)off;
		dev->local_cursor = advance((uint32_t)off, range_size(loc));
		return 0;
	}
	if (vm->mode == NS_MODE_IDENTITY && req->gpasid >= 0) {
		*g = *h = (uint32_t)req->gpasid + i;
		return 0;
	}
	off = idmap_find_free_wrap(&ns->shared_used, ns->shared_cursor);
	if (off < 0)
		return fail(err, PROTO_E_EXHAUSTED, "count",
		            "no free PASID left in the shared range");
	*h = sh->first + (uint32_t)off;
	ns->shared_cursor = advance((uint32_t)off, range_size(sh));
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
		return fail(err, PROTO_E_EXHAUSTED, "count", "no free guest PASID left in %s",
		            vm->name);
	*g = loc->first + (uint32_t)off;
	return 0;
}

static int
reserve(struct ns *ns, struct ns_vm *vm, enum ns_type type, struct ns_device *dev, unsigned n,
        struct ns_err *err)
{
	if (u32map_reserve(&vm->maps, n) < 0 ||
	    u32map_reserve(type == NS_TYPE_LOCAL ? &dev->lmaps : &ns->shared_maps, n) < 0)
		return fail(err, PROTO_E_INTERNAL, NULL, "out of memory");
	return 0;
}

/* The device a local request names, held exclusively by the VM. */
static struct ns_device *
local_device(struct ns *ns, struct ns_vm *vm, uint32_t bdf, struct ns_err *err)
{
	const struct ns_vm_dev *vd = ns_vm_device(vm, bdf);
	char name[NS_BDF_LEN + 1];

	ns_bdf_format(bdf, name);
	if (!vd) {
		fail(err, PROTO_E_CONFLICT, "device", "device %s is not assigned to %s", name,
		     vm->name);
		return NULL;
	}
	if (vd->shared) {
		fail(err, PROTO_E_CONFLICT, "device",
		     "device %s is shared: local PASIDs need an exclusive device", name);
		return NULL;
	}
	return vd->dev;
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
	uint32_t n = req->count, free_g = range_size(loc) - vm->guest.used, free;

	if (req->gpasid >= 0) {
		const struct ns_range *r = identity_pick ? sh : loc;

		if (in_range(r, (uint64_t)req->gpasid) && (uint64_t)req->gpasid + n - 1 > r->last)
			return fail(err, PROTO_E_OUT_OF_RANGE, "count",
			            "gPASIDs %lld-%llu run past the end of the %s range %u-%u",
			            (long long)req->gpasid, (unsigned long long)req->gpasid + n - 1,
			            identity_pick ? "shared" : "guest", r->first, r->last);
		if (req->type == NS_TYPE_LOCAL || identity_pick)
			return 0;
	}
	if (req->type == NS_TYPE_LOCAL) {
		char name[NS_BDF_LEN + 1];

		free = range_size(loc) - dev->local.used;
		ns_bdf_format(dev->bdf, name);
		if (free < n)
			return fail(err, PROTO_E_EXHAUSTED, free ? "count" : "device",
			            "device %s has %u free local PASIDs in %u-%u; %u asked", name,
			            free, loc->first, loc->last, n);
	} else {
		free = ns_shared_free(ns);
		if (free < n)
			return fail(err, PROTO_E_EXHAUSTED, free ? "count" : "type",
			            "the shared range %u-%u has %u free PASIDs; %u asked",
			            sh->first, sh->last, free, n);
		if (identity_pick)
			return 0;
	}
	if (req->gpasid < 0 && free_g < n)
		return fail(err, PROTO_E_EXHAUSTED, free_g ? "count" : "vm",
		            "VM %s has %u free guest PASIDs in %u-%u; %u asked", vm->name, free_g,
		            loc->first, loc->last, n);
	return 0;
}

int
ns_alloc(struct ns *ns, struct ns_vm *vm, const struct ns_alloc_req *req, struct ns_mapping **out,
         struct ns_err *err)
{
	struct ns_device *dev = NULL;
	uint32_t shared_cursor = ns->shared_cursor, local_cursor = 0;
	unsigned done = 0;

	if (req->count < 1 || req->count > PROTO_MAX_COUNT)
		return fail(err, PROTO_E_INVALID_PARAMS, "count", "count must be 1-%d",
		            PROTO_MAX_COUNT);
	if (req->type == NS_TYPE_LOCAL) {
		dev = local_device(ns, vm, req->bdf, err);
		if (!dev)
			return -1;
		local_cursor = dev->local_cursor;
	}
	if (check_room(ns, vm, req, dev, err) < 0 ||
	    reserve(ns, vm, req->type, dev, req->count, err) < 0)
		return -1;
	if (!ns->replaying && ns->hooks.charge &&
	    ns->hooks.charge(ns->hooks.ctx, vm, req->count, err) < 0)
		return -1;
	for (done = 0; done < req->count; done++) {
		uint32_t g = 0, h = 0;
		struct ns_mapping *m;

		if (choose(ns, vm, req, dev, done, &g, &h, err) < 0 ||
		    check_slot(ns, vm, req->type, dev, g, h, err) < 0)
			goto undo;
		m = malloc(sizeof(*m));
		if (!m) {
			fail(err, PROTO_E_INTERNAL, NULL, "out of memory");
			goto undo;
		}
		out[done] = map_add(ns, vm, req->type, dev, g, h, m);
	}
	if (!ns->replaying && ns->hooks.record) {
		uint8_t rec[REC_BUF_MAX];

		for (unsigned i = 0; i < done; i++)
			emit(ns, rec, rec_map(rec, out[i]));
		if (dev)
			emit(ns, rec, rec_lcursor(rec, dev->bdf, dev->local_cursor));
		else
			emit(ns, rec, rec_cursor(rec, ns->shared_cursor));
	}
	return 0;
undo:
	if (!ns->replaying && ns->hooks.uncharge)
		ns->hooks.uncharge(ns->hooks.ctx, vm, req->count);
	while (done > 0)
		map_remove(ns, out[--done]);
	ns->shared_cursor = shared_cursor;
	if (dev)
		dev->local_cursor = local_cursor;
	return -1;
}

int
ns_insert(struct ns *ns, struct ns_vm *vm, enum ns_type type, uint32_t bdf, uint32_t gpasid,
          uint32_t hpasid, struct ns_mapping **out, struct ns_err *err)
{
	struct ns_device *dev = NULL;
	struct ns_mapping *m;

	if (type == NS_TYPE_LOCAL && !(dev = local_device(ns, vm, bdf, err)))
		return -1;
	if (check_slot(ns, vm, type, dev, gpasid, hpasid, err) < 0 ||
	    reserve(ns, vm, type, dev, 1, err) < 0)
		return -1;
	m = malloc(sizeof(*m));
	if (!m)
		return fail(err, PROTO_E_INTERNAL, NULL, "out of memory");
	if (!ns->replaying && ns->hooks.charge && ns->hooks.charge(ns->hooks.ctx, vm, 1, err) < 0) {
		free(m);
		return -1;
	}
	m = map_add(ns, vm, type, dev, gpasid, hpasid, m);
	if (out)
		*out = m;
	if (!ns->replaying && ns->hooks.record) {
		uint8_t rec[REC_BUF_MAX];

		emit(ns, rec, rec_map(rec, m));
	}
	return 0;
}

/* Detach first, free the number after (DESIGN.md §5): a number is never free while a
 * device may still use it. */
static int
map_release(struct ns *ns, struct ns_mapping *m, struct ns_err *err)
{
	char why[160] = "";
	uint32_t bdf = m->dev ? m->dev->bdf : 0;

	if (m->attached) {
		int r = ns->be->ops->detach(ns->be, bdf, m->hpasid, why, sizeof(why));

		if (r < 0)
			return fail(err, PROTO_E_KERNEL, "gpasid", "detaching PASID %u failed: %s",
			            m->hpasid, why);
		m->attached = false;
	}
	if (!ns->replaying && ns->hooks.record) {
		uint8_t rec[REC_BUF_MAX];

		emit(ns, rec, rec_unmap(rec, m->vm->name, m->gpasid));
	}
	if (!ns->replaying && ns->hooks.uncharge)
		ns->hooks.uncharge(ns->hooks.ctx, m->vm, 1);
	map_remove(ns, m);
	return 0;
}

int
ns_free(struct ns *ns, struct ns_vm *vm, uint32_t gpasid, struct ns_err *err)
{
	struct ns_mapping *m = ns_lookup_gpasid(vm, gpasid);

	if (!m)
		return fail(err, PROTO_E_NOT_FOUND, "gpasid", "gPASID %u is not allocated in %s",
		            gpasid, vm->name);
	return map_release(ns, m, err);
}

unsigned
ns_vm_destroy(struct ns *ns, struct ns_vm *vm)
{
	unsigned freed = 0, slot, n;
	struct ns_mapping **all = ns_vm_mappings(vm, &n);
	bool found;

	if (!all)
		return 0;
	/* A mapping the kernel will not let go of stays, with its VM. */
	for (unsigned i = 0; i < n; i++)
		freed += map_release(ns, all[i], NULL) == 0;
	free(all);
	if (vm->maps.count)
		return freed;
	if (!ns->replaying && ns->hooks.record) {
		uint8_t rec[REC_BUF_MAX];

		emit(ns, rec, rec_unvm(rec, vm->name));
	}
	if (ns->hooks.vm_gone)
		ns->hooks.vm_gone(ns->hooks.ctx, vm);
	while (vm->ndevs)
		vm_drop_device(ns, vm, vm->ndevs - 1);
	slot = vm_slot(ns, vm->name, &found);
	if (found) {
		memmove(&ns->vms[slot], &ns->vms[slot + 1],
		        (ns->nvms - slot - 1) * sizeof(*ns->vms));
		ns->nvms--;
	}
	u32map_free(&vm->maps);
	idmap_free(&vm->guest);
	idmap_free(&vm->ident);
	free(vm->devs);
	free(vm->cgroup);
	free(vm);
	return freed;
}

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

	if (in_range(&ns->cfg.shared, hpasid))
		return u32map_get(&ns->shared_maps, hpasid);
	if (!in_range(&ns->cfg.local, hpasid))
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

unsigned
ns_vm_lower_bound(const struct ns *ns, const char *name)
{
	bool found;

	return vm_slot(ns, name, &found);
}

static int
cmp_gpasid(const void *a, const void *b)
{
	const struct ns_mapping *x = *(struct ns_mapping *const *)a;
	const struct ns_mapping *y = *(struct ns_mapping *const *)b;

	return (x->gpasid > y->gpasid) - (x->gpasid < y->gpasid);
}

struct ns_mapping **
ns_vm_mappings(const struct ns_vm *vm, unsigned *n)
{
	struct ns_mapping **arr = malloc((vm->maps.count + 1) * sizeof(*arr));
	size_t it = 0;
	void *m;

	*n = 0;
	if (!arr)
		return NULL;
	while (u32map_next(&vm->maps, &it, NULL, &m))
		arr[(*n)++] = m;
	qsort(arr, *n, sizeof(*arr), cmp_gpasid);
	return arr;
}

uint32_t
ns_shared_used(const struct ns *ns)
{
	return (uint32_t)ns->shared_maps.count;
}

uint32_t
ns_shared_free(const struct ns *ns)
{
	return ns->shared_used.size - ns->shared_used.used;
}

/* ---- invariants ---- */

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
	if (in_range(loc, m->gpasid) && !idmap_test(&vm->guest, m->gpasid - loc->first))
		BROKEN("invariant 3: gPASID %u of %s missing from its guest table", m->gpasid,
		       vm->name);
	if (in_range(sh, m->gpasid) &&
	    (!vm->ident.level[0] || !idmap_test(&vm->ident, m->gpasid - sh->first)))
		BROKEN("invariant 3: gPASID %u of %s missing from its identity table", m->gpasid,
		       vm->name);
	if (m->type == NS_TYPE_LOCAL) {
		const struct ns_vm_dev *vd = m->dev ? ns_vm_device(vm, m->dev->bdf) : NULL;

		if (!vd || vd->shared || m->dev->owner != vm || m->dev->shared)
			BROKEN("invariant 2: local PASID %u of %s on a device it does not hold "
			       "exclusively",
			       m->hpasid, vm->name);
		if (m->gpasid != m->hpasid || !in_range(loc, m->hpasid))
			BROKEN("invariant 4: local mapping %u->%u of %s outside the local range",
			       m->gpasid, m->hpasid, vm->name);
		if (u32map_get(&m->dev->lmaps, m->hpasid) != m ||
		    !idmap_test(&m->dev->local, m->hpasid - loc->first))
			BROKEN("invariant 2: local PASID %u of %s not indexed by its device",
			       m->hpasid, vm->name);
		return 0;
	}
	if (!in_range(sh, m->hpasid))
		BROKEN("invariant 4: shared hPASID %u of %s outside the shared range", m->hpasid,
		       vm->name);
	if (u32map_get(&ns->shared_maps, m->hpasid) != m ||
	    !idmap_test(&ns->shared_used, m->hpasid - sh->first))
		BROKEN("invariant 1: shared hPASID %u of %s is not owned by that mapping alone",
		       m->hpasid, vm->name);
	if (vm->mode == NS_MODE_IDENTITY ? m->gpasid != m->hpasid : !in_range(loc, m->gpasid))
		BROKEN("invariant 4: gPASID %u of %s (%s mode) outside its range", m->gpasid,
		       vm->name, ns_mode_name(vm->mode));
	return 0;
}

int
ns_check(const struct ns *ns, char *why, size_t whylen)
{
	size_t nshared = 0, nlocal = 0, it = 0;
	void *p;
	int r;

	for (unsigned i = 0; i < ns->nvms; i++) {
		const struct ns_vm *vm = ns->vms[i];
		size_t vit = 0;
		unsigned vlocal = 0;
		void *m;

		if (i && strcmp(ns->vms[i - 1]->name, vm->name) >= 0)
			BROKEN("VM table out of order at %s", vm->name);
		while (u32map_next(&vm->maps, &vit, NULL, &m)) {
			r = check_mapping(ns, vm, m, why, whylen);
			if (r < 0)
				return r;
			if (((struct ns_mapping *)m)->type == NS_TYPE_LOCAL)
				vlocal++;
			else
				nshared++;
		}
		if (vm->guest.used + vm->ident.used != vm->maps.count)
			BROKEN("invariant 3: VM %s indexes %u gPASIDs but holds %zu", vm->name,
			       vm->guest.used + vm->ident.used, vm->maps.count);
		if (vlocal != vm->nlocal)
			BROKEN("VM %s counts %u local PASIDs but holds %u", vm->name, vm->nlocal,
			       vlocal);
		nlocal += vlocal;
		for (unsigned d = 0; d < vm->ndevs; d++)
			if (ns_device_find(ns, vm->devs[d].dev->bdf) != vm->devs[d].dev)
				BROKEN("VM %s holds an unknown device", vm->name);
	}
	if (nshared != ns->shared_maps.count || nshared != ns->shared_used.used)
		BROKEN("invariant 1: %zu shared mappings but %zu indexed and %u numbers in use",
		       nshared, ns->shared_maps.count, ns->shared_used.used);
	if (nlocal != ns->nlocal)
		BROKEN("%zu local mappings but %u counted", nlocal, ns->nlocal);
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
		if (dev->shared && dev->lmaps.count)
			BROKEN("invariant 2: local PASIDs on a shared device");
		if (dev->lmaps.count != dev->local.used || (dev->lmaps.count && !dev->owner))
			BROKEN("invariant 2: device local table disagrees with its index");
	}
	return 0;
}
