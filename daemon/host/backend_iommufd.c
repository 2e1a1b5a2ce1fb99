/* The iommufd backend: PASIDs attached for real, through the descriptors the VMM passes with
 * pasid.attach (its iommufd and its VFIO device cdev), of which the namespace keeps pasidd's
 * own duplicates.
 *
 * What pasidd checks before it attaches, never trusting the parameters:
 * - the iommufd is an open /dev/iommu (a character device with /dev/iommu's st_rdev);
 * - the device cdev is a VFIO device cdev (its st_rdev leads, through /sys/dev/char, to class
 *   vfio-dev) of a PCI device whose address is the one named, bound to an iommufd (VFIO
 *   refuses every other ioctl of an unbound cdev: GET_INFO tells);
 * - dev_id is a device of the iommufd passed (IOMMU_GET_HW_INFO succeeds), and, where VFIO
 *   tells it (the hot reset information of a resettable device), the very dev_id the cdev
 *   has in the iommufd it is bound to;
 * - the PASID lies within the device's width: IOMMU_GET_HW_INFO's out_max_pasid_log2, no
 *   wider than the PCI PASID capability of the cdev's device in the host's config space. The
 *   uAPI cannot tell whether the iommufd passed is the one the cdev is bound to; the second
 *   bound makes a wrong iommufd or dev_id unable to widen the check. The 7.3 kernel does not
 *   check the width itself on VT-d: this check is the only one.
 * Then VFIO_DEVICE_ATTACH_IOMMUFD_PT with VFIO_DEVICE_ATTACH_PASID on the cdev: the page
 * table is the cdev's iommufd's object pt_id, and attaching an attached PASID replaces it.
 *
 * device.attach, the device's requester ID: the same checks of the descriptors and dev_id, no
 * width, and VFIO_DEVICE_ATTACH_IOMMUFD_PT without the PASID flag (argsz 12, as kernels from
 * 6.6 on take it; attaching an attached device replaces its page table), and its DETACH.
 *
 * Whether the kernel has PASID attach at all is found out once, when the backend is opened
 * (see iommufd_abi.h on IOMMU_VEVENTQ_ALLOC): without it, attach_missing says what is
 * missing and the core answers pasid.attach with 1007 before any descriptor is looked at. */
#include "backends.h"
#include "iommufd_abi.h"
#include "iommufd_sysfs.h"
#include "log.h"
#include "namespace.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#define OP_GET_INFO   "VFIO_DEVICE_GET_INFO"
#define OP_HW_INFO    "IOMMU_GET_HW_INFO"
#define OP_ATTACH     "VFIO_DEVICE_ATTACH_IOMMUFD_PT"
#define OP_DETACH     "VFIO_DEVICE_DETACH_IOMMUFD_PT"
#define MAX_RESET_DEV 256

struct ifd {
	struct backend be;
	char sys[PATH_MAX];
	char dev[PATH_MAX];
	dev_t iommu_rdev; /* /dev/iommu's */
	char missing[sizeof(((struct ns_err *)0)->missing)];
};

static const char *const caps_attach[] = {"attach", NULL};
static const char *const caps_none[] = {NULL};

/* The first descriptor: an open /dev/iommu. */
static int
check_iommufd(struct ifd *f, int fd, struct ns_err *err)
{
	struct stat st;

	if (fd < 0 || fstat(fd, &st) < 0)
		return ns_fail(err, NS_E_INVALID, "fds", "the first descriptor is not open");
	if (!S_ISCHR(st.st_mode) || st.st_rdev != f->iommu_rdev)
		return ns_fail(err, NS_E_INVALID, "fds",
		               "the first descriptor is not an iommufd (an open %s/iommu)", f->dev);
	return 0;
}

/* The second: a VFIO device cdev of the PCI device named, bound to an iommufd. */
static int
check_devfd(struct ifd *f, const struct backend_attach *a, struct ns_err *err)
{
	struct abi_vfio_device_info info = {.argsz =
	                                        offsetof(struct abi_vfio_device_info, cap_offset)};
	char why[200], want[NS_BDF_LEN + 1], got[NS_BDF_LEN + 1];
	uint32_t bdf;

	if (iommufd_sysfs_cdev_bdf(f->sys, a->devfd, &bdf, why, sizeof(why)) < 0)
		return ns_fail(err, NS_E_INVALID, "fds", "the second descriptor %s", why);
	ns_bdf_format(a->bdf, want);
	ns_bdf_format(bdf, got);
	if (bdf != a->bdf)
		return ns_fail(
		    err, NS_E_INVALID, "fds",
		    "the second descriptor is the VFIO device cdev of %s, not of device %s", got,
		    want);
	if (ioctl(a->devfd, ABI_VFIO_DEVICE_GET_INFO, &info) < 0) {
		if (errno == EINVAL)
			return ns_fail(err, NS_E_INVALID, "fds",
			               "the VFIO device cdev of %s is not bound to an iommufd "
			               "(VFIO_DEVICE_BIND_IOMMUFD first)",
			               want);
		return ns_fail_kernel(err, NULL, OP_GET_INFO, errno, "%s on the cdev of %s: %s",
		                      OP_GET_INFO, want, strerror(errno));
	}
	if (!(info.flags & ABI_VFIO_DEVICE_FLAGS_PCI))
		return ns_fail(err, NS_E_INVALID, "fds",
		               "the VFIO device cdev of %s is not a vfio-pci device", want);
	return 0;
}

/* The dev_id VFIO gives the cdev's device in the iommufd it is bound to, from the hot reset
 * information (the only uAPI that names it); 0 where VFIO cannot say (a device that cannot
 * be reset, such as one on a root bus without slot reset, or an older kernel). */
static uint32_t
bound_dev_id(int devfd, uint32_t bdf)
{
	size_t size = sizeof(struct abi_vfio_pci_hot_reset_info) +
	              MAX_RESET_DEV * sizeof(struct abi_vfio_pci_dependent_device);
	struct abi_vfio_pci_hot_reset_info *info = calloc(1, size);
	uint32_t id = 0;

	if (!info)
		return 0;
	info->argsz = (uint32_t)size;
	if (ioctl(devfd, ABI_VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, info) == 0 &&
	    (info->flags & ABI_VFIO_PCI_HOT_RESET_FLAG_DEV_ID)) {
		for (uint32_t i = 0; i < info->count && i < MAX_RESET_DEV; i++) {
			const struct abi_vfio_pci_dependent_device *d = &info->devices[i];

			if (d->segment == bdf >> 16 && d->bus == ((bdf >> 8) & 0xff) &&
			    d->devfn == (bdf & 0xff) && d->devid != ABI_VFIO_PCI_DEVID_OWNED &&
			    d->devid != ABI_VFIO_PCI_DEVID_NOT_OWNED)
				id = d->devid;
		}
	}
	free(info);
	return id;
}

/* dev_id is the cdev's device in the iommufd passed, as far as the uAPI tells: VFIO's own
 * word where it gives one, and GET_HW_INFO(dev_id) on that iommufd, which fills hw. */
static int
check_dev_id(const struct backend_attach *a, struct abi_iommu_hw_info *hw, struct ns_err *err)
{
	char name[NS_BDF_LEN + 1];
	uint32_t bound;

	ns_bdf_format(a->bdf, name);
	bound = bound_dev_id(a->devfd, a->bdf);
	if (bound && bound != a->dev_id)
		return ns_fail(err, NS_E_INVALID, "dev_id",
		               "dev_id %u is not %s: VFIO says the cdev passed is device %u of "
		               "the iommufd it is bound to",
		               a->dev_id, name, bound);
	*hw = (struct abi_iommu_hw_info){.size = sizeof(*hw), .dev_id = a->dev_id};
	if (ioctl(a->iommufd, ABI_IOMMU_GET_HW_INFO, hw) < 0) {
		if (errno == ENOENT)
			return ns_fail(err, NS_E_INVALID, "dev_id",
			               "dev_id %u is no device of the iommufd passed", a->dev_id);
		return ns_fail_kernel(err, NULL, OP_HW_INFO, errno, "%s(dev_id %u) for %s: %s",
		                      OP_HW_INFO, a->dev_id, name, strerror(errno));
	}
	return 0;
}

/* The PASID width the device carries: GET_HW_INFO(dev_id) on the iommufd passed, bounded by
 * the PASID capability of the cdev's device where the host's config space is readable. */
static int
device_width(struct ifd *f, const struct backend_attach *a, unsigned *width, struct ns_err *err)
{
	struct abi_iommu_hw_info hw;
	char name[NS_BDF_LEN + 1];
	int cfg, r;

	ns_bdf_format(a->bdf, name);
	if ((r = check_dev_id(a, &hw, err)) < 0)
		return r;
	*width = hw.out_max_pasid_log2;
	cfg = iommufd_sysfs_pci_pasid_width(f->sys, a->bdf);
	if (cfg >= 0 && (unsigned)cfg < *width) {
		log_warn("iommufd: %s(dev_id %u) says %u PASID bits but %s's PASID capability has "
		         "%d: dev_id or the iommufd passed is not that device's; using %d",
		         OP_HW_INFO, a->dev_id, *width, name, cfg, cfg);
		*width = (unsigned)cfg;
	}
	return 0;
}

static int
ifd_attach(struct backend *be, uint32_t pasid, const struct backend_attach *a, struct ns_err *err)
{
	struct ifd *f = be->priv;
	struct abi_vfio_device_attach_iommufd_pt at = {
	    .argsz = sizeof(at),
	    .flags = ABI_VFIO_DEVICE_ATTACH_PASID,
	    .pt_id = a->pt_id,
	    .pasid = pasid,
	};
	char name[NS_BDF_LEN + 1];
	unsigned width = 0;
	int r;

	ns_bdf_format(a->bdf, name);
	if ((r = check_iommufd(f, a->iommufd, err)) < 0 || (r = check_devfd(f, a, err)) < 0 ||
	    (r = device_width(f, a, &width, err)) < 0)
		return r;
	if (!width)
		return ns_fail_missing(err, "device", "PASID capability of the device",
		                       "device %s has no PASID capability", name);
	if (width < 32 && pasid >= 1U << width)
		return ns_fail(err, NS_E_RANGE, "gpasid",
		               "PASID %u is beyond the %u-bit PASID width of device %s", pasid,
		               width, name);
	if (ioctl(a->devfd, ABI_VFIO_DEVICE_ATTACH_IOMMUFD_PT, &at) < 0)
		return ns_fail_kernel(err, NULL, OP_ATTACH, errno,
		                      "%s(PASID %u, pt_id %u) on %s: %s", OP_ATTACH, pasid,
		                      a->pt_id, name, strerror(errno));
	/* The kernel changed: worth a line, and its order against the freeing of numbers. */
	log_info("iommufd: attached PASID %u of %s to page table %u", pasid, name, a->pt_id);
	return 0;
}

static int
ifd_detach(struct backend *be, uint32_t pasid, const struct backend_attach *a, struct ns_err *err)
{
	struct abi_vfio_device_detach_iommufd_pt dt = {
	    .argsz = sizeof(dt),
	    .flags = ABI_VFIO_DEVICE_DETACH_PASID,
	    .pasid = pasid,
	};
	char name[NS_BDF_LEN + 1];

	(void)be;
	ns_bdf_format(a->bdf, name);
	/* The core never detaches through descriptors it lost; should it, nothing is asked. */
	if (a->devfd < 0)
		return ns_fail_kernel(err, NULL, OP_DETACH, EBADF,
		                      "PASID %u on %s: pasidd has no descriptor of the device",
		                      pasid, name);
	if (ioctl(a->devfd, ABI_VFIO_DEVICE_DETACH_IOMMUFD_PT, &dt) < 0)
		return ns_fail_kernel(err, NULL, OP_DETACH, errno, "%s(PASID %u) on %s: %s",
		                      OP_DETACH, pasid, name, strerror(errno));
	log_info("iommufd: detached PASID %u of %s", pasid, name);
	return 0;
}

static int
ifd_rid_attach(struct backend *be, const struct backend_attach *a, struct ns_err *err)
{
	struct ifd *f = be->priv;
	/* argsz 12: no pasid field, which kernels before 6.15 do not know. */
	struct abi_vfio_device_attach_iommufd_pt at = {
	    .argsz = offsetof(struct abi_vfio_device_attach_iommufd_pt, pasid),
	    .pt_id = a->pt_id,
	};
	struct abi_iommu_hw_info hw;
	char name[NS_BDF_LEN + 1];
	int r;

	ns_bdf_format(a->bdf, name);
	if ((r = check_iommufd(f, a->iommufd, err)) < 0 || (r = check_devfd(f, a, err)) < 0 ||
	    (r = check_dev_id(a, &hw, err)) < 0)
		return r;
	if (ioctl(a->devfd, ABI_VFIO_DEVICE_ATTACH_IOMMUFD_PT, &at) < 0)
		return ns_fail_kernel(err, NULL, OP_ATTACH, errno, "%s(pt_id %u) on %s: %s",
		                      OP_ATTACH, a->pt_id, name, strerror(errno));
	log_info("iommufd: attached the requester ID of %s to page table %u", name, a->pt_id);
	return 0;
}

static int
ifd_rid_detach(struct backend *be, const struct backend_attach *a, struct ns_err *err)
{
	struct abi_vfio_device_detach_iommufd_pt dt = {
	    .argsz = offsetof(struct abi_vfio_device_detach_iommufd_pt, pasid),
	};
	char name[NS_BDF_LEN + 1];

	(void)be;
	ns_bdf_format(a->bdf, name);
	if (a->devfd < 0)
		return ns_fail_kernel(err, NULL, OP_DETACH, EBADF,
		                      "the requester ID of %s: pasidd has no descriptor of the "
		                      "device",
		                      name);
	if (ioctl(a->devfd, ABI_VFIO_DEVICE_DETACH_IOMMUFD_PT, &dt) < 0)
		return ns_fail_kernel(err, NULL, OP_DETACH, errno, "%s on %s: %s", OP_DETACH, name,
		                      strerror(errno));
	log_info("iommufd: detached the requester ID of %s", name);
	return 0;
}

static int
ifd_probe(struct backend *be, uint32_t bdf, bool shared, char *why, size_t len)
{
	struct ifd *f = be->priv;
	char name[NS_BDF_LEN + 1];
	int w;

	ns_bdf_format(bdf, name);
	if (iommufd_sysfs_pci_exists(f->sys, bdf) < 0) {
		snprintf(why, len, "there is no PCI device %s on this host", name);
		return -ENODEV;
	}
	if (!shared)
		return 0;
	/* A shared device is there to carry shared PASIDs. Unreadable: the attach decides. */
	w = iommufd_sysfs_pci_pasid_width(f->sys, bdf);
	if (w == 0) {
		snprintf(why, len,
		         "device %s has no PASID capability, so it cannot carry shared "
		         "PASIDs",
		         name);
		return -EOPNOTSUPP;
	}
	return 0;
}

static void
ifd_destroy(struct backend *be)
{
	free(be->priv);
}

/* The width of the device's PCI PASID capability: without the VMM's iommufd, the IOMMU's
 * own limit cannot be asked (GET_HW_INFO), so this is an upper bound. */
static int
ifd_width(struct backend *be, uint32_t bdf)
{
	struct ifd *f = be->priv;
	int w = iommufd_sysfs_pci_pasid_width(f->sys, bdf);

	return w < 0 ? -1 : w;
}

static const struct backend_ops ifd_ops = {
    .name = "iommufd",
    .device_probe = ifd_probe,
    .attach = ifd_attach,
    .detach = ifd_detach,
    .rid_attach = ifd_rid_attach,
    .rid_detach = ifd_rid_detach,
    .destroy = ifd_destroy,
    .device_width = ifd_width,
};

/* Does the kernel have PASID attach? Asked once, of a fresh iommufd, without a device. */
static void
probe_pasid_attach(struct ifd *f, int fd)
{
	struct abi_iommu_veventq_alloc q = {.size = 0};
	struct utsname u;
	const char *rel = uname(&u) == 0 ? u.release : "unknown";
	int e = ioctl(fd, ABI_IOMMU_VEVENTQ_ALLOC, &q) == 0 ? 0 : errno;

	if (e == 0 || e == EINVAL) {
		f->be.attach_missing = NULL;
		log_info("iommufd: kernel %s has PASID attach (the 6.15 uAPI: "
		         "IOMMU_VEVENTQ_ALLOC is known)",
		         rel);
		return;
	}
	if (e == ENOTTY)
		snprintf(f->missing, sizeof(f->missing),
		         "PASID attach (IOMMU_HWPT_ALLOC_PASID, VFIO_DEVICE_ATTACH_PASID): Linux "
		         "6.15 or later; this kernel is %.40s",
		         rel);
	else
		snprintf(
		    f->missing, sizeof(f->missing),
		    "PASID attach (Linux 6.15 or later): kernel %s did not tell whether it has "
		    "it (the probe got %s)",
		    rel, strerror(e));
	f->be.attach_missing = f->missing;
	log_warn("iommufd: pasid.attach is unsupported here: %s", f->missing);
}

int
backend_iommufd_open_at(const char *sys, const char *dev, struct backend **out, char *why,
                        size_t len)
{
	struct ifd *f = calloc(1, sizeof(*f));
	char path[PATH_MAX], from[PATH_MAX + 64];
	struct stat st;
	int fd, w;

	if (!f) {
		snprintf(why, len, "out of memory");
		return -ENOMEM;
	}
	snprintf(f->sys, sizeof(f->sys), "%s", sys);
	snprintf(f->dev, sizeof(f->dev), "%s", dev);
	snprintf(path, sizeof(path), "%s/iommu", dev);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISCHR(st.st_mode)) {
		int e = fd < 0 ? errno : ENODEV;

		snprintf(why, len,
		         "the iommufd backend cannot open %s: %s (a kernel with CONFIG_IOMMUFD "
		         "has it; without it use --backend sim)",
		         path, fd < 0 ? strerror(e) : "not a character device");
		if (fd >= 0)
			close(fd);
		free(f);
		return -e;
	}
	f->iommu_rdev = st.st_rdev;
	f->be.ops = &ifd_ops;
	f->be.priv = f;
	probe_pasid_attach(f, fd);
	close(fd);
	f->be.caps = f->be.attach_missing ? caps_none : caps_attach;
	/* The IOMMU's width bounds the namespace where pasidd attaches PASIDs through it.
	 * Without PASID attach no user-chosen PASID reaches it at all (QEMU 7.2's emulated VT-d
	 * reports a 1-bit space that would otherwise refuse every configuration). */
	w = iommufd_sysfs_iommu_width(sys, from, sizeof(from));
	f->be.pasid_bits = NS_MAX_BITS;
	if (w > 0 && f->be.attach_missing) {
		log_info("iommufd: host PASID width %d bits, from %s; not applied, as nothing "
		         "can be attached here: the configured width applies",
		         w, from);
	} else if (w > 0) {
		f->be.pasid_bits = w > NS_MAX_BITS ? NS_MAX_BITS : (unsigned)w;
		log_info("iommufd: host PASID width %u bits, from %s", f->be.pasid_bits, from);
	} else {
		log_info("iommufd: host PASID width not readable (%s): the configured width "
		         "applies",
		         from);
	}
	*out = &f->be;
	return 0;
}

int
backend_iommufd_create(struct backend **out, char *why, size_t len)
{
	return backend_iommufd_open_at("/sys", "/dev", out, why, len);
}
