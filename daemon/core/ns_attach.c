/* Attachments: a mapping's hPASID attached to a page table of a device through the backend
 * (pasid.attach). The namespace keeps the descriptors the VMM passed, so that it can detach
 * whatever becomes of the VMM: on pasid.detach and pasid.free, when the VM lets go of the
 * device, is unregistered, or its owner exits. A number is never free while attached. */
#include "backend.h"
#include "ns_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void
ns_close_fds(int iommufd, int devfd)
{
	if (iommufd >= 0)
		close(iommufd);
	if (devfd >= 0)
		close(devfd);
}

void
ns_attachment_free(struct backend_attach *att)
{
	if (!att)
		return;
	ns_close_fds(att->iommufd, att->devfd);
	free(att);
}

struct backend_attach *
ns_attachment(const struct ns_mapping *m, uint32_t bdf)
{
	for (unsigned i = 0; i < m->natts; i++)
		if (m->atts[i]->bdf == bdf)
			return m->atts[i];
	return NULL;
}

uint32_t
ns_attached(const struct ns *ns)
{
	return ns->nattached;
}

int
ns_attachment_adopt(struct backend_attach *att, int iommufd, int devfd)
{
	if (!ns_att_lost(att))
		return -EEXIST;
	ns_close_fds(att->iommufd, att->devfd);
	att->iommufd = iommufd;
	att->devfd = devfd;
	return 0;
}

/* Table primitives: they cannot fail once room was made (link_room). The array only grows,
 * so a transaction undone in reverse order always finds the room it had. */
static int
link_room(struct ns_mapping *m)
{
	struct backend_attach **v;

	/* The room doubles, kept as a power of two: a byte of the mapping's 48. */
	if (m->attlog && m->natts < 1u << (m->attlog - 1))
		return 0;
	if (m->natts == UINT16_MAX)
		return -ENOMEM;
	v = realloc(m->atts, ((size_t)1 << m->attlog) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	m->atts = v;
	m->attlog++;
	return 0;
}

/* A mapping's attachments are kept in device order: listings show them so, and undoing an
 * unlink puts one back exactly where it was. */
static void
link_att(struct ns *ns, struct ns_mapping *m, struct backend_attach *att)
{
	unsigned i = m->natts;

	for (; i > 0 && m->atts[i - 1]->bdf > att->bdf; i--)
		m->atts[i] = m->atts[i - 1];
	m->atts[i] = att;
	m->natts++;
	ns->nattached++;
}

static void
unlink_att(struct ns *ns, struct ns_mapping *m, struct backend_attach *att)
{
	for (unsigned i = 0; i < m->natts; i++) {
		if (m->atts[i] != att)
			continue;
		/* The array keeps its room, so that undoing this cannot fail; it goes with
		 * the mapping (ns_map_free). */
		memmove(&m->atts[i], &m->atts[i + 1], (m->natts - i - 1) * sizeof(*m->atts));
		m->natts--;
		ns->nattached--;
		return;
	}
}

/* Where a may be attached for mapping m of vm; 0 or a refusal. */
static int
check_device(const struct ns_vm *vm, const struct ns_mapping *m, uint32_t bdf, struct ns_err *err)
{
	char name[NS_BDF_LEN + 1];

	ns_bdf_format(bdf, name);
	if (!ns_vm_device(vm, bdf))
		return ns_fail(err, NS_E_CONFLICT, "device", "device %s is not assigned to %s",
		               name, vm->name);
	if (m->dev && m->dev->bdf != bdf)
		return ns_fail(err, NS_E_CONFLICT, "device",
		               "local PASID %u belongs to another device than %s", m->hpasid, name);
	return 0;
}

/* Replay: the attachment as the journal has it, its descriptors lost until adopted. */
static int
replay_attach(struct ns *ns, struct ns_mapping *m, const struct backend_attach *a,
              struct ns_err *err)
{
	struct backend_attach *att;

	if (ns_attachment(m, a->bdf))
		return ns_fail(err, NS_E_CONFLICT, "device", "gPASID %u is attached twice",
		               m->gpasid);
	att = malloc(sizeof(*att));
	if (!att || link_room(m) < 0) {
		free(att);
		return ns_fail(err, NS_E_NOMEM, NULL, "out of memory");
	}
	*att = *a;
	att->iommufd = att->devfd = -1;
	link_att(ns, m, att);
	return 0;
}

/* The kernel part of an attach; a replaced attachment (lost descriptors) goes in the same
 * transaction, so that its record and the new one stand or fall together. Takes att: freed
 * with its descriptors here when the kernel or the transaction refuses it, and by the undo
 * when its own commit is refused (so never by the caller). */
static int
attach_new(struct ns *ns, struct ns_mapping *m, struct backend_attach *att,
           struct backend_attach *old, struct ns_err *err)
{
	struct ns_op op;
	int r;

	r = ns_op_begin(ns, &op, 2, err);
	if (r < 0) {
		ns_attachment_free(att);
		return r;
	}
	r = ns->be->ops->attach(ns->be, m->hpasid, att, err);
	ns->kernel_calls[0][r < 0]++;
	if (r < 0) {
		ns_attachment_free(att);
		return ns_op_end(ns, &op, r, err);
	}
	if (old) {
		unlink_att(ns, m, old);
		ns_log(ns,
		       &(struct ns_event){.kind = NS_EV_MAP_DETACHED,
		                          .vm = m->vm,
		                          .map = m,
		                          .att = old,
		                          .bdf = old->bdf},
		       &(struct ns_change){.map = m, .att = old});
	}
	link_att(ns, m, att);
	ns_log(ns,
	       &(struct ns_event){
	           .kind = NS_EV_MAP_ATTACHED, .vm = m->vm, .map = m, .att = att, .bdf = att->bdf},
	       &(struct ns_change){.map = m, .att = att});
	return ns_op_end(ns, &op, 0, err);
}

int
ns_attach(struct ns *ns, struct ns_vm *vm, uint32_t gpasid, const struct backend_attach *a,
          struct ns_err *err)
{
	struct ns_mapping *m = ns_lookup_gpasid(vm, gpasid);
	struct backend_attach *old, *att;
	char name[NS_BDF_LEN + 1];
	int r;

	ns_bdf_format(a->bdf, name);
	if (!m)
		r = ns_fail(err, NS_E_NOT_FOUND, "gpasid", "gPASID %u is not allocated in %s",
		            gpasid, vm->name);
	else if ((r = check_device(vm, m, a->bdf, err)) < 0)
		;
	else if (ns->replaying)
		return replay_attach(ns, m, a, err);
	else if ((old = ns_attachment(m, a->bdf)) && !ns_att_lost(old))
		r = ns_fail(err, NS_E_CONFLICT, "gpasid",
		            "gPASID %u of %s is already attached on %s", gpasid, vm->name, name);
	else if (ns->be->attach_missing)
		r = ns_fail_missing(err, NULL, ns->be->attach_missing,
		                    "the %s backend cannot attach PASIDs: %s", ns->be->ops->name,
		                    ns->be->attach_missing);
	else if (!(att = malloc(sizeof(*att))) || link_room(m) < 0) {
		free(att);
		r = ns_fail(err, NS_E_NOMEM, NULL, "out of memory");
	} else {
		*att = *a;
		return attach_new(ns, m, att, old, err);
	}
	ns_close_fds(a->iommufd, a->devfd);
	return r;
}

/* Through the backend, logged. An attachment whose descriptors were lost cannot be detached
 * by pasidd; once its VM's owner is gone, the kernel let go of it when the owner's
 * descriptors closed, so it is dropped without a kernel call. */
static int
detach_one(struct ns *ns, struct ns_mapping *m, struct backend_attach *att, struct ns_err *err)
{
	char name[NS_BDF_LEN + 1];
	int r;

	ns_bdf_format(att->bdf, name);
	if (ns_att_lost(att) && !m->vm->gone)
		return ns_fail(
		    err, NS_E_CONFLICT, "device",
		    "PASID %u on %s was attached before a restart that lost pasidd's "
		    "descriptors of it; attach it again (pasid.attach) so that pasidd can "
		    "detach it",
		    m->hpasid, name);
	if (!ns_att_lost(att)) {
		r = ns->be->ops->detach(ns->be, m->hpasid, att, err);
		ns->kernel_calls[1][r < 0]++;
		if (r < 0)
			return r;
	}
	unlink_att(ns, m, att);
	ns_log(ns,
	       &(struct ns_event){
	           .kind = NS_EV_MAP_DETACHED, .vm = m->vm, .map = m, .att = att, .bdf = att->bdf},
	       &(struct ns_change){.map = m, .att = att});
	return 0;
}

int
ns_detach(struct ns *ns, struct ns_vm *vm, uint32_t gpasid, uint32_t bdf, struct ns_err *err)
{
	struct ns_mapping *m = ns_lookup_gpasid(vm, gpasid);
	struct backend_attach *att;
	char name[NS_BDF_LEN + 1];
	struct ns_op op;
	int r;

	ns_bdf_format(bdf, name);
	if (!m)
		return ns_fail(err, NS_E_NOT_FOUND, "gpasid", "gPASID %u is not allocated in %s",
		               gpasid, vm->name);
	att = ns_attachment(m, bdf);
	if (!att)
		return ns_fail(err, NS_E_NOT_FOUND, "device",
		               "gPASID %u of %s is not attached on %s", gpasid, vm->name, name);
	if (ns->replaying) {
		unlink_att(ns, m, att);
		ns_attachment_free(att);
		return 0;
	}
	r = ns_op_begin(ns, &op, 1, err);
	if (r < 0)
		return r;
	return ns_op_end(ns, &op, detach_one(ns, m, att, err), err);
}

int
ns_detach_all(struct ns *ns, struct ns_mapping *m, struct ns_err *err)
{
	struct ns_op op;
	int r;

	if (!m->natts)
		return 0;
	if (ns->replaying) {
		while (m->natts) {
			struct backend_attach *att = m->atts[0];

			unlink_att(ns, m, att);
			ns_attachment_free(att);
		}
		return 0;
	}
	r = ns_op_begin(ns, &op, m->natts, err);
	if (r < 0)
		return r;
	while (m->natts && (r = detach_one(ns, m, m->atts[m->natts - 1], err)) == 0)
		;
	return ns_op_end(ns, &op, r, err);
}

int
ns_detach_device(struct ns *ns, struct ns_vm *vm, uint32_t bdf, struct ns_err *err)
{
	struct ns_vm_walk w;
	struct ns_mapping *m;
	struct ns_op op;
	int r;

	r = ns_op_begin(ns, &op, 0, err);
	if (r < 0)
		return r;
	/* Without an attachment on the host (device.release of a VM that never attached
	 * one), nothing to walk for. */
	ns_vm_walk_start(ns, vm, &w);
	while (ns->nattached && (m = ns_vm_walk_next(&w))) {
		struct backend_attach *att = m->natts ? ns_attachment(m, bdf) : NULL;

		if (!att)
			continue;
		if (ns->replaying) {
			unlink_att(ns, m, att);
			ns_attachment_free(att);
			continue;
		}
		r = ns_op_begin(ns, &(struct ns_op){0}, 1, err);
		if (r < 0 || (r = detach_one(ns, m, att, err)) < 0)
			return ns_op_end(ns, &op, r, err);
	}
	return ns_op_end(ns, &op, 0, err);
}

void
ns_attach_undo(struct ns *ns, const struct ns_event *ev, struct backend_attach *att)
{
	struct ns_mapping *m = (struct ns_mapping *)ev->map;

	if (ev->kind == NS_EV_MAP_ATTACHED) {
		/* Best effort: nobody heard of it, and the descriptors go with it. */
		if (!ns_att_lost(att))
			ns->be->ops->detach(ns->be, m->hpasid, att, NULL);
		unlink_att(ns, m, att);
		ns_attachment_free(att);
		return;
	}
	/* A detach undone: attached again where it was (best effort; should the kernel
	 * refuse, the mapping still counts as attached, which keeps its number out of use). */
	if (!ns_att_lost(att))
		ns->be->ops->attach(ns->be, m->hpasid, att, NULL);
	link_att(ns, m, att);
}

void
ns_attach_settle(const struct ns_event *ev, struct backend_attach *att)
{
	if (ev->kind == NS_EV_MAP_DETACHED)
		ns_attachment_free(att);
}
