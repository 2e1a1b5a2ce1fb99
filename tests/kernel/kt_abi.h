/* The iommufd, VFIO device cdev and iommufd selftest ABI that the kernel tests use, written
 * from the facts in KERNEL-FACTS.md and the 7.3 uapi (Debian 12's headers have none of it).
 * Test code: only what the stand-in calls, each size checked against the kernel's. */
#ifndef KT_ABI_H
#define KT_ABI_H

#include <stddef.h>
#include <stdint.h>
#include <sys/ioctl.h>

/* iommufd: _IO(';', 0x80 + n), first u32 of every argument is its size */
#define KT_IOMMU(n)          _IO(';', 0x80 + (n))
#define KT_IOMMU_DESTROY     KT_IOMMU(0x0)
#define KT_IOMMU_IOAS_ALLOC  KT_IOMMU(0x1)
#define KT_IOMMU_HWPT_ALLOC  KT_IOMMU(0x9)
#define KT_IOMMU_GET_HW_INFO KT_IOMMU(0xa)
#define KT_IOMMU_TEST_CMD    KT_IOMMU(0x20) /* CONFIG_IOMMUFD_TEST */
#define KT_HWPT_ALLOC_PASID  (1u << 3)      /* 6.15 */

struct kt_destroy {
	uint32_t size, id;
};

struct kt_ioas_alloc {
	uint32_t size, flags, out_ioas_id;
};

struct kt_hw_info {
	uint32_t size, flags, dev_id, data_len;
	uint64_t data_uptr;
	uint32_t out_data_type;
	uint8_t out_max_pasid_log2, reserved[3];
	uint64_t out_capabilities;
};

struct kt_hwpt_alloc {
	uint32_t size, flags, dev_id, pt_id, out_hwpt_id, reserved, data_type, data_len;
	uint64_t data_uptr;
	uint32_t fault_id, reserved2;
};

/* VFIO device cdev: _IO(';', 100 + n) */
#define KT_VFIO_BIND_IOMMUFD _IO(';', 118)
#define KT_VFIO_ATTACH_PT    _IO(';', 119)
#define KT_VFIO_DETACH_PT    _IO(';', 120)
#define KT_VFIO_PASID_FLAG   (1u << 0) /* VFIO_DEVICE_{ATTACH,DETACH}_PASID, 6.15 */

struct kt_vfio_bind {
	uint32_t argsz, flags;
	int32_t iommufd;
	uint32_t out_devid;
};

struct kt_vfio_attach {
	uint32_t argsz, flags, pt_id, pasid;
};

/* The selftest mock (drivers/iommu/iommufd/iommufd_test.h): one command, an op and a union
 * of per-op arguments; the kernel requires the size to cover `last`. */
enum {
	KT_TEST_OP_MOCK_DOMAIN_REPLACE = 10,
	KT_TEST_OP_MOCK_DOMAIN_FLAGS = 12,
	KT_TEST_OP_PASID_ATTACH = 18,
	KT_TEST_OP_PASID_REPLACE = 19,
	KT_TEST_OP_PASID_DETACH = 20,
	KT_TEST_OP_PASID_CHECK_HWPT = 21,
};
#define KT_MOCK_FLAGS_DEVICE_PASID (1u << 2)

struct kt_test_cmd {
	uint32_t size, op, id, reserved;
	union {
		struct {
			uint32_t out_stdev_id, out_hwpt_id, out_idev_id, dev_flags;
		} mock_domain_flags;
		struct {
			uint32_t pt_id;
		} mock_domain_replace;
		struct {
			uint32_t pasid, pt_id; /* id is the stdev_id */
		} pasid_attach;
		struct {
			uint32_t pasid;
		} pasid_detach;
		struct {
			uint32_t pasid, hwpt_id;
		} pasid_check;
		uint64_t largest[6]; /* the union's size in the kernel (its `dirty` member) */
	};
	uint32_t last;
};

_Static_assert(sizeof(struct kt_ioas_alloc) == 12, "iommu_ioas_alloc");
_Static_assert(sizeof(struct kt_hw_info) == 40, "iommu_hw_info");
_Static_assert(offsetof(struct kt_hw_info, out_max_pasid_log2) == 28, "out_max_pasid_log2");
_Static_assert(offsetof(struct kt_hw_info, out_capabilities) == 32, "out_capabilities");
_Static_assert(sizeof(struct kt_hwpt_alloc) == 48, "iommu_hwpt_alloc");
_Static_assert(sizeof(struct kt_vfio_bind) == 16, "vfio_device_bind_iommufd");
_Static_assert(sizeof(struct kt_vfio_attach) == 16, "vfio_device_attach_iommufd_pt");
_Static_assert(offsetof(struct kt_test_cmd, last) == 64, "iommu_test_cmd.last");

#endif
