/* The daemon context: the one place that holds mutable state. The composition root
 * (../pasidd.c) builds it from the layers below; the edge serves it. */
#ifndef PASIDD_PASIDD_H
#define PASIDD_PASIDD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "bpfprog.h"
#include "config.h"
#include "namespace.h"

struct event_base;
struct event;
struct backend;
struct server;
struct state;
struct owners;
struct quota;
struct json_object;
struct json_tokener;
struct rpc_method;
struct bpf_devgate;

struct fdstore;
struct wq_watch;
struct bpf_attach_gate;
struct bpf_observer;
struct metrics;
struct audit;
struct events;

struct pasidd {
	struct pasidd_config cfg;
	struct event_base *base;
	struct backend *be;
	struct ns ns;
	struct quota *quota;      /* cgroup PASID quotas, observing ns */
	struct state *state;      /* the journal, observing ns; NULL without a state directory */
	struct owners *owners;    /* owner liveness, observing ns */
	struct fdstore *fdstore;  /* the service manager's fd store, observing ns */
	struct wq_watch *wqwatch; /* the work queues that mappings were handed out for */
	struct bpfprog_state bpf[BPFPROG_COUNT]; /* whether each BPF program runs, and why not */
	struct bpf_attach_gate *attach_gate;     /* NULL where it does not run (bpf[] says why) */
	struct bpf_observer *observer;           /* likewise */
	struct metrics *metrics; /* requests counted for daemon.metrics; NULL: not counted */
	struct audit *audit;     /* the audit trail, observing ns; NULL: none (audit.h) */
	struct events *events;   /* the event stream's subscribers; NULL: none (events.h) */
	/* The command line, which a reload reads again with the files; NULL: the files only. */
	int argc;
	char **argv;
	struct server *srv;
	struct timespec started;     /* CLOCK_MONOTONIC */
	struct bpf_devgate *devgate; /* the VMs' cgroup device programs, observing ns; or NULL */
	gid_t admin_gid;             /* (gid_t)-1: only uid 0 is admin */
	int exit_status;             /* non-zero: stop serving, main() returns it */
	struct json_object *openrpc; /* rpc.discover's document, parsed on first use */
	struct json_tokener *tok;    /* parses every request (rpc.c), made on first use */
	/* The capabilities kept after start-up (pasidd_limit_privileges) and those given up. */
	uint64_t caps_kept, caps_dropped;
	bool caps_limited; /* false: nothing given up (pasidd_limit_privileges not called) */
	/* The methods served: NULL for rpc_methods (methods.h); a test may serve its own. */
	const struct rpc_method *methods;
	struct event *resv_timer; /* the next expiry of a reservation (range_expiry.c), or NULL */
};

#endif
