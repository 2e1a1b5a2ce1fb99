/* Who is on the other end of a connection, and process facts about a pid. */
#ifndef PASIDD_PEER_H
#define PASIDD_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct peer {
	pid_t pid; /* as the peer connected; only pidfd says whether it is still the peer's */
	uid_t uid;
	gid_t gid;
	bool admin;
	int pidfd; /* pins the peer process; -1 when it is gone or cannot be pinned */
};

/* Identifies the peer of a just accepted connection from the socket itself: uid and gid
 * from SO_PEERCRED, supplementary groups from SO_PEERGROUPS, the process from SO_PEERPIDFD
 * (without it, a pidfd_open(2) pidfd checked against the moment of this call). admin when
 * uid 0 or a member of admin_gid ((gid_t)-1: none). 0, or -errno with the reason in why
 * (naming the peer) when the connection must be refused. */
int peer_from_socket(int fd, gid_t admin_gid, struct peer *p, char *why, size_t len);

/* Whether the process of a pidfd has not exited: what was read about its pid since the
 * pidfd was made is about that process. */
bool pidfd_quiet(int pidfd);

/* Whether the peer process is known and still alive (its pid not yet free for reuse): what
 * /proc said about p->pid before this returned true was about the peer. */
bool peer_alive(const struct peer *p);

/* Field 22 of /proc/<pid>/stat: ticks since boot at which the process started. 0 or -errno. */
int proc_starttime(pid_t pid, uint64_t *start);
/* The cgroup v2 path of pid ("0::/path" in /proc/<pid>/cgroup), "" when none. */
int proc_cgroup(pid_t pid, char *out, size_t len);
/* Whether pid is alive and still the process that started at `start`. */
bool proc_is(pid_t pid, uint64_t start);

#endif
