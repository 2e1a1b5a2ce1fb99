/* pasidd's BPF programs (daemon/bpf/NAME.bpf.c, loaded through libbpf skeletons): which there
 * are, and whether each runs on this host. Each is optional: where the kernel cannot load one,
 * pasidd says why (daemon.status.bpf) and runs without it. */
#ifndef PASIDD_BPFPROG_H
#define PASIDD_BPFPROG_H

#include <stdbool.h>
#include <stdint.h>

enum bpfprog {
	BPFPROG_ATTACH_GATE, /* BPF LSM on file_ioctl: only pasidd attaches PASIDs */
	BPFPROG_OBSERVER,    /* fexit on the kernel's PASID attach/detach, reconciled */
	BPFPROG_DEVICE_GATE, /* cgroup device programs: a VM's cgroup opens its own devices */
	BPFPROG_COUNT,
};

#define BPFPROG_WHY_LEN 256

struct bpfprog_state {
	bool active;
	char why[BPFPROG_WHY_LEN]; /* why not active, or what it does; "" for nothing to say */
	uint64_t reports;          /* records read from its ring buffer */
	uint64_t alarms;           /* of them, those that went around pasidd (logged as warnings) */
	uint64_t lost;             /* reports the program dropped on a full ring buffer */
};

/* "attach_gate", "observer", "device_gate": the members of daemon.status.bpf. */
const char *bpfprog_name(enum bpfprog p);
/* Whether this pasidd was built with its BPF programs (-DPASIDD_BPF). */
bool bpfprog_built(void);
/* Every program unavailable, saying why when the build has none: the state before loading. */
void bpfprog_init(struct bpfprog_state st[BPFPROG_COUNT]);
/* Marks one unavailable with a reason (printf). */
void bpfprog_unavailable(struct bpfprog_state *st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
