/* The backends that implement the kernel seam (core/backend.h), and how one is chosen. */
#ifndef PASIDD_BACKENDS_H
#define PASIDD_BACKENDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend.h"

/* name: "sim", "iommufd" or "auto" (iommufd when /dev/iommu exists and opens, else sim).
 * Fills (*out)->requested and ->why and says in the log what auto chose and why. 0, or
 * -errno with a one-line reason in why. */
int backend_open(const char *name, struct backend **out, char *why, size_t len);
void backend_close(struct backend *be);

/* The backends, for backend_open(). */
int backend_sim_create(struct backend **out, char *why, size_t len);
/* Opens /dev/iommu and probes it (-errno with why when it cannot be opened). */
int backend_iommufd_create(struct backend **out, char *why, size_t len);

/* The iommufd backend's test hook: the same, with sysfs at `sys` and /dev at `dev` (a
 * fixture tree: `dev`/iommu may be a link to any character device, whose st_rdev then
 * stands for /dev/iommu's, and `sys`/dev/char/MAJ:MIN links lead to fixture devices). */
int backend_iommufd_open_at(const char *sys, const char *dev, struct backend **out, char *why,
                            size_t len);

/* The sim backend's test hooks (-EOPNOTSUPP, false or 0 on another backend).
 * Fault injection: after `skip` more calls of `op` ("probe", "attach", "detach", "rid_attach",
 * "rid_detach") succeed, the
 * next `count` fail with -err (as the kernel's errno; attach/detach as 1006 kernel_error). */
int backend_sim_inject(struct backend *be, const char *op, int err, unsigned skip, unsigned count);
/* How many times `op` was called since the backend was opened. */
unsigned long backend_sim_calls(struct backend *be, const char *op);
/* The PASID width of device bdf (default: the backend's; 0: no PASID capability). */
int backend_sim_set_width(struct backend *be, uint32_t bdf, unsigned bits);
/* The page table `pasid` is attached to on `bdf`, or UINT32_MAX when it is not attached. */
uint32_t backend_sim_attached(struct backend *be, uint32_t bdf, uint32_t pasid);
/* The page table the requester ID of bdf is attached to, or UINT32_MAX when it is not. */
uint32_t backend_sim_rid(struct backend *be, uint32_t bdf);
/* How many PASIDs are attached, on all devices. */
unsigned long backend_sim_attachments(struct backend *be);

#endif
