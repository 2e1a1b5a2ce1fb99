/* Compaction in a forked child (compact_bg.h). The journal's side, the order of the files and
 * why every crash recovers, is journal_compact.c's; this file is the processes.
 *
 * THE CHILD is made right after journal_compact_begin(), with nothing in flight: its memory
 * is the state as of that moment, and the daemon appends to the new journal from then on. It
 * runs no event loop and holds nothing of the daemon's: it closes every descriptor it
 * inherited but the snapshot's temporary file, the old files (below) and its two pipes (the
 * listening socket, the clients' connections, the journal and its lock: close() of a copy never
 * affects the daemon's, and shutdown() is never called), takes the default action for every
 * signal, asks to be killed when the daemon dies (PR_SET_PDEATHSIG, checked against a death
 * before the request), writes and syncs the snapshot, writes its result (0 or -errno) to the
 * pipe and leaves with _exit(): no atexit handlers, no stdio flushed twice. It renames and
 * removes nothing, so a child outliving its daemon cannot disturb the next one. It is not a
 * client: owners and peers are what connects to the socket.
 *
 * THE DAEMON learns of the end from the pipe (an event on the loop; EOF without a result: the
 * child died), finishes the compaction there (journal_compact_end(): a rename, removals and
 * directory syncs, well under a millisecond each) and reaps the child with waitpid(WNOHANG),
 * retried on a short timer while the child is still exiting: the loop never waits for it.
 * The old generation's files, tens of MB at a million mappings, would take the removal
 * tens of milliseconds to free; the child holds them open (journal_compaction_fds()) until
 * the daemon closes the second pipe after removing them, so that their blocks are freed
 * as the child exits instead. At shutdown (compact_bg_stop) a running child is killed and
 * reaped, and its temporary file removed.
 *
 * Test hook: with PASIDD_TEST_COMPACT_STALL in the environment the child stops before
 * writing anything until it is killed, so that a test can see the daemon serve, and die,
 * while a compaction runs. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "compact_bg.h"
#include "log.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct compact_bg {
	struct journal *j;
	struct journal_compaction *jc; /* until journal_compact_end() */
	pid_t pid;                     /* until reaped */
	int rfd;                       /* the result's pipe */
	int hold;                      /* closed: the child may exit (child_main) */
	struct event *ev;              /* rfd readable */
	struct event *reap;            /* the child is still exiting */
	int rc;
	struct timespec t0;
	struct compact_bg_times t;
	void (*done)(void *ctx, int rc, const struct compact_bg_times *t);
	void *done_ctx;
};

/* While the child is still exiting after its result. */
static const struct timeval reap_again = {0, 1000};

static double
ms_between(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) * 1e3 + (double)(b->tv_nsec - a->tv_nsec) / 1e6;
}

static double
ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return ms_between(t0, &t1);
}

/* Closes descriptors lo..hi (close_range(), or one by one below the limit without it). */
static void
close_span(unsigned lo, unsigned hi)
{
	struct rlimit rl;

	if (lo > hi || syscall(SYS_close_range, lo, hi, 0) == 0)
		return;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur - 1 < hi)
		hi = (unsigned)rl.rlim_cur - 1;
	for (unsigned fd = lo; fd <= hi && fd >= lo; fd++)
		close((int)fd);
}

static int
cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

/* Every descriptor above stderr but the n in keep (sorted here). */
static void
close_all_but(int *keep, size_t n)
{
	unsigned lo = 3;

	qsort(keep, n, sizeof(*keep), cmp_int);
	for (size_t i = 0; i < n; i++) {
		if (keep[i] < 0 || (unsigned)keep[i] < lo)
			continue;
		if ((unsigned)keep[i] > lo)
			close_span(lo, (unsigned)keep[i] - 1);
		lo = (unsigned)keep[i] + 1;
	}
	close_span(lo, ~0u);
}

static _Noreturn void
child_main(pid_t daemon, int wfd, int hold, struct journal_compaction *jc,
           int (*write_state)(void *ctx, struct journal_snapshot *w), void *ctx)
{
	int keep[2 + 16], rc;
	const int *fds;
	size_t n = journal_compaction_fds(jc, &fds), k = 0;
	sigset_t none;
	char byte;

	/* Before anything else: a daemon killed from here on takes the child with it. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != daemon)
		_exit(1);
	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL); /* SIGKILL and SIGSTOP refuse: no matter */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	keep[k++] = wfd;
	keep[k++] = hold;
	for (size_t i = 0; i < n && k < sizeof(keep) / sizeof(keep[0]); i++)
		keep[k++] = fds[i];
	close_all_but(keep, k);
	/* Serving goes first on a busy host; the journal keeps everything meanwhile. */
	if (setpriority(PRIO_PROCESS, 0, 10) < 0) {
		/* not worth failing for */
	}
	while (getenv("PASIDD_TEST_COMPACT_STALL"))
		pause();
	rc = journal_compact_write(jc, write_state, ctx);
	if (write(wfd, &rc, sizeof(rc)) < 0) {
		/* the daemon is gone: nobody to tell */
	}
	/* Until the daemon has removed the old files (EOF): they are freed as this exits. */
	while (read(hold, &byte, 1) < 0 && errno == EINTR)
		;
	_exit(rc < 0 ? 1 : 0);
}

static void
finish(struct compact_bg *c)
{
	struct timespec t0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	c->rc = journal_compact_end(c->j, c->jc, c->rc);
	c->jc = NULL;
	close(c->hold);
	c->hold = -1;
	c->t.end_ms = ms_since(&t0);
	c->t.paused_ms += c->t.end_ms;
	c->t.total_ms = ms_since(&c->t0);
}

/* Reaped: the compaction is over. */
static void
over(struct compact_bg *c)
{
	c->done(c->done_ctx, c->rc, &c->t);
	event_free(c->ev);
	event_free(c->reap);
	close(c->rfd);
	free(c);
}

static void
reap_cb(evutil_socket_t fd, short what, void *arg)
{
	struct compact_bg *c = arg;
	pid_t r = waitpid(c->pid, NULL, WNOHANG);

	if (r == 0 || (r < 0 && errno == EINTR)) {
		evtimer_add(c->reap, &reap_again);
		return;
	}
	/* Reaped, or not ours to reap any more (SIGCHLD ignored: the kernel did it). */
	c->pid = -1;
	over(c);
}

static void
result_cb(evutil_socket_t fd, short what, void *arg)
{
	struct compact_bg *c = arg;
	int rc = -ECHILD; /* EOF with no result: the child died */
	ssize_t n = read(c->rfd, &rc, sizeof(rc));

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n != (ssize_t)sizeof(rc))
		rc = n < 0 ? -errno : -ECHILD;
	c->rc = rc;
	event_del(c->ev);
	finish(c);
	reap_cb(-1, 0, c);
}

/* The compaction in the foreground, when no child can be made. */
static int
foreground(struct journal *j, int (*write_state)(void *ctx, struct journal_snapshot *w), void *ctx,
           void (*done)(void *done_ctx, int rc, const struct compact_bg_times *t), void *done_ctx,
           const char *what, int err)
{
	struct compact_bg_times t = {0};
	struct timespec t0;
	int rc;

	log_warn("cannot compact in the background (%s: %s): compacting in the foreground, "
	         "serving nothing meanwhile",
	         what, strerror(err));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = journal_compact(j, write_state, ctx);
	t.total_ms = t.paused_ms = ms_since(&t0);
	done(done_ctx, rc, &t);
	return 0;
}

int
compact_bg_start(struct event_base *base, struct journal *j,
                 int (*write_state)(void *ctx, struct journal_snapshot *w), void *ctx,
                 void (*done)(void *done_ctx, int rc, const struct compact_bg_times *t),
                 void *done_ctx, struct compact_bg **out)
{
	struct compact_bg *c = calloc(1, sizeof(*c));
	const char *what = "out of memory";
	int p[2] = {-1, -1}, h[2] = {-1, -1}, err = ENOMEM, rc;
	pid_t self = getpid();

	*out = NULL;
	if (!c)
		return foreground(j, write_state, ctx, done, done_ctx, what, err);
	c->j = j;
	c->rfd = -1;
	c->hold = -1;
	c->pid = -1;
	c->done = done;
	c->done_ctx = done_ctx;
	c->t.background = true;
	clock_gettime(CLOCK_MONOTONIC, &c->t0);
	if (pipe2(p, O_CLOEXEC) < 0 || pipe2(h, O_CLOEXEC) < 0) {
		what = "pipe";
		err = errno;
		goto fallback;
	}
	c->rfd = p[0];
	if (fcntl(c->rfd, F_SETFL, O_NONBLOCK) < 0 ||
	    !(c->ev = event_new(base, c->rfd, EV_READ | EV_PERSIST, result_cb, c)) ||
	    !(c->reap = evtimer_new(base, reap_cb, c)))
		goto fallback;
	rc = journal_compact_begin(j, &c->jc);
	if (rc < 0) {
		close(p[0]);
		close(p[1]);
		close(h[0]);
		close(h[1]);
		if (c->ev)
			event_free(c->ev);
		event_free(c->reap);
		free(c);
		return rc;
	}
	c->t.begin_ms = ms_since(&c->t0);
	c->pid = fork();
	if (c->pid == 0)
		child_main(self, p[1], h[0], c->jc, write_state, ctx);
	if (c->pid < 0) {
		what = "fork";
		err = errno;
		journal_compact_abandon(j);
		goto fallback;
	}
	close(p[1]);
	close(h[0]);
	c->hold = h[1];
	journal_compaction_release(c->jc); /* the child holds them now */
	event_add(c->ev, NULL);
	c->t.paused_ms = ms_since(&c->t0);
	c->t.fork_ms = c->t.paused_ms - c->t.begin_ms;
	*out = c;
	return 0;

fallback:
	for (int i = 0; i < 2; i++) {
		if (p[i] >= 0)
			close(p[i]);
		if (h[i] >= 0)
			close(h[i]);
	}
	if (c->ev)
		event_free(c->ev);
	if (c->reap)
		event_free(c->reap);
	free(c);
	return foreground(j, write_state, ctx, done, done_ctx, what, err);
}

void
compact_bg_stop(struct compact_bg *c)
{
	if (!c)
		return;
	if (c->pid > 0) {
		kill(c->pid, SIGKILL);
		while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	if (c->jc)
		journal_compact_abandon(c->j);
	if (c->hold >= 0)
		close(c->hold);
	event_free(c->ev);
	event_free(c->reap);
	close(c->rfd);
	free(c);
}
