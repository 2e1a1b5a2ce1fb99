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

/* Whether pasidd's table holds PASID pasid attached to device dev (dev_name(): a PCI BDF). */
typedef bool (*bpf_report_holds_fn)(void *ctx, const char *dev, uint32_t pasid);

/* Judges an observed call: self is pasidd's tgid; why gets one line saying what was seen and,
 * for an alarm, why it is one. */
enum bpf_judgement bpf_report_judge(const struct ob_report *r, pid_t self,
                                    bpf_report_holds_fn holds, void *ctx, char *why, size_t len);

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
