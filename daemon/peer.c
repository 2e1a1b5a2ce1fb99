#include "peer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Not in Debian 12's headers (linux 6.1); the value is ABI. */
#ifdef SO_PEERPIDFD
#define PEER_SO_PEERPIDFD SO_PEERPIDFD
#else
#define PEER_SO_PEERPIDFD 77
#endif

/* Supplementary groups of pid, from the Groups: line of /proc/<pid>/status. */
static bool
pid_in_group(pid_t pid, gid_t gid)
{
	char path[64], line[4096];
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		char *p, *end;

		if (strncmp(line, "Groups:", 7))
			continue;
		for (p = line + 7;; p = end) {
			unsigned long g = strtoul(p, &end, 10);

			if (end == p)
				break;
			if (g == gid)
				found = true;
		}
		break;
	}
	fclose(f);
	return found;
}

int
peer_from_socket(int fd, gid_t admin_gid, struct peer *p)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return -errno;
	p->pid = cred.pid;
	p->uid = cred.uid;
	p->gid = cred.gid;
	/* A pidfd pins the identity: whatever /proc says about p->pid is about this peer as
	 * long as the pidfd does not report an exit. Kernels before 6.5 lack SO_PEERPIDFD;
	 * pidfd_open right after connect is the next best thing. */
	len = sizeof(p->pidfd);
	if (getsockopt(fd, SOL_SOCKET, PEER_SO_PEERPIDFD, &p->pidfd, &len) < 0)
		p->pidfd = (int)syscall(SYS_pidfd_open, cred.pid, 0);
	p->admin = cred.uid == 0 || (admin_gid != (gid_t)-1 &&
	                             (cred.gid == admin_gid || pid_in_group(cred.pid, admin_gid)));
	return 0;
}

bool
peer_alive(const struct peer *p)
{
	struct pollfd pfd = {.fd = p->pidfd, .events = POLLIN};

	if (p->pidfd < 0)
		return kill(p->pid, 0) == 0 || errno == EPERM;
	return poll(&pfd, 1, 0) == 0;
}

int
proc_starttime(pid_t pid, uint64_t *start)
{
	char path[64], buf[1024], *p;
	unsigned long long v;
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* comm may hold spaces and parentheses: fields resume after the last ')'. */
	p = strrchr(buf, ')');
	if (!p)
		return -EINVAL;
	/* After ')' come field 3 (state) .. : starttime is the 20th of those. */
	if (sscanf(p + 1,
	           " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d "
	           "%*d %*d %llu",
	           &v) != 1)
		return -EINVAL;
	*start = v;
	return 0;
}

int
proc_cgroup(pid_t pid, char *out, size_t len)
{
	char path[64], line[4096];
	FILE *f;
	int r = -ENOENT;

	out[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "0::", 3))
			continue;
		line[strcspn(line, "\n")] = '\0';
		snprintf(out, len, "%s", line + 3);
		r = 0;
		break;
	}
	fclose(f);
	return r;
}

bool
proc_is(pid_t pid, uint64_t start)
{
	uint64_t now;

	return pid > 0 && proc_starttime(pid, &now) == 0 && now == start;
}
