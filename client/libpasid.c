/* libpasid: the connection handle and the error model. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef PASIDD_DEFAULT_SOCKET
#define PASIDD_DEFAULT_SOCKET "/run/pasidd/pasidd.sock"
#endif

void
lp_clear_error(struct pasid_error *err)
{
	if (err)
		memset(err, 0, sizeof(*err));
}

void
lp_copy_error(struct pasid_error *dst, const struct pasid_error *src)
{
	if (dst)
		*dst = *src;
}

int
lp_fail(struct pasid_error *err, int rc, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return rc;
	memset(err, 0, sizeof(*err));
	err->code = rc;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return rc;
}

const char *
pasid_error_reason(int code)
{
	return proto_error_reason(code);
}

const char *
pasid_default_socket(void)
{
	const char *env = getenv("PASIDD_SOCKET");

	return env && *env ? env : PASIDD_DEFAULT_SOCKET;
}

int
pasid_connect_fd(int fd, struct pasid_client **out, struct pasid_error *err)
{
	struct pasid_client *c;

	*out = NULL;
	if (fd < 0)
		return lp_fail(err, -EBADF, "invalid socket descriptor");
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return lp_fail(err, -ENOMEM, "%s", strerror(ENOMEM));
	}
	c->fd = fd;
	c->timeout_ms = -1;
	c->next_id = 1;
	c->out_tail = &c->out_head;
	c->wait_tail = &c->wait_head;
	c->ready_tail = &c->ready_head;
	proto_linebuf_init(&c->in, CLIENT_MAX_LINE);
	*out = c;
	lp_clear_error(err);
	return 0;
}

static const char *
file_kind(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFDIR:
		return "a directory";
	case S_IFREG:
		return "a regular file";
	case S_IFLNK:
		return "a symbolic link";
	case S_IFIFO:
		return "a FIFO";
	case S_IFCHR:
	case S_IFBLK:
		return "a device node";
	default:
		return "something else";
	}
}

static bool
in_group(gid_t gid)
{
	gid_t groups[256];
	int n;

	if (getegid() == gid)
		return true;
	n = getgroups((int)(sizeof(groups) / sizeof(groups[0])), groups);
	for (int i = 0; i < n; i++) {
		if (groups[i] == gid)
			return true;
	}
	return false;
}

/* connect(2)'s errno alone misleads a new user: a directory or a stale socket both say
 * "Connection refused", and "Permission denied" does not say whose permission. So say what
 * the path is and what that means; err->code stays connect's -errno. */
static int
connect_failed(struct pasid_error *err, const char *path, int rc)
{
	struct stat st;
	char group[64];
	struct group gr, *g = NULL;
	char buf[1024];

	if (stat(path, &st) == 0 && !S_ISSOCK(st.st_mode))
		return lp_fail(err, rc, "cannot connect to %s: it is %s, not a socket", path,
		               file_kind(st.st_mode));
	switch (-rc) {
	case ENOENT:
		return lp_fail(err, rc,
		               "cannot connect to %s: no such socket; pasidd does not seem to be "
		               "running, or it listens on another socket",
		               path);
	case ECONNREFUSED:
		return lp_fail(err, rc,
		               "cannot connect to %s: connection refused; the socket is stale, "
		               "pasidd is not running",
		               path);
	case EACCES:
		break;
	default:
		return lp_fail(err, rc, "cannot connect to %s: %s", path, strerror(-rc));
	}
	if (stat(path, &st) < 0)
		return lp_fail(err, rc,
		               "cannot connect to %s: permission denied on a directory on its path",
		               path);
	if (getgrgid_r(st.st_gid, &gr, buf, sizeof(buf), &g) == 0 && g)
		snprintf(group, sizeof(group), "'%s'", g->gr_name);
	else
		snprintf(group, sizeof(group), "%u", (unsigned)st.st_gid);
	if (in_group(st.st_gid))
		return lp_fail(err, rc,
		               "cannot connect to %s: permission denied (socket mode %03o, group "
		               "%s)",
		               path, (unsigned)(st.st_mode & 07777), group);
	return lp_fail(err, rc,
	               "cannot connect to %s: permission denied; only root and members of the "
	               "socket's group %s may connect, and this process is not in it",
	               path, group);
}

int
pasid_connect(const char *path, struct pasid_client **out, struct pasid_error *err)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd, rc;

	*out = NULL;
	if (!path)
		path = pasid_default_socket();
	if (strlen(path) >= sizeof(sa.sun_path))
		return lp_fail(err, -ENAMETOOLONG, "socket path too long: %s", path);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return lp_fail(err, -errno, "socket: %s", strerror(errno));
	do {
		rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	} while (rc < 0 && errno == EINTR);
	if (rc < 0) {
		rc = -errno;
		close(fd);
		return connect_failed(err, path, rc);
	}
	return pasid_connect_fd(fd, out, err);
}

void
pasid_close(struct pasid_client *c)
{
	if (!c)
		return;
	lp_drop_all(c);
	proto_linebuf_free(&c->in);
	lp_forget_error(c);
	if (c->fd >= 0)
		close(c->fd);
	free(c);
}

int
pasid_fd(const struct pasid_client *c)
{
	return c->fd;
}

void
pasid_set_timeout(struct pasid_client *c, int timeout_ms)
{
	c->timeout_ms = timeout_ms < 0 ? -1 : timeout_ms;
}

int
pasid_set_nonblocking(struct pasid_client *c, bool on)
{
	int fl = fcntl(c->fd, F_GETFL);

	if (fl < 0)
		return -errno;
	fl = on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK;
	if (fcntl(c->fd, F_SETFL, fl) < 0)
		return -errno;
	return 0;
}
