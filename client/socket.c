/* libpasid: the daemon's socket: where it is, connecting to it, and saying why that failed. */
#include "socket.h"

#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "errors.h"

#ifndef PASIDD_DEFAULT_SOCKET
#define PASIDD_DEFAULT_SOCKET "/run/pasidd/pasidd.sock"
#endif

const char *
pasid_default_socket(void)
{
	const char *env = getenv("PASIDD_SOCKET");

	return env && *env ? env : PASIDD_DEFAULT_SOCKET;
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
lp_socket_connect(const char *path, struct pasid_error *err)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd, rc;

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
	return fd;
}
