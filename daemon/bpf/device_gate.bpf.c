/* The device gate: a cgroup device program on one VM's cgroup. Character devices of a managed
 * major (VFIO, idxd) or a managed major:minor (/dev/iommu, a misc minor) open only when the
 * VM's own (`allowed`); everything else is left to the other programs of the cgroup, such as
 * systemd's DevicePolicy, which is why the answer for it is 1 and not a verdict. Maps only, no
 * global data: loading .rodata/.bss needs a kernel probe that some guest kernels fail. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "device_gate.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, DEVGATE_MAX_ALLOWED);
	__type(key, struct devgate_key);
	__type(value, __u8);
} allowed SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, DEVGATE_MAX_MANAGED);
	__type(key, __u32);
	__type(value, __u8);
} managed SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, DEVGATE_MAX_MANAGED);
	__type(key, struct devgate_key);
	__type(value, __u8);
} managed_minors SEC(".maps");

SEC("cgroup/dev")
int
device_gate(struct bpf_cgroup_dev_ctx *ctx)
{
	struct devgate_key k = {.major = ctx->major, .minor = ctx->minor};

	if ((ctx->access_type & 0xffff) != BPF_DEVCG_DEV_CHAR)
		return 1;
	if (!bpf_map_lookup_elem(&managed, &k.major) && !bpf_map_lookup_elem(&managed_minors, &k))
		return 1;
	return bpf_map_lookup_elem(&allowed, &k) ? 1 : 0;
}

char LICENSE[] SEC("license") = "GPL";
