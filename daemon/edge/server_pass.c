/* Executing (see server_internal.h): which connections get a slice of the server pass, how a
 * slice frames and runs their messages through rpc.c, and the group commit that ends the
 * pass. */
#include "pasid-proto.h"
#include "pasidd.h"
#include "server_internal.h"
#include "state.h"

#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SLICE_REQUESTS 32
#define SLICE_NS       1000000L /* one connection's share of a pass */
#define PASS_NS        5000000L /* a pass yields to the loop after this */

static const struct timeval now_tv = {0, 0};

static int64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Executing more would pile up answers the peer has not read. */
static bool
conn_blocked(const struct conn *c)
{
	return conn_unread(c) > OUT_HIGH_WATER || c->queued >= c->srv->d->cfg.limits.max_pending;
}

bool
conn_has_line(const struct conn *c)
{
	size_t avail = evbuffer_get_length(c->in);
	struct evbuffer_ptr p;

	if (!avail)
		return false;
	p = evbuffer_search(c->in, "\n", 1, NULL);
	return p.pos >= 0 || c->eof || avail > c->srv->d->cfg.max_message;
}

static bool
conn_has_work(const struct conn *c)
{
	return !c->closing && !conn_blocked(c) && (c->batch.msg || conn_has_line(c));
}

void
conn_schedule_to(struct conn *c, struct conn_queue *q)
{
	struct server *srv = c->srv;

	if (c->queue || !conn_has_work(c))
		return;
	TAILQ_INSERT_TAIL(q, c, ready_link);
	c->queue = q;
	if (evtimer_pending(srv->pass, NULL) && !srv->in_pass)
		return;
	/* Work that came with this turn's I/O runs in this turn, after the callbacks the poll
	 * made active (so a pass still gathers all of them for one commit): no extra poll and
	 * loop turn a request. Work left over by a pass waits for the next turn's poll, so
	 * that I/O comes in between. */
	if (srv->in_pass)
		evtimer_add(srv->pass, &now_tv);
	else
		event_active(srv->pass, EV_TIMEOUT, 1);
}

void
conn_schedule(struct conn *c)
{
	conn_schedule_to(c, &c->srv->fresh);
}

/* The message ending `used` bytes on is the one handled now: the descriptors that came with
 * it are its own (c->msg_fds), for its requests to take. */
static void
conn_message_start(struct conn *c, size_t used)
{
	unsigned keep = 0;

	for (unsigned i = 0; i < c->nfds; i++) {
		if (c->fds[i].at < c->consumed + used)
			c->msg_fds.fd[c->msg_fds.n++] = c->fds[i].fd;
		else
			c->fds[keep++] = c->fds[i];
	}
	c->nfds = keep;
}

/* The message is handled: descriptors that came with it and that no method took are closed,
 * so they can never be mistaken for a later one's. */
static void
conn_message_done(struct conn *c, size_t used)
{
	c->consumed += used;
	rpc_fds_close(&c->msg_fds);
}

/* A line over the limit: say so, and hang up (DESIGN.md §4). */
static void
conn_too_long(struct conn *c)
{
	char msg[96];

	snprintf(msg, sizeof(msg), "message longer than %zu bytes", c->srv->d->cfg.max_message);
	conn_send(c, proto_error_new(NULL, PROTO_E_INVALID_REQ, msg, NULL));
	evbuffer_drain(c->in, evbuffer_get_length(c->in));
	c->closing = true;
	conn_update_reading(c);
}

static bool
blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return false;
	return true;
}

static struct rpc_msg
conn_msg(struct conn *c, const char *line, size_t len)
{
	return (struct rpc_msg){
	    .peer = &c->peer, .conn = c, .line = line, .len = len, .fds = &c->msg_fds};
}

/* Executes the next request of the batch in progress. */
static void
conn_batch_step(struct conn *c)
{
	struct rpc_msg m = conn_msg(c, c->batch.line, c->batch.len);
	struct json_object *resp =
	    rpc_handle_one(c->srv->d, &m, json_object_array_get_idx(c->batch.msg, c->batch.next),
	                   (int)c->batch.next);

	c->batch.next++;
	if (resp)
		conn_send_element(c, resp);
	if (c->batch.next < c->batch.n)
		return;
	conn_end_batch_answer(c);
	conn_message_done(c, c->batch.used);
	conn_batch_free(c);
}

/* Handles a complete message of c->in, or starts its batch. */
static void
conn_handle(struct conn *c, const char *line, size_t len, size_t used)
{
	struct json_object *msg, *error;

	conn_message_start(c, used);
	if (blank(line, len)) {
		conn_message_done(c, used);
	} else if (!(msg = rpc_parse(c->srv->d, line, len, &error))) {
		conn_send(c, error);
		conn_message_done(c, used);
	} else if (!json_object_is_type(msg, json_type_array)) {
		struct rpc_msg m = conn_msg(c, line, len);
		struct json_object *resp = rpc_handle_one(c->srv->d, &m, msg, -1);

		json_object_put(msg);
		if (resp)
			conn_send(c, resp);
		conn_message_done(c, used);
	} else if (!(c->batch.line = malloc(len))) {
		json_object_put(msg);
		conn_send(c, proto_error_new(NULL, PROTO_E_INTERNAL, "out of memory", NULL));
		conn_message_done(c, used);
	} else {
		memcpy(c->batch.line, line, len);
		c->batch.len = len;
		c->batch.used = used;
		c->batch.msg = msg;
		c->batch.n = json_object_array_length(msg);
	}
}

/* Takes the next message out of c->in and handles it, or starts its batch. False when there
 * is none complete. */
static bool
conn_next_message(struct conn *c)
{
	size_t max = c->srv->d->cfg.max_message, avail = evbuffer_get_length(c->in), len, used;
	struct evbuffer_ptr p = evbuffer_search(c->in, "\n", 1, NULL);

	if (p.pos < 0) {
		if (avail > max) {
			conn_too_long(c);
			return false;
		}
		if (!c->eof || !avail)
			return false;
		/* A last message without its LF still counts. */
		len = used = avail;
	} else {
		if ((size_t)p.pos > max) {
			conn_too_long(c);
			return false;
		}
		len = (size_t)p.pos;
		used = len + 1;
	}
	conn_handle(c, (const char *)evbuffer_pullup(c->in, (ssize_t)used), len, used);
	evbuffer_drain(c->in, used);
	return true;
}

/* One connection's slice of a pass. */
static void
conn_work(struct conn *c, int64_t until)
{
	for (unsigned n = 0; n < SLICE_REQUESTS; n++) {
		if (c->closing || conn_blocked(c) || (n > 0 && mono_ns() >= until))
			break;
		if (c->batch.msg)
			conn_batch_step(c);
		else if (!conn_next_message(c))
			break;
	}
	conn_update_reading(c);
	conn_update_rx_timer(c);
}

/* Gives each connection queued in q now one slice, the ones with more work going behind the
 * others; false when the pass has used its time. */
static bool
serve_queue(struct server *srv, struct conn_queue *q, int64_t start)
{
	unsigned n = 0;
	struct conn *c;

	TAILQ_FOREACH(c, q, ready_link)
	n++;
	while (n-- > 0 && (c = TAILQ_FIRST(q))) {
		TAILQ_REMOVE(q, c, ready_link);
		c->queue = NULL;
		conn_work(c, mono_ns() + SLICE_NS);
		if (!conn_flush(c))
			continue;
		conn_schedule_to(c, &srv->ready);
		if (mono_ns() - start >= PASS_NS)
			return false;
	}
	return true;
}

void
server_pass(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;
	int64_t start = mono_ns();

	srv->in_pass = true;
	if (serve_queue(srv, &srv->fresh, start))
		serve_queue(srv, &srv->ready, start);
	/* One commit for the whole pass, off the loop (or behind the one in flight); on_durable
	 * then releases what it held (also what was held for changes a transaction undid: the
	 * commit finds nothing to write, and is done at once). */
	state_commit_async(srv->d->state);
	/* Without a state (in-process uses) nothing is ever pending. */
	if (!srv->d->state)
		server_on_durable(srv);
	if ((!TAILQ_EMPTY(&srv->fresh) || !TAILQ_EMPTY(&srv->ready)) &&
	    !evtimer_pending(srv->pass, NULL))
		evtimer_add(srv->pass, &now_tv);
	srv->in_pass = false;
}

void
server_on_durable(void *arg)
{
	struct server *srv = arg;
	uint64_t done = state_durable_gen(srv->d->state);
	struct conn *c, *next;

	for (c = LIST_FIRST(&srv->held); c; c = next) {
		next = LIST_NEXT(c, held_link);
		if (conn_release(c, done))
			conn_flush(c); /* may free c, which is out of the list by then */
	}
}
