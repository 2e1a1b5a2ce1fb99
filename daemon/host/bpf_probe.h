/* Whether the kernel lets pasidd load a program type at all, asked with a trivial program.
 * Loading the real programs first parses the kernel's BTF (megabytes; seconds under valgrind),
 * which is wasted where the kernel refuses the type outright: no bpf(), no capability, or a
 * policy (lockdown, a security module, a sandboxed kernel). */
#ifndef PASIDD_BPF_PROBE_H
#define PASIDD_BPF_PROBE_H

#include <stdbool.h>

/* The program types pasidd's programs have. */
enum bpf_probe_type {
	BPF_PROBE_LSM,   /* BPF_PROG_TYPE_LSM, BPF_LSM_MAC */
	BPF_PROBE_FEXIT, /* BPF_PROG_TYPE_TRACING, BPF_TRACE_FEXIT */
};

/* -ENOSYS, -EPERM or -EACCES when the kernel refuses the type before looking at the program;
 * 0 otherwise (any other answer, which the real load then explains). */
int bpf_probe_type_refused(enum bpf_probe_type type);

#endif
