/* What the parts of the namespace (ns_*.c) share and nobody else sees: range arithmetic, the
 * change log of the open transaction, and the table primitives that changes and their undoing
 * are made of. */
#ifndef PASIDD_NS_INTERNAL_H
#define PASIDD_NS_INTERNAL_H

#include "backend.h"
#include "namespace.h"

static inline uint32_t
ns_range_size(const struct ns_range *r)
{
	return r->last - r->first + 1;
}

static inline bool
ns_in_range(const struct ns_range *r, uint64_t v)
{
	return v >= r->first && v <= r->last;
}

/* One change of a transaction: the event observers will hear of, and what undoing it takes. */
struct ns_change {
	struct ns_vm *vm;
	struct ns_mapping *map;
	struct ns_device *dev;
	/* What one kind of change needs besides (56 bytes in all: the log is written for every
	 * change, an allocation's included). */
	union {
		struct {
			struct ns_owner owner; /* VM_OWNER: the owner before */
			int pin;               /* VM_OWNER: the pin before */
		};
		bool shared_before;     /* DEV_ASSIGNED: dev->shared before */
		uint32_t cursor_before; /* CURSOR, LCURSOR */
		char *cgroup;           /* QUOTA_SET: the event's, owned */
		struct {
			/* MAP_ATTACHED, MAP_DETACHED, DEV_ATTACHED, DEV_DETACHED */
			struct backend_attach *att;
			bool
			    replaced; /* DEV_ATTACHED: it replaced an attachment (the kernel did) */
		};
		struct ns_resv *resv; /* RESERVED, UNRESERVED */
	};
};

/* The log of a transaction: events for the observers, and beside each what undoing it takes.
 * Both arrays are kept from one transaction to the next (ns->spare), so that a lone
 * operation's log is room already there. */
struct ns_txn {
	struct ns_event *evs;
	struct ns_change *undo;
	size_t n, cap;
	/* Changes that leave something to free once they stand (settle in ns_txn.c): a
	 * transaction without any (an allocation) skips that pass. */
	size_t nsettle;
};

/* An operation's place in the transaction: it opens one when none is open (own), and a
 * failure undoes what it changed since mark. */
struct ns_op {
	bool own;
	size_t mark;
};

/* The out-of-line halves of ns_op_begin and ns_op_end (the undoing of a failure). */
int ns_op_begin_slow(struct ns *ns, struct ns_op *op, size_t changes, struct ns_err *err);
int ns_op_end_slow(struct ns *ns, struct ns_op *op, int rc, struct ns_err *err);

/* Starts an operation that will log at most `changes` changes (room taken now, so that logging
 * cannot fail half-way). No-op while replaying. 0, or a negative errno with err. Inline for
 * the common cases, where the log has the room: nested in an open transaction, or a lone
 * operation that takes the kept log. */
static inline int
ns_op_begin(struct ns *ns, struct ns_op *op, size_t changes, struct ns_err *err)
{
	struct ns_txn *t = ns->txn;

	op->own = false;
	op->mark = 0;
	if (ns->replaying)
		return 0;
	if (t && t->n + changes <= t->cap) {
		op->mark = t->n;
		return 0;
	}
	if (!t && ns->spare && changes <= ns->spare->cap) {
		ns->txn = ns->spare;
		ns->spare = NULL;
		op->own = true;
		return 0;
	}
	return ns_op_begin_slow(ns, op, changes, err);
}

/* Ends it: rc < 0 undoes its changes; an operation that opened the transaction commits it.
 * Returns rc, or the commit's failure. */
static inline int
ns_op_end(struct ns *ns, struct ns_op *op, int rc, struct ns_err *err)
{
	int r;

	if (ns->replaying || !ns->txn || (rc >= 0 && !op->own))
		return rc;
	if (rc < 0)
		return ns_op_end_slow(ns, op, rc, err);
	r = ns_txn_commit(ns, err);
	return r < 0 ? r : rc;
}

/* Whether a change of this kind leaves something to free once it stands (settle, ns_txn.c). */
static inline bool
ns_change_settles(enum ns_event_kind kind)
{
	return kind == NS_EV_VM_DESTROYED || kind == NS_EV_MAP_REMOVED ||
	       kind == NS_EV_MAP_DETACHED || kind == NS_EV_DEV_DETACHED || kind == NS_EV_VM_OWNER ||
	       kind == NS_EV_QUOTA_SET || kind == NS_EV_UNRESERVED;
}

/* Logs a change made, with its event. No-op while replaying. */
void ns_log(struct ns *ns, const struct ns_event *ev, const struct ns_change *undo);
/* ns_log of a mapping added or removed (MAP_ADDED, MAP_REMOVED), written in place: most
 * of what an allocation or a free logs. */
static inline void
ns_log_map(struct ns *ns, enum ns_event_kind kind, struct ns_mapping *m)
{
	struct ns_txn *t = ns->txn;

	if (ns->replaying || !t)
		return;
	/* Room was taken by ns_op_begin(). */
	t->evs[t->n] = (struct ns_event){.kind = kind, .vm = m->vm, .map = m};
	t->undo[t->n++] = (struct ns_change){.map = m};
	t->nsettle += kind == NS_EV_MAP_REMOVED;
}
/* ns_log of the next-fit position moved (NS_EV_CURSOR, or NS_EV_LCURSOR of dev), from
 * `before`, written in place: every allocation logs one. */
static inline void
ns_log_cursor(struct ns *ns, struct ns_device *dev, uint32_t before)
{
	struct ns_txn *t = ns->txn;

	if (ns->replaying || !t)
		return;
	if (dev)
		t->evs[t->n] = (struct ns_event){
		    .kind = NS_EV_LCURSOR, .bdf = dev->bdf, .cursor = dev->local_cursor};
	else
		t->evs[t->n] = (struct ns_event){.kind = NS_EV_CURSOR, .cursor = ns->shared_cursor};
	t->undo[t->n++] = (struct ns_change){.dev = dev, .cursor_before = before};
}
/* Undoes an open transaction and frees the log kept for the next one (ns_destroy). */
void ns_txn_release(struct ns *ns);

/* Walks a VM's mappings in gPASID order, as ns_vm_next does, but a word of the VM's bitmaps
 * at a time (ns_vm_next searches both bitmaps afresh for every mapping: most of what freeing
 * a large VM cost). The word being walked is a copy: the mapping returned may be unlinked
 * before the next call, but no other may be added or removed meanwhile. */
struct ns_vm_walk {
	const struct ns_vm *vm;
	const struct idmap *map[2]; /* guest and ident bitmaps, lower range first; NULL: none */
	uint32_t firsts[2];         /* the gPASID of each one's offset 0 */
	unsigned k;                 /* the bitmap being walked */
	uint32_t first, size;       /* its firsts[k] and size */
	uint32_t word;              /* its word (UINT32_MAX: before the first) */
	uint64_t bits;              /* what is left of that word */
};

void ns_vm_walk_start(const struct ns *ns, const struct ns_vm *vm, struct ns_vm_walk *w);
/* Loads the next word that holds a mapping: false at the end of both bitmaps. */
bool ns_vm_walk_refill(struct ns_vm_walk *w);

/* The next mapping, or NULL at the end. Inline: a bit of the word at hand. */
static inline struct ns_mapping *
ns_vm_walk_next(struct ns_vm_walk *w)
{
	for (;;) {
		while (w->bits) {
			uint32_t off = w->word * 64 + (uint32_t)__builtin_ctzll(w->bits);
			struct ns_mapping *m;

			w->bits &= w->bits - 1;
			/* Bits past the end are set as "used" padding: the bitmap ends there. */
			if (off >= w->size) {
				w->bits = 0;
				break;
			}
			/* A bit without its mapping is a broken namespace, which ns_check
			 * reports: not a mapping to walk. */
			if ((m = u32map_get(&w->vm->maps, w->first + off)))
				return m;
		}
		if (!ns_vm_walk_refill(w))
			return NULL;
	}
}

/* Table primitives (ns_table.c, ns_map.c): they cannot fail, room having been made before. */
void ns_vm_link(struct ns *ns, struct ns_vm *vm);
void ns_vm_unlink(struct ns *ns, struct ns_vm *vm);
void ns_vm_free(struct ns_vm *vm);
/* The VM lets go of (or takes back) every device it holds, keeping its list. */
void ns_vm_devices_let_go(struct ns_vm *vm);
void ns_vm_devices_take_back(struct ns_vm *vm);
void ns_vm_dev_add(struct ns_vm *vm, struct ns_device *dev, bool shared);
void ns_vm_dev_drop(struct ns_vm *vm, struct ns_device *dev);
void ns_map_link(struct ns *ns, struct ns_mapping *m);
void ns_map_unlink(struct ns *ns, struct ns_mapping *m);
/* Frees an unlinked mapping (its attachments went before). */
void ns_map_free(struct ns *ns, struct ns_mapping *m);
/* Attachments (ns_attach.c): detaches every one of the mapping (before it is freed), or those
 * of the VM's mappings on bdf (before the VM lets go of the device); all or nothing. */
int ns_detach_all(struct ns *ns, struct ns_mapping *m, struct ns_err *err);
int ns_detach_device(struct ns *ns, struct ns_vm *vm, uint32_t bdf, struct ns_err *err);
/* Undoing and settling attachment changes (ns_txn.c): take back, or let go for good. */
void ns_attach_undo(struct ns *ns, const struct ns_event *ev, struct backend_attach *att);
void ns_attach_settle(const struct ns_event *ev, struct backend_attach *att);
/* Whether pasidd lost an attachment's descriptors (a restart without fd store): it cannot
 * detach it then. */
static inline bool
ns_att_lost(const struct backend_attach *att)
{
	return att->iommufd < 0 || att->devfd < 0;
}
/* Requester ID attachments (ns_devattach.c): detaches dev's (before the VM lets go of it),
 * a no-op without one; undoing and settling their changes. */
int ns_device_detach_rid(struct ns *ns, struct ns_vm *vm, struct ns_device *dev,
                         struct ns_err *err);
void ns_rid_undo(struct ns *ns, const struct ns_event *ev, struct ns_change *u);
void ns_rid_settle(const struct ns_event *ev, struct ns_change *u);
/* Closes descriptors a refused attach was given (each may be -1). */
void ns_close_fds(int iommufd, int devfd);
/* Frees an attachment and closes its descriptors (no kernel call). */
void ns_attachment_free(struct backend_attach *att);
/* Finds or creates the (possibly idle) entry of a work queue; NULL on ENOMEM. */
struct ns_wq *ns_wq_get(struct ns *ns, const char *ref);
/* Frees every entry (ns_destroy). */
void ns_wqs_free(struct ns *ns);
/* Finds or creates the (possibly idle) device; NULL on ENOMEM. */
struct ns_device *ns_device_get(struct ns *ns, uint32_t bdf);

/* Reservations (ns_resv.c): into and out of the sorted table (room made before), a mapping's
 * count in the reservation that holds its hPASID (delta +1 linked, -1 unlinked), and the first
 * number at or after p that no reservation holds (O(log reservations)). */
void ns_resv_link(struct ns *ns, struct ns_resv *r);
void ns_resv_unlink(struct ns *ns, struct ns_resv *r);
void ns_resv_count(struct ns *ns, const struct ns_mapping *m, int delta);
uint64_t ns_resv_skip(const struct ns *ns, uint64_t p);
void ns_resvs_free(struct ns *ns);

/* The PASIDs of one device attached by other processes (ns_foreign.c), an entry of
 * ns->foreign while it holds any. */
struct ns_foreign {
	struct idmap local;   /* local range (- local.first), sized at the first local one */
	struct u32map shared; /* shared hPASID -> non-NULL marker */
};

int ns_foreign_init(struct ns *ns);
void ns_foreign_destroy(struct ns *ns);
/* The foreign local PASIDs of device bdf, or NULL when it has none. */
const struct idmap *ns_foreign_local(const struct ns *ns, uint32_t bdf);
/* Foreign numbers that the table does not map, so that free counts leave them out: shared
 * ones (O(foreign shared PASIDs)) and local ones of dev (O(local range / 64)). */
uint32_t ns_foreign_shared_unmapped(const struct ns *ns);
uint32_t ns_foreign_local_unmapped(const struct ns *ns, const struct ns_device *dev);
/* The lowest device holding shared hPASID h foreign, for messages; UINT32_MAX for none. */
uint32_t ns_foreign_shared_device(const struct ns *ns, uint32_t h);

#endif
