/* Whether the kernel refuses a program type outright (bpf_probe.h). */
#include "bpf_probe.h"

#include <errno.h>
#include <linux/bpf.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int
bpf_probe_type_refused(enum bpf_probe_type type)
{
	/* r0 = 0; exit. With no attach target (attach_btf_id 0) a kernel that accepts the type
	 * refuses this one with EINVAL, after the checks that matter here. */
	struct bpf_insn insns[2] = {
	    {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0},
	    {.code = BPF_JMP | BPF_EXIT},
	};
	static const char license[] = "GPL";
	union bpf_attr attr;
	long fd;

	/* The whole union zeroed: what this kernel knows past our header's fields is zero. */
	memset(&attr, 0, sizeof(attr));
	attr.prog_type = type == BPF_PROBE_LSM ? BPF_PROG_TYPE_LSM : BPF_PROG_TYPE_TRACING;
	attr.expected_attach_type = type == BPF_PROBE_LSM ? BPF_LSM_MAC : BPF_TRACE_FEXIT;
	attr.insns = (unsigned long)insns;
	attr.insn_cnt = 2;
	attr.license = (unsigned long)license;
	fd = syscall(__NR_bpf, BPF_PROG_LOAD, &attr, sizeof(attr));
	if (fd >= 0) {
		close((int)fd);
		return 0;
	}
	return errno == ENOSYS || errno == EPERM || errno == EACCES ? -errno : 0;
}
