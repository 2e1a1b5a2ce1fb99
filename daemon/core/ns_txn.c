/* Transactions: the change log of the open transaction, its undoing, and telling observers.
 * A change is made at once and logged with what undoing it takes; objects a change removes
 * stay allocated until the transaction ends, so that observers can still read them and an
 * undo can put them back. */
#include "backend.h"
#include "ns_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A log up to this many changes is kept for the next transaction: a lone operation (one a
 * request did not wrap) would otherwise cost three allocations and three frees, which
 * made an alloc+free five times slower than the change itself. A larger one is freed, so
 * one big request does not pin its memory. */
#define TXN_KEEP_CAP 256

int
ns_observe(struct ns *ns, const struct ns_observer *o)
{
	if (ns->nobservers == NS_MAX_OBSERVERS)
		return -ENOSPC;
	ns->observers[ns->nobservers++] = *o;
	return 0;
}

void
ns_unobserve(struct ns *ns, void *ctx)
{
	for (unsigned i = 0; i < ns->nobservers;) {
		if (ns->observers[i].ctx == ctx)
			memmove(&ns->observers[i], &ns->observers[i + 1],
			        (--ns->nobservers - i) * sizeof(ns->observers[0]));
		else
			i++;
	}
}

int
ns_txn_begin(struct ns *ns)
{
	if (ns->txn)
		return -EBUSY;
	if (ns->spare) {
		ns->txn = ns->spare;
		ns->spare = NULL;
		return 0;
	}
	ns->txn = calloc(1, sizeof(*ns->txn));
	return ns->txn ? 0 : -ENOMEM;
}

bool
ns_txn_dirty(const struct ns *ns)
{
	return ns->txn && ns->txn->n > 0;
}

static int
reserve(struct ns_txn *t, size_t more)
{
	size_t cap = t->cap ? t->cap : 16;
	struct ns_event *evs;
	struct ns_change *undo;

	if (t->n + more <= t->cap)
		return 0;
	while (cap < t->n + more)
		cap *= 2;
	evs = realloc(t->evs, cap * sizeof(*evs));
	if (!evs)
		return -ENOMEM;
	t->evs = evs;
	undo = realloc(t->undo, cap * sizeof(*undo));
	if (!undo)
		return -ENOMEM;
	t->undo = undo;
	t->cap = cap;
	return 0;
}

void
ns_log(struct ns *ns, const struct ns_event *ev, const struct ns_change *undo)
{
	struct ns_txn *t = ns->txn;

	if (ns->replaying || !t)
		return;
	/* Room was taken by ns_op_begin(). */
	t->evs[t->n] = *ev;
	t->undo[t->n++] = *undo;
	t->nsettle += ns_change_settles(ev->kind);
}

/* Puts back what change i changed. */
static void
undo_one(struct ns *ns, const struct ns_event *ev, struct ns_change *u)
{

	switch (ev->kind) {
	case NS_EV_VM_CREATED:
		ns_vm_unlink(ns, u->vm);
		ns_vm_free(u->vm);
		break;
	case NS_EV_VM_OWNER:
		if (u->vm->pin >= 0)
			close(u->vm->pin);
		u->vm->owner = u->owner;
		u->vm->pin = u->pin;
		break;
	case NS_EV_VM_DESTROYED:
		ns_vm_link(ns, u->vm);
		ns_vm_devices_take_back(u->vm);
		break;
	case NS_EV_DEV_ASSIGNED:
		ns_vm_dev_drop(u->vm, u->dev);
		u->dev->shared = u->shared_before;
		break;
	case NS_EV_DEV_RELEASED:
		ns_vm_dev_add(u->vm, u->dev, ev->shared);
		break;
	case NS_EV_MAP_ADDED:
		ns_map_unlink(ns, u->map);
		ns_map_free(ns, u->map);
		break;
	case NS_EV_MAP_REMOVED:
		ns_map_link(ns, u->map);
		break;
	case NS_EV_MAP_ATTACHED:
	case NS_EV_MAP_DETACHED:
		ns_attach_undo(ns, ev, u->att);
		break;
	case NS_EV_CURSOR:
		ns->shared_cursor = u->cursor_before;
		break;
	case NS_EV_LCURSOR:
		u->dev->local_cursor = u->cursor_before;
		break;
	case NS_EV_QUOTA_SET:
		free(u->cgroup);
		break;
	case NS_EV_DEV_ATTACHED:
	case NS_EV_DEV_DETACHED:
		ns_rid_undo(ns, ev, u);
		break;
	case NS_EV_RESERVED:
		ns_resv_unlink(ns, u->resv);
		free(u->resv);
		break;
	case NS_EV_UNRESERVED:
		ns_resv_link(ns, u->resv);
		break;
	}
}

static void
rollback(struct ns *ns, size_t mark)
{
	struct ns_txn *t = ns->txn;

	while (t->n > mark) {
		t->n--;
		t->nsettle -= ns_change_settles(t->evs[t->n].kind);
		undo_one(ns, &t->evs[t->n], &t->undo[t->n]);
	}
}

static void
txn_end(struct ns *ns)
{
	struct ns_txn *t = ns->txn;

	ns->txn = NULL;
	t->n = 0;
	t->nsettle = 0;
	if (!ns->spare && t->cap <= TXN_KEEP_CAP) {
		ns->spare = t;
		return;
	}
	free(t->evs);
	free(t->undo);
	free(t);
}

void
ns_txn_release(struct ns *ns)
{
	ns_txn_abort(ns);
	if (ns->spare) {
		free(ns->spare->evs);
		free(ns->spare->undo);
		free(ns->spare);
		ns->spare = NULL;
	}
}

void
ns_txn_abort(struct ns *ns)
{
	if (!ns->txn)
		return;
	rollback(ns, 0);
	txn_end(ns);
}

/* What a change removed is freed once everyone has heard of it. */
static void
settle(struct ns *ns, struct ns_change *u, const struct ns_event *ev)
{
	switch (ev->kind) {
	case NS_EV_VM_DESTROYED:
		ns_vm_free(u->vm);
		break;
	case NS_EV_MAP_REMOVED:
		ns_map_free(ns, u->map);
		break;
	case NS_EV_MAP_DETACHED:
		ns_attach_settle(ev, u->att);
		break;
	case NS_EV_DEV_DETACHED:
		ns_rid_settle(ev, u);
		break;
	case NS_EV_VM_OWNER:
		if (u->pin >= 0)
			close(u->pin);
		break;
	case NS_EV_QUOTA_SET:
		free(u->cgroup);
		break;
	case NS_EV_UNRESERVED:
		free(u->resv);
		break;
	default:
		break;
	}
}

int
ns_txn_commit(struct ns *ns, struct ns_err *err)
{
	struct ns_txn *t = ns->txn;
	int r;

	if (!t)
		return 0;
	if (!t->n) {
		txn_end(ns);
		return 0;
	}
	for (unsigned i = 0; i < ns->nobservers; i++) {
		const struct ns_observer *o = &ns->observers[i];

		if (o->check && (r = o->check(o->ctx, t->evs, t->n, err)) < 0) {
			ns_txn_abort(ns);
			return r;
		}
	}
	/* The transaction is over before anyone hears of it: what an observer starts in
	 * turn (an owner that turns out gone) is a transaction of its own. */
	ns->txn = NULL;
	for (unsigned k = 0; k < ns->nobservers; k++)
		if (ns->observers[k].begin)
			ns->observers[k].begin(ns->observers[k].ctx, t->evs, t->n);
	for (size_t i = 0; ns->nobservers && i < t->n; i++)
		for (unsigned k = 0; k < ns->nobservers; k++)
			if (ns->observers[k].apply)
				ns->observers[k].apply(ns->observers[k].ctx, &t->evs[i]);
	/* An allocation leaves nothing to free: no pass over its changes. */
	for (size_t i = 0; t->nsettle && i < t->n; i++)
		settle(ns, &t->undo[i], &t->evs[i]);
	ns->txn = t;
	txn_end(ns);
	return 0;
}

/* Where ns_op_begin finds no room (or no log) ready. */
int
ns_op_begin_slow(struct ns *ns, struct ns_op *op, size_t changes, struct ns_err *err)
{
	op->own = false;
	op->mark = 0;
	if (ns->replaying)
		return 0;
	if (!ns->txn) {
		if (ns_txn_begin(ns) < 0)
			return ns_fail(err, NS_E_NOMEM, NULL, "out of memory");
		op->own = true;
	}
	op->mark = ns->txn->n;
	if (reserve(ns->txn, changes) < 0) {
		if (op->own)
			txn_end(ns);
		return ns_fail(err, NS_E_NOMEM, NULL, "out of memory");
	}
	return 0;
}

/* A failure: what the operation changed undone, and the transaction ended if it opened it. */
int
ns_op_end_slow(struct ns *ns, struct ns_op *op, int rc, struct ns_err *err)
{
	if (ns->replaying || !ns->txn)
		return rc;
	rollback(ns, op->mark);
	if (op->own)
		txn_end(ns);
	return rc;
}
