/*
 * Start-up at full scale (issue 15): time from starting pasidd to its first daemon.status
 * answer (the socket may accept before the replay ends: only an answer means serving) with
 * MAPPINGS live shared mappings (default 1,000,000; BENCH_QUICK: 50,000), state on DISK_DIR
 * (default /var/tmp; its files are in the page cache, as after a crash of the daemon alone):
 *   filled by count:4096 filled through the socket with count allocations (one journal
 *                        record per run of consecutive mappings), then kill -9
 *   journal only         a journal written with the journal's calls (bench_write_journal),
 *                        one record per mapping, no snapshot: the worst case
 *   snapshot + journal   a journal of the same mappings interleaved between the VMs (so
 *                        that the snapshot holds one record per mapping, no runs), followed
 *                        by alloc/free churn that makes a compaction due; the daemon started
 *                        on it compacts just after it serves and is then killed with kill -9:
 *                        a snapshot and the journal since
 * Each with the replay's figures from pasidd's "replayed ... records in ... ms" log line, and
 * beside it the baseline of reading the state files' bytes (what I/O alone costs).
 * With BENCH_PERF set, both start-ups run again under `perf record -e cpu-clock -g`
 * (startup-journal.data, startup-snapshot.data).
 * Usage: bench_startup [MAPPINGS [DISK_DIR]]. Never fails on timing.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_common.h"
#include "harness.h"
#include "namespace.h"

#define PER_VM     500000
#define RANGE_ARGS "--shared-range", "4096-1048575"

/* Reads every regular file of dir: seconds, and the bytes in *bytes. */
static double
read_files(const char *dir, long *bytes)
{
	static char buf[1 << 20];
	double t0 = bench_now();
	struct dirent *e;
	DIR *dp = opendir(dir);

	*bytes = 0;
	while (dp && (e = readdir(dp))) {
		char path[600];
		ssize_t n;
		int fd;

		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (e->d_name[0] == '.' || (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			continue;
		while ((n = read(fd, buf, sizeof(buf))) > 0)
			*bytes += n;
		close(fd);
	}
	if (dp)
		closedir(dp);
	return bench_now() - t0;
}

static void
list_files(const char *dir)
{
	struct dirent *e;
	DIR *dp = opendir(dir);

	printf("    state:");
	while (dp && (e = readdir(dp))) {
		char path[600];
		struct stat st;

		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (e->d_name[0] != '.' && stat(path, &st) == 0 && S_ISREG(st.st_mode))
			printf(" %s %.1f MB", e->d_name, st.st_size / 1e6);
	}
	if (dp)
		closedir(dp);
	printf("\n");
}

/* The last "replayed ..." line of the daemon's log, from "replayed" on. */
static void
replay_line(const struct it_daemon *d, char *out, size_t len)
{
	const char *log = it_log(d), *p, *last = NULL;

	for (p = log; p && (p = strstr(p, "replayed ")); p++)
		last = p;
	snprintf(out, len, "%.*s", last ? (int)strcspn(last, "\n;") : 0, last ? last : "");
}

/* Starts pasidd on d's state; seconds until daemon.status is answered. */
static double
serve(struct it_daemon *d)
{
	double t0 = bench_now(), t;
	char *r;
	int fd;

	if (it_restart(d, RANGE_ARGS, NULL) < 0 || (fd = it_connect(d)) < 0) {
		fprintf(stderr, "bench_startup: pasidd did not start; log: %s\n", it_log(d));
		exit(1);
	}
	r = it_roundtrip(fd, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"daemon.status\"}");
	t = bench_now() - t0;
	if (!r) {
		fprintf(stderr, "bench_startup: no answer; log: %s\n", it_log(d));
		exit(1);
	}
	free(r);
	close(fd);
	return t;
}

/* Lists and reads the state files, then starts the daemon on them. */
static void
measure(struct it_daemon *d, const char *name, int mappings)
{
	char line[256], fig[400], base[96], bench[96];
	long bytes;
	double io, secs;

	list_files(d->state);
	io = read_files(d->state, &bytes);
	secs = serve(d);
	replay_line(d, line, sizeof(line));
	printf("  %-22s serving after %.3f s; %s; reading the files: %.1f ms (%.1f MB)\n", name,
	       secs, line, io * 1e3, bytes / 1e6);
	snprintf(bench, sizeof(bench), "start-up, %s", name);
	snprintf(fig, sizeof(fig), "%.3f s (%s)", secs, line);
	snprintf(base, sizeof(base), "%.1f ms reading %.1f MB", io * 1e3, bytes / 1e6);
	bench_row(bench, fig, base, secs / io, "<= 0.3 s (at 1M)",
	          mappings >= 1000000 ? secs <= 0.3 : -1);
}

/* Field 22 of /proc/self/stat: with the pid, what the daemon checks an owner by. */
static unsigned long long
self_starttime(void)
{
	char buf[1024], *p;
	unsigned long long st = 0;
	FILE *f = fopen("/proc/self/stat", "re");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

	if (f)
		fclose(f);
	buf[n] = '\0';
	if ((p = strrchr(buf, ')')))
		sscanf(p + 2,
		       "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d "
		       "%*d %llu",
		       &st);
	return st;
}

/* A start-up under perf record, ended by killing pasidd (perf then writes its data). */
static void
profiled_start(struct it_daemon *d, const char *launcher, const char *label)
{
	char out[512], path[128], kids[64] = "";
	FILE *f;

	snprintf(out, sizeof(out), "%s/%s.data", getenv("BENCH_PERF"), label);
	setenv("BENCH_PERF_OUT", out, 1);
	it_set_launcher(launcher);
	printf("  profiled (%s): serving after %.3f s\n", label, serve(d));
	it_set_launcher(NULL);
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)d->pid, (int)d->pid);
	if ((f = fopen(path, "re"))) {
		if (!fgets(kids, sizeof(kids), f))
			kids[0] = '\0';
		fclose(f);
	}
	/* SIGKILL: the profile ends at serving, without the teardown's frees. */
	if (atoi(kids) > 0)
		kill(atoi(kids), SIGKILL);
	waitpid(d->pid, NULL, 0);
	d->pid = 0;
}

/* The size of the snapshot daemon.status reports, -1 when there is no answer. */
static long
snapshot_bytes(int fd)
{
	struct json_object *r = it_call(fd, "daemon.status", NULL);
	long n = r ? (long)it_int(r, "result.journal.snapshot_bytes") : -1;

	json_object_put(r);
	return n;
}

/* A daemon under disk filled through the socket (count allocations: one record per run of
 * consecutive mappings), then killed with SIGKILL. */
static void
crashed(struct it_daemon *d, const char *disk, int mappings)
{
	double t0;
	int fd;

	bench_daemon_in(d, disk);
	if (it_restart(d, RANGE_ARGS, NULL) < 0 || (fd = it_connect(d)) < 0) {
		fprintf(stderr, "bench_startup: pasidd did not start\n");
		exit(1);
	}
	t0 = bench_now();
	bench_fill_identity(fd, mappings, PER_VM);
	printf("  (filled through the socket in %.2f s)\n", bench_now() - t0);
	close(fd);
	it_kill(d);
}

/* The daemon serving a journal long enough for a compaction compacts it just after it
 * serves: waits up to 30 s for the snapshot, then kills it with SIGKILL. Its state is then a
 * snapshot and the journal since. 0, or -1 when no snapshot came. */
static int
compacted_then_crashed(struct it_daemon *d)
{
	long n = 0;
	int fd = it_connect(d);

	if (fd < 0)
		return -1;
	for (int i = 0; i < 600 && (n = snapshot_bytes(fd)) <= 0; i++)
		usleep(50000);
	close(fd);
	it_kill(d);
	if (n > 0)
		printf("  (a snapshot of %ld bytes written after serving)\n", n);
	else
		printf("  (no snapshot after 30 s: no compaction happened; no snapshot row)\n");
	return n > 0 ? 0 : -1;
}

int
main(int argc, char **argv)
{
	int mappings = argc > 1 && *argv[1] ? atoi(argv[1]) : bench_quick() ? 50000 : 1000000, fd;
	const char *disk = argc > 2 && *argv[2] ? argv[2] : "/var/tmp",
	           *perf = getenv("BENCH_PERF");
	struct ns_owner self = {.pid = getpid(), .starttime = self_starttime(), .uid = getuid()};
	struct it_daemon d;

	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	setenv("PASIDD", PASIDD_BIN, 0);
	printf("start-up with %d live mappings, state under %s:\n", mappings, disk);

	crashed(&d, disk, mappings);
	measure(&d, "filled by count:4096", mappings);
	it_cleanup(&d);

	bench_daemon_in(&d, disk);
	bench_write_journal(d.state, (unsigned)mappings, PER_VM, false, &self);
	measure(&d, "journal only", mappings);
	it_cleanup(&d);

	bench_daemon_in(&d, disk);
	bench_write_journal_with(d.state, &(struct bench_journal){.mappings = (unsigned)mappings,
	                                                          .per_vm = PER_VM,
	                                                          .interleaved = true,
	                                                          .churn = (unsigned)mappings,
	                                                          .owner = &self});
	printf("  (interleaved journal with %d alloc/free pairs of churn: serving after %.3f s)\n",
	       mappings, serve(&d));
	if (compacted_then_crashed(&d) == 0)
		measure(&d, "snapshot + journal", mappings);
	it_cleanup(&d);

	if (perf && *perf) {
		char launcher[512];

		snprintf(launcher, sizeof(launcher), "%s/perf-launcher.sh", perf);
		if ((fd = open(launcher, O_WRONLY | O_CREAT | O_TRUNC, 0755)) < 0 ||
		    dprintf(fd, "#!/bin/sh\nexec perf record -q -e cpu-clock -g -o "
		                "\"$BENCH_PERF_OUT\" -- \"$@\"\n") < 0 ||
		    close(fd) < 0) {
			perror(launcher);
			return 1;
		}
		bench_daemon_in(&d, disk);
		bench_write_journal(d.state, (unsigned)mappings, PER_VM, false, &self);
		profiled_start(&d, launcher, "startup-journal");
		it_cleanup(&d);
		crashed(&d, disk, mappings);
		profiled_start(&d, launcher, "startup-snapshot");
		it_cleanup(&d);
	}
	return 0;
}
