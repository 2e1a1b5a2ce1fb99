/* Listening (see server_internal.h): the control socket, accepting connections within the
 * limits, and closing down. */
#include "server.h"
#include "log.h"
#include "pasidd.h"
#include "peer.h"
#include "server_internal.h"
#include "sockfile.h"
#include "state.h"

#include <errno.h>
#include <grp.h>
#include <sys/stat.h>
#include <event2/listener.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

unsigned
server_uid_count(struct server *srv, uid_t uid, int delta)
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
	struct peer p;
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
	if (p.uid != 0 && server_uid_count(srv, p.uid, 0) >= lim->max_conns_per_uid) {
		refuse(srv, fd, "MaxConnectionsPerUid reached", &p);
		return;
	}
	if (!conn_new(srv, fd, &p))
		log_err("out of memory for a new connection");
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
server_open(struct pasidd *d, int listen_fd, struct server **out, char *why, size_t len)
{
	struct server *srv = calloc(1, sizeof(*srv));
	int fd = listen_fd;

	if (!srv) {
		if (listen_fd >= 0)
			close(listen_fd);
		return -ENOMEM;
	}
	srv->d = d;
	LIST_INIT(&srv->conns);
	TAILQ_INIT(&srv->fresh);
	TAILQ_INIT(&srv->ready);
	LIST_INIT(&srv->held);
	u32map_init(&srv->per_uid);
	srv->resume = evtimer_new(d->base, resume_accept, srv);
	srv->pass = evtimer_new(d->base, server_pass, srv);
	if (!srv->resume || !srv->pass ||
	    (d->state && state_on_durable(d->state, server_on_durable, srv) < 0)) {
		snprintf(why, len, "out of memory");
		if (fd >= 0)
			close(fd);
		server_close(srv);
		return -ENOMEM;
	}
	if (fd >= 0) {
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
	state_off_durable(srv->d->state, server_on_durable, srv);
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

int
server_socket_perms(struct server *srv, mode_t mode, const char *group, char *why, size_t len)
{
	struct group *g;

	/* The service manager's socket has the mode and group of pasidd.socket. */
	if (!srv->path)
		return 0;
	if (chmod(srv->path, mode) < 0) {
		snprintf(why, len, "cannot set the mode of %s to %04o: %s", srv->path,
		         (unsigned)mode, strerror(errno));
		return -errno;
	}
	if (!group || !group[0])
		return 0;
	if (!(g = getgrnam(group))) {
		snprintf(why, len, "group '%s' does not exist; %s keeps its group", group,
		         srv->path);
		return -ENOENT;
	}
	if (chown(srv->path, (uid_t)-1, g->gr_gid) < 0) {
		snprintf(why, len, "cannot give %s to group %s: %s", srv->path, group,
		         strerror(errno));
		return -errno;
	}
	return 0;
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
