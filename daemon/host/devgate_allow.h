/* What a gated VM may open (pasidd(8), DEVICE GATE): for each device assigned to it, its VFIO
 * cdev and group node; /dev/iommu while it has a device; the char devices of the work queues
 * its mappings name; DeviceAllow=. Read from sysfs (devgate_sysfs.h) as the VM is now; no
 * BPF, so that tests see the set a program would be given. */
#ifndef PASIDD_DEVGATE_ALLOW_H
#define PASIDD_DEVGATE_ALLOW_H

#include <stdbool.h>
#include <stddef.h>

#include "devgate_rules.h"
#include "namespace.h"

/* Where the devices are read, and what every VM is allowed. */
struct devgate_host {
	const char *sys;                 /* the sysfs root */
	int dsa_major, iax_major;        /* the idxd regions, -1 where /proc/devices has none */
	const struct devgate_dev *extra; /* DeviceAllow=, resolved */
	size_t nextra;
	bool quiet; /* what a device or WQ lacks is not logged (a rescan: said before) */
};

/* The devices vm may open, sorted and without duplicates, in *out (malloc'd; NULL when none)
 * and *n; the work queues they include in wqs (vm->nwqs entries, the caller's) and *nwqs.
 * What a device or WQ lacks (not bound to vfio-pci, no group node on an iommufd-only kernel,
 * no char device) is left out and logged: the VM could not open it anyway. 0 or -ENOMEM. */
int devgate_vm_allowed(const struct devgate_host *h, const struct ns_vm *vm,
                       struct devgate_dev **out, size_t *n, const struct ns_wq **wqs, size_t *nwqs);

/* Orders devices by major, then minor (qsort, bsearch). */
int devgate_dev_cmp(const void *a, const void *b);
/* Sorts devs and drops duplicates; the new count. */
size_t devgate_devs_sort(struct devgate_dev *devs, size_t n);

#endif
