#include "sockfile.h"
#include "config.h"
#include "fsguard.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static const char *
file_kind(mode_t m)
{
	switch (m & S_IFMT) {
	case S_IFREG:
		return "a regular file";
	case S_IFDIR:
		return "a directory";
	case S_IFLNK:
		return "a symbolic link";
	case S_IFIFO:
		return "a FIFO";
	case S_IFCHR:
		return "a character device";
	case S_IFBLK:
		return "a block device";
	default:
		return "not a socket";
	}
}

/* Anything but a socket at the socket's name is left alone. */
static int
not_a_socket(const struct stat *st, const char *path, char *why, size_t len)
{
	if (S_ISSOCK(st->st_mode))
		return 0;
	snprintf(why, len,
	         "%s exists and is %s, not a socket: refusing to replace it (remove it if "
	         "nothing needs it, or choose another path with -s or Socket=)",
	         path, file_kind(st->st_mode));
	return -EEXIST;
}

/* Splits the socket path into its directory (in dir) and its name. */
static int
split_path(const char *path, char *dir, size_t dirlen, const char **name, char *why, size_t len)
{
	char *slash;

	if (strlen(path) >= dirlen) {
		snprintf(why, len, "socket path %s is too long", path);
		return -ENAMETOOLONG;
	}
	strcpy(dir, path);
	slash = strrchr(dir, '/');
	if (!slash || !slash[1]) {
		snprintf(why, len, "socket path %s does not name a file in a directory", path);
		return -EINVAL;
	}
	*name = path + (slash - dir) + 1;
	slash[slash == dir] = '\0';
	return 0;
}

int
sockfile_check(const struct pasidd_config *cfg, bool create, char *why, size_t len)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	const char *name;
	struct stat st;
	int dfd, r;

	r = split_path(cfg->socket_path, dir, sizeof(dir), &name, why, len);
	if (r < 0)
		return r;
	r = fsguard_open_dir(dir, "socket directory", create ? FSGUARD_MKDIR_ALL : 0, 0755, &dfd,
	                     why, len);
	if (r < 0)
		return r == -ENOENT && !create ? 0 : r;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
		r = not_a_socket(&st, cfg->socket_path, why, len);
	close(dfd);
	return r;
}

/* What may already be at the socket's name: nothing; a socket nobody answers on, the
 * leftover of a crash, which is removed; or anything else, which is left as it is. */
static int
clear_old(int dfd, const char *name, const struct sockaddr_un *sa, char *why, size_t len)
{
	struct stat st;
	int probe, r, e;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return 0;
		e = errno;
		snprintf(why, len, "cannot look at %s: %s", sa->sun_path, strerror(e));
		return -e;
	}
	if (!S_ISSOCK(st.st_mode))
		return not_a_socket(&st, sa->sun_path, why, len);
	/* A socket file that answers belongs to a running pasidd that we must not steal it
	 * from. */
	probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (probe < 0) {
		e = errno;
		snprintf(why, len, "cannot create a socket: %s", strerror(e));
		return -e;
	}
	r = connect(probe, (const struct sockaddr *)sa, sizeof(*sa));
	e = errno;
	close(probe);
	if (r == 0) {
		snprintf(why, len, "another pasidd is already serving %s", sa->sun_path);
		return -EADDRINUSE;
	}
	if (e != ECONNREFUSED) {
		snprintf(why, len,
		         "%s exists and connecting to it failed (%s): refusing to replace it",
		         sa->sun_path, strerror(e));
		return -EEXIST;
	}
	/* The directory is one only root or we can write (fsguard), so the name still holds
	 * the socket just looked at. */
	if (unlinkat(dfd, name, 0) < 0 && errno != ENOENT) {
		e = errno;
		snprintf(why, len, "cannot remove the stale socket %s: %s", sa->sun_path,
		         strerror(e));
		return -e;
	}
	return 0;
}

/* Creates the socket file in a directory that only root or we can write: its parent
 * directories if needed, stale socket removal, its mode from the umask at bind() and its
 * group set through the directory's fd, without following a link. */
int
sockfile_create(const struct pasidd_config *cfg, char **path, char *why, size_t len)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char dir[sizeof(sa.sun_path)];
	const char *name;
	mode_t old;
	int dfd, fd, r, e;

	r = split_path(cfg->socket_path, dir, sizeof(dir), &name, why, len);
	if (r < 0)
		return r;
	strcpy(sa.sun_path, cfg->socket_path);
	r = fsguard_open_dir(dir, "socket directory", FSGUARD_MKDIR_ALL, 0755, &dfd, why, len);
	if (r < 0)
		return r;
	r = clear_old(dfd, name, &sa, why, len);
	if (r < 0) {
		close(dfd);
		return r;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		e = errno;
		snprintf(why, len, "cannot create a socket: %s", strerror(e));
		close(dfd);
		return -e;
	}
	/* The socket file is born with its mode: no chmod() by name afterwards, which would
	 * follow whatever link was put in its place. Single-threaded here, so the process-wide
	 * umask is ours for the call. */
	old = umask(~cfg->socket_mode & 0777);
	r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	e = errno;
	umask(old);
	if (r < 0) {
		snprintf(why, len, "cannot bind %s: %s", sa.sun_path, strerror(e));
		close(fd);
		close(dfd);
		return -e;
	}
	if (cfg->socket_group[0]) {
		struct group *g = getgrnam(cfg->socket_group);

		if (!g)
			log_info("group '%s' does not exist; the socket keeps its group",
			         cfg->socket_group);
		else if (fchownat(dfd, name, (uid_t)-1, g->gr_gid, AT_SYMLINK_NOFOLLOW) < 0)
			log_warn("cannot give %s to group %s: %s", sa.sun_path, cfg->socket_group,
			         strerror(errno));
	}
	close(dfd);
	*path = strdup(sa.sun_path);
	return fd;
}
