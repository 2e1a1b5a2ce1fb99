/*
 * VM teardown in the core (issue 15): an identity VM allocates MAPS shared PASIDs 4096 a
 * request (as `pasid.alloc count:4096` does), then ns_vm_destroy frees them all
 * (`vm.unregister`, an owner's exit): nanoseconds per mapping of each, in-process, without
 * the observers (journal, audit, quotas) whose share the daemon's profile shows. For
 * callgrind, whose counts do not move with the load of a shared machine:
 *
 *   valgrind --tool=callgrind --toggle-collect=bench_teardown \
 *     build-rel/tests/bench_alloc_teardown 16384 3
 *   # Ir per mapping: summary / (3 * 16384); --toggle-collect=bench_fill for the allocations
 *
 * Usage: bench_alloc_teardown [MAPS [ROUNDS]] (default 16384 and 200; BENCH_QUICK: 20
 * rounds). Not run by run.sh. Never fails on timing.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "backends.h"
#include "bench_common.h"
#include "namespace.h"

#define RANGE (1u << 19)
#define FIRST 4096u

static void
fail(const char *what, const struct ns_err *err)
{
	fprintf(stderr, "bench_alloc_teardown: %s: %s\n", what, err ? err->message : "failed");
	exit(1);
}

/* The functions callgrind collects in. */
__attribute__((noinline)) void bench_fill(struct ns *ns, struct ns_vm *vm, uint32_t maps);
__attribute__((noinline)) void bench_teardown(struct ns *ns, struct ns_vm *vm);

void
bench_fill(struct ns *ns, struct ns_vm *vm, uint32_t maps)
{
	struct ns_alloc_req req = {.type = NS_TYPE_SHARED, .gpasid = -1};
	static struct ns_mapping *out[NS_MAX_COUNT];
	struct ns_err err;

	for (uint32_t left = maps; left > 0; left -= req.count) {
		req.count = left < NS_MAX_COUNT ? left : NS_MAX_COUNT;
		if (ns_alloc(ns, vm, &req, out, &err) < 0)
			fail("alloc", &err);
	}
}

void
bench_teardown(struct ns *ns, struct ns_vm *vm)
{
	struct ns_err err;

	if (ns_vm_destroy(ns, vm, &err) < 0)
		fail("vm destroy", &err);
}

int
main(int argc, char **argv)
{
	struct ns_config cfg = {
	    .pasid_bits = 20, .local = {1, FIRST - 1}, .shared = {FIRST, FIRST + RANGE - 1}};
	struct ns_owner o = {.pid = 1, .starttime = 1};
	uint32_t maps = argc > 1 ? (uint32_t)atol(argv[1]) : 16384;
	long rounds = argc > 2 ? atol(argv[2]) : bench_quick() ? 20 : 200;
	double fill = 0, teardown = 0;
	struct backend *be;
	struct ns_err err;
	char why[160];
	struct ns ns;

	if (maps < 1 || maps > RANGE || rounds < 1) {
		fprintf(stderr, "usage: bench_alloc_teardown [MAPS(1-%u) [ROUNDS]]\n", RANGE);
		return 2;
	}
	if (backend_open("sim", &be, why, sizeof(why)) < 0 || ns_init(&ns, &cfg, be) < 0)
		fail("setup", NULL);
	for (long i = 0; i < rounds; i++) {
		struct ns_vm *vm;
		double t0, t1, t2;

		if (ns_vm_create(&ns, "vm", "00000000-0000-4000-8000-000000000000",
		                 NS_MODE_IDENTITY, &o, "/", -1, &vm, &err) < 0)
			fail("vm create", &err);
		t0 = bench_now();
		bench_fill(&ns, vm, maps);
		t1 = bench_now();
		bench_teardown(&ns, vm);
		t2 = bench_now();
		fill += t1 - t0;
		teardown += t2 - t1;
	}
	printf("core, identity VM of %u shared PASIDs, %ld rounds: ns per mapping\n", maps, rounds);
	printf("  alloc (count %d)  %8.1f\n", NS_MAX_COUNT, fill * 1e9 / (double)rounds / maps);
	printf("  ns_vm_destroy     %8.1f  (%.3f ms a VM)\n",
	       teardown * 1e9 / (double)rounds / maps, teardown * 1e3 / (double)rounds);
	ns_destroy(&ns);
	backend_close(be);
	return 0;
}
