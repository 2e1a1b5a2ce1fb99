/* What the benchmarks share: a clock, filling a daemon with mappings, reading a process's
 * CPU time and memory, pinning, profiling, and the result rows tests/bench/run.sh tabulates. */
#ifndef PASIDD_BENCH_COMMON_H
#define PASIDD_BENCH_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Seconds of CLOCK_MONOTONIC. */
double bench_now(void);
/* Registers identity-mode VMs vm0, vm1, ... of at most per_vm mappings each and allocates
 * `mappings` shared PASIDs in them, 4096 a request; the daemon's shared range must hold
 * them. Exits on failure. Returns the number of VMs. */
int bench_fill_identity(int fd, int mappings, int per_vm);
/* The same, adding the bytes of the requests sent and the answers received to *sent and
 * *received and the number of requests to *requests (each may be NULL). */
int bench_fill_identity_counted(int fd, int mappings, int per_vm, size_t *sent, size_t *received,
                                long *requests);

/* One row of the table run.sh prints, as a line "@row|bench|figure|baseline|ratio|target|met"
 * on stdout (the other lines are for people). ratio < 0: none; met < 0: no target. */
void bench_row(const char *bench, const char *figure, const char *baseline, double ratio,
               const char *target, int met);

/* utime + stime of a process in seconds (/proc/<pid>/stat; clock-tick resolution), -1 when
 * unknown. pid 0: this process. */
double bench_cpu_secs(pid_t pid);
/* Of that, the time in user space. */
double bench_user_secs(pid_t pid);
/* Resident set of this process in bytes (/proc/self/statm). */
long bench_self_rss(void);
/* Moves the calling thread (and what it forks from now on) to CPU `cpu` modulo the CPUs
 * there are. The CPU's number, or -1 when it cannot. */
int bench_pin(int cpu);

/* When BENCH_PERF names a directory, runs `perf record -e cpu-clock -g` on process pid into
 * BENCH_PERF/<label>.data until bench_perf_stop. The perf process, or 0 when not profiling. */
pid_t bench_perf_start(pid_t pid, const char *label);
void bench_perf_stop(pid_t perf);

/* Whether BENCH_QUICK is set (run.sh --quick): small sizes, to check that things run. */
int bench_quick(void);

struct it_daemon;
/* Fills *d for a daemon whose directory is a fresh mkdtemp under top (the file system to be
 * measured: /dev/shm for tmpfs, /var/tmp for disk); start it with it_restart. Exits on
 * failure. */
void bench_daemon_in(struct it_daemon *d, const char *top);

struct ns_owner;
/* How bench_write_journal_with lays the journal out. */
struct bench_journal {
	unsigned mappings, per_vm;
	bool attached;    /* a REC_ATTACH after each REC_MAP */
	bool interleaved; /* mapping i goes to VM i % VMs, so no two of a VM are consecutive and
	                   * a snapshot cannot gather them in REC_MAP_RUN runs (as when many VMs
	                   * allocate at once); else VM by VM, one run each */
	unsigned churn;   /* then this many REC_MAP + REC_UNMAP pairs of one more PASID: a journal
	                   * long enough for the daemon to find a compaction due */
	const struct ns_owner *owner; /* NULL: pid 1, which a daemon would reclaim */
};
/* A state directory holding only a journal, written with the journal's own calls as the daemon
 * writes them: identity-mode VMs vm0, vm1, ... (REC_VM, REC_DEV, then one REC_MAP per mapping,
 * each PASID 4096 + i). Returns the number of records; exits on failure. */
unsigned long bench_write_journal_with(const char *dir, const struct bench_journal *how);
/* VM by VM, no churn. */
unsigned long bench_write_journal(const char *dir, unsigned mappings, unsigned per_vm,
                                  bool attached, const struct ns_owner *owner);

#endif
