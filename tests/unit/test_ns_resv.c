/* Reservations (ns_resv.c): reserve and unreserve with every refusal, allocation skipping
 * reserved intervals (next-fit across them, exhaustion when only reserved numbers are left),
 * allocation naming a reservation, the undo of a refused transaction, config reservations, and
 * ns_check after every step. */
#include "ck_main.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ns_fixture.h"

static const uint32_t d1 = 0x10, d2 = 0x18;

static void
setup_small(void)
{
	setup_ranges(1, 15, 16, 31, 5);
}

static int
reserve(uint32_t first, uint32_t last, const char *name, struct ns_err *err)
{
	struct ns_resv spec = {.first = first, .last = last, .uid = 7, .pid = 8};

	snprintf(spec.name, sizeof(spec.name), "%s", name ? name : "");
	snprintf(spec.why, sizeof(spec.why), "test");
	return ns_reserve(&ns, &spec, NULL, err);
}

static int
alloc_from(struct ns_vm *vm, enum ns_type type, uint32_t bdf, int64_t g, unsigned count,
           const char *resv, struct ns_mapping **m, struct ns_err *err)
{
	struct ns_alloc_req req = {
	    .type = type, .bdf = bdf, .gpasid = g, .count = count, .reservation = resv};

	return ns_alloc(&ns, vm, &req, m, err);
}

static uint32_t
alloc_h(struct ns_vm *vm, enum ns_type type, uint32_t bdf, const char *resv)
{
	struct ns_mapping *m;
	struct ns_err err;

	ck_assert_msg(alloc_from(vm, type, bdf, -1, 1, resv, &m, &err) == 0, "%s", err.message);
	return m->hpasid;
}

START_TEST(reserve_and_refusals)
{
	struct ns_vm *vm = mkvm("a", NS_MODE_TRANSLATED);
	struct ns_err err;
	struct ns_resv *r;

	ck_assert_int_eq(reserve(5000, 5099, NULL, &err), 0);
	ck_assert_ptr_nonnull(r = ns_resv_find(&ns, "5000-5099"));
	ck_assert_ptr_eq(ns_resv_at(&ns, 5000), r);
	ck_assert_ptr_eq(ns_resv_at(&ns, 5099), r);
	ck_assert_ptr_null(ns_resv_at(&ns, 4999));
	ck_assert_ptr_null(ns_resv_at(&ns, 5100));
	ck_assert_uint_eq(ns.resv_shared, 100);
	assert_ok();
	/* Width, order. */
	ck_assert_int_eq(reserve(1048576, 1048577, NULL, &err), -ERANGE);
	ck_assert_str_eq(err.param, "first");
	ck_assert_int_eq(reserve(10, 1048576, NULL, &err), -ERANGE);
	ck_assert_str_eq(err.param, "last");
	ck_assert_int_eq(reserve(10, 9, NULL, &err), -ERANGE);
	ck_assert_str_eq(err.param, "last");
	/* Name: taken, invalid. */
	ck_assert_int_eq(reserve(6000, 6001, "5000-5099", &err), -EEXIST);
	ck_assert_str_eq(err.param, "name");
	ck_assert_ptr_eq(err.resv, r);
	ck_assert_int_eq(reserve(6000, 6001, "-bad", &err), -EINVAL);
	/* Overlaps, on either side and around. */
	ck_assert_int_eq(reserve(4990, 5000, NULL, &err), -EEXIST);
	ck_assert_ptr_eq(err.resv, r);
	ck_assert_int_eq(reserve(5099, 5200, NULL, &err), -EEXIST);
	ck_assert_int_eq(reserve(4000, 6000, NULL, &err), -EEXIST);
	ck_assert_int_eq(reserve(5010, 5020, NULL, &err), -EEXIST);
	ck_assert_msg(strstr(err.message, "overlaps reservation 5000-5099"), "%s", err.message);
	/* Adjacent is fine. */
	ck_assert_int_eq(reserve(5100, 5100, "next", &err), 0);
	ck_assert_int_eq(reserve(4999, 4999, "before", &err), 0);
	ck_assert_uint_eq(ns.nresvs, 3);
	ck_assert_str_eq(ns.resvs[0]->name, "before");
	ck_assert_str_eq(ns.resvs[2]->name, "next");
	assert_ok();
	/* Over live mappings: the first one (lowest hPASID) is named. */
	ck_assert_uint_eq(alloc_h(vm, NS_TYPE_SHARED, 0, NULL), 4096);
	ck_assert_uint_eq(alloc_h(vm, NS_TYPE_SHARED, 0, NULL), 4097);
	ck_assert_int_eq(reserve(4000, 4500, NULL, &err), -EEXIST);
	ck_assert_ptr_nonnull(err.map);
	ck_assert_uint_eq(err.map->hpasid, 4096);
	ck_assert_ptr_null(err.resv);
	ck_assert_int_eq(reserve(4097, 4097, NULL, &err), -EEXIST);
	ck_assert_uint_eq(err.map->hpasid, 4097);
	/* Outside both ranges: allowed, changes nothing for allocation. */
	ck_assert_int_eq(reserve(600000, 600010, NULL, &err), 0);
	ck_assert_uint_eq(ns.resv_shared, 102);
	assert_ok();
	/* Unreserve. */
	ck_assert_int_eq(ns_unreserve(&ns, r, &err), 0);
	ck_assert_ptr_null(ns_resv_find(&ns, "5000-5099"));
	ck_assert_uint_eq(ns.resv_shared, 2);
	assert_ok();
}
END_TEST

START_TEST(local_mappings_conflict_on_any_device)
{
	struct ns_vm *a = mkvm("a", NS_MODE_TRANSLATED), *b = mkvm("b", NS_MODE_TRANSLATED);
	struct ns_mapping *m;
	struct ns_err err;

	ck_assert_int_eq(ns_device_assign(&ns, a, d1, false, &err), 0);
	ck_assert_int_eq(ns_device_assign(&ns, b, d2, false, &err), 0);
	ck_assert_int_eq(alloc_from(a, NS_TYPE_LOCAL, d1, 30, 1, NULL, &m, &err), 0);
	ck_assert_int_eq(alloc_from(b, NS_TYPE_LOCAL, d2, 20, 1, NULL, &m, &err), 0);
	ck_assert_int_eq(reserve(10, 40, NULL, &err), -EEXIST);
	ck_assert_uint_eq(err.map->hpasid, 20);
	ck_assert_uint_eq(err.map->dev->bdf, d2);
	/* Foreign attaches are not pasidd's: no conflict. */
	ck_assert_int_eq(ns_foreign_take(&ns, d1, 50), 1);
	ck_assert_int_eq(reserve(45, 60, NULL, &err), 0);
	assert_ok();
}
END_TEST

/* Next-fit goes round a reservation in one step and never lands in it. */
START_TEST(next_fit_skips_reservations)
{
	struct ns_vm *vm = mkvm("a", NS_MODE_TRANSLATED);
	struct ns_err err;

	ck_assert_int_eq(reserve(4098, 4100, "x", &err), 0);
	ck_assert_int_eq(reserve(4101, 4101, "y", &err), 0); /* adjacent: skipped together */
	ck_assert_uint_eq(alloc_h(vm, NS_TYPE_SHARED, 0, NULL), 4096);
	ck_assert_uint_eq(alloc_h(vm, NS_TYPE_SHARED, 0, NULL), 4097);
	ck_assert_uint_eq(alloc_h(vm, NS_TYPE_SHARED, 0, NULL), 4102);
	for (int i = 0; i < 1000; i++) {
		uint32_t h = alloc_h(vm, NS_TYPE_SHARED, 0, NULL);

		ck_assert_ptr_null(ns_resv_at(&ns, h));
	}
	/* The cursor wraps past a reservation at the end of the range. */
	ck_assert_int_eq(reserve(524200, 524287, "end", &err), 0);
	ck_assert_int_eq(ns_set_cursor(&ns, 524199 - 4096), 0);
	ck_assert_uint_eq(alloc_h(vm, NS_TYPE_SHARED, 0, NULL), 524199);
	ck_assert_uint_eq(alloc_h(vm, NS_TYPE_SHARED, 0, NULL), 4103 + 1000);
	assert_ok();
}
END_TEST

START_TEST(local_and_identity_skip_reservations)
{
	struct ns_vm *tr = mkvm("t", NS_MODE_TRANSLATED), *id = mkvm("i", NS_MODE_IDENTITY);
	struct ns_mapping *m[4];
	struct ns_err err;

	ck_assert_int_eq(ns_device_assign(&ns, tr, d1, false, &err), 0);
	ck_assert_int_eq(reserve(1, 9, "low", &err), 0);
	ck_assert_uint_eq(alloc_h(tr, NS_TYPE_LOCAL, d1, NULL), 10);
	/* Asked for: refused naming the reservation, in both kinds. */
	ck_assert_int_eq(alloc_from(tr, NS_TYPE_LOCAL, d1, 5, 1, NULL, m, &err), -EEXIST);
	ck_assert_str_eq(err.param, "gpasid");
	ck_assert_str_eq(err.resv->name, "low");
	ck_assert_int_eq(reserve(5000, 5010, "mig", &err), 0);
	ck_assert_int_eq(alloc_from(id, NS_TYPE_SHARED, 0, 4999, 3, NULL, m, &err), -EEXIST);
	ck_assert_str_eq(err.resv->name, "mig");
	ck_assert_ptr_null(ns_lookup_gpasid(id, 4999)); /* all or nothing */
	ck_assert_int_eq(ns_insert(&ns, tr, NS_TYPE_SHARED, 0, 100, 5005, NULL, NULL, &err),
	                 -EEXIST);
	ck_assert_str_eq(err.param, "hpasid");
	/* Named: taken from it. */
	ck_assert_int_eq(alloc_from(id, NS_TYPE_SHARED, 0, 5001, 2, "mig", m, &err), 0);
	ck_assert_int_eq(alloc_from(id, NS_TYPE_SHARED, 0, 4990, 1, "mig", m, &err), -ERANGE);
	ck_assert_int_eq(
	    ns_insert_from(&ns, tr, NS_TYPE_SHARED, 0, 100, 5005, NULL, "mig", NULL, &err), 0);
	ck_assert_uint_eq(alloc_h(tr, NS_TYPE_LOCAL, d1, "low"), 1);
	ck_assert_uint_eq(alloc_h(tr, NS_TYPE_LOCAL, d1, "low"), 2);
	ck_assert_uint_eq(ns_resv_find(&ns, "mig")->nmaps, 3);
	ck_assert_uint_eq(ns_resv_find(&ns, "mig")->nshared, 3);
	ck_assert_uint_eq(ns_resv_find(&ns, "low")->nmaps, 2);
	/* A named reservation that holds nothing of the range, or none at all. */
	ck_assert_int_eq(alloc_from(tr, NS_TYPE_SHARED, 0, -1, 1, "low", m, &err), -ERANGE);
	ck_assert_str_eq(err.param, "reservation");
	ck_assert_int_eq(alloc_from(tr, NS_TYPE_SHARED, 0, -1, 1, "none", m, &err), -ENOENT);
	assert_ok();
	/* Unreserved: the mappings stay, counted nowhere. */
	ck_assert_int_eq(ns_unreserve(&ns, ns_resv_find(&ns, "mig"), &err), 0);
	ck_assert_ptr_nonnull(ns_lookup_gpasid(id, 5001));
	ck_assert_uint_eq(ns.resv_shared_used, 0);
	assert_ok();
	/* And a reservation over them is refused. */
	ck_assert_int_eq(reserve(5000, 5010, "mig", &err), -EEXIST);
	ck_assert_uint_eq(err.map->hpasid, 5001);
}
END_TEST

/* Next-fit within a named reservation, and its exhaustion. */
START_TEST(named_next_fit_and_exhaustion)
{
	struct ns_vm *vm = mkvm("a", NS_MODE_IDENTITY); /* gPASIDs are not the limit */
	struct ns_mapping *m[8];
	struct ns_err err;

	ck_assert_int_eq(reserve(20, 23, "r", &err), 0);
	ck_assert_uint_eq(alloc_h(vm, NS_TYPE_SHARED, 0, "r"), 20);
	ck_assert_uint_eq(alloc_h(vm, NS_TYPE_SHARED, 0, "r"), 21);
	ck_assert_int_eq(ns_free(&ns, vm, ns_lookup_hpasid(&ns, 20, UINT32_MAX)->gpasid, &err), 0);
	/* Not 20 again before the rest of the reservation. */
	ck_assert_uint_eq(alloc_h(vm, NS_TYPE_SHARED, 0, "r"), 22);
	ck_assert_uint_eq(alloc_h(vm, NS_TYPE_SHARED, 0, "r"), 23);
	ck_assert_uint_eq(alloc_h(vm, NS_TYPE_SHARED, 0, "r"), 20);
	ck_assert_int_eq(alloc_from(vm, NS_TYPE_SHARED, 0, -1, 1, "r", m, &err), -ENOSPC);
	ck_assert_int_eq(err.code, NS_E_EXHAUSTED);
	/* The rest of the range: 16-19, 24-31, 12 numbers. Then one freed in the reservation
	 * leaves the range exhausted for whoever does not name it. */
	for (int i = 0; i < 12; i++) {
		uint32_t h = alloc_h(vm, NS_TYPE_SHARED, 0, NULL);

		ck_assert(h < 20 || h > 23);
	}
	ck_assert_int_eq(ns_free(&ns, vm, ns_lookup_hpasid(&ns, 21, UINT32_MAX)->gpasid, &err), 0);
	ck_assert_uint_eq(ns_shared_free(&ns), 0);
	ck_assert_uint_eq(ns_resv_shared_free(&ns), 1);
	ck_assert_int_eq(alloc_from(vm, NS_TYPE_SHARED, 0, -1, 1, NULL, m, &err), -ENOSPC);
	ck_assert_int_eq(err.code, NS_E_EXHAUSTED);
	ck_assert_msg(strstr(err.message, "1 reserved"), "%s", err.message);
	ck_assert_uint_eq(alloc_h(vm, NS_TYPE_SHARED, 0, "r"), 21);
	assert_ok();
}
END_TEST

static unsigned heard;

static void
count_apply(void *ctx, const struct ns_event *ev)
{
	(void)ctx;
	(void)ev;
	heard++;
}

/* A refused transaction undoes reservations made and removed in it; a committed one is heard
 * of as RESERVED and UNRESERVED events. */
START_TEST(undo_in_failed_txn)
{
	struct ns_observer o = {.apply = count_apply};
	struct ns_vm *vm = mkvm("a", NS_MODE_TRANSLATED);
	struct ns_err err;

	ck_assert_int_eq(ns_observe(&ns, &o), 0);
	ck_assert_int_eq(reserve(5000, 5009, "keep", &err), 0);
	ck_assert_uint_eq(heard, 1);
	ck_assert_int_eq(ns_txn_begin(&ns), 0);
	ck_assert_int_eq(reserve(6000, 6009, "new", &err), 0);
	ck_assert_int_eq(ns_unreserve(&ns, ns_resv_find(&ns, "keep"), &err), 0);
	ck_assert_uint_eq(alloc_h(vm, NS_TYPE_SHARED, 0, "new"), 6000);
	ns_txn_abort(&ns);
	ck_assert_uint_eq(heard, 1);
	ck_assert_ptr_null(ns_resv_find(&ns, "new"));
	ck_assert_ptr_nonnull(ns_resv_find(&ns, "keep"));
	ck_assert_uint_eq(ns.nresvs, 1);
	ck_assert_uint_eq(vm->maps.count, 0);
	ck_assert_uint_eq(ns.resv_shared, 10);
	assert_ok();
	ck_assert_int_eq(ns_unreserve(&ns, ns_resv_find(&ns, "keep"), &err), 0);
	ck_assert_uint_eq(heard, 2);
	assert_ok();
}
END_TEST

START_TEST(expiry)
{
	struct ns_resv spec = {.first = 5000, .last = 5001, .expires = 100};
	struct ns_err err;

	ck_assert_int_eq(ns_reserve(&ns, &spec, NULL, &err), 0);
	spec = (struct ns_resv){.first = 5002, .last = 5003, .expires = 50};
	ck_assert_int_eq(ns_reserve(&ns, &spec, NULL, &err), 0);
	spec = (struct ns_resv){.first = 5004, .last = 5005};
	ck_assert_int_eq(ns_reserve(&ns, &spec, NULL, &err), 0);
	ck_assert_uint_eq(ns_resv_next_expiry(&ns), 50);
	ck_assert_int_eq(ns_resv_expire(&ns, 49, &err), 0);
	ck_assert_int_eq(ns_resv_expire(&ns, 50, &err), 1);
	ck_assert_uint_eq(ns_resv_next_expiry(&ns), 100);
	ck_assert_int_eq(ns_resv_expire(&ns, 1000, &err), 1);
	ck_assert_uint_eq(ns_resv_next_expiry(&ns), 0);
	ck_assert_uint_eq(ns.nresvs, 1);
	assert_ok();
}
END_TEST

START_TEST(config_reservations)
{
	struct ns_vm *vm = mkvm("a", NS_MODE_TRANSLATED);
	struct ns_resv specs[2] = {{.first = 5000, .last = 5009}, {.first = 7000, .last = 7000}};
	struct ns_mapping *m;
	struct ns_err err;
	size_t bad = 9;

	ck_assert_int_eq(ns_resv_set_config(&ns, specs, 2, &bad, &err), 0);
	ck_assert(ns_resv_find(&ns, "5000-5009")->config);
	/* Nothing is handed out of one, even by name. */
	ck_assert_int_eq(alloc_from(vm, NS_TYPE_SHARED, 0, -1, 1, "7000-7000", &m, &err), -EEXIST);
	ck_assert_str_eq(err.param, "reservation");
	/* A runtime one may not overlap it, nor it a runtime one (refused whole). */
	ck_assert_int_eq(reserve(6000, 6000, "rt", &err), 0);
	ck_assert_int_eq(reserve(7000, 7001, NULL, &err), -EEXIST);
	specs[1] = (struct ns_resv){.first = 5999, .last = 6000};
	ck_assert_int_eq(ns_resv_set_config(&ns, specs, 2, &bad, &err), -EEXIST);
	ck_assert_uint_eq(bad, 1);
	ck_assert_ptr_nonnull(ns_resv_find(&ns, "7000-7000")); /* the old ones stay */
	/* Over a live mapping: refused. */
	ck_assert_uint_eq(alloc_h(vm, NS_TYPE_SHARED, 0, NULL), 4096);
	specs[1] = (struct ns_resv){.first = 4096, .last = 4096};
	ck_assert_int_eq(ns_resv_set_config(&ns, specs, 2, &bad, &err), -EEXIST);
	ck_assert_uint_eq(err.map->hpasid, 4096);
	/* Replaced: the line gone, its reservation too. */
	ck_assert_int_eq(ns_resv_set_config(&ns, specs, 1, &bad, &err), 0);
	ck_assert_ptr_null(ns_resv_find(&ns, "7000-7000"));
	ck_assert_uint_eq(ns.nresvs, 2);
	assert_ok();
}
END_TEST

/* ns_check sees what is wrong with the table. */
START_TEST(check_finds_broken_reservations)
{
	struct ns_err err;
	char why[256];

	ck_assert_int_eq(reserve(5000, 5009, "a", &err), 0);
	ck_assert_int_eq(reserve(6000, 6009, "b", &err), 0);
	ns.resvs[1]->first = 5005;
	ck_assert_int_eq(ns_check(&ns, why, sizeof(why)), -EUCLEAN);
	ck_assert_msg(strstr(why, "overlap"), "%s", why);
	ns.resvs[1]->first = 6000;
	ns.resvs[1]->last = 2000000;
	ck_assert_int_eq(ns_check(&ns, why, sizeof(why)), -EUCLEAN);
	ck_assert_msg(strstr(why, "width"), "%s", why);
	ns.resvs[1]->last = 6009;
	ns.resvs[1]->nmaps = 1;
	ck_assert_int_eq(ns_check(&ns, why, sizeof(why)), -EUCLEAN);
	ns.resvs[1]->nmaps = 0;
	assert_ok();
}
END_TEST

/* Random reserves, unreserves, allocations (named or not, shared and local) and frees in a
 * small namespace, with transactions that are aborted now and then: after every step the
 * invariants hold, and no allocation that names no reservation lands in one. */
START_TEST(randomized)
{
	struct ns_vm *id = mkvm("i", NS_MODE_IDENTITY), *tr = mkvm("t", NS_MODE_TRANSLATED);
	unsigned seed = 12345, named_ok = 0, plain_ok = 0, reserved = 0, aborted = 0;
	struct ns_err err;

	ck_assert_int_eq(ns_device_assign(&ns, tr, d1, false, &err), 0);
	for (int step = 0; step < 20000; step++) {
		unsigned op = rand_r(&seed) % 8;
		bool txn = rand_r(&seed) % 4 == 0;
		struct ns_mapping *m[3];

		if (txn)
			ck_assert_int_eq(ns_txn_begin(&ns), 0);
		if (op == 0) {
			uint32_t a = 1 + rand_r(&seed) % 31, b = a + rand_r(&seed) % 4;

			reserved += reserve(a, b > 31 ? 31 : b, NULL, &err) == 0;
		} else if (op == 1 && ns.nresvs) {
			ck_assert_int_eq(
			    ns_unreserve(&ns, ns.resvs[rand_r(&seed) % ns.nresvs], &err), 0);
		} else if (op <= 4) {
			bool local = op == 4;
			const char *named = ns.nresvs && rand_r(&seed) % 3 == 0
			                        ? ns.resvs[rand_r(&seed) % ns.nresvs]->name
			                        : NULL;
			unsigned count = 1 + rand_r(&seed) % 3;

			if (alloc_from(local ? tr : id, local ? NS_TYPE_LOCAL : NS_TYPE_SHARED,
			               local ? d1 : 0, -1, count, named, m, &err) == 0 &&
			    ++*(named ? &named_ok : &plain_ok))
				for (unsigned k = 0; k < count; k++) {
					const struct ns_resv *r = ns_resv_at(&ns, m[k]->hpasid);

					ck_assert_msg(!r || (named && !strcmp(r->name, named)),
					              "hPASID %u handed out of %s", m[k]->hpasid,
					              r->name);
				}
		} else {
			struct ns_vm *vm = op % 2 ? id : tr;
			const struct ns_mapping *first = ns_vm_next(&ns, vm, 0);

			if (first)
				ck_assert_int_eq(ns_free(&ns, vm, first->gpasid, &err), 0);
		}
		if (txn && rand_r(&seed) % 2 && ++aborted)
			ns_txn_abort(&ns);
		else if (txn)
			ck_assert_int_eq(ns_txn_commit(&ns, &err), 0);
		assert_ok();
	}
	/* Each kind of step happened. */
	ck_assert_uint_gt(reserved, 100);
	ck_assert_uint_gt(named_ok, 10);
	ck_assert_uint_gt(plain_ok, 100);
	ck_assert_uint_gt(aborted, 100);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("ns_resv");
	TCase *tc = ck_case(s, "resv", setup, teardown, 0);
	TCase *small = ck_case(s, "small", setup_small, teardown, 0);

	tcase_add_test(tc, reserve_and_refusals);
	tcase_add_test(tc, local_mappings_conflict_on_any_device);
	tcase_add_test(tc, next_fit_skips_reservations);
	tcase_add_test(tc, local_and_identity_skip_reservations);
	tcase_add_test(small, named_next_fit_and_exhaustion);
	tcase_add_test(tc, undo_in_failed_txn);
	tcase_add_test(tc, expiry);
	tcase_add_test(tc, config_reservations);
	tcase_add_test(tc, check_finds_broken_reservations);
	tcase_add_test(small, randomized);
	return ck_main(s, NULL);
}
