/* Why a BPF program did not load or attach, in words an administrator can act on: the step
 * that failed, the errno's text, and what it usually means on a kernel. Pure (no libbpf). */
#ifndef PASIDD_BPF_WHY_H
#define PASIDD_BPF_WHY_H

#include "bpfprog.h"

/* The kinds of program, for the hint. */
enum bpf_why_kind {
	BPF_WHY_LSM,     /* lsm / lsm.s */
	BPF_WHY_TRACING, /* fentry / fexit */
};

/* Marks st unavailable: "<step>: <strerror(err)> (<hint>)". err is positive or negative. */
void bpf_why_failed(struct bpfprog_state *st, enum bpf_why_kind kind, const char *step, int err);

#endif
