/* What the attach gate (attach_gate.bpf.c) and its loader (host/bpf_attach_gate.c) share: the
 * modes, the ioctl numbers and the ring buffer record. Plain C with kernel-style fixed-width
 * types, included by the BPF program after vmlinux_min.h and by the loader after
 * <linux/types.h>. */
#ifndef PASIDD_BPF_ATTACH_GATE_H
#define PASIDD_BPF_ATTACH_GATE_H

/* _IO(';', 100 + 19 / 20) and VFIO_DEVICE_{ATTACH,DETACH}_PASID: vmlinux.h carries no macros,
 * so they are spelt out here; the loader asserts them against host/iommufd_abi.h. */
#define AG_CMD_ATTACH_PT ((';' << 8) | (100 + 19))
#define AG_CMD_DETACH_PT ((';' << 8) | (100 + 20))
#define AG_FLAG_PASID    (1u << 0)

/* The mode in the one-entry array map "config" (key 0). A map, not .rodata: libbpf only
 * creates global data maps where its probe program (a socket filter) loads, which needs
 * CONFIG_NET, and the test kernels do not have it. */
enum ag_mode {
	AG_MODE_AUDIT = 1,   /* report, allow */
	AG_MODE_ENFORCE = 2, /* refuse PASID attach/detach (the flag is read from user memory) */
	AG_MODE_STRICT = 3,  /* refuse every ATTACH/DETACH_IOMMUFD_PT (the ioctl number only) */
};

enum ag_verdict {
	AG_ALLOWED = 0, /* audit mode: would have been refused */
	AG_REFUSED = 1, /* -EPERM */
};

/* One decision about another process's attach/detach, in the ring buffer "reports". */
struct ag_report {
	__u32 pid;
	__u32 tgid;
	__u32 uid;
	__u32 cmd;
	__u32 flags;   /* the argument's flags; ~0 when they could not be read (strict mode) */
	__u32 verdict; /* enum ag_verdict */
	__u32 mode;    /* enum ag_mode */
	__u32 pad;
	char comm[16];
};

#endif
