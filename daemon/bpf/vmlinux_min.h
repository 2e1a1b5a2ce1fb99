/* The few kernel types pasidd's attach gate and observer use, instead of a full vmlinux.h.
 *
 * Checked in so that the BPF objects build the same everywhere, whatever kernel the build
 * host runs (or whether it has /sys/kernel/btf/vmlinux at all). The structs carry only the
 * members read, with preserve_access_index: libbpf relocates each access against the BTF of
 * the kernel that loads the program (CO-RE), so their offsets here do not matter. The map
 * types and flags are uAPI (include/uapi/linux/bpf.h) and fixed. */
#ifndef PASIDD_VMLINUX_MIN_H
#define PASIDD_VMLINUX_MIN_H

typedef unsigned char __u8;
typedef unsigned short __u16;
typedef signed int __s32;
typedef unsigned int __u32;
typedef signed long long __s64;
typedef unsigned long long __u64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;
typedef _Bool bool;
typedef __u32 ioasid_t;

enum bpf_map_type {
	BPF_MAP_TYPE_HASH = 1,
	BPF_MAP_TYPE_ARRAY = 2,
	BPF_MAP_TYPE_RINGBUF = 27,
};

enum {
	BPF_ANY = 0,
};

struct kobject {
	const char *name;
} __attribute__((preserve_access_index));

struct device {
	struct kobject kobj;
} __attribute__((preserve_access_index));

/* Only passed through as pointers. */
struct file;
struct iommu_domain;
struct iommu_attach_handle;

#endif
