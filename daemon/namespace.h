/* The host PASID namespace: ranges, VMs, devices and each VM's gPASID→hPASID table.
 * Pure bookkeeping plus backend calls for teardown; no I/O, no JSON. */
#ifndef PASIDD_NAMESPACE_H
#define PASIDD_NAMESPACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "idmap.h"
#include "u32map.h"

struct backend;

#define NS_VM_NAME_MAX 64
#define NS_UUID_LEN    36
#define NS_BDF_LEN     12 /* DDDD:BB:DD.F */
#define NS_MAX_BITS    20

enum ns_mode { NS_MODE_TRANSLATED, NS_MODE_IDENTITY };
enum ns_type { NS_TYPE_SHARED, NS_TYPE_LOCAL };

struct ns_range {
	uint32_t first, last;
};

/* A failed operation's reason, turned into a protocol error at the edge. */
struct ns_err {
	int code;          /* PROTO_E_* */
	const char *param; /* the parameter at fault, or NULL */
	char message[160];
};

struct ns_owner {
	pid_t pid;
	uint64_t starttime; /* field 22 of /proc/<pid>/stat: tells a reused pid apart */
	uid_t uid;
};

struct ns_vm;
struct ns_device;

struct ns_mapping {
	struct ns_vm *vm;
	struct ns_device *dev; /* local mappings only */
	uint32_t gpasid;
	uint32_t hpasid;
	enum ns_type type;
	bool attached; /* the backend may be using it: detach before the number is free */
};

struct ns_vm_dev {
	struct ns_device *dev;
	bool shared;
};

struct ns_vm {
	char name[NS_VM_NAME_MAX + 1];
	char uuid[NS_UUID_LEN + 1];
	enum ns_mode mode;
	struct ns_owner owner;
	char *cgroup;
	struct u32map maps; /* gpasid -> struct ns_mapping */
	struct idmap guest; /* gPASIDs in use within the local (guest) range */
	struct idmap ident; /* identity VMs only: gPASIDs in use within the shared range */
	struct ns_vm_dev *devs;
	unsigned ndevs;
	unsigned nlocal;
	void *watch; /* the daemon's owner watch */
};

struct ns_device {
	uint32_t bdf; /* domain<<16 | bus<<8 | dev<<3 | fn */
	bool shared;
	struct ns_vm *owner;   /* exclusive devices */
	unsigned nvms;         /* VMs holding it (1 for exclusive) */
	struct idmap local;    /* local PASIDs in use on it, lazily sized */
	struct u32map lmaps;   /* local hpasid -> struct ns_mapping */
	uint32_t local_cursor; /* next-fit position within the local range */
};

struct ns_config {
	unsigned pasid_bits;
	struct ns_range local;
	struct ns_range shared;
};

/* What the daemon layer hears of the namespace's changes. */
struct ns_hooks {
	/* A change record (record.h) to make durable before the change is acknowledged. */
	void (*record)(void *ctx, const void *rec, size_t len);
	/* A VM is about to be freed. */
	void (*vm_gone)(void *ctx, struct ns_vm *vm);
	/* Before n more PASIDs are given to vm: 0, or -1 with err (1002 quota_exceeded). Not
	 * called while replaying: charges are rebuilt from the replayed state instead. */
	int (*charge)(void *ctx, struct ns_vm *vm, unsigned n, struct ns_err *err);
	/* n PASIDs of vm were returned (or a charge is taken back). */
	void (*uncharge)(void *ctx, struct ns_vm *vm, unsigned n);
	void *ctx;
};

struct ns {
	struct ns_config cfg;
	struct ns_hooks hooks;
	bool replaying; /* applying journal records: no hooks, no backend probes */
	struct backend *be;
	struct idmap shared_used;  /* indexed by hpasid - shared.first */
	struct u32map shared_maps; /* hpasid -> struct ns_mapping */
	uint32_t shared_cursor;    /* next-fit position (offset within the shared range) */
	struct ns_vm **vms;        /* sorted by name */
	unsigned nvms, vms_cap;
	struct u32map devices; /* bdf -> struct ns_device */
	uint32_t nlocal;       /* local mappings on all devices */
};

/* Checks ranges and width; on error returns -EINVAL and a message. */
int ns_config_check(const struct ns_config *cfg, char *why, size_t whylen);

int ns_init(struct ns *ns, const struct ns_config *cfg, struct backend *be);
void ns_destroy(struct ns *ns);

/* Value parsing and formatting shared by the protocol and the journal. */
bool ns_vm_name_valid(const char *name);
int ns_bdf_parse(const char *s, uint32_t *bdf);
void ns_bdf_format(uint32_t bdf, char out[NS_BDF_LEN + 1]);
int ns_uuid_normalize(const char *in, char out[NS_UUID_LEN + 1]);
const char *ns_mode_name(enum ns_mode m);
const char *ns_type_name(enum ns_type t);

struct ns_vm *ns_vm_find(const struct ns *ns, const char *name);
int ns_vm_create(struct ns *ns, const char *name, const char *uuid, enum ns_mode mode,
                 const struct ns_owner *owner, const char *cgroup, struct ns_vm **out,
                 struct ns_err *err);
/* Hands the VM to another owner process. Its PASIDs stay charged where it was registered. */
void ns_vm_set_owner(struct ns *ns, struct ns_vm *vm, const struct ns_owner *owner);
/* Detaches and frees every PASID of the VM, releases its devices, destroys it. Returns the
 * number of PASIDs freed. */
unsigned ns_vm_destroy(struct ns *ns, struct ns_vm *vm);

struct ns_device *ns_device_find(const struct ns *ns, uint32_t bdf);
/* Finds or creates the (possibly idle) device; NULL on ENOMEM. */
struct ns_device *ns_device_get(struct ns *ns, uint32_t bdf);
const struct ns_vm_dev *ns_vm_device(const struct ns_vm *vm, uint32_t bdf);
int ns_device_assign(struct ns *ns, struct ns_vm *vm, uint32_t bdf, bool shared,
                     struct ns_err *err);
int ns_device_release(struct ns *ns, struct ns_vm *vm, uint32_t bdf, struct ns_err *err);

/* An allocation request. gpasid < 0: let the namespace choose. */
struct ns_alloc_req {
	enum ns_type type;
	uint32_t bdf; /* local only */
	int64_t gpasid;
	unsigned count;
};

/* All or nothing: on success out[0..count-1] hold the new mappings. */
int ns_alloc(struct ns *ns, struct ns_vm *vm, const struct ns_alloc_req *req,
             struct ns_mapping **out, struct ns_err *err);
/* Inserts one mapping with every number given: the replay path. Checks every rule. */
int ns_insert(struct ns *ns, struct ns_vm *vm, enum ns_type type, uint32_t bdf, uint32_t gpasid,
              uint32_t hpasid, struct ns_mapping **out, struct ns_err *err);
int ns_free(struct ns *ns, struct ns_vm *vm, uint32_t gpasid, struct ns_err *err);

struct ns_mapping *ns_lookup_gpasid(const struct ns_vm *vm, uint32_t gpasid);
/* A local hPASID may live on several devices: bdf picks one, UINT32_MAX the lowest BDF. */
struct ns_mapping *ns_lookup_hpasid(const struct ns *ns, uint32_t hpasid, uint32_t bdf);

/* The VM's mapping with the lowest gPASID above `after` (0 for the first), or NULL: walks
 * a VM's table in order without sorting it. */
struct ns_mapping *ns_vm_next(const struct ns *ns, const struct ns_vm *vm, uint32_t after);
/* Index in ns->vms of the first VM whose name sorts at or after `name`. */
unsigned ns_vm_lower_bound(const struct ns *ns, const char *name);

/* The VM's mappings sorted by gpasid, in a new array (caller frees), count in *n. */
struct ns_mapping **ns_vm_mappings(const struct ns_vm *vm, unsigned *n);

uint32_t ns_shared_used(const struct ns *ns);
uint32_t ns_shared_free(const struct ns *ns);

/* Verifies invariants 1–4 and every index against every other. 0, or -EUCLEAN and the
 * first broken rule in why. O(state). */
int ns_check(const struct ns *ns, char *why, size_t whylen);

#endif
