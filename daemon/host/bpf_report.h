/* The reports of pasidd's BPF programs, as read from their ring buffers: checked, put into
 * words, and (the observer's) judged against pasidd's table. Pure: no libbpf, built with or
 * without BPF, so that the unit tests run everywhere. */
#ifndef PASIDD_BPF_REPORT_H
#define PASIDD_BPF_REPORT_H

#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "attach_gate.h"
#include "observer.h"

#define BPF_REPORT_LINE_LEN 256

/* Copies a ring buffer record into *r: -EINVAL if it is not one (a size other than the
 * struct's: a program and a loader of different builds). Strings end in NUL afterwards. */
int bpf_report_gate_read(const void *data, size_t len, struct ag_report *r);
int bpf_report_observer_read(const void *data, size_t len, struct ob_report *r);

/* One log line for a gate decision: who (pid, tgid, uid, comm), what, and the verdict. */
void bpf_report_gate_format(const struct ag_report *r, char *out, size_t len);

/* What the observer's report means for pasidd. */
enum bpf_judgement {
	BPF_JUDGE_OURS,   /* pasidd's own attach/detach, matching its table */
	BPF_JUDGE_FAILED, /* the kernel refused the call: nothing changed */
	BPF_JUDGE_KERNEL, /* the kernel's own PASIDs (global allocator): noted */
	BPF_JUDGE_ALARM,  /* a PASID attached/detached that pasidd did not do, or not as its table
	                     says: someone went around pasidd */
	BPF_JUDGE_UNHELD, /* pasidd's own attach that its table does not hold: an alarm, unless
	                     pasidd detached it again before the report was read (a change
	                     undone because a later step failed): see struct bpf_pending */
};

/* What the observer asks of pasidd's table and tells it; dev is the kernel's dev_name(), a PCI
 * BDF for a PCI device. daemon/pasidd.c implements it over the namespace (ns_foreign_*). */
struct bpf_report_table {
	/* Whether the table holds PASID pasid attached to device dev. */
	bool (*holds)(void *ctx, const char *dev, uint32_t pasid);
	/* Another process attached pasid to dev: kept out of circulation until it is seen
	 * detached. 1 when newly kept out, 0 when there is nothing to keep (kept already, not a
	 * PCI device, outside pasidd's ranges), or a negative errno. May be NULL. */
	int (*take)(void *ctx, const char *dev, uint32_t pasid);
	/* pasid was seen detached from dev: 1 when it was kept out and now is not, else 0. May
	 * be NULL. */
	int (*release)(void *ctx, const char *dev, uint32_t pasid);
	void *ctx;
};

/* Judges an observed call: self is pasidd's tgid; why gets one line saying what was seen and,
 * for an alarm, why it is one. Keeps the table in step with what the kernel did: a
 * successful attach or replace by another process is taken, a successful detach by anyone
 * released; why says so when that changed something. */
enum bpf_judgement bpf_report_judge(const struct ob_report *r, pid_t self,
                                    const struct bpf_report_table *t, char *why, size_t len);

/* pasidd's own attaches judged BPF_JUDGE_UNHELD in one read of the ring buffer. pasidd makes
 * and undoes a change in one turn of its event loop, so the undoing detach is in the same
 * read as the attach: what is still pending after the read is an alarm. */
#define BPF_PENDING_MAX 32

struct bpf_pending {
	size_t n;
	struct bpf_pending_attach {
		char dev[OB_DEV_LEN];
		uint32_t pasid;
		char why[BPF_REPORT_LINE_LEN + 128]; /* the judgement's words */
	} e[BPF_PENDING_MAX];
};

/* Notes an unheld attach; -ENOSPC when full (the caller raises the alarm at once). */
int bpf_pending_add(struct bpf_pending *p, const struct ob_report *r, const char *why);
/* pasidd detached r's (device, PASID): drops a pending attach of it; whether there was one. */
bool bpf_pending_cancel(struct bpf_pending *p, const struct ob_report *r);

#endif
