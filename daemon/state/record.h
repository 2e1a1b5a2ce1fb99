/* The namespace's changes as journal records, and their replay. A compact little-endian
 * binary form: start-up replays up to a million of them, so each must decode in well under
 * a microsecond.
 *
 * RECORD FORMAT, version 3 (REC_FORMAT_VERSION). A record is the payload of one journal or
 * snapshot frame (journal_format.c frames it and checks it; nothing here repeats that).
 *
 *   Integers    u8, u32, u64: little-endian, unsigned; a signed value (a pid) is stored as
 *               its two's-complement bits in a u32.
 *   Strings     str = u32 byte count n, then n bytes: no NUL among them and none after them.
 *               Bytes are stored as given: VM names are ASCII (ns_vm_name_valid()), cgroup
 *               paths are the kernel's bytes. A reader refuses n beyond the field's limit.
 *   BDF         u32 = domain << 16 | bus << 8 | device << 3 | function.
 *   Head        every record starts with u8 op, then str vm: the VM it is about (at most
 *               NS_VM_NAME_MAX bytes), empty for the records that are about no VM.
 *
 *   op  name         after the head                                       since
 *   1   REC_VM       u8 mode (0 translated, 1 identity)                   first
 *                    u32 owner pid, u64 owner start time (field 22 of
 *                    /proc/<pid>/stat), u32 owner uid
 *                    uuid: 36 bytes of text (0f8fad5b-d9cb-469f-a165-...),
 *                    no length before it
 *                    str cgroup (at most 4096 bytes)
 *   2   REC_UNVM     nothing more: the VM is gone, with all it held       first
 *   3   REC_DEV      u32 bdf, u8 shared (0 exclusive, else shared)        first
 *   4   REC_UNDEV    u32 bdf                                              first
 *   5   REC_MAP      u8 type (0 shared, 1 local), u32 gPASID, u32 hPASID, first
 *                    u32 bdf (a local mapping's device; 0 for shared)
 *                    since v2: str wq, the idxd work queue a shared        v2 wq
 *                    mapping was handed out for ("dsa0/wq0.1", at most
 *                    NS_WQ_REF_MAX bytes; empty for none)
 *   6   REC_UNMAP    u32 gPASID                                           first
 *   7   REC_CURSOR   vm empty; u32 the shared range's next-fit position,  first
 *                    as an offset from its first PASID
 *   8   REC_LCURSOR  vm empty; u32 bdf, u32 that device's next-fit        first
 *                    position in the local range, as an offset
 *   9   REC_QUOTA    vm empty; str cgroup (canonical path, at most 4095   quota
 *                    bytes), u64 runtime PASID limit: UINT64_MAX removes
 *                    it, anything else is at most INT64_MAX
 *   10  REC_OWNER    u32 owner pid, u64 owner start time, u32 owner uid:  owner
 *                    the VM handed to another owner process (vm.register   handover
 *                    by an admin); its PASIDs stay charged where they were
 *   11  REC_ATTACH   u32 gPASID, u32 bdf, u32 dev_id, u32 pt_id: the      v1
 *                    mapping's hPASID attached to page table pt_id of     attach
 *                    the device (pasid.attach; dev_id its object in the
 *                    VMM's iommufd). Replayed without descriptors: lost
 *                    until the fd store gives them back
 *   12  REC_DETACH   u32 gPASID, u32 bdf: that attachment gone            v1 attach
 *   13  REC_RESERVE  vm empty; str name (at most NS_VM_NAME_MAX bytes),  v3 reserve
 *                    u32 first, u32 last, str why (at most
 *                    NS_RESV_WHY_MAX bytes, empty for none), u32 uid and
 *                    u32 pid of the peer that reserved, u64 expiry in
 *                    CLOCK_BOOTTIME nanoseconds (0: never): a runtime
 *                    reservation (range.reserve); config ones are never
 *                    recorded. One already expired at replay is dropped
 *                    by the daemon right after (journaled as REC_UNRESERVE)
 *   14  REC_UNRESERVE  vm empty; str name: that reservation gone          v3 reserve
 *                    (range.unreserve or its expiry)
 *   15  REC_DEVATTACH u32 bdf, u32 dev_id, u32 pt_id: the device's       v3 device
 *                    requester ID attached to page table pt_id           attach
 *                    (device.attach; the device assigned to the VM
 *                    exclusively). Replayed without descriptors, as
 *                    REC_ATTACH. A replace is a REC_DEVDETACH, then this
 *   16  REC_DEVDETACH u32 bdf: that requester ID attachment gone         v3 device
 *                                                                        attach
 *   17  REC_TXN      vm empty; u32 n >= 1: the n records that follow are  v3 txn
 *                    one transaction (a commit writes it before the
 *                    records of every transaction of two or more changes
 *                    besides next-fit positions, such as a vm.import).
 *                    Replay holds them and applies them once the n-th is
 *                    read; when the journal ends before that (a crash in
 *                    the middle of the commit's write), none of them.
 *                    Never in a snapshot.
 *   18  REC_MAP_RUN  u8 type, u32 gPASID g0, u32 hPASID h0, u32 n >= 1,   v3 runs
 *                    u32 bdf, str wq: as REC_MAP, n mappings g0+i ->
 *                    h0+i (i < n) of the same type, device and work
 *                    queue; neither g0+n-1 nor h0+n-1 passes 2^32-1.
 *                    What a count allocation that got consecutive
 *                    numbers writes instead of n REC_MAPs (one record in
 *                    a REC_TXN's count); replay applies them in order
 *
 * since: "first" came with the journal itself (3ff982d), "quota" with cgroup PASID quotas
 * (6c2e3f4), "owner handover" with vm.register handing a VM over (e7d3caa), all three in
 * version 0; "v1 attach" with attachments journaled (b87da12, issue 10), in version 1; "v2 wq"
 * with mappings for idxd work queues (issue 11), in version 2; "v3 device attach" with
 * device.attach (issue 12), "v3 reserve" with administrator range reservations and "v3 txn"
 * with vm.import (issue 14), "v3 runs" with run records (issue 15), all in version 3. A
 * record must end exactly where its last field does, and a mode or a type other than those
 * above makes it malformed, as does an op of a later version than the file's. REC_QUOTA
 * records go to the quotas (rec_apply_quota()), all others to the namespace (rec_apply()). A
 * snapshot holds first the REC_RESERVE of every runtime reservation (before the mappings
 * handed out of them), then, per VM in name order, its REC_VM, REC_DEV (each followed by the
 * device's REC_DEVATTACH when its requester ID is attached) and its mappings in gPASID
 * order: a REC_MAP_RUN for each run of consecutive ones without attachments, a REC_MAP for
 * every other, each REC_MAP followed by the REC_ATTACH of every attachment of the mapping
 * (a snapshot before version 3 holds REC_MAPs only, in no order), then every device's
 * REC_LCURSOR, one REC_CURSOR and the REC_QUOTA of every runtime limit (rec_snapshot(),
 * rec_snapshot_quota()).
 *
 * VERSIONS. Every journal and snapshot file carries the version of the records it holds in
 * its header (journal_set_format(); the layout of the header is journal_format.c's).
 *   0  the first: ops 1-10, which every file written before version 1 holds, including
 *      those written before the version was numbered (the field was then "reserved, 0").
 *      REC_QUOTA and REC_OWNER came later within version 0: a pasidd older than them
 *      refuses a file that holds them as damaged.
 *   1  attachments (REC_ATTACH, REC_DETACH): a pasidd of version 0 would refuse them as
 *      damage, so they could not come within version 0. Ops 1-10 are unchanged.
 *   2  REC_MAP ends with the mapping's work queue: a pasidd of version 1 would find the
 *      record longer than its fields and refuse it as damage. No new op; a REC_MAP of a
 *      file of version 0 or 1 is read without it (no work queue).
 *   3  new ops, which a pasidd of version 2 would refuse as damage: reservations
 *      (REC_RESERVE 13, REC_UNRESERVE 14), requester ID attachments (REC_DEVATTACH 15,
 *      REC_DEVDETACH 16), REC_TXN (17), which frames a transaction's records, and
 *      REC_MAP_RUN (18). Ops 1-12 are unchanged; files of versions 0-2 replay as before.
 * This pasidd reads versions REC_FORMAT_OLDEST to REC_FORMAT_VERSION and writes
 * REC_FORMAT_VERSION only. On a directory of version 0 it replays the files as version 0
 * (an op of version 1 in them is damage), then writes a snapshot of version 1 before it
 * appends anything (state.c); pasidd -n writes nothing, and --salvage writes version 1. A
 * file of any other version is refused, with its name and the versions read, and nothing is
 * changed; that is never mistaken for damage.
 *
 * Changing the format. Any change a reader of the current version would misread or refuse
 * as damage, a new op included, takes a new REC_FORMAT_VERSION, and this table records it.
 * A pasidd of version N+1 must still start on a directory of version N, or an upgrade loses
 * the state: it then reads version N's records (journal_read_formats() lets the journal take
 * both, journal_file_format() says which one a file holds, rec_apply_version() reads it),
 * converts them, and compacts before it appends anything (state.c), so that no file ever
 * holds records of two versions. */
#ifndef PASIDD_RECORD_H
#define PASIDD_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "namespace.h"

/* The version of the layouts above; written in every file's header. */
#define REC_FORMAT_VERSION 3
/* The oldest version still read, and upgraded by compaction. */
#define REC_FORMAT_OLDEST 0

struct quota;

enum rec_op {
	REC_VM = 1,    /* a VM and its owner */
	REC_UNVM,      /* a VM gone, with everything it held */
	REC_DEV,       /* device assigned to a VM */
	REC_UNDEV,     /* device released */
	REC_MAP,       /* one mapping */
	REC_UNMAP,     /* one mapping freed */
	REC_CURSOR,    /* the shared range's next-fit position */
	REC_LCURSOR,   /* a device's local next-fit position */
	REC_QUOTA,     /* a cgroup's runtime PASID limit (quota.set), applied to the quotas */
	REC_OWNER,     /* a VM handed to another owner process (vm.register by an admin) */
	REC_ATTACH,    /* a mapping attached to a device's page table (version 1) */
	REC_DETACH,    /* that attachment gone (version 1) */
	REC_RESERVE,   /* a runtime hPASID reservation (version 3) */
	REC_UNRESERVE, /* that reservation gone (version 3) */
	REC_DEVATTACH, /* a device's requester ID attached to a page table (version 3) */
	REC_DEVDETACH, /* that attachment gone (version 3) */
	REC_TXN,       /* the records of one transaction follow (version 3) */
	REC_MAP_RUN,   /* consecutive mappings (version 3) */
};
#define REC_OP_MAX REC_MAP_RUN

#define REC_BUF_MAX   4608 /* larger than any record */
#define REC_UNMAP_MAX 96   /* an UNMAP record with its journal framing, at most */
#define REC_TXN_SIZE  9    /* a REC_TXN record */

/* Encoders: each writes one record into buf (REC_BUF_MAX bytes) and returns its length. */
size_t rec_vm(uint8_t *buf, const struct ns_vm *vm);
size_t rec_unvm(uint8_t *buf, const char *vm);
size_t rec_owner(uint8_t *buf, const struct ns_vm *vm);
size_t rec_dev(uint8_t *buf, const char *vm, uint32_t bdf, bool shared);
size_t rec_undev(uint8_t *buf, const char *vm, uint32_t bdf);
size_t rec_map(uint8_t *buf, const struct ns_mapping *m);
/* n mappings starting at first, which the caller found consecutive (rec_map_follows()). */
size_t rec_map_run(uint8_t *buf, const struct ns_mapping *first, uint32_t n);
/* Whether m is the mapping right after prev in a run: same VM, type, device and work queue,
 * gPASID and hPASID one more each. */
bool rec_map_follows(const struct ns_mapping *prev, const struct ns_mapping *m);
size_t rec_unmap(uint8_t *buf, const char *vm, uint32_t gpasid);
size_t rec_cursor(uint8_t *buf, uint32_t cursor);
size_t rec_lcursor(uint8_t *buf, uint32_t bdf, uint32_t cursor);
/* max QUOTA_NO_LIMIT: the limit is removed. */
size_t rec_quota(uint8_t *buf, const char *cgroup, uint64_t max);
struct backend_attach;
size_t rec_attach(uint8_t *buf, const char *vm, uint32_t gpasid, const struct backend_attach *a);
size_t rec_detach(uint8_t *buf, const char *vm, uint32_t gpasid, uint32_t bdf);
size_t rec_txn(uint8_t *buf, uint32_t n);
/* Whether a record is a well-formed REC_TXN of a file of format version `version`, and then
 * how many records it frames. */
bool rec_is_txn(const void *rec, size_t len, uint32_t version, uint32_t *n);
size_t rec_devattach(uint8_t *buf, const char *vm, const struct backend_attach *a);
size_t rec_devdetach(uint8_t *buf, const char *vm, uint32_t bdf);
size_t rec_reserve(uint8_t *buf, const struct ns_resv *r);
size_t rec_unreserve(uint8_t *buf, const char *name);

struct ns_event;
/* The record of a namespace event (0 bytes for an event that is not kept) ... */
size_t rec_encode_event(uint8_t *buf, const struct ns_event *ev);
/* ... and at most how long it is, framing excluded (0: not kept). */
size_t rec_event_max(const struct ns_event *ev);

/* Applies one record of format version `version` to ns (which must be replaying). 0, or
 * -EUCLEAN with why; a record that does not decode is refused before any of it is applied. */
int rec_apply_version(struct ns *ns, uint32_t version, const void *rec, size_t len, char *why,
                      size_t whylen);
/* The same for a record of REC_FORMAT_VERSION. */
int rec_apply(struct ns *ns, const void *rec, size_t len, char *why, size_t whylen);

/* Every record that rebuilds ns from nothing, in an order rec_apply accepts. */
int rec_snapshot(const struct ns *ns, int (*add)(void *ctx, const void *rec, size_t len),
                 void *ctx);

/* Whether a record is a REC_QUOTA, which goes to rec_apply_quota rather than rec_apply. */
bool rec_is_quota(const void *rec, size_t len);
/* Applies a REC_QUOTA to q. 0, or -EUCLEAN with why. */
int rec_apply_quota(struct quota *q, const void *rec, size_t len, char *why, size_t whylen);
/* The records that rebuild q's runtime limits. */
int rec_snapshot_quota(const struct quota *q, int (*add)(void *ctx, const void *rec, size_t len),
                       void *ctx);

/* ---- reading a record without applying it ---- */

/* A record's fields; which ones are set depends on op. */
struct rec_info {
	enum rec_op op;
	uint8_t mode;            /* REC_VM */
	int32_t pid;             /* REC_VM, REC_OWNER: the owner; REC_RESERVE: who reserved */
	uint64_t starttime;      /* REC_VM, REC_OWNER */
	uint32_t uid;            /* REC_VM, REC_OWNER, REC_RESERVE */
	uint8_t type;            /* REC_MAP */
	uint32_t gpasid, hpasid; /* REC_MAP; gpasid also REC_UNMAP, REC_ATTACH, REC_DETACH */
	uint32_t bdf;            /* REC_MAP (local), REC_DEV, REC_UNDEV, REC_LCURSOR, REC_ATTACH,
	                          * REC_DETACH, REC_DEVATTACH, REC_DEVDETACH */
	uint32_t dev_id, pt_id;  /* REC_ATTACH, REC_DEVATTACH */
	bool shared;             /* REC_DEV */
	uint32_t cursor;         /* REC_CURSOR, REC_LCURSOR; REC_TXN: its n */
	uint64_t max;            /* REC_QUOTA */
	uint32_t first, last;    /* REC_RESERVE */
	uint64_t expires;        /* REC_RESERVE */
	uint32_t count;          /* REC_MAP_RUN: n, its other fields as REC_MAP's (the first) */
	/* The strings last: decoding clears the numbers above and empties these, rather than
	 * clearing 4 KiB for every record replayed. */
	char vm[NS_VM_NAME_MAX + 1];
	char uuid[NS_UUID_LEN + 1];    /* REC_VM */
	char cgroup[4097];             /* REC_VM, REC_QUOTA */
	char wq[NS_WQ_REF_MAX + 1];    /* REC_MAP: "" for none */
	char name[NS_VM_NAME_MAX + 1]; /* REC_RESERVE, REC_UNRESERVE */
	char why[NS_RESV_WHY_MAX + 1]; /* REC_RESERVE */
};

/* Decodes a record of format version `version`; 0, or -EUCLEAN when the bytes are not a
 * well-formed record of that version (op is set whenever the record is not empty, also then;
 * an op the version does not have is not well-formed). */
int rec_decode_version(const void *rec, size_t len, uint32_t version, struct rec_info *out);
/* The same for a record of REC_FORMAT_VERSION. */
int rec_decode(const void *rec, size_t len, struct rec_info *out);

#endif
