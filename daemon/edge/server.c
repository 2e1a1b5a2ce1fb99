/*
 * The control socket's connections. Reading, executing and writing are separate steps:
 *
 *  - conn_read_cb reads what the peer sent, with any SCM_RIGHTS descriptors, into c->in,
 *    but never more than one maximal message beyond what is waiting to be executed.
 *  - The server pass (server_pass, a zero-timeout timer, so it runs once per loop iteration
 *    after the I/O callbacks) gives each connection with work a slice: a few requests or
 *    about a millisecond, whichever ends first, the whole pass a few milliseconds.
 *    Connections that just received work are served before those continuing a long one, so
 *    a small request does not wait behind every heavy peer's slice. A batch
 *    is executed one request at a time across slices and its answer streamed element by
 *    element. At the end of the pass the state is committed once (group commit).
 *  - An answer made while changes wait in the journal goes to c->held; it moves to c->out
 *    only when the state says everything is durable (on_durable). conn_flush writes c->out
 *    alone. So no byte of an answer leaves before the commit that covers what it reports,
 *    and a commit cannot be postponed by other events: it ends the pass that made the change.
 *  - A connection whose unread output exceeds OUT_HIGH_WATER (or MaxPending answers) is not
 *    executed further until its peer reads: the memory one connection can make the daemon
 *    hold is bounded by the mark plus one answer.
 *
 * Two timers per connection measure what a peer owes: rx_timer a message that stays
 * incomplete, tx_timer answers that the peer does not read.
 */
#include "server.h"
#include "log.h"
#include "pasid-proto.h"
#include "pasidd.h"
#include "peer.h"
#include "rpc.h"
#include "sockfile.h"
#include "state.h"
#include "u32map.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#define OUT_HIGH_WATER (256u << 10) /* stop executing for a peer that does not read */
#define OUT_LOW_WATER  (64u << 10)
#define READ_CHUNK     (64 * 1024)
#define CONN_MAX_FDS   16
#define SLICE_REQUESTS 32
#define SLICE_NS       1000000L /* one connection's share of a pass */
#define PASS_NS        5000000L /* a pass yields to the loop after this */

struct conn {
	struct server *srv;
	LIST_ENTRY(conn) link;
	TAILQ_ENTRY(conn) ready_link; /* in srv->fresh or srv->ready: has work to execute */
	LIST_ENTRY(conn) held_link;   /* in srv->held: c->held waits for a commit */
	bool in_held;
	struct conn_queue *queue; /* the one of srv->fresh, srv->ready it is in, or NULL */
	int fd;
	struct event *rev, *wev;
	struct event *rx_timer, *tx_timer;
	struct evbuffer *in, *out, *held;
	struct peer peer;
	/* Descriptors received with SCM_RIGHTS, with the stream offset of the byte they came
	 * with: they belong to the message that byte is part of. */
	struct {
		int fd;
		uint64_t at;
	} fds[CONN_MAX_FDS];
	unsigned nfds;
	uint64_t received; /* bytes read from the peer so far */
	uint64_t consumed; /* bytes of it handled as messages */
	/* A batch being executed: its text (ids are echoed from it), the parsed array, the next
	 * request, and whether its answer array has been opened on the output. */
	struct {
		char *line;
		size_t len, used;
		struct json_object *msg;
		size_t next, n;
		bool opened;
	} batch;
	bool reading;    /* rev is armed */
	bool eof;        /* the peer will send no more */
	bool closing;    /* close once the output is written */
	unsigned queued; /* answers queued since the output was last empty */
};

TAILQ_HEAD(conn_queue, conn);

struct server {
	struct pasidd *d;
	struct evconnlistener *lev;
	char *path;    /* the socket file we created, NULL when systemd owns it */
	char *display; /* where we listen, for humans */
	LIST_HEAD(, conn) conns;
	/* Connections with work: those that just got some (fresh), served first in a pass so
	 * that a small request does not wait behind every heavy peer's slice, and those that
	 * had more than a slice (ready). */
	struct conn_queue fresh, ready;
	LIST_HEAD(, conn) held;
	unsigned nconns;
	struct u32map per_uid; /* uid -> connections + 1 (non-NULL) */
	struct event *pass;    /* executes the ready connections */
	struct event *resume;  /* re-enables accepting after descriptors ran out */
	unsigned refused;      /* connections turned away by a limit */
};

static const struct timeval now_tv = {0, 0};

static bool conn_flush(struct conn *c);

static int64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Connections of uid, after adding delta. */
static unsigned
uid_count(struct server *srv, uid_t uid, int delta)
{
	uintptr_t n = (uintptr_t)u32map_get(&srv->per_uid, (uint32_t)uid);

	n = n ? n - 1 : 0;
	if (delta < 0 && n > 0)
		n--;
	else if (delta > 0)
		n++;
	if (n == 0)
		u32map_del(&srv->per_uid, (uint32_t)uid);
	else
		u32map_put(&srv->per_uid, (uint32_t)uid, (void *)(n + 1));
	return (unsigned)n;
}

static void
batch_end(struct conn *c)
{
	json_object_put(c->batch.msg);
	free(c->batch.line);
	memset(&c->batch, 0, sizeof(c->batch));
}

static void
conn_free(struct conn *c)
{
	struct server *srv = c->srv;

	LIST_REMOVE(c, link);
	if (c->queue)
		TAILQ_REMOVE(c->queue, c, ready_link);
	if (c->in_held)
		LIST_REMOVE(c, held_link);
	srv->nconns--;
	uid_count(srv, c->peer.uid, -1);
	if (c->peer.pidfd >= 0)
		close(c->peer.pidfd);
	for (unsigned i = 0; i < c->nfds; i++)
		close(c->fds[i].fd);
	batch_end(c);
	event_free(c->rev);
	event_free(c->wev);
	event_free(c->rx_timer);
	event_free(c->tx_timer);
	evbuffer_free(c->in);
	evbuffer_free(c->out);
	evbuffer_free(c->held);
	close(c->fd);
	free(c);
}

static size_t
unread(const struct conn *c)
{
	return evbuffer_get_length(c->out) + evbuffer_get_length(c->held);
}

/* Executing more would pile up answers the peer has not read. */
static bool
conn_blocked(const struct conn *c)
{
	return unread(c) > OUT_HIGH_WATER || c->queued >= c->srv->d->cfg.limits.max_pending;
}

/* Whether c->in holds a complete message (or, at EOF, a last one without its LF). */
static bool
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

/* Queues c for the server pass if it has work: as fresh work, or behind the others when it
 * just had its slice. */
static void
conn_schedule_to(struct conn *c, struct conn_queue *q)
{
	struct server *srv = c->srv;

	if (c->queue || !conn_has_work(c))
		return;
	TAILQ_INSERT_TAIL(q, c, ready_link);
	c->queue = q;
	if (!evtimer_pending(srv->pass, NULL))
		evtimer_add(srv->pass, &now_tv);
}

static void
conn_schedule(struct conn *c)
{
	conn_schedule_to(c, &c->srv->fresh);
}

/* Reads only while the input holds less than one maximal message beyond a complete one, so
 * a peer that sends faster than its requests are executed is held back by its socket. */
static void
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
static void
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

/* An answer, or a piece of a streamed batch answer: held while changes it may report are not
 * durable, and behind anything already held. */
static void
conn_queue(struct conn *c, const void *data, size_t len)
{
	if (state_dirty(c->srv->d->state) || evbuffer_get_length(c->held)) {
		evbuffer_add(c->held, data, len);
		if (!c->in_held) {
			LIST_INSERT_HEAD(&c->srv->held, c, held_link);
			c->in_held = true;
		}
	} else {
		evbuffer_add(c->out, data, len);
	}
}

static void
conn_send(struct conn *c, struct json_object *msg)
{
	size_t len;
	const char *s = proto_serialize(msg, &len);

	conn_queue(c, s, len);
	conn_queue(c, "\n", 1);
	json_object_put(msg);
	c->queued++;
}

/* One element of a batch answer: "[" before the first, "," between, "]\n" after the last. */
static void
conn_send_element(struct conn *c, struct json_object *msg)
{
	size_t len;
	const char *s = proto_serialize(msg, &len);

	conn_queue(c, c->batch.opened ? "," : "[", 1);
	conn_queue(c, s, len);
	json_object_put(msg);
	c->batch.opened = true;
	c->queued++;
}

/* The message ending at stream offset `consumed` is handled: descriptors that came with it
 * and that no method took are closed, so they can never be mistaken for a later one's. */
static void
conn_message_done(struct conn *c, size_t used)
{
	unsigned keep = 0;

	c->consumed += used;
	for (unsigned i = 0; i < c->nfds; i++) {
		if (c->fds[i].at < c->consumed)
			close(c->fds[i].fd);
		else
			c->fds[keep++] = c->fds[i];
	}
	c->nfds = keep;
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

/* Executes the next request of the batch in progress. */
static void
conn_batch_step(struct conn *c)
{
	struct json_object *resp = rpc_handle_one(
	    c->srv->d, &c->peer, json_object_array_get_idx(c->batch.msg, c->batch.next),
	    c->batch.line, c->batch.len, (int)c->batch.next);

	c->batch.next++;
	if (resp)
		conn_send_element(c, resp);
	if (c->batch.next < c->batch.n)
		return;
	if (c->batch.opened)
		conn_queue(c, "]\n", 2);
	conn_message_done(c, c->batch.used);
	batch_end(c);
}

/* Takes the next message out of c->in and handles it, or starts its batch. False when there
 * is none complete. */
static bool
conn_next_message(struct conn *c)
{
	size_t max = c->srv->d->cfg.max_message, avail = evbuffer_get_length(c->in), len, used;
	struct evbuffer_ptr p = evbuffer_search(c->in, "\n", 1, NULL);
	struct json_object *msg, *error;
	const char *line;

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
	line = (const char *)evbuffer_pullup(c->in, (ssize_t)used);
	if (blank(line, len)) {
		conn_message_done(c, used);
	} else if (!(msg = rpc_parse(c->srv->d, line, len, &error))) {
		conn_send(c, error);
		conn_message_done(c, used);
	} else if (!json_object_is_type(msg, json_type_array)) {
		struct json_object *resp = rpc_handle_one(c->srv->d, &c->peer, msg, line, len, -1);

		json_object_put(msg);
		if (resp)
			conn_send(c, resp);
		conn_message_done(c, used);
	} else {
		c->batch.line = malloc(len);
		if (!c->batch.line) {
			json_object_put(msg);
			conn_send(c,
			          proto_error_new(NULL, PROTO_E_INTERNAL, "out of memory", NULL));
			conn_message_done(c, used);
		} else {
			memcpy(c->batch.line, line, len);
			c->batch.len = len;
			c->batch.used = used;
			c->batch.msg = msg;
			c->batch.n = json_object_array_length(msg);
		}
	}
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

static void
server_pass(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;
	int64_t start = mono_ns();

	if (serve_queue(srv, &srv->fresh, start))
		serve_queue(srv, &srv->ready, start);
	/* One commit for the whole pass; on_durable then releases what it held. */
	state_commit(srv->d->state);
	if ((!TAILQ_EMPTY(&srv->fresh) || !TAILQ_EMPTY(&srv->ready)) &&
	    !evtimer_pending(srv->pass, NULL))
		evtimer_add(srv->pass, &now_tv);
}

static void
on_durable(void *arg)
{
	struct server *srv = arg;
	struct conn *c;

	while ((c = LIST_FIRST(&srv->held))) {
		LIST_REMOVE(c, held_link);
		c->in_held = false;
		evbuffer_add_buffer(c->out, c->held);
		conn_flush(c);
	}
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

/* Whether nothing more will happen on the connection but closing it. */
static bool
conn_finished(const struct conn *c)
{
	if (unread(c) || c->batch.msg)
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

/* Writes what it can of c->out. False when the connection is gone. */
static bool
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
	if (unread(c) < OUT_LOW_WATER)
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

static void
conn_rx_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	log_info("closing the connection of pid %d uid %u: a message stayed incomplete for %u s "
	         "(%zu bytes of it received); %u answer(s) undelivered",
	         (int)c->peer.pid, (unsigned)c->peer.uid, c->srv->d->cfg.limits.idle_timeout_s,
	         evbuffer_get_length(c->in), undelivered(c));
	conn_free(c);
}

static void
conn_tx_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	log_info("closing the connection of pid %d uid %u: it read none of its answers for %u s; "
	         "%u answer(s) (%zu bytes) dropped",
	         (int)c->peer.pid, (unsigned)c->peer.uid, c->srv->d->cfg.limits.idle_timeout_s,
	         undelivered(c), unread(c));
	conn_free(c);
}

/* Turns a connection away, logging the first of a run so a flood cannot fill the log. */
static void
refuse(struct server *srv, int fd, const char *why, const struct peer *p)
{
	if (srv->refused++ % 1000 == 0)
		log_warn("refusing a connection of uid %u pid %d: %s (%u refused so far)",
		         (unsigned)p->uid, (int)p->pid, why, srv->refused);
	if (p->pidfd >= 0)
		close(p->pidfd);
	close(fd);
}

static void
accept_cb(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
	struct server *srv = arg;
	const struct pasidd_limits *lim = &srv->d->cfg.limits;
	struct event_base *base = srv->d->base;
	struct peer p;
	struct conn *c;
	char why[256];

	if (peer_from_socket(fd, srv->d->admin_gid, &p, why, sizeof(why)) < 0) {
		log_warn("refusing a connection: %s", why);
		close(fd);
		return;
	}
	if (srv->nconns >= lim->max_connections) {
		refuse(srv, fd, "MaxConnections reached", &p);
		return;
	}
	if (p.uid != 0 && uid_count(srv, p.uid, 0) >= lim->max_conns_per_uid) {
		refuse(srv, fd, "MaxConnectionsPerUid reached", &p);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		refuse(srv, fd, "out of memory", &p);
		return;
	}
	c->srv = srv;
	c->fd = fd;
	c->peer = p;
	uid_count(srv, p.uid, +1);
	c->in = evbuffer_new();
	c->out = evbuffer_new();
	c->held = evbuffer_new();
	c->rev = event_new(base, fd, EV_READ | EV_PERSIST, conn_read_cb, c);
	c->wev = event_new(base, fd, EV_WRITE | EV_PERSIST, conn_write_cb, c);
	c->rx_timer = evtimer_new(base, conn_rx_timeout, c);
	c->tx_timer = evtimer_new(base, conn_tx_timeout, c);
	LIST_INSERT_HEAD(&srv->conns, c, link);
	srv->nconns++;
	if (!c->in || !c->out || !c->held || !c->rev || !c->wev || !c->rx_timer || !c->tx_timer ||
	    event_add(c->rev, NULL) < 0) {
		log_err("out of memory for a new connection");
		conn_free(c);
		return;
	}
	c->reading = true;
}

static void
resume_accept(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;

	evconnlistener_enable(srv->lev);
}

static void
accept_error_cb(struct evconnlistener *lev, void *arg)
{
	struct server *srv = arg;
	int e = errno;

	/* Out of descriptors: a listening socket stays readable, so retrying at once
	 * would spin. Pause, and let closing connections free some. */
	if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
		struct timeval tv = {.tv_usec = 100000};

		if (srv->refused++ % 1000 == 0)
			log_warn("accept: %s; pausing new connections for 100 ms", strerror(e));
		evconnlistener_disable(lev);
		evtimer_add(srv->resume, &tv);
		return;
	}
	log_warn("accept: %s", strerror(e));
}

int
server_open(struct pasidd *d, struct server **out, char *why, size_t len)
{
	struct server *srv = calloc(1, sizeof(*srv));
	int n = sd_listen_fds(1), fd;

	if (!srv)
		return -ENOMEM;
	srv->d = d;
	LIST_INIT(&srv->conns);
	TAILQ_INIT(&srv->fresh);
	TAILQ_INIT(&srv->ready);
	LIST_INIT(&srv->held);
	u32map_init(&srv->per_uid);
	srv->resume = evtimer_new(d->base, resume_accept, srv);
	srv->pass = evtimer_new(d->base, server_pass, srv);
	if (!srv->resume || !srv->pass ||
	    (d->state && state_on_durable(d->state, on_durable, srv) < 0)) {
		snprintf(why, len, "out of memory");
		server_close(srv);
		return -ENOMEM;
	}
	if (n > 1) {
		snprintf(why, len, "systemd passed %d sockets; pasidd serves exactly one", n);
		server_close(srv);
		return -EINVAL;
	}
	if (n == 1) {
		fd = SD_LISTEN_FDS_START;
		if (sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) <= 0) {
			snprintf(why, len,
			         "the socket passed by systemd is not a listening Unix "
			         "stream socket");
			server_close(srv);
			return -EINVAL;
		}
		evutil_make_socket_nonblocking(fd);
		evutil_make_socket_closeonexec(fd);
		srv->display = strdup("the socket passed by systemd");
	} else {
		fd = sockfile_create(&d->cfg, &srv->path, why, len);
		if (fd < 0) {
			server_close(srv);
			return fd;
		}
		srv->display = strdup(srv->path);
	}
	srv->lev = evconnlistener_new(d->base, accept_cb, srv,
	                              LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 512, fd);
	if (!srv->lev) {
		snprintf(why, len, "cannot listen: %s", strerror(errno));
		close(fd);
		server_close(srv);
		return -EIO;
	}
	evconnlistener_set_error_cb(srv->lev, accept_error_cb);
	*out = srv;
	return 0;
}

void
server_close(struct server *srv)
{
	if (!srv)
		return;
	/* Answers still held were never covered by a commit: they are dropped with the
	 * connections, never sent. */
	while (!LIST_EMPTY(&srv->conns))
		conn_free(LIST_FIRST(&srv->conns));
	state_off_durable(srv->d->state, on_durable, srv);
	if (srv->lev)
		evconnlistener_free(srv->lev);
	if (srv->resume)
		event_free(srv->resume);
	if (srv->pass)
		event_free(srv->pass);
	u32map_free(&srv->per_uid);
	if (srv->path)
		unlink(srv->path);
	free(srv->path);
	free(srv->display);
	free(srv);
}

unsigned
server_connections(const struct server *srv)
{
	return srv->nconns;
}

const char *
server_path(const struct server *srv)
{
	return srv->display;
}
