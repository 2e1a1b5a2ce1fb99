/* ns_attach() takes the VMM's descriptors whatever becomes of the attach: kept with the
 * attachment when it stands, closed exactly once when it does not, whether the namespace,
 * the kernel (the sim's injected fault) or an observer at the commit refused it. The
 * descriptors are pipes' write ends here, so that their read ends tell when the namespace
 * closed them. */
#include <check.h>

#include "ck_main.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include "backends.h"
#include "namespace.h"

#define BDF 0x10

static struct ns ns;
static struct backend *be;
static const struct ns_owner owner = {.pid = 1, .starttime = 1, .uid = 0};
static struct ns_vm *vm;
static struct ns_mapping *map;
static int rd[2] = {-1, -1}; /* read ends of the pipes whose write ends are passed */

static void
setup(void)
{
	struct ns_config cfg = {.pasid_bits = 20, .local = {1, 4095}, .shared = {4096, 524287}};
	struct ns_alloc_req req = {.type = NS_TYPE_SHARED, .gpasid = -1, .count = 1};
	struct ns_err err;
	char why[160];

	ck_assert_int_eq(backend_open("sim", &be, why, sizeof(why)), 0);
	ck_assert_int_eq(ns_init(&ns, &cfg, be), 0);
	ck_assert_int_eq(ns_vm_create(&ns, "a", "00000000-0000-4000-8000-000000000000",
	                              NS_MODE_TRANSLATED, &owner, "/", -1, &vm, &err),
	                 0);
	ck_assert_int_eq(ns_device_assign(&ns, vm, BDF, true, &err), 0);
	ck_assert_int_eq(ns_alloc(&ns, vm, &req, &map, &err), 0);
}

static void
teardown(void)
{
	for (int i = 0; i < 2; i++) {
		if (rd[i] >= 0)
			close(rd[i]);
		rd[i] = -1;
	}
	ns_destroy(&ns);
	backend_close(be);
}

/* An attachment whose descriptors are the write ends of two new pipes. */
static struct backend_attach
piped_attach(void)
{
	struct backend_attach a = {.bdf = BDF, .pt_id = 3, .dev_id = 1};
	int p[2], q[2];

	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(q, O_CLOEXEC), 0);
	rd[0] = p[0];
	rd[1] = q[0];
	a.iommufd = p[1];
	a.devfd = q[1];
	return a;
}

/* Whether every copy of the write end of rd's pipe is closed. */
static bool
closed(int rd_end)
{
	struct pollfd p = {.fd = rd_end, .events = POLLIN};
	char ch;

	return poll(&p, 1, 0) == 1 && read(rd_end, &ch, 1) == 0;
}

static void
assert_not_attached(void)
{
	ck_assert_ptr_null(ns_attachment(map, BDF));
	ck_assert_uint_eq(ns_attached(&ns), 0);
	ck_assert_uint_eq(backend_sim_attachments(be), 0);
	ck_assert(closed(rd[0]));
	ck_assert(closed(rd[1]));
}

START_TEST(attached_keeps_detached_closes)
{
	struct backend_attach a = piped_attach();
	struct ns_err err;

	ck_assert_int_eq(ns_attach(&ns, vm, map->gpasid, &a, &err), 0);
	ck_assert_ptr_nonnull(ns_attachment(map, BDF));
	ck_assert(!closed(rd[0]));
	ck_assert(!closed(rd[1]));
	ck_assert_int_eq(ns_detach(&ns, vm, map->gpasid, BDF, &err), 0);
	assert_not_attached();
}
END_TEST

START_TEST(namespace_refusal_closes)
{
	struct backend_attach a = piped_attach();
	struct ns_err err;

	a.bdf = BDF + 8; /* not assigned to the VM */
	ck_assert_int_lt(ns_attach(&ns, vm, map->gpasid, &a, &err), 0);
	ck_assert_int_eq(err.code, NS_E_CONFLICT);
	assert_not_attached();
}
END_TEST

/* The kernel refuses the attach: nothing is attached, and the descriptors that would have
 * been kept with the attachment are closed (they leaked, two per refusal). */
START_TEST(kernel_refusal_closes)
{
	struct backend_attach a = piped_attach();
	struct ns_err err;

	ck_assert_int_eq(backend_sim_inject(be, "attach", EIO, 0, 1), 0);
	ck_assert_int_lt(ns_attach(&ns, vm, map->gpasid, &a, &err), 0);
	ck_assert_int_eq(err.code, NS_E_KERNEL);
	ck_assert_int_eq(err.kernel_errno, EIO);
	assert_not_attached();
}
END_TEST

static int
refuse(void *ctx, const struct ns_event *evs, size_t n, struct ns_err *err)
{
	(void)ctx;
	(void)evs;
	(void)n;
	return ns_fail(err, NS_E_NOMEM, NULL, "refused by the test's observer");
}

/* An attach outside any transaction commits on its own; an observer refuses the commit: the
 * undo detaches and frees the attachment, descriptors and all, and ns_attach() must not free
 * it again (it did: a double free). */
START_TEST(commit_refusal_frees_once)
{
	struct backend_attach a = piped_attach();
	struct ns_err err;

	ck_assert_int_eq(ns_observe(&ns, &(struct ns_observer){.check = refuse, .ctx = &ns}), 0);
	ck_assert_int_lt(ns_attach(&ns, vm, map->gpasid, &a, &err), 0);
	ck_assert_int_eq(err.code, NS_E_NOMEM);
	assert_not_attached();
	ns_unobserve(&ns, &ns);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("ns_attach");
	TCase *tc = tcase_create("ns_attach");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, attached_keeps_detached_closes);
	tcase_add_test(tc, namespace_refusal_closes);
	tcase_add_test(tc, kernel_refusal_closes);
	tcase_add_test(tc, commit_refusal_frees_once);
	suite_add_tcase(s, tc);
	return ck_run(s);
}
