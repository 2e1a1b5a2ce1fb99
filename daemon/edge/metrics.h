/* daemon.metrics: the daemon's figures in the Prometheus text exposition format (0.0.4), for
 * node_exporter's textfile collector or any scraper that can read a string. What the tables
 * already hold (ranges, VMs, quotas, the journal) is read at the request; requests are counted
 * as they are answered, here. Label values come from pasidd's own names (methods of the table,
 * error reasons, cgroups and WQs it holds), never from what a peer sent, so no peer can grow
 * the output. */
#ifndef PASIDD_METRICS_H
#define PASIDD_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct pasidd;
struct rpc_method;
struct metrics;

struct metrics *metrics_new(void);
void metrics_free(struct metrics *m);
/* One answered request: its method (NULL: none of the table), the error code of its answer
 * (0 for a result) and how long it took. */
void metrics_request(struct metrics *m, const struct pasidd *d, const struct rpc_method *method,
                     int code, double seconds);
/* The exposition, malloc'd; NULL on ENOMEM. */
char *metrics_render(const struct pasidd *d);

#endif
