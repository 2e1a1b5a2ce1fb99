/* The keys of pasidd.conf(5), section by section: what each accepts and where it was set.
 * The file reader (config.c) and the command line (config_args.c) both assign through here,
 * so a key means the same wherever it is given. */
#include "config.h"
#include "config_keys.h"
#include "devgate_rules.h"
#include "log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
parse_u64(const char *s, int base, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!*s || *s == '-' || *s == '+' || *s == ' ')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, base);
	if (errno || *end || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

int
config_parse_range(const char *s, struct ns_range *r)
{
	const char *dash = strchr(s, '-');
	char first[16];
	uint64_t a, b;

	if (!dash || (size_t)(dash - s) >= sizeof(first))
		return -EINVAL;
	memcpy(first, s, (size_t)(dash - s));
	first[dash - s] = '\0';
	if (parse_u64(first, 10, UINT32_MAX, &a) < 0 || parse_u64(dash + 1, 10, UINT32_MAX, &b) < 0)
		return -EINVAL;
	r->first = (uint32_t)a;
	r->last = (uint32_t)b;
	return 0;
}

int
config_set_str(char **dst, const char *v)
{
	char *n = strdup(v);

	if (!n)
		return -ENOMEM;
	free(*dst);
	*dst = n;
	return 0;
}

static int
parse_yes_no(const char *key, const char *val, bool *out, char *why, size_t len)
{
	if (strcmp(val, "yes") && strcmp(val, "no")) {
		snprintf(why, len, "%s= must be yes or no, not '%.32s'", key, val);
		return -EINVAL;
	}
	*out = val[0] == 'y';
	return 0;
}

static void
note_where(struct pasidd_config *cfg, int k)
{
	snprintf(cfg->where[k], sizeof(cfg->where[k]), "%s", cfg->cur_where ? cfg->cur_where : "");
	cfg->where_seq[k] = ++cfg->seq;
}

/* What an assign_<section>() returns for a key its section does not have. */
#define NOT_A_KEY 1

static int
assign_daemon(struct pasidd_config *cfg, const char *key, const char *val, char *why, size_t len)
{
	uint64_t n;

	if (!strcmp(key, "Socket") || !strcmp(key, "StateDirectory")) {
		if (val[0] != '/') {
			snprintf(why, len, "%s= needs an absolute path", key);
			return -EINVAL;
		}
		return config_set_str(key[1] == 'o' ? &cfg->socket_path : &cfg->state_dir, val);
	}
	if (!strcmp(key, "Backend")) {
		if (strcmp(val, "auto") && strcmp(val, "sim") && strcmp(val, "iommufd")) {
			snprintf(why, len, "Backend= must be auto, iommufd or sim, not '%s'", val);
			return -EINVAL;
		}
		return config_set_str(&cfg->backend, val);
	}
	if (!strcmp(key, "AdminGroup")) {
		snprintf(cfg->admin_group_where, sizeof(cfg->admin_group_where), "%s",
		         cfg->cur_where ? cfg->cur_where : "");
		return config_set_str(&cfg->admin_group, val);
	}
	if (!strcmp(key, "SocketGroup"))
		return config_set_str(&cfg->socket_group, val);
	if (!strcmp(key, "SocketMode")) {
		if (parse_u64(val, 8, 0777, &n) < 0) {
			snprintf(why, len, "SocketMode= must be an octal mode, not '%s'", val);
			return -EINVAL;
		}
		cfg->socket_mode = (mode_t)n;
		return 0;
	}
	if (!strcmp(key, "LogLevel")) {
		int l = log_level_parse(val);

		if (l < 0) {
			snprintf(
			    why, len,
			    "LogLevel= must be err, warning, notice, info or debug, not '%.32s'",
			    val);
			return -EINVAL;
		}
		cfg->log_level = l;
		return 0;
	}
	if (!strcmp(key, "MaxMessageSize")) {
		if (parse_u64(val, 10, 16 << 20, &n) < 0 || n < 1024) {
			snprintf(why, len, "MaxMessageSize= must be 1024-16777216, not '%s'", val);
			return -EINVAL;
		}
		cfg->max_message = n;
		return 0;
	}
	return NOT_A_KEY;
}

static int
assign_limits(struct pasidd_config *cfg, const char *key, const char *val, char *why, size_t len)
{
	static const struct {
		const char *key;
		size_t off;
		uint64_t min, max;
	} keys[] = {
	    {"MaxBatch", offsetof(struct pasidd_limits, max_batch), 1, 65536},
	    {"MaxPending", offsetof(struct pasidd_limits, max_pending), 1, 1 << 20},
	    {"MaxConnections", offsetof(struct pasidd_limits, max_connections), 1, 1 << 20},
	    {"MaxConnectionsPerUid", offsetof(struct pasidd_limits, max_conns_per_uid), 1, 1 << 20},
	    {"MaxVMsPerUid", offsetof(struct pasidd_limits, max_vms_per_uid), 1, 1 << 20},
	    {"IdleTimeoutSec", offsetof(struct pasidd_limits, idle_timeout_s), 1, 86400},
	    /* Below the connection's own bound (server.h), with room for the last event. */
	    {"MaxEventBuffer", offsetof(struct pasidd_limits, max_event_buffer), 4096, 131072},
	};
	uint64_t n;

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (strcmp(key, keys[i].key))
			continue;
		if (parse_u64(val, 10, keys[i].max, &n) < 0 || n < keys[i].min) {
			snprintf(why, len, "%s= must be %llu-%llu, not '%s'", key,
			         (unsigned long long)keys[i].min, (unsigned long long)keys[i].max,
			         val);
			return -EINVAL;
		}
		*(unsigned *)((char *)&cfg->limits + keys[i].off) = (unsigned)n;
		return 0;
	}
	return NOT_A_KEY;
}

static int
assign_quota(struct pasidd_config *cfg, const char *key, const char *val, char *why, size_t len)
{
	/* Its own keys, and its own word for one it does not have. */
	return quota_config_assign(&cfg->quota, key, val, why, len);
}

/* One Reserve= line: "FIRST-LAST" and an optional why after blanks; the empty value forgets
 * those given before. The width and overlaps are checked where the state is (start-up, pasidd
 * -n, config.reload), as ns_resv_set_config() does. */
static int
add_reserve(struct pasidd_config *cfg, const char *val, char *why, size_t len)
{
	size_t n = strcspn(val, " \t"), k = cfg->ns.nreserve;
	struct ns_resv r = {0}, *grown;
	char range[32], (*where)[160];
	struct ns_range q;
	const char *text;

	if (!val[0]) {
		cfg->ns.nreserve = 0;
		return 0;
	}
	if (n >= sizeof(range))
		goto bad;
	memcpy(range, val, n);
	range[n] = '\0';
	if (config_parse_range(range, &q) < 0)
		goto bad;
	if (q.first > q.last) {
		snprintf(why, len, "Reserve= %u-%u: the last PASID lies below the first", q.first,
		         q.last);
		return -EINVAL;
	}
	text = val + n + strspn(val + n, " \t");
	if (strlen(text) > NS_RESV_WHY_MAX) {
		snprintf(why, len, "Reserve= %s: the why is longer than %d bytes", range,
		         NS_RESV_WHY_MAX);
		return -EINVAL;
	}
	r.first = q.first;
	r.last = q.last;
	r.config = true;
	snprintf(r.why, sizeof(r.why), "%s", text);
	if (!(grown = realloc(cfg->ns.reserve, (k + 1) * sizeof(*grown))))
		goto nomem;
	cfg->ns.reserve = grown;
	if (!(where = realloc(cfg->reserve_where, (k + 1) * sizeof(*where))))
		goto nomem;
	cfg->reserve_where = where;
	cfg->ns.reserve[k] = r;
	snprintf(where[k], sizeof(where[k]), "%s", cfg->cur_where ? cfg->cur_where : "");
	cfg->ns.nreserve++;
	return 0;
bad:
	snprintf(why, len, "Reserve= must be FIRST-LAST, then optionally why, not '%s'", val);
	return -EINVAL;
nomem:
	snprintf(why, len, "out of memory");
	return -ENOMEM;
}

static int
assign_namespace(struct pasidd_config *cfg, const char *key, const char *val, char *why, size_t len)
{
	uint64_t n;

	if (!strcmp(key, "Reserve"))
		return add_reserve(cfg, val, why, len);

	if (!strcmp(key, "PasidBits")) {
		if (parse_u64(val, 10, NS_MAX_BITS, &n) < 0 || n < 1) {
			snprintf(why, len, "PasidBits= must be 1-%d, not '%s'", NS_MAX_BITS, val);
			return -EINVAL;
		}
		cfg->ns.pasid_bits = (unsigned)n;
		note_where(cfg, 0);
		return 0;
	}
	if (!strcmp(key, "LocalRange") || !strcmp(key, "SharedRange")) {
		bool local = key[0] == 'L';

		if (config_parse_range(val, local ? &cfg->ns.local : &cfg->ns.shared) < 0) {
			snprintf(why, len, "%s= must be FIRST-LAST, not '%s'", key, val);
			return -EINVAL;
		}
		*(local ? &cfg->local_set : &cfg->shared_set) = true;
		note_where(cfg, local ? 1 : 2);
		return 0;
	}
	return NOT_A_KEY;
}

/* One DeviceAllow= value; the empty one forgets those given before (as in systemd units). */
static int
add_device_allow(struct pasidd_config *cfg, const char *val, char *why, size_t len)
{
	struct devgate_dev dev;
	char **grown, *copy;

	if (!val[0]) {
		for (size_t i = 0; i < cfg->nbpf_device_allow; i++)
			free(cfg->bpf_device_allow[i]);
		cfg->nbpf_device_allow = 0;
		return 0;
	}
	if (devgate_allow_parse(val, &dev, why, len) < 0)
		return -EINVAL;
	grown = realloc(cfg->bpf_device_allow,
	                (cfg->nbpf_device_allow + 1) * sizeof(*cfg->bpf_device_allow));
	if (!grown)
		return -ENOMEM;
	cfg->bpf_device_allow = grown;
	if (!(copy = strdup(val)))
		return -ENOMEM;
	cfg->bpf_device_allow[cfg->nbpf_device_allow++] = copy;
	return 0;
}

static const char *const gates[] = {[BPF_GATE_OFF] = "off",
                                    [BPF_GATE_AUDIT] = "audit",
                                    [BPF_GATE_ENFORCE] = "enforce",
                                    [BPF_GATE_STRICT] = "strict"};

const char *
config_bpf_gate_name(enum bpf_gate g)
{
	return (size_t)g < sizeof(gates) / sizeof(gates[0]) ? gates[g] : "?";
}

static int
assign_bpf(struct pasidd_config *cfg, const char *key, const char *val, char *why, size_t len)
{

	if (!strcmp(key, "AttachGate")) {
		for (size_t i = 0; i < sizeof(gates) / sizeof(gates[0]); i++)
			if (!strcmp(val, gates[i])) {
				cfg->bpf_attach_gate = (enum bpf_gate)i;
				return 0;
			}
		snprintf(why, len, "AttachGate= must be strict, enforce, audit or off, not '%.32s'",
		         val);
		return -EINVAL;
	}
	if (!strcmp(key, "DeviceGate"))
		return parse_yes_no(key, val, &cfg->bpf_device_gate, why, len);
	if (!strcmp(key, "DeviceAllow"))
		return add_device_allow(cfg, val, why, len);
	if (!strcmp(key, "ProcDevices")) {
		if (val[0] != '/') {
			snprintf(why, len, "ProcDevices= needs an absolute path, not '%s'", val);
			return -EINVAL;
		}
		return config_set_str(&cfg->bpf_proc_devices, val);
	}
	return NOT_A_KEY;
}

static int
assign_idxd(struct pasidd_config *cfg, const char *key, const char *val, char *why, size_t len)
{
	if (!strcmp(key, "SysfsRoot")) {
		/* Relative to what? pasidd's working directory is no place to find the kernel. */
		if (val[0] != '/') {
			snprintf(why, len, "SysfsRoot= needs an absolute path, not '%s'", val);
			return -EINVAL;
		}
		return config_set_str(&cfg->idxd_sysfs_root, val);
	}
	if (!strcmp(key, "RequireWQ"))
		return parse_yes_no(key, val, &cfg->idxd_require_wq, why, len);
	return NOT_A_KEY;
}

/* The number keys of [WorkQueue], with the ranges of idxd_conf.h; Group= also takes -1. */
static int
wq_number(const char *key, const char *val, long long min, long long max, long long *out, char *why,
          size_t len)
{
	uint64_t n;

	if (min < 0 && !strcmp(val, "-1")) {
		*out = -1;
		return 0;
	}
	if (parse_u64(val, 10, (uint64_t)max, &n) < 0 || (long long)n < min) {
		snprintf(why, len, "%s= must be %lld-%lld, not '%s'", key, min, max, val);
		return -EINVAL;
	}
	*out = (long long)n;
	return 0;
}

/* Name= of the section being read: one WQ, in no other section. */
static int
wq_name(struct pasidd_config *cfg, struct idxd_wq_conf *c, const char *val, char *why, size_t len)
{
	char dev[IDXD_NAME_LEN], wq[IDXD_NAME_LEN];

	if (idxd_ref_split(val, dev, wq) < 0) {
		snprintf(why, len,
		         "Name= must be a work queue like dsa0/wq0.1 or iax1/wq1.0, not '%.64s'",
		         val);
		return -EINVAL;
	}
	if (c->name[0]) {
		snprintf(why, len, "Name= is already given in this [WorkQueue] section, at %s",
		         c->where);
		return -EINVAL;
	}
	for (size_t i = 0; i + 1 < cfg->nwqs; i++)
		if (!strcmp(cfg->wqs[i].name, val)) {
			snprintf(why, len, "Name=%s: that work queue is already configured at %s",
			         val, cfg->wqs[i].where);
			return -EINVAL;
		}
	snprintf(c->name, sizeof(c->name), "%s", val);
	snprintf(c->where, sizeof(c->where), "%s", cfg->cur_where ? cfg->cur_where : "");
	return 0;
}

static int
assign_workqueue(struct pasidd_config *cfg, const char *key, const char *val, char *why, size_t len)
{
	struct idxd_wq_conf *c = &cfg->wqs[cfg->nwqs - 1];
	long long n;
	int r;

	if (!strcmp(key, "Name"))
		return wq_name(cfg, c, val, why, len);
	if (!strcmp(key, "Mode")) {
		if (strcmp(val, "shared") && strcmp(val, "dedicated")) {
			snprintf(why, len, "Mode= must be shared or dedicated, not '%.32s'", val);
			return -EINVAL;
		}
		snprintf(c->mode, sizeof(c->mode), "%s", val);
		return 0;
	}
	if (!strcmp(key, "Type")) {
		if (strcmp(val, "user") && strcmp(val, "kernel") && strcmp(val, "none")) {
			snprintf(why, len, "Type= must be user, kernel or none, not '%.32s'", val);
			return -EINVAL;
		}
		snprintf(c->type, sizeof(c->type), "%s", val);
		return 0;
	}
	if (!strcmp(key, "Size") || !strcmp(key, "Threshold")) {
		if ((r = wq_number(key, val, 1, IDXD_MAX_WQ_SIZE, &n, why, len)) < 0)
			return r;
		if (key[0] == 'S') {
			c->size = (unsigned)n;
			c->has_size = true;
			return 0;
		}
		c->threshold = (unsigned)n;
		c->has_threshold = true;
		snprintf(cfg->wq_thr_where, sizeof(cfg->wq_thr_where), "%s",
		         cfg->cur_where ? cfg->cur_where : "");
		return 0;
	}
	if (!strcmp(key, "Priority")) {
		if ((r = wq_number(key, val, 1, IDXD_MAX_PRIORITY, &n, why, len)) < 0)
			return r;
		c->priority = (unsigned)n;
		c->has_priority = true;
		return 0;
	}
	if (!strcmp(key, "Group")) {
		if ((r = wq_number(key, val, -1, IDXD_MAX_GROUP, &n, why, len)) < 0)
			return r;
		c->group = (int)n;
		c->has_group = true;
		return 0;
	}
	if (!strcmp(key, "BlockOnFault")) {
		c->has_block_on_fault = true;
		return parse_yes_no(key, val, &c->block_on_fault, why, len);
	}
	if (!strcmp(key, "Label")) {
		/* The kernel's WQ_NAME_SIZE; it refuses an empty name. */
		if (!val[0] || strlen(val) > IDXD_LABEL_LEN - 1) {
			snprintf(why, len, "Label= must be 1-%d bytes", IDXD_LABEL_LEN - 1);
			return -EINVAL;
		}
		snprintf(c->label, sizeof(c->label), "%s", val);
		c->has_label = true;
		return 0;
	}
	return NOT_A_KEY;
}

/* A [WorkQueue] header: a new record, each section being one WQ. */
int
config_wq_open(struct pasidd_config *cfg, const char *where)
{
	void *p = realloc(cfg->wqs, (cfg->nwqs + 1) * sizeof(*cfg->wqs));

	if (!p)
		return -ENOMEM;
	cfg->wqs = p;
	memset(&cfg->wqs[cfg->nwqs++], 0, sizeof(*cfg->wqs));
	cfg->wq_open = true;
	snprintf(cfg->wq_head_where, sizeof(cfg->wq_head_where), "%.159s", where);
	cfg->wq_thr_where[0] = '\0';
	return 0;
}

/* The end of a [WorkQueue] section: its required keys, and the keys that must agree. err
 * gets "file:line: problem" with the line of the header or of Threshold=. */
int
config_wq_close(struct pasidd_config *cfg, char *err, size_t errlen)
{
	const struct idxd_wq_conf *c;
	const char *missing;
	char why[200];

	if (!cfg->wq_open)
		return 0;
	c = &cfg->wqs[cfg->nwqs - 1];
	missing = !c->name[0] ? "Name" : !c->mode[0] ? "Mode" : !c->type[0] ? "Type" : NULL;
	cfg->wq_open = false;
	if (missing) {
		snprintf(err, errlen, "%s: [WorkQueue]%s%s needs %s=", cfg->wq_head_where,
		         c->name[0] ? " for " : "", c->name, missing);
		return -EINVAL;
	}
	/* Each key was checked on its line: what is left is the threshold against the mode
	 * and the size, named at the Threshold= line. */
	if (idxd_wq_conf_check(c, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "%s: %s",
		         cfg->wq_thr_where[0] ? cfg->wq_thr_where : cfg->wq_head_where, why);
		return -EINVAL;
	}
	return 0;
}

/* The sections of the file, each with its keys. */
static const struct section {
	const char *name;
	int (*assign)(struct pasidd_config *cfg, const char *key, const char *val, char *why,
	              size_t len);
} sections[] = {
    {"Daemon", assign_daemon}, {"Namespace", assign_namespace}, {"Limits", assign_limits},
    {"Quota", assign_quota},   {"Idxd", assign_idxd},           {"WorkQueue", assign_workqueue},
    {"Bpf", assign_bpf},
};

static const struct section *
find_section(const char *name)
{
	for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++)
		if (!strcmp(name, sections[i].name))
			return &sections[i];
	return NULL;
}

bool
config_section_known(const char *name)
{
	return find_section(name) != NULL;
}

int
config_assign(struct pasidd_config *cfg, const char *sect, const char *key, const char *val,
              char *why, size_t len)
{
	const struct section *sc = find_section(sect);
	int r;

	if (!sc) {
		snprintf(why, len, "unknown section [%s]", sect);
		return -EINVAL;
	}
	r = sc->assign(cfg, key, val, why, len);
	if (r != NOT_A_KEY)
		return r;
	snprintf(why, len, "unknown key %s= in [%s]", key, sect);
	return -EINVAL;
}
