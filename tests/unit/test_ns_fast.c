/* The allocator's fast paths and the bulk teardown of a VM (issue 15): the shared search
 * without reservations or foreign numbers gives the numbers, errors and state the general
 * search gives; destroying a large VM frees every mapping in gPASID order with the events a
 * free of each would give, leaves the namespace as ns_check expects, and is undone whole when
 * refused, also while replaying; a transaction of allocations, frees and a teardown undone by
 * an abort or an observer's refusal leaves nothing behind; quota accounting charges a
 * transaction's mappings a run of one VM's events at a time, to the same counts. */
#include "ck_main.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ns_fixture.h"
#include "quota.h"
#include "quota_acct.h"

static const struct ns_owner owner2 = {.pid = 2, .starttime = 2, .uid = 0};

/* Everything a request can see of a namespace, and its counts. */
static char *
dump(const struct ns *n)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	fprintf(f, "cur %u used %u/%zu local %u pool %u\n", n->shared_cursor, n->shared_used.used,
	        n->shared_maps.count, n->nlocal, n->maps_pool.live);
	for (unsigned i = 0; i < n->nvms; i++) {
		const struct ns_vm *vm = n->vms[i];

		fprintf(f, "vm %s %d n %zu local %u guest %u ident %u:", vm->name, vm->mode,
		        vm->maps.count, vm->nlocal, vm->guest.used, vm->ident.used);
		for (unsigned d = 0; d < vm->ndevs; d++)
			fprintf(f, " dev %x/%d/%u", vm->devs[d].dev->bdf, vm->devs[d].shared,
			        vm->devs[d].dev->local_cursor);
		for (const struct ns_mapping *m = ns_vm_next(n, vm, 0); m;
		     m = ns_vm_next(n, vm, m->gpasid))
			fprintf(f, " %u:%u:%d%s%s@%u", m->gpasid, m->hpasid, m->type,
			        m->wq ? "/" : "", m->wq ? m->wq->ref : "", m->natts);
		for (unsigned k = 0; k < vm->nwqs; k++)
			if (vm->wqs[k].nmaps)
				fprintf(f, " wq %s=%u", vm->wqs[k].wq->ref, vm->wqs[k].nmaps);
		fputc('\n', f);
	}
	fclose(f);
	return buf;
}

static void
check_ns(const struct ns *n)
{
	char why[256];

	if (ns_check(n, why, sizeof(why)) < 0)
		ck_abort_msg("invariant broken: %s", why);
}

static struct ns_vm *
mkvm_in(struct ns *n, const char *name, enum ns_mode mode)
{
	struct ns_vm *vm;
	struct ns_err err;

	ck_assert_int_eq(ns_vm_create(n, name, "00000000-0000-4000-8000-000000000000", mode,
	                              &owner2, "/", -1, &vm, &err),
	                 0);
	return vm;
}

static int
alloc_in(struct ns *n, struct ns_vm *vm, enum ns_type type, uint32_t bdf, unsigned count,
         const char *wq, struct ns_mapping **out, struct ns_err *err)
{
	struct ns_alloc_req req = {
	    .type = type, .bdf = bdf, .gpasid = -1, .count = count, .wq = wq};

	return ns_alloc(n, vm, &req, out, err);
}

/* An observer that keeps what it hears, and refuses when told to. */
struct heard {
	enum ns_event_kind kind[40000];
	uint32_t g[40000];
	const struct ns_vm *vm[40000];
	size_t n;
	bool refuse;
};

static int
heard_check(void *ctx, const struct ns_event *evs, size_t n, struct ns_err *err)
{
	struct heard *h = ctx;

	(void)evs;
	(void)n;
	return h->refuse ? ns_fail(err, NS_E_NOSPACE, NULL, "refused by the test") : 0;
}

static void
heard_apply(void *ctx, const struct ns_event *ev)
{
	struct heard *h = ctx;

	if (h->n == sizeof(h->kind) / sizeof(h->kind[0]))
		return;
	h->kind[h->n] = ev->kind;
	h->g[h->n] = ev->map ? ev->map->gpasid : 0;
	h->vm[h->n++] = ev->vm;
}

static struct heard *
listen(struct ns *n)
{
	struct heard *h = calloc(1, sizeof(*h));

	ck_assert_ptr_nonnull(h);
	ck_assert_int_eq(
	    ns_observe(n,
	               &(struct ns_observer){.check = heard_check, .apply = heard_apply, .ctx = h}),
	    0);
	return h;
}

/* Small ranges, so that the random steps below wrap and exhaust them: local 1-63, shared
 * 64-1023, 11 bits (1024-2047 lies outside both). */
static void
setup_small(void)
{
	setup_ranges(1, 63, 64, 1023, 11);
}

/* The same random requests in two namespaces, one with a reservation outside both ranges
 * (which changes nothing that is free, but sends every allocation down the general search and
 * the reservation checks): every answer, error and state is the same in both. */
START_TEST(fast_and_general_search_agree)
{
	struct ns_config cfg = {.pasid_bits = 11, .local = {1, 63}, .shared = {64, 1023}};
	struct ns_resv spec = {.first = 1024, .last = 1100, .uid = 7, .pid = 8};
	struct ns *two[2], other;
	struct ns_vm *vms[2][3];
	struct ns_mapping *out[2][8];
	unsigned seed = 12345, ok = 0, refused = 0;

	ck_assert_int_eq(ns_init(&other, &cfg, be), 0);
	snprintf(spec.name, sizeof(spec.name), "outside");
	ck_assert_int_eq(ns_reserve(&other, &spec, NULL, &(struct ns_err){0}), 0);
	ck_assert_uint_eq(other.nresvs, 1);
	two[0] = &ns;
	two[1] = &other;
	for (int k = 0; k < 2; k++) {
		struct ns_err err;

		vms[k][0] = mkvm_in(two[k], "t", NS_MODE_TRANSLATED);
		vms[k][1] = mkvm_in(two[k], "i", NS_MODE_IDENTITY);
		vms[k][2] = mkvm_in(two[k], "u", NS_MODE_TRANSLATED);
		ck_assert_int_eq(ns_device_assign(two[k], vms[k][0], 0x10, false, &err), 0);
		ck_assert_int_eq(ns_device_assign(two[k], vms[k][1], 0x18, false, &err), 0);
	}
	for (int step = 0; step < 4000; step++) {
		unsigned r = rand_r(&seed), v = r % 3, what = (r >> 4) % 8,
		         count = 1 + (r >> 8) % 8;
		bool allocs = what < 3 || (what == 3 && v < 2);
		int rc[2];
		struct ns_err err[2];

		for (int k = 0; k < 2; k++) {
			struct ns_vm *vm = vms[k][v];

			memset(&err[k], 0, sizeof(err[k]));
			if (what < 3)
				rc[k] = alloc_in(two[k], vm, NS_TYPE_SHARED, 0, count,
				                 what == 2 ? "dsa0/wq0.1" : NULL, out[k], &err[k]);
			else if (what == 3 && v < 2)
				rc[k] = alloc_in(two[k], vm, NS_TYPE_LOCAL, v ? 0x18 : 0x10, count,
				                 NULL, out[k], &err[k]);
			else {
				/* Frees the VM's first mapping at or after a random gPASID. */
				struct ns_mapping *m = ns_vm_next(two[k], vm, (r >> 12) % 1024);

				rc[k] = m ? ns_free(two[k], vm, m->gpasid, &err[k]) : -ENOENT;
			}
		}
		ck_assert_int_eq(rc[0], rc[1]);
		ck_assert_int_eq(err[0].code, err[1].code);
		if (rc[0] < 0) {
			refused++;
			continue;
		}
		ok++;
		if (allocs)
			for (unsigned i = 0; i < count; i++) {
				ck_assert_uint_eq(out[0][i]->gpasid, out[1][i]->gpasid);
				ck_assert_uint_eq(out[0][i]->hpasid, out[1][i]->hpasid);
			}
		if (step % 500 == 0) {
			char *a = dump(&ns), *b = dump(&other);

			ck_assert_str_eq(a, b);
			free(a);
			free(b);
			assert_ok();
			check_ns(&other);
		}
	}
	/* Both kinds of outcome happened: the ranges filled up and drained. */
	ck_assert_uint_gt(ok, 1000);
	ck_assert_uint_gt(refused, 100);
	{
		char *a = dump(&ns), *b = dump(&other);

		ck_assert_str_eq(a, b);
		free(a);
		free(b);
	}
	assert_ok();
	check_ns(&other);
	ns_destroy(&other);
}
END_TEST

/* A large identity VM, with local PASIDs, mappings for a work queue and attached ones, among
 * another VM's mappings: its teardown frees every one in gPASID order, as a free of each
 * would be heard, and leaves the other VM and the namespace as they were without it. */
static struct ns_vm *
big_world(struct ns_vm **other, unsigned *total)
{
	struct ns_vm *big = mkvm("big", NS_MODE_IDENTITY), *o = mkvm("other", NS_MODE_TRANSLATED);
	static struct ns_mapping *out[NS_MAX_COUNT];
	uint32_t gs[4];
	struct ns_err err;

	ck_assert_int_eq(ns_device_assign(&ns, big, 0x08, true, &err), 0);
	ck_assert_int_eq(ns_device_assign(&ns, big, 0x10, false, &err), 0);
	*total = 0;
	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(
		    alloc_in(&ns, big, NS_TYPE_SHARED, 0, NS_MAX_COUNT, NULL, out, &err), 0);
		*total += NS_MAX_COUNT;
		/* The other VM's numbers between the big one's runs. */
		ck_assert_int_eq(alloc_in(&ns, o, NS_TYPE_SHARED, 0, 7, NULL, out, &err), 0);
	}
	ck_assert_int_eq(alloc_in(&ns, big, NS_TYPE_SHARED, 0, 30, "dsa0/wq0.1", out, &err), 0);
	*total += 30;
	for (int i = 0; i < 3; i++)
		gs[i + 1] = out[10 * i]->gpasid;
	ck_assert_int_eq(alloc_in(&ns, big, NS_TYPE_LOCAL, 0x10, 100, NULL, out, &err), 0);
	*total += 100;
	gs[0] = out[50]->gpasid;
	/* Attached (a local one on its device, shared ones on the shared device): the
	 * teardown detaches them first. */
	for (int i = 0; i < 4; i++) {
		struct backend_attach a = {.bdf = i ? 0x08 : 0x10, .pt_id = 5, .dev_id = 1};

		a.iommufd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		a.devfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		ck_assert_int_ge(a.iommufd, 0);
		ck_assert_int_ge(a.devfd, 0);
		ck_assert_int_eq(ns_attach(&ns, big, gs[i], &a, &err), 0);
	}
	*other = o;
	return big;
}

START_TEST(large_vm_teardown)
{
	struct heard *h = listen(&ns);
	struct ns_vm *other, *big;
	unsigned total;
	char *before, *with, *after;
	struct ns_err err;
	int freed;

	before = dump(&ns);
	big = big_world(&other, &total);
	with = dump(&ns);
	assert_ok();
	/* Refused by an observer: every mapping, attachment and count back. */
	h->n = 0;
	h->refuse = true;
	ck_assert_int_lt(ns_vm_destroy(&ns, big, &err), 0);
	ck_assert_int_eq(err.code, NS_E_NOSPACE);
	ck_assert_uint_eq(h->n, 0);
	ck_assert_ptr_eq(ns_vm_find(&ns, "big"), big);
	after = dump(&ns);
	ck_assert_str_eq(after, with);
	free(after);
	ck_assert_uint_eq(ns_attached(&ns), 4);
	assert_ok();
	/* Allowed: detached, then each mapping removed in gPASID order, then the VM. */
	h->refuse = false;
	freed = ns_vm_destroy(&ns, big, &err);
	ck_assert_int_eq(freed, (int)total);
	ck_assert_uint_eq(h->n, 4 + total + 1);
	for (size_t i = 0; i < 4; i++)
		ck_assert_int_eq(h->kind[i], NS_EV_MAP_DETACHED);
	for (size_t i = 4; i < 4 + total; i++) {
		ck_assert_int_eq(h->kind[i], NS_EV_MAP_REMOVED);
		ck_assert_ptr_eq(h->vm[i], big);
		if (i > 4)
			ck_assert_uint_lt(h->g[i - 1], h->g[i]);
	}
	ck_assert_int_eq(h->kind[4 + total], NS_EV_VM_DESTROYED);
	ck_assert_ptr_null(ns_vm_find(&ns, "big"));
	ck_assert_uint_eq(ns_attached(&ns), 0);
	ck_assert_uint_eq(backend_sim_attachments(be), 0);
	assert_ok();
	/* What is left is the other VM's, as before the big one came. */
	ck_assert_uint_eq(ns.shared_used.used, 28);
	ck_assert_uint_eq(ns.maps_pool.live, 28);
	ck_assert_uint_eq(ns.nlocal, 0);
	ck_assert_uint_eq(ns_wq_find(&ns, "dsa0/wq0.1")->nmaps, 0);
	ck_assert_uint_eq(other->maps.count, 28);
	free(before);
	free(with);
	ns_unobserve(&ns, h);
	free(h);
}
END_TEST

/* While replaying, the teardown frees at once (no transaction): the same end state. */
START_TEST(replayed_teardown)
{
	struct ns_vm *other, *big;
	unsigned total;
	struct ns_err err;

	big = big_world(&other, &total);
	ns.replaying = true;
	ck_assert_int_eq(ns_vm_destroy(&ns, big, &err), (int)total);
	ns.replaying = false;
	ck_assert_ptr_null(ns_vm_find(&ns, "big"));
	ck_assert_uint_eq(ns.shared_used.used, 28);
	ck_assert_uint_eq(ns.maps_pool.live, 28);
	ck_assert_uint_eq(ns.nlocal, 0);
	ck_assert_uint_eq(ns_attached(&ns), 0);
	assert_ok();
	(void)other;
}
END_TEST

/* The local range above the shared one: a VM's walk still goes in gPASID order, shared
 * numbers first. */
static void
setup_high_local(void)
{
	setup_ranges(60000, 60200, 16, 4095, 16);
}

START_TEST(teardown_order_with_local_above_shared)
{
	struct heard *h = listen(&ns);
	struct ns_vm *vm = mkvm("v", NS_MODE_IDENTITY);
	struct ns_mapping *out[300];
	struct ns_err err;

	ck_assert_int_eq(ns_device_assign(&ns, vm, 0x10, false, &err), 0);
	ck_assert_int_eq(alloc_in(&ns, vm, NS_TYPE_LOCAL, 0x10, 150, NULL, out, &err), 0);
	ck_assert_int_eq(alloc_in(&ns, vm, NS_TYPE_SHARED, 0, 300, NULL, out, &err), 0);
	h->n = 0;
	ck_assert_int_eq(ns_vm_destroy(&ns, vm, &err), 450);
	ck_assert_uint_eq(h->n, 451);
	ck_assert_uint_eq(h->g[0], 16);
	ck_assert_uint_eq(h->g[299], 315);
	ck_assert_uint_eq(h->g[300], 60000);
	for (size_t i = 1; i < 450; i++)
		ck_assert_uint_lt(h->g[i - 1], h->g[i]);
	assert_ok();
	ns_unobserve(&ns, h);
	free(h);
}
END_TEST

/* Allocations (one and many), frees and a teardown in one transaction, undone by an abort and
 * by an observer's refusal; then lone requests refused: every time nothing is left behind,
 * the next-fit positions included. */
START_TEST(undo_after_fast_paths)
{
	struct heard *h = listen(&ns);
	struct ns_vm *a = mkvm("a", NS_MODE_TRANSLATED), *b = mkvm("b", NS_MODE_IDENTITY);
	struct ns_mapping *out[64];
	struct ns_err err;
	char *before, *after;

	ck_assert_int_eq(alloc_in(&ns, a, NS_TYPE_SHARED, 0, 10, NULL, out, &err), 0);
	ck_assert_int_eq(alloc_in(&ns, b, NS_TYPE_SHARED, 0, 64, NULL, out, &err), 0);
	before = dump(&ns);
	for (int refuse = 0; refuse < 2; refuse++) {
		h->refuse = refuse;
		h->n = 0;
		ck_assert_int_eq(ns_txn_begin(&ns), 0);
		for (int i = 0; i < 20; i++)
			ck_assert_int_eq(alloc_in(&ns, a, NS_TYPE_SHARED, 0, 1, NULL, out, &err),
			                 0);
		ck_assert_int_eq(alloc_in(&ns, a, NS_TYPE_SHARED, 0, 33, NULL, out, &err), 0);
		ck_assert_int_eq(ns_free(&ns, a, out[5]->gpasid, &err), 0);
		ck_assert_int_eq(ns_free(&ns, a, 1, &err), 0);
		ck_assert_int_eq(ns_vm_destroy(&ns, b, &err), 64);
		ck_assert_int_eq(alloc_in(&ns, a, NS_TYPE_SHARED, 0, 2, NULL, out, &err), 0);
		if (refuse)
			ck_assert_int_lt(ns_txn_commit(&ns, &err), 0);
		else
			ns_txn_abort(&ns);
		ck_assert_uint_eq(h->n, 0);
		after = dump(&ns);
		ck_assert_str_eq(after, before);
		free(after);
		assert_ok();
	}
	/* Lone requests refused at their commit. */
	h->refuse = true;
	ck_assert_int_lt(alloc_in(&ns, a, NS_TYPE_SHARED, 0, 1, NULL, out, &err), 0);
	ck_assert_int_lt(alloc_in(&ns, a, NS_TYPE_SHARED, 0, 40, NULL, out, &err), 0);
	ck_assert_int_lt(ns_free(&ns, a, 1, &err), 0);
	ck_assert_int_lt(ns_vm_destroy(&ns, b, &err), 0);
	after = dump(&ns);
	ck_assert_str_eq(after, before);
	free(after);
	assert_ok();
	/* And let through, the log kept between them is reused. */
	h->refuse = false;
	for (int i = 0; i < 100; i++) {
		ck_assert_int_eq(alloc_in(&ns, a, NS_TYPE_SHARED, 0, 1, NULL, out, &err), 0);
		ck_assert_int_eq(ns_free(&ns, a, out[0]->gpasid, &err), 0);
	}
	assert_ok();
	free(before);
	ns_unobserve(&ns, h);
	free(h);
}
END_TEST

/* What a cgroup holds (0 without a node). */
static uint64_t
held(const struct quota *q, const char *cgroup)
{
	struct quota_entry e;

	quota_get(q, cgroup, &e);
	return e.current;
}

static struct ns_vm *
mkvm_cg(const char *name, const char *cgroup)
{
	struct ns_vm *vm;
	struct ns_err err;

	ck_assert_int_eq(ns_vm_create(&ns, name, "00000000-0000-4000-8000-000000000000",
	                              NS_MODE_IDENTITY, &owner, cgroup, -1, &vm, &err),
	                 0);
	return vm;
}

/* Quota accounting charges a transaction's mappings per run of one VM's events: the counts
 * and the totals are those of a charge per mapping, for a mixed transaction of two VMs, a
 * teardown, and a transaction the quota refuses (nothing charged). */
START_TEST(quota_charges_per_transaction)
{
	struct ns_mapping *out[NS_MAX_COUNT];
	struct quota_stats st;
	struct quota *q;
	struct ns_vm *a, *b;
	struct ns_err err;
	char why[256];

	ck_assert_int_eq(quota_new(&q), 0);
	ck_assert_int_eq(quota_acct_observe(q, &ns), 0);
	a = mkvm_cg("a", "/x/a");
	b = mkvm_cg("b", "/x/b");
	ck_assert_int_eq(alloc_in(&ns, a, NS_TYPE_SHARED, 0, 100, NULL, out, &err), 0);
	ck_assert_int_eq(alloc_in(&ns, b, NS_TYPE_SHARED, 0, 50, NULL, out, &err), 0);
	ck_assert_uint_eq(held(q, "/x/a"), 100);
	ck_assert_uint_eq(held(q, "/x"), 150);
	/* One transaction: a's and b's events interleaved, adds and removes. */
	ck_assert_int_eq(ns_txn_begin(&ns), 0);
	for (int i = 0; i < 10; i++)
		ck_assert_int_eq(ns_free(&ns, a, ns_vm_next(&ns, a, 0)->gpasid, &err), 0);
	ck_assert_int_eq(alloc_in(&ns, b, NS_TYPE_SHARED, 0, 5, NULL, out, &err), 0);
	ck_assert_int_eq(alloc_in(&ns, a, NS_TYPE_SHARED, 0, 3, NULL, out, &err), 0);
	ck_assert_int_eq(ns_free(&ns, a, out[0]->gpasid, &err), 0);
	ck_assert_int_eq(alloc_in(&ns, a, NS_TYPE_SHARED, 0, 1, NULL, out, &err), 0);
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(ns_free(&ns, b, ns_vm_next(&ns, b, 0)->gpasid, &err), 0);
	ck_assert_int_eq(ns_txn_commit(&ns, &err), 0);
	ck_assert_uint_eq(held(q, "/x/a"), a->maps.count);
	ck_assert_uint_eq(a->maps.count, 93);
	ck_assert_uint_eq(held(q, "/x/b"), 53);
	ck_assert_uint_eq(held(q, "/x"), 146);
	/* Refused by the quota (b's cgroup at 53 of 55): nothing charged or returned. */
	ck_assert_int_eq(quota_set_limit(q, "/x/b", QUOTA_SRC_RUNTIME, 55), 0);
	ck_assert_int_eq(ns_txn_begin(&ns), 0);
	ck_assert_int_eq(ns_free(&ns, a, ns_vm_next(&ns, a, 0)->gpasid, &err), 0);
	ck_assert_int_eq(alloc_in(&ns, b, NS_TYPE_SHARED, 0, 3, NULL, out, &err), 0);
	ck_assert_int_lt(ns_txn_commit(&ns, &err), 0);
	ck_assert_int_eq(err.code, NS_E_QUOTA);
	ck_assert_uint_eq(held(q, "/x/a"), 93);
	ck_assert_uint_eq(held(q, "/x/b"), 53);
	/* A teardown returns the VM's all at once. */
	ck_assert_int_eq(ns_vm_destroy(&ns, a, &err), 93);
	ck_assert_uint_eq(held(q, "/x/a"), 0);
	ck_assert_uint_eq(held(q, "/x"), 53);
	quota_get_stats(q, &st);
	ck_assert_uint_eq(st.charged, 100 + 50 + 5 + 3 + 1);
	ck_assert_uint_eq(st.uncharged, 10 + 1 + 2 + 93);
	ck_assert_int_eq(quota_check(q, why, sizeof(why)), 0);
	assert_ok();
	ns_unobserve(&ns, q);
	quota_free(q);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("ns_fast");
	TCase *tc = ck_case(s, "fast", setup, teardown, 0);
	TCase *small = ck_case(s, "small", setup_small, teardown, 0);
	TCase *high = ck_case(s, "high", setup_high_local, teardown, 0);

	tcase_add_test(small, fast_and_general_search_agree);
	tcase_add_test(tc, large_vm_teardown);
	tcase_add_test(tc, replayed_teardown);
	tcase_add_test(high, teardown_order_with_local_above_shared);
	tcase_add_test(tc, undo_after_fast_paths);
	tcase_add_test(tc, quota_charges_per_transaction);
	return ck_main(s, NULL);
}
