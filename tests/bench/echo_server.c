#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "echo_server.h"
#include "bench_common.h"

#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { MAX_EVENTS = 64, CHUNK = 65536 };

static int
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static void
answer(const struct echo_opts *o, int fd, const char *buf, size_t n, const char *fixed)
{
	if (o->mode != ECHO_FIXED) {
		if (write_all(fd, buf, n) < 0)
			close(fd);
		return;
	}
	for (size_t i = 0; i < n; i++)
		if (buf[i] == '\n' && write_all(fd, fixed, o->reply_len) < 0) {
			close(fd);
			return;
		}
}

/* Busy for ns nanoseconds (the server is pinned: wall time is its CPU time). */
static void
spin(long ns)
{
	struct timespec a, b;

	clock_gettime(CLOCK_MONOTONIC, &a);
	do
		clock_gettime(CLOCK_MONOTONIC, &b);
	while ((b.tv_sec - a.tv_sec) * 1000000000L + (b.tv_nsec - a.tv_nsec) < ns);
}

static void
serve(int lfd, const struct echo_opts *o)
{
	struct epoll_event ev = {.events = EPOLLIN}, evs[MAX_EVENTS];
	static char bufs[MAX_EVENTS][CHUNK];
	ssize_t lens[MAX_EVENTS];
	int ep = epoll_create1(EPOLL_CLOEXEC), sync_fd = -1;
	char *fixed = NULL;

	if (o->mode == ECHO_FIXED) {
		fixed = malloc(o->reply_len);
		memset(fixed, 'x', o->reply_len);
		fixed[o->reply_len - 1] = '\n';
	}
	if (o->mode == ECHO_SYNC &&
	    (sync_fd = open(o->sync_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600)) < 0)
		_exit(1);
	/* Blocks reserved ahead, size kept, as the journal does (journal_commit.c): each sync
	 * then writes data and the size, not block allocations. */
	if (sync_fd >= 0)
		(void)fallocate(sync_fd, FALLOC_FL_KEEP_SIZE, 0, 256 << 20);
	ev.data.fd = lfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	for (;;) {
		int n = epoll_wait(ep, evs, MAX_EVENTS, -1);
		bool wrote = false;

		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;

			lens[i] = -1;
			if (fd == lfd) {
				int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

				if (c >= 0) {
					ev.data.fd = c;
					epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
				}
				continue;
			}
			lens[i] = read(fd, bufs[i], CHUNK);
			if (lens[i] <= 0) {
				close(fd); /* also leaves the epoll set */
				lens[i] = -1;
				continue;
			}
			if (sync_fd >= 0) {
				if (write_all(sync_fd, bufs[i], (size_t)lens[i]) < 0)
					_exit(1);
				wrote = true;
			}
		}
		/* Group commit: one fdatasync covers every request of this turn. */
		if (wrote && fdatasync(sync_fd) < 0)
			_exit(1);
		for (int i = 0; i < n; i++)
			if (lens[i] > 0) {
				if (o->work_ns > 0)
					spin(o->work_ns);
				answer(o, evs[i].data.fd, bufs[i], (size_t)lens[i], fixed);
			}
	}
}

pid_t
echo_start(const char *path, const struct echo_opts *o)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	pid_t pid;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	unlink(path);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 64) < 0) {
		perror("echo_start");
		exit(1);
	}
	pid = fork();
	if (pid < 0) {
		perror("fork");
		exit(1);
	}
	if (pid == 0) {
		signal(SIGPIPE, SIG_IGN);
		signal(SIGTERM, SIG_DFL);
		if (o->cpu >= 0)
			bench_pin(o->cpu);
		serve(lfd, o);
	}
	close(lfd);
	return pid;
}

void
echo_stop(pid_t pid)
{
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
}
