/* The namespace's tables of VMs and devices, and the changes made to them. Every operation
 * validates and makes room first, then changes and logs; see namespace.h, CHANGES. */
#include "backend.h"
#include "ns_internal.h"
#include "sorted.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int
ns_init(struct ns *ns, const struct ns_config *cfg, struct backend *be)
{
	char why[160];

	memset(ns, 0, sizeof(*ns));
	if (ns_config_check(cfg, why, sizeof(why)) < 0)
		return -EINVAL;
	ns->cfg = *cfg;
	ns->cfg.reserve = NULL; /* the owner's, put in place after the replay */
	ns->cfg.nreserve = 0;
	ns->be = be;
	slab_init(&ns->maps_pool, sizeof(struct ns_mapping), offsetof(struct ns_mapping, id));
	u32map_init(&ns->devices);
	if (u32map_init_dense(&ns->shared_maps, &ns->maps_pool, cfg->shared.first,
	                      ns_range_size(&cfg->shared), 1) < 0 ||
	    ns_foreign_init(ns) < 0)
		return -ENOMEM;
	return idmap_init(&ns->shared_used, ns_range_size(&cfg->shared));
}

void
ns_destroy(struct ns *ns)
{
	size_t it = 0;
	void *p;

	ns_txn_release(ns);
	for (unsigned i = 0; i < ns->nvms; i++) {
		struct ns_vm *vm = ns->vms[i];

		while (u32map_next(&vm->maps, &it, NULL, &p)) {
			struct ns_mapping *m = p;

			/* The process is ending, not the attachments: their descriptors are
			 * closed with it, and the fd store keeps its own. */
			for (unsigned k = 0; k < m->natts; k++)
				ns_attachment_free(m->atts[k]);
			ns_map_free(ns, m);
		}
		it = 0;
		ns_vm_free(vm);
	}
	free(ns->vms);
	while (u32map_next(&ns->devices, &it, NULL, &p)) {
		ns_attachment_free(((struct ns_device *)p)->rid);
		idmap_free(&((struct ns_device *)p)->local);
		u32map_free(&((struct ns_device *)p)->lmaps);
		free(p);
	}
	ns_foreign_destroy(ns);
	ns_resvs_free(ns);
	idmap_free(&ns->shared_used);
	u32map_free(&ns->shared_maps);
	u32map_free(&ns->devices);
	slab_destroy(&ns->maps_pool);
	ns_wqs_free(ns);
	memset(ns, 0, sizeof(*ns));
}

/* ---- VMs ---- */

static int
cmp_name(const void *key, const void *elem)
{
	return strcmp(key, (*(struct ns_vm *const *)elem)->name);
}

/* Index of the VM named `name`, or where it would be inserted (with *found false). */
static unsigned
vm_slot(const struct ns *ns, const char *name, bool *found)
{
	return (unsigned)sorted_slot(ns->vms, ns->nvms, sizeof(*ns->vms), name, cmp_name, found);
}

struct ns_vm *
ns_vm_find(const struct ns *ns, const char *name)
{
	bool found;
	unsigned i = vm_slot(ns, name, &found);

	return found ? ns->vms[i] : NULL;
}

unsigned
ns_vm_lower_bound(const struct ns *ns, const char *name)
{
	bool found;

	return vm_slot(ns, name, &found);
}

void
ns_vm_link(struct ns *ns, struct ns_vm *vm)
{
	bool found;
	unsigned slot = vm_slot(ns, vm->name, &found);

	/* Room in the table was made when the VM was created and is never given back. */
	memmove(&ns->vms[slot + 1], &ns->vms[slot], (ns->nvms - slot) * sizeof(*ns->vms));
	ns->vms[slot] = vm;
	ns->nvms++;
}

void
ns_vm_unlink(struct ns *ns, struct ns_vm *vm)
{
	bool found;
	unsigned slot = vm_slot(ns, vm->name, &found);

	if (!found)
		return;
	memmove(&ns->vms[slot], &ns->vms[slot + 1], (ns->nvms - slot - 1) * sizeof(*ns->vms));
	ns->nvms--;
}

void
ns_vm_free(struct ns_vm *vm)
{
	u32map_free(&vm->maps);
	idmap_free(&vm->guest);
	idmap_free(&vm->ident);
	if (vm->pin >= 0)
		close(vm->pin);
	free(vm->devs);
	free(vm->wqs);
	free(vm->cgroup);
	free(vm);
}

int
ns_vm_create(struct ns *ns, const char *name, const char *uuid, enum ns_mode mode,
             const struct ns_owner *owner, const char *cgroup, int pin, struct ns_vm **out,
             struct ns_err *err)
{
	struct ns_event ev = {.kind = NS_EV_VM_CREATED};
	struct ns_vm *vm;
	struct ns_op op;
	int r;

	if (!ns_vm_name_valid(name))
		r = ns_fail(err, NS_E_INVALID, "vm", "invalid VM name");
	else if (ns_vm_find(ns, name))
		r = ns_fail(err, NS_E_CONFLICT, "vm", "VM '%s' already exists", name);
	else
		r = 0;
	if (r == 0 && ns->nvms == ns->vms_cap) {
		unsigned ncap = ns->vms_cap ? ns->vms_cap * 2 : 16;
		struct ns_vm **nv = realloc(ns->vms, ncap * sizeof(*nv));

		if (!nv)
			r = ns_fail(err, NS_E_NOMEM, NULL, "out of memory");
		else
			ns->vms = nv, ns->vms_cap = ncap;
	}
	if (r < 0 || (r = ns_op_begin(ns, &op, 1, err)) < 0) {
		if (pin >= 0)
			close(pin);
		return r;
	}
	vm = calloc(1, sizeof(*vm));
	if (vm)
		vm->pin = -1;
	if (!vm || !(vm->cgroup = strdup(cgroup ? cgroup : "")) ||
	    idmap_init(&vm->guest, ns_range_size(&ns->cfg.local)) < 0 ||
	    (mode == NS_MODE_IDENTITY &&
	     idmap_init(&vm->ident, ns_range_size(&ns->cfg.shared)) < 0)) {
		if (vm)
			ns_vm_free(vm);
		if (pin >= 0)
			close(pin);
		return ns_op_end(ns, &op, ns_fail(err, NS_E_NOMEM, NULL, "out of memory"), err);
	}
	snprintf(vm->name, sizeof(vm->name), "%s", name);
	snprintf(vm->uuid, sizeof(vm->uuid), "%s", uuid);
	vm->mode = mode;
	vm->owner = *owner;
	vm->pin = pin;
	/* An identity VM's gPASIDs are its hPASIDs; a translated one's lie in the guest range.
	 * Lazily grown: no allocation here. */
	u32map_init_dense(
	    &vm->maps, &ns->maps_pool,
	    mode == NS_MODE_IDENTITY ? ns->cfg.shared.first : ns->cfg.local.first,
	    ns_range_size(mode == NS_MODE_IDENTITY ? &ns->cfg.shared : &ns->cfg.local), 0);
	ns_vm_link(ns, vm);
	ev.vm = vm;
	ns_log(ns, &ev, &(struct ns_change){.vm = vm});
	if (out)
		*out = vm;
	return ns_op_end(ns, &op, 0, err);
}

int
ns_vm_set_owner(struct ns *ns, struct ns_vm *vm, const struct ns_owner *owner, int pin,
                struct ns_err *err)
{
	struct ns_change u = {.vm = vm, .owner = vm->owner, .pin = vm->pin};
	struct ns_op op;
	int r = ns_op_begin(ns, &op, 1, err);

	if (r < 0) {
		if (pin >= 0)
			close(pin);
		return r;
	}
	vm->owner = *owner;
	vm->pin = pin;
	ns_log(ns, &(struct ns_event){.kind = NS_EV_VM_OWNER, .vm = vm}, &u);
	if (ns->replaying && u.pin >= 0)
		close(u.pin);
	return ns_op_end(ns, &op, 0, err);
}

void
ns_vm_devices_let_go(struct ns_vm *vm)
{
	for (unsigned i = 0; i < vm->ndevs; i++) {
		struct ns_device *dev = vm->devs[i].dev;

		if (dev->owner == vm)
			dev->owner = NULL;
		dev->nvms--;
	}
}

void
ns_vm_devices_take_back(struct ns_vm *vm)
{
	for (unsigned i = 0; i < vm->ndevs; i++) {
		struct ns_device *dev = vm->devs[i].dev;

		dev->shared = vm->devs[i].shared;
		if (!dev->shared)
			dev->owner = vm;
		dev->nvms++;
	}
}

int
ns_vm_destroy(struct ns *ns, struct ns_vm *vm, struct ns_err *err)
{
	struct ns_op op, frees;
	struct ns_vm_walk w;
	struct ns_mapping *m;
	int freed = 0, r;

	r = ns_op_begin(ns, &op, 0, err);
	if (r < 0)
		return r;
	/* The order of DESIGN.md §5, all or none: every PASID detached from the kernel first,
	 * then every device's requester ID (device.attach), then the numbers freed. Whatever
	 * the kernel will not let go of refuses the whole, and what went before is put back.
	 * Without an attachment on the host there is nothing to walk for. */
	ns_vm_walk_start(ns, vm, &w);
	while (ns->nattached && (m = ns_vm_walk_next(&w)))
		if (m->natts && (r = ns_detach_all(ns, m, err)) < 0)
			return ns_op_end(ns, &op, r, err);
	for (unsigned i = 0; i < vm->ndevs; i++)
		if ((r = ns_device_detach_rid(ns, vm, vm->devs[i].dev, err)) < 0)
			return ns_op_end(ns, &op, r, err);
	/* Room for every removal and the VM's, taken once: each mapping is then unlinked and
	 * logged as ns_free would (the same events, in gPASID order), without looking it up,
	 * opening an operation or searching the bitmaps again for it. `frees` is nested in op,
	 * which ends both. */
	if ((r = ns_op_begin(ns, &frees, vm->maps.count + 1, err)) < 0)
		return ns_op_end(ns, &op, r, err);
	ns_vm_walk_start(ns, vm, &w);
	for (; (m = ns_vm_walk_next(&w)); freed++) {
		ns_map_unlink(ns, m);
		if (ns->replaying)
			ns_map_free(ns, m);
		else
			ns_log_map(ns, NS_EV_MAP_REMOVED, m);
	}
	ns_vm_devices_let_go(vm);
	ns_vm_unlink(ns, vm);
	if (ns->replaying)
		ns_vm_free(vm);
	else
		ns_log(ns, &(struct ns_event){.kind = NS_EV_VM_DESTROYED, .vm = vm},
		       &(struct ns_change){.vm = vm});
	return ns_op_end(ns, &op, freed, err);
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
	u32map_init_dense(&dev->lmaps, &ns->maps_pool, ns->cfg.local.first,
	                  ns_range_size(&ns->cfg.local), 0);
	return dev;
}

void
ns_vm_dev_add(struct ns_vm *vm, struct ns_device *dev, bool shared)
{
	/* Room was made before (vm->devs never shrinks). */
	vm->devs[vm->ndevs].dev = dev;
	vm->devs[vm->ndevs++].shared = shared;
	dev->shared = shared;
	if (!shared)
		dev->owner = vm;
	dev->nvms++;
}

void
ns_vm_dev_drop(struct ns_vm *vm, struct ns_device *dev)
{
	for (unsigned i = 0; i < vm->ndevs; i++) {
		if (vm->devs[i].dev != dev)
			continue;
		vm->devs[i] = vm->devs[--vm->ndevs];
		if (dev->owner == vm)
			dev->owner = NULL;
		dev->nvms--;
		return;
	}
}

/* A backend's refusal of a device, in the protocol's terms: not on this host, unable to
 * carry PASIDs, or what the kernel answered. */
static int
probe_refused(struct ns_err *err, const char *name, int r, const char *why)
{
	if (r == -ENODEV)
		return ns_fail(err, NS_E_NOT_FOUND, "device", "%s", why);
	if (r == -EOPNOTSUPP)
		return ns_fail_missing(err, "device", "PASID capability of the device", "%s", why);
	return ns_fail_kernel(err, "device", "device probe", -r, "device %s refused: %s", name,
	                      why);
}

int
ns_device_assign(struct ns *ns, struct ns_vm *vm, uint32_t bdf, bool shared, struct ns_err *err)
{
	struct ns_device *dev = ns_device_find(ns, bdf);
	const struct ns_vm_dev *held = ns_vm_device(vm, bdf);
	char name[NS_BDF_LEN + 1], why[128] = "";
	struct ns_op op;
	bool before;
	int r;

	ns_bdf_format(bdf, name);
	if (held)
		return held->shared == shared
		           ? 0
		           : ns_fail(err, NS_E_CONFLICT, "shared",
		                     "device %s is already assigned to %s %s", name, vm->name,
		                     held->shared ? "shared" : "exclusively");
	if (dev && dev->nvms && !dev->shared)
		return ns_fail(err, NS_E_CONFLICT, "device",
		               "device %s is assigned exclusively to another VM", name);
	if (dev && dev->nvms && !shared)
		return ns_fail(err, NS_E_CONFLICT, "device",
		               "device %s is shared by other VMs and cannot be assigned "
		               "exclusively",
		               name);
	if (!ns->replaying &&
	    (r = ns->be->ops->device_probe(ns->be, bdf, shared, why, sizeof(why))) < 0)
		return probe_refused(err, name, r, why);
	if (vm->ndevs == vm->devs_cap) {
		unsigned ncap = vm->devs_cap ? vm->devs_cap * 2 : 4;
		struct ns_vm_dev *nd = realloc(vm->devs, ncap * sizeof(*nd));

		if (!nd)
			return ns_fail(err, NS_E_NOMEM, NULL, "out of memory");
		vm->devs = nd;
		vm->devs_cap = ncap;
	}
	dev = ns_device_get(ns, bdf);
	/* Shared devices never carry local PASIDs (invariant 2): no table for them. */
	if (!dev || (!shared && !dev->local.level[0] &&
	             idmap_init(&dev->local, ns_range_size(&ns->cfg.local)) < 0))
		return ns_fail(err, NS_E_NOMEM, NULL, "out of memory");
	r = ns_op_begin(ns, &op, 1, err);
	if (r < 0)
		return r;
	before = dev->shared;
	ns_vm_dev_add(vm, dev, shared);
	ns_log(
	    ns,
	    &(struct ns_event){.kind = NS_EV_DEV_ASSIGNED, .vm = vm, .bdf = bdf, .shared = shared},
	    &(struct ns_change){.vm = vm, .dev = dev, .shared_before = before});
	return ns_op_end(ns, &op, 0, err);
}

int
ns_device_release(struct ns *ns, struct ns_vm *vm, uint32_t bdf, struct ns_err *err)
{
	const struct ns_vm_dev *vd = ns_vm_device(vm, bdf);
	char name[NS_BDF_LEN + 1];
	struct ns_device *dev;
	struct ns_op op;
	bool shared;
	int r;

	ns_bdf_format(bdf, name);
	if (!vd)
		return ns_fail(err, NS_E_NOT_FOUND, "device", "device %s is not assigned to %s",
		               name, vm->name);
	dev = vd->dev;
	shared = vd->shared;
	if (!shared && dev->lmaps.count)
		return ns_fail(err, NS_E_CONFLICT, "device",
		               "device %s still has %zu local PASID(s) of %s", name,
		               dev->lmaps.count, vm->name);
	r = ns_op_begin(ns, &op, 1, err);
	if (r < 0)
		return r;
	/* The device lets go of the VM's PASIDs, then of its requester ID (device.attach),
	 * before the VM lets go of the device. */
	r = ns_detach_device(ns, vm, bdf, err);
	if (r == 0)
		r = ns_device_detach_rid(ns, vm, dev, err);
	if (r < 0)
		return ns_op_end(ns, &op, r, err);
	ns_vm_dev_drop(vm, dev);
	ns_log(
	    ns,
	    &(struct ns_event){.kind = NS_EV_DEV_RELEASED, .vm = vm, .bdf = bdf, .shared = shared},
	    &(struct ns_change){.vm = vm, .dev = dev});
	return ns_op_end(ns, &op, 0, err);
}

/* ---- positions and limits ---- */

int
ns_set_cursor(struct ns *ns, uint32_t cursor)
{
	if (cursor >= ns->shared_used.size)
		return -EINVAL;
	ns->shared_cursor = cursor;
	return 0;
}

int
ns_set_local_cursor(struct ns *ns, uint32_t bdf, uint32_t cursor)
{
	struct ns_device *dev;

	if (cursor > ns->cfg.local.last - ns->cfg.local.first)
		return -EINVAL;
	dev = ns_device_get(ns, bdf);
	if (!dev)
		return -ENOMEM;
	dev->local_cursor = cursor;
	return 0;
}

int
ns_quota_set(struct ns *ns, const char *cgroup, uint64_t max, struct ns_err *err)
{
	struct ns_change u = {.cgroup = strdup(cgroup)};
	struct ns_op op;
	int r;

	if (!u.cgroup)
		return ns_fail(err, NS_E_NOMEM, NULL, "out of memory");
	r = ns_op_begin(ns, &op, 1, err);
	if (r < 0 || ns->replaying) {
		free(u.cgroup);
		return r;
	}
	ns_log(ns, &(struct ns_event){.kind = NS_EV_QUOTA_SET, .cgroup = u.cgroup, .max = max}, &u);
	return ns_op_end(ns, &op, 0, err);
}
