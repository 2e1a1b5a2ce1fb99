/* Requester ID attachments (ns_device_attach, ns_device_detach) against the sim backend: the
 * device must be the VM's alone; an attach of an attached device replaces it; the namespace
 * takes the VMM's descriptors whatever becomes of the attach (kept while attached, closed
 * exactly once otherwise); every refusal (namespace, kernel, observer at the commit) leaves
 * the namespace and the sim as they were; and teardown (release, unregister, owner exit)
 * detaches a device's PASIDs, then its RID, then frees numbers. Descriptors are pipes' write
 * ends, so that the read ends tell when the namespace closed them. */
#include <check.h>

#include "ck_main.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "backends.h"
#include "namespace.h"

#define DEV   0x0400 /* 0000:04:00.0, the VM's own */
#define SHDEV 0x0500 /* shared */
#define OTHER 0x0600 /* the other VM's */
#define NONE  0x0700 /* nobody's */

static struct ns ns;
static struct backend *be;
static const struct ns_owner owner = {.pid = 1, .starttime = 1, .uid = 0};
static struct ns_vm *vm, *vm2;
static struct ns_mapping *map; /* a shared mapping of vm */
static int rd[4][2];           /* read ends of the pipes passed, per attach made */
static unsigned nrd;

/* Every event, in order, as observers hear them. */
static enum ns_event_kind evs[64];
static unsigned nevs;

static void
hear(void *ctx, const struct ns_event *ev)
{
	(void)ctx;
	if (nevs < 64)
		evs[nevs++] = ev->kind;
}

static void
setup(void)
{
	struct ns_config cfg = {.pasid_bits = 20, .local = {1, 4095}, .shared = {4096, 524287}};
	struct ns_alloc_req req = {.type = NS_TYPE_SHARED, .gpasid = -1, .count = 1};
	struct ns_err err;
	char why[160];

	memset(rd, -1, sizeof(rd));
	nrd = nevs = 0;
	ck_assert_int_eq(backend_open("sim", &be, why, sizeof(why)), 0);
	ck_assert_int_eq(ns_init(&ns, &cfg, be), 0);
	ck_assert_int_eq(ns_vm_create(&ns, "a", "00000000-0000-4000-8000-000000000000",
	                              NS_MODE_TRANSLATED, &owner, "/", -1, &vm, &err),
	                 0);
	ck_assert_int_eq(ns_vm_create(&ns, "b", "00000000-0000-4000-8000-000000000001",
	                              NS_MODE_TRANSLATED, &owner, "/", -1, &vm2, &err),
	                 0);
	ck_assert_int_eq(ns_device_assign(&ns, vm, DEV, false, &err), 0);
	ck_assert_int_eq(ns_device_assign(&ns, vm, SHDEV, true, &err), 0);
	ck_assert_int_eq(ns_device_assign(&ns, vm2, OTHER, false, &err), 0);
	ck_assert_int_eq(ns_alloc(&ns, vm, &req, &map, &err), 0);
	ck_assert_int_eq(ns_observe(&ns, &(struct ns_observer){.apply = hear}), 0);
}

static void
teardown(void)
{
	for (unsigned i = 0; i < 4; i++)
		for (int k = 0; k < 2; k++)
			if (rd[i][k] >= 0)
				close(rd[i][k]);
	ns_destroy(&ns);
	backend_close(be);
}

/* An attachment of bdf to pt_id whose descriptors are the write ends of two new pipes; their
 * read ends are rd[n] for the n-th made. */
static struct backend_attach
piped(uint32_t bdf, uint32_t pt_id)
{
	struct backend_attach a = {.bdf = bdf, .pt_id = pt_id, .dev_id = 1};
	int p[2], q[2];

	ck_assert_uint_lt(nrd, 4);
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(q, O_CLOEXEC), 0);
	rd[nrd][0] = p[0];
	rd[nrd][1] = q[0];
	nrd++;
	a.iommufd = p[1];
	a.devfd = q[1];
	return a;
}

/* Whether both descriptors of the n-th attach made are closed in this process. */
static bool
closed(unsigned n)
{
	for (int k = 0; k < 2; k++) {
		struct pollfd p = {.fd = rd[n][k], .events = POLLIN};
		char ch;

		if (!(poll(&p, 1, 0) == 1 && read(rd[n][k], &ch, 1) == 0))
			return false;
	}
	return true;
}

static void
assert_consistent(void)
{
	char why[256];

	ck_assert_msg(ns_check(&ns, why, sizeof(why)) == 0, "%s", why);
}

/* Nothing of a RID attachment anywhere: namespace, sim, descriptors of every attach made. */
static void
assert_none(void)
{
	ck_assert_ptr_null(ns_device_find(&ns, DEV)->rid);
	ck_assert_uint_eq(ns_rid_attached(&ns), 0);
	ck_assert_uint_eq(backend_sim_rid(be, DEV), UINT32_MAX);
	for (unsigned i = 0; i < nrd; i++)
		ck_assert_msg(closed(i), "the descriptors of attach %u are open", i);
	assert_consistent();
}

START_TEST(attach_detach)
{
	struct backend_attach a = piped(DEV, 7);
	struct ns_err err;

	ck_assert_int_eq(ns_device_attach(&ns, vm, &a, &err), 0);
	ck_assert_ptr_nonnull(ns_device_find(&ns, DEV)->rid);
	ck_assert_uint_eq(ns_device_find(&ns, DEV)->rid->pt_id, 7);
	ck_assert_uint_eq(ns_rid_attached(&ns), 1);
	ck_assert_uint_eq(backend_sim_rid(be, DEV), 7);
	ck_assert(!closed(0));
	assert_consistent();
	ck_assert_uint_eq(nevs, 1);
	ck_assert_int_eq(evs[0], NS_EV_DEV_ATTACHED);

	ck_assert_int_eq(ns_device_detach(&ns, vm, DEV, &err), 0);
	assert_none();
	ck_assert_int_eq(evs[1], NS_EV_DEV_DETACHED);
	/* Not attached any more: 1003. */
	ck_assert_int_lt(ns_device_detach(&ns, vm, DEV, &err), 0);
	ck_assert_int_eq(err.code, NS_E_NOT_FOUND);
	ck_assert_uint_eq(nevs, 2);
}
END_TEST

/* Not the VM's alone: nobody's (1003), another VM's or shared (1004). Refused before the
 * kernel is asked, descriptors closed, nothing heard. */
START_TEST(namespace_refusals)
{
	static const struct {
		uint32_t bdf;
		enum ns_errc code;
	} bad[] = {{NONE, NS_E_NOT_FOUND}, {OTHER, NS_E_CONFLICT}, {SHDEV, NS_E_CONFLICT}};
	struct ns_err err;

	for (unsigned i = 0; i < 3; i++) {
		struct backend_attach a = piped(bad[i].bdf, 7);

		ck_assert_int_lt(ns_device_attach(&ns, vm, &a, &err), 0);
		ck_assert_int_eq(err.code, bad[i].code);
		ck_assert_str_eq(err.param, "device");
		ck_assert(closed(i));
	}
	ck_assert_uint_eq(backend_sim_calls(be, "rid_attach"), 0);
	ck_assert_int_lt(ns_device_detach(&ns, vm, NONE, &err), 0);
	ck_assert_int_eq(err.code, NS_E_NOT_FOUND);
	ck_assert_int_lt(ns_device_detach(&ns, vm, OTHER, &err), 0);
	ck_assert_int_eq(err.code, NS_E_NOT_FOUND);
	ck_assert_uint_eq(nevs, 0);
	assert_none();
}
END_TEST

/* The kernel refuses the attach, or the detach: 1006 with the ioctl and errno, nothing
 * changed. */
START_TEST(kernel_refusals)
{
	struct backend_attach a = piped(DEV, 7), b;
	struct ns_err err;

	ck_assert_int_eq(backend_sim_inject(be, "rid_attach", EIO, 0, 1), 0);
	ck_assert_int_lt(ns_device_attach(&ns, vm, &a, &err), 0);
	ck_assert_int_eq(err.code, NS_E_KERNEL);
	ck_assert_int_eq(err.kernel_errno, EIO);
	ck_assert_str_eq(err.kernel_op, "VFIO_DEVICE_ATTACH_IOMMUFD_PT");
	assert_none();

	b = piped(DEV, 8);
	ck_assert_int_eq(ns_device_attach(&ns, vm, &b, &err), 0);
	ck_assert_int_eq(backend_sim_inject(be, "rid_detach", EBUSY, 0, 1), 0);
	ck_assert_int_lt(ns_device_detach(&ns, vm, DEV, &err), 0);
	ck_assert_int_eq(err.code, NS_E_KERNEL);
	ck_assert_str_eq(err.kernel_op, "VFIO_DEVICE_DETACH_IOMMUFD_PT");
	ck_assert_uint_eq(backend_sim_rid(be, DEV), 8);
	ck_assert_uint_eq(ns_device_find(&ns, DEV)->rid->pt_id, 8);
	ck_assert(!closed(1));
	ck_assert_uint_eq(nevs, 1);
	assert_consistent();
}
END_TEST

/* An attach of an attached device replaces it (VFIO replaces): one transaction, the old
 * attachment's end then the new one, the old descriptors closed, no detach call. */
START_TEST(attach_replaces)
{
	struct backend_attach a = piped(DEV, 7), b = piped(DEV, 9);
	struct ns_err err;

	ck_assert_int_eq(ns_device_attach(&ns, vm, &a, &err), 0);
	ck_assert_int_eq(ns_device_attach(&ns, vm, &b, &err), 0);
	ck_assert_uint_eq(ns_device_find(&ns, DEV)->rid->pt_id, 9);
	ck_assert_uint_eq(backend_sim_rid(be, DEV), 9);
	ck_assert_uint_eq(ns_rid_attached(&ns), 1);
	ck_assert_uint_eq(backend_sim_calls(be, "rid_detach"), 0);
	ck_assert(closed(0));
	ck_assert(!closed(1));
	ck_assert_uint_eq(nevs, 3);
	ck_assert_int_eq(evs[1], NS_EV_DEV_DETACHED);
	ck_assert_int_eq(evs[2], NS_EV_DEV_ATTACHED);
	assert_consistent();
}
END_TEST

static int
refuse(void *ctx, const struct ns_event *e, size_t n, struct ns_err *err)
{
	(void)ctx;
	(void)e;
	(void)n;
	return ns_fail(err, NS_E_NOSPACE, NULL, "refused by the test's observer");
}

/* An observer refuses the commit of a replace: the old attachment stands again, in the
 * namespace and in the kernel, and the new descriptors are closed once. */
START_TEST(commit_refusal_of_replace)
{
	struct backend_attach a = piped(DEV, 7), b = piped(DEV, 9);
	struct ns_err err;

	ck_assert_int_eq(ns_device_attach(&ns, vm, &a, &err), 0);
	ck_assert_int_eq(ns_observe(&ns, &(struct ns_observer){.check = refuse}), 0);
	ck_assert_int_lt(ns_device_attach(&ns, vm, &b, &err), 0);
	ck_assert_int_eq(err.code, NS_E_NOSPACE);
	ck_assert_uint_eq(ns_device_find(&ns, DEV)->rid->pt_id, 7);
	ck_assert_uint_eq(backend_sim_rid(be, DEV), 7);
	ck_assert(!closed(0));
	ck_assert(closed(1));
	/* And of a detach: still attached, in both. */
	ck_assert_int_lt(ns_device_detach(&ns, vm, DEV, &err), 0);
	ck_assert_uint_eq(backend_sim_rid(be, DEV), 7);
	ck_assert_ptr_nonnull(ns_device_find(&ns, DEV)->rid);
	ck_assert(!closed(0));
	ck_assert_uint_eq(nevs, 1);
	assert_consistent();
}
END_TEST

/* A backend without RID attach answers 1007 and takes nothing. */
START_TEST(unsupported_backend)
{
	struct backend_ops ops = *be->ops;
	const struct backend_ops *saved = be->ops;
	struct backend_attach a = piped(DEV, 7);
	struct ns_err err;

	ops.rid_attach = NULL;
	ops.rid_detach = NULL;
	be->ops = &ops;
	ck_assert_int_lt(ns_device_attach(&ns, vm, &a, &err), 0);
	be->ops = saved;
	ck_assert_int_eq(err.code, NS_E_UNSUPPORTED);
	ck_assert(err.missing[0]);
	assert_none();
}
END_TEST

/* A PASID attached on the device: device.detach refuses (1004, the PASIDs go first), and
 * changes nothing. */
START_TEST(detach_refused_while_pasids_attached)
{
	struct backend_attach a = piped(DEV, 7), p = piped(DEV, 8);
	struct ns_mapping *lm;
	struct ns_err err;

	ck_assert_int_eq(ns_alloc(&ns, vm,
	                          &(struct ns_alloc_req){
	                              .type = NS_TYPE_LOCAL, .bdf = DEV, .gpasid = -1, .count = 1},
	                          &lm, &err),
	                 0);
	ck_assert_int_eq(ns_device_attach(&ns, vm, &a, &err), 0);
	ck_assert_int_eq(ns_attach(&ns, vm, lm->gpasid, &p, &err), 0);
	nevs = 0;
	ck_assert_int_lt(ns_device_detach(&ns, vm, DEV, &err), 0);
	ck_assert_int_eq(err.code, NS_E_CONFLICT);
	ck_assert_msg(strstr(err.message, "pasid.detach"), "%s", err.message);
	ck_assert_uint_eq(backend_sim_rid(be, DEV), 7);
	ck_assert_uint_eq(backend_sim_calls(be, "rid_detach"), 0);
	ck_assert_uint_eq(nevs, 0);
	ck_assert_int_eq(ns_detach(&ns, vm, lm->gpasid, DEV, &err), 0);
	ck_assert_int_eq(ns_device_detach(&ns, vm, DEV, &err), 0);
	ck_assert(closed(0) && closed(1));
	assert_consistent();
}
END_TEST

/* The sim refuses a RID detach while PASIDs are attached on the device; pasidd's teardown
 * never meets that refusal, as it detaches the PASIDs first: in device.release (PASIDs, then
 * the RID, then the release) and in vm.unregister (every PASID, then every RID, then the
 * numbers freed, then the VM). */
static void
attach_all(struct ns_mapping **lm)
{
	struct backend_attach a = piped(DEV, 7), p = piped(DEV, 8), q = piped(DEV, 9);
	struct ns_err err;

	ck_assert_int_eq(ns_alloc(&ns, vm,
	                          &(struct ns_alloc_req){
	                              .type = NS_TYPE_LOCAL, .bdf = DEV, .gpasid = -1, .count = 1},
	                          lm, &err),
	                 0);
	ck_assert_int_eq(ns_device_attach(&ns, vm, &a, &err), 0);
	ck_assert_int_eq(ns_attach(&ns, vm, (*lm)->gpasid, &p, &err), 0);
	ck_assert_int_eq(ns_attach(&ns, vm, map->gpasid, &q, &err), 0);
	nevs = 0;
}

START_TEST(release_order)
{
	struct ns_mapping *lm;
	struct ns_err err;

	attach_all(&lm);
	ck_assert_int_eq(ns_free(&ns, vm, lm->gpasid, &err), 0);
	nevs = 0;
	ck_assert_int_eq(ns_device_release(&ns, vm, DEV, &err), 0);
	ck_assert_uint_eq(nevs, 3);
	ck_assert_int_eq(evs[0], NS_EV_MAP_DETACHED);
	ck_assert_int_eq(evs[1], NS_EV_DEV_DETACHED);
	ck_assert_int_eq(evs[2], NS_EV_DEV_RELEASED);
	ck_assert_uint_eq(backend_sim_rid(be, DEV), UINT32_MAX);
	ck_assert_uint_eq(backend_sim_attachments(be), 0);
	for (unsigned i = 0; i < nrd; i++)
		ck_assert(closed(i));
	assert_consistent();
}
END_TEST

START_TEST(unregister_order)
{
	struct ns_mapping *lm;
	struct ns_err err;

	attach_all(&lm);
	ck_assert_int_eq(ns_vm_destroy(&ns, vm, &err), 2);
	ck_assert_uint_eq(nevs, 6);
	ck_assert_int_eq(evs[0], NS_EV_MAP_DETACHED);
	ck_assert_int_eq(evs[1], NS_EV_MAP_DETACHED);
	ck_assert_int_eq(evs[2], NS_EV_DEV_DETACHED);
	ck_assert_int_eq(evs[3], NS_EV_MAP_REMOVED);
	ck_assert_int_eq(evs[4], NS_EV_MAP_REMOVED);
	ck_assert_int_eq(evs[5], NS_EV_VM_DESTROYED);
	ck_assert_uint_eq(backend_sim_rid(be, DEV), UINT32_MAX);
	ck_assert_uint_eq(backend_sim_attachments(be), 0);
	for (unsigned i = 0; i < nrd; i++)
		ck_assert(closed(i));
	vm = NULL;
	assert_consistent();
}
END_TEST

/* The kernel refuses the RID detach during an unregister: nothing of the VM goes, the PASIDs
 * detached before it are attached again, and no number was freed. */
START_TEST(unregister_refused_by_kernel)
{
	struct ns_mapping *lm;
	struct ns_err err;

	attach_all(&lm);
	ck_assert_int_eq(backend_sim_inject(be, "rid_detach", EIO, 0, 1), 0);
	ck_assert_int_lt(ns_vm_destroy(&ns, vm, &err), 0);
	ck_assert_int_eq(err.code, NS_E_KERNEL);
	ck_assert_uint_eq(nevs, 0);
	ck_assert_ptr_eq(ns_vm_find(&ns, "a"), vm);
	ck_assert_uint_eq(backend_sim_rid(be, DEV), 7);
	ck_assert_uint_eq(backend_sim_attached(be, DEV, lm->hpasid), 8);
	ck_assert_uint_eq(backend_sim_attached(be, DEV, map->hpasid), 9);
	ck_assert_uint_eq(ns_attached(&ns), 2);
	ck_assert_uint_eq(vm->maps.count, 2);
	for (unsigned i = 0; i < nrd; i++)
		ck_assert(!closed(i));
	assert_consistent();
}
END_TEST

/* Replayed, an attachment has no descriptors: pasidd cannot detach it (1004) until the VMM
 * attaches it again, which replaces it; once the owner is gone it is dropped without a kernel
 * call (the kernel let go with the owner's descriptors). */
START_TEST(lost_descriptors)
{
	const struct backend_attach j = {
	    .bdf = DEV, .pt_id = 7, .dev_id = 1, .iommufd = -1, .devfd = -1};
	struct backend_attach a = piped(DEV, 9);
	struct ns_err err;

	ns.replaying = true;
	ck_assert_int_eq(ns_device_attach(&ns, vm, &j, &err), 0);
	ns.replaying = false;
	ck_assert_int_lt(ns_device_detach(&ns, vm, DEV, &err), 0);
	ck_assert_int_eq(err.code, NS_E_CONFLICT);
	ck_assert_int_lt(ns_device_release(&ns, vm, DEV, &err), 0);
	ck_assert_int_lt(ns_vm_destroy(&ns, vm, &err), 0);
	ck_assert_ptr_nonnull(ns_device_find(&ns, DEV)->rid);
	ck_assert_int_eq(ns_device_attach(&ns, vm, &a, &err), 0);
	ck_assert_uint_eq(ns_device_find(&ns, DEV)->rid->pt_id, 9);
	ck_assert_int_ge(ns_device_find(&ns, DEV)->rid->devfd, 0);

	ns.replaying = true;
	ck_assert_int_eq(ns_device_detach(&ns, vm, DEV, &err), 0);
	ck_assert_int_eq(ns_device_attach(&ns, vm, &j, &err), 0);
	ns.replaying = false;
	vm->gone = true;
	ck_assert_uint_eq(backend_sim_calls(be, "rid_detach"), 0);
	ck_assert_int_eq(ns_vm_destroy(&ns, vm, &err), 1);
	ck_assert_uint_eq(backend_sim_calls(be, "rid_detach"), 0);
	ck_assert_uint_eq(ns_rid_attached(&ns), 0);
	assert_consistent();
}
END_TEST

static Suite *
devattach_suite(void)
{
	Suite *s = suite_create("ns_devattach");
	TCase *tc = tcase_create("devattach");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, attach_detach);
	tcase_add_test(tc, namespace_refusals);
	tcase_add_test(tc, kernel_refusals);
	tcase_add_test(tc, attach_replaces);
	tcase_add_test(tc, commit_refusal_of_replace);
	tcase_add_test(tc, unsupported_backend);
	tcase_add_test(tc, detach_refused_while_pasids_attached);
	tcase_add_test(tc, release_order);
	tcase_add_test(tc, unregister_order);
	tcase_add_test(tc, unregister_refused_by_kernel);
	tcase_add_test(tc, lost_descriptors);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return ck_run(devattach_suite());
}
