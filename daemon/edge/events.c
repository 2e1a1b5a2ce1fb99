/* The event stream (events.h): subscriptions, the notification of an audit entry, and the
 * subscriber that does not read. */
#include "events.h"
#include "audit.h"
#include "log.h"
#include "pasid-proto.h"
#include "pasidd.h"
#include "peer.h"
#include "server.h"

#include <errno.h>
#include <event2/event.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

struct sub {
	struct events *ev;
	LIST_ENTRY(sub) link;
	struct conn *c;
	uint64_t kinds; /* 0: all */
	char vm[NS_VM_NAME_MAX + 1];
	bool admin;
	uid_t uid;
	pid_t pid;
	/* Ended for not reading: counting what it loses until the grace is over (timer), then
	 * done. */
	bool overflow, done;
	uint64_t lost, first_lost;
	struct event *timer;
};

struct events {
	struct pasidd *d;
	LIST_HEAD(, sub) subs;
	struct events_stats st;
};

int
events_open(struct pasidd *d, struct events **out)
{
	struct events *ev = calloc(1, sizeof(*ev));

	if (!ev)
		return -ENOMEM;
	ev->d = d;
	LIST_INIT(&ev->subs);
	*out = ev;
	return 0;
}

static void
sub_free(struct sub *s)
{
	LIST_REMOVE(s, link);
	if (s->timer)
		event_free(s->timer);
	s->ev->st.subscriptions--;
	free(s);
}

void
events_close(struct events *ev)
{
	if (!ev)
		return;
	while (!LIST_EMPTY(&ev->subs))
		sub_free(LIST_FIRST(&ev->subs));
	free(ev);
}

static struct sub *
find(struct events *ev, const struct conn *c)
{
	struct sub *s;

	LIST_FOREACH(s, &ev->subs, link)
	if (s->c == c)
		return s;
	return NULL;
}

static void rfc3339(const struct timespec *t, char *out, size_t len);

/* An administrator's word of it, with a catalog entry (not an audit entry: no state changed,
 * and it is not sent as an event to anyone but the subscriber). */
static void
log_lost(const struct sub *s)
{
	char pid[16], uid[16], lost[24], first[24], *m = NULL;
	struct log_field f[] = {{"PASIDD_PEER_PID", pid},
	                        {"PASIDD_PEER_UID", uid},
	                        {"PASIDD_LOST", lost},
	                        {"PASIDD_SEQ", first}};

	snprintf(pid, sizeof(pid), "%d", (int)s->pid);
	snprintf(uid, sizeof(uid), "%u", (unsigned)s->uid);
	snprintf(lost, sizeof(lost), "%llu", (unsigned long long)s->lost);
	snprintf(first, sizeof(first), "%llu", (unsigned long long)s->first_lost);
	if (asprintf(&m,
	             "event subscriber pid %s uid %s did not read: %s event(s) from seq %s lost, "
	             "subscription ended",
	             pid, uid, lost, first) < 0)
		return;
	log_entry(LOG_WARNING, AUDIT_ID_EVENTS_LOST, f, sizeof(f) / sizeof(f[0]), m);
	free(m);
}

/* The grace is over: the last notification, then the connection ends. */
static void
end_sub(evutil_socket_t fd, short what, void *arg)
{
	struct sub *s = arg;
	struct json_object *n = json_object_new_object(), *p = json_object_new_object();
	struct timespec now;
	char t[64];

	(void)fd;
	(void)what;
	s->done = true;
	clock_gettime(CLOCK_REALTIME, &now);
	rfc3339(&now, t, sizeof(t));
	json_object_object_add(n, "jsonrpc", json_object_new_string("2.0"));
	json_object_object_add(n, "method", json_object_new_string("event"));
	json_object_object_add(p, "seq", json_object_new_uint64(s->first_lost));
	json_object_object_add(p, "time", json_object_new_string(t));
	json_object_object_add(p, "kind", json_object_new_string("lost"));
	json_object_object_add(p, "lost", json_object_new_uint64(s->lost));
	json_object_object_add(
	    p, "message",
	    json_object_new_string("the subscriber did not read its events: the subscription "
	                           "is ended and the connection closed"));
	json_object_object_add(n, "params", p);
	log_lost(s);
	server_push(s->c, n);
	server_hangup(s->c);
}

int
events_subscribe(struct events *ev, struct conn *c, const struct peer *p, uint64_t kinds,
                 const char *vm)
{
	struct sub *s = find(ev, c);

	if (!s) {
		if (!(s = calloc(1, sizeof(*s))))
			return -ENOMEM;
		s->ev = ev;
		s->c = c;
		if (!(s->timer = evtimer_new(ev->d->base, end_sub, s))) {
			free(s);
			return -ENOMEM;
		}
		LIST_INSERT_HEAD(&ev->subs, s, link);
		ev->st.subscriptions++;
	}
	s->kinds = kinds;
	snprintf(s->vm, sizeof(s->vm), "%s", vm ? vm : "");
	s->admin = p->admin;
	s->uid = p->uid;
	s->pid = p->pid;
	return 0;
}

void
events_conn_gone(struct events *ev, struct conn *c)
{
	struct sub *s;

	if (ev && (s = find(ev, c)))
		sub_free(s);
}

/* What the peer may see and asked for. */
static bool
wants(const struct sub *s, const struct audit_entry *e)
{
	if (s->kinds && !(s->kinds & (UINT64_C(1) << e->kind)))
		return false;
	if (s->vm[0] && (!e->has_vm || strcmp(s->vm, e->vm)))
		return false;
	return s->admin || (e->has_vm && e->vm_uid == s->uid);
}

static void
rfc3339(const struct timespec *t, char *out, size_t len)
{
	struct tm tm;
	char s[24];

	gmtime_r(&t->tv_sec, &tm);
	strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, len, "%s.%06dZ", s, (int)(t->tv_nsec / 1000 % 1000000));
}

static struct json_object *
notification(const struct audit_entry *e)
{
	struct json_object *n = json_object_new_object(), *p = json_object_new_object();
	char t[64];

	rfc3339(&e->time, t, sizeof(t));
	json_object_object_add(n, "jsonrpc", json_object_new_string("2.0"));
	json_object_object_add(n, "method", json_object_new_string("event"));
	json_object_object_add(p, "seq", json_object_new_uint64(e->seq));
	json_object_object_add(p, "time", json_object_new_string(t));
	json_object_object_add(p, "kind", json_object_new_string(audit_kind_names[e->kind]));
	for (unsigned i = 0; i < e->nf; i++)
		json_object_object_add(p, e->f[i].name,
		                       e->f[i].number
		                           ? json_object_new_int64(strtoll(e->f[i].value, NULL, 10))
		                           : json_object_new_string(e->f[i].value));
	if (e->message)
		json_object_object_add(p, "message", json_object_new_string(e->message));
	json_object_object_add(n, "params", p);
	return n;
}

/* This subscriber lost e: the first loss starts the grace after which it is told. */
static void
lose(struct sub *s, const struct audit_entry *e)
{
	struct timeval tv = {.tv_sec = EVENTS_GRACE_MS / 1000,
	                     .tv_usec = (EVENTS_GRACE_MS % 1000) * 1000};

	s->ev->st.dropped++;
	if (!s->overflow) {
		s->overflow = true;
		s->first_lost = e->seq;
		s->ev->st.ended++;
		evtimer_add(s->timer, &tv);
	}
	s->lost++;
}

void
events_publish(struct events *ev, const struct audit_entry *e)
{
	struct json_object *n = NULL;
	size_t len = 0, bound;
	struct sub *s;

	if (!ev)
		return;
	ev->st.published++;
	bound = ev->d->cfg.limits.max_event_buffer;
	LIST_FOREACH(s, &ev->subs, link)
	{
		if (s->done || !wants(s, e))
			continue;
		if (s->overflow) {
			lose(s, e);
			continue;
		}
		if (!n) {
			n = notification(e);
			proto_serialize(n, &len);
		}
		if (server_backlog(s->c) + len + 1 > bound - EVENTS_LOST_ROOM ||
		    server_push(s->c, json_object_get(n)) < 0) {
			lose(s, e);
			continue;
		}
		ev->st.sent++;
	}
	json_object_put(n);
}

void
events_get_stats(const struct events *ev, struct events_stats *st)
{
	if (ev)
		*st = ev->st;
	else
		memset(st, 0, sizeof(*st));
}
