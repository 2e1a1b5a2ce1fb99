/* Why a BPF program is not running (bpf_why.h). */
#include "bpf_why.h"
#include "privs.h"

#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The kernel's own ENOTSUPP, which reaches user space unnamed ("Unknown error 524"). */
#define KERNEL_ENOTSUPP 524

static const char *
hint(enum bpf_why_kind kind, int err)
{
	switch (err) {
	case EPERM:
	case EACCES:
		/* The kernel loads tracing and LSM programs for CAP_BPF with CAP_PERFMON
		 * (or CAP_SYS_ADMIN, which covers both). */
		if (privs_have(PRIVS_BIT(CAP_BPF) | PRIVS_BIT(CAP_PERFMON)) ||
		    privs_have(PRIVS_BIT(CAP_SYS_ADMIN)))
			return "refused although pasidd has CAP_BPF and CAP_PERFMON: "
			       "the kernel's policy (lockdown, a security module or a sandboxed "
			       "kernel) does not allow this program type";
		return "needs CAP_BPF and CAP_PERFMON";
	case ESRCH:
	case ENOENT:
		return "the kernel function or hook is not in the kernel's BTF";
	case EOPNOTSUPP:
	case KERNEL_ENOTSUPP:
	case EINVAL:
		if (kind == BPF_WHY_LSM)
			return "kernel without BPF LSM active: CONFIG_BPF_LSM=y and boot with "
			       "lsm=...,bpf";
		return "kernel without BPF trampolines for fentry/fexit here "
		       "(CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS, or a sandboxed kernel)";
	case ENOSYS:
		return "kernel without the bpf() system call: CONFIG_BPF_SYSCALL";
	case E2BIG:
	case ENOMEM:
		return "raise RLIMIT_MEMLOCK or the kernel's BPF memory limits";
	}
	return NULL;
}

void
bpf_why_failed(struct bpfprog_state *st, enum bpf_why_kind kind, const char *step, int err)
{
	const char *h;
	const char *text;

	if (err < 0)
		err = -err;
	h = hint(kind, err);
	text = err == KERNEL_ENOTSUPP ? "Operation not supported (ENOTSUPP, 524)" : strerror(err);
	if (h)
		bpfprog_unavailable(st, "%s: %s (%s)", step, text, h);
	else
		bpfprog_unavailable(st, "%s: %s", step, text);
}
