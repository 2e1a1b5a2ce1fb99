/* pasidd settings: defaults, the INI file with its drop-ins, and the command line. */
#ifndef PASIDD_CONFIG_H
#define PASIDD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "idxd_conf.h"
#include "namespace.h"
#include "quota.h"

/* Protections of the socket (DESIGN.md §7): every one has a [Limits] key. */
struct pasidd_limits {
	unsigned max_batch;         /* requests in one batch */
	unsigned max_pending;       /* answers a peer has not read before reading pauses */
	unsigned max_connections;   /* in total */
	unsigned max_conns_per_uid; /* uid 0 is not limited */
	unsigned max_vms_per_uid;   /* uid 0 is not limited */
	unsigned idle_timeout_s;    /* to complete a started message */
	unsigned max_event_buffer;  /* bytes of unread output an event subscriber may leave */
};

/* [Bpf] AttachGate=: what the BPF LSM gate does to a PASID attach/detach by another process. */
enum bpf_gate {
	BPF_GATE_OFF,     /* not loaded */
	BPF_GATE_AUDIT,   /* reported, allowed */
	BPF_GATE_ENFORCE, /* PASID attach/detach refused (flag read from user memory: racy) */
	BPF_GATE_STRICT,  /* every VFIO attach/detach on managed devices refused (race-free) */
};

struct pasidd_config {
	char *config_file; /* NULL: the default file, which may be absent */
	char *socket_path;
	char *state_dir;
	char *backend;
	char *admin_group;
	char *socket_group;
	char *idxd_sysfs_root;         /* [Idxd] SysfsRoot=: where idxd devices are read ("/sys") */
	enum bpf_gate bpf_attach_gate; /* [Bpf] AttachGate= (enforce) */
	bool bpf_device_gate;          /* [Bpf] DeviceGate= (yes) */
	/* [Bpf] DeviceAllow=, repeatable ("" empties the list): what a gated VM may open besides
	 * its own devices, "MAJOR:MINOR" or a /dev path resolved when the gate starts. */
	char **bpf_device_allow;
	size_t nbpf_device_allow;
	char *bpf_proc_devices; /* [Bpf] ProcDevices=: where char majors are read (/proc/devices) */
	bool idxd_require_wq;   /* [Idxd] RequireWQ=: a shared-range pasid.alloc must name a WQ */
	/* The [WorkQueue] sections, one WQ each, in the order read; each where names the line
	 * of its Name=. */
	struct idxd_wq_conf *wqs;
	size_t nwqs;
	/* The [WorkQueue] section being read: checked whole when it ends, with the line of its
	 * header for a missing key and of its Threshold= for a threshold that does not fit. */
	bool wq_open;
	char wq_head_where[160], wq_thr_where[160];
	mode_t socket_mode;
	size_t max_message;
	int log_level; /* [Daemon] LogLevel=, --log-level: LOG_ERR..LOG_DEBUG (log.h) */
	struct pasidd_limits limits;
	struct ns_config ns;
	struct quota_config quota;
	bool local_set, shared_set; /* given explicitly rather than derived from the width */
	/* Where the namespace settings were last given ("file:line"), so that a range
	 * problem found only once everything is read still names its line. */
	char where[3][160]; /* PasidBits, LocalRange, SharedRange */
	unsigned where_seq[3];
	unsigned seq;
	const char *cur_where;
	char admin_group_where[160]; /* where AdminGroup= was last given, for its error */
	/* Where each [Namespace] Reserve= of ns.reserve was given ("file:line"). */
	char (*reserve_where)[160];
	/* The files read, in order, for pasidd -n: a NULL-terminated array, a missing default
	 * main file listed with " (absent)" after its name. */
	char **files;
	size_t nfiles;
	bool foreground;
	bool check_only;
	bool salvage;
};

void config_init(struct pasidd_config *cfg);
void config_free(struct pasidd_config *cfg);

/* Reads `path` and then the *.conf files of `path`.d in lexical order. Missing main file: an error
 * only if must_exist. On error returns -EINVAL with "file:line: problem" in err. */
int config_load_file(struct pasidd_config *cfg, const char *path, bool must_exist, char *err,
                     size_t errlen);
/* Parses one INI text (for tests and fuzzing); `name` labels errors. */
int config_load_string(struct pasidd_config *cfg, const char *name, const char *text, char *err,
                       size_t errlen);
/* Derives what was not given (shared range from the width) and checks the whole. */
int config_finish(struct pasidd_config *cfg, char *err, size_t errlen);

/* The gid of AdminGroup=, (gid_t)-1 when it is empty. -EINVAL with "file:line: problem" in
 * err when it names no group. */
int config_admin_gid(const struct pasidd_config *cfg, gid_t *gid, char *err, size_t errlen);

/* "FIRST-LAST" with decimal numbers. */
int config_parse_range(const char *s, struct ns_range *r);

/* The full command line: config file, then options over it. Returns 0 to run, 1 when
 * --help/--version was served, -EINVAL with a message on a usage or config error. */
int config_from_args(struct pasidd_config *cfg, int argc, char **argv, char *err, size_t errlen);

/* The [Bpf] AttachGate= word of g ("strict", "enforce", "audit", "off"). */
const char *config_bpf_gate_name(enum bpf_gate g);

#endif
