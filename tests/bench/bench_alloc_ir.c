/*
 * Allocator core in instructions (issue 15): the pairs of bench_alloc (ns_alloc + ns_free, a
 * translated VM, after an identity VM filled FILL of the 2^19-entry shared range), for
 * callgrind, whose counts do not move with the load of a shared machine as times do:
 *
 *   for n in 2000 12000; do
 *     valgrind --tool=callgrind --toggle-collect=bench_pairs \
 *       --callgrind-out-file=cg.$n build-rel/tests/bench_alloc_ir FILL $n
 *   done
 *   # Ir per pair: (summary of cg.12000 - summary of cg.2000) / 10000
 *
 * Usage: bench_alloc_ir FILL PAIRS (1000 pairs run first, to warm up). Not run by run.sh.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "backends.h"
#include "namespace.h"

#define RANGE (1u << 19)
#define FIRST 4096u

/* The function callgrind collects in. */
__attribute__((noinline)) void bench_pairs(struct ns *ns, struct ns_vm *vm, long n);

void
bench_pairs(struct ns *ns, struct ns_vm *vm, long n)
{
	struct ns_alloc_req req = {.type = NS_TYPE_SHARED, .gpasid = -1, .count = 1};
	struct ns_mapping *m;
	struct ns_err err;

	for (long i = 0; i < n; i++)
		if (ns_alloc(ns, vm, &req, &m, &err) < 0 || ns_free(ns, vm, m->gpasid, &err) < 0) {
			fprintf(stderr, "bench_alloc_ir: %s\n", err.message);
			exit(1);
		}
}

int
main(int argc, char **argv)
{
	struct ns_config cfg = {
	    .pasid_bits = 20, .local = {1, FIRST - 1}, .shared = {FIRST, FIRST + RANGE - 1}};
	struct ns_alloc_req req = {.type = NS_TYPE_SHARED, .gpasid = -1, .count = 4096};
	struct ns_owner o = {.pid = 1, .starttime = 1};
	static struct ns_mapping *out[4096];
	struct ns_vm *vm, *filler;
	struct backend *be;
	struct ns_err err;
	char why[160];
	uint32_t fill;
	struct ns ns;

	if (argc != 3 || (fill = (uint32_t)atol(argv[1])) >= RANGE) {
		fprintf(stderr, "usage: bench_alloc_ir FILL(0-%u) PAIRS\n", RANGE - 1);
		return 2;
	}
	if (backend_open("sim", &be, why, sizeof(why)) < 0 || ns_init(&ns, &cfg, be) < 0 ||
	    ns_vm_create(&ns, "bench", "00000000-0000-4000-8000-000000000000", NS_MODE_TRANSLATED,
	                 &o, "/", -1, &vm, &err) < 0 ||
	    ns_vm_create(&ns, "filler", "00000000-0000-4000-8000-000000000001", NS_MODE_IDENTITY,
	                 &o, "/", -1, &filler, &err) < 0)
		return 1;
	for (uint32_t left = fill; left > 0; left -= req.count) {
		req.count = left < 4096 ? left : 4096;
		if (ns_alloc(&ns, filler, &req, out, &err) < 0)
			return 1;
	}
	bench_pairs(&ns, vm, 1000);
	bench_pairs(&ns, vm, atol(argv[2]));
	ns_destroy(&ns);
	backend_close(be);
	return 0;
}
