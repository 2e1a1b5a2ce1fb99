/*
 * Throughput at 1 and 16 connections (issue 15): a closed-loop load generator (one thread and
 * connection each, one request in flight) alternating pasid.alloc and pasid.free of one
 * gPASID in its own translated VM, the server pinned to CPU 0 and the load generator to
 * CPU 1 (bench_pin), each case for SECS seconds (default 3; BENCH_QUICK: 0.3). Beside it, in
 * the same run, with the same pinning and the same request lines (echo_server.c):
 *   state on tmpfs   vs a raw Unix-socket line echo server (epoll over every connection)
 *   state on disk    vs a bare group-commit echo server (per epoll turn: append what every
 *                    connection sent, one fdatasync, then the answers)
 * and the steadier figure: the server's CPU time per request (utime+stime from
 * /proc/<pid>/stat over the run / requests), pasidd's beside the echo server's.
 * With BENCH_PERF set, one more 16-connection run on tmpfs is profiled (throughput.data).
 * Usage: bench_throughput [SECS [DISK_DIR]] (DISK_DIR default /var/tmp). Never fails on
 * timing.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_common.h"
#include "echo_server.h"
#include "harness.h"

#define MAX_CONNS 16

struct worker {
	int fd, idx;
	bool daemon;
	long requests;
	pthread_t th;
};

static atomic_bool stop;
static pthread_barrier_t go;

/* The answer to the one request in flight: reads until the data ends a line. */
static int
answer(int fd, char *buf, size_t cap)
{
	size_t n = 0;

	do {
		ssize_t r = read(fd, buf + n, cap - n - 1);

		if (r <= 0)
			return -1;
		n += (size_t)r;
	} while (buf[n - 1] != '\n' && n < cap - 1);
	buf[n] = '\0';
	return 0;
}

static void *
work(void *arg)
{
	struct worker *w = arg;
	char alloc[256], fr[256], buf[4096];
	int na, nf;

	na = snprintf(alloc, sizeof(alloc),
	              "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"pasid.alloc\",\"params\":{\"vm\":"
	              "\"t%d\",\"type\":\"shared\",\"gpasid\":1}}\n",
	              w->idx);
	nf = snprintf(fr, sizeof(fr),
	              "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"pasid.free\",\"params\":{\"vm\":"
	              "\"t%d\",\"gpasid\":1}}\n",
	              w->idx);
	/* One pair first, checked: a refused alloc would measure error answers. */
	if (it_send(w->fd, alloc, (size_t)na) < 0 || answer(w->fd, buf, sizeof(buf)) < 0 ||
	    (w->daemon && strstr(buf, "\"error\"")) || it_send(w->fd, fr, (size_t)nf) < 0 ||
	    answer(w->fd, buf, sizeof(buf)) < 0) {
		fprintf(stderr, "bench_throughput: %s\n", buf);
		exit(1);
	}
	pthread_barrier_wait(&go);
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		if (it_send(w->fd, alloc, (size_t)na) < 0 || answer(w->fd, buf, sizeof(buf)) < 0 ||
		    it_send(w->fd, fr, (size_t)nf) < 0 || answer(w->fd, buf, sizeof(buf)) < 0) {
			fprintf(stderr, "bench_throughput: connection lost\n");
			exit(1);
		}
		w->requests += 2;
	}
	return NULL;
}

struct result {
	double rate;     /* requests/s */
	double cpu_req;  /* server CPU seconds per request */
	double user_req; /* of which in user space */
	long requests;
	double syncs; /* pasidd: journal commits (write + fdatasync) per request */
};

/* pasidd_journal_commits_total{outcome="ok"} from daemon.metrics, -1 when not found. */
static long
commits(const struct it_daemon *d)
{
	int fd = it_connect(d);
	char *r = fd < 0 ? NULL
	                 : it_roundtrip(fd, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
	                                    "\"daemon.metrics\"}");
	const char *p = r ? strstr(r, "pasidd_journal_commits_total{outcome=") : NULL;
	long n = -1;

	if (p && (p = strchr(p, '}')))
		n = atol(p + 1);
	free(r);
	if (fd >= 0)
		close(fd);
	return n;
}

/* conns connections to the server at sock (pid: its process), for secs seconds. */
static struct result
load(const char *sock, pid_t pid, bool daemon, int conns, double secs)
{
	struct worker w[MAX_CONNS];
	struct it_daemon peer = {0};
	struct result r;
	double t0, c0, u0, t1, c1, u1;
	long total = 0;

	snprintf(peer.sock, sizeof(peer.sock), "%s", sock);
	atomic_store(&stop, false);
	pthread_barrier_init(&go, NULL, (unsigned)conns + 1);
	for (int i = 0; i < conns; i++) {
		w[i] = (struct worker){.fd = it_connect(&peer), .idx = i, .daemon = daemon};
		if (w[i].fd < 0) {
			fprintf(stderr, "bench_throughput: cannot connect to %s\n", sock);
			exit(1);
		}
		if (daemon) {
			char req[200], *a;

			snprintf(req, sizeof(req),
			         "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"vm.register\","
			         "\"params\":{\"vm\":\"t%d\"}}",
			         i);
			a = it_roundtrip(w[i].fd, req);
			free(a);
		}
		pthread_create(&w[i].th, NULL, work, &w[i]);
	}
	pthread_barrier_wait(&go);
	t0 = bench_now();
	c0 = bench_cpu_secs(pid);
	u0 = bench_user_secs(pid);
	usleep((useconds_t)(secs * 1e6));
	atomic_store(&stop, true);
	t1 = bench_now();
	c1 = bench_cpu_secs(pid);
	u1 = bench_user_secs(pid);
	for (int i = 0; i < conns; i++) {
		pthread_join(w[i].th, NULL);
		total += w[i].requests;
		close(w[i].fd);
	}
	pthread_barrier_destroy(&go);
	r.rate = total / (t1 - t0);
	r.cpu_req = (c1 - c0) / (double)total;
	r.user_req = (u1 - u0) / (double)total;
	r.requests = total;
	r.syncs = -1;
	return r;
}

/* pasidd with its state under top, pinned to CPU 0. */
static struct result
daemon_case(const char *top, int conns, double secs, const char *perf_label)
{
	struct it_daemon d;
	struct result r;
	pid_t perf = 0;

	bench_daemon_in(&d, top);
	bench_pin(0);
	if (it_restart(&d, NULL) < 0) {
		fprintf(stderr, "bench_throughput: cannot start pasidd in %s\n", d.dir);
		exit(1);
	}
	bench_pin(1);
	if (perf_label)
		perf = bench_perf_start(d.pid, perf_label);
	long c0 = commits(&d);
	r = load(d.sock, d.pid, true, conns, secs);
	long c1 = commits(&d);
	/* The counts include the registrations and the checked first pair: small beside the run. */
	r.syncs = c0 >= 0 && c1 >= c0 && r.requests ? (double)(c1 - c0) / (double)r.requests : -1;
	bench_perf_stop(perf);
	it_cleanup(&d);
	return r;
}

/* work_ns: what the echo server spends on each read before answering it. */
static struct result
echo_case(const char *top, enum echo_mode mode, int conns, double secs, long work_ns)
{
	char dir[256], sock[300], file[300], cmd[600];
	struct echo_opts o = {.mode = mode, .cpu = 0, .sync_file = file, .work_ns = work_ns};
	struct result r;
	pid_t pid;

	snprintf(dir, sizeof(dir), "%s/pasidd-bench-echo.XXXXXX", top);
	if (!mkdtemp(dir)) {
		perror(dir);
		exit(1);
	}
	snprintf(sock, sizeof(sock), "%s/e.sock", dir);
	snprintf(file, sizeof(file), "%s/journal", dir);
	pid = echo_start(sock, &o);
	bench_pin(1);
	r = load(sock, pid, false, conns, secs);
	echo_stop(pid);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "bench_throughput: cannot remove %s\n", dir);
	return r;
}

static void
rows(const char *where, const char *echo_name, int conns, struct result d, struct result e,
     double target)
{
	char bench[96], fig[64], base[96], tgt[32];

	printf("  %-7s %2d conn  pasidd %9.0f req/s %7.1f us CPU/req   %-16s %9.0f req/s %7.1f us "
	       "CPU/req\n",
	       where, conns, d.rate, d.cpu_req * 1e6, echo_name, e.rate, e.cpu_req * 1e6);
	if (d.syncs >= 0)
		printf("  %-7s %2d conn  pasidd: %.3f journal commits per request\n", where, conns,
		       d.syncs);
	snprintf(bench, sizeof(bench), "throughput, %s, %d conn", where, conns);
	snprintf(fig, sizeof(fig), "%.0f req/s", d.rate);
	snprintf(base, sizeof(base), "%.0f req/s %s", e.rate, echo_name);
	snprintf(tgt, sizeof(tgt), ">= %.1fx", target);
	bench_row(bench, fig, base, d.rate / e.rate, conns == MAX_CONNS ? tgt : NULL,
	          conns == MAX_CONNS ? d.rate / e.rate >= target : -1);
	snprintf(bench, sizeof(bench), "CPU per request, %s, %d conn", where, conns);
	snprintf(fig, sizeof(fig), "%.1f us", d.cpu_req * 1e6);
	snprintf(base, sizeof(base), "%.1f us %s", e.cpu_req * 1e6, echo_name);
	/* A run too short for the clock tick reads 0 s of CPU: no ratio then. */
	if (d.cpu_req > 0 && e.cpu_req > 0)
		bench_row(bench, fig, base, d.cpu_req / e.cpu_req, "<= 1.3x",
		          d.cpu_req / e.cpu_req <= 1.3);
	else
		bench_row(bench, fig, base, -1, "<= 1.3x", -1);
}

/* What the transport costs a server that does work of its own: the line echo again, spending
 * on each request the user-space CPU pasidd spent beyond the plain echo's. On a VM a slower
 * server leaves the load generator's CPU idle more often, and each answer then wakes it
 * with an interrupt (a VM exit): the kernel's share of a request grows with the server's own
 * work, so the plain echo's CPU per request is a floor no server with work can reach. */
static void
same_work(struct result d, struct result e, double secs)
{
	long work_ns = (long)((d.user_req - e.user_req) * 1e9);
	struct result w;
	char fig[64], base[128];

	if (work_ns <= 0 || d.cpu_req <= 0)
		return;
	w = echo_case("/dev/shm", ECHO_LINE, MAX_CONNS, secs, work_ns);
	printf("  tmpfs   %2d conn  pasidd %9.0f req/s %7.1f us CPU/req   line echo + %.1f us "
	       "work %9.0f req/s %7.1f us CPU/req\n",
	       MAX_CONNS, d.rate, d.cpu_req * 1e6, work_ns / 1e3, w.rate, w.cpu_req * 1e6);
	snprintf(fig, sizeof(fig), "%.1f us (%.1f us in user space)", d.cpu_req * 1e6,
	         d.user_req * 1e6);
	snprintf(base, sizeof(base), "%.1f us line echo spending %.1f us a request (%.0f req/s)",
	         w.cpu_req * 1e6, work_ns / 1e3, w.rate);
	bench_row("CPU per request, tmpfs, 16 conn, beside an echo doing as much work", fig, base,
	          w.cpu_req > 0 ? d.cpu_req / w.cpu_req : -1, NULL, -1);
}

int
main(int argc, char **argv)
{
	double secs = argc > 1 && *argv[1] ? atof(argv[1]) : bench_quick() ? 0.3 : 3;
	const char *disk = argc > 2 && *argv[2] ? argv[2] : "/var/tmp";
	static const int conns[] = {1, MAX_CONNS};

	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	setenv("PASIDD", PASIDD_BIN, 0);
	printf(
	    "throughput, alternating alloc/free, %.1f s a case, server on CPU 0, load on CPU 1:\n",
	    secs);
	for (int i = 0; i < 2; i++) {
		struct result e = echo_case("/dev/shm", ECHO_LINE, conns[i], secs, 0),
		              d = daemon_case("/dev/shm", conns[i], secs, NULL);

		rows("tmpfs", "line echo", conns[i], d, e, 0.8);
		if (conns[i] == MAX_CONNS)
			same_work(d, e, secs);
	}
	for (int i = 0; i < 2; i++) {
		struct result e = echo_case(disk, ECHO_SYNC, conns[i], secs, 0),
		              d = daemon_case(disk, conns[i], secs, NULL);

		rows("disk", "group-commit echo", conns[i], d, e, 0.9);
	}
	if (getenv("BENCH_PERF"))
		daemon_case("/dev/shm", MAX_CONNS, secs, "throughput");
	return 0;
}
