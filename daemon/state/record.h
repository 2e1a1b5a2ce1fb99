/* The namespace's changes as journal records, and their replay. A compact little-endian
 * binary form: start-up replays up to a million of them, so each must decode in well under
 * a microsecond. */
#ifndef PASIDD_RECORD_H
#define PASIDD_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ns;
struct ns_vm;
struct ns_mapping;
struct quota;

enum rec_op {
	REC_VM = 1,  /* a VM and its owner */
	REC_UNVM,    /* a VM gone, with everything it held */
	REC_DEV,     /* device assigned to a VM */
	REC_UNDEV,   /* device released */
	REC_MAP,     /* one mapping */
	REC_UNMAP,   /* one mapping freed */
	REC_CURSOR,  /* the shared range's next-fit position */
	REC_LCURSOR, /* a device's local next-fit position */
	REC_QUOTA,   /* a cgroup's runtime PASID limit (quota.set), applied to the quotas */
	REC_OWNER,   /* a VM handed to another owner process (vm.register by an admin) */
};

#define REC_BUF_MAX   4608 /* larger than any record */
#define REC_UNMAP_MAX 96   /* an UNMAP record with its journal framing, at most */

size_t rec_vm(uint8_t *buf, const struct ns_vm *vm);
size_t rec_unvm(uint8_t *buf, const char *vm);
size_t rec_owner(uint8_t *buf, const struct ns_vm *vm);
size_t rec_dev(uint8_t *buf, const char *vm, uint32_t bdf, bool shared);
size_t rec_undev(uint8_t *buf, const char *vm, uint32_t bdf);
size_t rec_map(uint8_t *buf, const struct ns_mapping *m);
size_t rec_unmap(uint8_t *buf, const char *vm, uint32_t gpasid);
size_t rec_cursor(uint8_t *buf, uint32_t cursor);
size_t rec_lcursor(uint8_t *buf, uint32_t bdf, uint32_t cursor);
/* max QUOTA_NO_LIMIT: the limit is removed. */
size_t rec_quota(uint8_t *buf, const char *cgroup, uint64_t max);

struct ns_event;
/* The record of a namespace event (0 bytes for an event that is not kept) ... */
size_t rec_encode_event(uint8_t *buf, const struct ns_event *ev);
/* ... and at most how long it is, framing excluded (0: not kept). */
size_t rec_event_max(const struct ns_event *ev);

/* Applies one record to ns (which must be replaying). 0, or -EUCLEAN with why. */
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

/* ---- reading a record without applying it (pasidd --salvage) ---- */

#include "namespace.h"

/* A record's fields; which ones are set depends on op. */
struct rec_info {
	enum rec_op op;
	char vm[NS_VM_NAME_MAX + 1];
	uint8_t mode;               /* REC_VM */
	int32_t pid;                /* REC_VM: the owner */
	uint64_t starttime;         /* REC_VM */
	uint32_t uid;               /* REC_VM */
	char uuid[NS_UUID_LEN + 1]; /* REC_VM */
	char cgroup[4097];          /* REC_VM, REC_QUOTA */
	uint8_t type;               /* REC_MAP */
	uint32_t gpasid, hpasid;    /* REC_MAP; gpasid also REC_UNMAP */
	uint32_t bdf;               /* REC_MAP (local), REC_DEV, REC_UNDEV, REC_LCURSOR */
	bool shared;                /* REC_DEV */
	uint32_t cursor;            /* REC_CURSOR, REC_LCURSOR */
};

/* Decodes a record; 0, or -EUCLEAN when the bytes are not a well-formed record. */
int rec_decode(const void *rec, size_t len, struct rec_info *out);

#endif
