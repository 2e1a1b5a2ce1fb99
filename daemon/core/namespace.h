/* The host PASID namespace: ranges, VMs, devices and each VM's gPASID→hPASID table. The core
 * of pasidd: pure bookkeeping plus calls through the kernel seam (backend.h); no I/O of its
 * own, no JSON, no event loop.
 *
 * ERRORS (the one convention of the daemon). A function that can fail returns 0, or a
 * non-negative value it documents, on success and a negative errno on failure. When the
 * failure is about what the caller asked for rather than the machine, it also fills the
 * optional struct ns_err: an ns_errc, the parameter at fault and a message for the person who
 * asked. Errors are reported once, where they reach a person (the edge turns an ns_err into a
 * JSON-RPC error; start-up logs), and nothing below main() ends the process.
 *
 * CHANGES. Every change is made inside a transaction: the operations below change the tables
 * at once (later steps of a request see earlier ones) and log how to undo them. A transaction
 * is opened by ns_txn_begin() around a whole request, or by the operation itself when none is
 * open. ns_txn_commit() first asks every observer whether the changes may stand (quota
 * accounting refuses what would go over a max, the journal what it has no room for); if one
 * refuses, every change is undone and nothing is heard of it. Otherwise each observer gets the
 * changes as typed events, in order. The core does not know who observes. While `replaying`
 * (journal replay) operations change the tables directly: no transaction, no events, no
 * kernel calls. */
#ifndef PASIDD_NAMESPACE_H
#define PASIDD_NAMESPACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "idmap.h"
#include "slab.h"
#include "u32map.h"

struct backend;
struct backend_attach;

#define NS_VM_NAME_MAX   64
#define NS_UUID_LEN      36
#define NS_BDF_LEN       12 /* DDDD:BB:DD.F */
#define NS_MAX_BITS      20
#define NS_MAX_COUNT     4096 /* mappings one allocation may make */
#define NS_MAX_OBSERVERS 8
#define NS_WQ_REF_MAX    31 /* "dsa12/wq12.7": an idxd device and one of its work queues */

enum ns_mode { NS_MODE_TRANSLATED, NS_MODE_IDENTITY };
enum ns_type { NS_TYPE_SHARED, NS_TYPE_LOCAL };

struct ns_range {
	uint32_t first, last;
};

/* What went wrong with a request, in the core's words; the edge maps it to a protocol error. */
enum ns_errc {
	NS_E_NONE,
	NS_E_INVALID,     /* a value that can never be right */
	NS_E_NOMEM,       /* the machine, not the request */
	NS_E_NOSPACE,     /* the state has no room to record the change */
	NS_E_EXHAUSTED,   /* no free PASID left in the range asked for */
	NS_E_QUOTA,       /* a cgroup or the VM is at its max */
	NS_E_NOT_FOUND,   /* no such VM, device, gPASID, hPASID or process */
	NS_E_CONFLICT,    /* already taken, or held by another owner */
	NS_E_PERMISSION,  /* the caller may not do this */
	NS_E_KERNEL,      /* the kernel refused */
	NS_E_UNSUPPORTED, /* the backend or kernel cannot do this */
	NS_E_RANGE,       /* outside the range that applies or the hardware width */
};

struct ns_err {
	enum ns_errc code;
	const char *param; /* the parameter at fault, or NULL */
	char message[200];
	/* NS_E_KERNEL: the kernel operation that refused (an ioctl's name) and its errno. */
	const char *kernel_op;
	int kernel_errno;
	/* NS_E_UNSUPPORTED: what is missing ("" when the message says it all). */
	char missing[160];
	/* NS_E_CONFLICT of ns_reserve(): the first live mapping in the way (lowest hPASID, then
	 * lowest BDF), or NULL. Valid until the state changes again (a refusal changes nothing). */
	const struct ns_mapping *map;
	/* NS_E_CONFLICT: the reservation in the way (a number reserved, an overlap), or NULL. */
	const struct ns_resv *resv;
};

/* Fills err (when not NULL) and returns the negative errno that goes with code. */
int ns_fail(struct ns_err *err, enum ns_errc code, const char *param, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* NS_E_KERNEL: op (a static string) failed with errnum; returns -errnum. */
int ns_fail_kernel(struct ns_err *err, const char *param, const char *op, int errnum,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* NS_E_UNSUPPORTED: missing names what this host lacks; returns -EOPNOTSUPP. */
int ns_fail_missing(struct ns_err *err, const char *param, const char *missing, const char *fmt,
                    ...) __attribute__((format(printf, 4, 5)));

struct ns_owner {
	pid_t pid;
	uint64_t starttime; /* field 22 of /proc/<pid>/stat: tells a reused pid apart */
	uid_t uid;
};

struct ns_vm;
struct ns_device;

/* An idxd work queue that shared mappings were handed out against ("dsa0/wq0.1"), with how
 * many of them name it. Interned: mappings point at one entry per WQ, which stays (idle) once
 * made, so that undoing a change never has to allocate or free one. */
struct ns_wq {
	char ref[NS_WQ_REF_MAX + 1];
	uint32_t nmaps;
};

/* 48 bytes, from the namespace's pool (ns->maps_pool): the tables hold its 32-bit id. */
struct ns_mapping {
	struct ns_vm *vm;
	struct ns_device *dev; /* local mappings only */
	struct ns_wq *wq;      /* shared mappings handed out for a work queue; NULL otherwise */
	/* Where the number is attached to a device's page table (pasid.attach): the kernel
	 * may be using it, so it is detached from each before it is free (DESIGN.md §5). */
	struct backend_attach **atts;
	uint32_t gpasid;
	uint32_t hpasid;
	uint32_t id;    /* its number in the pool (slab.h) */
	uint16_t natts; /* at most one attachment per device holding it */
	uint8_t attlog; /* atts has room for 1 << (attlog - 1) of them; 0: none */
	uint8_t type;   /* enum ns_type */
};

struct ns_vm_dev {
	struct ns_device *dev;
	bool shared;
};

/* A VM's mappings handed out for one work queue, counted as they change (wq.list answers
 * without walking every mapping). An entry stays, idle, once made. */
struct ns_vm_wq {
	struct ns_wq *wq;
	uint32_t nmaps;
};

struct ns_vm {
	char name[NS_VM_NAME_MAX + 1];
	char uuid[NS_UUID_LEN + 1];
	enum ns_mode mode;
	struct ns_owner owner;
	char *cgroup;
	/* gpasid -> struct ns_mapping: a dense window over the guest range (translated) or the
	 * shared range (identity), grown as it fills; numbers of the other range hashed. */
	struct u32map maps;
	struct idmap guest; /* gPASIDs in use within the local (guest) range */
	struct idmap ident; /* identity VMs only: gPASIDs in use within the shared range */
	struct ns_vm_dev *devs;
	unsigned ndevs, devs_cap;
	struct ns_vm_wq *wqs;
	unsigned nwqs, wqs_cap;
	unsigned nlocal;
	bool gone;   /* its owner exited (being reclaimed): the owner's descriptors are closed */
	void *watch; /* the host's owner watch */
	int pin;     /* a pidfd of the owner taken when it was named, for the watch; -1 */
};

struct ns_device {
	uint32_t bdf; /* domain<<16 | bus<<8 | dev<<3 | fn */
	bool shared;
	struct ns_vm *owner;   /* exclusive devices */
	unsigned nvms;         /* VMs holding it (1 for exclusive) */
	struct idmap local;    /* local PASIDs in use on it, lazily sized */
	struct u32map lmaps;   /* local hpasid -> struct ns_mapping (a window, as vm->maps) */
	uint32_t local_cursor; /* next-fit position within the local range */
	/* Its requester ID attached to a page table of its owner's (device.attach), or NULL.
	 * Only an exclusively assigned device has one; it goes before the device is released. */
	struct backend_attach *rid;
};

struct ns_resv;

struct ns_config {
	unsigned pasid_bits;
	struct ns_range local;
	struct ns_range shared;
	/* The configuration's reservations ([Namespace] Reserve=), which whoever owns them puts
	 * in place with ns_resv_set_config() once the state is replayed; ns_init keeps none. */
	struct ns_resv *reserve;
	size_t nreserve;
};

/* ---- events ---- */

enum ns_event_kind {
	NS_EV_VM_CREATED,   /* vm */
	NS_EV_VM_OWNER,     /* vm: handed to another owner process (vm->owner, vm->pin) */
	NS_EV_VM_DESTROYED, /* vm, with its devices released; its mappings went before */
	NS_EV_DEV_ASSIGNED, /* vm, bdf, shared */
	NS_EV_DEV_RELEASED, /* vm, bdf */
	NS_EV_MAP_ADDED,    /* map */
	NS_EV_MAP_REMOVED,  /* map, detached from the kernel and no longer indexed */
	NS_EV_MAP_ATTACHED, /* map, att (on att->bdf) */
	NS_EV_MAP_DETACHED, /* map, att: detached from the kernel */
	NS_EV_CURSOR,       /* cursor: the shared range's next-fit position */
	NS_EV_LCURSOR,      /* bdf, cursor: a device's local next-fit position */
	NS_EV_QUOTA_SET,    /* cgroup, max (UINT64_MAX: removed): a cgroup's runtime limit */
	NS_EV_DEV_ATTACHED, /* vm, bdf, att: the device's requester ID attached (device.attach) */
	NS_EV_DEV_DETACHED, /* vm, bdf, att: detached from the kernel, or replaced */
	NS_EV_RESERVED,     /* resv: an hPASID range reserved (ns_reserve) */
	NS_EV_UNRESERVED,   /* resv: that reservation gone (unreserved, expired or reloaded) */
};

/* What an observer is told. The objects stay readable until the observer returns, also those
 * that the change removed. */
struct ns_event {
	enum ns_event_kind kind;
	uint32_t bdf;
	uint32_t cursor;
	bool shared;
	const struct ns_vm *vm;
	const struct ns_mapping *map;
	const struct backend_attach *att;
	const char *cgroup;
	uint64_t max;
	const struct ns_resv *resv; /* NS_EV_RESERVED, NS_EV_UNRESERVED */
};

struct ns_observer {
	/* Before a transaction's changes stand: 0, or a negative errno with err filled to
	 * refuse them all. May be NULL. */
	int (*check)(void *ctx, const struct ns_event *evs, size_t n, struct ns_err *err);
	/* The changes stand: one call per event, in order. May be NULL. */
	void (*apply)(void *ctx, const struct ns_event *ev);
	void *ctx;
	/* Before the first apply of a transaction that stands, with all its events (the
	 * journal frames them, so that replay takes a transaction whole or not at all). May be
	 * NULL. */
	void (*begin)(void *ctx, const struct ns_event *evs, size_t n);
};

/* ---- reservations (ns_resv.c) ----
 * An administrator's hPASID range that pasidd hands nothing out of, except to an allocation
 * (or an insertion, import) that names it. A reservation is a fact about the host's numbers,
 * like the ranges: it may lie anywhere within the PASID width, also outside both ranges (then
 * it changes nothing), and no two overlap. A reservation cannot be made over a live mapping
 * (the hPASID, on any device for local ones); PASIDs attached around pasidd (ns_foreign.c) do
 * not count, they are not pasidd's. Removing one leaves the mappings handed out of it. */
#define NS_RESV_WHY_MAX 256

struct ns_resv {
	char name[NS_VM_NAME_MAX + 1]; /* VM-name syntax (ns_vm_name_valid) */
	uint32_t first, last;
	char why[NS_RESV_WHY_MAX + 1]; /* "" for none */
	uid_t uid;                     /* who reserved it (runtime ones) */
	pid_t pid;
	/* When it goes by itself, in the host's CLOCK_BOOTTIME nanoseconds (the state does not
	 * survive a reboot, and a suspended host does not stop that clock); 0: never. The core
	 * reads no clock: whoever keeps time removes it (ns_unreserve). */
	uint64_t expires;
	bool config; /* from the configuration: not journaled, nothing handed out of it */
	/* Kept by the namespace: */
	uint32_t nmaps;   /* live mappings whose hPASID lies in it (a local one per device) */
	uint32_t nshared; /* of those, shared ones */
	uint32_t cursor;  /* next-fit position of allocations naming it; not journaled */
};

struct ns_txn;

struct ns {
	struct ns_config cfg;
	bool replaying; /* applying journal records: no transaction, events or kernel calls */
	struct backend *be;
	struct slab maps_pool;    /* every struct ns_mapping */
	struct idmap shared_used; /* indexed by hpasid - shared.first */
	/* hpasid -> struct ns_mapping: a dense window over the whole shared range, allocated
	 * at ns_init (4 B per number; pages cost memory as mappings fill them). */
	struct u32map shared_maps;
	uint32_t shared_cursor; /* next-fit position (offset within the shared range) */
	struct ns_vm **vms;     /* sorted by name */
	unsigned nvms, vms_cap;
	struct u32map devices; /* bdf -> struct ns_device */
	uint32_t nlocal;       /* local mappings on all devices */
	uint32_t nattached;    /* attachments of mappings to devices */
	uint32_t nrid;         /* devices whose requester ID is attached (device.attach) */
	/* Backend attach [0] and detach [1] calls, done [0] or refused [1] (daemon.metrics);
	 * the undoing of a refused transaction is not counted. */
	uint64_t kernel_calls[2][2];
	struct ns_wq **wqs; /* sorted by ref */
	unsigned nwqs, wqs_cap;
	struct ns_observer observers[NS_MAX_OBSERVERS];
	unsigned nobservers;
	struct ns_txn *txn;   /* the open transaction, or NULL */
	struct ns_txn *spare; /* a closed transaction's log, kept for the next one, or NULL */
	/* PASIDs attached by other processes (ns_foreign.c), kept out of allocation. */
	struct u32map foreign;          /* bdf -> its foreign PASIDs (ns_internal.h) */
	struct idmap shared_foreign;    /* shared hPASIDs foreign on some device (- shared.first) */
	struct u32map shared_foreign_n; /* shared hPASID -> on how many devices (uintptr_t) */
	uint32_t nforeign;              /* (device, PASID) pairs held */
	/* Reservations (ns_resv.c), sorted by first (they do not overlap). */
	struct ns_resv **resvs;
	unsigned nresvs, resvs_cap;
	uint32_t resv_shared;      /* reserved numbers in the shared range */
	uint32_t resv_shared_used; /* ... of which mapped */
};

/* Checks ranges and width; on error returns -EINVAL and a message. */
int ns_config_check(const struct ns_config *cfg, char *why, size_t whylen);

int ns_init(struct ns *ns, const struct ns_config *cfg, struct backend *be);
/* Frees everything without events or kernel calls: the process is ending, not the VMs. */
void ns_destroy(struct ns *ns);

/* Adds an observer of every transaction from now on. -ENOSPC beyond NS_MAX_OBSERVERS. */
int ns_observe(struct ns *ns, const struct ns_observer *o);
void ns_unobserve(struct ns *ns, void *ctx);

/* Transactions (see CHANGES above). One may be open at a time: -EBUSY otherwise. */
int ns_txn_begin(struct ns *ns);
/* 0 once the changes stand and every observer heard of them; a negative errno with err filled
 * when an observer refused them, and then every change is undone. */
int ns_txn_commit(struct ns *ns, struct ns_err *err);
/* Undoes every change of the open transaction. */
void ns_txn_abort(struct ns *ns);
/* Whether a change has been made in the open transaction. */
bool ns_txn_dirty(const struct ns *ns);

/* ---- values: parsing and formatting shared by the protocol and the journal ---- */
bool ns_vm_name_valid(const char *name);
int ns_bdf_parse(const char *s, uint32_t *bdf);
void ns_bdf_format(uint32_t bdf, char out[NS_BDF_LEN + 1]);
const char *ns_mode_name(enum ns_mode m);
const char *ns_type_name(enum ns_type t);
/* "dsaN/wqN.M" or "iaxN/wqN.M": the same decimal N twice, no leading zeros, within
 * NS_WQ_REF_MAX. Whether such a WQ exists is the host's question, not this one's. */
bool ns_wq_ref_valid(const char *ref);

/* ---- VMs and devices ---- */
struct ns_vm *ns_vm_find(const struct ns *ns, const char *name);
/* pin: see struct ns_vm, taken over (closed with the VM); -1 for none. */
int ns_vm_create(struct ns *ns, const char *name, const char *uuid, enum ns_mode mode,
                 const struct ns_owner *owner, const char *cgroup, int pin, struct ns_vm **out,
                 struct ns_err *err);
/* Hands the VM to another owner process (pin as for ns_vm_create). Its PASIDs stay charged
 * where it was registered. */
int ns_vm_set_owner(struct ns *ns, struct ns_vm *vm, const struct ns_owner *owner, int pin,
                    struct ns_err *err);
/* Detaches and frees every PASID of the VM, releases its devices, destroys it: all or
 * nothing. Returns the number of PASIDs freed. */
int ns_vm_destroy(struct ns *ns, struct ns_vm *vm, struct ns_err *err);

/* Replay: the next-fit positions as recorded. -EINVAL beyond the range. */
int ns_set_cursor(struct ns *ns, uint32_t cursor);
int ns_set_local_cursor(struct ns *ns, uint32_t bdf, uint32_t cursor);

struct ns_device *ns_device_find(const struct ns *ns, uint32_t bdf);
const struct ns_vm_dev *ns_vm_device(const struct ns_vm *vm, uint32_t bdf);
int ns_device_assign(struct ns *ns, struct ns_vm *vm, uint32_t bdf, bool shared,
                     struct ns_err *err);
int ns_device_release(struct ns *ns, struct ns_vm *vm, uint32_t bdf, struct ns_err *err);

/* ---- mappings ---- */

/* An allocation request. gpasid < 0: let the namespace choose. */
struct ns_alloc_req {
	enum ns_type type;
	uint32_t bdf; /* local only */
	int64_t gpasid;
	unsigned count;
	const char *wq; /* shared only: the work queue they are for (ns_wq_ref_valid), or NULL */
	/* The reservation (its name) to take the hPASIDs from, or NULL: then none is taken from
	 * any reservation. A runtime reservation only: a config one hands out nothing. */
	const char *reservation;
};

/* All or nothing: on success out[0..count-1] hold the new mappings. */
int ns_alloc(struct ns *ns, struct ns_vm *vm, const struct ns_alloc_req *req,
             struct ns_mapping **out, struct ns_err *err);
/* Inserts one mapping with every number given (replay, import). Checks every rule. */
int ns_insert(struct ns *ns, struct ns_vm *vm, enum ns_type type, uint32_t bdf, uint32_t gpasid,
              uint32_t hpasid, const char *wq, struct ns_mapping **out, struct ns_err *err);
/* ns_insert taking the hPASID from the reservation named `reservation` (NULL: from none,
 * which is ns_insert; a number in a reservation it does not name is a conflict). */
int ns_insert_from(struct ns *ns, struct ns_vm *vm, enum ns_type type, uint32_t bdf,
                   uint32_t gpasid, uint32_t hpasid, const char *wq, const char *reservation,
                   struct ns_mapping **out, struct ns_err *err);
/* Detaches the mapping from the kernel if needed, then frees it. */
int ns_free(struct ns *ns, struct ns_vm *vm, uint32_t gpasid, struct ns_err *err);
/* ---- attachments (ns_attach.c) ----
 * Attaches the mapping's hPASID to a->pt_id on device a->bdf through the backend, which first
 * checks the descriptors and the device's PASID width. The namespace takes a's descriptors,
 * whatever the outcome (closed on failure, kept while attached). Attaching where the mapping
 * is attached already is a conflict, unless that attachment lost its descriptors (a restart
 * without fd store): then these replace them. While replaying, records the attachment with
 * its descriptors lost (-1) until the fd store gives them back (ns_attachment_adopt). */
int ns_attach(struct ns *ns, struct ns_vm *vm, uint32_t gpasid, const struct backend_attach *a,
              struct ns_err *err);
/* Detaches the mapping's hPASID from device bdf. */
int ns_detach(struct ns *ns, struct ns_vm *vm, uint32_t gpasid, uint32_t bdf, struct ns_err *err);
/* The mapping's attachment on bdf, or NULL. */
struct backend_attach *ns_attachment(const struct ns_mapping *m, uint32_t bdf);
/* Gives a replayed attachment its descriptors back (start-up, from the fd store); the
 * namespace owns them from here. -EEXIST when it has descriptors already. */
int ns_attachment_adopt(struct backend_attach *att, int iommufd, int devfd);
/* Attachments on the host (for daemon.status), counted as they change. */
uint32_t ns_attached(const struct ns *ns);
/* ---- requester ID attachments (ns_devattach.c) ----
 * device.attach: the VMM's RID attach of a device made by pasidd on its behalf (with the BPF
 * gate in strict mode no other process may), kept as state like a PASID attachment: the
 * namespace takes a's descriptors whatever the outcome and keeps them while attached, so
 * that it can detach whatever becomes of the VMM. The device must be assigned to vm
 * exclusively: a shared device is the host's, and no VM's page table may take its RID.
 * Attaching an attached device replaces its page table (VFIO replaces too): one transaction
 * detaches the old attachment (without a kernel call, the kernel replaced it) and records
 * the new. Teardown (device.release, vm.unregister, the owner's exit) detaches the device's
 * PASIDs first, then its RID, then frees numbers. While replaying, records the attachment
 * with its descriptors lost until the fd store gives them back (ns_attachment_adopt). */
int ns_device_attach(struct ns *ns, struct ns_vm *vm, const struct backend_attach *a,
                     struct ns_err *err);
int ns_device_detach(struct ns *ns, struct ns_vm *vm, uint32_t bdf, struct ns_err *err);
/* Devices whose requester ID is attached (daemon.status). */
uint32_t ns_rid_attached(const struct ns *ns);
/* Records a cgroup's runtime PASID limit (quota.set) as a change of the namespace's state, for
 * the observers to apply and keep; max UINT64_MAX removes it. */
int ns_quota_set(struct ns *ns, const char *cgroup, uint64_t max, struct ns_err *err);

struct ns_mapping *ns_lookup_gpasid(const struct ns_vm *vm, uint32_t gpasid);
/* A local hPASID may live on several devices: bdf picks one, UINT32_MAX the lowest BDF. */
struct ns_mapping *ns_lookup_hpasid(const struct ns *ns, uint32_t hpasid, uint32_t bdf);

/* The VM's mapping with the lowest gPASID above `after` (0 for the first), or NULL: walks
 * a VM's table in order without sorting it. */
struct ns_mapping *ns_vm_next(const struct ns *ns, const struct ns_vm *vm, uint32_t after);
/* Index in ns->vms of the first VM whose name sorts at or after `name`. */
unsigned ns_vm_lower_bound(const struct ns *ns, const char *name);

/* The work queue of that name that mappings were ever handed out for, or NULL. */
struct ns_wq *ns_wq_find(const struct ns *ns, const char *ref);

uint32_t ns_shared_used(const struct ns *ns);
/* Shared hPASIDs that can be handed out: neither mapped nor attached around pasidd nor
 * reserved. */
uint32_t ns_shared_free(const struct ns *ns);

/* ---- PASIDs attached around pasidd (ns_foreign.c) ----
 * The BPF observer sees every attach of a PASID to a device, also those another process makes
 * without pasidd. Such a PASID is in use on the device whatever pasidd's table says, so until
 * it is seen detached pasidd hands it out to nobody: a shared one on no device (shared hPASIDs
 * are host-unique), a local one on that device only (local PASIDs are per device). A PASID
 * outside both ranges is nothing of pasidd's and is ignored. Counted per (device, PASID): two
 * devices holding the same foreign PASID release it independently.
 *
 * These are facts about the kernel observed at run time, not state that pasidd decided: they
 * are neither journaled nor part of transactions or events, and no observer hears of them.
 * Known limit: after a restart the table starts empty of them, as the observer cannot see
 * attaches made while pasidd was down, though the kernel still holds those.
 *
 * A foreign attach of a number that pasidd's table maps is recorded too (the observer raises
 * its alarm anyway): if the mapping is freed before the foreign detach is seen, the number
 * stays out of circulation. Foreign entries are not mappings: ns_check's invariants about
 * mappings do not count them. */

/* Another process attached pasid to device bdf: 1 when newly recorded, 0 when there was
 * nothing to record (held already, or outside both ranges), -ENOMEM. */
int ns_foreign_take(struct ns *ns, uint32_t bdf, uint32_t pasid);
/* pasid was seen detached from device bdf: 0 once released, -ENOENT if it was not held. */
int ns_foreign_release(struct ns *ns, uint32_t bdf, uint32_t pasid);
bool ns_foreign_held(const struct ns *ns, uint32_t bdf, uint32_t pasid);
/* (device, PASID) pairs held now (daemon.status.bpf.observer.held). */
uint32_t ns_foreign_count(const struct ns *ns);

/* ---- reservations (see struct ns_resv) ---- */

/* Reserves spec's range under spec's name ("" for the default, "FIRST-LAST" in decimal) with
 * its why, owner, expiry and source; the counts and the cursor are the namespace's. Refused:
 * an invalid name or why (NS_E_INVALID), first > last or beyond the width (NS_E_RANGE, naming
 * "last" or "first"), a name taken or an overlap with another reservation (NS_E_CONFLICT
 * naming it), a live mapping in it (NS_E_CONFLICT with err->map). out: the reservation. */
int ns_reserve(struct ns *ns, const struct ns_resv *spec, struct ns_resv **out, struct ns_err *err);
/* Removes a reservation; the mappings handed out of it stay. */
int ns_unreserve(struct ns *ns, struct ns_resv *r, struct ns_err *err);
struct ns_resv *ns_resv_find(const struct ns *ns, const char *name);
/* The reservation named `name` that an allocation or import may take PASIDs from (*out): a
 * runtime one. 0, or the error of none (NS_E_NOT_FOUND) or of the configuration's, which
 * hands nothing out (NS_E_CONFLICT), param "reservation". */
int ns_resv_named(const struct ns *ns, const char *name, struct ns_resv **out, struct ns_err *err);
/* The reservation that holds pasid, or NULL. O(log reservations). */
struct ns_resv *ns_resv_at(const struct ns *ns, uint32_t pasid);
/* The first live mapping whose hPASID lies in first..last (see err->map), or NULL. */
const struct ns_mapping *ns_first_mapping_in(const struct ns *ns, uint32_t first, uint32_t last);
/* The earliest expiry of a reservation (CLOCK_BOOTTIME ns), 0 when none expires. */
uint64_t ns_resv_next_expiry(const struct ns *ns);
/* Removes every reservation expired at `now` (each a change of its own transaction, or of the
 * open one). The number removed, or a negative errno. */
int ns_resv_expire(struct ns *ns, uint64_t now, struct ns_err *err);
/* Puts the configuration's reservations in place of those in force (config ones only), all or
 * nothing: each refused as ns_reserve refuses, also over a runtime one or a live mapping; *bad
 * is then the index of the spec refused. */
int ns_resv_set_config(struct ns *ns, const struct ns_resv *specs, size_t n, size_t *bad,
                       struct ns_err *err);
/* Reserved shared numbers that no mapping holds (not handed out without naming them). */
uint32_t ns_resv_shared_free(const struct ns *ns);

/* Verifies invariants 1–4 and every index against every other. 0, or -EUCLEAN and the
 * first broken rule in why. O(state). */
int ns_check(const struct ns *ns, char *why, size_t whylen);

#endif
