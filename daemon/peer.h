/* Who is on the other end of a connection, and process facts about a pid. */
#ifndef PASIDD_PEER_H
#define PASIDD_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct peer {
	pid_t pid;
	uid_t uid;
	gid_t gid;
	bool admin;
	int pidfd; /* SO_PEERPIDFD or pidfd_open(pid); -1 if neither worked */
};

/* SO_PEERCRED of a connected socket; admin when uid 0 or a member of admin_gid
 * ((gid_t)-1: none). */
int peer_from_socket(int fd, gid_t admin_gid, struct peer *p);

/* Whether the peer process is still alive (its pid not yet free for reuse). */
bool peer_alive(const struct peer *p);

/* Field 22 of /proc/<pid>/stat: ticks since boot at which the process started. 0 or -errno. */
int proc_starttime(pid_t pid, uint64_t *start);
/* The cgroup v2 path of pid ("0::/path" in /proc/<pid>/cgroup), "" when none. */
int proc_cgroup(pid_t pid, char *out, size_t len);
/* Whether pid is alive and still the process that started at `start`. */
bool proc_is(pid_t pid, uint64_t start);

#endif
