/* What the observer (observer.bpf.c) and its loader (host/bpf_observer.c) share: the ring
 * buffer record. Included by the BPF program after vmlinux_min.h and by the loader after
 * <linux/types.h>. */
#ifndef PASIDD_BPF_OBSERVER_H
#define PASIDD_BPF_OBSERVER_H

enum ob_kind {
	OB_ATTACH = 1,  /* iommu_attach_device_pasid returned */
	OB_REPLACE = 2, /* iommu_replace_device_pasid returned (re-attach of an attached one) */
	OB_DETACH = 3,  /* iommu_detach_device_pasid returned */
	OB_GLOBAL_ALLOC = 4, /* iommu_alloc_global_pasid: a PASID the kernel took for itself */
	OB_GLOBAL_FREE = 5,  /* iommu_free_global_pasid: and gave back */
};

#define OB_DEV_LEN  32
#define OB_COMM_LEN 16

struct ob_report {
	__u32 kind; /* enum ob_kind */
	__u32 pasid;
	__s32 ret; /* 0, or the negative errno the kernel returned; 0 for void functions */
	__u32 pid;
	__u32 tgid;
	__u32 uid;
	char dev[OB_DEV_LEN]; /* dev_name(): the BDF for a PCI device; "" without a device */
	char comm[OB_COMM_LEN];
};

#endif
