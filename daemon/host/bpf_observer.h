/* The observer (../bpf/observer.bpf.c): fexit on the kernel's PASID attach, replace and
 * detach (and its own global PASIDs), reconciled against pasidd's table as the reports come;
 * what pasidd did not do is an alarm, logged and counted in daemon.status.bpf.observer. */
#ifndef PASIDD_HOST_BPF_OBSERVER_H
#define PASIDD_HOST_BPF_OBSERVER_H

#include "bpf_report.h"
#include "bpfprog.h"

struct event_base;
struct bpf_observer;

/* Loads and attaches the observer and reads its reports on base, reconciling them with the
 * table t (copied; its ctx must outlive the observer): whether it holds a PASID attached to a
 * device, and the PASIDs another process attached, kept out of allocation until seen detached.
 * Never fails pasidd: where it cannot run, st says why and the result is NULL. */
struct bpf_observer *bpf_observer_open(struct event_base *base, struct bpfprog_state *st,
                                       const struct bpf_report_table *t);
void bpf_observer_close(struct bpf_observer *o);

#endif
