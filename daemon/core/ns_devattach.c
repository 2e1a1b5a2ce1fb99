/* Requester ID attachments (device.attach, device.detach; namespace.h). The VMM's RID attach
 * of a device, made by pasidd on its behalf: with the BPF attach gate in strict mode no other
 * process may issue it. It lives on the device (ns_device.rid), which only its exclusive
 * owner can have attached, and keeps pasidd's own duplicates of the VMM's descriptors, so
 * that pasidd can detach it whatever becomes of the VMM. */
#include "backend.h"
#include "ns_internal.h"

#include <errno.h>
#include <stdlib.h>

uint32_t
ns_rid_attached(const struct ns *ns)
{
	return ns->nrid;
}

static void
link_rid(struct ns *ns, struct ns_device *dev, struct backend_attach *att)
{
	dev->rid = att;
	ns->nrid++;
}

static void
unlink_rid(struct ns *ns, struct ns_device *dev)
{
	dev->rid = NULL;
	ns->nrid--;
}

/* Whether vm may attach the requester ID of device bdf: 0, or a refusal. */
static int
check_device(const struct ns *ns, const struct ns_vm *vm, uint32_t bdf, struct ns_err *err)
{
	const struct ns_vm_dev *vd = ns_vm_device(vm, bdf);
	const struct ns_device *dev = ns_device_find(ns, bdf);
	char name[NS_BDF_LEN + 1];

	ns_bdf_format(bdf, name);
	if (!vd && dev && dev->nvms)
		return ns_fail(err, NS_E_CONFLICT, "device", "device %s is assigned to another VM",
		               name);
	if (!vd)
		return ns_fail(err, NS_E_NOT_FOUND, "device", "device %s is not assigned to %s",
		               name, vm->name);
	if (vd->shared)
		return ns_fail(err, NS_E_CONFLICT, "device",
		               "device %s is assigned to %s shared: only an exclusively assigned "
		               "device's requester ID can be attached to a VM's page table",
		               name, vm->name);
	return 0;
}

/* Replay: the attachment as the journal has it, its descriptors lost until adopted. */
static int
replay_attach(struct ns *ns, struct ns_device *dev, const struct backend_attach *a,
              struct ns_err *err)
{
	struct backend_attach *att;
	char name[NS_BDF_LEN + 1];

	ns_bdf_format(dev->bdf, name);
	if (dev->rid)
		return ns_fail(err, NS_E_CONFLICT, "device",
		               "the requester ID of %s is attached twice", name);
	att = malloc(sizeof(*att));
	if (!att)
		return ns_fail(err, NS_E_NOMEM, NULL, "out of memory");
	*att = *a;
	att->iommufd = att->devfd = -1;
	link_rid(ns, dev, att);
	return 0;
}

/* The kernel part of an attach, and a replaced attachment's end in the same transaction, so
 * that their records stand or fall together. Takes att: freed here when the kernel or the
 * transaction refuses it, and by the undo when its own commit is refused. */
static int
attach_new(struct ns *ns, struct ns_vm *vm, struct ns_device *dev, struct backend_attach *att,
           struct ns_err *err)
{
	struct backend_attach *old = dev->rid;
	struct ns_op op;
	int r;

	r = ns_op_begin(ns, &op, 2, err);
	if (r < 0) {
		ns_attachment_free(att);
		return r;
	}
	r = ns->be->ops->rid_attach(ns->be, att, err);
	ns->kernel_calls[0][r < 0]++;
	if (r < 0) {
		ns_attachment_free(att);
		return ns_op_end(ns, &op, r, err);
	}
	if (old) {
		/* The kernel replaced it: no detach call. */
		unlink_rid(ns, dev);
		ns_log(ns,
		       &(struct ns_event){
		           .kind = NS_EV_DEV_DETACHED, .vm = vm, .att = old, .bdf = dev->bdf},
		       &(struct ns_change){.vm = vm, .dev = dev, .att = old});
	}
	link_rid(ns, dev, att);
	ns_log(
	    ns,
	    &(struct ns_event){.kind = NS_EV_DEV_ATTACHED, .vm = vm, .att = att, .bdf = dev->bdf},
	    &(struct ns_change){.vm = vm, .dev = dev, .att = att, .replaced = old != NULL});
	return ns_op_end(ns, &op, 0, err);
}

int
ns_device_attach(struct ns *ns, struct ns_vm *vm, const struct backend_attach *a,
                 struct ns_err *err)
{
	struct backend_attach *att;
	struct ns_device *dev;
	char name[NS_BDF_LEN + 1];
	int r;

	ns_bdf_format(a->bdf, name);
	if ((r = check_device(ns, vm, a->bdf, err)) < 0)
		goto refused;
	dev = ns_device_find(ns, a->bdf);
	if (ns->replaying)
		return replay_attach(ns, dev, a, err);
	if (!ns->be->ops->rid_attach || !ns->be->ops->rid_detach) {
		r = ns_fail_missing(err, NULL, "requester ID attach in the backend",
		                    "the %s backend cannot attach a device's requester ID",
		                    ns->be->ops->name);
		goto refused;
	}
	att = malloc(sizeof(*att));
	if (!att) {
		r = ns_fail(err, NS_E_NOMEM, NULL, "out of memory");
		goto refused;
	}
	*att = *a;
	att->tag = 0;
	return attach_new(ns, vm, dev, att, err);
refused:
	ns_close_fds(a->iommufd, a->devfd);
	return r;
}

int
ns_device_detach_rid(struct ns *ns, struct ns_vm *vm, struct ns_device *dev, struct ns_err *err)
{
	struct backend_attach *att = dev->rid;
	char name[NS_BDF_LEN + 1];
	struct ns_op op;
	int r;

	if (!att)
		return 0;
	if (ns->replaying) {
		unlink_rid(ns, dev);
		ns_attachment_free(att);
		return 0;
	}
	ns_bdf_format(dev->bdf, name);
	/* As for PASIDs (ns_attach.c): once the owner is gone, the kernel let go of it with the
	 * owner's descriptors. */
	if (ns_att_lost(att) && !vm->gone)
		return ns_fail(err, NS_E_CONFLICT, "device",
		               "the requester ID of %s was attached before a restart that lost "
		               "pasidd's descriptors of it; attach it again (device.attach) so "
		               "that pasidd can detach it",
		               name);
	r = ns_op_begin(ns, &op, 1, err);
	if (r < 0)
		return r;
	if (!ns_att_lost(att)) {
		if (!ns->be->ops->rid_detach)
			return ns_op_end(
			    ns, &op,
			    ns_fail_missing(err, NULL, "requester ID detach in the backend",
			                    "the %s backend cannot detach the requester "
			                    "ID of %s",
			                    ns->be->ops->name, name),
			    err);
		r = ns->be->ops->rid_detach(ns->be, att, err);
		ns->kernel_calls[1][r < 0]++;
		if (r < 0)
			return ns_op_end(ns, &op, r, err);
	}
	unlink_rid(ns, dev);
	ns_log(
	    ns,
	    &(struct ns_event){.kind = NS_EV_DEV_DETACHED, .vm = vm, .att = att, .bdf = dev->bdf},
	    &(struct ns_change){.vm = vm, .dev = dev, .att = att});
	return ns_op_end(ns, &op, 0, err);
}

/* PASIDs of vm attached on device bdf. */
static unsigned
pasids_attached(const struct ns *ns, const struct ns_vm *vm, uint32_t bdf)
{
	struct ns_vm_walk w;
	struct ns_mapping *m;
	unsigned n = 0;

	ns_vm_walk_start(ns, vm, &w);
	while (ns->nattached && (m = ns_vm_walk_next(&w)))
		n += m->natts && ns_attachment(m, bdf) != NULL;
	return n;
}

int
ns_device_detach(struct ns *ns, struct ns_vm *vm, uint32_t bdf, struct ns_err *err)
{
	const struct ns_vm_dev *vd = ns_vm_device(vm, bdf);
	char name[NS_BDF_LEN + 1];
	unsigned n;

	ns_bdf_format(bdf, name);
	if (!vd)
		return ns_fail(err, NS_E_NOT_FOUND, "device", "device %s is not assigned to %s",
		               name, vm->name);
	if (!vd->dev->rid)
		return ns_fail(err, NS_E_NOT_FOUND, "device",
		               "the requester ID of %s is not attached (device.attach)", name);
	/* The order of DESIGN.md §5: a device's PASIDs go before its requester ID. The VMM
	 * says which of them go; release and unregister detach them all. */
	if (!ns->replaying && (n = pasids_attached(ns, vm, bdf)) > 0)
		return ns_fail(err, NS_E_CONFLICT, "device",
		               "%u PASID(s) of %s are attached on %s: detach them first "
		               "(pasid.detach)",
		               n, vm->name, name);
	return ns_device_detach_rid(ns, vm, vd->dev, err);
}

void
ns_rid_undo(struct ns *ns, const struct ns_event *ev, struct ns_change *u)
{
	struct backend_attach *att = u->att;

	if (ev->kind == NS_EV_DEV_ATTACHED) {
		/* Best effort: nobody heard of it. A replacement stays in the kernel until the
		 * replaced attachment's own undo, next, puts that back in its place. */
		if (!u->replaced && !ns_att_lost(att))
			ns->be->ops->rid_detach(ns->be, att, NULL);
		unlink_rid(ns, u->dev);
		ns_attachment_free(att);
		return;
	}
	/* A detach or a replacement undone: attached again where it was (best effort; should
	 * the kernel refuse, the device still counts as attached). */
	if (!ns_att_lost(att))
		ns->be->ops->rid_attach(ns->be, att, NULL);
	link_rid(ns, u->dev, att);
}

void
ns_rid_settle(const struct ns_event *ev, struct ns_change *u)
{
	if (ev->kind == NS_EV_DEV_DETACHED)
		ns_attachment_free(u->att);
}
