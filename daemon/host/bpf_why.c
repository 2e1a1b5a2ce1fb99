/* Why a BPF program is not running (bpf_why.h). */
#include "bpf_why.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The kernel's own ENOTSUPP, which reaches user space unnamed ("Unknown error 524"). */
#define KERNEL_ENOTSUPP 524

/* Capability numbers (linux/capability.h; CAP_BPF and CAP_PERFMON are newer than some libc
 * headers). */
#define CAP_NR_SYS_ADMIN 21
#define CAP_NR_PERFMON   38
#define CAP_NR_BPF       39

/* Does this process have what loading tracing and LSM programs takes? Read from
 * /proc/self/status, so that an EPERM can say whether it is ours or the kernel's policy. */
static bool
have_bpf_caps(void)
{
	const unsigned long long need =
	    1ull << CAP_NR_SYS_ADMIN | 1ull << CAP_NR_PERFMON | 1ull << CAP_NR_BPF;
	unsigned long long eff = 0;
	char line[128];
	bool found = false;
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = sscanf(line, "CapEff: %llx", &eff) == 1;
	fclose(f);
	return found && (eff & need) == need;
}

static const char *
hint(enum bpf_why_kind kind, int err)
{
	switch (err) {
	case EPERM:
	case EACCES:
		if (have_bpf_caps())
			return "refused although pasidd has CAP_BPF, CAP_PERFMON and "
			       "CAP_SYS_ADMIN: "
			       "the kernel's policy (lockdown, a security module or a sandboxed "
			       "kernel) does not allow this program type";
		return "needs CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN";
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
