/* PASIDs attached around pasidd (ns_foreign.c): kept out of allocation while held, per device
 * for local ones and host-wide for shared ones, never state (no transaction, no event), and
 * ns_check holding throughout. */
#include "ck_main.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ns_fixture.h"

static const uint32_t d1 = 0x10, d2 = 0x18; /* 0000:00:02.0, 0000:00:03.0 */

static int
alloc_n(struct ns_vm *vm, enum ns_type type, uint32_t bdf, int64_t g, unsigned count,
        struct ns_mapping **m, struct ns_err *err)
{
	struct ns_alloc_req req = {.type = type, .bdf = bdf, .gpasid = g, .count = count};

	return ns_alloc(&ns, vm, &req, m, err);
}

static uint32_t
alloc_h(struct ns_vm *vm, enum ns_type type, uint32_t bdf)
{
	struct ns_mapping *m;
	struct ns_err err;

	ck_assert_msg(alloc_n(vm, type, bdf, -1, 1, &m, &err) == 0, "%s", err.message);
	return m->hpasid;
}

/* Everything a refused request must leave alone, the foreign PASIDs included. */
static char *
snapshot(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	size_t it = 0;
	uint32_t bdf;
	void *p;

	fprintf(f, "cur %u free %u foreign %u\n", ns.shared_cursor, ns_shared_free(&ns),
	        ns_foreign_count(&ns));
	while (u32map_next(&ns.devices, &it, &bdf, &p))
		fprintf(f, "dev %x cur %u used %u\n", bdf, ((struct ns_device *)p)->local_cursor,
		        ((struct ns_device *)p)->local.used);
	for (unsigned i = 0; i < ns.nvms; i++) {
		const struct ns_vm *vm = ns.vms[i];

		fprintf(f, "vm %s", vm->name);
		for (const struct ns_mapping *m = ns_vm_next(&ns, vm, 0); m;
		     m = ns_vm_next(&ns, vm, m->gpasid))
			fprintf(f, " %u:%u:%d", m->gpasid, m->hpasid, m->type);
		fputc('\n', f);
	}
	fclose(f);
	return buf;
}

static void
assert_unchanged(char *before)
{
	char *after = snapshot();

	ck_assert_str_eq(after, before);
	free(before);
	free(after);
}

/* Events heard by an observer: foreign PASIDs make none. */
static void
count_event(void *ctx, const struct ns_event *ev)
{
	(void)ev;
	(*(unsigned *)ctx)++;
}

START_TEST(shared_foreign_skipped_by_next_fit)
{
	struct ns_vm *vm = mkvm("t", NS_MODE_TRANSLATED);
	uint32_t free0 = ns_shared_free(&ns);

	ck_assert_int_eq(ns_foreign_take(&ns, d1, 4097), 1);
	ck_assert_int_eq(ns_foreign_take(&ns, d1, 4097), 0); /* once per (device, PASID) */
	ck_assert(ns_foreign_held(&ns, d1, 4097));
	ck_assert(!ns_foreign_held(&ns, d2, 4097));
	ck_assert(!ns_foreign_held(&ns, d1, 4098));
	ck_assert_uint_eq(ns_foreign_count(&ns), 1);
	ck_assert_uint_eq(ns_shared_free(&ns), free0 - 1);
	/* A device pasidd does not know is no device of the table's. */
	ck_assert_ptr_null(ns_device_find(&ns, d1));
	assert_ok();
	ck_assert_uint_eq(alloc_h(vm, NS_TYPE_SHARED, 0), 4096);
	ck_assert_uint_eq(alloc_h(vm, NS_TYPE_SHARED, 0), 4098);
	ck_assert_uint_eq(alloc_h(vm, NS_TYPE_SHARED, 0), 4099);
	assert_ok();
	/* Seen detached: free again, found by next-fit once it wraps. */
	ck_assert_int_eq(ns_foreign_release(&ns, d1, 4097), 0);
	ck_assert_int_eq(ns_foreign_release(&ns, d1, 4097), -ENOENT);
	ck_assert_uint_eq(ns_foreign_count(&ns), 0);
	ck_assert_uint_eq(ns_shared_free(&ns), free0 - 3);
	assert_ok();
	ck_assert_int_eq(ns_set_cursor(&ns, 524287 - 4096), 0);
	ck_assert_uint_eq(alloc_h(vm, NS_TYPE_SHARED, 0), 524287);
	ck_assert_uint_eq(alloc_h(vm, NS_TYPE_SHARED, 0), 4097);
	assert_ok();
}
END_TEST

/* Several foreign PASIDs in a row, and across the wrap of next-fit. */
START_TEST(shared_foreign_runs_and_wrap)
{
	struct ns_vm *vm;

	teardown();
	setup_ranges(1, 15, 16, 23, 5);
	vm = mkvm("i", NS_MODE_IDENTITY);
	for (uint32_t h = 17; h <= 20; h++)
		ck_assert_int_eq(ns_foreign_take(&ns, d1, h), 1);
	ck_assert_int_eq(ns_foreign_take(&ns, d2, 23), 1);
	ck_assert_uint_eq(alloc_h(vm, NS_TYPE_SHARED, 0), 16);
	ck_assert_uint_eq(alloc_h(vm, NS_TYPE_SHARED, 0), 21);
	ck_assert_uint_eq(alloc_h(vm, NS_TYPE_SHARED, 0), 22);
	ck_assert_int_eq(ns_foreign_release(&ns, d1, 18), 0);
	/* Past 23 (foreign) it wraps to 16 (taken), 17 (foreign), then 18. */
	ck_assert_uint_eq(alloc_h(vm, NS_TYPE_SHARED, 0), 18);
	assert_ok();
}
END_TEST

START_TEST(shared_foreign_refused_when_asked)
{
	struct ns_vm *id = mkvm("id", NS_MODE_IDENTITY), *tr = mkvm("tr", NS_MODE_TRANSLATED);
	struct ns_mapping *m[4];
	struct ns_err err;
	unsigned heard = 0;
	char *before;

	ck_assert_int_eq(
	    ns_observe(&ns, &(struct ns_observer){.apply = count_event, .ctx = &heard}), 0);
	ck_assert_int_eq(ns_foreign_take(&ns, d2, 4200), 1);
	ck_assert_uint_eq(heard, 0);
	before = snapshot();
	/* Identity: the gPASID is the hPASID. */
	ck_assert_int_eq(alloc_n(id, NS_TYPE_SHARED, 0, 4200, 1, m, &err), -EEXIST);
	ck_assert_int_eq(err.code, NS_E_CONFLICT);
	ck_assert_str_eq(err.param, "gpasid");
	ck_assert_str_eq(err.message,
	                 "hPASID 4200 is attached to device 0000:00:03.0 by another process");
	/* Refused half-way through a run: the first two are undone. */
	ck_assert_int_eq(alloc_n(id, NS_TYPE_SHARED, 0, 4198, 3, m, &err), -EEXIST);
	ck_assert_str_eq(err.message,
	                 "hPASID 4200 is attached to device 0000:00:03.0 by another process");
	/* Translated, every number given (import, replay). */
	ck_assert_int_eq(ns_insert(&ns, tr, NS_TYPE_SHARED, 0, 5, 4200, NULL, m, &err), -EEXIST);
	ck_assert_int_eq(err.code, NS_E_CONFLICT);
	ck_assert_str_eq(err.param, "hpasid");
	ck_assert_str_eq(err.message,
	                 "hPASID 4200 is attached to device 0000:00:03.0 by another process");
	assert_unchanged(before);
	ck_assert_uint_eq(heard, 0);
	assert_ok();
	/* Released: both are granted. */
	ck_assert_int_eq(ns_foreign_release(&ns, d2, 4200), 0);
	ck_assert_uint_eq(heard, 0);
	ck_assert_int_eq(alloc_n(id, NS_TYPE_SHARED, 0, 4198, 3, m, &err), 0);
	ck_assert_uint_eq(m[2]->hpasid, 4200);
	ck_assert_int_eq(ns_free(&ns, id, 4200, &err), 0);
	ck_assert_int_eq(ns_insert(&ns, tr, NS_TYPE_SHARED, 0, 5, 4200, NULL, m, &err), 0);
	assert_ok();
}
END_TEST

START_TEST(two_devices_hold_one_shared_pasid)
{
	struct ns_vm *id = mkvm("id", NS_MODE_IDENTITY);
	struct ns_mapping *m;
	struct ns_err err;

	ck_assert_int_eq(ns_foreign_take(&ns, d2, 4096), 1);
	ck_assert_int_eq(ns_foreign_take(&ns, d1, 4096), 1);
	ck_assert_uint_eq(ns_foreign_count(&ns), 2);
	assert_ok();
	/* The message names the lowest device holding it. */
	ck_assert_int_eq(alloc_n(id, NS_TYPE_SHARED, 0, 4096, 1, &m, &err), -EEXIST);
	ck_assert_str_eq(err.message,
	                 "hPASID 4096 is attached to device 0000:00:02.0 by another process");
	ck_assert_int_eq(ns_foreign_release(&ns, d1, 4096), 0);
	ck_assert(!ns_foreign_held(&ns, d1, 4096));
	ck_assert(ns_foreign_held(&ns, d2, 4096));
	assert_ok();
	/* Still held on the other device: still out of circulation. */
	ck_assert_int_eq(alloc_n(id, NS_TYPE_SHARED, 0, 4096, 1, &m, &err), -EEXIST);
	ck_assert_str_eq(err.message,
	                 "hPASID 4096 is attached to device 0000:00:03.0 by another process");
	ck_assert_uint_eq(alloc_h(id, NS_TYPE_SHARED, 0), 4097);
	ck_assert_int_eq(ns_foreign_release(&ns, d2, 4096), 0);
	ck_assert_uint_eq(ns_foreign_count(&ns), 0);
	assert_ok();
	ck_assert_int_eq(alloc_n(id, NS_TYPE_SHARED, 0, 4096, 1, &m, &err), 0);
	assert_ok();
}
END_TEST

START_TEST(local_foreign_is_per_device)
{
	struct ns_vm *a = mkvm("a", NS_MODE_TRANSLATED), *b = mkvm("b", NS_MODE_TRANSLATED);
	struct ns_mapping *m;
	struct ns_err err;
	char *before;

	ck_assert_int_eq(ns_device_assign(&ns, a, d1, false, &err), 0);
	ck_assert_int_eq(ns_device_assign(&ns, b, d2, false, &err), 0);
	ck_assert_int_eq(ns_foreign_take(&ns, d1, 1), 1);
	ck_assert_int_eq(ns_foreign_take(&ns, d1, 3), 1);
	ck_assert(!ns_foreign_held(&ns, d2, 1));
	/* Not pasidd's numbers: nothing kept. */
	ck_assert_int_eq(ns_foreign_take(&ns, d1, 0), 0);
	ck_assert_int_eq(ns_foreign_take(&ns, d1, 600000), 0);
	ck_assert(!ns_foreign_held(&ns, d1, 600000));
	ck_assert_int_eq(ns_foreign_release(&ns, d1, 600000), -ENOENT);
	ck_assert_uint_eq(ns_foreign_count(&ns), 2);
	assert_ok();
	ck_assert_uint_eq(alloc_h(a, NS_TYPE_LOCAL, d1), 2);
	ck_assert_uint_eq(alloc_h(a, NS_TYPE_LOCAL, d1), 4);
	/* The other device is not concerned. */
	ck_assert_uint_eq(alloc_h(b, NS_TYPE_LOCAL, d2), 1);
	ck_assert_uint_eq(alloc_h(b, NS_TYPE_LOCAL, d2), 2);
	ck_assert_uint_eq(alloc_h(b, NS_TYPE_LOCAL, d2), 3);
	before = snapshot();
	ck_assert_int_eq(alloc_n(a, NS_TYPE_LOCAL, d1, 3, 1, &m, &err), -EEXIST);
	ck_assert_int_eq(err.code, NS_E_CONFLICT);
	ck_assert_str_eq(err.param, "gpasid");
	ck_assert_str_eq(err.message,
	                 "PASID 3 is attached to device 0000:00:02.0 by another process");
	ck_assert_int_eq(ns_insert(&ns, a, NS_TYPE_LOCAL, d1, 1, 1, NULL, &m, &err), -EEXIST);
	ck_assert_str_eq(err.message,
	                 "PASID 1 is attached to device 0000:00:02.0 by another process");
	assert_unchanged(before);
	assert_ok();
	ck_assert_int_eq(ns_foreign_release(&ns, d1, 3), 0);
	ck_assert_int_eq(alloc_n(a, NS_TYPE_LOCAL, d1, 3, 1, &m, &err), 0);
	ck_assert_int_eq(ns_foreign_release(&ns, d1, 1), 0);
	ck_assert_uint_eq(ns_foreign_count(&ns), 0);
	ck_assert_int_eq(ns_insert(&ns, a, NS_TYPE_LOCAL, d1, 1, 1, NULL, &m, &err), 0);
	assert_ok();
}
END_TEST

START_TEST(exhausted_by_foreign_pasids)
{
	struct ns_vm *s, *l;
	struct ns_mapping *m[16];
	struct ns_err err;
	char *before;

	teardown();
	setup_ranges(1, 15, 16, 19, 5);
	s = mkvm("s", NS_MODE_TRANSLATED);
	l = mkvm("l", NS_MODE_TRANSLATED);
	ck_assert_int_eq(alloc_n(s, NS_TYPE_SHARED, 0, -1, 3, m, &err), 0);
	ck_assert_int_eq(ns_foreign_take(&ns, d2, 19), 1);
	ck_assert_uint_eq(ns_shared_free(&ns), 0);
	before = snapshot();
	ck_assert_int_eq(alloc_n(s, NS_TYPE_SHARED, 0, -1, 1, m, &err), -ENOSPC);
	ck_assert_int_eq(err.code, NS_E_EXHAUSTED);
	ck_assert_str_eq(err.param, "type");
	ck_assert_str_eq(err.message, "the shared range 16-19 has 0 free PASIDs (and 1 attached "
	                              "by other processes); 1 asked");
	assert_unchanged(before);
	ck_assert_int_eq(ns_foreign_release(&ns, d2, 19), 0);
	ck_assert_int_eq(alloc_n(s, NS_TYPE_SHARED, 0, -1, 1, m, &err), 0);
	ck_assert_uint_eq(m[0]->hpasid, 19);
	assert_ok();

	/* Local: 14 of 15 mapped, the last one attached around pasidd. */
	ck_assert_int_eq(ns_device_assign(&ns, l, d1, false, &err), 0);
	ck_assert_int_eq(alloc_n(l, NS_TYPE_LOCAL, d1, -1, 14, m, &err), 0);
	ck_assert_int_eq(ns_foreign_take(&ns, d1, 15), 1);
	before = snapshot();
	ck_assert_int_eq(alloc_n(l, NS_TYPE_LOCAL, d1, -1, 1, m, &err), -ENOSPC);
	ck_assert_str_eq(err.param, "device");
	ck_assert_str_eq(err.message, "device 0000:00:02.0 has 0 free local PASIDs in 1-15 (and 1 "
	                              "attached to it by other processes); 1 asked");
	assert_unchanged(before);
	/* A foreign attach of a number pasidd maps is not counted twice... */
	ck_assert_int_eq(ns_foreign_take(&ns, d1, 3), 1);
	ck_assert_int_eq(alloc_n(l, NS_TYPE_LOCAL, d1, -1, 1, m, &err), -ENOSPC);
	ck_assert_str_eq(err.message, "device 0000:00:02.0 has 0 free local PASIDs in 1-15 (and 1 "
	                              "attached to it by other processes); 1 asked");
	assert_ok();
	/* ...and once pasidd frees it, it stays out. */
	ck_assert_int_eq(ns_free(&ns, l, 3, &err), 0);
	ck_assert_int_eq(alloc_n(l, NS_TYPE_LOCAL, d1, -1, 1, m, &err), -ENOSPC);
	ck_assert_str_eq(err.message, "device 0000:00:02.0 has 0 free local PASIDs in 1-15 (and 2 "
	                              "attached to it by other processes); 1 asked");
	assert_ok();
	ck_assert_int_eq(ns_foreign_release(&ns, d1, 15), 0);
	ck_assert_int_eq(alloc_n(l, NS_TYPE_LOCAL, d1, -1, 1, m, &err), 0);
	ck_assert_uint_eq(m[0]->hpasid, 15);
	assert_ok();
}
END_TEST

/* A foreign attach of a number pasidd's table maps (the observer alarms): recorded, so that
 * the number stays out of circulation if pasidd frees it before the foreign detach. */
START_TEST(foreign_take_over_a_mapped_number)
{
	struct ns_vm *id = mkvm("id", NS_MODE_IDENTITY), *tr = mkvm("tr", NS_MODE_TRANSLATED);
	struct ns_mapping *m;
	struct ns_err err;
	uint32_t free0;

	ck_assert_int_eq(alloc_n(id, NS_TYPE_SHARED, 0, 4096, 1, &m, &err), 0);
	free0 = ns_shared_free(&ns);
	ck_assert_int_eq(ns_foreign_take(&ns, d1, 4096), 1);
	ck_assert_uint_eq(ns_shared_free(&ns), free0); /* not counted twice */
	assert_ok();
	ck_assert_int_eq(ns_free(&ns, id, 4096, &err), 0);
	ck_assert_uint_eq(ns_shared_free(&ns), free0);
	assert_ok();
	ck_assert_int_eq(alloc_n(id, NS_TYPE_SHARED, 0, 4096, 1, &m, &err), -EEXIST);
	ck_assert_str_eq(err.message,
	                 "hPASID 4096 is attached to device 0000:00:02.0 by another process");
	ck_assert_uint_eq(alloc_h(tr, NS_TYPE_SHARED, 0), 4097);
	ck_assert_int_eq(ns_foreign_release(&ns, d1, 4096), 0);
	ck_assert_uint_eq(ns_shared_free(&ns), free0);
	ck_assert_int_eq(alloc_n(id, NS_TYPE_SHARED, 0, 4096, 1, &m, &err), 0);
	assert_ok();
}
END_TEST

/* Kernel facts, not changes: a transaction neither records nor undoes them. */
START_TEST(not_part_of_transactions)
{
	struct ns_vm *tr = mkvm("tr", NS_MODE_TRANSLATED);
	struct ns_mapping *m;
	struct ns_err err;

	ck_assert_int_eq(ns_txn_begin(&ns), 0);
	ck_assert_int_eq(ns_foreign_take(&ns, d1, 4096), 1);
	ck_assert(!ns_txn_dirty(&ns));
	ck_assert_int_eq(alloc_n(tr, NS_TYPE_SHARED, 0, -1, 1, &m, &err), 0);
	ck_assert_uint_eq(m->hpasid, 4097);
	ck_assert_int_eq(ns_foreign_take(&ns, d1, 4098), 1);
	ck_assert_int_eq(ns_foreign_release(&ns, d1, 4096), 0);
	ns_txn_abort(&ns);
	ck_assert(!ns_foreign_held(&ns, d1, 4096));
	ck_assert(ns_foreign_held(&ns, d1, 4098));
	ck_assert_uint_eq(tr->maps.count, 0);
	assert_ok();
	ck_assert_uint_eq(alloc_h(tr, NS_TYPE_SHARED, 0), 4096);
	ck_assert_uint_eq(alloc_h(tr, NS_TYPE_SHARED, 0), 4097);
	ck_assert_uint_eq(alloc_h(tr, NS_TYPE_SHARED, 0), 4099);
	assert_ok();
}
END_TEST

/* Many devices and numbers taken and released in any order leave nothing behind. */
START_TEST(take_release_leaves_nothing)
{
	uint32_t seed = 12345;

	for (int i = 0; i < 20000; i++) {
		uint32_t bdf, pasid;

		seed = seed * 1103515245u + 12345u;
		bdf = (seed >> 8) % 5;
		pasid = (seed >> 12) % 8 + ((seed >> 16) & 1 ? 4094 : 1);
		if ((seed >> 20) & 1)
			ck_assert_int_ge(ns_foreign_take(&ns, bdf, pasid), 0);
		else
			ns_foreign_release(&ns, bdf, pasid);
		if (i % 500 == 0)
			assert_ok();
	}
	assert_ok();
	for (uint32_t bdf = 0; bdf < 5; bdf++)
		for (uint32_t p = 1; p < 4110; p++)
			if (ns_foreign_held(&ns, bdf, p))
				ck_assert_int_eq(ns_foreign_release(&ns, bdf, p), 0);
	ck_assert_uint_eq(ns_foreign_count(&ns), 0);
	ck_assert_uint_eq(ns.foreign.count, 0);
	ck_assert_uint_eq(ns.shared_foreign.used, 0);
	assert_ok();
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("ns_foreign");
	TCase *tc = ck_case(s, "foreign", setup, teardown, 0);

	tcase_add_test(tc, shared_foreign_skipped_by_next_fit);
	tcase_add_test(tc, shared_foreign_runs_and_wrap);
	tcase_add_test(tc, shared_foreign_refused_when_asked);
	tcase_add_test(tc, two_devices_hold_one_shared_pasid);
	tcase_add_test(tc, local_foreign_is_per_device);
	tcase_add_test(tc, exhausted_by_foreign_pasids);
	tcase_add_test(tc, foreign_take_over_a_mapped_number);
	tcase_add_test(tc, not_part_of_transactions);
	tcase_add_test(tc, take_release_leaves_nothing);
	return ck_main(s, NULL);
}
