/* The daemon context: the one place that holds mutable state. */
#ifndef PASIDD_PASIDD_H
#define PASIDD_PASIDD_H

#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "config.h"
#include "namespace.h"

struct event_base;
struct backend;
struct server;

struct pasidd {
	struct pasidd_config cfg;
	struct event_base *base;
	struct backend *be;
	struct ns ns;
	struct server *srv;
	struct timespec started; /* CLOCK_MONOTONIC */
	gid_t admin_gid;	 /* (gid_t)-1: only uid 0 is admin */
};

#endif
