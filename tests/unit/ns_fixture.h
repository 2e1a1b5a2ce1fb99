/* The fixture of the namespace's unit suites (test_namespace, test_ns_foreign, test_ns_resv):
 * one namespace on the sim backend per test, with the usual ranges or others, and the helpers
 * every suite of it needs. Included once per suite, as ck_main.h is. */
#ifndef PASIDD_NS_FIXTURE_H
#define PASIDD_NS_FIXTURE_H

#include <check.h>
#include <stdint.h>

#include "backends.h"
#include "namespace.h"

static struct ns ns;
static struct backend *be;
static const struct ns_owner owner = {.pid = 1, .starttime = 1, .uid = 0};

static void
setup_ranges(uint32_t llo, uint32_t lhi, uint32_t slo, uint32_t shi, unsigned bits)
{
	struct ns_config cfg = {.pasid_bits = bits, .local = {llo, lhi}, .shared = {slo, shi}};
	char why[160];

	ck_assert_int_eq(backend_open("sim", &be, why, sizeof(why)), 0);
	ck_assert_int_eq(ns_init(&ns, &cfg, be), 0);
}

/* The usual ranges: local 1-4095, shared 4096-(2^19 - 1), 20 bits. */
static void
setup(void)
{
	setup_ranges(1, 4095, 4096, 524287, 20);
}

static void
teardown(void)
{
	ns_destroy(&ns);
	backend_close(be);
}

static void
assert_ok(void)
{
	char why[256];

	if (ns_check(&ns, why, sizeof(why)) < 0)
		ck_abort_msg("invariant broken: %s", why);
}

static struct ns_vm *
mkvm(const char *name, enum ns_mode mode)
{
	struct ns_vm *vm;
	struct ns_err err;

	ck_assert_int_eq(ns_vm_create(&ns, name, "00000000-0000-4000-8000-000000000000", mode,
	                              &owner, "/", -1, &vm, &err),
	                 0);
	return vm;
}

#endif
