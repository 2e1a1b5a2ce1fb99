#include "backend.h"
#include "idxd.h"
#include "methods.h"
#include "metrics.h"
#include "reload.h"
#include "audit.h"
#include "log.h"
#include "peer.h"
#include "privs.h"
#include "pasid-proto.h"
#include "pasidd.h"
#include "server.h"
#include "state.h"
#include "wq_watch.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

static struct json_object *
range_json(const struct ns_range *r)
{
	struct json_object *a = json_object_new_array_ext(2);

	json_object_array_add(a, json_object_new_int64(r->first));
	json_object_array_add(a, json_object_new_int64(r->last));
	return a;
}

static struct json_object *
limits_json(const struct pasidd_config *cfg)
{
	const struct pasidd_limits *l = &cfg->limits;
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "max_message_size",
	                       json_object_new_int64((int64_t)cfg->max_message));
	json_object_object_add(o, "max_batch", json_object_new_int64(l->max_batch));
	json_object_object_add(o, "max_pending", json_object_new_int64(l->max_pending));
	json_object_object_add(o, "max_connections", json_object_new_int64(l->max_connections));
	json_object_object_add(o, "max_connections_per_uid",
	                       json_object_new_int64(l->max_conns_per_uid));
	json_object_object_add(o, "max_vms_per_uid", json_object_new_int64(l->max_vms_per_uid));
	json_object_object_add(o, "idle_timeout_s", json_object_new_int64(l->idle_timeout_s));
	return o;
}

/* The "journal" member: the state's files and its start-up replay; null without a state
 * directory (an in-process core, as the fuzzers run it). */
static struct json_object *
journal_json(const struct state *s)
{
	struct json_object *o;
	struct state_stats st;

	if (!s)
		return NULL;
	state_get_stats(s, &st);
	o = json_object_new_object();
	json_object_object_add(o, "bytes", json_object_new_int64((int64_t)st.journal_bytes));
	json_object_object_add(o, "snapshot_bytes",
	                       json_object_new_int64((int64_t)st.snapshot_bytes));
	json_object_object_add(o, "generation", json_object_new_int64((int64_t)st.generation));
	json_object_object_add(
	    o, "last_compaction",
	    st.last_compaction_unix ? json_object_new_int64(st.last_compaction_unix) : NULL);
	json_object_object_add(o, "replayed_records",
	                       json_object_new_int64((int64_t)st.replayed_records));
	json_object_object_add(o, "dropped_bytes",
	                       json_object_new_int64((int64_t)st.dropped_bytes));
	json_object_object_add(o, "replay_ms", json_object_new_double(st.replay_ms));
	return o;
}

/* Each BPF program: {state: "active"|"unavailable", why, and while active reports, alarms; the
 * observer's also held}. */
static struct json_object *
bpf_json(const struct pasidd *d)
{
	struct json_object *o = json_object_new_object();

	for (int p = 0; p < BPFPROG_COUNT; p++) {
		struct json_object *e = json_object_new_object();

		json_object_object_add(
		    e, "state",
		    json_object_new_string(d->bpf[p].active ? "active" : "unavailable"));
		if (d->bpf[p].why[0])
			json_object_object_add(e, "why", json_object_new_string(d->bpf[p].why));
		/* Counted only while it runs: a program that never ran has nothing to count. */
		if (d->bpf[p].active) {
			json_object_object_add(e, "reports",
			                       json_object_new_int64((int64_t)d->bpf[p].reports));
			json_object_object_add(e, "alarms",
			                       json_object_new_int64((int64_t)d->bpf[p].alarms));
			if (p != BPFPROG_DEVICE_GATE)
				json_object_object_add(
				    e, "lost", json_object_new_int64((int64_t)d->bpf[p].lost));
			/* The observer's PASIDs attached around pasidd, kept out of allocation. */
			if (p == BPFPROG_OBSERVER)
				json_object_object_add(
				    e, "held",
				    json_object_new_int64((int64_t)ns_foreign_count(&d->ns)));
		}
		json_object_object_add(o, bpfprog_name((enum bpfprog)p), e);
	}
	return o;
}

/* Whether the host has idxd, looked at now like every request that depends on it. */
static struct json_object *
idxd_json(const struct pasidd_config *cfg)
{
	struct json_object *o = json_object_new_object();
	char why[PATH_MAX + 64];
	bool present = idxd_present(cfg->idxd_sysfs_root, why, sizeof(why));

	json_object_object_add(o, "present", json_object_new_boolean(present));
	json_object_object_add(o, "sysfs_root", json_object_new_string(cfg->idxd_sysfs_root));
	json_object_object_add(o, "require_wq", json_object_new_boolean(cfg->idxd_require_wq));
	if (!present)
		json_object_object_add(o, "why", json_object_new_string(why));
	return o;
}

static struct json_object *
cap_names(uint64_t mask)
{
	struct json_object *a = json_object_new_array();

	for (unsigned c = 0; c < 64; c++) {
		char other[PRIVS_NAME_MAX];

		if (mask & PRIVS_BIT(c))
			json_object_array_add(a, json_object_new_string(privs_name(c, other)));
	}
	return a;
}

/* The capabilities pasidd holds now (read, not remembered) and those it gave up at start. */
static struct json_object *
privileges_json(const struct pasidd *d)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "capabilities", cap_names(privs_effective()));
	json_object_object_add(o, "dropped", cap_names(d->caps_dropped));
	json_object_object_add(o, "limited", json_object_new_boolean(d->caps_limited));
	return o;
}

int
method_rpc_discover(struct rpc_call *c, const struct rpc_args *a, struct json_object **result)
{
	/* Parsed once and shared by every answer: it never changes, and parsing 40 KB per
	 * request would cost more than everything else rpc.discover does. */
	if (!c->d->openrpc)
		c->d->openrpc = json_tokener_parse(proto_openrpc_json);
	if (!c->d->openrpc)
		return rpc_fail(c, PROTO_E_INTERNAL, NULL,
		                "the built-in OpenRPC document is invalid");
	*result = json_object_get(c->d->openrpc);
	return 0;
}

int
method_daemon_status(struct rpc_call *c, const struct rpc_args *a, struct json_object **result)
{
	struct pasidd *d = c->d;
	struct json_object *o, *be, *caps, *ranges, *used, *freeo, *reserved;
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	o = json_object_new_object();
	json_object_object_add(o, "version", json_object_new_string(PASIDD_VERSION));
	json_object_object_add(o, "uptime_s",
	                       json_object_new_int64(now.tv_sec - d->started.tv_sec));
	be = json_object_new_object();
	json_object_object_add(be, "name", json_object_new_string(d->be->ops->name));
	json_object_object_add(be, "requested", json_object_new_string(d->be->requested));
	if (d->be->why[0])
		json_object_object_add(be, "why", json_object_new_string(d->be->why));
	json_object_object_add(be, "pasid_bits", json_object_new_int(d->ns.cfg.pasid_bits));
	caps = json_object_new_array();
	for (const char *const *cap = d->be->caps; cap && *cap; cap++)
		json_object_array_add(caps, json_object_new_string(*cap));
	json_object_object_add(be, "caps", caps);
	if (d->be->attach_missing) {
		struct json_object *no = json_object_new_object();

		json_object_object_add(no, "attach", json_object_new_string(d->be->attach_missing));
		json_object_object_add(be, "unsupported", no);
	}
	json_object_object_add(o, "backend", be);
	ranges = json_object_new_object();
	json_object_object_add(ranges, "local", range_json(&d->ns.cfg.local));
	json_object_object_add(ranges, "shared", range_json(&d->ns.cfg.shared));
	json_object_object_add(o, "ranges", ranges);
	used = json_object_new_object();
	json_object_object_add(used, "local", json_object_new_int64(d->ns.nlocal));
	json_object_object_add(used, "shared", json_object_new_int64(ns_shared_used(&d->ns)));
	json_object_object_add(o, "used", used);
	json_object_object_add(o, "attached", json_object_new_int64(ns_attached(&d->ns)));
	freeo = json_object_new_object();
	json_object_object_add(freeo, "shared", json_object_new_int64(ns_shared_free(&d->ns)));
	json_object_object_add(o, "free", freeo);
	/* Reservations (range.list has them whole): how many, and the shared numbers they keep
	 * from being handed out, which free.shared leaves out. */
	reserved = json_object_new_object();
	json_object_object_add(reserved, "count", json_object_new_int64(d->ns.nresvs));
	json_object_object_add(reserved, "shared",
	                       json_object_new_int64(ns_resv_shared_free(&d->ns)));
	json_object_object_add(o, "reserved", reserved);
	json_object_object_add(o, "vms", json_object_new_int64(d->ns.nvms));
	json_object_object_add(o, "connections",
	                       json_object_new_int64(d->srv ? server_connections(d->srv) : 0));
	json_object_object_add(o, "journal", journal_json(d->state));
	json_object_object_add(o, "limits", limits_json(&d->cfg));
	json_object_object_add(o, "idxd", idxd_json(&d->cfg));
	json_object_object_add(o, "warnings", wq_watch_warnings(d->wqwatch));
	json_object_object_add(o, "bpf", bpf_json(d));
	json_object_object_add(o, "privileges", privileges_json(d));
	*result = o;
	return 0;
}

int
method_daemon_metrics(struct rpc_call *c, const struct rpc_args *a, struct json_object **result)
{
	char *text = metrics_render(c->d);

	(void)a;
	if (!text)
		return rpc_fail(c, PROTO_E_INTERNAL, NULL, "out of memory");
	*result = json_object_new_string(text);
	free(text);
	return 0;
}

int
method_config_reload(struct rpc_call *c, const struct rpc_args *a, struct json_object **result)
{
	char why[1024];

	(void)a;
	if (pasidd_reload(c->d, why, sizeof(why)) < 0) {
		log_warn("reload (config.reload, uid %u) refused: %s", (unsigned)c->peer->uid, why);
		return rpc_fail(c, PROTO_E_CONFLICT, NULL, "%s", why);
	}
	audit_note(c->d->audit, audit_entry_new(AUDIT_CONFIG_RELOAD), "%s (config.reload, uid %u)",
	           why, (unsigned)c->peer->uid);
	return 0;
}
