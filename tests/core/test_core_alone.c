/* The core linked with nothing but libc (and Check): a namespace with an observer, a
 * transaction, the invariants. If the core needed JSON, the event loop or libsystemd, this
 * program would not link. */
#include <check.h>

#include "ck_main.h"
#include "backend.h"
#include "namespace.h"
#include "quota.h"
#include "quota_acct.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

static int
nop_probe(struct backend *be, uint32_t bdf, bool shared, char *why, size_t len)
{
	return 0;
}

/* Counts what is attached, as a kernel would hold it. */
static unsigned kernel_attached;

static int
nop_attach(struct backend *be, uint32_t pasid, const struct backend_attach *a, struct ns_err *err)
{
	kernel_attached++;
	return 0;
}

static int
nop_detach(struct backend *be, uint32_t pasid, const struct backend_attach *a, struct ns_err *err)
{
	kernel_attached--;
	return 0;
}

static const struct backend_ops nop_ops = {
    .name = "nop", .device_probe = nop_probe, .attach = nop_attach, .detach = nop_detach};

static void
count(void *ctx, const struct ns_event *ev)
{
	++*(unsigned *)ctx;
}

START_TEST(core_alone)
{
	struct backend be = {.ops = &nop_ops, .pasid_bits = 20};
	struct ns_config cfg = {.pasid_bits = 20, .local = {1, 4095}, .shared = {4096, 524287}};
	struct ns_owner o = {.pid = 1, .starttime = 1};
	struct ns_alloc_req req = {.type = NS_TYPE_SHARED, .gpasid = -1, .count = 4};
	struct ns_mapping *m[4];
	struct backend_attach a;
	struct quota *q;
	struct ns_vm *vm;
	struct ns_err err;
	unsigned heard = 0;
	char why[256];
	struct ns ns;

	ck_assert_int_eq(ns_init(&ns, &cfg, &be), 0);
	ck_assert_int_eq(quota_new(&q), 0);
	ck_assert_int_eq(quota_acct_observe(q, &ns), 0);
	ck_assert_int_eq(ns_observe(&ns, &(struct ns_observer){.apply = count, .ctx = &heard}), 0);
	ck_assert_int_eq(quota_set_limit(q, "/", QUOTA_SRC_CONFIG, 3), 0);
	ck_assert_int_eq(ns_vm_create(&ns, "vm", "00000000-0000-4000-8000-000000000000",
	                              NS_MODE_TRANSLATED, &o, "/", -1, &vm, &err),
	                 0);
	/* Refused by the quota at the commit: undone, nothing heard beyond the VM. */
	ck_assert_int_lt(ns_alloc(&ns, vm, &req, m, &err), 0);
	ck_assert_int_eq(err.code, NS_E_QUOTA);
	ck_assert_uint_eq(vm->maps.count, 0);
	ck_assert_uint_eq(heard, 1);
	req.count = 3;
	ck_assert_int_eq(ns_alloc(&ns, vm, &req, m, &err), 0);
	ck_assert_uint_eq(heard, 5);
	/* Attached, then freed: detached first. */
	ck_assert_int_eq(ns_device_assign(&ns, vm, 0x10, true, &err), 0);
	a = (struct backend_attach){.bdf = 0x10, .pt_id = 7};
	a.iommufd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	a.devfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	ck_assert_int_eq(ns_attach(&ns, vm, m[0]->gpasid, &a, &err), 0);
	ck_assert_uint_eq(kernel_attached, 1);
	ck_assert_uint_eq(ns_attached(&ns), 1);
	ck_assert_int_eq(ns_free(&ns, vm, m[0]->gpasid, &err), 0);
	ck_assert_uint_eq(kernel_attached, 0);
	ck_assert_uint_eq(ns_attached(&ns), 0);
	ck_assert_uint_eq(heard, 9);
	ck_assert_int_eq(ns_check(&ns, why, sizeof(why)), 0);
	ck_assert_int_eq(quota_check(q, why, sizeof(why)), 0);
	ns_destroy(&ns);
	quota_free(q);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("core");
	TCase *tc = tcase_create("alone");

	tcase_add_test(tc, core_alone);
	suite_add_tcase(s, tc);
	return ck_run(s);
}
