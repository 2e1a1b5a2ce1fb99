/* The seam between the namespace and the kernel (DESIGN.md §6). The core never issues an
 * ioctl itself: every kernel-side effect goes through these operations, and a backend reports
 * a failure in the core's words (struct ns_err: NS_E_KERNEL with the operation and errno,
 * NS_E_UNSUPPORTED with what is missing, NS_E_RANGE, NS_E_INVALID or NS_E_CONFLICT naming the
 * parameter at fault). */
#ifndef PASIDD_BACKEND_H
#define PASIDD_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct backend;
struct ns_err;

/* A mapping's hPASID attached to a page table of a device (pasid.attach), or a device's
 * requester ID attached to one (device.attach): what the VMM named and the descriptors it
 * passed, of which pasidd keeps its own duplicates for as long as the
 * attachment lasts, so that it can detach whatever becomes of the VMM. */
struct backend_attach {
	uint32_t bdf;    /* the device, as the VM holds it */
	uint32_t dev_id; /* the device's object id in the iommufd */
	uint32_t pt_id;  /* the page table (HWPT) the PASID is attached to */
	int iommufd;     /* the VMM's iommufd, or -1 once lost (a restart without fd store) */
	int devfd;       /* its VFIO device cdev bound to that iommufd, or -1 once lost */
	uint32_t tag;    /* the host's name for it (its number in the fd store); 0: none */
};

struct backend_ops {
	const char *name;
	/* May this device be handed to a VM (exists, and for shared use can carry PASIDs)?
	 * 0 or a negative errno with a reason in why. */
	int (*device_probe)(struct backend *be, uint32_t bdf, bool shared, char *why, size_t len);
	/* Checks that a's descriptors are what they claim (an iommufd; a VFIO device cdev bound
	 * to it whose PCI address is a->bdf; dev_id that device), that the device can carry
	 * pasid, and attaches pasid to a->pt_id. Attaching a PASID that is attached already
	 * replaces its page table, as VFIO does. 0, or a negative errno with err filled. */
	int (*attach)(struct backend *be, uint32_t pasid, const struct backend_attach *a,
	              struct ns_err *err);
	/* Detaches pasid from the device of a (whose descriptors are the attachment's own). */
	int (*detach)(struct backend *be, uint32_t pasid, const struct backend_attach *a,
	              struct ns_err *err);
	/* The device's requester ID (no PASID) attached to a->pt_id (device.attach), after the
	 * same checks of a's descriptors as attach makes, the PASID width aside. Attaching an
	 * attached device replaces its page table, as VFIO does. NULL where the backend cannot
	 * (device.attach then answers 1007). */
	int (*rid_attach)(struct backend *be, const struct backend_attach *a, struct ns_err *err);
	/* Detaches the device's requester ID (device.detach); NULL as for rid_attach. */
	int (*rid_detach)(struct backend *be, const struct backend_attach *a, struct ns_err *err);
	void (*destroy)(struct backend *be);
	/* The PASID width (bits) the device carries as far as the host can tell without the
	 * VMM's descriptors, or -1 when it cannot (vm.import's dry run). May be NULL. */
	int (*device_width)(struct backend *be, uint32_t bdf);
};

struct backend {
	const struct backend_ops *ops;
	unsigned pasid_bits;     /* the host's PASID width (the IOMMU's) */
	const char *const *caps; /* NULL-terminated capability names */
	/* Why pasid.attach cannot work here (the kernel feature missing and the first version
	 * that has it), found out once when the backend was opened; NULL when it can. */
	const char *attach_missing;
	/* How it was chosen (filled by whoever opened it): the name asked for ("auto", or the
	 * backend's own) and why this backend when that is worth saying ("" otherwise), such
	 * as auto falling back to sim without /dev/iommu. */
	char requested[16];
	char why[200];
	void *priv;
};

#endif
