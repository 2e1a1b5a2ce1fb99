/* libpasid: the connection handle and the error model. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
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
		return lp_fail(err, rc, "cannot connect to %s: %s", path, strerror(-rc));
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
