/* The transport baselines of the daemon benchmarks: a Unix-socket server that does no work
 * but the daemon's I/O pattern (epoll over every connection, one answer line per request
 * line), run in a child process so that its CPU time can be read like the daemon's. */
#ifndef PASIDD_BENCH_ECHO_SERVER_H
#define PASIDD_BENCH_ECHO_SERVER_H

#include <stddef.h>
#include <sys/types.h>

enum echo_mode {
	ECHO_LINE,  /* answers each read with the bytes read: a raw line echo */
	ECHO_FIXED, /* answers each request line with a line of reply_len bytes */
	ECHO_SYNC,  /* a bare group commit: per loop turn, appends what every connection sent
	             * to a file (blocks reserved ahead, like the journal) and fdatasyncs it
	             * once, then echoes */
};

struct echo_opts {
	enum echo_mode mode;
	size_t reply_len;      /* ECHO_FIXED: bytes of each answer line, LF included */
	const char *sync_file; /* ECHO_SYNC: the file appended to */
	int cpu;               /* pinned there (bench_pin), or -1 */
	long work_ns;          /* CPU spent on each read before answering it (a server that
	                        * does work of its own), 0: none */
};

/* Listens on path and serves in a forked child until SIGTERM. The child's pid; exits on
 * failure. */
pid_t echo_start(const char *path, const struct echo_opts *o);
/* SIGTERM and wait. */
void echo_stop(pid_t pid);

#endif
