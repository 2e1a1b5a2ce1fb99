/* A connection's I/O (see server_internal.h): reading with descriptors, the output queues
 * and what holds them, writing, the idle timers, and pushing messages that are not answers. */
#include "events.h"
#include "log.h"
#include "pasid-proto.h"
#include "pasidd.h"
#include "render.h"
#include "server.h"
#include "server_internal.h"
#include "state.h"

#include <errno.h>
#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void
conn_batch_free(struct conn *c)
{
	json_object_put(c->batch.msg);
	free(c->batch.line);
	memset(&c->batch, 0, sizeof(c->batch));
}

void
conn_free(struct conn *c)
{
	struct server *srv = c->srv;
	struct event *evs[] = {c->rev, c->wev, c->rx_timer, c->tx_timer};
	struct evbuffer *bufs[] = {c->in, c->out, c->held, c->later};

	events_conn_gone(srv->d->events, c);
	LIST_REMOVE(c, link);
	if (c->queue)
		TAILQ_REMOVE(c->queue, c, ready_link);
	if (c->in_held)
		LIST_REMOVE(c, held_link);
	srv->nconns--;
	server_uid_count(srv, c->peer.uid, -1);
	if (c->peer.pidfd >= 0)
		close(c->peer.pidfd);
	for (unsigned i = 0; i < c->nfds; i++)
		close(c->fds[i].fd);
	rpc_fds_close(&c->msg_fds);
	conn_batch_free(c);
	for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
		if (evs[i])
			event_free(evs[i]);
	for (size_t i = 0; i < sizeof(bufs) / sizeof(bufs[0]); i++)
		if (bufs[i])
			evbuffer_free(bufs[i]);
	close(c->fd);
	free(c);
}

size_t
conn_unread(const struct conn *c)
{
	return evbuffer_get_length(c->out) + evbuffer_get_length(c->held);
}

/* Reads only while the input holds less than one maximal message beyond a complete one, so
 * a peer that sends faster than its requests are executed is held back by its socket. */
void
conn_update_reading(struct conn *c)
{
	bool want = !c->eof && !c->closing &&
	            evbuffer_get_length(c->in) <= c->srv->d->cfg.max_message + READ_CHUNK;

	if (want == c->reading)
		return;
	if (want)
		event_add(c->rev, NULL);
	else
		event_del(c->rev);
	c->reading = want;
}

/* rx_timer runs while the first message in c->in is incomplete: it must be complete within
 * the idle timeout of when it started to arrive. */
void
conn_update_rx_timer(struct conn *c)
{
	bool incomplete = !c->closing && evbuffer_get_length(c->in) > 0 && !conn_has_line(c);

	if (!incomplete) {
		evtimer_del(c->rx_timer);
	} else if (!evtimer_pending(c->rx_timer, NULL)) {
		struct timeval tv = {.tv_sec = c->srv->d->cfg.limits.idle_timeout_s};

		evtimer_add(c->rx_timer, &tv);
	}
}

/* An answer, a piece of a streamed batch answer or a pushed message: held while changes it
 * may report are not durable (in the journal, or still in an open transaction: a message
 * pushed in the middle of a request), and behind anything already held. */
void
conn_queue(struct conn *c, const void *data, size_t len)
{
	struct pasidd *d = c->srv->d;
	uint64_t gen = ns_txn_dirty(&d->ns) ? state_next_gen(d->state) : state_hold_gen(d->state);
	unsigned last = c->nhold - 1;

	if (!gen && !c->nhold) {
		evbuffer_add(c->out, data, len);
		return;
	}
	evbuffer_add(c->held, data, len);
	if (c->nhold && gen <= c->hold[last].gen) {
		c->hold[last].len += len; /* behind what is held, never before it */
	} else if (c->nhold < CONN_HOLD_SEGS) {
		c->hold[c->nhold].gen = gen;
		c->hold[c->nhold++].len = len;
	} else {
		c->hold[last].gen = gen; /* later than needed: never earlier */
		c->hold[last].len += len;
	}
	if (!c->in_held) {
		LIST_INSERT_HEAD(&c->srv->held, c, held_link);
		c->in_held = true;
	}
}

bool
conn_release(struct conn *c, uint64_t done)
{
	size_t bytes = 0;
	unsigned k = 0;

	while (k < c->nhold && c->hold[k].gen <= done)
		bytes += c->hold[k++].len;
	if (!k)
		return false;
	evbuffer_remove_buffer(c->held, c->out, bytes);
	memmove(c->hold, c->hold + k, (c->nhold - k) * sizeof(c->hold[0]));
	c->nhold -= k;
	if (!c->nhold) {
		LIST_REMOVE(c, held_link);
		c->in_held = false;
	}
	return true;
}

void
conn_send(struct conn *c, struct json_object *msg)
{
	size_t len;
	const char *s = render_print(msg, &len);

	conn_queue(c, s, len);
	conn_queue(c, "\n", 1);
	json_object_put(msg);
	c->queued++;
}

void
conn_send_element(struct conn *c, struct json_object *msg)
{
	size_t len;
	const char *s = render_print(msg, &len);

	conn_queue(c, c->batch.opened ? "," : "[", 1);
	conn_queue(c, s, len);
	json_object_put(msg);
	c->batch.opened = true;
	c->queued++;
}

void
conn_end_batch_answer(struct conn *c)
{
	size_t n = evbuffer_get_length(c->later);

	if (c->batch.opened)
		conn_queue(c, "]\n", 2);
	if (n) {
		conn_queue(c, evbuffer_pullup(c->later, (ssize_t)n), n);
		evbuffer_drain(c->later, n);
	}
}

int
server_push(struct conn *c, struct json_object *msg)
{
	size_t len;
	const char *s;

	if (c->closing) {
		json_object_put(msg);
		return -EPIPE;
	}
	/* The bound of what a peer that does not read can make the daemon hold. */
	if (conn_unread(c) + evbuffer_get_length(c->later) > OUT_HIGH_WATER) {
		json_object_put(msg);
		return -ENOBUFS;
	}
	s = render_print(msg, &len);
	/* Not inside the array of a batch answer being streamed: after it. */
	if (c->batch.opened) {
		evbuffer_add(c->later, s, len);
		evbuffer_add(c->later, "\n", 1);
	} else {
		conn_queue(c, s, len);
		conn_queue(c, "\n", 1);
	}
	json_object_put(msg);
	/* Written by the loop rather than here: the caller may be in the middle of anything,
	 * and a failed write frees the connection. */
	if (evbuffer_get_length(c->out))
		event_add(c->wev, NULL);
	return 0;
}

size_t
server_backlog(const struct conn *c)
{
	return conn_unread(c) + evbuffer_get_length(c->later);
}

void
server_hangup(struct conn *c)
{
	c->closing = true;
	conn_update_reading(c);
	conn_update_rx_timer(c);
	/* The write callback frees it once the output is written: made to run even when
	 * nothing is left to write. */
	event_active(c->wev, EV_WRITE, 0);
}

static void
conn_take_fds(struct conn *c, struct msghdr *mh)
{
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		int *fds = (int *)CMSG_DATA(cm);
		size_t n;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			if (c->nfds < CONN_MAX_FDS) {
				c->fds[c->nfds].fd = fds[i];
				c->fds[c->nfds++].at = c->received;
			} else {
				close(fds[i]);
			}
		}
	}
}

bool
conn_finished(const struct conn *c)
{
	/* A batch of a closing connection is not executed further. */
	if (conn_unread(c) || (c->batch.msg && !c->closing))
		return false;
	return c->closing || (c->eof && evbuffer_get_length(c->in) == 0);
}

static void
conn_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	char buf[READ_CHUNK];
	union {
		char b[CMSG_SPACE(CONN_MAX_FDS * sizeof(int))];
		struct cmsghdr align;
	} cbuf;
	struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	ssize_t n;

	mh.msg_control = cbuf.b;
	mh.msg_controllen = sizeof(cbuf.b);
	n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
		conn_free(c);
		return;
	}
	if (n > 0) {
		conn_take_fds(c, &mh);
		evbuffer_add(c->in, buf, (size_t)n);
		c->received += (uint64_t)n;
	} else if (n == 0) {
		c->eof = true;
		if (conn_finished(c)) {
			conn_free(c);
			return;
		}
	}
	conn_update_reading(c);
	conn_update_rx_timer(c);
	conn_schedule(c);
}

bool
conn_flush(struct conn *c)
{
	bool progress = false;

	while (evbuffer_get_length(c->out) > 0) {
		int n = evbuffer_write(c->out, c->fd);

		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				break;
			conn_free(c);
			return false;
		}
		progress |= n > 0;
	}
	if (evbuffer_get_length(c->out) > 0) {
		/* The peer owes us reading: the idle timeout runs from its last progress. */
		if (progress || !evtimer_pending(c->tx_timer, NULL)) {
			struct timeval tv = {.tv_sec = c->srv->d->cfg.limits.idle_timeout_s};

			evtimer_add(c->tx_timer, &tv);
		}
		event_add(c->wev, NULL);
		return true;
	}
	event_del(c->wev);
	evtimer_del(c->tx_timer);
	if (!evbuffer_get_length(c->held))
		c->queued = 0;
	if (conn_finished(c)) {
		conn_free(c);
		return false;
	}
	/* Work it could not do while its peer was not reading is not fresh. */
	if (conn_unread(c) < OUT_LOW_WATER)
		conn_schedule_to(c, &c->srv->ready);
	return true;
}

static void
conn_write_cb(evutil_socket_t fd, short what, void *arg)
{
	conn_flush(arg);
}

/* Answers owed to the peer and not yet delivered whole: each ends with the one LF of its
 * line. */
static unsigned
undelivered(const struct conn *c)
{
	const struct evbuffer *bufs[] = {c->out, c->held};
	unsigned n = 0;

	for (int i = 0; i < 2; i++) {
		struct evbuffer_ptr p = evbuffer_search((struct evbuffer *)bufs[i], "\n", 1, NULL);

		while (p.pos >= 0) {
			n++;
			if (evbuffer_ptr_set((struct evbuffer *)bufs[i], &p, 1, EVBUFFER_PTR_ADD) <
			    0)
				break;
			p = evbuffer_search((struct evbuffer *)bufs[i], "\n", 1, &p);
		}
	}
	return n + (c->batch.opened ? 1 : 0);
}

/* A timer ran out: the peer owes a message (rx) or reading (tx). */
static void
conn_timeout(struct conn *c, bool rx)
{
	unsigned s = c->srv->d->cfg.limits.idle_timeout_s;

	if (rx)
		log_info("closing the connection of pid %d uid %u: a message stayed incomplete "
		         "for %u s (%zu bytes of it received); %u answer(s) undelivered",
		         (int)c->peer.pid, (unsigned)c->peer.uid, s, evbuffer_get_length(c->in),
		         undelivered(c));
	else
		log_info("closing the connection of pid %d uid %u: it read none of its answers "
		         "for %u s; %u answer(s) (%zu bytes) dropped",
		         (int)c->peer.pid, (unsigned)c->peer.uid, s, undelivered(c),
		         conn_unread(c));
	conn_free(c);
}

static void
conn_rx_timeout(evutil_socket_t fd, short what, void *arg)
{
	conn_timeout(arg, true);
}

static void
conn_tx_timeout(evutil_socket_t fd, short what, void *arg)
{
	conn_timeout(arg, false);
}

struct conn *
conn_new(struct server *srv, int fd, const struct peer *p)
{
	struct event_base *base = srv->d->base;
	struct conn *c = calloc(1, sizeof(*c));

	if (!c) {
		if (p->pidfd >= 0)
			close(p->pidfd);
		close(fd);
		return NULL;
	}
	c->srv = srv;
	c->fd = fd;
	c->peer = *p;
	server_uid_count(srv, p->uid, +1);
	c->in = evbuffer_new();
	c->out = evbuffer_new();
	c->held = evbuffer_new();
	c->later = evbuffer_new();
	c->rev = event_new(base, fd, EV_READ | EV_PERSIST, conn_read_cb, c);
	c->wev = event_new(base, fd, EV_WRITE | EV_PERSIST, conn_write_cb, c);
	c->rx_timer = evtimer_new(base, conn_rx_timeout, c);
	c->tx_timer = evtimer_new(base, conn_tx_timeout, c);
	LIST_INSERT_HEAD(&srv->conns, c, link);
	srv->nconns++;
	if (!c->in || !c->out || !c->held || !c->later || !c->rev || !c->wev || !c->rx_timer ||
	    !c->tx_timer || event_add(c->rev, NULL) < 0) {
		conn_free(c);
		return NULL;
	}
	c->reading = true;
	return c;
}
