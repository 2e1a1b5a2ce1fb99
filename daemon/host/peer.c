#include "peer.h"
#include "log.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* Not in Debian 12's headers (linux 6.1); the value is ABI. */
#ifdef SO_PEERPIDFD
#define PEER_SO_PEERPIDFD SO_PEERPIDFD
#else
#define PEER_SO_PEERPIDFD 77
#endif

/* Now in the clock and unit of a process's start time in /proc/<pid>/stat: CLOCK_BOOTTIME
 * in ticks of 1/USER_HZ s, rounded down as the kernel rounds start times (both are shifted
 * alike by a time namespace). */
static int
boot_ticks(uint64_t *ticks)
{
	long hz = sysconf(_SC_CLK_TCK);
	struct timespec ts;

	if (hz <= 0 || 1000000000L % hz)
		return -EINVAL;
	if (clock_gettime(CLOCK_BOOTTIME, &ts) < 0)
		return -errno;
	*ticks = ((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec) /
	         (uint64_t)(1000000000L / hz);
	return 0;
}

/* The effective uid of pid: the second field of the Uid: line of /proc/<pid>/status. */
static int
proc_euid(pid_t pid, uid_t *euid)
{
	char path[64], line[256];
	unsigned long real, eff;
	int r = -EINVAL;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "Uid: %lu %lu", &real, &eff) == 2) {
			*euid = (uid_t)eff;
			r = 0;
			break;
		}
	}
	fclose(f);
	return r;
}

/* Whether a pidfd's process has not exited yet, so that its pid is still its own. */
bool
pidfd_quiet(int pidfd)
{
	struct pollfd pfd = {.fd = pidfd, .events = POLLIN};

	return poll(&pfd, 1, 0) == 0;
}

/* Whether gid is one of the peer's supplementary groups as the socket recorded them when the
 * peer connected: a process that took its pid afterwards cannot answer for it, as it could
 * through /proc/<pid>/status. */
static int
peer_in_group(int fd, gid_t gid, bool *in)
{
	gid_t some[64], *groups = some, *more = NULL;
	socklen_t len = sizeof(some);
	int r = 0;

	*in = false;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, some, &len) < 0) {
		/* ERANGE: more groups than fit; len now says how many bytes they take. They
		 * are fixed at connect, so a buffer of that size holds them. */
		if (errno != ERANGE)
			return -errno;
		more = malloc(len);
		if (!more)
			return -ENOMEM;
		groups = more;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, more, &len) < 0)
			r = -errno;
	}
	for (size_t i = 0; r == 0 && i < len / sizeof(gid_t); i++)
		*in = *in || groups[i] == gid;
	free(more);
	return r;
}

/*
 * Without SO_PEERPIDFD (kernels before 6.5), a pidfd of whatever process holds the peer's
 * pid now. The peer may have exited and its pid been reused since it connected, so the
 * pidfd is kept only for a process that started no later than the accept and whose
 * effective uid is the peer's (SO_PEERCRED reports the effective uid); another process is
 * refused, and the connection with it. Start time and uid are read after the pidfd exists,
 * and believed only if the pidfd still reports no exit after the reads: the pid was then
 * that process's throughout.
 *
 * Start times count whole ticks (1/USER_HZ s, 10 ms), so a process whose start tick equals
 * the accept's may have started just after it. It is taken as having started before: a
 * client that starts, connects and is accepted within one tick is common (pasidctl is),
 * and refusing it would fail such clients at random. That widens by at most one tick what
 * no check can catch without SO_PEERPIDFD anyway: a process of the peer's own uid that took
 * its pid between the peer's exit and the accept.
 *
 * A free pid (ESRCH), one that now names a thread (EINVAL: the peer was a process), or a
 * pidfd that reports an exit all mean that the peer is gone: the connection is served with
 * no process (p->pidfd -1), as with SO_PEERPIDFD; so is one accepted when descriptors ran
 * out (EMFILE, ENFILE). So is every connection where pidfd_open
 * does not exist (kernels before 5.3, valgrind): nothing can be pinned there, which is said
 * once.
 */
static int
pin_by_pid(const struct ucred *cred, uint64_t accepted, int clock_err, struct peer *p, char *why,
           size_t len)
{
	static bool warned;
	uint64_t start = 0;
	uid_t euid = 0;
	int pidfd, rs, ru;

	pidfd = (int)syscall(SYS_pidfd_open, cred->pid, 0);
	if (pidfd < 0 && (errno == ESRCH || errno == EINVAL || errno == EMFILE || errno == ENFILE))
		return 0;
	if (pidfd < 0 && errno == ENOSYS) {
		if (!warned)
			log_warn("peers' processes cannot be pinned (no SO_PEERPIDFD, and "
			         "pidfd_open: %s): a peer cannot register a VM for itself; an "
			         "admin can, giving its pid",
			         strerror(ENOSYS));
		warned = true;
		return 0;
	}
	if (pidfd < 0) {
		rs = -errno;
		snprintf(why, len,
		         "pid %d uid %u: cannot pin its process (no SO_PEERPIDFD; pidfd_open: %s)",
		         (int)cred->pid, (unsigned)cred->uid, strerror(-rs));
		return rs;
	}
	rs = proc_starttime(cred->pid, &start);
	ru = proc_euid(cred->pid, &euid);
	if (!pidfd_quiet(pidfd)) {
		/* Whether it was the peer or took its pid later, the peer has exited. */
		close(pidfd);
		return 0;
	}
	if (rs < 0 || ru < 0 || clock_err < 0) {
		rs = rs < 0 ? rs : ru < 0 ? ru : clock_err;
		snprintf(why, len, "pid %d uid %u: cannot check its process (no SO_PEERPIDFD): %s",
		         (int)cred->pid, (unsigned)cred->uid, strerror(-rs));
		close(pidfd);
		return rs;
	}
	if (start > accepted) {
		snprintf(why, len,
		         "pid %d uid %u: no SO_PEERPIDFD, and pid %d now belongs to a process that "
		         "started after the connection was accepted (tick %llu > %llu): the peer "
		         "exited and its pid was reused",
		         (int)cred->pid, (unsigned)cred->uid, (int)cred->pid,
		         (unsigned long long)start, (unsigned long long)accepted);
		close(pidfd);
		return -ESRCH;
	}
	if (euid != cred->uid) {
		snprintf(why, len,
		         "pid %d uid %u: no SO_PEERPIDFD, and pid %d now belongs to a process of "
		         "uid %u: the peer exited and its pid was reused",
		         (int)cred->pid, (unsigned)cred->uid, (int)cred->pid, (unsigned)euid);
		close(pidfd);
		return -ESRCH;
	}
	p->pidfd = pidfd;
	return 0;
}

int
peer_from_socket(int fd, gid_t admin_gid, struct peer *p, char *why, size_t len)
{
	struct ucred cred;
	socklen_t olen = sizeof(cred);
	uint64_t accepted = 0;
	/* The moment of the accept for pin_by_pid, read before anything else: it is late only
	 * by the time the loop took to call us. */
	int clock_err = boot_ticks(&accepted), r;
	bool member = false;

	p->pidfd = -1;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &olen) < 0) {
		r = -errno;
		snprintf(why, len, "cannot read its credentials (SO_PEERCRED): %s", strerror(-r));
		return r;
	}
	p->pid = cred.pid;
	p->uid = cred.uid;
	p->gid = cred.gid;
	if (admin_gid != (gid_t)-1 && cred.uid != 0 && cred.gid != admin_gid) {
		r = peer_in_group(fd, admin_gid, &member);
		if (r < 0) {
			snprintf(why, len,
			         "pid %d uid %u: cannot read its groups (SO_PEERGROUPS): %s",
			         (int)cred.pid, (unsigned)cred.uid, strerror(-r));
			return r;
		}
	}
	p->admin = cred.uid == 0 || (admin_gid != (gid_t)-1 && (cred.gid == admin_gid || member));
	olen = sizeof(p->pidfd);
	if (getsockopt(fd, SOL_SOCKET, PEER_SO_PEERPIDFD, &p->pidfd, &olen) == 0)
		return 0;
	p->pidfd = -1;
	r = -errno;
	if (r == -ENOPROTOOPT)
		return pin_by_pid(&cred, accepted, clock_err, p, why, len);
	/* The peer has been reaped: some kernels refuse a pidfd for it (later ones give one
	 * that reports the exit). It is served with no process. */
	if (r == -EINVAL || r == -ESRCH || r == -ENODATA)
		return 0;
	/* Out of descriptors, with the connection already accepted: serving it without a
	 * process (it cannot register a VM for itself) beats dropping its requests unread. */
	if (r == -EMFILE || r == -ENFILE)
		return 0;
	snprintf(why, len, "pid %d uid %u: cannot get its pidfd (SO_PEERPIDFD): %s", (int)cred.pid,
	         (unsigned)cred.uid, strerror(-r));
	return r;
}

bool
peer_alive(const struct peer *p)
{
	/* Without a pidfd nothing says that the pid is still the peer's. */
	return p->pidfd >= 0 && pidfd_quiet(p->pidfd);
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
