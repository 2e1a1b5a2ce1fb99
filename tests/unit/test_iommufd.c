/* The iommufd backend, as far as a host without /dev/iommu lets it run: pointed at a fixture
 * sysfs and /dev (backend_iommufd_open_at), where dev/iommu is a link to /dev/zero and
 * sys/dev/char says that /dev/null is the VFIO device cdev of PCI device 0000:00:03.0.
 * - the descriptors are judged by what they are, not by what the request says: a pipe, a
 *   socket, a regular file, another character device are refused (invalid params naming
 *   `fds`), and so is the cdev of another PCI device than the one named; the right one gets
 *   as far as the kernel (the first ioctl, which /dev/null answers ENOTTY: 1006 naming it);
 * - the start-up probe: a /dev/iommu that does not know IOMMU_VEVENTQ_ALLOC means no PASID
 *   attach: attach_missing names the feature and Linux 6.15, caps lack "attach", and the
 *   namespace answers pasid.attach with 1007 without calling the backend (its state and the
 *   descriptors' fate as for any refusal);
 * - the host's PASID width from VT-d's ecap (smallest PSS + 1 of the units with PASID), or
 *   none (the configured one applies);
 * - device_probe and the PASID capability read from config space.
 * The ioctls themselves run in the kernel guest (tests/kernel). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <check.h>

#include "ck_dir.h"
#include "ck_main.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "backends.h"
#include "iommufd_sysfs.h"
#include "namespace.h"

static char base[64], sys[96], dev[96];
static struct backend *be;
static char why[512];

static const uint32_t BDF3 = 0x18, BDF4 = 0x20, BDF5 = 0x28; /* 0000:00:03.0, 04.0, 05.0 */

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void
sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	ck_assert_msg(system(cmd) == 0, "%s", cmd);
}

/* "MAJ:MIN" of a character device of this host. */
static const char *
rdev_of(const char *path)
{
	static char bufs[4][32];
	static int k;
	char *b = bufs[k++ % 4];
	struct stat st;

	ck_assert_int_eq(stat(path, &st), 0);
	snprintf(b, 32, "%u:%u", major(st.st_rdev), minor(st.st_rdev));
	return b;
}

/* A config space of `size` bytes; with ext, an AER capability at 0x100 and, with pasid_bits
 * > 0, a PASID capability after it at 0x148. */
static void
write_config(const char *pci, size_t size, bool ext, unsigned pasid_bits)
{
	unsigned char cfg[4096] = {0x86, 0x80, 0x34, 0x12};
	char path[256];
	uint32_t aer = 0x0001 | 1u << 16 | (pasid_bits ? 0x148u << 20 : 0);
	uint32_t pasid = 0x001b | 1u << 16;
	FILE *f;

	if (ext) {
		memcpy(cfg + 0x100, &aer, 4);
		if (pasid_bits) {
			memcpy(cfg + 0x148, &pasid, 4);
			cfg[0x14c] = 0x06;
			cfg[0x14d] = (unsigned char)pasid_bits;
		}
	}
	snprintf(path, sizeof(path), "%s/devices/pci0000:00/%s/config", sys, pci);
	f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(cfg, 1, size, f), size);
	ck_assert_int_eq(fclose(f), 0);
}

static void
pci_device(const char *pci)
{
	sh("mkdir -p '%s/devices/pci0000:00/%s' '%s/bus/pci/devices'", sys, pci, sys);
	sh("ln -s ../../../bus/pci '%s/devices/pci0000:00/%s/subsystem'", sys, pci);
	sh("ln -s ../../../devices/pci0000:00/%s '%s/bus/pci/devices/%s'", pci, sys, pci);
}

static void
vt_d_unit(const char *name, unsigned long long ecap)
{
	sh("mkdir -p '%s/class/iommu/%s/intel-iommu'", sys, name);
	sh("echo %llx > '%s/class/iommu/%s/intel-iommu/ecap'", ecap, sys, name);
}

static void
setup(void)
{
	strcpy(base, "/tmp/test_iommufd.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(base));
	snprintf(sys, sizeof(sys), "%s/sys", base);
	snprintf(dev, sizeof(dev), "%s/dev", base);
	sh("mkdir -p '%s' '%s/dev/char' '%s/class/vfio-dev' '%s/class/mem'", dev, sys, sys, sys);
	sh("ln -s /dev/zero '%s/iommu'", dev);
	/* 03.0: PCIe with a 20-bit PASID capability and a VFIO cdev, which is /dev/null. */
	pci_device("0000:00:03.0");
	write_config("0000:00:03.0", 4096, true, 20);
	sh("mkdir -p '%s/devices/pci0000:00/0000:00:03.0/vfio-dev/vfio0'", sys);
	sh("ln -s ../../../../../class/vfio-dev "
	   "'%s/devices/pci0000:00/0000:00:03.0/vfio-dev/vfio0/subsystem'",
	   sys);
	sh("ln -s ../../devices/pci0000:00/0000:00:03.0/vfio-dev/vfio0 '%s/dev/char/%s'", sys,
	   rdev_of("/dev/null"));
	/* 04.0: conventional PCI (256 bytes: no extended capabilities); 05.0: PCIe, no PASID. */
	pci_device("0000:00:04.0");
	write_config("0000:00:04.0", 256, false, 0);
	pci_device("0000:00:05.0");
	write_config("0000:00:05.0", 4096, true, 0);
	/* /dev/full: a memory device, as it is. */
	sh("mkdir -p '%s/devices/virtual/mem/full'", sys);
	sh("ln -s ../../../../class/mem '%s/devices/virtual/mem/full/subsystem'", sys);
	sh("ln -s ../../devices/virtual/mem/full '%s/dev/char/%s'", sys, rdev_of("/dev/full"));
	/* /dev/random: a VFIO cdev, of a platform device. */
	sh("mkdir -p '%s/devices/platform/foo/vfio-dev/vfio1' '%s/bus/platform'", sys, sys);
	sh("ln -s ../../../bus/platform '%s/devices/platform/foo/subsystem'", sys);
	sh("ln -s ../../../../../class/vfio-dev '%s/devices/platform/foo/vfio-dev/vfio1/subsystem'",
	   sys);
	sh("ln -s ../../devices/platform/foo/vfio-dev/vfio1 '%s/dev/char/%s'", sys,
	   rdev_of("/dev/random"));
	be = NULL;
	why[0] = '\0';
}

static void
teardown(void)
{
	backend_close(be);
	be = NULL;
	ck_dir_remove(base);
}

static void
open_fixture(void)
{
	ck_assert_msg(backend_iommufd_open_at(sys, dev, &be, why, sizeof(why)) == 0, "%s", why);
	ck_assert_str_eq(be->ops->name, "iommufd");
}

/* What attach answers for these descriptors (closed afterwards: the backend never takes
 * them, the namespace does). */
static int
attach(int iommufd, int devfd, uint32_t bdf, struct ns_err *err)
{
	struct backend_attach a = {
	    .bdf = bdf, .dev_id = 1, .pt_id = 2, .iommufd = iommufd, .devfd = devfd};
	int r;

	memset(err, 0, sizeof(*err));
	r = be->ops->attach(be, 100, &a, err);
	if (iommufd >= 0)
		close(iommufd);
	if (devfd >= 0)
		close(devfd);
	return r;
}

static int
open_dev(const char *path)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	return fd;
}

static int
a_regular_file(void)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "%s/file", base);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	return fd;
}

static void
assert_invalid_fds(int r, const struct ns_err *err, const char *says)
{
	ck_assert_int_lt(r, 0);
	ck_assert_int_eq(err->code, NS_E_INVALID);
	ck_assert_str_eq(err->param, "fds");
	ck_assert_msg(strstr(err->message, says), "'%s' does not say '%s'", err->message, says);
}

START_TEST(refuses_what_is_not_an_iommufd)
{
	struct ns_err err;
	int p[2], s[2];

	open_fixture();
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s), 0);
	close(p[1]);
	close(s[1]);
	assert_invalid_fds(attach(open_dev("/dev/null"), open_dev("/dev/null"), BDF3, &err), &err,
	                   "first descriptor is not an iommufd");
	assert_invalid_fds(attach(p[0], open_dev("/dev/null"), BDF3, &err), &err,
	                   "first descriptor is not an iommufd");
	assert_invalid_fds(attach(s[0], open_dev("/dev/null"), BDF3, &err), &err,
	                   "first descriptor is not an iommufd");
	assert_invalid_fds(attach(a_regular_file(), open_dev("/dev/null"), BDF3, &err), &err,
	                   "first descriptor is not an iommufd");
	assert_invalid_fds(attach(-1, open_dev("/dev/null"), BDF3, &err), &err,
	                   "first descriptor is not open");
}
END_TEST

START_TEST(refuses_what_is_not_the_named_vfio_cdev)
{
	struct ns_err err;
	int p[2], s[2];

	open_fixture();
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s), 0);
	close(p[1]);
	close(s[1]);
	assert_invalid_fds(attach(open_dev("/dev/zero"), p[0], BDF3, &err), &err, "is a pipe");
	assert_invalid_fds(attach(open_dev("/dev/zero"), s[0], BDF3, &err), &err, "is a socket");
	assert_invalid_fds(attach(open_dev("/dev/zero"), a_regular_file(), BDF3, &err), &err,
	                   "is a regular file");
	assert_invalid_fds(attach(open_dev("/dev/zero"), open_dev("/dev/full"), BDF3, &err), &err,
	                   "(full of class mem), not a VFIO device cdev");
	assert_invalid_fds(attach(open_dev("/dev/zero"), open_dev("/dev/random"), BDF3, &err), &err,
	                   "vfio1 of foo, which is not a PCI device");
	/* /dev/zero has no entry in the fixture's /sys/dev/char. */
	assert_invalid_fds(attach(open_dev("/dev/zero"), open_dev("/dev/zero"), BDF3, &err), &err,
	                   "which sysfs does not know");
	/* The cdev of 03.0 passed for 04.0: the descriptor decides, not the parameter. */
	assert_invalid_fds(attach(open_dev("/dev/zero"), open_dev("/dev/null"), BDF4, &err), &err,
	                   "is the VFIO device cdev of 0000:00:03.0, not of device 0000:00:04.0");
}
END_TEST

/* The right descriptors for the device named pass every check made without the kernel: the
 * first ioctl is on the cdev (is it bound?), and /dev/null does not know it. */
START_TEST(the_named_device_reaches_the_kernel)
{
	struct ns_err err;
	uint32_t bdf = 0;
	int fd;

	open_fixture();
	ck_assert_int_eq(attach(open_dev("/dev/zero"), open_dev("/dev/null"), BDF3, &err), -ENOTTY);
	ck_assert_int_eq(err.code, NS_E_KERNEL);
	ck_assert_str_eq(err.kernel_op, "VFIO_DEVICE_GET_INFO");
	ck_assert_int_eq(err.kernel_errno, ENOTTY);
	/* The resolution on its own. */
	fd = open_dev("/dev/null");
	ck_assert_int_eq(iommufd_sysfs_cdev_bdf(sys, fd, &bdf, why, sizeof(why)), 0);
	ck_assert_uint_eq(bdf, BDF3);
	close(fd);
}
END_TEST

START_TEST(detach_goes_to_the_cdev)
{
	struct backend_attach a = {
	    .bdf = BDF3, .dev_id = 1, .pt_id = 2, .iommufd = -1, .devfd = -1};
	struct ns_err err;

	open_fixture();
	ck_assert_int_eq(be->ops->detach(be, 100, &a, &err), -EBADF);
	ck_assert_int_eq(err.code, NS_E_KERNEL);
	ck_assert_str_eq(err.kernel_op, "VFIO_DEVICE_DETACH_IOMMUFD_PT");
	a.devfd = open_dev("/dev/null");
	ck_assert_int_eq(be->ops->detach(be, 100, &a, &err), -ENOTTY);
	ck_assert_int_eq(err.code, NS_E_KERNEL);
	ck_assert_str_eq(err.kernel_op, "VFIO_DEVICE_DETACH_IOMMUFD_PT");
	ck_assert_int_eq(err.kernel_errno, ENOTTY);
	close(a.devfd);
}
END_TEST

/* /dev/zero does not know IOMMU_VEVENTQ_ALLOC (ENOTTY), as a kernel before 6.15 does not. */
START_TEST(probe_finds_no_pasid_attach)
{
	open_fixture();
	ck_assert_ptr_nonnull(be->attach_missing);
	ck_assert_msg(strstr(be->attach_missing, "IOMMU_HWPT_ALLOC_PASID") &&
	                  strstr(be->attach_missing, "VFIO_DEVICE_ATTACH_PASID") &&
	                  strstr(be->attach_missing, "Linux 6.15 or later"),
	              "%s", be->attach_missing);
	ck_assert_ptr_nonnull(be->caps);
	for (const char *const *c = be->caps; *c; c++)
		ck_assert_str_ne(*c, "attach");
}
END_TEST

/* Found out once: the namespace refuses with the backend's words, before the backend (whose
 * first check would have refused these descriptors otherwise), and changes nothing. */
START_TEST(namespace_refuses_attach_as_unsupported)
{
	struct ns_config cfg = {.pasid_bits = 20, .local = {1, 4095}, .shared = {4096, 524287}};
	struct ns_alloc_req req = {.type = NS_TYPE_LOCAL, .bdf = BDF3, .gpasid = -1, .count = 1};
	struct ns_owner owner = {.pid = getpid(), .uid = getuid()};
	struct backend_attach a = {.bdf = BDF3, .dev_id = 1, .pt_id = 2};
	struct ns_mapping *m;
	struct ns_vm *vm;
	struct ns_err err;
	struct ns ns;
	int p[2];

	open_fixture();
	ck_assert_int_eq(ns_init(&ns, &cfg, be), 0);
	ck_assert_int_eq(ns_vm_create(&ns, "vm1", "00000000-0000-4000-8000-000000000000",
	                              NS_MODE_TRANSLATED, &owner, "/", -1, &vm, &err),
	                 0);
	ck_assert_int_eq(ns_device_assign(&ns, vm, BDF3, false, &err), 0);
	ck_assert_int_eq(ns_alloc(&ns, vm, &req, &m, &err), 0);
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	a.iommufd = p[0];
	a.devfd = p[1];
	ck_assert_int_eq(ns_attach(&ns, vm, m->gpasid, &a, &err), -EOPNOTSUPP);
	ck_assert_int_eq(err.code, NS_E_UNSUPPORTED);
	ck_assert_str_eq(err.missing, be->attach_missing);
	ck_assert_uint_eq(m->natts, 0);
	ck_assert_uint_eq(ns_attached(&ns), 0);
	/* The namespace took the descriptors and closed them. */
	ck_assert_int_lt(fcntl(p[0], F_GETFD), 0);
	ck_assert_int_lt(fcntl(p[1], F_GETFD), 0);
	ns_destroy(&ns);
}
END_TEST

static int
refuse_all(void *ctx, const struct ns_event *evs, size_t n, struct ns_err *err)
{
	(void)ctx;
	(void)evs;
	(void)n;
	return ns_fail(err, NS_E_NOSPACE, NULL, "refused by the test");
}

/* Found in the kernel guest: an attach the backend refused kept pasidd's duplicates of the
 * VMM's descriptors open, so the device cdev stayed bound after its VMM died and no other
 * could bind it. Whatever refuses an attach (the backend's checks, the kernel, a commit), the
 * namespace closes what it took, once. Run on sim, which refuses like the kernel. */
START_TEST(refused_attach_closes_the_descriptors)
{
	struct ns_config cfg = {.pasid_bits = 20, .local = {1, 4095}, .shared = {4096, 524287}};
	struct ns_alloc_req req = {.type = NS_TYPE_LOCAL, .bdf = BDF3, .gpasid = -1, .count = 1};
	struct ns_owner owner = {.pid = getpid(), .uid = getuid()};
	struct ns_observer no = {.check = refuse_all, .ctx = &no};
	struct ns_mapping *m;
	struct ns_vm *vm;
	struct ns_err err;
	struct ns ns;

	ck_assert_int_eq(backend_open("sim", &be, why, sizeof(why)), 0);
	ck_assert_int_eq(ns_init(&ns, &cfg, be), 0);
	ck_assert_int_eq(ns_vm_create(&ns, "vm1", "00000000-0000-4000-8000-000000000000",
	                              NS_MODE_TRANSLATED, &owner, "/", -1, &vm, &err),
	                 0);
	ck_assert_int_eq(ns_device_assign(&ns, vm, BDF3, false, &err), 0);
	ck_assert_int_eq(ns_alloc(&ns, vm, &req, &m, &err), 0);
	for (int step = 0; step < 3; step++) {
		struct backend_attach a = {.bdf = BDF3, .dev_id = 1, .pt_id = 2};
		int p[2];

		ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
		a.iommufd = p[0];
		a.devfd = p[1];
		if (step == 0) /* the backend's own check: a device without PASIDs */
			ck_assert_int_eq(backend_sim_set_width(be, BDF3, 0), 0);
		else if (step == 1) /* the kernel */
			ck_assert_int_eq(backend_sim_inject(be, "attach", EIO, 0, 1), 0);
		else /* the commit, of an attach no request wraps */
			ck_assert_int_eq(ns_observe(&ns, &no), 0);
		ck_assert_int_lt(ns_attach(&ns, vm, m->gpasid, &a, &err), 0);
		ck_assert_int_eq(err.code, step == 0   ? NS_E_UNSUPPORTED
		                           : step == 1 ? NS_E_KERNEL
		                                       : NS_E_NOSPACE);
		ck_assert_uint_eq(m->natts, 0);
		ck_assert_uint_eq(backend_sim_attachments(be), 0);
		ck_assert_msg(fcntl(p[0], F_GETFD) < 0 && fcntl(p[1], F_GETFD) < 0,
		              "step %d: the descriptors the namespace took are still open", step);
		if (step == 0)
			ck_assert_int_eq(backend_sim_set_width(be, BDF3, 20), 0);
	}
	ns_unobserve(&ns, &no);
	ns_destroy(&ns);
}
END_TEST

START_TEST(width_from_the_smallest_vt_d_unit_with_pasid)
{
	char from[512];

	/* No class/iommu: not readable, the configured width applies. */
	ck_assert_int_eq(iommufd_sysfs_iommu_width(sys, from, sizeof(from)), 0);
	open_fixture();
	ck_assert_uint_eq(be->pasid_bits, 20);
	backend_close(be);
	be = NULL;
	/* A unit without ECAP.PASID (bit 40) counts for nothing, whatever its PSS. */
	vt_d_unit("dmar2", 3ULL << 35);
	ck_assert_int_eq(iommufd_sysfs_iommu_width(sys, from, sizeof(from)), 0);
	ck_assert_msg(strstr(from, "none of the 1 VT-d unit(s) supports PASIDs"), "%s", from);
	vt_d_unit("dmar0", 1ULL << 40 | 19ULL << 35 | 0xf00f4aULL);
	ck_assert_int_eq(iommufd_sysfs_iommu_width(sys, from, sizeof(from)), 20);
	vt_d_unit("dmar1", 1ULL << 40 | 15ULL << 35);
	ck_assert_int_eq(iommufd_sysfs_iommu_width(sys, from, sizeof(from)), 16);
	ck_assert_msg(strstr(from, "dmar1") && strstr(from, "PSS 15"), "%s", from);
	/* The fixture's kernel cannot attach PASIDs: the IOMMU's width binds nothing. */
	open_fixture();
	ck_assert_ptr_nonnull(be->attach_missing);
	ck_assert_uint_eq(be->pasid_bits, 20);
}
END_TEST

/* A /dev/iommu that knows IOMMU_VEVENTQ_ALLOC: /dev/userfaultfd answers every ioctl but its
 * own with EINVAL, as a 6.15 iommufd answers that one with size 0. */
START_TEST(probe_finds_pasid_attach)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/iommu", dev);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(symlink("/dev/userfaultfd", path), 0);
	vt_d_unit("dmar0", 1ULL << 40 | 15ULL << 35);
	open_fixture();
	ck_assert_ptr_null(be->attach_missing);
	ck_assert_str_eq(be->caps[0], "attach");
	ck_assert_ptr_null(be->caps[1]);
	/* Where attaching works, the IOMMU's width bounds the namespace. */
	ck_assert_uint_eq(be->pasid_bits, 16);
}
END_TEST

START_TEST(pasid_capability_from_config_space)
{
	ck_assert_int_eq(iommufd_sysfs_pci_pasid_width(sys, BDF3), 20);
	ck_assert_int_eq(iommufd_sysfs_pci_pasid_width(sys, BDF4), 0);
	ck_assert_int_eq(iommufd_sysfs_pci_pasid_width(sys, BDF5), 0);
	ck_assert_int_eq(iommufd_sysfs_pci_pasid_width(sys, 0x30), -ENOENT);
	write_config("0000:00:05.0", 4096, true, 8);
	ck_assert_int_eq(iommufd_sysfs_pci_pasid_width(sys, BDF5), 8);
}
END_TEST

START_TEST(device_probe)
{
	open_fixture();
	ck_assert_int_eq(be->ops->device_probe(be, 0x30, false, why, sizeof(why)), -ENODEV);
	ck_assert_str_eq(why, "there is no PCI device 0000:00:06.0 on this host");
	ck_assert_int_eq(be->ops->device_probe(be, BDF4, false, why, sizeof(why)), 0);
	ck_assert_int_eq(be->ops->device_probe(be, BDF3, true, why, sizeof(why)), 0);
	ck_assert_int_eq(be->ops->device_probe(be, BDF4, true, why, sizeof(why)), -EOPNOTSUPP);
	ck_assert_msg(strstr(why, "0000:00:04.0 has no PASID capability"), "%s", why);
	ck_assert_int_eq(be->ops->device_probe(be, BDF5, true, why, sizeof(why)), -EOPNOTSUPP);
}
END_TEST

START_TEST(no_iommu_node_no_backend)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/iommu", dev);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(backend_iommufd_open_at(sys, dev, &be, why, sizeof(why)), -ENOENT);
	ck_assert_ptr_null(be);
	ck_assert_msg(strstr(why, "cannot open") && strstr(why, "/dev/iommu: No such file"), "%s",
	              why);
	/* Not a character device either. */
	ck_assert_int_eq(symlink("/tmp", path), 0);
	ck_assert_int_lt(backend_iommufd_open_at(sys, dev, &be, why, sizeof(why)), 0);
	ck_assert_ptr_null(be);
}
END_TEST

/* On this host (the case is skipped where /dev/iommu exists): auto is sim, and says why. */
START_TEST(auto_falls_back_to_sim)
{
	ck_assert_int_eq(backend_open("auto", &be, why, sizeof(why)), 0);
	ck_assert_str_eq(be->ops->name, "sim");
	ck_assert_str_eq(be->requested, "auto");
	ck_assert_msg(strstr(be->why, "no /dev/iommu"), "%s", be->why);
	backend_close(be);
	be = NULL;
	ck_assert_int_eq(backend_open("iommufd", &be, why, sizeof(why)), -ENOENT);
	ck_assert_msg(strstr(why, "/dev/iommu"), "%s", why);
	ck_assert_int_eq(backend_open("sim", &be, why, sizeof(why)), 0);
	ck_assert_str_eq(be->requested, "sim");
	ck_assert_str_eq(be->why, "");
}
END_TEST

static const char *
lacking_no_iommu(void)
{
	return access("/dev/iommu", F_OK) == 0 ? "this host has /dev/iommu" : NULL;
}

static const char *
lacking_userfaultfd(void)
{
	int fd = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return "/dev/userfaultfd cannot be opened (Linux 6.1+, root)";
	close(fd);
	return NULL;
}

int
main(void)
{
	static const struct ck_need needs[] = {
	    {"no-iommu", lacking_no_iommu}, {"userfaultfd", lacking_userfaultfd}, {NULL, NULL}};
	Suite *s = suite_create("iommufd");
	TCase *tc = ck_case(s, "fixture", setup, teardown, 0);

	tcase_add_test(tc, refuses_what_is_not_an_iommufd);
	tcase_add_test(tc, refuses_what_is_not_the_named_vfio_cdev);
	tcase_add_test(tc, the_named_device_reaches_the_kernel);
	tcase_add_test(tc, detach_goes_to_the_cdev);
	tcase_add_test(tc, probe_finds_no_pasid_attach);
	tcase_add_test(tc, namespace_refuses_attach_as_unsupported);
	tcase_add_test(tc, refused_attach_closes_the_descriptors);
	tcase_add_test(tc, width_from_the_smallest_vt_d_unit_with_pasid);
	tcase_add_test(tc, pasid_capability_from_config_space);
	tcase_add_test(tc, device_probe);
	tcase_add_test(tc, no_iommu_node_no_backend);
	tc = ck_case(s, "userfaultfd", setup, teardown, 0);
	tcase_set_tags(tc, "userfaultfd");
	tcase_add_test(tc, probe_finds_pasid_attach);
	tc = ck_case(s, "host", setup, teardown, 0);
	tcase_set_tags(tc, "no-iommu");
	tcase_add_test(tc, auto_falls_back_to_sim);
	return ck_main(s, needs);
}
