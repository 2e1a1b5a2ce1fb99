/* What the iommufd backend reads from sysfs rather than from the descriptors a VMM passes:
 * which device a character device is, a PCI device's PASID capability, the IOMMUs' PASID
 * width. Every function takes the sysfs root ("/sys"; a fixture tree in tests). */
#ifndef PASIDD_IOMMUFD_SYSFS_H
#define PASIDD_IOMMUFD_SYSFS_H

#include <stddef.h>
#include <stdint.h>

/* The PCI address of the device whose VFIO device cdev fd is, found from the descriptor
 * itself (its st_rdev, /sys/dev/char/MAJ:MIN, which must be in class vfio-dev with a PCI
 * device as parent). 0, or -errno with why saying what fd is instead. */
int iommufd_sysfs_cdev_bdf(const char *sys, int fd, uint32_t *bdf, char *why, size_t len);

/* Whether PCI device bdf exists (0) or not (-ENOENT). */
int iommufd_sysfs_pci_exists(const char *sys, uint32_t bdf);

/* The Max PASID Width of bdf's PCI PASID capability (extended capability 0x1b in its
 * config space): > 0 bits, 0 when it has none, -EACCES when the extended config space
 * cannot be read (only root reads past the first 64 bytes), another -errno otherwise. */
int iommufd_sysfs_pci_pasid_width(const char *sys, uint32_t bdf);

/* The PASID width the IOMMUs of this host can carry, where it is readable: the smallest of
 * the VT-d units that support PASIDs (class iommu, intel-iommu/ecap: PSS + 1). > 0 bits and
 * a description of where it comes from in from; 0 when no unit tells (from says why). */
int iommufd_sysfs_iommu_width(const char *sys, char *from, size_t len);

#endif
