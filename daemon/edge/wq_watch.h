/* The work queues that shared mappings were handed out for, watched: one that goes away, or
 * stops being shared, of type user and enabled on an enabled, PASID-enabled device, breaks
 * the guests that submit to it, so it is logged when that starts and ends, and reported in
 * daemon.status.warnings while it lasts. Checked every WQ_WATCH_INTERVAL_S seconds, at
 * start-up and at each daemon.status, reading sysfs each time. */
#ifndef PASIDD_WQ_WATCH_H
#define PASIDD_WQ_WATCH_H

#include <json-c/json.h>

#define WQ_WATCH_INTERVAL_S 10

struct pasidd;
struct wq_watch;

/* Checks now (logging what is wrong) and every interval from now on. 0 or -ENOMEM. */
int wq_watch_open(struct pasidd *d, struct wq_watch **out);
void wq_watch_free(struct wq_watch *w);
/* Checks now, logging changes; the warnings as daemon.status shows them. */
struct json_object *wq_watch_warnings(struct wq_watch *w);

#endif
