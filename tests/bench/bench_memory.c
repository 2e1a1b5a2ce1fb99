/*
 * Memory a live mapping costs (issue 15): RSS delta / mappings at MAPPINGS live shared
 * mappings (default 1,000,000; BENCH_QUICK: 50,000) in identity-mode VMs of 500,000:
 *   in-process   the namespace alone (daemon/core), /proc/self/statm before ns_init and
 *                after the fill: every table the mappings need, nothing of the daemon
 *   daemon       the real pasidd filled through the socket (pasid.alloc count 4096),
 *                /proc/<pid>/status VmRSS before and after; then the same state replayed
 *                by a restart, beside a fresh daemon's RSS
 * Baselines in the same run: the raw payload (gPASID and hPASID, 2 x u32) and a plain
 * malloc'd array of structs of the same information (gPASID, hPASID, VM index, type).
 * Never fails on timing or size.
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backends.h"
#include "bench_common.h"
#include "harness.h"
#include "namespace.h"

#define PER_VM 500000

struct plain_mapping {
	uint32_t gpasid, hpasid, vm;
	uint8_t type;
};

static double
inprocess(int mappings)
{
	struct ns_config cfg = {.pasid_bits = 20, .local = {1, 4095}, .shared = {4096, 1048575}};
	struct ns_alloc_req req = {.type = NS_TYPE_SHARED, .gpasid = -1};
	struct ns_owner o = {.pid = 1, .starttime = 1};
	static struct ns_mapping *out[4096];
	long before = bench_self_rss(), after;
	struct backend *be;
	struct ns_err err;
	char why[160];
	struct ns ns;

	if (backend_open("sim", &be, why, sizeof(why)) < 0 || ns_init(&ns, &cfg, be) < 0)
		exit(1);
	for (int v = 0, left = mappings; left > 0; v++) {
		char name[32], uuid[40];
		struct ns_vm *vm;

		snprintf(name, sizeof(name), "vm%d", v);
		snprintf(uuid, sizeof(uuid), "00000000-0000-4000-8000-%012d", v);
		if (ns_vm_create(&ns, name, uuid, NS_MODE_IDENTITY, &o, "/", -1, &vm, &err) < 0) {
			fprintf(stderr, "bench_memory: %s\n", err.message);
			exit(1);
		}
		for (int k = 0; k < PER_VM && left > 0;
		     k += (int)req.count, left -= (int)req.count) {
			req.count = (unsigned)(left < 4096 ? left : 4096);
			if (k + (int)req.count > PER_VM)
				req.count = (unsigned)(PER_VM - k);
			if (ns_alloc(&ns, vm, &req, out, &err) < 0) {
				fprintf(stderr, "bench_memory: %s\n", err.message);
				exit(1);
			}
		}
	}
	after = bench_self_rss();
	ns_destroy(&ns);
	backend_close(be);
	return (double)(after - before) / mappings;
}

static double
plain_array(int mappings)
{
	long before = bench_self_rss(), after;
	struct plain_mapping *a = malloc((size_t)mappings * sizeof(*a));

	for (int i = 0; i < mappings; i++)
		a[i] = (struct plain_mapping){.gpasid = 4096u + (uint32_t)i,
		                              .hpasid = 4096u + (uint32_t)i,
		                              .vm = (uint32_t)(i / PER_VM),
		                              .type = 1};
	__asm__ volatile("" ::"r"(a) : "memory");
	after = bench_self_rss();
	free(a);
	return (double)(after - before) / mappings;
}

/* fn run in a fresh child process: neither measurement finds the other's freed memory. */
static double
in_child(double (*fn)(int), int mappings)
{
	double r = -1;
	int p[2];
	pid_t pid;

	if (pipe(p) < 0 || (pid = fork()) < 0)
		exit(1);
	if (pid == 0) {
		r = fn(mappings);
		if (write(p[1], &r, sizeof(r)) != sizeof(r))
			_exit(1);
		_exit(0);
	}
	close(p[1]);
	if (read(p[0], &r, sizeof(r)) != sizeof(r))
		r = -1;
	close(p[0]);
	waitpid(pid, NULL, 0);
	return r;
}

int
main(int argc, char **argv)
{
	int mappings = argc > 1 && *argv[1] ? atoi(argv[1]) : bench_quick() ? 50000 : 1000000, fd;
	double ns_b, arr_b, d_b, r_b;
	long rss0, rss1, rss2, fresh;
	char fig[96], base[128];
	struct it_daemon d;

	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	setenv("PASIDD", PASIDD_BIN, 0);
	ns_b = in_child(inprocess, mappings);
	arr_b = in_child(plain_array, mappings);
	printf("memory per live mapping at %d mappings:\n", mappings);
	printf("  %-46s %8.1f B\n", "namespace in-process (statm delta / mappings)", ns_b);
	printf("  %-46s %8.1f B\n", "baseline: malloc'd array of structs", arr_b);
	printf("  %-46s %8zu B\n", "baseline: raw payload (2 x u32)", 2 * sizeof(uint32_t));
	snprintf(base, sizeof(base), "8 B payload, %.1f B malloc'd array", arr_b);
	snprintf(fig, sizeof(fig), "%.1f B/mapping", ns_b);
	bench_row("memory, namespace in-process", fig, base, ns_b / arr_b, "<= 64 B", ns_b <= 64);

	if (it_start(&d, "--shared-range", "4096-1048575", NULL) < 0) {
		fprintf(stderr, "bench_memory: cannot start pasidd\n");
		return 1;
	}
	fd = it_connect(&d);
	rss0 = it_rss_kib(d.pid);
	bench_fill_identity(fd, mappings, PER_VM);
	rss1 = it_rss_kib(d.pid);
	close(fd);
	d_b = (double)(rss1 - rss0) * 1024 / mappings;
	printf("  %-46s %8.1f B  (VmRSS %ld -> %ld KiB)\n", "pasidd filled through the socket", d_b,
	       rss0, rss1);
	snprintf(fig, sizeof(fig), "%.1f B/mapping", d_b);
	bench_row("memory, pasidd filled via socket", fig, base, d_b / arr_b, "<= 64 B", d_b <= 64);

	/* The same state replayed, beside an empty daemon's RSS. */
	it_stop(&d);
	if (it_restart(&d, "--shared-range", "4096-1048575", NULL) < 0)
		return 1;
	fd = it_connect(&d);
	free(it_roundtrip(fd, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"daemon.status\"}"));
	rss2 = it_rss_kib(d.pid);
	close(fd);
	it_cleanup(&d);
	if (it_start(&d, "--shared-range", "4096-1048575", NULL) < 0)
		return 1;
	fd = it_connect(&d);
	free(it_roundtrip(fd, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"daemon.status\"}"));
	fresh = it_rss_kib(d.pid);
	close(fd);
	it_cleanup(&d);
	r_b = (double)(rss2 - fresh) * 1024 / mappings;
	printf("  %-46s %8.1f B  (VmRSS %ld KiB, empty daemon %ld KiB)\n",
	       "pasidd after a restart (replayed)", r_b, rss2, fresh);
	snprintf(fig, sizeof(fig), "%.1f B/mapping", r_b);
	bench_row("memory, pasidd after restart", fig, base, r_b / arr_b, "<= 64 B", r_b <= 64);
	return 0;
}
