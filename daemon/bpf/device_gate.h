/* What the device gate's maps hold, shared by the BPF program and its loader. */
#ifndef PASIDD_DEVICE_GATE_H
#define PASIDD_DEVICE_GATE_H

#ifdef __bpf__
typedef __u32 devgate_u32;
#else
#include <stdint.h>
typedef uint32_t devgate_u32;
#endif

/* A character device: the keys of `allowed` and `managed_minors`. */
struct devgate_key {
	devgate_u32 major;
	devgate_u32 minor;
};

/* Room in each map: a VM's devices, WQs and DeviceAllow= entries; the majors gated. */
#define DEVGATE_MAX_ALLOWED 1024
#define DEVGATE_MAX_MANAGED 64

#endif
