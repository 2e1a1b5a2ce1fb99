#include "state.h"
#include "journal.h"
#include "log.h"
#include "owner.h"
#include "pasid-proto.h"
#include "pasidd.h"
#include "quota.h"
#include "record.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Records appended outside a request (an owner's exit) are committed by this timer, at the
 * next loop iteration; requests commit at the end of their server pass (state_commit). */
static const struct timeval commit_soon = {0, 0};

static int
replay_one(void *ctx, const void *rec, size_t len)
{
	struct pasidd *d = ctx;
	char why[256];

	/* Runtime quota limits share the journal but belong to the quotas, not the namespace. */
	if (rec_is_quota(rec, len) ? rec_apply_quota(d->quota, rec, len, why, sizeof(why)) < 0
	                           : rec_apply(&d->ns, rec, len, why, sizeof(why)) < 0) {
		snprintf(d->state_error, sizeof(d->state_error), "%s", why);
		return -EUCLEAN;
	}
	return 0;
}

static int
snapshot_add(void *ctx, const void *rec, size_t len)
{
	return journal_snapshot_add(ctx, rec, len);
}

static int
write_state(void *ctx, struct journal_snapshot *w)
{
	struct pasidd *d = ctx;
	int r = rec_snapshot(&d->ns, snapshot_add, w);

	return r < 0 ? r : rec_snapshot_quota(d->quota, snapshot_add, w);
}

static void
compact_if_due(struct pasidd *d)
{
	struct timespec t0, t1;
	int r;

	if (!journal_should_compact(d->journal))
		return;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = journal_compact(d->journal, write_state, d);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (r < 0)
		log_warn("compaction failed: %s; the journal keeps growing", strerror(-r));
	else
		log_info("compacted the state in %.1f ms",
		         (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
		             (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
}

int
state_commit(struct pasidd *d)
{
	int r;

	if (d->exit_status)
		return -EIO; /* a change could not be journaled: nothing after it may be */
	if (!d->journal || !journal_pending(d->journal))
		return 0;
	r = journal_commit(d->journal);
	if (r < 0) {
		/* The changes since the last commit are applied in memory but not durable, and
		 * every answer that could reflect them is still held back. Going on would
		 * acknowledge them or serve a state that a restart forgets; stopping loses
		 * nothing that was acknowledged. main() exits non-zero. */
		log_err("cannot make the state durable in %s: %s; stopping so that a restart "
		        "recovers the last committed state",
		        d->cfg.state_dir, strerror(-r));
		d->exit_status = 1;
		event_base_loopbreak(d->base);
		return r;
	}
	for (unsigned i = 0; i < d->ndurable; i++)
		d->durable[i].fn(d->durable[i].ctx);
	compact_if_due(d);
	return 0;
}

bool
state_dirty(const struct pasidd *d)
{
	return d->journal && journal_pending(d->journal) > 0;
}

int
state_on_durable(struct pasidd *d, void (*fn)(void *ctx), void *ctx)
{
	if (d->ndurable == sizeof(d->durable) / sizeof(d->durable[0]))
		return -ENOSPC;
	d->durable[d->ndurable].fn = fn;
	d->durable[d->ndurable++].ctx = ctx;
	return 0;
}

void
state_off_durable(struct pasidd *d, void (*fn)(void *ctx), void *ctx)
{
	for (unsigned i = 0; i < d->ndurable; i++) {
		if (d->durable[i].fn == fn && d->durable[i].ctx == ctx) {
			d->durable[i] = d->durable[--d->ndurable];
			return;
		}
	}
}

int
state_reserve(struct pasidd *d, size_t bytes)
{
	return d->journal ? journal_reserve(d->journal, bytes) : 0;
}

static void
commit_cb(evutil_socket_t fd, short what, void *arg)
{
	state_commit(arg);
}

static void
on_record(void *ctx, const void *rec, size_t len)
{
	struct pasidd *d = ctx;
	int r = journal_append(d->journal, rec, len);

	if (r < 0) {
		/* Only a record over JOURNAL_MAX_RECORD or a broken journal gets here; the
		 * change it describes is applied but will never be durable. */
		log_err("cannot journal a change: %s; stopping before it is acknowledged",
		        strerror(-r));
		d->exit_status = 1;
		event_base_loopbreak(d->base);
	}
	if (!evtimer_pending(d->commit_ev, NULL))
		evtimer_add(d->commit_ev, &commit_soon);
}

static void
on_vm_gone(void *ctx, struct ns_vm *vm)
{
	owner_unwatch(vm);
}

/* A VM's PASIDs count against the cgroup its owner was in at registration (vm->cgroup) and
 * that cgroup's ancestors, wherever the owner has moved since. */
static int
on_charge(void *ctx, struct ns_vm *vm, unsigned n, struct ns_err *err)
{
	struct pasidd *d = ctx;
	const struct quota_denial *q;
	int r = quota_charge(d->quota, vm->cgroup, vm->name, vm->maps.count, n, false);

	if (r == 0 || !err)
		return r == 0 ? 0 : -1;
	err->param = NULL;
	if (r != -EDQUOT) {
		err->code = PROTO_E_INTERNAL;
		snprintf(err->message, sizeof(err->message), "out of memory");
		return -1;
	}
	q = quota_last_denial(d->quota);
	err->code = PROTO_E_QUOTA;
	if (q->vm[0])
		snprintf(
		    err->message, sizeof(err->message),
		    "VM %s holds %llu PASID(s) and may hold %llu (DefaultVMMax); %u more refused",
		    q->vm, (unsigned long long)q->current, (unsigned long long)q->max, q->asked);
	else
		snprintf(err->message, sizeof(err->message),
		         "cgroup %.80s holds %llu PASID(s) of its max %llu; %u more refused",
		         q->cgroup, (unsigned long long)q->current, (unsigned long long)q->max,
		         q->asked);
	return -1;
}

static void
on_uncharge(void *ctx, struct ns_vm *vm, unsigned n)
{
	struct pasidd *d = ctx;

	quota_uncharge(d->quota, vm->cgroup, n);
}

/* Before replay, which restores runtime limits into it: the quota tree with the configured
 * limits and the cgroup2 mount whose xattrs give the rest. */
static int
quotas_open(struct pasidd *d, char *why, size_t len)
{
	char mnt[CGROUP_PATH_MAX], root[CGROUP_PATH_MAX];

	if (!d->quota && quota_new(&d->quota) < 0) {
		snprintf(why, len, "out of memory");
		return -ENOMEM;
	}
	if (cgroup_find_mount(mnt, sizeof(mnt), root, sizeof(root)) == 0) {
		if (quota_set_mount(d->quota, mnt, root) < 0) {
			snprintf(why, len, "out of memory");
			return -ENOMEM;
		}
	} else {
		log_warn("no cgroup2 mount found: %s limits are not read", CGROUP_XATTR);
	}
	if (quota_apply_config(d->quota, &d->cfg.quota) < 0) {
		snprintf(why, len, "out of memory");
		return -ENOMEM;
	}
	return 0;
}

/* After replay: charges are not journaled but follow from the VMs, charged where they were
 * registered, whatever the limits say now, since nothing acknowledged is ever taken back. */
static int
quotas_rebuild(struct pasidd *d, char *why, size_t len)
{
	struct quota_entry e;
	size_t it = 0;

	for (unsigned i = 0; i < d->ns.nvms; i++) {
		const struct ns_vm *vm = d->ns.vms[i];

		if (vm->maps.count && quota_charge(d->quota, vm->cgroup, vm->name, 0,
		                                   (unsigned)vm->maps.count, true) < 0) {
			snprintf(why, len, "out of memory");
			return -ENOMEM;
		}
		/* Also for a VM that holds nothing yet: its next allocation must see them. */
		quota_refresh_xattrs(d->quota, vm->cgroup);
	}
	/* The cgroups that only have a configured or runtime limit. */
	quota_refresh_all_xattrs(d->quota);
	while (quota_next(d->quota, &it, &e))
		if (e.max != QUOTA_NO_LIMIT && e.current > e.max)
			log_warn(
			    "cgroup %s holds %llu PASIDs, more than its max of %llu: it gets no "
			    "more until it is below",
			    e.cgroup, (unsigned long long)e.current, (unsigned long long)e.max);
	return 0;
}

int
state_open(struct pasidd *d, char *why, size_t len)
{
	struct journal_stats st;
	struct timespec t0, t1;
	unsigned reclaimed;
	int r;

	d->commit_ev = evtimer_new(d->base, commit_cb, d);
	if (!d->commit_ev) {
		snprintf(why, len, "out of memory");
		return -ENOMEM;
	}
	r = quotas_open(d, why, len);
	if (r < 0)
		return r;
	r = journal_open(d->cfg.state_dir, &d->journal);
	if (r < 0) {
		snprintf(why, len, "cannot open the state in %s: %s", d->cfg.state_dir,
		         r == -EBUSY ? "another pasidd is using it" : strerror(-r));
		return r;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	d->ns.replaying = true;
	r = journal_replay(d->journal, replay_one, d);
	d->ns.replaying = false;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	d->replay_ms =
	    (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	if (r < 0) {
		state_replay_problem(d, d->journal, r, "refusing to serve: ", why, len);
		return r;
	}
	if (ns_check(&d->ns, d->state_error, sizeof(d->state_error)) < 0) {
		snprintf(why, len,
		         "refusing to serve: the replayed state in %s breaks a rule: %s; it is "
		         "left untouched for inspection",
		         d->cfg.state_dir, d->state_error);
		return -EUCLEAN;
	}
	journal_get_stats(d->journal, &st);
	if (st.dropped_bytes)
		log_warn("dropped a torn tail of %llu bytes from the journal (changes that were "
		         "never acknowledged)",
		         (unsigned long long)st.dropped_bytes);
	r = quotas_rebuild(d, why, len);
	if (r < 0)
		return r;
	d->ns.hooks = (struct ns_hooks){.record = on_record,
	                                .vm_gone = on_vm_gone,
	                                .charge = on_charge,
	                                .uncharge = on_uncharge,
	                                .ctx = d};
	reclaimed = owner_reconcile(d);
	log_info("replayed %llu records in %.1f ms: %u VMs, %u shared and %u local PASIDs; "
	         "%u VM(s) of exited owners reclaimed",
	         (unsigned long long)st.replayed_records, d->replay_ms, d->ns.nvms,
	         (unsigned)d->ns.shared_maps.count, d->ns.nlocal, reclaimed);
	/* Start-up ends on a fresh snapshot, so that the next start replays only the
	 * live state however long the journal had grown. */
	r = journal_commit(d->journal);
	if (r == 0 && journal_should_compact(d->journal))
		r = journal_compact(d->journal, write_state, d);
	if (r < 0) {
		snprintf(why, len, "cannot write the state in %s: %s", d->cfg.state_dir,
		         strerror(-r));
		return r;
	}
	return 0;
}

void
state_close(struct pasidd *d)
{
	if (d->journal) {
		/* Only a journal that was replayed and hooked up has anything to commit, and
		 * nothing may be committed after a failed commit: its changes were refused. */
		int r = d->ns.hooks.record && !d->exit_status ? journal_commit(d->journal) : 0;

		if (r < 0)
			log_err("final commit failed: %s", strerror(-r));
		journal_close(d->journal);
		d->journal = NULL;
	}
	if (d->commit_ev)
		event_free(d->commit_ev);
	d->commit_ev = NULL;
	/* The namespace must not charge or uncharge any more. */
	d->ns.hooks.charge = NULL;
	d->ns.hooks.uncharge = NULL;
	quota_free(d->quota);
	d->quota = NULL;
}

struct json_object *
state_status(const struct pasidd *d)
{
	struct json_object *o;
	struct journal_stats st;

	if (!d->journal)
		return NULL; /* an in-process core without a state directory (fuzzing) */
	o = json_object_new_object();
	journal_get_stats(d->journal, &st);
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
	json_object_object_add(o, "replay_ms", json_object_new_double(d->replay_ms));
	return o;
}

/* ---- the state checked without serving it: pasidd -n and --salvage ---- */

void
state_replay_problem(const struct pasidd *d, const struct journal *j, int r, const char *lead,
                     char *why, size_t len)
{
	const char *where = journal_error(j);

	if (r == -EUCLEAN && d->state_error[0])
		/* A record that does not apply: most often ranges changed under the state. */
		snprintf(why, len,
		         "%sthe state in %s cannot be replayed: %s%s%s; no file was changed (if "
		         "the ranges or the PASID width changed, restore them)",
		         lead, d->cfg.state_dir, where, where[0] ? ": " : "", d->state_error);
	else if (r == -EUCLEAN && where[0])
		snprintf(why, len,
		         "%sthe state in %s cannot be replayed: %s; no file was changed: run "
		         "pasidd --salvage with the same options to keep what can be kept (see "
		         "SALVAGE in pasidd(8))",
		         lead, d->cfg.state_dir, where);
	else
		snprintf(why, len, "%sthe state in %s cannot be replayed: %s", lead,
		         d->cfg.state_dir, where[0] ? where : strerror(-r));
}

int
state_check(struct pasidd *d, struct state_summary *sum, char *why, size_t len)
{
	struct journal *j = NULL;
	struct journal_stats st;
	int r;

	memset(sum, 0, sizeof(*sum));
	/* A running daemon may compact between our listing and our reading: read again. */
	for (int attempt = 0;; attempt++) {
		if (quota_new(&d->quota) < 0 || ns_init(&d->ns, &d->cfg.ns, d->be) < 0) {
			quota_free(d->quota);
			d->quota = NULL;
			snprintf(why, len, "out of memory");
			return -ENOMEM;
		}
		r = journal_open_readonly(d->cfg.state_dir, &j);
		if (r == 0) {
			d->state_error[0] = '\0';
			d->ns.replaying = true;
			r = journal_replay(j, replay_one, d);
			d->ns.replaying = false;
			if (r < 0)
				state_replay_problem(d, j, r, "", why, len);
			else if (ns_check(&d->ns, d->state_error, sizeof(d->state_error)) < 0) {
				snprintf(why, len, "the replayed state in %s breaks a rule: %s",
				         d->cfg.state_dir, d->state_error);
				r = -EUCLEAN;
			}
		} else if (r == -ENOENT) {
			r = 0; /* no state yet: the first start begins empty */
		} else {
			snprintf(why, len, "cannot open the state in %s: %s", d->cfg.state_dir,
			         strerror(-r));
		}
		if (r == 0 && j) {
			journal_get_stats(j, &st);
			sum->exists = true;
			sum->records = st.replayed_records;
			sum->torn_bytes = st.dropped_bytes;
			sum->vms = d->ns.nvms;
			sum->shared = (unsigned)d->ns.shared_maps.count;
			sum->local = d->ns.nlocal;
		}
		journal_close(j);
		j = NULL;
		ns_destroy(&d->ns);
		memset(&d->ns, 0, sizeof(d->ns));
		quota_free(d->quota);
		d->quota = NULL;
		if (r != -ENOENT || attempt == 4)
			return r;
	}
}
