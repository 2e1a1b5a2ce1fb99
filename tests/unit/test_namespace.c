/* The namespace: fixed scenarios, then thousands of random operations checked against a
 * simple model and every invariant after each step. */
#include <check.h>

#include "ck_main.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ns_fixture.h"
#include "record.h"

/* Check reports every passing ck_assert through a pipe; a million of them dominate the
 * run, so the hot loop only calls into Check on failure. */
#define REQUIRE(c)                                                                                 \
	do {                                                                                       \
		if (!(c))                                                                          \
			ck_abort_msg("%s:%d: %s", __FILE__, __LINE__, #c);                         \
	} while (0)

/* A string that captures everything a refused operation must leave alone. */
static char *snapshot_of(const struct ns *n);

static int
alloc1(struct ns_vm *vm, enum ns_type type, uint32_t bdf, int64_t g, struct ns_mapping **m,
       struct ns_err *err)
{
	struct ns_alloc_req req = {.type = type, .bdf = bdf, .gpasid = g, .count = 1};

	return ns_alloc(&ns, vm, &req, m, err);
}

/* The VM's count of mappings for wq, 0 without an entry. */
static uint32_t
vm_wq_count(const struct ns_vm *vm, const char *wq)
{
	for (unsigned i = 0; i < vm->nwqs; i++)
		if (!strcmp(vm->wqs[i].wq->ref, wq))
			return vm->wqs[i].nmaps;
	return 0;
}

/* Shared mappings handed out for a WQ keep it and are counted per WQ and per VM as they come
 * and go; a refused request, or one undone by the transaction, leaves every count as it was;
 * a WQ is for shared mappings, named as the kernel names it. */
START_TEST(work_queues_counted)
{
	struct ns_alloc_req req = {
	    .type = NS_TYPE_SHARED, .gpasid = -1, .count = 3, .wq = "dsa0/wq0.1"};
	struct ns_vm *a = mkvm("a", NS_MODE_TRANSLATED), *b = mkvm("b", NS_MODE_IDENTITY);
	struct ns_mapping *m[3];
	struct ns_err err;
	char *before, *after;

	ck_assert_int_eq(ns_alloc(&ns, a, &req, m, &err), 0);
	ck_assert_str_eq(m[2]->wq->ref, "dsa0/wq0.1");
	req.count = 1;
	ck_assert_int_eq(ns_alloc(&ns, b, &req, m, &err), 0);
	req.wq = "iax1/wq1.0";
	ck_assert_int_eq(ns_alloc(&ns, b, &req, m, &err), 0);
	ck_assert_ptr_null(alloc1(a, NS_TYPE_SHARED, 0, -1, m, &err) ? NULL : m[0]->wq);
	ck_assert_uint_eq(ns_wq_find(&ns, "dsa0/wq0.1")->nmaps, 4);
	ck_assert_uint_eq(vm_wq_count(a, "dsa0/wq0.1"), 3);
	ck_assert_uint_eq(vm_wq_count(b, "dsa0/wq0.1"), 1);
	ck_assert_uint_eq(vm_wq_count(b, "iax1/wq1.0"), 1);
	assert_ok();

	/* Refused before anything: a local mapping with a WQ, a malformed name. */
	before = snapshot_of(&ns);
	req = (struct ns_alloc_req){
	    .type = NS_TYPE_LOCAL, .bdf = 8, .gpasid = -1, .count = 1, .wq = "dsa0/wq0.1"};
	ck_assert_int_eq(ns_alloc(&ns, a, &req, m, &err), -EINVAL);
	ck_assert_str_eq(err.param, "wq");
	req = (struct ns_alloc_req){
	    .type = NS_TYPE_SHARED, .gpasid = -1, .count = 1, .wq = "dsa0/wq1.1"};
	ck_assert_int_eq(ns_alloc(&ns, a, &req, m, &err), -EINVAL);
	/* Refused half-way (the second gPASID is taken): undone, counts included. */
	req = (struct ns_alloc_req){
	    .type = NS_TYPE_SHARED, .gpasid = 3, .count = 2, .wq = "dsa2/wq2.0"};
	ck_assert_int_lt(ns_alloc(&ns, a, &req, m, &err), 0);
	after = snapshot_of(&ns);
	ck_assert_str_eq(after, before);
	free(before);
	free(after);
	ck_assert_uint_eq(ns_wq_find(&ns, "dsa2/wq2.0")->nmaps, 0);
	ck_assert_uint_eq(vm_wq_count(a, "dsa2/wq2.0"), 0);
	assert_ok();

	ck_assert_int_eq(ns_free(&ns, a, 2, &err), 0);
	ck_assert_uint_eq(vm_wq_count(a, "dsa0/wq0.1"), 2);
	ck_assert_int_ge(ns_vm_destroy(&ns, b, &err), 0);
	ck_assert_uint_eq(ns_wq_find(&ns, "dsa0/wq0.1")->nmaps, 2);
	ck_assert_uint_eq(ns_wq_find(&ns, "iax1/wq1.0")->nmaps, 0);
	assert_ok();
	ck_assert(ns_wq_ref_valid("dsa0/wq0.1") && ns_wq_ref_valid("iax12/wq12.7"));
	ck_assert(!ns_wq_ref_valid("dsa0/wq1.1") && !ns_wq_ref_valid("dsa00/wq00.1") &&
	          !ns_wq_ref_valid("dsa0/wq0.01") && !ns_wq_ref_valid("dsa0/wq0.") &&
	          !ns_wq_ref_valid("abc0/wq0.1") && !ns_wq_ref_valid("dsa0/wq0.1x") &&
	          !ns_wq_ref_valid("dsa0") && !ns_wq_ref_valid(""));
}
END_TEST

START_TEST(config_checks)
{
	struct ns_config c = {.pasid_bits = 20, .local = {1, 4095}, .shared = {4096, 524287}};
	char why[160];

	ck_assert_int_eq(ns_config_check(&c, why, sizeof(why)), 0);
	c.local.first = 0;
	ck_assert_int_lt(ns_config_check(&c, why, sizeof(why)), 0);
	ck_assert_ptr_nonnull(strstr(why, "PASID 0"));
	c.local = (struct ns_range){1, 5000};
	ck_assert_int_lt(ns_config_check(&c, why, sizeof(why)), 0);
	ck_assert_ptr_nonnull(strstr(why, "overlaps"));
	c.local = (struct ns_range){1, 4095};
	c.shared = (struct ns_range){5000, 4096};
	ck_assert_int_lt(ns_config_check(&c, why, sizeof(why)), 0);
	ck_assert_ptr_nonnull(strstr(why, "reversed"));
	c.shared = (struct ns_range){4096, 1 << 20};
	ck_assert_int_lt(ns_config_check(&c, why, sizeof(why)), 0);
	ck_assert_ptr_nonnull(strstr(why, "width"));
	c.shared.last = (1 << 20) - 1;
	c.pasid_bits = 21;
	ck_assert_int_lt(ns_config_check(&c, why, sizeof(why)), 0);
}
END_TEST

START_TEST(value_formats)
{
	uint32_t bdf;
	char out[NS_BDF_LEN + 1];

	ck_assert_int_eq(ns_bdf_parse("0000:00:02.0", &bdf), 0);
	ck_assert_uint_eq(bdf, 2 << 3);
	ck_assert_int_eq(ns_bdf_parse("FFFF:Ab:1f.7", &bdf), 0);
	ns_bdf_format(bdf, out);
	ck_assert_str_eq(out, "ffff:ab:1f.7");
	ck_assert_int_lt(ns_bdf_parse("0000:00:20.0", &bdf), 0);
	ck_assert_int_lt(ns_bdf_parse("0000:00:1f.8", &bdf), 0);
	ck_assert_int_lt(ns_bdf_parse("00:02.0", &bdf), 0);
	ck_assert_int_lt(ns_bdf_parse("0000:00:02.0 ", &bdf), 0);
	ck_assert_int_lt(ns_bdf_parse("0000:0g:02.0", &bdf), 0);
	ck_assert(ns_vm_name_valid("vm-1.a_b:c@d+e"));
	ck_assert(!ns_vm_name_valid(""));
	ck_assert(!ns_vm_name_valid("-vm"));
	ck_assert(!ns_vm_name_valid("a/b"));
	ck_assert(!ns_vm_name_valid("a\tb"));
	ck_assert(!ns_vm_name_valid("\xc3\xa9t\xc3\xa9"));
	char long_name[66];
	memset(long_name, 'a', 65);
	long_name[65] = '\0';
	ck_assert(!ns_vm_name_valid(long_name));
	long_name[64] = '\0';
	ck_assert(ns_vm_name_valid(long_name));
}
END_TEST

START_TEST(shared_translated_next_fit)
{
	struct ns_vm *vm = mkvm("a", NS_MODE_TRANSLATED);
	struct ns_mapping *m1, *m2, *m3;
	struct ns_err err;

	ck_assert_int_eq(alloc1(vm, NS_TYPE_SHARED, 0, -1, &m1, &err), 0);
	ck_assert_uint_eq(m1->gpasid, 1);
	ck_assert_uint_eq(m1->hpasid, 4096);
	ck_assert_int_eq(alloc1(vm, NS_TYPE_SHARED, 0, -1, &m2, &err), 0);
	ck_assert_uint_eq(m2->hpasid, 4097);
	ck_assert_int_eq(ns_free(&ns, vm, 1, &err), 0);
	/* The freed hPASID is not reused right away (invariant 8); the gPASID is. */
	ck_assert_int_eq(alloc1(vm, NS_TYPE_SHARED, 0, -1, &m3, &err), 0);
	ck_assert_uint_eq(m3->hpasid, 4098);
	ck_assert_uint_eq(m3->gpasid, 1);
	assert_ok();
}
END_TEST

START_TEST(exhaustion_and_wrap)
{
	struct ns_vm *vm;
	struct ns_mapping *m[8];
	struct ns_err err;
	struct ns_alloc_req req = {.type = NS_TYPE_SHARED, .gpasid = -1, .count = 5};

	teardown();
	setup_ranges(1, 15, 16, 19, 5);
	vm = mkvm("a", NS_MODE_TRANSLATED);
	/* count larger than what is left: all or nothing. */
	ck_assert_int_lt(ns_alloc(&ns, vm, &req, m, &err), 0);
	ck_assert_int_eq(err.code, NS_E_EXHAUSTED);
	ck_assert_uint_eq(vm->maps.count, 0);
	ck_assert_uint_eq(ns.shared_cursor, 0);
	req.count = 4;
	ck_assert_int_eq(ns_alloc(&ns, vm, &req, m, &err), 0);
	ck_assert_int_lt(alloc1(vm, NS_TYPE_SHARED, 0, -1, m, &err), 0);
	ck_assert_int_eq(err.code, NS_E_EXHAUSTED);
	ck_assert_int_eq(ns_free(&ns, vm, 2, &err), 0); /* hPASID 17 */
	ck_assert_int_eq(alloc1(vm, NS_TYPE_SHARED, 0, -1, m, &err), 0);
	ck_assert_uint_eq(m[0]->hpasid, 17);
	assert_ok();
}
END_TEST

START_TEST(identity_mode)
{
	struct ns_vm *vm = mkvm("id", NS_MODE_IDENTITY);
	struct ns_mapping *m;
	struct ns_err err;

	ck_assert_int_eq(alloc1(vm, NS_TYPE_SHARED, 0, -1, &m, &err), 0);
	ck_assert_uint_eq(m->gpasid, m->hpasid);
	ck_assert_uint_eq(m->hpasid, 4096);
	ck_assert_int_eq(alloc1(vm, NS_TYPE_SHARED, 0, 9000, &m, &err), 0);
	ck_assert_uint_eq(m->hpasid, 9000);
	ck_assert_int_lt(alloc1(vm, NS_TYPE_SHARED, 0, 9000, &m, &err), 0);
	ck_assert_int_eq(err.code, NS_E_CONFLICT);
	ck_assert_int_lt(alloc1(vm, NS_TYPE_SHARED, 0, 5, &m, &err), 0);
	ck_assert_int_eq(err.code, NS_E_RANGE);
	assert_ok();
}
END_TEST

START_TEST(devices_and_local)
{
	struct ns_vm *a = mkvm("a", NS_MODE_TRANSLATED), *b = mkvm("b", NS_MODE_TRANSLATED);
	struct ns_mapping *m;
	struct ns_err err;
	uint32_t d1 = 0x10, d2 = 0x18;

	ck_assert_int_eq(ns_device_assign(&ns, a, d1, false, &err), 0);
	ck_assert_int_eq(ns_device_assign(&ns, a, d1, false, &err), 0); /* idempotent */
	ck_assert_int_lt(ns_device_assign(&ns, a, d1, true, &err), 0);
	ck_assert_int_lt(ns_device_assign(&ns, b, d1, false, &err), 0);
	ck_assert_int_eq(err.code, NS_E_CONFLICT);
	ck_assert_int_eq(ns_device_assign(&ns, a, d2, true, &err), 0);
	ck_assert_int_eq(ns_device_assign(&ns, b, d2, true, &err), 0);
	ck_assert_int_lt(ns_device_assign(&ns, b, d2, false, &err), 0);
	/* Local PASIDs: exclusive devices only. */
	ck_assert_int_lt(alloc1(a, NS_TYPE_LOCAL, d2, -1, &m, &err), 0);
	ck_assert_int_eq(err.code, NS_E_CONFLICT);
	ck_assert_int_lt(alloc1(b, NS_TYPE_LOCAL, d1, -1, &m, &err), 0);
	ck_assert_int_eq(alloc1(a, NS_TYPE_LOCAL, d1, -1, &m, &err), 0);
	ck_assert_uint_eq(m->gpasid, 1);
	ck_assert_uint_eq(m->hpasid, 1);
	/* The guest PASID 2 is taken by a shared mapping: local skips it. */
	ck_assert_int_eq(alloc1(a, NS_TYPE_SHARED, 0, 2, &m, &err), 0);
	ck_assert_int_eq(alloc1(a, NS_TYPE_LOCAL, d1, -1, &m, &err), 0);
	ck_assert_uint_eq(m->gpasid, 3);
	ck_assert_int_lt(ns_device_release(&ns, a, d1, &err), 0);
	ck_assert_int_eq(err.code, NS_E_CONFLICT);
	ck_assert_ptr_eq(ns_lookup_hpasid(&ns, 3, UINT32_MAX), m);
	ck_assert_int_eq(ns_free(&ns, a, 1, &err), 0);
	ck_assert_int_eq(ns_free(&ns, a, 3, &err), 0);
	ck_assert_int_eq(ns_device_release(&ns, a, d1, &err), 0);
	ck_assert_int_lt(ns_device_release(&ns, a, d1, &err), 0);
	ck_assert_int_eq(err.code, NS_E_NOT_FOUND);
	ck_assert_int_eq(ns_device_assign(&ns, b, d1, false, &err), 0);
	assert_ok();
	ck_assert_int_eq(ns_vm_destroy(&ns, a, &err), 1);
	ck_assert_ptr_null(ns_vm_find(&ns, "a"));
	ck_assert_int_eq(ns_device_find(&ns, d2)->nvms, 1);
	assert_ok();
}
END_TEST

/* An attachment as a VMM passes it: two open descriptors (the sim checks no more), which the
 * namespace takes. */
static const struct backend_attach *
att_on(uint32_t bdf, uint32_t pt_id)
{
	static struct backend_attach a;

	a = (struct backend_attach){.bdf = bdf, .pt_id = pt_id, .dev_id = 1};
	a.iommufd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	a.devfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(a.iommufd, 0);
	ck_assert_int_ge(a.devfd, 0);
	return &a;
}

/* Attached through the backend, the number stays while the kernel will not let it go, and a
 * VM that holds it cannot be destroyed: all or nothing. */
START_TEST(detach_failure_keeps_number)
{
	struct ns_vm *vm = mkvm("a", NS_MODE_TRANSLATED);
	struct ns_mapping *m, *m2;
	struct ns_err err;

	ck_assert_int_eq(ns_device_assign(&ns, vm, 0x10, true, &err), 0);
	ck_assert_int_eq(alloc1(vm, NS_TYPE_SHARED, 0, -1, &m2, &err), 0);
	ck_assert_int_eq(alloc1(vm, NS_TYPE_SHARED, 0, -1, &m, &err), 0);
	ck_assert_int_lt(ns_attach(&ns, vm, m->gpasid, att_on(0x18, 3), &err), 0);
	ck_assert_int_eq(err.code, NS_E_CONFLICT);
	ck_assert_int_eq(ns_attach(&ns, vm, m->gpasid, att_on(0x10, 3), &err), 0);
	ck_assert_ptr_nonnull(ns_attachment(m, 0x10));
	ck_assert_uint_eq(backend_sim_attached(be, 0x10, m->hpasid), 3);
	ck_assert_int_lt(ns_attach(&ns, vm, m->gpasid, att_on(0x10, 4), &err), 0);
	ck_assert_int_eq(err.code, NS_E_CONFLICT);
	ck_assert_int_eq(backend_sim_inject(be, "detach", 5 /* EIO */, 0, 2), 0);
	ck_assert_int_lt(ns_free(&ns, vm, m->gpasid, &err), 0);
	ck_assert_int_eq(err.code, NS_E_KERNEL);
	ck_assert_str_eq(err.kernel_op, "VFIO_DEVICE_DETACH_IOMMUFD_PT");
	ck_assert_int_eq(err.kernel_errno, 5);
	ck_assert_ptr_eq(ns_lookup_gpasid(vm, 2), m);
	/* The VM with it: nothing freed, not even the number before it. */
	ck_assert_int_lt(ns_vm_destroy(&ns, vm, &err), 0);
	ck_assert_ptr_eq(ns_vm_find(&ns, "a"), vm);
	ck_assert_ptr_eq(ns_lookup_gpasid(vm, 1), m2);
	ck_assert_uint_eq(vm->maps.count, 2);
	ck_assert_uint_eq(backend_sim_attached(be, 0x10, m->hpasid), 3);
	assert_ok();
	/* The kernel lets go: detached first, then freed. */
	ck_assert_int_eq(ns_free(&ns, vm, m->gpasid, &err), 0);
	ck_assert_uint_eq(backend_sim_attached(be, 0x10, 4097), UINT32_MAX);
	ck_assert_uint_eq(backend_sim_attachments(be), 0);
	assert_ok();
}
END_TEST

/* A device the backend refuses is named in the protocol's terms, and not assigned. */
START_TEST(device_probe_refusals)
{
	static const struct {
		int err;
		enum ns_errc code;
	} cases[] = {{ENODEV, NS_E_NOT_FOUND}, {EOPNOTSUPP, NS_E_UNSUPPORTED}, {EIO, NS_E_KERNEL}};
	struct ns_vm *vm = mkvm("a", NS_MODE_TRANSLATED);
	struct ns_err err;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ck_assert_int_eq(backend_sim_inject(be, "probe", cases[i].err, 0, 1), 0);
		ck_assert_int_lt(ns_device_assign(&ns, vm, 0x08, true, &err), 0);
		ck_assert_int_eq(err.code, cases[i].code);
		ck_assert_str_eq(err.param, "device");
		ck_assert_ptr_null(ns_vm_device(vm, 0x08));
		if (cases[i].code == NS_E_UNSUPPORTED)
			ck_assert_str_eq(err.missing, "PASID capability of the device");
		if (cases[i].code == NS_E_KERNEL) {
			ck_assert_str_eq(err.kernel_op, "device probe");
			ck_assert_int_eq(err.kernel_errno, EIO);
		}
	}
	ck_assert_int_eq(ns_device_assign(&ns, vm, 0x08, true, &err), 0);
	assert_ok();
}
END_TEST

/* The kernel's side of a snapshot: every attachment the namespace has, as the sim has it,
 * and how many the sim has in all (none it does not know of). */
static char *
kernel_of(const struct ns *n)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	fprintf(f, "%lu:", backend_sim_attachments(be));
	for (unsigned i = 0; i < n->nvms; i++)
		for (const struct ns_mapping *m = ns_vm_next(n, n->vms[i], 0); m;
		     m = ns_vm_next(n, n->vms[i], m->gpasid))
			for (unsigned a = 0; a < m->natts; a++)
				fprintf(f, " %u@%x=%u", m->hpasid, m->atts[a]->bdf,
				        backend_sim_attached(be, m->atts[a]->bdf, m->hpasid));
	fclose(f);
	return buf;
}

/* The kernel operations of one change, failed one after the other. */
enum fault_op { F_ATTACH, F_ATTACH_TWO, F_DETACH, F_FREE, F_RELEASE, F_DESTROY };

/* VM a with devices 0x08 (shared) and 0x10; gPASID 1 local on 0x10 attached there, 2 shared
 * attached on both, 3 and 4 shared and not attached, 5 shared attached on 0x08. */
static struct ns_vm *
fault_world(void)
{
	struct ns_vm *vm = mkvm("a", NS_MODE_TRANSLATED);
	struct ns_mapping *m;
	struct ns_err err;

	ck_assert_int_eq(ns_device_assign(&ns, vm, 0x08, true, &err), 0);
	ck_assert_int_eq(ns_device_assign(&ns, vm, 0x10, false, &err), 0);
	ck_assert_int_eq(alloc1(vm, NS_TYPE_LOCAL, 0x10, 1, &m, &err), 0);
	ck_assert_int_eq(ns_attach(&ns, vm, 1, att_on(0x10, 7), &err), 0);
	ck_assert_int_eq(alloc1(vm, NS_TYPE_SHARED, 0, 2, &m, &err), 0);
	ck_assert_int_eq(ns_attach(&ns, vm, 2, att_on(0x08, 7), &err), 0);
	ck_assert_int_eq(ns_attach(&ns, vm, 2, att_on(0x10, 8), &err), 0);
	ck_assert_int_eq(alloc1(vm, NS_TYPE_SHARED, 0, 3, &m, &err), 0);
	ck_assert_int_eq(alloc1(vm, NS_TYPE_SHARED, 0, 4, &m, &err), 0);
	ck_assert_int_eq(alloc1(vm, NS_TYPE_SHARED, 0, 5, &m, &err), 0);
	ck_assert_int_eq(ns_attach(&ns, vm, 5, att_on(0x08, 7), &err), 0);
	return vm;
}

static int
fault_run(enum fault_op op, struct ns_vm *vm, struct ns_err *err)
{
	int r;

	switch (op) {
	case F_ATTACH:
		return ns_attach(&ns, vm, 3, att_on(0x08, 9), err);
	case F_ATTACH_TWO: /* one request, one transaction */
		ck_assert_int_eq(ns_txn_begin(&ns), 0);
		if ((r = ns_attach(&ns, vm, 3, att_on(0x08, 9), err)) < 0 ||
		    (r = ns_attach(&ns, vm, 4, att_on(0x10, 9), err)) < 0) {
			ns_txn_abort(&ns);
			return r;
		}
		return ns_txn_commit(&ns, err);
	case F_DETACH:
		return ns_detach(&ns, vm, 2, 0x08, err);
	case F_FREE:
		return ns_free(&ns, vm, 2, err);
	case F_RELEASE:
		return ns_device_release(&ns, vm, 0x08, err);
	case F_DESTROY:
		return ns_vm_destroy(&ns, vm, err);
	}
	return -EINVAL;
}

/* Every kernel call of every change that programs the kernel fails in turn (the Nth attach or
 * detach it makes): the change is refused with the kernel's error and leaves the namespace
 * and the kernel exactly as they were, undoing what earlier calls of it did; with no failure
 * left to hit, it goes through. */
START_TEST(kernel_failure_at_every_step_changes_nothing)
{
	static const struct {
		enum fault_op op;
		const char *kind;
		unsigned calls;
	} ops[] = {
	    {F_ATTACH, "attach", 1}, {F_ATTACH_TWO, "attach", 2}, {F_DETACH, "detach", 1},
	    {F_FREE, "detach", 2},   {F_RELEASE, "detach", 2},    {F_DESTROY, "detach", 4},
	};

	for (size_t o = 0; o < sizeof(ops) / sizeof(ops[0]); o++) {
		for (unsigned k = 0;; k++) {
			char *before, *kbefore, *after, *kafter;
			unsigned long calls0;
			struct ns_vm *vm;
			struct ns_err err;
			int r;

			teardown();
			setup();
			vm = fault_world();
			before = snapshot_of(&ns);
			kbefore = kernel_of(&ns);
			calls0 = backend_sim_calls(be, ops[o].kind);
			ck_assert_int_eq(backend_sim_inject(be, ops[o].kind, 5 /* EIO */, k, 1), 0);
			r = fault_run(ops[o].op, vm, &err);
			if (k == ops[o].calls) {
				ck_assert_msg(r >= 0, "op %zu with nothing to fail: %s", o,
				              err.message);
				ck_assert_uint_eq(backend_sim_calls(be, ops[o].kind) - calls0,
				                  ops[o].calls);
				assert_ok();
				free(before);
				free(kbefore);
				break;
			}
			ck_assert_msg(r < 0, "op %zu went through with kernel call %u failing", o,
			              k);
			ck_assert_msg(err.code == NS_E_KERNEL && err.kernel_errno == 5,
			              "op %zu, call %u: refused otherwise: %s", o, k, err.message);
			after = snapshot_of(&ns);
			kafter = kernel_of(&ns);
			ck_assert_msg(!strcmp(before, after),
			              "op %zu, call %u: namespace\n%s\nbecame\n%s", o, k, before,
			              after);
			ck_assert_msg(!strcmp(kbefore, kafter),
			              "op %zu, call %u: kernel %s became %s", o, k, kbefore,
			              kafter);
			assert_ok();
			free(before);
			free(kbefore);
			free(after);
			free(kafter);
		}
	}
}
END_TEST

/* An observer hears of a transaction's changes, in order, only once they stand; one that
 * refuses them has them all undone. */
struct heard {
	enum ns_event_kind kinds[64];
	unsigned n;
	bool refuse;
};

static int
heard_check(void *ctx, const struct ns_event *evs, size_t n, struct ns_err *err)
{
	struct heard *h = ctx;

	return h->refuse ? ns_fail(err, NS_E_NOSPACE, NULL, "refused by the test") : 0;
}

static void
heard_apply(void *ctx, const struct ns_event *ev)
{
	struct heard *h = ctx;

	if (h->n < 64)
		h->kinds[h->n++] = ev->kind;
}

START_TEST(transactions)
{
	struct heard h = {0};
	struct ns_vm *vm = mkvm("a", NS_MODE_TRANSLATED);
	struct ns_mapping *m[3];
	struct ns_err err;
	struct ns_alloc_req req = {.type = NS_TYPE_SHARED, .gpasid = -1, .count = 3};
	char *before, *after;

	ck_assert_int_eq(
	    ns_observe(
	        &ns, &(struct ns_observer){.check = heard_check, .apply = heard_apply, .ctx = &h}),
	    0);
	/* Several operations, one transaction: heard only at the commit. */
	ck_assert_int_eq(ns_txn_begin(&ns), 0);
	ck_assert_int_eq(ns_txn_begin(&ns), -EBUSY);
	ck_assert_int_eq(ns_alloc(&ns, vm, &req, m, &err), 0);
	ck_assert_int_eq(ns_device_assign(&ns, vm, 0x10, false, &err), 0);
	ck_assert_uint_eq(h.n, 0);
	ck_assert_int_eq(ns_txn_commit(&ns, &err), 0);
	ck_assert_uint_eq(h.n, 5);
	ck_assert_int_eq(h.kinds[0], NS_EV_MAP_ADDED);
	ck_assert_int_eq(h.kinds[3], NS_EV_CURSOR);
	ck_assert_int_eq(h.kinds[4], NS_EV_DEV_ASSIGNED);
	/* Aborted: every change undone, nothing heard, the next-fit position back too. */
	before = snapshot_of(&ns);
	h.n = 0;
	ck_assert_int_eq(ns_txn_begin(&ns), 0);
	ck_assert_int_eq(ns_alloc(&ns, vm, &req, m, &err), 0);
	ck_assert_int_eq(ns_free(&ns, vm, 1, &err), 0);
	ck_assert_int_eq(ns_device_release(&ns, vm, 0x10, &err), 0);
	ck_assert_int_eq(ns_quota_set(&ns, "/x", 3, &err), 0);
	ns_txn_abort(&ns);
	after = snapshot_of(&ns);
	ck_assert_str_eq(after, before);
	free(after);
	ck_assert_uint_eq(h.n, 0);
	assert_ok();
	/* Refused by an observer: the same, and the refusal is the commit's answer. */
	h.refuse = true;
	ck_assert_int_lt(ns_vm_destroy(&ns, vm, &err), 0);
	ck_assert_int_eq(err.code, NS_E_NOSPACE);
	ck_assert_ptr_eq(ns_vm_find(&ns, "a"), vm);
	after = snapshot_of(&ns);
	ck_assert_str_eq(after, before);
	free(after);
	ck_assert_uint_eq(h.n, 0);
	free(before);
	assert_ok();
	ns_unobserve(&ns, &h);
}
END_TEST

/* ---- randomized model check ---- */

#define R_VMS  4
#define R_DEVS 5

struct model_map {
	bool used;
	uint32_t h;
	enum ns_type type;
	int dev;
};

struct model {
	bool vm_live[R_VMS];
	enum ns_mode mode[R_VMS];
	struct model_map g[R_VMS][64]; /* gpasid < 64 (local range 1-63) */
	int dev_owner[R_DEVS];         /* -1 free, vm index, or -2 shared */
	bool dev_held[R_DEVS][R_VMS];
	bool shared_used[512];
	uint32_t shared_cursor; /* next candidate hPASID */
};

static const uint32_t dev_bdf[R_DEVS] = {0x08, 0x10, 0x100, 0x10000, 0xffffff};

static char *
snapshot(void)
{
	return snapshot_of(&ns);
}

/* Records in memory, as the journal would keep them. */
struct reclog {
	uint8_t *buf;
	size_t len, cap;
	unsigned count;
};

static void reclog_add(void *ctx, const void *rec, size_t len);

/* The journal's way of hearing of changes: one record an event. */
static void
reclog_event(void *ctx, const struct ns_event *ev)
{
	uint8_t rec[REC_BUF_MAX];
	size_t len = rec_encode_event(rec, ev);

	if (len)
		reclog_add(ctx, rec, len);
}

static void
reclog_add(void *ctx, const void *rec, size_t len)
{
	struct reclog *l = ctx;

	if (l->len + len + 4 > l->cap) {
		l->cap = (l->cap + len + 4) * 2;
		l->buf = realloc(l->buf, l->cap);
	}
	memcpy(l->buf + l->len, &len, 4);
	memcpy(l->buf + l->len + 4, rec, len);
	l->len += len + 4;
	l->count++;
}

static int
reclog_add_int(void *ctx, const void *rec, size_t len)
{
	reclog_add(ctx, rec, len);
	return 0;
}

/* Replays a log into a fresh namespace with the same ranges and compares it with ns. */
static void
replay_matches(const struct reclog *l)
{
	struct ns fresh;
	char why[256], *a, *b;

	ck_assert_int_eq(ns_init(&fresh, &ns.cfg, be), 0);
	fresh.replaying = true;
	for (size_t off = 0; off < l->len;) {
		uint32_t len;

		memcpy(&len, l->buf + off, 4);
		if (rec_apply(&fresh, l->buf + off + 4, len, why, sizeof(why)) < 0)
			ck_abort_msg("replay failed: %s", why);
		off += 4 + len;
	}
	fresh.replaying = false;
	if (ns_check(&fresh, why, sizeof(why)) < 0)
		ck_abort_msg("replayed state broken: %s", why);
	a = snapshot_of(&ns);
	b = snapshot_of(&fresh);
	ck_assert_str_eq(a, b);
	free(a);
	free(b);
	ns_destroy(&fresh);
}

static char *
snapshot_of(const struct ns *n)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	fprintf(f, "cur %u\n", n->shared_cursor);
	for (unsigned i = 0; i < n->nvms; i++) {
		const struct ns_vm *vm = n->vms[i];
		size_t cnt = 0;

		fprintf(f, "vm %s %s %d %d devs", vm->name, vm->uuid, vm->mode, (int)vm->owner.pid);
		/* device order within a VM is not part of the state */
		for (uint32_t d = 0; d < 5; d++) {
			static const uint32_t bdfs[5] = {0x08, 0x10, 0x100, 0x10000, 0xffffff};
			const struct ns_vm_dev *vd = ns_vm_device(vm, bdfs[d]);

			if (vd)
				fprintf(f, " %x/%d/%u", bdfs[d], vd->shared, vd->dev->local_cursor);
		}
		/* The in-order walk of listings visits every mapping once, in order. */
		for (const struct ns_mapping *m = ns_vm_next(n, vm, 0), *prev = NULL; m;
		     prev = m, m = ns_vm_next(n, vm, m->gpasid), cnt++) {
			REQUIRE(!prev || prev->gpasid < m->gpasid);
			REQUIRE(ns_lookup_gpasid(vm, m->gpasid) == m);
			fprintf(f, " %u:%u:%d%s%s", m->gpasid, m->hpasid, m->type, m->wq ? "/" : "",
			        m->wq ? m->wq->ref : "");
			for (unsigned a = 0; a < m->natts; a++)
				fprintf(f, "@%x/%u/%u%s", m->atts[a]->bdf, m->atts[a]->pt_id,
				        m->atts[a]->dev_id, m->atts[a]->iommufd < 0 ? "/lost" : "");
		}
		REQUIRE(cnt == vm->maps.count);
		/* Idle entries are not state: only the counts of WQs in use. */
		for (unsigned k = 0; k < vm->nwqs; k++)
			if (vm->wqs[k].nmaps)
				fprintf(f, " wq %s=%u", vm->wqs[k].wq->ref, vm->wqs[k].nmaps);
		fputc('\n', f);
	}
	fclose(f);
	return buf;
}

static void
model_check(const struct model *mo)
{
	for (int v = 0; v < R_VMS; v++) {
		char name[8];
		struct ns_vm *vm;

		snprintf(name, sizeof(name), "vm%d", v);
		vm = ns_vm_find(&ns, name);
		REQUIRE((vm != NULL) == (mo->vm_live[v]));
		if (!vm)
			continue;
		size_t count = 0;
		for (uint32_t g = 0; g < 512; g++) {
			struct ns_mapping *m = ns_lookup_gpasid(vm, g);
			const struct model_map *e = g < 64 ? &mo->g[v][g] : NULL;

			if (mo->mode[v] == NS_MODE_IDENTITY && g >= 64) {
				/* identity shared mappings: tracked by hpasid */
				REQUIRE((m != NULL) == (mo->shared_used[g] && m && m->vm == vm));
				count += m != NULL;
				continue;
			}
			if (!e) {
				REQUIRE((m) == NULL);
				continue;
			}
			REQUIRE((m != NULL) == (e->used));
			if (m) {
				REQUIRE((m->hpasid) == (e->h));
				REQUIRE((m->type) == (e->type));
				count++;
			}
		}
		REQUIRE((count) == (vm->maps.count));
	}
}

/* Random changes whose outcome does not matter: they are to be undone. */
static void
random_ops(struct ns_vm *vm, int d, int n)
{
	struct ns_mapping *out[8];
	struct ns_err err;

	while (n-- > 0) {
		struct ns_alloc_req req = {.type = random() % 3 ? NS_TYPE_SHARED : NS_TYPE_LOCAL,
		                           .bdf = dev_bdf[d],
		                           .gpasid = random() % 3 ? -1 : (int64_t)(random() % 80),
		                           .count = 1 + (unsigned)(random() % 5)};

		switch (random() % 4) {
		case 0:
			ns_device_assign(&ns, vm, dev_bdf[(d + n) % R_DEVS], random() % 2, &err);
			break;
		case 1:
			ns_device_release(&ns, vm, dev_bdf[(d + n) % R_DEVS], &err);
			break;
		case 2:
			ns_alloc(&ns, vm, &req, out, &err);
			break;
		default:
			if (vm->maps.count)
				ns_free(&ns, vm, ns_vm_next(&ns, vm, 0)->gpasid, &err);
			break;
		}
	}
}

START_TEST(random_model)
{
	struct model mo;
	struct ns_err err;
	struct ns_mapping *out[8];
	unsigned ok_ops = 0, refused = 0, aborted = 0;

	struct reclog log = {0};

	teardown();
	/* Small ranges so that exhaustion, wrap-around and conflicts happen often. */
	setup_ranges(1, 63, 64, 200, 9);
	ck_assert_int_eq(ns_observe(&ns, &(struct ns_observer){.apply = reclog_event, .ctx = &log}),
	                 0);
	memset(&mo, 0, sizeof(mo));
	for (int d = 0; d < R_DEVS; d++)
		mo.dev_owner[d] = -1;
	mo.shared_cursor = 64;
	srandom(12345 + (unsigned)_i);
	for (int step = 0; step < 6000; step++) {
		int v = (int)(random() % R_VMS), d = (int)(random() % R_DEVS);
		char name[8], *before = snapshot();
		struct ns_vm *vm;
		int op = (int)(random() % 10), r = 0;

		snprintf(name, sizeof(name), "vm%d", v);
		vm = ns_vm_find(&ns, name);
		if (!vm) {
			mo.mode[v] = random() % 4 == 0 ? NS_MODE_IDENTITY : NS_MODE_TRANSLATED;
			vm = mkvm(name, mo.mode[v]);
			mo.vm_live[v] = true;
			free(before);
			continue;
		}
		if (op == 9 && random() % 3 == 0) {
			/* A transaction of random operations, aborted: undone to the byte. */
			ck_assert_int_eq(ns_txn_begin(&ns), 0);
			random_ops(vm, d, 1 + (int)(random() % 4));
			ns_txn_abort(&ns);
			{
				char *after = snapshot();

				REQUIRE(strcmp(before, after) == 0);
				free(after);
			}
			free(before);
			aborted++;
			continue;
		}
		if (op == 0 && random() % 8 == 0) {
			ck_assert_int_ge(ns_vm_destroy(&ns, vm, &err), 0);
			mo.vm_live[v] = false;
			for (int g = 0; g < 64; g++)
				if (mo.g[v][g].used && mo.g[v][g].type == NS_TYPE_SHARED)
					mo.shared_used[mo.g[v][g].h] = false;
			memset(mo.g[v], 0, sizeof(mo.g[v]));
			for (int k = 0; k < R_DEVS; k++) {
				if (mo.dev_held[k][v]) {
					mo.dev_held[k][v] = false;
					bool any = false;
					for (int w = 0; w < R_VMS; w++)
						any |= mo.dev_held[k][w];
					if (!any)
						mo.dev_owner[k] = -1;
				}
			}
			/* identity-mode shared numbers are not in mo.g: recompute from ns */
			memset(mo.shared_used, 0, sizeof(mo.shared_used));
			for (unsigned i = 0; i < ns.nvms; i++)
				for (const struct ns_mapping *m = ns_vm_next(&ns, ns.vms[i], 0); m;
				     m = ns_vm_next(&ns, ns.vms[i], m->gpasid))
					if (m->type == NS_TYPE_SHARED)
						mo.shared_used[m->hpasid] = true;
			free(before);
			ok_ops++;
			assert_ok();
			continue;
		}
		switch (op) {
		case 0:
		case 1: { /* assign */
			bool shared = random() % 2;
			bool expect = mo.dev_held[d][v] ? (mo.dev_owner[d] == -2) == shared
			                                : (mo.dev_owner[d] == -1 ||
			                                   (mo.dev_owner[d] == -2 && shared));

			r = ns_device_assign(&ns, vm, dev_bdf[d], shared, &err);
			REQUIRE((r == 0) == (expect));
			if (r == 0) {
				mo.dev_held[d][v] = true;
				mo.dev_owner[d] = shared ? -2 : v;
			}
			break;
		}
		case 2: { /* release */
			bool has_local = false;

			for (int g = 0; g < 64; g++)
				has_local |= mo.g[v][g].used && mo.g[v][g].type == NS_TYPE_LOCAL &&
				             mo.g[v][g].dev == d;
			r = ns_device_release(&ns, vm, dev_bdf[d], &err);
			REQUIRE((r == 0) == (mo.dev_held[d][v] && !has_local));
			if (r == 0) {
				mo.dev_held[d][v] = false;
				bool any = false;
				for (int w = 0; w < R_VMS; w++)
					any |= mo.dev_held[d][w];
				if (!any)
					mo.dev_owner[d] = -1;
			}
			break;
		}
		case 3:
		case 4:
		case 5:
		case 6: { /* alloc */
			struct ns_alloc_req req = {
			    .type = random() % 3 ? NS_TYPE_SHARED : NS_TYPE_LOCAL,
			    .bdf = dev_bdf[d],
			    .gpasid = random() % 3 ? -1 : (int64_t)(random() % 80),
			    .count = 1 + (unsigned)(random() % 5)};
			uint32_t cursor = mo.shared_cursor;

			r = ns_alloc(&ns, vm, &req, out, &err);
			if (r < 0)
				break;
			for (unsigned k = 0; k < req.count; k++) {
				struct ns_mapping *m = out[k];

				REQUIRE((m->type) == (req.type));
				if (req.type == NS_TYPE_SHARED) {
					REQUIRE(!mo.shared_used[m->hpasid]);
					if (!(mo.mode[v] == NS_MODE_IDENTITY && req.gpasid >= 0)) {
						/* next-fit: the first free number from the cursor
						 */
						uint32_t want = cursor;

						while (mo.shared_used[want])
							want = want == 200 ? 64 : want + 1;
						REQUIRE((m->hpasid) == (want));
						cursor = want == 200 ? 64 : want + 1;
						mo.shared_cursor = cursor;
					}
					mo.shared_used[m->hpasid] = true;
				} else {
					REQUIRE(mo.dev_owner[d] == v);
					REQUIRE((m->gpasid) == (m->hpasid));
				}
				if (m->gpasid < 64) {
					REQUIRE(!mo.g[v][m->gpasid].used);
					mo.g[v][m->gpasid] = (struct model_map){.used = true,
					                                        .h = m->hpasid,
					                                        .type = m->type,
					                                        .dev = d};
				} else {
					REQUIRE((mo.mode[v]) == (NS_MODE_IDENTITY));
				}
			}
			break;
		}
		default: { /* free */
			uint32_t g = (uint32_t)(random() % 80);
			struct ns_mapping *m = ns_lookup_gpasid(vm, g);

			if (!m && mo.mode[v] == NS_MODE_IDENTITY && vm->maps.count &&
			    random() % 2) {
				size_t it = 0;
				void *any;

				u32map_next(&vm->maps, &it, NULL, &any);
				g = ((struct ns_mapping *)any)->gpasid;
				m = any;
			}
			r = ns_free(&ns, vm, g, &err);
			REQUIRE((r == 0) == (m != NULL));
			if (r == 0) {
				if (g < 64) {
					if (mo.g[v][g].type == NS_TYPE_SHARED)
						mo.shared_used[mo.g[v][g].h] = false;
					mo.g[v][g].used = false;
				} else {
					mo.shared_used[g] = false;
				}
			}
			break;
		}
		}
		if (r < 0) {
			/* Refused: nothing changed, to the byte. */
			char *after = snapshot();

			REQUIRE(strcmp(before, after) == 0);
			free(after);
			refused++;
		} else {
			ok_ops++;
		}
		free(before);
		assert_ok();
		model_check(&mo);
	}
	/* The journal's records rebuild exactly this state, and so does a snapshot. */
	replay_matches(&log);
	{
		struct reclog snap = {0};

		ck_assert_int_eq(rec_snapshot(&ns, reclog_add_int, &snap), 0);
		replay_matches(&snap);
		ck_assert_uint_lt(snap.count, log.count);
		free(snap.buf);
	}
	free(log.buf);
	/* The run must have exercised both outcomes a lot. */
	ck_assert_uint_gt(ok_ops, 1000);
	ck_assert_uint_gt(refused, 300);
	ck_assert_uint_gt(aborted, 50);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("namespace");
	TCase *tc = tcase_create("scenarios"), *rnd = tcase_create("random");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, config_checks);
	tcase_add_test(tc, work_queues_counted);
	tcase_add_test(tc, value_formats);
	tcase_add_test(tc, shared_translated_next_fit);
	tcase_add_test(tc, exhaustion_and_wrap);
	tcase_add_test(tc, identity_mode);
	tcase_add_test(tc, devices_and_local);
	tcase_add_test(tc, detach_failure_keeps_number);
	tcase_add_test(tc, kernel_failure_at_every_step_changes_nothing);
	tcase_add_test(tc, device_probe_refusals);
	tcase_add_test(tc, transactions);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(rnd, setup, teardown);
	tcase_set_timeout(rnd, 300);
	tcase_add_loop_test(rnd, random_model, 0, 4);
	suite_add_tcase(s, rnd);
	return ck_run(s);
}
