/* The composition root (see daemon.h). The order of the observers of the namespace is the
 * order in which each hears of a change: quota accounting, then the journal, then the audit
 * trail, then the owner watches, then the device gate. */
#include "daemon.h"
#include "audit.h"
#include "events.h"
#include "backends.h"
#include "bpf_attach_gate.h"
#include "bpf_observer.h"
#include "idxd.h"
#include "metrics.h"
#include "wq_setup.h"
#include "wq_watch.h"
#include "cgroup.h"
#include "bpf_devgate.h"
#include "config.h"
#include "fdstore.h"
#include "fsguard.h"
#include "log.h"
#include "owner.h"
#include "privs.h"
#include "quota.h"
#include "quota_acct.h"
#include "range_expiry.h"
#include "salvage.h"
#include "server.h"
#include "sockfile.h"
#include "state.h"

#include <errno.h>
#include <linux/capability.h>
#include <event2/event.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

int
pasidd_preflight(struct pasidd *d, bool create, char *why, size_t len)
{
	int fd, r;

	r = config_admin_gid(&d->cfg, &d->admin_gid, why, len);
	if (r < 0)
		return r;
	r = fsguard_open_dir(d->cfg.state_dir, "state directory", create ? FSGUARD_MKDIR_LAST : 0,
	                     0700, &fd, why, len);
	if (r == 0)
		close(fd);
	else if (create || r != -ENOENT)
		return r;
	/* A socket passed by the service manager is not ours to check. */
	return fdstore_listen_fd_passed() ? 0 : sockfile_check(&d->cfg, create, why, len);
}

static int
open_backend(struct pasidd *d, char *why, size_t len)
{
	int r = backend_open(d->cfg.backend, &d->be, why, len);

	if (r < 0)
		return r;
	if (why[0])
		log_warn("%s", why);
	if (d->cfg.ns.pasid_bits > d->be->pasid_bits) {
		snprintf(why, len, "configured PASID width %u exceeds the %s backend's %u bits",
		         d->cfg.ns.pasid_bits, d->be->ops->name, d->be->pasid_bits);
		return -EINVAL;
	}
	return 0;
}

/* Does the table hold PASID pasid attached to device dev (a BDF, as dev_name() gives it)? For
 * the observer's reconciliation. */
static bool
table_holds(void *ctx, const char *dev, uint32_t pasid)
{
	const struct pasidd *d = ctx;
	const struct ns_mapping *m;
	uint32_t bdf;

	if (ns_bdf_parse(dev, &bdf) < 0)
		return false;
	m = ns_lookup_hpasid(&d->ns, pasid, bdf);
	return m && ns_attachment(m, bdf);
}

/* Another process attached pasid to device dev: kept out of allocation until seen detached
 * (namespace.h). A device that is not a PCI BDF is nothing pasidd hands PASIDs out for. */
static int
table_take(void *ctx, const char *dev, uint32_t pasid)
{
	struct pasidd *d = ctx;
	uint32_t bdf;

	if (ns_bdf_parse(dev, &bdf) < 0)
		return 0;
	return ns_foreign_take(&d->ns, bdf, pasid);
}

/* pasid was seen detached from dev: 1 when it had been kept out. */
static int
table_release(void *ctx, const char *dev, uint32_t pasid)
{
	struct pasidd *d = ctx;
	uint32_t bdf;

	if (ns_bdf_parse(dev, &bdf) < 0)
		return 0;
	return ns_foreign_release(&d->ns, bdf, pasid) == 0;
}

/* The BPF programs, after the backend and the table (the observer reconciles with it) and
 * before the socket: each optional, none can stop start-up (d->bpf says why one does not
 * run). They live as long as this process: their links close with it. */
static void
open_bpf(struct pasidd *d)
{
	struct bpf_report_table t = {
	    .holds = table_holds, .take = table_take, .release = table_release, .ctx = d};

	d->observer = bpf_observer_open(d->base, &d->bpf[BPFPROG_OBSERVER], &t);
	d->attach_gate =
	    bpf_attach_gate_open(d->base, d->cfg.bpf_attach_gate, &d->bpf[BPFPROG_ATTACH_GATE]);
}

/* The quota tree with the configured limits and the cgroup2 mount whose xattrs give more. */
static int
open_quotas(struct pasidd *d, char *why, size_t len)
{
	char mnt[CGROUP_PATH_MAX], root[CGROUP_PATH_MAX];

	if (quota_new(&d->quota) < 0 || quota_apply_config(d->quota, &d->cfg.quota) < 0) {
		snprintf(why, len, "out of memory");
		return -ENOMEM;
	}
	if (cgroup_find_mount(mnt, sizeof(mnt), root, sizeof(root)) < 0)
		log_warn("no cgroup2 mount found: %s limits are not read", CGROUP_XATTR);
	else if (cgroup_feed_quota(d->quota, mnt, root) < 0) {
		snprintf(why, len, "out of memory");
		return -ENOMEM;
	}
	return 0;
}

/* After the replay: charges follow from the VMs; a cgroup above its max is said. */
static int
start_quotas(struct pasidd *d, char *why, size_t len)
{
	struct quota_entry e;
	size_t it = 0;

	if (quota_acct_rebuild(d->quota, &d->ns) < 0 || quota_acct_observe(d->quota, &d->ns) < 0) {
		snprintf(why, len, "out of memory");
		return -ENOMEM;
	}
	while (quota_next(d->quota, &it, &e))
		if (e.max != QUOTA_NO_LIMIT && e.current > e.max)
			log_warn("cgroup %s holds %llu PASIDs, more than its max of %llu: it gets "
			         "no more until it is below",
			         e.cgroup, (unsigned long long)e.current,
			         (unsigned long long)e.max);
	return 0;
}

/* The state's commit numbers for the fd store (host/), which cannot know the state. */
static uint64_t
next_commit(const void *state)
{
	return state_next_gen(state);
}

static uint64_t
last_commit(const void *state)
{
	return state_durable_gen(state);
}

/* A commit failed: nothing more may be acknowledged; main() exits non-zero. */
static void
state_failed_cb(void *ctx)
{
	struct pasidd *d = ctx;

	d->exit_status = 1;
	event_base_loopbreak(d->base);
}

/* What idxd the host has at start-up, for the administrator: nothing is kept from it (each
 * request reads sysfs again), and nothing here stops the daemon, which serves hosts
 * without DSA/IAX as well. */
static void
log_idxd(const struct pasidd *d)
{
	const char *sys = d->cfg.idxd_sysfs_root;
	struct idxd_host h;
	char why[IDXD_WHY_LEN + 64];
	size_t nwqs = 0, usable = 0;

	if (idxd_scan(sys, &h, why, sizeof(why)) < 0) {
		log_info("idxd: none (%s)", why);
		return;
	}
	for (size_t i = 0; i < h.ndevs; i++) {
		const struct idxd_device *dev = &h.devs[i];

		if (dev->err)
			log_warn("idxd: %s", dev->why);
		for (size_t j = 0; j < dev->nwqs; j++) {
			const struct idxd_wq *wq = &dev->wqs[j];

			nwqs++;
			if (wq->err)
				log_warn("idxd: %s", wq->why);
			else if (!dev->err && !idxd_wq_unfit(dev, wq, wq->name, why, sizeof(why)))
				usable++;
		}
	}
	log_info("idxd: %zu device(s), %zu work queue(s) under %s, %zu of them shared, of type "
	         "user, enabled and on an enabled device with PASID enabled",
	         h.ndevs, nwqs, sys, usable);
	idxd_host_free(&h);
}

/* The start-up summary, an audit entry: what the replay recovered and what was reclaimed
 * (each reclaimed VM has a vm.reclaim entry of its own before this one). */
static void
note_start(struct pasidd *d, const struct state_stats *st, int reclaimed)
{
	struct audit_entry *e = audit_entry_new(AUDIT_DAEMON_START);

	audit_add(e, "records", true, "%llu", (unsigned long long)st->replayed_records);
	audit_add(e, "vms", true, "%u", d->ns.nvms);
	audit_add(e, "shared_pasids", true, "%u", (unsigned)d->ns.shared_maps.count);
	audit_add(e, "local_pasids", true, "%u", d->ns.nlocal);
	audit_add(e, "reclaimed", true, "%d", reclaimed);
	audit_add(e, "replay_ms", false, "%.1f", st->replay_ms);
	audit_note(d->audit, e,
	           "replayed %llu records in %.1f ms: %u VMs, %u shared and %u local PASIDs; "
	           "%d VM(s) of exited owners reclaimed",
	           (unsigned long long)st->replayed_records, st->replay_ms, d->ns.nvms,
	           (unsigned)d->ns.shared_maps.count, d->ns.nlocal, reclaimed);
}

/* The configuration's reservations in place, and those of the state that expired while
 * pasidd was down removed (journaled) before anything is served. */
static int
start_reservations(struct pasidd *d, char *why, size_t len)
{
	struct ns_err err;
	size_t bad = 0;
	int r;

	if (ns_resv_set_config(&d->ns, d->cfg.ns.reserve, d->cfg.ns.nreserve, &bad, &err) < 0) {
		const struct ns_resv *q = &d->cfg.ns.reserve[bad];

		snprintf(why, len, "refusing to serve: %s: Reserve=%u-%u: %s",
		         d->cfg.reserve_where[bad], q->first, q->last, err.message);
		return -EINVAL;
	}
	if ((r = range_expiry_arm(d)) < 0) {
		snprintf(why, len, "cannot remove the expired reservations: %s", strerror(-r));
		return r;
	}
	return 0;
}

/* What each capability pasidd can hold is for; pasidd(8), PRIVILEGES, says the same. */
static uint64_t
privileges_needed(const struct pasidd *d, bool own_socket)
{
	uint64_t need = 0;

	/* The host's PCI config space past its first 64 bytes, where the PASID capability
	 * lives: device.assign refuses a shared device without one, and an attach's width is
	 * checked against it besides IOMMU_GET_HW_INFO. */
	if (strcmp(d->be->ops->name, "iommufd") == 0)
		need |= PRIVS_BIT(CAP_SYS_ADMIN);
	/* A VM's cgroup device program is loaded and attached when the VM registers, and its
	 * maps change with the VM's devices: a network-admin program type for the kernel, so
	 * CAP_BPF with CAP_NET_ADMIN (CAP_SYS_ADMIN where that is what it had). The attach gate
	 * and the observer need CAP_PERFMON only to load and attach, which is done by now: their
	 * ring buffers are read through mmap and epoll. */
	if (d->bpf[BPFPROG_DEVICE_GATE].active) {
		need |= PRIVS_BIT(CAP_BPF);
		need |= privs_have(PRIVS_BIT(CAP_NET_ADMIN)) ? PRIVS_BIT(CAP_NET_ADMIN)
		                                             : PRIVS_BIT(CAP_SYS_ADMIN);
	}
	/* A socket file pasidd makes itself goes to SocketGroup=, which a reload may change to
	 * a group root is not in. */
	if (own_socket)
		need |= PRIVS_BIT(CAP_CHOWN);
	return need;
}

/* Gives up for good every capability that what was started does not need; logs what it
 * keeps, and d->caps_* for daemon.status. 0 or a negative errno with the reason in why. */
static int
limit_privileges(struct pasidd *d, bool own_socket, char *why, size_t len)
{
	uint64_t had = privs_effective(), keep = privileges_needed(d, own_socket) & had;
	char kept[512];
	int r;

	if ((r = privs_limit(keep)) < 0) {
		snprintf(why, len, "cannot give up the capabilities it does not need: %s",
		         strerror(-r));
		return r;
	}
	d->caps_kept = privs_effective();
	d->caps_dropped = had & ~d->caps_kept;
	d->caps_limited = true;
	privs_format(d->caps_kept, kept, sizeof(kept));
	log_info("capabilities kept: %s; %d others given up (daemon.status.privileges)", kept,
	         __builtin_popcountll(d->caps_dropped));
	return 0;
}

int
pasidd_open(struct pasidd *d, unsigned flags, char *why, size_t len)
{
	struct state_stats st;
	char rule[256];
	int r, reclaimed, listen_fd;

	why[0] = '\0';
	bpfprog_init(d->bpf);
	if (!(d->metrics = metrics_new())) {
		snprintf(why, len, "out of memory");
		return -ENOMEM;
	}
	if ((r = open_backend(d, why, len)) < 0)
		return r;
	r = ns_init(&d->ns, &d->cfg.ns, d->be);
	if (r < 0) {
		snprintf(why, len, "cannot set up the namespace: %s", strerror(-r));
		return r;
	}
	d->base = event_base_new();
	/* Three priorities: events take the middle one; the lowest is for work that waits for
	 * a turn with nothing else to do (the state's start-up compaction), so requests come
	 * first. */
	if (!d->base || event_base_priority_init(d->base, 3) < 0) {
		snprintf(why, len, "cannot create the event loop");
		return -ENOMEM;
	}
	if ((r = open_quotas(d, why, len)) < 0 ||
	    (r = state_open(d->cfg.state_dir, d->base, &d->ns, d->quota, &d->state, why, len)) < 0)
		return r;
	if (ns_check(&d->ns, rule, sizeof(rule)) < 0) {
		snprintf(
		    why, len,
		    "refusing to serve: the replayed state in %s breaks a rule: %s; it is left "
		    "untouched for inspection",
		    d->cfg.state_dir, rule);
		return -EUCLEAN;
	}
	state_on_failure(d->state, state_failed_cb, d);
	if ((r = start_quotas(d, why, len)) < 0 || (r = state_start(d->state, why, len)) < 0)
		return r;
	/* The audit trail from here on: the VMs of exited owners reclaimed below are told. */
	if (events_open(d, &d->events) < 0 || audit_open(d) < 0) {
		snprintf(why, len, "out of memory");
		return -ENOMEM;
	}
	/* The fd store before the owners: a VM of an exited owner is detached with the
	 * descriptors the store gave back. */
	if ((r = fdstore_open(&d->fdstore, why, len)) < 0)
		return r;
	if (fdstore_reconcile(d->fdstore, &d->ns) < 0 ||
	    state_on_durable(d->state, fdstore_on_durable, d->fdstore) < 0) {
		snprintf(why, len, "out of memory");
		return -ENOMEM;
	}
	/* After the reconcile, whose strays leave the store at once. */
	fdstore_set_commits(d->fdstore, next_commit, last_commit, d->state);
	if ((r = owners_new(d->base, &d->ns, &d->owners)) < 0 ||
	    (reclaimed = owners_start(d->owners)) < 0) {
		snprintf(why, len, "cannot watch the VMs' owners: %s",
		         strerror(-(r < 0 ? r : reclaimed)));
		return r < 0 ? r : reclaimed;
	}
	/* After the reclaim (a dead owner's mappings are not in the way); before serving. */
	if ((r = start_reservations(d, why, len)) < 0)
		return r;
	state_get_stats(d->state, &st);
	note_start(d, &st, reclaimed);
	log_idxd(d);
	open_bpf(d);
	/* After the replay: a WQ that mappings use is not reconfigured. */
	wq_setup_config(d);
	if ((r = wq_watch_open(d, &d->wqwatch)) < 0) {
		snprintf(why, len, "cannot watch the work queues in use: %s", strerror(-r));
		return r;
	}
	/* After the replay and the reclaim: the VMs left are gated. */
	bpf_devgate_open(d->base, &d->ns, &d->cfg, &d->bpf[BPFPROG_DEVICE_GATE], &d->devgate);
	if ((r = state_commit(d->state)) < 0) {
		snprintf(why, len, "cannot write the state in %s: %s", d->cfg.state_dir,
		         strerror(-r));
		return r;
	}
	if (flags & PASIDD_NO_SERVER)
		return 0;
	listen_fd = fdstore_take_listen_fd(d->fdstore);
	/* Before the socket serves: no client ever talks to a pasidd with more. */
	if ((flags & PASIDD_LIMIT_PRIVILEGES) &&
	    (r = limit_privileges(d, listen_fd < 0, why, len)) < 0) {
		if (listen_fd >= 0)
			close(listen_fd);
		return r;
	}
	return server_open(d, listen_fd, &d->srv, why, len);
}

void
pasidd_close(struct pasidd *d)
{
	server_close(d->srv);
	d->srv = NULL;
	range_expiry_stop(d);
	bpf_attach_gate_close(d->attach_gate);
	d->attach_gate = NULL;
	bpf_observer_close(d->observer);
	d->observer = NULL;
	/* Watches first: closing the state commits, and nothing may react to that any more. */
	owners_free(d->owners);
	d->owners = NULL;
	wq_watch_free(d->wqwatch);
	d->wqwatch = NULL;
	bpf_devgate_free(d->devgate);
	d->devgate = NULL;
	/* Before the state closes: what its last commit makes durable is not told any more. */
	audit_close(d->audit);
	d->audit = NULL;
	events_close(d->events);
	d->events = NULL;
	state_close(d->state);
	d->state = NULL;
	fdstore_free(d->fdstore);
	d->fdstore = NULL;
	if (d->ns.shared_used.level[0])
		ns_destroy(&d->ns);
	quota_free(d->quota);
	d->quota = NULL;
	backend_close(d->be);
	d->be = NULL;
	json_object_put(d->openrpc);
	d->openrpc = NULL;
	if (d->tok)
		json_tokener_free(d->tok);
	d->tok = NULL;
	metrics_free(d->metrics);
	d->metrics = NULL;
	if (d->base)
		event_base_free(d->base);
	d->base = NULL;
}

int
pasidd_check(struct pasidd *d)
{
	struct state_summary sum;
	char why[1024] = "";
	int r;

	r = pasidd_preflight(d, false, why, sizeof(why));
	if (r == 0)
		r = open_backend(d, why, sizeof(why));
	if (r == 0)
		r = state_check(d->cfg.state_dir, &d->cfg.ns, d->be, &sum, why, sizeof(why));
	backend_close(d->be);
	d->be = NULL;
	if (r < 0) {
		fprintf(stderr, "pasidd: %s\n", why);
		return 2;
	}
	for (size_t i = 0; i < d->cfg.nfiles; i++)
		printf("read %s\n", d->cfg.files[i]);
	if (!sum.exists)
		printf("state in %s: none yet\n", d->cfg.state_dir);
	else
		printf("state in %s: %u VM(s), %u shared and %u local PASID(s), all within the "
		       "ranges\n",
		       d->cfg.state_dir, sum.vms, sum.shared, sum.local);
	if (sum.exists && sum.dropped)
		printf("state in %s: the journal ends inside a transaction whose commit was cut "
		       "short; its %u record(s) are dropped at start-up (never acknowledged)\n",
		       d->cfg.state_dir, sum.dropped);
	for (size_t i = 0; i < d->cfg.nwqs; i++) {
		char line[1200];

		/* Only what is configured: -n reads no sysfs, the WQ is applied at start-up. */
		idxd_wq_conf_format(&d->cfg.wqs[i], line, sizeof(line));
		printf("work queue %s (%s)\n", line, d->cfg.wqs[i].where);
	}
	if (d->cfg.idxd_require_wq)
		printf("shared PASIDs: every allocation must name a work queue (RequireWQ=yes)\n");
	/* What start-up will ask the kernel for; -n loads no program. */
	printf("bpf: AttachGate=%s, DeviceGate=%s, DeviceAllow=",
	       config_bpf_gate_name(d->cfg.bpf_attach_gate), d->cfg.bpf_device_gate ? "yes" : "no");
	for (size_t i = 0; i < d->cfg.nbpf_device_allow; i++)
		printf("%s%s", i ? " " : "", d->cfg.bpf_device_allow[i]);
	printf("%s, ProcDevices=%s (loaded at start-up, not by -n)\n",
	       d->cfg.nbpf_device_allow ? "" : "(none)", d->cfg.bpf_proc_devices);
	for (size_t i = 0; i < d->cfg.ns.nreserve; i++)
		printf("reserved %u-%u%s%s (%s)\n", d->cfg.ns.reserve[i].first,
		       d->cfg.ns.reserve[i].last, d->cfg.ns.reserve[i].why[0] ? ": " : "",
		       d->cfg.ns.reserve[i].why, d->cfg.reserve_where[i]);
	printf("configuration OK: local %u-%u, shared %u-%u, %u-bit PASIDs, socket %s\n",
	       d->cfg.ns.local.first, d->cfg.ns.local.last, d->cfg.ns.shared.first,
	       d->cfg.ns.shared.last, d->cfg.ns.pasid_bits, d->cfg.socket_path);
	return 0;
}

int
pasidd_salvage(struct pasidd *d)
{
	char why[1024] = "";
	int fd, r;

	r = fsguard_open_dir(d->cfg.state_dir, "state directory", 0, 0, &fd, why, sizeof(why));
	if (r == -ENOENT) {
		log_info("%s: nothing to salvage", why);
		return 0;
	}
	if (r < 0) {
		log_err("%s", why);
		return 2;
	}
	close(fd);
	if (open_backend(d, why, sizeof(why)) < 0) {
		log_err("%s", why);
		backend_close(d->be);
		d->be = NULL;
		return 1;
	}
	r = salvage_run(d->cfg.state_dir, &d->cfg.ns, d->be);
	backend_close(d->be);
	d->be = NULL;
	return r;
}
