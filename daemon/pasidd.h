/* The daemon context: the one place that holds mutable state. */
#ifndef PASIDD_PASIDD_H
#define PASIDD_PASIDD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "config.h"
#include "namespace.h"

struct event_base;
struct backend;
struct server;
struct journal;
struct event;
struct quota;
struct json_object;

struct pasidd {
	struct pasidd_config cfg;
	struct event_base *base;
	struct backend *be;
	struct ns ns;
	struct quota *quota; /* cgroup PASID quotas; charged through ns.hooks */
	struct server *srv;
	struct timespec started; /* CLOCK_MONOTONIC */
	gid_t admin_gid;         /* (gid_t)-1: only uid 0 is admin */
	struct journal *journal;
	struct event *owner_poll; /* owners without a pidfd, checked every second */
	struct event *commit_ev;  /* commits changes made outside a request */
	struct {
		void (*fn)(void *ctx);
		void *ctx;
	} durable[4]; /* told after each commit (state_on_durable) */
	unsigned ndurable;
	int exit_status;             /* non-zero: stop serving, main() returns it */
	double replay_ms;            /* start-up replay time */
	struct json_object *openrpc; /* rpc.discover's document, parsed on first use */
	char state_error[256];       /* why the state could not be replayed */
};

#endif
