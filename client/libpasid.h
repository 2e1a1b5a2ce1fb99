/* libpasid: client library for the pasidd control protocol (JSON-RPC 2.0 over a Unix socket).
 *
 * Every function that can fail returns 0 (or a non-negative count or id) on success and a
 * negative value on failure. When a `struct pasid_error *` is passed (it may be NULL), it is
 * filled on failure: with the daemon's JSON-RPC error, or with -errno and strerror() text for
 * local and transport failures. The library keeps no global state; a handle must not be used
 * by two threads at once. See libpasid(3). */
#ifndef LIBPASID_H
#define LIBPASID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

struct json_object;
struct pasid_client;

/* Application error codes sent by the daemon (data.reason in parentheses). */
#define PASID_E_EXHAUSTED    1001 /* exhausted */
#define PASID_E_QUOTA        1002 /* quota_exceeded */
#define PASID_E_NOT_FOUND    1003 /* not_found */
#define PASID_E_CONFLICT     1004 /* conflict */
#define PASID_E_PERMISSION   1005 /* permission_denied */
#define PASID_E_KERNEL       1006 /* kernel_error */
#define PASID_E_UNSUPPORTED  1007 /* unsupported */
#define PASID_E_OUT_OF_RANGE 1008 /* out_of_range */
/* JSON-RPC 2.0 standard error codes. */
#define PASID_E_PARSE          (-32700)
#define PASID_E_INVALID_REQ    (-32600)
#define PASID_E_NO_METHOD      (-32601)
#define PASID_E_INVALID_PARAMS (-32602)
#define PASID_E_INTERNAL       (-32603)

#define PASID_VM_NAME_MAX 64 /* characters in a VM name */
#define PASID_BDF_LEN     12 /* "DDDD:BB:DD.F" */
#define PASID_UUID_LEN    36

/* "No particular gPASID": let the daemon choose. */
#define PASID_ANY UINT32_MAX

struct pasid_error {
	/* The daemon's JSON-RPC error code (1001..1008, -32700..-32000), or -errno for a
	 * local or transport failure; 0 when there was no error. */
	int code;
	char message[256];
	char reason[32]; /* data.reason, e.g. "not_found"; "" if none */
	char param[32];  /* data.param, the parameter at fault; "" if none */
};

enum pasid_type {
	PASID_TYPE_ANY = 0, /* only as a filter for pasid_list() */
	PASID_TYPE_SHARED,
	PASID_TYPE_LOCAL,
};

enum pasid_mode {
	PASID_MODE_DEFAULT = 0, /* only for pasid_vm_register(): the daemon's default */
	PASID_MODE_TRANSLATED,
	PASID_MODE_IDENTITY,
};

struct pasid_mapping {
	uint32_t gpasid;
	uint32_t hpasid;
	enum pasid_type type;
	char device[PASID_BDF_LEN + 1]; /* local mappings only, "" otherwise */
	char vm[PASID_VM_NAME_MAX + 1]; /* in lookup and list results only, "" otherwise */
};

struct pasid_device {
	char device[PASID_BDF_LEN + 1];
	bool shared;
};

/* Where a mapping's hPASID is attached (pasid.attach): the "attached" entries of a mapping in
 * vm.show, pasid.list and pasid.lookup results, read with pasid_parse_attachments(). Kept out of
 * struct pasid_mapping, whose size is part of the ABI. Since LIBPASID_0.3. */
struct pasid_attachment {
	char device[PASID_BDF_LEN + 1];
	uint32_t pt_id;  /* the page table (HWPT) in the VMM's iommufd */
	uint32_t dev_id; /* the device's object id in that iommufd */
	bool lost;       /* a restart without fd store lost pasidd's descriptors of it */
};

struct pasid_vm {
	char vm[PASID_VM_NAME_MAX + 1];
	char uuid[PASID_UUID_LEN + 1];
	enum pasid_mode mode;
	pid_t pid;
	char *cgroup;    /* owner's cgroup v2 path, "" if unknown; never NULL */
	uint32_t pasids; /* number of mappings (vm.list, vm.show) */
	size_t n_devices;
	struct pasid_device *devices;
	size_t n_mappings; /* vm.show only, sorted by gPASID */
	struct pasid_mapping *mappings;
};

struct pasid_range {
	uint32_t first;
	uint32_t last;
};

/* "No limit": the protocol's "max". */
#define PASID_QUOTA_NO_LIMIT UINT64_MAX

/* The PASID quota of a cgroup v2 (quota.get, quota.set). */
struct pasid_quota {
	char *cgroup;     /* never NULL */
	uint64_t max;     /* the limit in force, PASID_QUOTA_NO_LIMIT for none */
	uint64_t current; /* PASIDs charged to the cgroup and its descendants */
	uint64_t denied;  /* allocations it refused (quota.get only, else 0) */
};

struct pasid_status {
	char version[32];
	uint64_t uptime_s;
	char backend[32];
	unsigned pasid_bits;
	size_t n_caps;
	char **caps;
	struct pasid_range local;
	struct pasid_range shared;
	uint64_t used_local;
	uint64_t used_shared;
	uint64_t free_shared;
	uint64_t vms;
	uint64_t connections;
};

/* Connection. */

/* Connects to `path`; NULL means $PASIDD_SOCKET if set and not empty, else the compiled-in
 * default socket. */
int pasid_connect(const char *path, struct pasid_client **out, struct pasid_error *err);
/* Wraps an already connected stream socket; the handle owns fd from then on, also on
 * failure. */
int pasid_connect_fd(int fd, struct pasid_client **out, struct pasid_error *err);
/* Closes the socket and frees the handle with every response not yet taken. NULL is fine. */
void pasid_close(struct pasid_client *c);
int pasid_fd(const struct pasid_client *c);
/* The socket path pasid_connect(NULL, ...) would use. */
const char *pasid_default_socket(void);
/* Time limit for blocking calls in milliseconds; negative (the default) waits forever. */
void pasid_set_timeout(struct pasid_client *c, int timeout_ms);

/* Blocking calls. */

/* Sends one request and waits for its response. `params` (a JSON object or NULL) is
 * borrowed. On success *result is a new reference the caller puts (it may be NULL if the
 * caller passes result == NULL). Returns 0, -EREMOTEIO if the daemon answered with an error
 * (described in *err), or -errno. Responses to queued requests that arrive meanwhile are kept
 * for pasid_response_next(). */
int pasid_call(struct pasid_client *c, const char *method, struct json_object *params,
               struct json_object **result, struct pasid_error *err);
/* A paged listing (pasid.list, vm.list, vm.show) walked to its end: calls `method` with
 * params (borrowed; may be NULL) and then with "after" set to each page's "next", and appends
 * every page's `member` array ("mappings" or "vms") to the first page's. *result is the first
 * page's result holding all entries, without "next". A walk returns every entry that existed
 * throughout it exactly once (pasidd(8), LISTINGS). Returns as pasid_call() does. */
int pasid_call_pages(struct pasid_client *c, const char *method, struct json_object *params,
                     const char *member, struct json_object **result, struct pasid_error *err);
/* Like pasid_call(), and passes the file descriptors fds[0..nfds-1] (SCM_RIGHTS, attached to
 * the first byte of the request line). params gets "fds": nfds unless it says so already. The
 * caller keeps its descriptors; the library sends duplicates. */
int pasid_call_fds(struct pasid_client *c, const char *method, struct json_object *params,
                   const int *fds, size_t nfds, struct json_object **result,
                   struct pasid_error *err);

/* Non-blocking use from an event loop. The library never blocks in these functions, whether
 * or not the socket is O_NONBLOCK. */

/* Sets or clears O_NONBLOCK on the socket. */
int pasid_set_nonblocking(struct pasid_client *c, bool on);
/* Queues a request for sending (see pasid_flush()); fds as for pasid_call_fds(), may be NULL
 * with nfds 0. Returns the request id (>= 1) by which its response is matched, or -errno. */
int64_t pasid_queue(struct pasid_client *c, const char *method, struct json_object *params,
                    const int *fds, size_t nfds, struct pasid_error *err);
/* Writes queued output: 0 when all is sent, -EAGAIN when the socket is full (wait for
 * POLLOUT and call again), or -errno when the connection failed. */
int pasid_flush(struct pasid_client *c, struct pasid_error *err);
/* True while queued output remains unsent. */
bool pasid_want_write(const struct pasid_client *c);
/* Reads what the socket holds and matches complete responses to their requests. Returns the
 * number of responses ready to take, or -errno; after -ECONNRESET (the daemon closed the
 * connection) every outstanding request has completed with that error. */
int pasid_receive(struct pasid_client *c, struct pasid_error *err);
/* Takes one ready response, oldest first: sets *id and returns as pasid_call() would (0,
 * -EREMOTEIO or -errno, with *result and *err), or -EAGAIN if none is ready. */
int pasid_response_next(struct pasid_client *c, int64_t *id, struct json_object **result,
                        struct pasid_error *err);
/* Takes the response to request `id`: as pasid_call() would, or -EINPROGRESS if it has not
 * arrived yet, or -ENOENT if no such request is outstanding. */
int pasid_response_take(struct pasid_client *c, int64_t id, struct json_object **result,
                        struct pasid_error *err);
/* Number of requests sent or queued whose response has not been taken. */
size_t pasid_outstanding(const struct pasid_client *c);

/* Errors. */

/* The data.reason string of an application error code ("not_found" for 1003), or NULL. */
const char *pasid_error_reason(int code);
/* The daemon's JSON-RPC error object ({code, message, data?}) exactly as it came, for the error
 * that the last call on c to take a response returned (pasid_call(), pasid_call_fds(), a typed
 * call, pasid_response_next(), pasid_response_take()); NULL if that call did not fail with
 * -EREMOTEIO. Its "data" holds what struct pasid_error has no room for, such as the cgroup,
 * max and current of quota_exceeded. Borrowed: valid until the next such call on c or
 * pasid_close(); json_object_get() it to keep it. Symbol version LIBPASID_0.1. */
struct json_object *pasid_error_object(const struct pasid_client *c);
/* The daemon's result exactly as it came, for the last call on c to take a response (the same
 * calls as above): for pasid_call_pages() and the typed calls of paged listings, the whole
 * listing that they return or decode; kept also when a typed call could not decode it and
 * failed with -EPROTO. NULL if that call got no result (the daemon answered with an error, the
 * connection failed, or the call failed before it was sent). It is the object that
 * pasid_call() hands out, not a copy. Borrowed like pasid_error_object(): valid until the next
 * such call on c or pasid_close(), which release it. Symbol version LIBPASID_0.2. */
struct json_object *pasid_last_result(const struct pasid_client *c);

/* Typed calls (blocking). Strings are copied; results are plain structs. */

int pasid_daemon_status(struct pasid_client *c, struct pasid_status **out, struct pasid_error *err);
/* uuid NULL: keep or generate; pid 0: the calling process owns the VM. */
int pasid_vm_register(struct pasid_client *c, const char *vm, const char *uuid,
                      enum pasid_mode mode, pid_t pid, struct pasid_vm **out,
                      struct pasid_error *err);
int pasid_vm_unregister(struct pasid_client *c, const char *vm, uint32_t *freed,
                        struct pasid_error *err);
int pasid_vm_list(struct pasid_client *c, struct pasid_vm **vms, size_t *n,
                  struct pasid_error *err);
int pasid_vm_show(struct pasid_client *c, const char *vm, struct pasid_vm **out,
                  struct pasid_error *err);
int pasid_device_assign(struct pasid_client *c, const char *vm, const char *device, bool shared,
                        struct pasid_device *out, struct pasid_error *err);
int pasid_device_release(struct pasid_client *c, const char *vm, const char *device,
                         struct pasid_error *err);
/* One PASID. device: required for PASID_TYPE_LOCAL, NULL for shared; gpasid: PASID_ANY or
 * the gPASID wanted. */
int pasid_alloc(struct pasid_client *c, const char *vm, enum pasid_type type, const char *device,
                uint32_t gpasid, struct pasid_mapping *out, struct pasid_error *err);
/* `count` PASIDs (1..4096), all or none; with a gpasid, guest PASIDs gpasid, gpasid+1, ...
 * *maps is an array of *n to release with pasid_mappings_free(). */
int pasid_alloc_count(struct pasid_client *c, const char *vm, enum pasid_type type,
                      const char *device, uint32_t gpasid, uint32_t count,
                      struct pasid_mapping **maps, size_t *n, struct pasid_error *err);
/* Releases one mapping of a VM (the pasid.free method). */
int pasid_free(struct pasid_client *c, const char *vm, uint32_t gpasid, struct pasid_error *err);
int pasid_lookup(struct pasid_client *c, const char *vm, uint32_t gpasid, struct pasid_mapping *out,
                 struct pasid_error *err);
/* Admin only. device (may be NULL) picks among devices sharing a local hPASID. */
int pasid_lookup_hpasid(struct pasid_client *c, uint32_t hpasid, const char *device,
                        struct pasid_mapping *out, struct pasid_error *err);
/* vm NULL: every VM the caller may see; type PASID_TYPE_ANY: both types. */
int pasid_list(struct pasid_client *c, const char *vm, enum pasid_type type,
               struct pasid_mapping **maps, size_t *n, struct pasid_error *err);
/* The daemon's OpenRPC document; the caller puts *doc. */
int pasid_rpc_discover(struct pasid_client *c, struct json_object **doc, struct pasid_error *err);

/* Live migration (pasidd(8), MIGRATION). vm.export: the VM's migration document ("pasidd-vm",
 * version 1), which the caller puts. */
int pasid_vm_export(struct pasid_client *c, const char *vm, struct json_object **doc,
                    struct pasid_error *err);
/* vm.import's options; zero them all for none (a later version may add members at the end). */
struct pasid_import_opts {
	const char *vm;              /* the VM's name here; NULL: the document's */
	pid_t pid;                   /* the owner process (admin only); 0: the caller */
	bool dry_run;                /* only report every conflict */
	struct json_object *devices; /* {"SRC BDF": "DST BDF"}, or NULL */
	struct json_object *wqs;     /* {"SRC WQ": "DST WQ"}, or NULL */
	const char *reservation;     /* where identity/local PASIDs may come from (admin); NULL */
};
/* vm.import of doc (opts may be NULL): *result (the caller puts it) is the new VM, or with
 * dry_run {ok, conflicts:[{gpasid?, device?, what, why}]}. A refused import fails with the
 * first conflict's error; pasid_error_object() then holds every one in data.conflicts. */
int pasid_vm_import(struct pasid_client *c, struct json_object *doc,
                    const struct pasid_import_opts *opts, struct json_object **result,
                    struct pasid_error *err);
/* cgroup NULL: every cgroup that holds PASIDs, has a limit or refused an allocation; else that
 * cgroup alone. *quotas is an array of *n to release with pasid_quotas_free(). */
int pasid_quota_get(struct pasid_client *c, const char *cgroup, struct pasid_quota **quotas,
                    size_t *n, struct pasid_error *err);
/* Admin only. Sets the runtime limit of cgroup (up to INT64_MAX), or removes it with
 * PASID_QUOTA_NO_LIMIT. *out (out may be NULL) is the cgroup with the limit now in force, one
 * entry to release with pasid_quotas_free(*out, 1). */
int pasid_quota_set(struct pasid_client *c, const char *cgroup, uint64_t max,
                    struct pasid_quota **out, struct pasid_error *err);

/* Attachments (symbol version LIBPASID_0.3). pasid_attach() attaches the hPASID of vm's
 * gpasid on device (a PCI address "0000:00:04.0") to the page table pt_id of the VMM's iommufd,
 * in which the device is bound as dev_id: it sends iommufd and devfd, the VMM's VFIO device
 * cdev, with SCM_RIGHTS (the daemon keeps its own duplicates until it detaches; the caller
 * keeps its descriptors). pasid_detach() undoes it; pasid.free, device.release,
 * vm.unregister and the owner's exit detach too. Both return as pasid_call() does, and
 * -EINVAL (vm or device NULL) or -EBADF (a descriptor that is not open) without sending
 * anything. */
int pasid_attach(struct pasid_client *c, const char *vm, uint32_t gpasid, const char *device,
                 uint32_t pt_id, uint32_t dev_id, int iommufd, int devfd, struct pasid_error *err);
int pasid_detach(struct pasid_client *c, const char *vm, uint32_t gpasid, const char *device,
                 struct pasid_error *err);
/* Non-blocking: queue the same requests, checked the same way, as pasid_queue() does. The id
 * is matched with pasid_response_take() or pasid_response_next(); the descriptors are
 * duplicated when queued, so the caller may close its own at once. */
int64_t pasid_queue_attach(struct pasid_client *c, const char *vm, uint32_t gpasid,
                           const char *device, uint32_t pt_id, uint32_t dev_id, int iommufd,
                           int devfd, struct pasid_error *err);
int64_t pasid_queue_detach(struct pasid_client *c, const char *vm, uint32_t gpasid,
                           const char *device, struct pasid_error *err);

/* A device's requester ID (symbol version LIBPASID_0.5). pasid_device_attach() has the daemon
 * attach device (assigned to vm exclusively), without a PASID, to the page table pt_id of the
 * VMM's iommufd, in which the device is bound as dev_id: the VMM's own RID attach, made by
 * the daemon for it (with the daemon's BPF attach gate in strict mode, no other process may).
 * iommufd and devfd go as with pasid_attach(); attaching an attached device replaces its page
 * table. pasid_device_detach() undoes it (after the device's PASIDs are detached);
 * device.release, vm.unregister and the owner's exit detach too. Both return as pasid_call()
 * does, and -EINVAL or -EBADF as pasid_attach() without sending anything. */
int pasid_device_attach(struct pasid_client *c, const char *vm, const char *device, uint32_t pt_id,
                        uint32_t dev_id, int iommufd, int devfd, struct pasid_error *err);
int pasid_device_detach(struct pasid_client *c, const char *vm, const char *device,
                        struct pasid_error *err);

/* Work queues of Intel DSA and IAA (idxd) devices (symbol version LIBPASID_0.4). */

#define PASID_WQ_NAME_MAX 31 /* "dsa0/wq0.1": the device's name, '/', the WQ's */

enum pasid_wq_mode {
	PASID_WQ_MODE_UNKNOWN = 0, /* not reported (an unreadable or missing WQ) */
	PASID_WQ_MODE_SHARED,
	PASID_WQ_MODE_DEDICATED,
};

enum pasid_wq_type {
	PASID_WQ_TYPE_UNKNOWN = 0, /* not reported (an unreadable or missing WQ) */
	PASID_WQ_TYPE_NONE,
	PASID_WQ_TYPE_USER,
	PASID_WQ_TYPE_KERNEL,
};

enum pasid_wq_state {
	PASID_WQ_STATE_UNKNOWN = 0, /* the kernel's "unknown", or not reported */
	PASID_WQ_STATE_ENABLED,
	PASID_WQ_STATE_DISABLED,
	PASID_WQ_STATE_MISSING, /* mappings still name it, the host no longer has it */
};

/* The shared PASIDs that pasidd handed out against a WQ to one VM. */
struct pasid_wq_vm {
	char vm[PASID_VM_NAME_MAX + 1];
	uint32_t pasids;
};

/* One work queue of wq.list, or of wq.configure as read back. A WQ that could not be read has
 * error set and, like a missing one (state PASID_WQ_STATE_MISSING), little else: what the
 * daemon left out is 0, "", UNKNOWN or false (group_id -1). */
struct pasid_wq {
	char wq[PASID_WQ_NAME_MAX + 1];     /* "dsa0/wq0.1" */
	char device[PASID_WQ_NAME_MAX + 1]; /* "dsa0" */
	char kind[8];                       /* "dsa" or "iax" */
	char bdf[PASID_BDF_LEN + 1];        /* the device's PCI address */
	enum pasid_wq_mode mode;
	enum pasid_wq_type type;
	enum pasid_wq_state state;
	char device_state[16]; /* the device's: "enabled", "disabled", "halted", ... */
	bool pasid_enabled;    /* the device uses PASIDs (shared WQs need it) */
	bool block_on_fault;
	uint32_t size;
	uint32_t priority;
	uint32_t threshold;
	int32_t group_id; /* -1: in no group */
	uint32_t clients; /* open descriptors of its char device */
	char *label;      /* the kernel's `name` attribute, "" if unset; never NULL */
	char driver_name[129];
	char char_device[64]; /* "/dev/dsa/wq0.1", "" without one */
	uint32_t pasids;      /* shared PASIDs pasidd handed out against it */
	/* Those PASIDs by VM: every VM for an administrator, the caller's own for others. */
	size_t n_vms;
	struct pasid_wq_vm *vms;
	char *error; /* why the WQ could not be read; NULL when it could */
};

/* Which optional members of struct pasid_wq_config are set (the others stay as they are). */
#define PASID_WQ_SET_SIZE           (1u << 0)
#define PASID_WQ_SET_PRIORITY       (1u << 1)
#define PASID_WQ_SET_GROUP          (1u << 2)
#define PASID_WQ_SET_THRESHOLD      (1u << 3)
#define PASID_WQ_SET_NAME           (1u << 4)
#define PASID_WQ_SET_BLOCK_ON_FAULT (1u << 5)

/* What wq.configure sets. Zero it first (= {0}): set and the reserved members must hold
 * nothing the library does not know of. */
struct pasid_wq_config {
	const char *wq;          /* "dsa0/wq0.1" */
	enum pasid_wq_mode mode; /* required */
	enum pasid_wq_type type; /* required */
	unsigned set;            /* PASID_WQ_SET_* */
	uint32_t size;
	uint32_t priority;
	int32_t group; /* a group of its device, 0 or more */
	uint32_t threshold;
	const char *name; /* the label */
	bool block_on_fault;
	uint64_t reserved[4]; /* zero: room for later members */
};

/* Every work queue of the host's idxd devices (none without idxd), and those that mappings
 * still name but the host no longer has; *wqs is an array of *n to release with
 * pasid_wqs_free(). */
int pasid_wq_list(struct pasid_client *c, struct pasid_wq **wqs, size_t *n,
                  struct pasid_error *err);
/* Admin only. Brings cfg->wq to the configuration given and enables it, as accel-config
 * load-config and enable-wq would (type none: configured and left disabled); nothing is
 * written when it is so already.
 * *out (out may be NULL) is the WQ as read back afterwards, one entry to release with
 * pasid_wqs_free(*out, 1); *changed (may be NULL) whether anything differed. Returns as
 * pasid_call() does, or -EINVAL without sending anything for a cfg without wq, mode or type,
 * with unknown set bits or reserved members, or with a negative group. */
int pasid_wq_configure(struct pasid_client *c, const struct pasid_wq_config *cfg,
                       struct pasid_wq **out, bool *changed, struct pasid_error *err);
/* A shared PASID for vm to use with the shared WQ wq ("dsa0/wq0.1"): pasid_alloc() with type
 * PASID_TYPE_SHARED, and the daemon accounts the PASID to the WQ. gpasid: PASID_ANY or the one
 * wanted; wq NULL allocates as pasid_alloc() does. The mapping's WQ is in pasid_last_result()
 * (pasid_parse_mapping_wq()). */
int pasid_alloc_wq(struct pasid_client *c, const char *vm, const char *wq, uint32_t gpasid,
                   struct pasid_mapping *out, struct pasid_error *err);
/* pasid_alloc_count() against the shared WQ wq. */
int pasid_alloc_wq_count(struct pasid_client *c, const char *vm, const char *wq, uint32_t gpasid,
                         uint32_t count, struct pasid_mapping **maps, size_t *n,
                         struct pasid_error *err);
/* pasid_list() of the mappings allocated against wq only (wq NULL: pasid_list()). */
int pasid_list_wq(struct pasid_client *c, const char *vm, enum pasid_type type, const char *wq,
                  struct pasid_mapping **maps, size_t *n, struct pasid_error *err);

/* Result decoders, for results taken from the non-blocking path. They return 0 or -EPROTO
 * when the JSON does not have the documented shape. */

int pasid_parse_status(struct json_object *result, struct pasid_status **out,
                       struct pasid_error *err);
int pasid_parse_vm(struct json_object *result, struct pasid_vm **out, struct pasid_error *err);
int pasid_parse_vms(struct json_object *result, struct pasid_vm **vms, size_t *n,
                    struct pasid_error *err);
int pasid_parse_device(struct json_object *result, struct pasid_device *out,
                       struct pasid_error *err);
int pasid_parse_mapping(struct json_object *result, struct pasid_mapping *out,
                        struct pasid_error *err);
/* Accepts an array of mappings or an object {"mappings": [...]}. */
int pasid_parse_mappings(struct json_object *result, struct pasid_mapping **maps, size_t *n,
                         struct pasid_error *err);
/* The attachments of one mapping object as the daemon sends it: a pasid.lookup result, or an
 * element of the "mappings" array of a pasid.list or vm.show result. *atts is an array of *n
 * (NULL and 0 when the mapping is attached nowhere) to release with pasid_attachments_free().
 * After a typed listing (pasid_list(), pasid_vm_show()), the attachments of its i-th mapping
 * are those of element i of "mappings" in pasid_last_result(). Symbol version LIBPASID_0.3. */
int pasid_parse_attachments(struct json_object *mapping, struct pasid_attachment **atts, size_t *n,
                            struct pasid_error *err);
/* The WQ a mapping object (as for pasid_parse_attachments()) was allocated against, copied
 * to wq[len] (PASID_WQ_NAME_MAX + 1 is enough): "" when it names none. -EPROTO when its "wq"
 * is not a string, -ERANGE when it does not fit. Symbol version LIBPASID_0.4. */
int pasid_parse_mapping_wq(struct json_object *mapping, char *wq, size_t len,
                           struct pasid_error *err);
/* Accepts an array of WQs (wq.list) or one WQ object (wq.configure). Symbol version
 * LIBPASID_0.4. */
int pasid_parse_wqs(struct json_object *result, struct pasid_wq **wqs, size_t *n,
                    struct pasid_error *err);
/* Accepts an array of quotas (quota.get) or one quota object (quota.set). */
int pasid_parse_quotas(struct json_object *result, struct pasid_quota **quotas, size_t *n,
                       struct pasid_error *err);

const char *pasid_type_name(enum pasid_type type);
const char *pasid_mode_name(enum pasid_mode mode);
/* "shared", "dedicated"; "none", "user", "kernel"; "enabled", "disabled", "unknown",
 * "missing". NULL for a value without a name. Symbol version LIBPASID_0.4. */
const char *pasid_wq_mode_name(enum pasid_wq_mode mode);
const char *pasid_wq_type_name(enum pasid_wq_type type);
const char *pasid_wq_state_name(enum pasid_wq_state state);

/* The event stream (symbol version LIBPASID_0.5). pasid_events_subscribe() makes this
 * connection receive the daemon's events (events.subscribe): vm NULL for every VM the caller
 * may see, kinds a NULL-terminated list of kinds ("pasid.alloc", ...) or NULL for all. The
 * connection still takes calls; events read while a call waits are kept, in order, until
 * taken, so a subscriber must take them.
 *
 * pasid_event_next() takes the next event: 1 with *event the params of the notification
 * ({"seq", "time", "kind", "vm", "gpasid", ...}, a new reference the caller puts), 0 when
 * none came within timeout_ms (negative: wait), or -errno: -ECONNRESET once the daemon closed
 * the connection and every event was taken, -EINTR when a signal interrupted the wait. An
 * event of kind "lost" ({"lost": N}) is the last: the daemon dropped the subscriber for not
 * reading and then closes the connection. */
int pasid_events_subscribe(struct pasid_client *c, const char *vm, const char *const *kinds,
                           struct pasid_error *err);
int pasid_event_next(struct pasid_client *c, struct json_object **event, int timeout_ms,
                     struct pasid_error *err);

/* Freeing results. All accept NULL. */
void pasid_status_free(struct pasid_status *st);
void pasid_vm_free(struct pasid_vm *vm);
void pasid_vm_list_free(struct pasid_vm *vms, size_t n);
void pasid_mappings_free(struct pasid_mapping *maps);
void pasid_quotas_free(struct pasid_quota *quotas, size_t n);
void pasid_attachments_free(struct pasid_attachment *atts);
void pasid_wqs_free(struct pasid_wq *wqs, size_t n);

#ifdef __cplusplus
}
#endif

/* ---- hPASID reservations (LIBPASID_0.5) ---- */

/* A reservation: hPASIDs the daemon hands out to nobody but an allocation that names it
 * (range.reserve, range.list). */
struct pasid_reservation {
	char name[65];
	uint32_t first;
	uint32_t last;
	char *why;         /* never NULL; "" for none, or when not shown (to non-admins) */
	int64_t expires_s; /* seconds left, rounded up; -1: it does not expire */
	bool config;       /* from a [Namespace] Reserve= line, else from range.reserve */
	bool has_by;       /* by_uid/by_pid are set: shown to admins, for runtime ones */
	uint32_t by_uid;   /* the peer that reserved it */
	int32_t by_pid;
	uint32_t used;        /* live mappings handed out of it */
	uint64_t reserved[4]; /* zero: room for later members */
};

/* Admin only. Reserves first..last. why (NULL: none), expires_s (0: never; else 1-2592000
 * seconds from now), name (NULL: "FIRST-LAST"). *out (out may be NULL) is the reservation, one
 * entry to release with pasid_reservations_free(*out, 1). Conflict (1004): overlaps another
 * reservation or holds live mappings (pasid_error_object() has the first one in its data). */
int pasid_range_reserve(struct pasid_client *c, uint32_t first, uint32_t last, const char *why,
                        uint32_t expires_s, const char *name, struct pasid_reservation **out,
                        struct pasid_error *err);
/* Admin only. Removes the reservation named name; the PASIDs handed out of it stay. */
int pasid_range_unreserve(struct pasid_client *c, const char *name, struct pasid_error *err);
/* Admin only. Removes the reservation whose range is exactly first..last. */
int pasid_range_unreserve_range(struct pasid_client *c, uint32_t first, uint32_t last,
                                struct pasid_error *err);
/* Every reservation, by first hPASID; *out is an array of *n to release with
 * pasid_reservations_free(). */
int pasid_range_list(struct pasid_client *c, struct pasid_reservation **out, size_t *n,
                     struct pasid_error *err);
/* pasid_alloc() / pasid_alloc_count() taking the hPASIDs from the reservation named
 * reservation (admin only; NULL: as pasid_alloc()). count 0: one mapping into *out (maps and
 * n unused); else count mappings into *maps (out unused). */
int pasid_alloc_reserved(struct pasid_client *c, const char *vm, enum pasid_type type,
                         const char *device, const char *reservation, uint32_t gpasid,
                         uint32_t count, struct pasid_mapping *out, struct pasid_mapping **maps,
                         size_t *n, struct pasid_error *err);
/* Accepts an array of reservations (range.list) or one (range.reserve). */
int pasid_parse_reservations(struct json_object *result, struct pasid_reservation **out, size_t *n,
                             struct pasid_error *err);
void pasid_reservations_free(struct pasid_reservation *r, size_t n);

#endif
