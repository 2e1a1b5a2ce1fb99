/* The method table: per method what the dispatcher (rpc.c) must know before its handler runs,
 * in the spirit of tmux's cmd_entry and systemd's varlink method declarations:
 *
 *  - its name, and for a method with two forms of params the member that picks a form;
 *  - its parameters, in the order they are checked: name, kind (JSON type and the value's
 *    syntax), required or not, integer range or choices, and whether only an admin may give
 *    one. The dispatcher refuses members not listed (-32602 naming them) and reads each into
 *    its field of struct rpc_args, so the handler receives typed, valid values;
 *  - whether only an admin may call it (checked once the members are known, before their
 *    values), whether it changes the state (it then runs in a transaction), which parameter
 *    names the VM it acts on (resolved and the peer's right to it checked where that parameter
 *    stands: 1003 for no such VM, 1005 for another uid's, DESIGN.md §7), and whether it takes
 *    file descriptors (a parameter of kind RPC_FDS: `params.fds` says how many).
 *
 * tests/unit/test_methods_table.c holds the table against proto/openrpc.json. The handlers
 * are plain functions, one file per object: methods_daemon.c, methods_vm.c, methods_device.c,
 * methods_pasid.c, methods_quota.c, methods_wq.c, methods_migrate.c (vm.export, vm.import),
 * methods_events.c, methods_range.c. */
#ifndef PASIDD_METHODS_H
#define PASIDD_METHODS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

#include "cgpath.h"
#include "namespace.h"
#include "paging.h"
#include "rpc.h"

enum rpc_kind {
	RPC_BOOL,   /* true or false */
	RPC_INT,    /* an integer in [min, max] */
	RPC_ENUM,   /* one of choices: its index */
	RPC_VM,     /* a VM name, 1-64 of [A-Za-z0-9._:@+-], alphanumeric first */
	RPC_BDF,    /* a PCI address DDDD:BB:DD.F */
	RPC_UUID,   /* a UUID in its 36-character form, upper case taken */
	RPC_CGROUP, /* an absolute cgroup path, made canonical */
	RPC_CURSOR, /* the `next` of an earlier page of a listing */
	RPC_LIMIT,  /* an integer in [min, max], or the string "max" for none */
	RPC_FDS,    /* how many descriptors of the message the request takes, in [min, max] */
	RPC_WQ,     /* an idxd work queue dsaN/wqN.M or iaxN/wqN.M (ns_wq_ref_valid) */
	RPC_LABEL,  /* a WQ's label: 1-1024 printable ASCII characters */
	RPC_FLAG,   /* true or false, kept apart from absent: 1, 0, -1 */
	RPC_OBJECT, /* a JSON object, read by the handler (borrowed from the request) */
	RPC_SET,    /* an array of distinct strings, each one of choices: a bit mask of them */
	RPC_TEXT,   /* text for a person: 0-NS_RESV_WHY_MAX bytes, no control characters */
};

typedef char rpc_uuid[NS_UUID_LEN + 1];
typedef char rpc_cgroup[CGROUP_PATH_MAX];
typedef char rpc_wq[NS_WQ_REF_MAX + 1];

/* A request's parameters, typed and valid. A method's parameters fill the fields they name
 * (see RPC_AT); the others stay zero. */
struct rpc_args {
	/* The VM the method acts on (its .vm), resolved: the peer may use it. NULL when the
	 * parameter is optional and absent, or for vm.register a VM that does not exist yet. */
	struct ns_vm *vm;
	const char *vm_name;                       /* RPC_VM: NULL when absent */
	int64_t gpasid, hpasid, count, pid, limit; /* RPC_INT: -1 when absent */
	int64_t pt_id, dev_id;                     /* RPC_INT: -1 when absent */
	int64_t device;                            /* RPC_BDF: -1 when absent */
	int type, mode;                            /* RPC_ENUM: -1 when absent */
	bool shared;                               /* RPC_BOOL: false when absent */
	rpc_uuid uuid;                             /* RPC_UUID, lower case: "" when absent */
	rpc_cgroup cgroup;                         /* RPC_CGROUP: "" when absent */
	uint64_t max;                              /* RPC_LIMIT: UINT64_MAX for "max" */
	struct page_cursor after;                  /* RPC_CURSOR */
	int64_t fds;                               /* RPC_FDS: 0 when absent */
	rpc_wq wq;                                 /* RPC_WQ: "" when absent */
	/* wq.configure: the WQ's attributes (RPC_ENUM, RPC_INT, RPC_LABEL, RPC_FLAG) */
	int wq_mode, wq_type;
	int64_t size, priority, group, threshold;
	const char *label; /* NULL when absent */
	int block_on_fault;
	/* vm.import (RPC_OBJECT: NULL when absent; RPC_BOOL) */
	struct json_object *document, *devices, *wqs;
	bool dry_run;
	uint64_t kinds; /* RPC_SET (events.subscribe): bit i for choice i; 0 when absent */
	/* range.*: a reservation (RPC_INT, RPC_VM for its name, RPC_TEXT); pasid.alloc's
	 * reservation is resv too */
	int64_t first, last, expires_s;
	const char *resv, *why; /* NULL when absent */
};

struct rpc_param {
	const char *name;
	enum rpc_kind kind;
	bool required;
	int64_t min, max;           /* RPC_INT, RPC_LIMIT, RPC_FDS */
	const char *const *choices; /* RPC_ENUM: NULL-terminated, in the order of the C enum */
	const char *admin;          /* only an admin may give it: the refusal's message */
	size_t at;                  /* its field in struct rpc_args */
};

typedef int rpc_method_fn(struct rpc_call *c, const struct rpc_args *a,
                          struct json_object **result);

struct rpc_method {
	const char *name;
	/* An entry with `when` serves the requests whose params have that member (even null),
	 * the entry of the same name without it the others: a method with two forms. */
	const char *when;
	rpc_method_fn *fn;
	const struct rpc_param
	    *params;       /* in the order they are checked; {.name = NULL} ends them */
	const char *admin; /* only for admins: the refusal's message */
	bool mutates;      /* runs in a transaction (ns_txn_begin) */
	const char *vm;    /* the parameter naming the VM it acts on */
	bool new_vm;       /* ... which need not exist (vm.register): looked up only */
};

/* A work queue's modes and types as the kernel's attributes spell them (wq.configure). */
extern const char *const rpc_wq_modes[];
extern const char *const rpc_wq_types[];

/* The served methods, ended by an entry without a name (methods.c). */
extern const struct rpc_method rpc_methods[];

/* ---- writing the table ---- */

/* The offset of a field of struct rpc_args, which must have the given type. */
#define RPC_AT(type, field)                                                                        \
	_Generic(&((struct rpc_args *)0)->field, type * : offsetof(struct rpc_args, field))
#define RPC_REQUIRED true
#define RPC_OPTIONAL false
/* A parameter list (ended for you), or none. */
#define RPC_PARAMS(...) ((const struct rpc_param[]){__VA_ARGS__, {.name = NULL}})
#define RPC_NO_PARAMS   ((const struct rpc_param[]){{.name = NULL}})
/* Each takes more designated initializers at the end, such as .admin = "...". */
#define P_BOOL(n, field, ...)                                                                      \
	{                                                                                          \
		.name = n, .kind = RPC_BOOL, .at = RPC_AT(bool, field), __VA_ARGS__                \
	}
#define P_INT(n, field, req, lo, hi, ...)                                                          \
	{                                                                                          \
		.name = n, .kind = RPC_INT, .required = req, .min = lo, .max = hi,                 \
		.at = RPC_AT(int64_t, field), __VA_ARGS__                                          \
	}
#define P_ENUM(n, field, req, list, ...)                                                           \
	{                                                                                          \
		.name = n, .kind = RPC_ENUM, .required = req, .choices = list,                     \
		.at = RPC_AT(int, field), __VA_ARGS__                                              \
	}
#define P_VM(req, ...)                                                                             \
	{                                                                                          \
		.name = "vm", .kind = RPC_VM, .required = req,                                     \
		.at = RPC_AT(const char *, vm_name), __VA_ARGS__                                   \
	}
/* A name in the syntax of VM names that is not the VM a method acts on (a reservation's). */
#define P_NAME(n, field, req, ...)                                                                 \
	{                                                                                          \
		.name = n, .kind = RPC_VM, .required = req, .at = RPC_AT(const char *, field),     \
		__VA_ARGS__                                                                        \
	}
#define P_BDF(n, field, req, ...)                                                                  \
	{                                                                                          \
		.name = n, .kind = RPC_BDF, .required = req, .at = RPC_AT(int64_t, field),         \
		__VA_ARGS__                                                                        \
	}
#define P_UUID(n, field, ...)                                                                      \
	{                                                                                          \
		.name = n, .kind = RPC_UUID, .at = RPC_AT(rpc_uuid, field), __VA_ARGS__            \
	}
#define P_CGROUP(n, field, req, ...)                                                               \
	{                                                                                          \
		.name = n, .kind = RPC_CGROUP, .required = req, .at = RPC_AT(rpc_cgroup, field),   \
		__VA_ARGS__                                                                        \
	}
#define P_WQ(n, field, req, ...)                                                                   \
	{                                                                                          \
		.name = n, .kind = RPC_WQ, .required = req, .at = RPC_AT(rpc_wq, field),           \
		__VA_ARGS__                                                                        \
	}
#define P_LABEL(n, field, req, ...)                                                                \
	{                                                                                          \
		.name = n, .kind = RPC_LABEL, .required = req, .at = RPC_AT(const char *, field),  \
		__VA_ARGS__                                                                        \
	}
#define P_FLAG(n, field, ...)                                                                      \
	{                                                                                          \
		.name = n, .kind = RPC_FLAG, .at = RPC_AT(int, field), __VA_ARGS__                 \
	}
#define P_OBJECT(n, field, req, ...)                                                               \
	{                                                                                          \
		.name = n, .kind = RPC_OBJECT, .required = req,                                    \
		.at = RPC_AT(struct json_object *, field), __VA_ARGS__                             \
	}
#define P_SET(n, field, req, list, ...)                                                            \
	{                                                                                          \
		.name = n, .kind = RPC_SET, .required = req, .choices = list,                      \
		.at = RPC_AT(uint64_t, field), __VA_ARGS__                                         \
	}
#define P_TEXT(n, field, req, ...)                                                                 \
	{                                                                                          \
		.name = n, .kind = RPC_TEXT, .required = req, .at = RPC_AT(const char *, field),   \
		__VA_ARGS__                                                                        \
	}
#define P_CURSOR(n, field, ...)                                                                    \
	{                                                                                          \
		.name = n, .kind = RPC_CURSOR, .at = RPC_AT(struct page_cursor, field),            \
		__VA_ARGS__                                                                        \
	}
#define P_LIMIT(n, field, req, lo, hi, ...)                                                        \
	{                                                                                          \
		.name = n, .kind = RPC_LIMIT, .required = req, .min = lo, .max = hi,               \
		.at = RPC_AT(uint64_t, field), __VA_ARGS__                                         \
	}
#define P_FDS(least, most, ...)                                                                    \
	{                                                                                          \
		.name = "fds", .kind = RPC_FDS, .required = true, .min = least, .max = most,       \
		.at = RPC_AT(int64_t, fds), __VA_ARGS__                                            \
	}

/* ---- the handlers ---- */

struct pasidd;

int method_rpc_discover(struct rpc_call *c, const struct rpc_args *a, struct json_object **result);
int method_daemon_status(struct rpc_call *c, const struct rpc_args *a, struct json_object **result);
int method_vm_register(struct rpc_call *c, const struct rpc_args *a, struct json_object **result);
int method_vm_unregister(struct rpc_call *c, const struct rpc_args *a, struct json_object **result);
int method_vm_list(struct rpc_call *c, const struct rpc_args *a, struct json_object **result);
int method_vm_show(struct rpc_call *c, const struct rpc_args *a, struct json_object **result);
int method_device_assign(struct rpc_call *c, const struct rpc_args *a, struct json_object **result);
int method_device_release(struct rpc_call *c, const struct rpc_args *a,
                          struct json_object **result);
int method_pasid_alloc(struct rpc_call *c, const struct rpc_args *a, struct json_object **result);
int method_pasid_free(struct rpc_call *c, const struct rpc_args *a, struct json_object **result);
int method_pasid_lookup_hpasid(struct rpc_call *c, const struct rpc_args *a,
                               struct json_object **result);
int method_pasid_lookup_gpasid(struct rpc_call *c, const struct rpc_args *a,
                               struct json_object **result);
int method_pasid_list(struct rpc_call *c, const struct rpc_args *a, struct json_object **result);
int method_pasid_attach(struct rpc_call *c, const struct rpc_args *a, struct json_object **result);
int method_pasid_detach(struct rpc_call *c, const struct rpc_args *a, struct json_object **result);
int method_device_attach(struct rpc_call *c, const struct rpc_args *a, struct json_object **result);
int method_device_detach(struct rpc_call *c, const struct rpc_args *a, struct json_object **result);
int method_quota_get(struct rpc_call *c, const struct rpc_args *a, struct json_object **result);
int method_quota_set(struct rpc_call *c, const struct rpc_args *a, struct json_object **result);
int method_daemon_metrics(struct rpc_call *c, const struct rpc_args *a,
                          struct json_object **result);
int method_config_reload(struct rpc_call *c, const struct rpc_args *a, struct json_object **result);
int method_wq_list(struct rpc_call *c, const struct rpc_args *a, struct json_object **result);
int method_wq_configure(struct rpc_call *c, const struct rpc_args *a, struct json_object **result);
int method_vm_export(struct rpc_call *c, const struct rpc_args *a, struct json_object **result);
int method_vm_import(struct rpc_call *c, const struct rpc_args *a, struct json_object **result);

/* Shared by vm.register and vm.import (methods_vm.c): the owner of a new VM, the peer or with
 * pid >= 0 (admin only) that process, with its cgroup and a pidfd pinning it (-1: none) ... */
int method_vm_owner(struct rpc_call *c, int64_t pid, struct ns_owner *o, char *cgroup, size_t len,
                    int *pidfd);
/* ... MaxVMsPerUid: 0, or the call's 1002 when uid may not own one more VM; the same as a
 * question, with how many VMs uid owns. */
int method_vm_limit(struct rpc_call *c, uid_t uid);
bool method_vm_limit_ok(const struct pasidd *d, uid_t uid, unsigned *mine);
/* Whether the work queue named can take shared PASIDs for VMs now (methods_pasid.c). */
int method_wq_usable(const struct pasidd *d, const char *ref, struct ns_err *err);
int method_events_subscribe(struct rpc_call *c, const struct rpc_args *a,
                            struct json_object **result);
int method_range_reserve(struct rpc_call *c, const struct rpc_args *a, struct json_object **result);
int method_range_unreserve(struct rpc_call *c, const struct rpc_args *a,
                           struct json_object **result);
int method_range_list(struct rpc_call *c, const struct rpc_args *a, struct json_object **result);

struct pasidd;
/* The data of the last 1002 quota_exceeded: {cgroup, max, current} and, when the per-VM
 * limit refused, vm. */
struct json_object *method_quota_denial(const struct pasidd *d);

#endif
