/*
 * Allocator core (issue 15): nanoseconds per alloc+free pair in the namespace, in-process,
 * on a 2^19-entry shared range filled to 0 %, 50 %, 99 % and all but one entry with real
 * allocations first; then one more PASID is allocated and freed over and over (next-fit,
 * invariant 8, so the search walks on from where the last ended). Beside it, in the same run:
 *   idmap alone      the namespace's bitmap (daemon/core/idmap.c) doing the same next-fit
 *                    search, set and clear: the part of the pair that is the search
 *   plain bitmap     a flat array of 64-bit words searched word by word from the cursor: the
 *                    floor of a bitmap allocator at low fill (and what a hierarchy avoids
 *                    near full)
 *   empty loop       what the loop and clock cost
 * Usage: bench_alloc [PAIRS] (default 1,000,000; BENCH_QUICK: 20,000). Each figure runs
 * PAIRS pairs or about 1 s, whichever ends first. Never fails on timing.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends.h"
#include "bench_common.h"
#include "idmap.h"
#include "namespace.h"

#define RANGE (1u << 19)
#define FIRST 4096u

static long max_pairs;
static double max_secs;

/* Runs body in batches of 1000 until max_pairs runs or max_secs pass; ns per run in ns_out. */
#define TIMED(ns_out, body)                                                                        \
	do {                                                                                       \
		double t0_ = bench_now(), el_;                                                     \
		long done_ = 0;                                                                    \
		do {                                                                               \
			for (int k_ = 0; k_ < 1000; k_++) {                                        \
				body;                                                              \
			}                                                                          \
			done_ += 1000;                                                             \
			el_ = bench_now() - t0_;                                                   \
		} while (done_ < max_pairs && el_ < max_secs);                                     \
		(ns_out) = el_ * 1e9 / (double)done_;                                              \
	} while (0)

static void
fail(const char *what, const struct ns_err *err)
{
	fprintf(stderr, "bench_alloc: %s: %s\n", what, err ? err->message : "failed");
	exit(1);
}

/* The namespace with `fill` shared PASIDs allocated by an identity-mode VM (a translated
 * VM holds at most the 4095 gPASIDs of its guest range), then the pairs in a translated VM,
 * like a VMM's. */
static double
ns_pair(uint32_t fill)
{
	struct ns_config cfg = {
	    .pasid_bits = 20, .local = {1, FIRST - 1}, .shared = {FIRST, FIRST + RANGE - 1}};
	struct ns_alloc_req req = {.type = NS_TYPE_SHARED, .gpasid = -1, .count = 4096};
	struct ns_owner o = {.pid = 1, .starttime = 1};
	static struct ns_mapping *out[4096];
	struct ns_mapping *m;
	struct backend *be;
	struct ns_err err;
	struct ns_vm *vm, *filler;
	char why[160];
	struct ns ns;
	double ns_per;

	if (backend_open("sim", &be, why, sizeof(why)) < 0 || ns_init(&ns, &cfg, be) < 0 ||
	    ns_vm_create(&ns, "bench", "00000000-0000-4000-8000-000000000000", NS_MODE_TRANSLATED,
	                 &o, "/", -1, &vm, &err) < 0 ||
	    ns_vm_create(&ns, "filler", "00000000-0000-4000-8000-000000000001", NS_MODE_IDENTITY,
	                 &o, "/", -1, &filler, &err) < 0)
		fail("setup", NULL);
	for (uint32_t left = fill; left > 0; left -= req.count) {
		req.count = left < 4096 ? left : 4096;
		if (ns_alloc(&ns, filler, &req, out, &err) < 0)
			fail("fill", &err);
	}
	req.count = 1;
	TIMED(ns_per, {
		if (ns_alloc(&ns, vm, &req, &m, &err) < 0 || ns_free(&ns, vm, m->gpasid, &err) < 0)
			fail("alloc+free", &err);
	});
	ns_destroy(&ns);
	backend_close(be);
	return ns_per;
}

static double
idmap_pair(uint32_t fill)
{
	struct idmap m;
	uint32_t cursor = fill % RANGE;
	double ns_per;

	if (idmap_init(&m, RANGE) < 0)
		fail("idmap_init", NULL);
	for (uint32_t i = 0; i < fill; i++)
		idmap_set(&m, i);
	TIMED(ns_per, {
		int64_t id = idmap_find_free_wrap(&m, cursor);

		idmap_set(&m, (uint32_t)id);
		idmap_clear(&m, (uint32_t)id);
		cursor = (uint32_t)(id + 1) % RANGE;
	});
	idmap_free(&m);
	return ns_per;
}

/* First zero bit at or after `from`, wrapping: one word at a time. */
static uint32_t
plain_find(const uint64_t *w, uint32_t from)
{
	uint32_t nw = RANGE / 64, i = from / 64;
	uint64_t free = ~w[i] & (~0ull << (from % 64));

	for (uint32_t n = 0; n <= nw; n++) {
		if (free)
			return i * 64 + (uint32_t)__builtin_ctzll(free);
		i = (i + 1) % nw;
		free = ~w[i];
	}
	return UINT32_MAX;
}

static double
plain_pair(uint32_t fill)
{
	uint64_t *w = calloc(RANGE / 64, sizeof(*w));
	uint32_t cursor = fill % RANGE;
	double ns_per;

	for (uint32_t i = 0; i < fill; i++)
		w[i / 64] |= 1ull << (i % 64);
	TIMED(ns_per, {
		uint32_t id = plain_find(w, cursor);

		w[id / 64] |= 1ull << (id % 64);
		__asm__ volatile("" ::"r"(w) : "memory");
		w[id / 64] &= ~(1ull << (id % 64));
		cursor = (id + 1) % RANGE;
	});
	free(w);
	return ns_per;
}

static double
empty_loop(void)
{
	double ns_per;

	TIMED(ns_per, { __asm__ volatile("" ::: "memory"); });
	return ns_per;
}

int
main(int argc, char **argv)
{
	static const char *const names[] = {"0 %", "50 %", "99 %", "100 % - 1"};
	const uint32_t fills[] = {0, RANGE / 2, RANGE / 100 * 99, RANGE - 1};
	double empty;

	max_pairs = argc > 1 && *argv[1] ? atol(argv[1]) : bench_quick() ? 20000 : 1000000;
	max_secs = bench_quick() ? 0.1 : 1.0;
	setvbuf(stdout, NULL, _IOLBF, 0);
	empty = empty_loop();
	printf("allocator core: ns per alloc+free pair, shared range of %u entries\n", RANGE);
	printf("  %-10s %12s %12s %12s %12s\n", "fill", "namespace", "idmap alone", "plain bitmap",
	       "empty loop");
	for (int i = 0; i < 4; i++) {
		double nsp = ns_pair(fills[i]), id = idmap_pair(fills[i]),
		       plain = plain_pair(fills[i]);
		char bench[64], fig[64], base[160];

		printf("  %-10s %12.1f %12.1f %12.1f %12.2f\n", names[i], nsp, id, plain, empty);
		snprintf(bench, sizeof(bench), "allocator core, fill %s", names[i]);
		snprintf(fig, sizeof(fig), "%.0f ns/pair (idmap %.0f)", nsp, id);
		snprintf(base, sizeof(base), "%.0f ns plain bitmap, %.1f empty loop", plain, empty);
		bench_row(bench, fig, base, nsp / plain, "<= 50 ns", nsp <= 50);
	}
	return 0;
}
