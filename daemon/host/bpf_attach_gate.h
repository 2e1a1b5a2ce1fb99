/* The attach gate (../bpf/attach_gate.bpf.c): a BPF LSM program that refuses, or reports,
 * PASID attaches and detaches through VFIO by any process but pasidd, per [Bpf] AttachGate=.
 * Its decisions are read on the event loop and logged. */
#ifndef PASIDD_HOST_BPF_ATTACH_GATE_H
#define PASIDD_HOST_BPF_ATTACH_GATE_H

#include "bpfprog.h"
#include "config.h"

struct event_base;
struct bpf_attach_gate;

/* Loads and attaches the gate in mode, with pasidd's tgid the one allowed, and reads its
 * reports on base. Never fails pasidd: where the gate cannot run (mode off, a build without
 * BPF, the kernel's refusal), st says why and the result is NULL. */
struct bpf_attach_gate *bpf_attach_gate_open(struct event_base *base, enum bpf_gate mode,
                                             struct bpfprog_state *st);
void bpf_attach_gate_close(struct bpf_attach_gate *g);

#endif
