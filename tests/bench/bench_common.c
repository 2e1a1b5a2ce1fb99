#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "bench_common.h"
#include "harness.h"
#include "backend.h"
#include "journal.h"
#include "namespace.h"
#include "record.h"

#include <errno.h>

#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

double
bench_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* One request, its answer read in bulk (it_recvline reads a byte at a time, which would
 * measure the client). */
static char *
roundtrip(int fd, struct it_reader *rd, const char *req, size_t *sent, size_t *received)
{
	char *r;

	if (it_sendline(fd, req) < 0)
		return NULL;
	r = it_reader_line(rd, 60000);
	*sent += strlen(req) + 1;
	if (r)
		*received += strlen(r) + 1;
	return r;
}

int
bench_fill_identity_counted(int fd, int mappings, int per_vm, size_t *sent, size_t *received,
                            long *requests)
{
	int vms = (mappings + per_vm - 1) / per_vm;
	size_t s = 0, rcv = 0;
	long nreq = 0;
	struct it_reader rd;
	char req[256];

	it_reader_init(&rd, fd);
	for (int v = 0, left = mappings; v < vms; v++) {
		char *r;

		snprintf(req, sizeof(req),
		         "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"vm.register\",\"params\":{"
		         "\"vm\":\"vm%d\",\"mode\":\"identity\"}}",
		         v);
		free(roundtrip(fd, &rd, req, &s, &rcv));
		nreq++;
		for (int k = 0; k < per_vm && left > 0;) {
			int c = left < 4096 ? left : 4096;

			if (k + c > per_vm)
				c = per_vm - k;
			snprintf(
			    req, sizeof(req),
			    "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"pasid.alloc\",\"params\":{"
			    "\"vm\":\"vm%d\",\"type\":\"shared\",\"count\":%d}}",
			    v, c);
			r = roundtrip(fd, &rd, req, &s, &rcv);
			nreq++;
			if (!r || strstr(r, "\"error\"")) {
				fprintf(stderr, "fill failed: %s\n", r ? r : "(no answer)");
				exit(1);
			}
			free(r);
			k += c;
			left -= c;
		}
	}
	it_reader_free(&rd);
	if (sent)
		*sent += s;
	if (received)
		*received += rcv;
	if (requests)
		*requests += nreq;
	return vms;
}

int
bench_fill_identity(int fd, int mappings, int per_vm)
{
	return bench_fill_identity_counted(fd, mappings, per_vm, NULL, NULL, NULL);
}

void
bench_daemon_in(struct it_daemon *d, const char *top)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->dir, sizeof(d->dir), "%s/pasidd-bench.XXXXXX", top);
	if (!mkdtemp(d->dir)) {
		perror(d->dir);
		exit(1);
	}
	snprintf(d->sock, sizeof(d->sock), "%s/b.sock", d->dir);
	snprintf(d->state, sizeof(d->state), "%s/state", d->dir);
	snprintf(d->log, sizeof(d->log), "%s/log", d->dir);
}

void
bench_row(const char *bench, const char *figure, const char *baseline, double ratio,
          const char *target, int met)
{
	char r[32] = "-";

	if (ratio >= 0)
		snprintf(r, sizeof(r), "%.2fx", ratio);
	printf("@row|%s|%s|%s|%s|%s|%s\n", bench, figure, baseline, r, target ? target : "-",
	       met < 0 ? "-"
	       : met   ? "yes"
	               : "NO");
	fflush(stdout);
}

/* utime and stime of a process in clock ticks: 0, or -1 when unknown. */
static int
proc_times(pid_t pid, unsigned long *ut, unsigned long *st)
{
	char path[64], buf[1024], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid ? (int)pid : (int)getpid());
	if (!(f = fopen(path, "re")))
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* The command name may hold spaces and parentheses: fields count from the last ')'. */
	if (!(p = strrchr(buf, ')')) ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", ut, st) != 2)
		return -1;
	return 0;
}

double
bench_cpu_secs(pid_t pid)
{
	unsigned long ut, st;

	if (proc_times(pid, &ut, &st) < 0)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

double
bench_user_secs(pid_t pid)
{
	unsigned long ut, st;

	if (proc_times(pid, &ut, &st) < 0)
		return -1;
	return (double)ut / (double)sysconf(_SC_CLK_TCK);
}

long
bench_self_rss(void)
{
	long size, res = -1;
	FILE *f = fopen("/proc/self/statm", "re");

	if (f) {
		if (fscanf(f, "%ld %ld", &size, &res) != 2)
			res = -1;
		fclose(f);
	}
	return res < 0 ? -1 : res * sysconf(_SC_PAGESIZE);
}

int
bench_pin(int cpu)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	cpu_set_t set;

	if (ncpu < 1)
		return -1;
	cpu %= (int)ncpu;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) < 0 ? -1 : cpu;
}

pid_t
bench_perf_start(pid_t pid, const char *label)
{
	const char *dir = getenv("BENCH_PERF");
	char out[512], p[16];
	pid_t perf;

	if (!dir || !*dir)
		return 0;
	snprintf(out, sizeof(out), "%s/%s.data", dir, label);
	snprintf(p, sizeof(p), "%d", (int)pid);
	perf = fork();
	if (perf == 0) {
		execlp("perf", "perf", "record", "-q", "-e", "cpu-clock", "-g", "-p", p, "-o", out,
		       (char *)NULL);
		_exit(127);
	}
	usleep(300000); /* perf attaches before the phase begins */
	return perf < 0 ? 0 : perf;
}

void
bench_perf_stop(pid_t perf)
{
	if (perf <= 0)
		return;
	kill(perf, SIGINT);
	waitpid(perf, NULL, 0);
}

int
bench_quick(void)
{
	const char *q = getenv("BENCH_QUICK");

	return q && *q && strcmp(q, "0") != 0;
}

static void
wj_die(const char *what, int err)
{
	fprintf(stderr, "bench_write_journal: %s: %s\n", what, strerror(err < 0 ? -err : err));
	exit(1);
}

static int
none_cb(void *ctx, const void *rec, size_t len)
{
	(void)ctx;
	(void)rec;
	(void)len;
	return 0;
}

static void
append(struct journal *j, const uint8_t *rec, size_t len, unsigned long *n)
{
	int rc = journal_append(j, rec, len);

	if (rc == 0 && ++*n % 4096 == 0)
		rc = journal_commit(j);
	if (rc < 0)
		wj_die("journal_append", rc);
}

unsigned long
bench_write_journal_with(const char *dir, const struct bench_journal *how)
{
	struct ns_vm vm = {.mode = NS_MODE_IDENTITY,
	                   .owner = {.pid = 1, .starttime = 1, .uid = 0},
	                   .cgroup = "/",
	                   .uuid = "0f8fad5b-d9cb-469f-a165-70867728950e"};
	struct ns_mapping m = {.vm = &vm, .type = NS_TYPE_SHARED};
	unsigned vms = (how->mappings + how->per_vm - 1) / how->per_vm;
	uint8_t rec[REC_BUF_MAX];
	unsigned long n = 0;
	struct journal *j;
	int rc;

	if (how->owner)
		vm.owner = *how->owner;
	rc = journal_open(dir, &j);
	if (rc == 0)
		rc = journal_set_format(j, REC_FORMAT_VERSION);
	if (rc == 0)
		rc = journal_replay(j, none_cb, NULL);
	if (rc < 0)
		wj_die("journal", rc);
	for (unsigned v = 0; v < vms; v++) {
		snprintf(vm.name, sizeof(vm.name), "vm%u", v);
		append(j, rec, rec_vm(rec, &vm), &n);
		append(j, rec, rec_dev(rec, vm.name, (v + 1) << 3, true), &n); /* 0000:00:nn.0 */
	}
	for (unsigned i = 0; i < how->mappings; i++) {
		unsigned v = how->interleaved ? i % vms : i / how->per_vm;

		snprintf(vm.name, sizeof(vm.name), "vm%u", v);
		m.gpasid = m.hpasid = 4096 + i; /* identity */
		append(j, rec, rec_map(rec, &m), &n);
		if (how->attached)
			append(j, rec,
			       rec_attach(rec, vm.name, m.gpasid,
			                  &(struct backend_attach){
			                      .bdf = (v + 1) << 3, .dev_id = 1, .pt_id = 2}),
			       &n);
	}
	snprintf(vm.name, sizeof(vm.name), "vm0");
	m.gpasid = m.hpasid = 4096 + how->mappings;
	for (unsigned i = 0; i < how->churn; i++) {
		append(j, rec, rec_map(rec, &m), &n);
		append(j, rec, rec_unmap(rec, vm.name, m.gpasid), &n);
	}
	append(j, rec, rec_cursor(rec, how->mappings), &n);
	rc = journal_commit(j);
	if (rc < 0)
		wj_die("journal_commit", rc);
	journal_close(j);
	return n;
}

unsigned long
bench_write_journal(const char *dir, unsigned mappings, unsigned per_vm, bool attached,
                    const struct ns_owner *owner)
{
	return bench_write_journal_with(
	    dir, &(struct bench_journal){
	             .mappings = mappings, .per_vm = per_vm, .attached = attached, .owner = owner});
}
