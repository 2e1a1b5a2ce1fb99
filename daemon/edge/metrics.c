/* daemon.metrics (metrics.h): request counters kept as requests are answered, and the
 * exposition of everything at a request. */
#include "metrics.h"
#include "backend.h"
#include "events.h"
#include "methods.h"
#include "owner.h"
#include "pasid-proto.h"
#include "pasidd.h"
#include "quota.h"
#include "server.h"
#include "state.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Outcomes of a request: a result, or the error of its answer. */
static const struct {
	int code;
	const char *name;
} outcomes[] = {
    {0, "ok"},
    {PROTO_E_PARSE, "parse_error"},
    {PROTO_E_INVALID_REQ, "invalid_request"},
    {PROTO_E_NO_METHOD, "method_not_found"},
    {PROTO_E_INVALID_PARAMS, "invalid_params"},
    {PROTO_E_INTERNAL, "internal_error"},
    {PROTO_E_EXHAUSTED, "exhausted"},
    {PROTO_E_QUOTA, "quota_exceeded"},
    {PROTO_E_NOT_FOUND, "not_found"},
    {PROTO_E_CONFLICT, "conflict"},
    {PROTO_E_PERMISSION, "permission_denied"},
    {PROTO_E_KERNEL, "kernel_error"},
    {PROTO_E_UNSUPPORTED, "unsupported"},
    {PROTO_E_OUT_OF_RANGE, "out_of_range"},
};
#define NOUTCOMES (sizeof(outcomes) / sizeof(outcomes[0]))
#define NMETHODS  64 /* room for the table's entries; one more for "none" */

/* Request latency buckets (seconds): from a cached answer to a slow commit. */
static const double buckets[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                 0.01,   0.025,   0.05,   0.1,   0.25,   1};
#define NBUCKETS (sizeof(buckets) / sizeof(buckets[0]))

struct metrics {
	uint64_t requests[NMETHODS + 1][NOUTCOMES];
	uint64_t le[NBUCKETS + 1]; /* per bucket, not cumulative; the last is +Inf */
	double seconds;
	uint64_t count;
};

struct metrics *
metrics_new(void)
{
	return calloc(1, sizeof(struct metrics));
}

void
metrics_free(struct metrics *m)
{
	free(m);
}

static const struct rpc_method *
table_of(const struct pasidd *d)
{
	return d->methods ? d->methods : rpc_methods;
}

void
metrics_request(struct metrics *m, const struct pasidd *d, const struct rpc_method *method,
                int code, double seconds)
{
	size_t k = 0, o = 0, b = 0;

	if (!m)
		return;
	k = method ? (size_t)(method - table_of(d)) : NMETHODS;
	if (k >= NMETHODS)
		k = NMETHODS;
	while (o < NOUTCOMES && outcomes[o].code != code)
		o++;
	if (o == NOUTCOMES)
		o = 5; /* an error code not of the protocol: internal */
	m->requests[k][o]++;
	while (b < NBUCKETS && seconds > buckets[b])
		b++;
	m->le[b]++;
	m->seconds += seconds;
	m->count++;
}

/* A label value as the format wants it: backslash, double quote and newline escaped. */
static void
put_label(FILE *f, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			fprintf(f, "\\%c", *v);
		else if (*v == '\n')
			fputs("\\n", f);
		else
			fputc(*v, f);
	}
}

static void
family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A histogram from per-bucket counts (not cumulative; counts[n] is the +Inf bucket). */
static void
histogram(FILE *f, const char *name, const char *help, const double *bounds, size_t n,
          const uint64_t *counts, double sum, uint64_t count)
{
	uint64_t cum = 0;

	family(f, name, "histogram", help);
	for (size_t b = 0; b <= n; b++) {
		cum += counts[b];
		if (b < n)
			fprintf(f, "%s_bucket{le=\"%g\"} %llu\n", name, bounds[b],
			        (unsigned long long)cum);
		else
			fprintf(f, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)cum);
	}
	fprintf(f, "%s_sum %.9f\n%s_count %llu\n", name, sum, name, (unsigned long long)count);
}

static void
put_limit(FILE *f, uint64_t v)
{
	if (v == QUOTA_NO_LIMIT)
		fputs("+Inf", f);
	else
		fprintf(f, "%llu", (unsigned long long)v);
}

static void events_figures(FILE *f, const struct pasidd *d);

static void
namespace_figures(FILE *f, const struct pasidd *d)
{
	const struct ns *ns = &d->ns;
	uint64_t reclaimed, returned;
	struct timespec now;

	family(f, "pasidd_pasids_used", "gauge", "PASIDs in use, by range.");
	fprintf(f, "pasidd_pasids_used{range=\"local\"} %u\n", ns->nlocal);
	fprintf(f, "pasidd_pasids_used{range=\"shared\"} %u\n", ns_shared_used(ns));
	family(f, "pasidd_pasids_free", "gauge", "PASIDs left in the shared range.");
	fprintf(f, "pasidd_pasids_free{range=\"shared\"} %u\n", ns_shared_free(ns));
	family(f, "pasidd_range_size", "gauge", "PASIDs in each range.");
	fprintf(f, "pasidd_range_size{range=\"local\"} %u\n",
	        ns->cfg.local.last - ns->cfg.local.first + 1);
	fprintf(f, "pasidd_range_size{range=\"shared\"} %u\n",
	        ns->cfg.shared.last - ns->cfg.shared.first + 1);
	family(f, "pasidd_vms", "gauge", "Registered VMs.");
	fprintf(f, "pasidd_vms %u\n", ns->nvms);
	family(f, "pasidd_attachments", "gauge", "PASIDs attached to a device's page table.");
	fprintf(f, "pasidd_attachments %u\n", ns_attached(ns));
	family(f, "pasidd_device_attachments", "gauge",
	       "Devices whose requester ID pasidd attached for their VM (device.attach).");
	fprintf(f, "pasidd_device_attachments %u\n", ns_rid_attached(ns));
	family(f, "pasidd_kernel_calls_total", "counter",
	       "The backend's attach and detach calls, of PASIDs and requester IDs, by outcome.");
	for (int op = 0; op < 2; op++)
		for (int bad = 0; bad < 2; bad++)
			fprintf(f, "pasidd_kernel_calls_total{op=\"%s\",outcome=\"%s\"} %llu\n",
			        op ? "detach" : "attach", bad ? "refused" : "ok",
			        (unsigned long long)ns->kernel_calls[op][bad]);
	family(f, "pasidd_wq_pasids", "gauge", "Shared PASIDs handed out for each work queue.");
	for (unsigned i = 0; i < ns->nwqs; i++) {
		if (!ns->wqs[i]->nmaps)
			continue;
		fputs("pasidd_wq_pasids{wq=\"", f);
		put_label(f, ns->wqs[i]->ref);
		fprintf(f, "\"} %u\n", ns->wqs[i]->nmaps);
	}
	owners_get_reclaims(d->owners, &reclaimed, &returned);
	family(f, "pasidd_owner_reclaims_total", "counter",
	       "VMs removed because their owner process exited.");
	fprintf(f, "pasidd_owner_reclaims_total %llu\n", (unsigned long long)reclaimed);
	family(f, "pasidd_owner_reclaimed_pasids_total", "counter", "PASIDs those VMs returned.");
	fprintf(f, "pasidd_owner_reclaimed_pasids_total %llu\n", (unsigned long long)returned);
	events_figures(f, d);
	family(f, "pasidd_connections", "gauge", "Open client connections.");
	fprintf(f, "pasidd_connections %u\n", d->srv ? server_connections(d->srv) : 0);
	clock_gettime(CLOCK_MONOTONIC, &now);
	family(f, "pasidd_uptime_seconds", "gauge", "Seconds since the daemon started.");
	fprintf(f, "pasidd_uptime_seconds %lld\n", (long long)(now.tv_sec - d->started.tv_sec));
	family(f, "pasidd_build_info", "gauge", "The version running.");
	fprintf(f, "pasidd_build_info{version=\"%s\",backend=\"", PASIDD_VERSION);
	put_label(f, d->be->ops->name);
	fputs("\"} 1\n", f);
}

static void
events_figures(FILE *f, const struct pasidd *d)
{
	struct events_stats st;

	events_get_stats(d->events, &st);
	family(f, "pasidd_event_subscribers", "gauge", "Connections subscribed to events.");
	fprintf(f, "pasidd_event_subscribers %llu\n", (unsigned long long)st.subscriptions);
	family(f, "pasidd_events_total", "counter", "Audit entries published as events.");
	fprintf(f, "pasidd_events_total %llu\n", (unsigned long long)st.published);
	family(f, "pasidd_events_sent_total", "counter",
	       "Event notifications queued to subscribers.");
	fprintf(f, "pasidd_events_sent_total %llu\n", (unsigned long long)st.sent);
	family(f, "pasidd_events_dropped_total", "counter",
	       "Events lost by subscribers that did not read.");
	fprintf(f, "pasidd_events_dropped_total %llu\n", (unsigned long long)st.dropped);
	family(f, "pasidd_event_subscribers_dropped_total", "counter",
	       "Subscriptions ended because the subscriber did not read.");
	fprintf(f, "pasidd_event_subscribers_dropped_total %llu\n", (unsigned long long)st.ended);
}

static void
quota_figures(FILE *f, const struct pasidd *d)
{
	struct quota_entry e;
	struct quota_stats st;
	size_t it;

	if (!d->quota)
		return;
	quota_get_stats(d->quota, &st);
	family(f, "pasidd_quota_denied_total", "counter",
	       "Allocations refused by a quota, by what refused them.");
	fprintf(f, "pasidd_quota_denied_total{by=\"cgroup\"} %llu\n",
	        (unsigned long long)st.denied_cgroup);
	fprintf(f, "pasidd_quota_denied_total{by=\"vm\"} %llu\n", (unsigned long long)st.denied_vm);
	/* Per cgroup: the nodes the tree holds, which are those with PASIDs or a limit. */
	family(f, "pasidd_cgroup_pasids", "gauge",
	       "PASIDs charged to a cgroup and its descendants.");
	for (it = 0; quota_next(d->quota, &it, &e);) {
		fputs("pasidd_cgroup_pasids{cgroup=\"", f);
		put_label(f, e.cgroup);
		fprintf(f, "\"} %llu\n", (unsigned long long)e.current);
	}
	family(f, "pasidd_cgroup_pasids_max", "gauge", "The limit in force for a cgroup.");
	for (it = 0; quota_next(d->quota, &it, &e);) {
		fputs("pasidd_cgroup_pasids_max{cgroup=\"", f);
		put_label(f, e.cgroup);
		fputs("\"} ", f);
		put_limit(f, e.max);
		fputc('\n', f);
	}
	family(f, "pasidd_cgroup_denied_total", "counter",
	       "Charges a cgroup's limit refused since the daemon started.");
	for (it = 0; quota_next(d->quota, &it, &e);) {
		fputs("pasidd_cgroup_denied_total{cgroup=\"", f);
		put_label(f, e.cgroup);
		fprintf(f, "\"} %llu\n", (unsigned long long)e.denied);
	}
}

static void
state_figures(FILE *f, const struct pasidd *d)
{
	struct state_stats st;

	if (!d->state)
		return;
	state_get_stats(d->state, &st);
	family(f, "pasidd_journal_bytes", "gauge", "Size of the journal file.");
	fprintf(f, "pasidd_journal_bytes %llu\n", (unsigned long long)st.journal_bytes);
	family(f, "pasidd_snapshot_bytes", "gauge", "Size of the snapshot file.");
	fprintf(f, "pasidd_snapshot_bytes %llu\n", (unsigned long long)st.snapshot_bytes);
	family(f, "pasidd_journal_generation", "gauge", "Compactions of the state so far.");
	fprintf(f, "pasidd_journal_generation %llu\n", (unsigned long long)st.generation);
	family(f, "pasidd_replay_seconds", "gauge", "Time start-up took to replay the state.");
	fprintf(f, "pasidd_replay_seconds %.6f\n", st.replay_ms / 1000.0);
	family(f, "pasidd_replayed_records", "gauge", "Records start-up replayed.");
	fprintf(f, "pasidd_replayed_records %llu\n", (unsigned long long)st.replayed_records);
	family(f, "pasidd_journal_commits_total", "counter",
	       "Group commits that wrote the journal, by outcome.");
	fprintf(f, "pasidd_journal_commits_total{outcome=\"ok\"} %llu\n",
	        (unsigned long long)(st.journal.commits - st.journal.commit_failures));
	fprintf(f, "pasidd_journal_commits_total{outcome=\"failed\"} %llu\n",
	        (unsigned long long)st.journal.commit_failures);
	histogram(f, "pasidd_journal_sync_seconds", "Time of a commit's write and fdatasync.",
	          journal_sync_bounds, JOURNAL_SYNC_BUCKETS, st.journal.sync_buckets,
	          st.journal.sync_seconds, st.journal.commits);
}

static void
request_figures(FILE *f, const struct pasidd *d)
{
	const struct metrics *m = d->metrics;
	const struct rpc_method *table = table_of(d);
	size_t ntable = 0;

	if (!m)
		return;
	family(f, "pasidd_requests_total", "counter", "Requests answered, by method and outcome.");
	while (ntable < NMETHODS && table[ntable].name)
		ntable++;
	for (size_t k = 0; k < ntable; k++) {
		/* A method with two entries (pasid.lookup) is counted under its first. */
		bool first = true;

		for (size_t j = 0; j < k; j++)
			first &= strcmp(table[j].name, table[k].name) != 0;
		for (size_t o = 0; first && o < NOUTCOMES; o++) {
			uint64_t n = m->requests[k][o];

			for (size_t j = k + 1; j < ntable; j++)
				if (!strcmp(table[j].name, table[k].name))
					n += m->requests[j][o];
			if (n)
				fprintf(
				    f, "pasidd_requests_total{method=\"%s\",outcome=\"%s\"} %llu\n",
				    table[k].name, outcomes[o].name, (unsigned long long)n);
		}
	}
	for (size_t o = 0; o < NOUTCOMES; o++)
		if (m->requests[NMETHODS][o])
			fprintf(f, "pasidd_requests_total{method=\"(none)\",outcome=\"%s\"} %llu\n",
			        outcomes[o].name, (unsigned long long)m->requests[NMETHODS][o]);
	histogram(f, "pasidd_request_duration_seconds",
	          "Time from a request's parse to its answer, commit excluded.", buckets, NBUCKETS,
	          m->le, m->seconds, m->count);
}

/* The BPF programs: whether each runs, what it reported, and the reports a full ring
 * dropped (an alert on pasidd_bpf_alarms_total or on a rising lost count is the point). */
static void
bpf_figures(FILE *f, const struct pasidd *d)
{
	static const struct {
		const char *name, *type, *help;
	} fam[] = {
	    {"pasidd_bpf_active", "gauge", "Whether the BPF program runs (1) or not (0)."},
	    {"pasidd_bpf_reports_total", "counter", "Reports read from the program's ring buffer."},
	    {"pasidd_bpf_alarms_total", "counter",
	     "Of them, those about something done around pasidd (logged as warnings)."},
	    {"pasidd_bpf_lost_reports_total", "counter",
	     "Reports the program dropped because its ring buffer was full."},
	};

	for (size_t k = 0; k < sizeof(fam) / sizeof(fam[0]); k++) {
		family(f, fam[k].name, fam[k].type, fam[k].help);
		for (int p = 0; p < BPFPROG_COUNT; p++) {
			const struct bpfprog_state *st = &d->bpf[p];
			uint64_t v = k == 0   ? st->active
			             : k == 1 ? st->reports
			             : k == 2 ? st->alarms
			                      : st->lost;

			fprintf(f, "%s{program=\"%s\"} %llu\n", fam[k].name,
			        bpfprog_name((enum bpfprog)p), (unsigned long long)v);
		}
	}
}

char *
metrics_render(const struct pasidd *d)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		return NULL;
	namespace_figures(f, d);
	quota_figures(f, d);
	state_figures(f, d);
	request_figures(f, d);
	bpf_figures(f, d);
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}
