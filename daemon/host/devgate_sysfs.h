/* The device numbers the device gate lets a VM open, read from sysfs under a root ("/sys"; a
 * fixture tree in tests): a PCI device's VFIO cdev and group node, /dev/iommu, a work queue's
 * char device. Each returns 0 with *dev filled, -ENOENT when there is no such node (a device
 * not bound to vfio-pci, a host without iommufd), or another -errno; why says which file. */
#ifndef PASIDD_DEVGATE_SYSFS_H
#define PASIDD_DEVGATE_SYSFS_H

#include <stddef.h>
#include <stdint.h>

#include "devgate_rules.h"

/* "MAJOR:MINOR\n", as sysfs `dev` attributes hold it. */
int devgate_parse_devt(const char *s, struct devgate_dev *dev);

/* bus/pci/devices/<bdf>/vfio-dev/vfioN/dev: the device's /dev/vfio/devices/vfioN. */
int devgate_sysfs_vfio_cdev(const char *sys, uint32_t bdf, struct devgate_dev *dev, char *why,
                            size_t len);
/* class/vfio/<group>/dev for the device's iommu_group: its /dev/vfio/<group>. */
int devgate_sysfs_vfio_group(const char *sys, uint32_t bdf, struct devgate_dev *dev, char *why,
                             size_t len);
/* class/misc/iommu/dev: /dev/iommu. */
int devgate_sysfs_iommu(const char *sys, struct devgate_dev *dev, char *why, size_t len);
/* The char device of work queue ref ("dsa0/wq0.1"): bus/dsa/devices/wq0.1/dsa!wq0.1/dev, or
 * the WQ's cdev_minor with the major of `kind_major` (the region of its device's kind, "dsa"
 * or "iax", in /proc/devices; -1 when unknown) for kernels without the former. */
int devgate_sysfs_wq(const char *sys, const char *ref, int kind_major, struct devgate_dev *dev,
                     char *why, size_t len);
/* "dsa" or "iax" for ref "dsa0/wq0.1" or "iax1/wq1.0"; NULL for anything else. */
const char *devgate_wq_kind(const char *ref);

#endif
