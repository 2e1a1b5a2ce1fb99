/* What an owner process is, for people: its command line and systemd unit. Read from /proc
 * and its cgroup, then confirmed through the pidfd pasidd holds on it, so that a pid reused
 * meanwhile is never described as the owner. For display only: identity comes from the
 * socket and the pidfd (DESIGN.md §7), never from here. */
#ifndef PASIDD_PROCINFO_H
#define PASIDD_PROCINFO_H

#include <stddef.h>
#include <sys/types.h>

#define PROCINFO_CMDLINE_MAX 512

/* cmdline: the arguments joined by spaces, cut at len - 1 bytes with "..." when longer;
 * unit: the systemd unit of its cgroup, "" when none. 0; -ESRCH when the process pin refers
 * to is gone (or pin is -1 and pid is); another -errno when /proc could not be read. */
int procinfo_describe(pid_t pid, int pin, char *cmdline, size_t len, char *unit, size_t ulen);

/* The cgroup (cgroup2 path) the process is in now, confirmed as procinfo_describe confirms
 * what it reads. 0, -ESRCH, or another -errno. */
int procinfo_cgroup(pid_t pid, int pin, char *out, size_t len);

#endif
