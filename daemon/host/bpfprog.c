/* pasidd's BPF programs: names and states (bpfprog.h). */
#include "bpfprog.h"

#include <stdarg.h>
#include <stdio.h>

const char *
bpfprog_name(enum bpfprog p)
{
	static const char *const names[BPFPROG_COUNT] = {
	    [BPFPROG_ATTACH_GATE] = "attach_gate",
	    [BPFPROG_OBSERVER] = "observer",
	    [BPFPROG_DEVICE_GATE] = "device_gate",
	};

	return p < BPFPROG_COUNT ? names[p] : "?";
}

bool
bpfprog_built(void)
{
#ifdef PASIDD_HAVE_BPF
	return true;
#else
	return false;
#endif
}

void
bpfprog_unavailable(struct bpfprog_state *st, const char *fmt, ...)
{
	va_list ap;

	st->active = false;
	va_start(ap, fmt);
	vsnprintf(st->why, sizeof(st->why), fmt, ap);
	va_end(ap);
}

void
bpfprog_init(struct bpfprog_state st[BPFPROG_COUNT])
{
	for (int p = 0; p < BPFPROG_COUNT; p++) {
		if (bpfprog_built())
			bpfprog_unavailable(&st[p], "not loaded (yet)");
		else
			bpfprog_unavailable(&st[p],
			                    "pasidd was built without BPF programs "
			                    "(-DPASIDD_BPF=OFF, or no clang/bpftool at build)");
	}
}
