/* The event stream (DESIGN.md §4, events.subscribe): the audit entries (audit.h) sent as
 * JSON-RPC notifications {"method":"event","params":{seq, time, kind, vm, ...}} to the
 * connections that subscribed, filtered by kind and VM and by what the peer may see (a
 * non-admin only the VMs of its uid). Entries are published once durable, so a notification
 * never tells of a change a crash could undo.
 *
 * A subscriber that does not read never slows anyone: what the daemon holds for one
 * connection is bounded by [Limits] MaxEventBuffer= (bytes of unread output). An event that
 * would go beyond it ends the subscription: that event and every one after it for a grace of
 * EVENTS_GRACE_MS are counted as lost, then a last notification {kind:"lost", lost:N, seq:
 * the first lost} is queued (room is kept for it below the bound of server_push) and the
 * connection is closed once its output is written, or after the idle timeout (IdleTimeoutSec=)
 * if the peer reads nothing. Counted in daemon.metrics and logged. */
#ifndef PASIDD_EVENTS_H
#define PASIDD_EVENTS_H

#include <stdbool.h>
#include <stdint.h>

struct pasidd;
struct conn;
struct peer;
struct events;
struct audit_entry;

#define EVENTS_GRACE_MS 1000
/* Room kept below the bound for the last notification. */
#define EVENTS_LOST_ROOM 512

struct events_stats {
	uint64_t published;     /* entries published */
	uint64_t sent;          /* notifications queued to subscribers */
	uint64_t dropped;       /* notifications lost by subscribers that did not read */
	uint64_t subscriptions; /* subscribed now */
	uint64_t ended;         /* subscriptions ended for not reading */
};

int events_open(struct pasidd *d, struct events **out);
void events_close(struct events *ev);

/* Subscribes the connection (again: new filters): kinds a bit mask of 1 << enum audit_kind
 * (0: all), vm a VM name or NULL. 0 or -ENOMEM. */
int events_subscribe(struct events *ev, struct conn *c, const struct peer *p, uint64_t kinds,
                     const char *vm);
/* The connection is going away. */
void events_conn_gone(struct events *ev, struct conn *c);
/* One entry to every subscriber that may see it (audit.c, in order, once durable). */
void events_publish(struct events *ev, const struct audit_entry *e);
void events_get_stats(const struct events *ev, struct events_stats *st);

#endif
