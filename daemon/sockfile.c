#include "sockfile.h"
#include "config.h"
#include "log.h"

#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* Creates the socket file: parent directory, stale socket removal, mode and group. */
int
sockfile_create(const struct pasidd_config *cfg, char **path, char *why, size_t len)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char dir[sizeof(sa.sun_path)], *slash;
	int fd, probe;

	if (strlen(cfg->socket_path) >= sizeof(sa.sun_path)) {
		snprintf(why, len, "socket path %s is too long", cfg->socket_path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, cfg->socket_path);
	strcpy(dir, cfg->socket_path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		for (char *p = dir + 1; *p; p++) {
			if (*p != '/')
				continue;
			*p = '\0';
			mkdir(dir, 0755);
			*p = '/';
		}
		if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
			snprintf(why, len, "cannot create %s: %s", dir, strerror(errno));
			return -errno;
		}
	}
	/* A socket file nobody answers on is a leftover of a crash; one that answers
	 * belongs to a running pasidd that we must not steal it from. */
	probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (probe >= 0) {
		int r = connect(probe, (struct sockaddr *)&sa, sizeof(sa));

		close(probe);
		if (r == 0) {
			snprintf(why, len, "another pasidd is already serving %s", sa.sun_path);
			return -EADDRINUSE;
		}
		if (errno == ECONNREFUSED)
			unlink(sa.sun_path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;

		snprintf(why, len, "cannot bind %s: %s", sa.sun_path, strerror(e));
		if (fd >= 0)
			close(fd);
		return -e;
	}
	if (chmod(sa.sun_path, cfg->socket_mode) < 0)
		log_warn("chmod %s: %s", sa.sun_path, strerror(errno));
	if (cfg->socket_group[0]) {
		struct group *g = getgrnam(cfg->socket_group);

		if (!g)
			log_info("group '%s' does not exist; the socket keeps its group",
			         cfg->socket_group);
		else if (chown(sa.sun_path, (uid_t)-1, g->gr_gid) < 0)
			log_warn("chown %s: %s", sa.sun_path, strerror(errno));
	}
	*path = strdup(sa.sun_path);
	return fd;
}
