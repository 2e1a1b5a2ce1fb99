/* The seam between the namespace and the kernel (DESIGN.md §6). The core never issues an
 * ioctl itself: every kernel-side effect goes through these operations. */
#ifndef PASIDD_BACKEND_H
#define PASIDD_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct backend;

/* What a VMM passed along with pasid.attach. */
struct backend_attach {
	int iommufd;
	int devfd;
	uint32_t pt_id;
};

struct backend_ops {
	const char *name;
	/* May this device be handed to a VM (exists, and for shared use can carry PASIDs)?
	 * 0 or a negative errno with a reason in why. */
	int (*device_probe)(struct backend *be, uint32_t bdf, bool shared, char *why, size_t len);
	int (*attach)(struct backend *be, uint32_t bdf, uint32_t pasid,
	              const struct backend_attach *a, char *why, size_t len);
	int (*detach)(struct backend *be, uint32_t bdf, uint32_t pasid, char *why, size_t len);
	void (*destroy)(struct backend *be);
};

struct backend {
	const struct backend_ops *ops;
	unsigned pasid_bits;     /* the hardware's PASID width */
	const char *const *caps; /* NULL-terminated capability names */
	void *priv;
};

#endif
