/* Helpers for the integration suites that look at pasidd from outside its socket: its exit
 * status and messages at start-up, the bytes of its state directory, the frames of its
 * journal, and processes to own VMs. */
#ifndef PASIDD_IT_UTIL_H
#define PASIDD_IT_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Runs pasidd (under PASIDD_WRAPPER, as it_start does) with args (NULL-terminated, without
 * argv[0]) and waits for it to exit, at most timeout_s seconds (then SIGKILL: status 137).
 * Its stdout and stderr go to *out and *err (malloc'd; either may be NULL). Returns the exit
 * status, or 128 + the signal. */
int itu_run(char **out, char **err, unsigned timeout_s, char *const *args);

/* One line per file in dir, sorted: name, mode, size and a hash of the contents. malloc'd. */
char *itu_dir_digest(const char *dir);

/* The byte offset of record frame i (from 0) of a journal file, or -1. */
long itu_frame_offset(const char *path, unsigned i);

/* XORs the byte at off of a file with 0x5a. 0 or -1. */
int itu_flip_byte(const char *path, long off);

/* A child process that only waits to be ended with itu_end_child(). */
pid_t itu_idle_child(void);
void itu_end_child(pid_t pid);

/* The pid of a running pasidd whose command line names sock (looked up in /proc), or -1. */
pid_t itu_find_daemon(const char *sock);

/* Sends len bytes of data on sock with n descriptors (SCM_RIGHTS) on the same message, in
 * that order: pasid.attach's iommufd and device cdev. 0 when all were sent. */
int itu_send_fds(int sock, const void *data, size_t len, const int *fds, unsigned n);

/* Whether s contains every one of the NULL-terminated needles. */
int itu_has_all(const char *s, ...) __attribute__((sentinel));
struct pasid_client;
/* Drives a non-blocking libpasid client whose n requests ids[] are queued: flushes, polls
 * and reads until n responses came (or about 10 s passed), rc[k] the outcome of ids[k] (0, a
 * JSON-RPC error code, or a negative errno). Returns how many responses came. */
int itu_pump_responses(struct pasid_client *c, const int64_t *ids, int *rc, int n);
/* How many descriptors process pid holds (/proc/<pid>/fd). */
int itu_fd_count(pid_t pid);
/* Checks that pid holds want descriptors, giving the count a second to settle (the daemon
 * closes a request's descriptors once it has handled it, which may be just after its answer
 * left); on failure lists them on stderr for whoever reads it. */
void itu_assert_fd_count(pid_t pid, int want);

#endif
