/* A VM recreated from a migration document (vm.import, DESIGN.md §8): the checks that find
 * every conflict at once, and the import itself inside the open transaction. The document is
 * parsed by the edge; here it is plain numbers, already mapped to this host's devices and work
 * queues. */
#ifndef PASIDD_NS_IMPORT_H
#define PASIDD_NS_IMPORT_H

#include "namespace.h"

/* A document holds at most this many mappings: a VM cannot hold more PASIDs than the PASID
 * space has, and the edge refuses a longer list before it allocates anything per mapping. */
#define NS_IMPORT_MAX_MAPPINGS (1u << NS_MAX_BITS)
/* ... and at most this many devices. */
#define NS_IMPORT_MAX_DEVICES 1024

struct ns_import_dev {
	uint32_t bdf; /* on this host (mapped) */
	bool shared;
};

struct ns_import_map {
	uint32_t gpasid;
	enum ns_type type;
	uint32_t bdf;   /* local: the device on this host (mapped) */
	const char *wq; /* shared: the work queue on this host (mapped), or NULL */
};

struct ns_import {
	const char *name;
	char uuid[NS_UUID_LEN + 1];
	enum ns_mode mode;
	unsigned pasid_bits; /* the PASID width the guest was given (the source host's) */
	struct ns_import_dev *devs;
	unsigned ndevs;
	struct ns_import_map *maps; /* sorted by gpasid, no two alike */
	size_t nmaps;
	/* The runtime reservation (range.reserve) whose PASIDs the identity and local mappings
	 * may take, the destination having reserved them ahead; NULL: none. */
	const char *reservation;
};

/* What stands in an import's way (vm.import dry_run: conflicts[].what). */
enum ns_conflict_what {
	NS_CF_TAKEN,     /* hPASID/PASID in use, device held by another VM, VM name taken */
	NS_CF_RESERVED,  /* inside a reservation (range.reserve) */
	NS_CF_RANGE,     /* outside the local/shared range or the host's PASID width */
	NS_CF_WIDTH,     /* beyond a device's PASID width, or the guest's width beyond the host's */
	NS_CF_QUOTA,     /* the owner's cgroup path or MaxVMsPerUid would go over a max */
	NS_CF_MISSING,   /* device or work queue not on this host */
	NS_CF_WQ,        /* a work queue that cannot take PASIDs for VMs */
	NS_CF_EXHAUSTED, /* fewer free shared hPASIDs than the translated mappings need */
};

struct ns_conflict {
	int64_t gpasid; /* -1: not about one mapping */
	int64_t bdf;    /* -1: not about one device */
	enum ns_conflict_what what;
	enum ns_errc code; /* the error a real import refuses with */
	char why[200];
};

const char *ns_conflict_name(enum ns_conflict_what w);

/* Reports every conflict that importing im on this host would meet, through cb in this order:
 * the VM name, the width, each device, each mapping by gPASID, the shared hPASIDs needed.
 * Changes nothing. Quotas and work queues are the host's and the edge's to check. Returns how
 * many were reported. */
size_t ns_import_check(const struct ns *ns, const struct ns_import *im,
                       void (*cb)(void *ctx, const struct ns_conflict *c), void *ctx);

/* Creates the VM of im with its devices and mappings in the open transaction (the caller
 * commits or aborts it): translated shared mappings get fresh hPASIDs by next-fit, identity
 * ones the same numbers, local ones the same PASIDs on their devices. owner, cgroup and pin as
 * for ns_vm_create. All or nothing; the first failure with err. */
int ns_import(struct ns *ns, const struct ns_import *im, const struct ns_owner *owner,
              const char *cgroup, int pin, struct ns_vm **out, struct ns_err *err);

/* The name of the reservation that holds hPASID h and that im does not name, or NULL: what
 * keeps h from the import. */
const char *ns_import_reserved_by(const struct ns *ns, const struct ns_import *im, uint32_t h);

#endif
