/* What the benchmarks share: a clock and filling a daemon with mappings. */
#ifndef PASIDD_BENCH_COMMON_H
#define PASIDD_BENCH_COMMON_H

/* Seconds of CLOCK_MONOTONIC. */
double bench_now(void);
/* Registers identity-mode VMs vm0, vm1, ... of at most per_vm mappings each and allocates
 * `mappings` shared PASIDs in them, 4096 a request; the daemon's shared range must hold
 * them. Exits on failure. Returns the number of VMs. */
int bench_fill_identity(int fd, int mappings, int per_vm);

#endif
