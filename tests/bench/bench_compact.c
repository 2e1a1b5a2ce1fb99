/*
 * The pause a compaction makes in serving (issue 15): a daemon holding MAPPINGS live mappings
 * in translated VMs (gPASIDs not consecutive, so that its snapshot has a record a mapping, not
 * runs) is churned with pasid.alloc/pasid.free pairs until its journal outgrows the threshold
 * and it compacts, while this process sends daemon.status every 2 ms: the latency during the
 * churn, the compaction included, beside the idle daemon's, and the daemon's own log line of
 * the compaction ("compacted the state in X ms", with the part spent paused on the loop when
 * a child writes the snapshot).
 * Usage: bench_compact [MAPPINGS [DIR]] (default 1,000,000; BENCH_QUICK: 50,000): the state
 * under DIR (default: the harness's, under /tmp). Prints figures and run.sh's rows; never fails
 * on timing.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_common.h"
#include "harness.h"

#define GUEST 4095 /* gPASIDs of a translated VM */

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* A JSON array of n pasid.alloc of VM vm, gPASIDs from k on in a scattered order. */
static size_t
alloc_batch(char *buf, size_t cap, int vm, int k, int n)
{
	size_t len = 0;

	len += (size_t)snprintf(buf + len, cap - len, "[");
	for (int i = 0; i < n; i++)
		len += (size_t)snprintf(
		    buf + len, cap - len,
		    "%s{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"pasid.alloc\",\"params\":{"
		    "\"vm\":\"t%d\",\"type\":\"shared\",\"gpasid\":%d}}",
		    i ? "," : "", i, vm, (k + i) * 37 % GUEST + 1);
	len += (size_t)snprintf(buf + len, cap - len, "]\n");
	return len;
}

static void
send_or_die(int fd, struct it_reader *rd, const char *req, size_t len)
{
	char *r;

	if (it_send(fd, req, len) < 0 || !(r = it_reader_line(rd, 120000))) {
		fprintf(stderr, "bench_compact: no answer\n");
		exit(1);
	}
	if (strstr(r, "\"error\"")) {
		fprintf(stderr, "bench_compact: refused: %.300s\n", r);
		exit(1);
	}
	free(r);
}

static int
fill_translated(int fd, int mappings)
{
	size_t cap = (size_t)GUEST * 160;
	char *buf = malloc(cap), reg[160];
	struct it_reader rd;
	int vms = 0;

	it_reader_init(&rd, fd);
	for (int left = mappings; left > 0; vms++) {
		int n = left < GUEST ? left : GUEST;

		snprintf(reg, sizeof(reg),
		         "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"vm.register\",\"params\":{"
		         "\"vm\":\"t%d\",\"mode\":\"translated\"}}\n",
		         vms);
		send_or_die(fd, &rd, reg, strlen(reg));
		for (int k = 0; k < n; k += 400) {
			int c = n - k < 400 ? n - k : 400;

			send_or_die(fd, &rd, buf, alloc_batch(buf, cap, vms, k, c));
		}
		left -= n;
	}
	it_reader_free(&rd);
	free(buf);
	return vms;
}

/* Alloc/free pairs of one gPASID, 200 pairs a batch (a message is at most 64 KiB), for ever. */
static void
churn(const struct it_daemon *d)
{
	static const char reg[] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"vm.register\","
	                          "\"params\":{\"vm\":\"churn\",\"mode\":\"translated\"}}\n";
	size_t cap = 400 * 128, len = 0;
	char *buf = malloc(cap);
	int fd = it_connect(d);
	struct it_reader rd;

	len += (size_t)snprintf(buf + len, cap - len, "[");
	for (int i = 0; i < 200; i++)
		len += (size_t)snprintf(
		    buf + len, cap - len,
		    "%s{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"pasid.alloc\",\"params\":{"
		    "\"vm\":\"churn\",\"type\":\"shared\",\"gpasid\":1}},"
		    "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"pasid.free\",\"params\":{"
		    "\"vm\":\"churn\",\"gpasid\":1}}",
		    i ? "," : "", 2 * i, 2 * i + 1);
	len += (size_t)snprintf(buf + len, cap - len, "]\n");
	it_reader_init(&rd, fd);
	send_or_die(fd, &rd, reg, sizeof(reg) - 1);
	for (;;)
		send_or_die(fd, &rd, buf, len);
}

struct sample {
	double ms;
	long snapshot, gen;
};

/* One daemon.status round trip: its latency, and the journal's snapshot size and
 * generation from the answer. */
static struct sample
status(int fd, struct it_reader *rd)
{
	static const char req[] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"daemon.status\"}\n";
	double t0 = bench_now();
	char *r = it_send(fd, req, sizeof(req) - 1) < 0 ? NULL : it_reader_line(rd, 60000);
	struct sample s = {(bench_now() - t0) * 1e3, -1, -1};
	const char *p;

	if (!r) {
		fprintf(stderr, "bench_compact: daemon.status got no answer\n");
		exit(1);
	}
	if ((p = strstr(r, "\"snapshot_bytes\":")))
		s.snapshot = atol(p + 17);
	if ((p = strstr(r, "\"generation\":")))
		s.gen = atol(p + 13);
	free(r);
	return s;
}

static void
summary(const char *label, double *t, int n, double *p99, double *max)
{
	qsort(t, (size_t)n, sizeof(*t), cmp_double);
	*p99 = t[n * 99 / 100];
	*max = t[n - 1];
	printf("  %-46s p50 %7.3f ms  p99 %7.3f ms  max %8.3f ms  (%d requests)\n", label, t[n / 2],
	       *p99, *max, n);
}

int
main(int argc, char **argv)
{
	int mappings = argc > 1 && *argv[1] ? atoi(argv[1]) : bench_quick() ? 50000 : 1000000;
	int n = 0, cap = 200000, idle_n = bench_quick() ? 100 : 500, fd, vms, status_rc;
	double *t = calloc((size_t)cap, sizeof(*t)), idle99, idlemax, p99, max, t0;
	struct it_reader rd;
	struct it_daemon d;
	struct sample s0, s;
	const char *log, *line;
	pid_t churner;
	int after = -1, began = -1;
	double *w = calloc((size_t)cap, sizeof(*w)), *o = calloc((size_t)cap, sizeof(*o));
	int nw = 0, no = 0;

	signal(SIGPIPE, SIG_IGN);
	setenv("PASIDD", PASIDD_BIN, 0);
	if (argc > 2 && *argv[2]) {
		bench_daemon_in(&d, argv[2]);
		if (it_restart(&d, "--shared-range", "4096-1048575", NULL) < 0)
			return 1;
	} else if (it_start(&d, "--shared-range", "4096-1048575", NULL) < 0)
		return 1;
	fd = it_connect(&d);
	t0 = bench_now();
	vms = fill_translated(fd, mappings);
	printf("bench_compact: %d mappings in %d translated VMs (filled in %.1f s)\n", mappings,
	       vms, bench_now() - t0);
	it_reader_init(&rd, fd);
	for (int i = 0; i < idle_n; i++) {
		t[i] = status(fd, &rd).ms;
		usleep(2000);
	}
	summary("daemon.status, idle daemon (baseline)", t, idle_n, &idle99, &idlemax);
	s0 = status(fd, &rd);
	churner = fork();
	if (churner == 0)
		churn(&d);
	t0 = bench_now();
	/* Until the snapshot has changed and 200 more samples after it. */
	while (n < cap && (after < 0 || n < after + 200) && bench_now() - t0 < 600) {
		s = status(fd, &rd);
		t[n++] = s.ms;
		/* The generation moves when a compaction begins (at its end before there were
		 * children), the snapshot's size when it ends. */
		if (began < 0 && s.gen != s0.gen)
			began = n - 1;
		if (after < 0 && s.snapshot != s0.snapshot && s.snapshot > 0)
			after = n;
		usleep(2000);
	}
	kill(churner, SIGKILL);
	waitpid(churner, &status_rc, 0);
	/* The compaction's window: from the sample before the one that saw it begin to the one
	 * after the one that saw it end. */
	for (int i = 0; i < n; i++) {
		if (began >= 0 && i >= began - 1 && i <= after)
			w[nw++] = t[i];
		else
			o[no++] = t[i];
	}
	{
		double op99 = 0, omax = 0, wp99 = 0, wmax = 0;
		char fig[96], base[64];

		if (no)
			summary("daemon.status, churn, no compaction", o, no, &op99, &omax);
		if (nw)
			summary("daemon.status, churn, during the compaction", w, nw, &wp99, &wmax);
		summary("daemon.status, churn with a compaction", t, n, &p99, &max);
		/* The window's figures: outside it the churn's own commits (and a busy host) make
		 * outliers of their own. */
		snprintf(fig, sizeof(fig), "max %.2f ms, p99 %.2f ms (%d requests)", wmax, wp99,
		         nw);
		snprintf(base, sizeof(base), "churn alone max %.2f ms, p99 %.2f ms", omax, op99);
		if (nw && omax > 0)
			bench_row("compaction, daemon.status during it", fig, base, wmax / omax,
			          NULL, -1);
	}
	if (after < 0)
		printf("  (no compaction within 600 s)\n");
	log = it_log(&d);
	for (line = log; line && (line = strstr(line, "compacted the state in")); line++)
		printf("  daemon: %.*s\n", (int)strcspn(line, "\n"), line);
	it_reader_free(&rd);
	close(fd);
	it_cleanup(&d);
	free(t);
	free(w);
	free(o);
	return 0;
}
