/*
 * libFuzzer target: the configuration parser (pasidd.conf and its drop-ins).
 *
 * Input: INI text. A NUL byte splits it into files loaded one after the other, the way the
 * main file and its drop-ins are (later assignments replace earlier ones, which is where
 * strings get freed and replaced). The accepted result then goes through config_finish(),
 * and a configuration it accepts must also give a namespace: ns_init() may not refuse it.
 *
 * Oracles besides the sanitizers: a refused file has an error of the form "file:line: ..."
 * naming that file, and every refusal comes with a message.
 */
#include "backends.h"
#include "config.h"
#include "namespace.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_FILES 4

static void bug(const char *what, const char *err) __attribute__((noreturn));

static void
bug(const char *what, const char *err)
{
	fprintf(stderr, "fuzz_config: BUG: %s: '%s'\n", what, err);
	abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pasidd_config cfg;
	char *text = malloc(size + 1), err[512];
	const char *part, *end;
	int r = 0;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	end = text + size;
	config_init(&cfg);
	part = text;
	for (int i = 0; i < MAX_FILES && r == 0 && part <= end; i++) {
		char name[32];

		snprintf(name, sizeof(name), i ? "drop-in-%d.conf" : "pasidd.conf", i);
		err[0] = '\0';
		r = config_load_string(&cfg, name, part, err, sizeof(err));
		if (r < 0) {
			size_t n = strlen(name);

			if (strncmp(err, name, n) || err[n] != ':' || err[n + 1] < '1' ||
			    err[n + 1] > '9')
				bug("a refusal does not name file:line", err);
		}
		part += strlen(part) + 1;
	}
	if (r == 0) {
		err[0] = '\0';
		r = config_finish(&cfg, err, sizeof(err));
		if (r < 0 && !err[0])
			bug("config_finish refused without a message", err);
	}
	if (r == 0) {
		struct backend *be = NULL;
		struct ns ns;

		if (backend_open("sim", &be, err, sizeof(err)) < 0)
			bug("no sim backend", err);
		if (ns_init(&ns, &cfg.ns, be) < 0) {
			snprintf(err, sizeof(err), "local %u-%u shared %u-%u bits %u",
			         cfg.ns.local.first, cfg.ns.local.last, cfg.ns.shared.first,
			         cfg.ns.shared.last, cfg.ns.pasid_bits);
			bug("an accepted configuration gives no namespace", err);
		}
		ns_destroy(&ns);
		backend_close(be);
	}
	config_free(&cfg);
	free(text);
	return 0;
}
