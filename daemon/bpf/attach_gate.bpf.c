// SPDX-License-Identifier: GPL-2.0
/* pasidd's attach gate: a sleepable BPF LSM program on file_ioctl that keeps the PASIDs of a
 * VFIO device to pasidd. Another process (its tgid not in "allowed", which pasidd fills with
 * its own at start) issuing VFIO_DEVICE_ATTACH_IOMMUFD_PT or _DETACH_IOMMUFD_PT is, by mode:
 * - audit: reported, allowed;
 * - enforce: refused with EPERM when the argument's flags carry the PASID flag. The flags are
 *   read from user memory here and again by VFIO after us, so a second thread of the caller
 *   can change them in between: enforce stops mistakes and plain misuse, not a determined
 *   local attacker (the observer still sees what got through);
 * - strict: refused whatever the flags, decided on the ioctl number alone, so race-free. A
 *   RID attach by the VMM is refused too: pasidd does it for the VMM (device.attach).
 * The program does not tell which device the ioctl is for: it acts on every file, and the
 * two numbers (';', 119/120) belong to VFIO device cdevs only. So in strict mode no other
 * process on the host attaches any VFIO device to iommufd, managed by pasidd or not.
 * Sleepable (lsm.s) because bpf_copy_from_user may fault the page in. The same decision is made
 * on file_ioctl_compat (Linux 6.8+), the hook of a 32-bit process's ioctl, which would
 * otherwise pass the gate: VFIO's compat ioctl is the same call with the same argument (every
 * member a __u32). The kernel (7.3) does not let a program on that hook sleep, so it reads
 * the flags with bpf_probe_read_user, which cannot fault a page in: a read that fails counts
 * as a PASID attach (refused in enforce, reported in audit), never as a RID one. The loader
 * leaves that program out where the kernel lacks the hook. */
#include "vmlinux_min.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "attach_gate.h"

char LICENSE[] SEC("license") = "GPL";

#define EPERM 1

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32); /* enum ag_mode; 0 until pasidd sets it: allow, report nothing */
} config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8);
	__type(key, __u32);   /* tgid */
	__type(value, __u32); /* unused */
} allowed SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} reports SEC(".maps");

/* Reports dropped because the ring was full, read by pasidd through the mmap'd .bss: a
 * drop is never silent. */
__u64 lost = 0;

/* A full ring drops the report, never the decision. */
static __always_inline void
report(__u32 cmd, __u32 flags, __u32 verdict, __u32 mode)
{
	__u64 pt = bpf_get_current_pid_tgid();
	struct ag_report *r = bpf_ringbuf_reserve(&reports, sizeof(*r), 0);

	if (!r) {
		__sync_fetch_and_add(&lost, 1);
		return;
	}
	r->pid = (__u32)pt;
	r->tgid = pt >> 32;
	r->uid = (__u32)bpf_get_current_uid_gid();
	r->cmd = cmd;
	r->flags = flags;
	r->verdict = verdict;
	r->mode = mode;
	r->pad = 0;
	bpf_get_current_comm(r->comm, sizeof(r->comm));
	bpf_ringbuf_submit(r, 0);
}

/* compat: the 32-bit hook, whose program cannot sleep (see the top). */
static __always_inline int
decide(unsigned int cmd, unsigned long arg, int ret, bool compat)
{
	__u32 hdr[2] = {0, 0}; /* argsz, flags: how both argument structs begin */
	__u32 key = 0, mode, tgid, flags = ~0u;
	__u32 *m;

	if (ret)
		return ret; /* an earlier LSM refused already */
	if (cmd != AG_CMD_ATTACH_PT && cmd != AG_CMD_DETACH_PT)
		return 0;
	m = bpf_map_lookup_elem(&config, &key);
	mode = m ? *m : 0;
	if (mode < AG_MODE_AUDIT || mode > AG_MODE_STRICT)
		return 0;
	tgid = bpf_get_current_pid_tgid() >> 32;
	if (bpf_map_lookup_elem(&allowed, &tgid))
		return 0;
	if (mode != AG_MODE_STRICT) {
		if (!compat) {
			/* Unreadable: VFIO fails the same copy with EFAULT, nothing is
			 * attached. */
			if (bpf_copy_from_user(hdr, sizeof(hdr), (void *)arg))
				return 0;
			flags = hdr[1];
		} else if (bpf_probe_read_user(hdr, sizeof(hdr), (void *)arg) == 0) {
			flags = hdr[1];
		}
		/* A compat read that failed leaves flags ~0 ("not read"): the page may merely
		 * be out, which VFIO's copy would fault in, so it counts as a PASID one. */
		if (!(flags & AG_FLAG_PASID))
			return 0; /* a RID attach/detach: the VMM's own business */
	}
	if (mode == AG_MODE_AUDIT) {
		report(cmd, flags, AG_ALLOWED, mode);
		return 0;
	}
	report(cmd, flags, AG_REFUSED, mode);
	return -EPERM;
}

SEC("lsm.s/file_ioctl")
int
BPF_PROG(ag_file_ioctl, struct file *file, unsigned int cmd, unsigned long arg, int ret)
{
	return decide(cmd, arg, ret, 0);
}

SEC("lsm/file_ioctl_compat")
int
BPF_PROG(ag_file_ioctl_compat, struct file *file, unsigned int cmd, unsigned long arg, int ret)
{
	return decide(cmd, arg, ret, 1);
}
