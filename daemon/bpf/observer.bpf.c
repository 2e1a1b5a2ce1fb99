// SPDX-License-Identifier: GPL-2.0
/* pasidd's observer: fexit on the IOMMU core's PASID attach, replace and detach, whoever
 * calls them (VFIO on behalf of any process, a kernel driver such as idxd), and on the
 * kernel's own global PASID allocator. Each call that returned is reported with the device,
 * the PASID, the result and the calling task; pasidd reconciles the reports against its table.
 * VFIO re-attaching an attached PASID goes through iommu_replace_device_pasid, so all three
 * are hooked. A call that iommufd refuses before the IOMMU core is reached is not seen.
 * The device is named by dev_name() (kobj.name), which is the BDF for a PCI device: no need to
 * tell PCI devices apart in the program. */
#include "vmlinux_min.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "observer.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} reports SEC(".maps");

/* Reports dropped because the ring was full, read by pasidd through the mmap'd .bss: a
 * drop is never silent. */
__u64 lost = 0;

static __always_inline void
report(__u32 kind, struct device *dev, __u32 pasid, int ret)
{
	__u64 pt = bpf_get_current_pid_tgid();
	struct ob_report *r = bpf_ringbuf_reserve(&reports, sizeof(*r), 0);

	if (!r) {
		__sync_fetch_and_add(&lost, 1);
		return;
	}
	r->kind = kind;
	r->pasid = pasid;
	r->ret = ret;
	r->pid = (__u32)pt;
	r->tgid = pt >> 32;
	r->uid = (__u32)bpf_get_current_uid_gid();
	r->dev[0] = '\0';
	if (dev) {
		const char *name = BPF_CORE_READ(dev, kobj.name);

		if (name)
			bpf_probe_read_kernel_str(r->dev, sizeof(r->dev), name);
	}
	bpf_get_current_comm(r->comm, sizeof(r->comm));
	bpf_ringbuf_submit(r, 0);
}

SEC("fexit/iommu_attach_device_pasid")
int
BPF_PROG(ob_attach, struct iommu_domain *domain, struct device *dev, ioasid_t pasid,
         struct iommu_attach_handle *handle, int ret)
{
	report(OB_ATTACH, dev, pasid, ret);
	return 0;
}

SEC("fexit/iommu_replace_device_pasid")
int
BPF_PROG(ob_replace, struct iommu_domain *domain, struct device *dev, ioasid_t pasid,
         struct iommu_attach_handle *handle, int ret)
{
	report(OB_REPLACE, dev, pasid, ret);
	return 0;
}

SEC("fexit/iommu_detach_device_pasid")
int
BPF_PROG(ob_detach, struct iommu_domain *domain, struct device *dev, ioasid_t pasid)
{
	report(OB_DETACH, dev, pasid, 0);
	return 0;
}

/* ioasid_t iommu_alloc_global_pasid(struct device *dev): IOMMU_PASID_INVALID (~0) on failure. */
SEC("fexit/iommu_alloc_global_pasid")
int
BPF_PROG(ob_global_alloc, struct device *dev, ioasid_t pasid)
{
	report(OB_GLOBAL_ALLOC, dev, pasid, pasid == ~0u ? -1 : 0);
	return 0;
}

SEC("fexit/iommu_free_global_pasid")
int
BPF_PROG(ob_global_free, ioasid_t pasid)
{
	report(OB_GLOBAL_FREE, 0, pasid, 0);
	return 0;
}
