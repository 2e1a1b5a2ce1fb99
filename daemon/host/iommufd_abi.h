/* pasidd's own definitions of the iommufd (/dev/iommu) and VFIO device cdev uAPI it uses.
 *
 * Debian 12's linux-libc-dev (6.1) has neither <linux/iommufd.h> nor the VFIO cdev ioctls,
 * and no Debian 12 header has the PASID attach fields of Linux 6.15, so pasidd carries them
 * itself. The facts come from ../shared/design/KERNEL-FACTS.md and were checked against the
 * uapi headers of Linux 6.12.117 and 7.3.4 (include/uapi/linux/{iommufd,vfio}.h); every size
 * and the offsets that matter are asserted below. The names are pasidd's (ABI_ prefix) so
 * that this header never clashes with the kernel's where both are present.
 *
 * Self-contained on purpose (only <linux/ioctl.h>, <stddef.h>, <stdint.h>): the kernel test
 * harness's VMM stand-in includes it as well.
 *
 * Conventions of both interfaces: every ioctl is _IO(';', nr) and its argument starts with a
 * u32 size (iommufd: `size`, VFIO: `argsz`) that tells the kernel how much of the struct the
 * caller knows; trailing bytes the kernel does not know must be zero (else E2BIG). */
#ifndef PASIDD_IOMMUFD_ABI_H
#define PASIDD_IOMMUFD_ABI_H

#include <linux/ioctl.h>
#include <stddef.h>
#include <stdint.h>

#define ABI_IOMMUFD_TYPE ';'
#define ABI_ALIGNED_U64  uint64_t __attribute__((aligned(8)))

/* ---- iommufd: _IO(';', 0x80 + n) ---- */
#define ABI_IOMMUFD_CMD(n) _IO(ABI_IOMMUFD_TYPE, 0x80 + (n))

#define ABI_IOMMU_DESTROY       ABI_IOMMUFD_CMD(0x00)
#define ABI_IOMMU_IOAS_ALLOC    ABI_IOMMUFD_CMD(0x01)
#define ABI_IOMMU_IOAS_MAP      ABI_IOMMUFD_CMD(0x05)
#define ABI_IOMMU_HWPT_ALLOC    ABI_IOMMUFD_CMD(0x09) /* 6.6 */
#define ABI_IOMMU_GET_HW_INFO   ABI_IOMMUFD_CMD(0x0a) /* 6.6 */
#define ABI_IOMMU_VEVENTQ_ALLOC ABI_IOMMUFD_CMD(0x13) /* 6.15: pasidd's probe (see below) */

struct abi_iommu_destroy {
	uint32_t size;
	uint32_t id;
};

struct abi_iommu_ioas_alloc {
	uint32_t size;
	uint32_t flags;
	uint32_t out_ioas_id;
};

#define ABI_IOMMU_IOAS_MAP_FIXED_IOVA (1u << 0)
#define ABI_IOMMU_IOAS_MAP_WRITEABLE  (1u << 1)
#define ABI_IOMMU_IOAS_MAP_READABLE   (1u << 2)

struct abi_iommu_ioas_map {
	uint32_t size;
	uint32_t flags;
	uint32_t ioas_id;
	uint32_t reserved;
	ABI_ALIGNED_U64 user_va;
	ABI_ALIGNED_U64 length;
	ABI_ALIGNED_U64 iova;
};

/* HWPT allocation flags. A page table that a PASID is attached to must be allocated with
 * ALLOC_PASID (6.15), and so must the one the device's RID is attached to, or the PASID
 * attach fails with EINVAL. Kernels before 6.15 answer ALLOC_PASID with EOPNOTSUPP. */
#define ABI_IOMMU_HWPT_ALLOC_NEST_PARENT    (1u << 0)
#define ABI_IOMMU_HWPT_ALLOC_DIRTY_TRACKING (1u << 1)
#define ABI_IOMMU_HWPT_FAULT_ID_VALID       (1u << 2) /* 6.11 */
#define ABI_IOMMU_HWPT_ALLOC_PASID          (1u << 3) /* 6.15 */

struct abi_iommu_hwpt_alloc {
	uint32_t size;
	uint32_t flags;
	uint32_t dev_id;
	uint32_t pt_id;
	uint32_t out_hwpt_id;
	uint32_t reserved;
	uint32_t data_type;
	uint32_t data_len;
	ABI_ALIGNED_U64 data_uptr;
	uint32_t fault_id;
	uint32_t reserved2;
};

#define ABI_IOMMU_HW_INFO_TYPE_NONE      0
#define ABI_IOMMU_HW_INFO_TYPE_INTEL_VTD 1

#define ABI_IOMMU_HW_CAP_DIRTY_TRACKING (1ull << 0)
#define ABI_IOMMU_HW_CAP_PCI_PASID_EXEC (1ull << 1)
#define ABI_IOMMU_HW_CAP_PCI_PASID_PRIV (1ull << 2)

/* IOMMU_GET_HW_INFO(dev_id): out_max_pasid_log2 is the PASID width the device can carry
 * behind its IOMMU (min of the device's PASID capability and the IOMMU's); 0 means none,
 * which is also what a kernel without the field reports (the byte was reserved, zero). */
struct abi_iommu_hw_info {
	uint32_t size;
	uint32_t flags;
	uint32_t dev_id;
	uint32_t data_len;
	ABI_ALIGNED_U64 data_uptr;
	uint32_t out_data_type;
	uint8_t out_max_pasid_log2;
	uint8_t reserved[3];
	ABI_ALIGNED_U64 out_capabilities;
};

/* The VT-d data GET_HW_INFO can return (data_uptr/data_len). */
struct abi_iommu_hw_info_vtd {
	uint32_t flags;
	uint32_t reserved;
	ABI_ALIGNED_U64 cap_reg;
	ABI_ALIGNED_U64 ecap_reg;
};

/* IOMMU_VEVENTQ_ALLOC came with Linux 6.15, the release that brought PASID attach
 * (IOMMU_HWPT_ALLOC_PASID, VFIO_DEVICE_ATTACH_PASID). Nothing of the PASID uAPI can be
 * asked about without a device (HWPT_ALLOC looks the device up before it reads its flags,
 * in 6.12 as in 7.3), but this command can: called with size 0, a kernel that knows it
 * answers EINVAL (size below the minimum, checked before anything runs), one that does not
 * answers ENOTTY. Only the size is read. */
struct abi_iommu_veventq_alloc {
	uint32_t size;
	uint32_t flags;
	uint32_t viommu_id;
	uint32_t type;
	uint32_t veventq_depth;
	uint32_t out_veventq_id;
	uint32_t out_veventq_fd;
	uint32_t reserved;
};

/* ---- VFIO device cdev (/dev/vfio/devices/vfioN): _IO(';', 100 + n) ---- */
#define ABI_VFIO_TYPE   ';'
#define ABI_VFIO_CMD(n) _IO(ABI_VFIO_TYPE, 100 + (n))

#define ABI_VFIO_DEVICE_GET_INFO               ABI_VFIO_CMD(7)
#define ABI_VFIO_DEVICE_GET_PCI_HOT_RESET_INFO ABI_VFIO_CMD(12)
#define ABI_VFIO_DEVICE_BIND_IOMMUFD           ABI_VFIO_CMD(18) /* 118, 6.6 */
#define ABI_VFIO_DEVICE_ATTACH_IOMMUFD_PT      ABI_VFIO_CMD(19) /* 119, 6.6 */
#define ABI_VFIO_DEVICE_DETACH_IOMMUFD_PT      ABI_VFIO_CMD(20) /* 120, 6.6 */

#define ABI_VFIO_DEVICE_FLAGS_PCI (1u << 1)

/* Any ioctl but BIND on a device cdev that is not bound to an iommufd yet fails with EINVAL;
 * GET_INFO (argsz 16 is enough) is the harmless one that tells a bound PCI device. */
struct abi_vfio_device_info {
	uint32_t argsz;
	uint32_t flags;
	uint32_t num_regions;
	uint32_t num_irqs;
	uint32_t cap_offset;
	uint32_t pad;
};

/* The devices a hot reset of the device would affect; on a cdev-bound device (flag DEV_ID)
 * each carries its dev_id in the iommufd that device is bound to. */
#define ABI_VFIO_PCI_HOT_RESET_FLAG_DEV_ID       (1u << 0)
#define ABI_VFIO_PCI_HOT_RESET_FLAG_DEV_ID_OWNED (1u << 1)
#define ABI_VFIO_PCI_DEVID_OWNED                 0u
#define ABI_VFIO_PCI_DEVID_NOT_OWNED             0xffffffffu

struct abi_vfio_pci_dependent_device {
	uint32_t devid; /* or group_id without DEV_ID */
	uint16_t segment;
	uint8_t bus;
	uint8_t devfn;
};

struct abi_vfio_pci_hot_reset_info {
	uint32_t argsz;
	uint32_t flags;
	uint32_t count;
	struct abi_vfio_pci_dependent_device devices[];
};

/* 16 bytes; 24 with the token pointer (VFIO_DEVICE_BIND_FLAG_TOKEN) of newest kernels. */
struct abi_vfio_device_bind_iommufd {
	uint32_t argsz;
	uint32_t flags;
	int32_t iommufd;
	uint32_t out_devid;
};

/* argsz 12 (no PASID) before 6.15; 16 with the pasid and its flag. Kernels before 6.15
 * answer any flag with EINVAL. Attaching an attached PASID again replaces its page table. */
#define ABI_VFIO_DEVICE_ATTACH_PASID (1u << 0)

struct abi_vfio_device_attach_iommufd_pt {
	uint32_t argsz;
	uint32_t flags;
	uint32_t pt_id;
	uint32_t pasid;
};

/* argsz 8 (no PASID) before 6.15; 12 with the pasid and its flag. */
#define ABI_VFIO_DEVICE_DETACH_PASID (1u << 0)

struct abi_vfio_device_detach_iommufd_pt {
	uint32_t argsz;
	uint32_t flags;
	uint32_t pasid;
};

/* ---- the layout, checked against KERNEL-FACTS.md ---- */
_Static_assert(ABI_IOMMU_DESTROY == 0x3b80, "IOMMU_DESTROY is _IO(';', 0x80)");
_Static_assert(ABI_IOMMU_HWPT_ALLOC == 0x3b89, "IOMMU_HWPT_ALLOC is _IO(';', 0x89)");
_Static_assert(ABI_IOMMU_GET_HW_INFO == 0x3b8a, "IOMMU_GET_HW_INFO is _IO(';', 0x8a)");
_Static_assert(ABI_IOMMU_VEVENTQ_ALLOC == 0x3b93, "IOMMU_VEVENTQ_ALLOC is _IO(';', 0x93)");
_Static_assert(ABI_VFIO_DEVICE_BIND_IOMMUFD == 0x3b76, "VFIO_DEVICE_BIND_IOMMUFD is 118");
_Static_assert(ABI_VFIO_DEVICE_ATTACH_IOMMUFD_PT == 0x3b77, "VFIO_DEVICE_ATTACH_IOMMUFD_PT 119");
_Static_assert(ABI_VFIO_DEVICE_DETACH_IOMMUFD_PT == 0x3b78, "VFIO_DEVICE_DETACH_IOMMUFD_PT 120");

_Static_assert(sizeof(struct abi_iommu_destroy) == 8, "iommu_destroy");
_Static_assert(sizeof(struct abi_iommu_ioas_alloc) == 12, "iommu_ioas_alloc");
_Static_assert(sizeof(struct abi_iommu_ioas_map) == 40, "iommu_ioas_map");
_Static_assert(offsetof(struct abi_iommu_ioas_map, user_va) == 16, "iommu_ioas_map.user_va");
_Static_assert(sizeof(struct abi_iommu_hwpt_alloc) == 48, "iommu_hwpt_alloc is 48 bytes");
_Static_assert(offsetof(struct abi_iommu_hwpt_alloc, data_uptr) == 32, "hwpt_alloc.data_uptr");
_Static_assert(offsetof(struct abi_iommu_hwpt_alloc, fault_id) == 40, "hwpt_alloc.fault_id");
_Static_assert(sizeof(struct abi_iommu_hw_info) == 40, "iommu_hw_info is 40 bytes");
_Static_assert(offsetof(struct abi_iommu_hw_info, data_uptr) == 16, "hw_info.data_uptr @16");
_Static_assert(offsetof(struct abi_iommu_hw_info, out_data_type) == 24, "out_data_type @24");
_Static_assert(offsetof(struct abi_iommu_hw_info, out_max_pasid_log2) == 28,
               "out_max_pasid_log2 @28");
_Static_assert(offsetof(struct abi_iommu_hw_info, out_capabilities) == 32, "out_capabilities @32");
_Static_assert(sizeof(struct abi_iommu_hw_info_vtd) == 24, "iommu_hw_info_vtd");
_Static_assert(sizeof(struct abi_iommu_veventq_alloc) == 32, "iommu_veventq_alloc");
_Static_assert(sizeof(struct abi_vfio_device_info) == 24, "vfio_device_info");
_Static_assert(sizeof(struct abi_vfio_pci_dependent_device) == 8, "vfio_pci_dependent_device");
_Static_assert(sizeof(struct abi_vfio_pci_hot_reset_info) == 12, "vfio_pci_hot_reset_info");
_Static_assert(sizeof(struct abi_vfio_device_bind_iommufd) == 16, "vfio_device_bind_iommufd");
_Static_assert(sizeof(struct abi_vfio_device_attach_iommufd_pt) == 16,
               "vfio_device_attach_iommufd_pt with pasid is 16 bytes");
_Static_assert(offsetof(struct abi_vfio_device_attach_iommufd_pt, pasid) == 12, "attach.pasid");
_Static_assert(sizeof(struct abi_vfio_device_detach_iommufd_pt) == 12,
               "vfio_device_detach_iommufd_pt with pasid is 12 bytes");
_Static_assert(offsetof(struct abi_vfio_device_detach_iommufd_pt, pasid) == 8, "detach.pasid");

#endif
