/*
 * Bulk fill (issue 15): MAPPINGS shared mappings (default 1,000,000; BENCH_QUICK: 50,000)
 * through the socket with pasid.alloc count 4096, one request in flight, in identity-mode VMs
 * of 500,000, with the state on tmpfs and on disk (each answer durable before it is sent).
 * Baseline in the same run: the same number of requests, of the same size, answered by an
 * epoll server (echo_server.c) with lines of the same total size, no work: what moving the
 * bytes costs.
 * Usage: bench_bulk [MAPPINGS [DISK_DIR]] (DISK_DIR default /var/tmp). With BENCH_PERF set,
 * profiles the daemon during each fill (bench_perf_start). Never fails on timing.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench_common.h"
#include "echo_server.h"
#include "harness.h"

#define PER_VM 500000

struct fill {
	double secs;
	size_t sent, received;
	long requests;
};

static struct fill
daemon_fill(const char *top, int mappings, const char *label)
{
	struct fill f = {0};
	struct it_daemon d;
	pid_t perf;
	double t0;
	int fd;

	bench_daemon_in(&d, top);
	if (it_restart(&d, "--shared-range", "4096-1048575", NULL) < 0) {
		fprintf(stderr, "bench_bulk: cannot start pasidd in %s\n", d.dir);
		exit(1);
	}
	fd = it_connect(&d);
	perf = bench_perf_start(d.pid, label);
	t0 = bench_now();
	bench_fill_identity_counted(fd, mappings, PER_VM, &f.sent, &f.received, &f.requests);
	f.secs = bench_now() - t0;
	bench_perf_stop(perf);
	close(fd);
	it_cleanup(&d);
	return f;
}

/* The same requests and bytes through the echo server. */
static double
echo_fill(const struct fill *like)
{
	char path[] = "/tmp/pasidd-bench-bulk.sock", req[256];
	struct echo_opts o = {.mode = ECHO_FIXED, .cpu = -1};
	struct it_daemon e = {0};
	struct it_reader rd;
	size_t reqlen = like->sent / (size_t)like->requests;
	double t0, secs;
	pid_t pid;
	int fd;

	o.reply_len = like->received / (size_t)like->requests;
	memset(req, 'r', sizeof(req));
	if (reqlen < 2 || reqlen > sizeof(req))
		reqlen = 100;
	req[reqlen - 1] = '\0'; /* it_sendline adds the LF */
	pid = echo_start(path, &o);
	snprintf(e.sock, sizeof(e.sock), "%s", path);
	fd = it_connect(&e);
	it_reader_init(&rd, fd);
	t0 = bench_now();
	for (long i = 0; i < like->requests; i++) {
		char *r;

		if (it_sendline(fd, req) < 0 || !(r = it_reader_line(&rd, 60000))) {
			fprintf(stderr, "bench_bulk: echo server lost\n");
			exit(1);
		}
		free(r);
	}
	secs = bench_now() - t0;
	it_reader_free(&rd);
	close(fd);
	echo_stop(pid);
	unlink(path);
	return secs;
}

int
main(int argc, char **argv)
{
	int mappings = argc > 1 && *argv[1] ? atoi(argv[1]) : bench_quick() ? 50000 : 1000000;
	const char *disk = argc > 2 && *argv[2] ? argv[2] : "/var/tmp";
	struct fill tmpfs, ondisk;
	char fig[96], base[96];
	double echo;

	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	setenv("PASIDD", PASIDD_BIN, 0);
	tmpfs = daemon_fill("/dev/shm", mappings, "bulk-tmpfs");
	ondisk = daemon_fill(disk, mappings, "bulk-disk");
	echo = echo_fill(&tmpfs);
	printf("bulk fill of %d mappings, pasid.alloc count 4096 (%ld requests, %.1f kB out, "
	       "%.1f MB back):\n",
	       mappings, tmpfs.requests, tmpfs.sent / 1e3, tmpfs.received / 1e6);
	printf("  %-44s %7.3f s  %9.0f mappings/s\n", "pasidd, state on tmpfs", tmpfs.secs,
	       mappings / tmpfs.secs);
	printf("  %-44s %7.3f s  %9.0f mappings/s\n", "pasidd, state on disk (durable)",
	       ondisk.secs, mappings / ondisk.secs);
	printf("  %-44s %7.3f s\n", "baseline: same bytes through an echo server", echo);
	snprintf(base, sizeof(base), "%.3f s echo of the same bytes", echo);
	snprintf(fig, sizeof(fig), "%.3f s for %dk (%.0f k/s)", tmpfs.secs, mappings / 1000,
	         mappings / tmpfs.secs / 1e3);
	bench_row("bulk fill, tmpfs", fig, base, tmpfs.secs / echo, "<= 2 s (at 1M)",
	          mappings >= 1000000 ? tmpfs.secs <= 2 : -1);
	snprintf(fig, sizeof(fig), "%.3f s for %dk (%.0f k/s)", ondisk.secs, mappings / 1000,
	         mappings / ondisk.secs / 1e3);
	bench_row("bulk fill, disk (durable)", fig, base, ondisk.secs / echo, "<= 2 s (at 1M)",
	          mappings >= 1000000 ? ondisk.secs <= 2 : -1);
	return 0;
}
