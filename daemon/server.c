/*
 * Each connection owns an input and an output evbuffer. Input is read with recvmsg() so
 * that SCM_RIGHTS descriptors can ride along; complete lines go to rpc_handle(). A
 * connection is served a bounded number of lines per loop turn and stops reading while
 * its peer does not read its answers, so no client can hold up the others.
 */
#include "server.h"
#include "sockfile.h"
#include "log.h"
#include "pasid-proto.h"
#include "pasidd.h"
#include "peer.h"
#include "rpc.h"
#include "state.h"
#include "u32map.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#define LINES_PER_TURN 64
#define OUT_HIGH_WATER (4u << 20) /* stop reading a peer that does not read its answers */
#define OUT_LOW_WATER  (1u << 20)
#define READ_CHUNK     (64 * 1024)
#define CONN_MAX_FDS   16

struct conn {
	struct server *srv;
	struct conn *prev, *next;
	int fd;
	struct event *rev, *wev;
	struct evbuffer *in, *out;
	struct peer peer;
	/* Descriptors received with SCM_RIGHTS, with the stream offset of the byte they came
	 * with: they belong to the message that byte is part of. */
	struct {
		int fd;
		uint64_t at;
	} fds[CONN_MAX_FDS];
	unsigned nfds;
	uint64_t received; /* bytes read from the peer so far */
	uint64_t consumed; /* bytes of it handled as lines */
	bool eof;          /* the peer will send no more */
	bool closing;      /* close once the output is written */
	bool paused;       /* reading stopped until the output drains */
	bool held;         /* answers wait for the group commit */
	struct conn *held_next;
	unsigned queued;    /* answers in out not yet fully written */
	struct event *idle; /* a started message must be complete by then */
};

struct server {
	struct pasidd *d;
	struct evconnlistener *lev;
	char *path;    /* the socket file we created, NULL when systemd owns it */
	char *display; /* where we listen, for humans */
	struct conn *conns;
	struct conn *held; /* connections whose answers wait for the commit */
	unsigned nconns;
	struct u32map per_uid; /* uid -> connections + 1 (non-NULL) */
	struct event *resume;  /* re-enables accepting after descriptors ran out */
	unsigned refused;      /* connections turned away by a limit */
};

static void conn_flush(struct conn *c);
static void conn_process(struct conn *c);

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
conn_free(struct conn *c)
{
	struct server *srv = c->srv;

	if (c->prev)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	srv->nconns--;
	uid_count(srv, c->peer.uid, -1);
	if (c->peer.pidfd >= 0)
		close(c->peer.pidfd);
	if (c->idle)
		event_free(c->idle);
	if (c->held) {
		struct conn **pp = &srv->held;

		while (*pp != c)
			pp = &(*pp)->held_next;
		*pp = c->held_next;
	}
	for (unsigned i = 0; i < c->nfds; i++)
		close(c->fds[i].fd);
	event_free(c->rev);
	event_free(c->wev);
	evbuffer_free(c->in);
	evbuffer_free(c->out);
	close(c->fd);
	free(c);
}

static void
conn_send(struct conn *c, struct json_object *msg)
{
	size_t len;
	const char *s = proto_serialize(msg, &len);

	evbuffer_add(c->out, s, len);
	evbuffer_add(c->out, "\n", 1);
	json_object_put(msg);
	c->queued++;
}

static bool
blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return false;
	return true;
}

/* Handles one line of `used` bytes (its LF included). Descriptors that came with it and
 * that no method took are closed, so they can never be mistaken for a later message's. */
static void
conn_line(struct conn *c, const char *line, size_t len, size_t used)
{
	struct json_object *resp =
	    blank(line, len) ? NULL : rpc_handle(c->srv->d, &c->peer, line, len);
	unsigned keep = 0;

	if (resp)
		conn_send(c, resp);
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
	event_del(c->rev);
}

static void
conn_process(struct conn *c)
{
	size_t max = c->srv->d->cfg.max_message;
	unsigned n;

	for (n = 0; n < LINES_PER_TURN && !c->closing; n++) {
		size_t eol_len = 0, avail = evbuffer_get_length(c->in);
		struct evbuffer_ptr p;

		if (evbuffer_get_length(c->out) > OUT_HIGH_WATER ||
		    c->queued >= c->srv->d->cfg.limits.max_pending) {
			c->paused = true;
			event_del(c->rev);
			break;
		}
		p = evbuffer_search_eol(c->in, NULL, &eol_len, EVBUFFER_EOL_LF);
		if (p.pos < 0) {
			if (avail > max) {
				conn_too_long(c);
			} else if (c->eof && avail > 0) {
				/* A last message without its LF still counts. */
				conn_line(c, (const char *)evbuffer_pullup(c->in, -1), avail,
				          avail);
				evbuffer_drain(c->in, avail);
			}
			break;
		}
		if ((size_t)p.pos > max) {
			conn_too_long(c);
			break;
		}
		conn_line(c, (const char *)evbuffer_pullup(c->in, p.pos + 1), (size_t)p.pos,
		          (size_t)p.pos + 1);
		evbuffer_drain(c->in, (size_t)p.pos + 1);
	}
	/* A message must be complete within the idle timeout of when it (or the last
	 * complete one before it) arrived: a peer that trickles a line is dropped. */
	if (!c->closing && evbuffer_get_length(c->in) == 0) {
		event_del(c->idle);
	} else if (!c->closing && (n > 0 || !event_pending(c->idle, EV_TIMEOUT, NULL))) {
		struct timeval tv = {.tv_sec = c->srv->d->cfg.limits.idle_timeout_s};

		event_add(c->idle, &tv);
	}
	/* More complete lines may wait: come back next turn, after the other peers. */
	if (n == LINES_PER_TURN && !c->paused && !c->closing)
		event_active(c->rev, EV_READ, 0);
	/* Nothing leaves before the changes it may reflect are durable (DESIGN.md §5). */
	if (state_commit_pending(c->srv->d)) {
		if (!c->held) {
			c->held = true;
			c->held_next = c->srv->held;
			c->srv->held = c;
		}
		return;
	}
	conn_flush(c);
}

void
server_release_held(struct server *srv)
{
	while (srv && srv->held) {
		struct conn *c = srv->held;

		srv->held = c->held_next;
		c->held = false;
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
		event_del(c->rev);
	}
	conn_process(c);
}

/* Writes what it can; frees the connection when it is done with it. */
static void
conn_flush(struct conn *c)
{
	while (evbuffer_get_length(c->out) > 0) {
		int n = evbuffer_write(c->out, c->fd);

		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				break;
			conn_free(c);
			return;
		}
	}
	if (evbuffer_get_length(c->out) > 0) {
		event_add(c->wev, NULL);
		return;
	}
	event_del(c->wev);
	c->queued = 0;
	if (c->closing || (c->eof && evbuffer_get_length(c->in) == 0)) {
		conn_free(c);
		return;
	}
	if (c->paused && evbuffer_get_length(c->out) < OUT_LOW_WATER) {
		c->paused = false;
		event_add(c->rev, NULL);
		event_active(c->rev, EV_READ, 0);
	}
}

static void
conn_write_cb(evutil_socket_t fd, short what, void *arg)
{
	conn_flush(arg);
}

static void
conn_idle_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	log_debug("closing the connection of pid %d: a message stayed incomplete for %u s",
	          (int)c->peer.pid, c->srv->d->cfg.limits.idle_timeout_s);
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

	if (peer_from_socket(fd, srv->d->admin_gid, &p) < 0) {
		log_warn("refusing a connection whose peer cannot be identified: %s",
		         strerror(errno));
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
	c->rev = event_new(base, fd, EV_READ | EV_PERSIST, conn_read_cb, c);
	c->wev = event_new(base, fd, EV_WRITE | EV_PERSIST, conn_write_cb, c);
	c->idle = evtimer_new(base, conn_idle_cb, c);
	c->next = srv->conns;
	if (srv->conns)
		srv->conns->prev = c;
	srv->conns = c;
	srv->nconns++;
	if (!c->in || !c->out || !c->rev || !c->wev || !c->idle || event_add(c->rev, NULL) < 0) {
		log_err("out of memory for a new connection");
		conn_free(c);
	}
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
	u32map_init(&srv->per_uid);
	srv->resume = evtimer_new(d->base, resume_accept, srv);
	if (n > 1) {
		snprintf(why, len, "systemd passed %d sockets; pasidd serves exactly one", n);
		free(srv);
		return -EINVAL;
	}
	if (n == 1) {
		fd = SD_LISTEN_FDS_START;
		if (sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) <= 0) {
			snprintf(why, len,
			         "the socket passed by systemd is not a listening Unix "
			         "stream socket");
			free(srv);
			return -EINVAL;
		}
		evutil_make_socket_nonblocking(fd);
		evutil_make_socket_closeonexec(fd);
		srv->display = strdup("the socket passed by systemd");
	} else {
		fd = sockfile_create(&d->cfg, &srv->path, why, len);
		if (fd < 0) {
			free(srv);
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
	while (srv->conns)
		conn_free(srv->conns);
	if (srv->lev)
		evconnlistener_free(srv->lev);
	if (srv->resume)
		event_free(srv->resume);
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
