/* libbpf's messages into pasidd's log (bpf_libbpf.h). */
#include "bpf_libbpf.h"

#ifdef PASIDD_HAVE_BPF

#include "log.h"

#include <bpf/libbpf.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int
print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char line[512];
	size_t n;

	if (level == LIBBPF_DEBUG)
		return 0;
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	if (n && line[n - 1] == '\n')
		line[n - 1] = '\0';
	/* libbpf starts its own lines with "libbpf: ". */
	log_debug("%s", line);
	return 0;
}

void
bpf_libbpf_setup(void)
{
	libbpf_set_print(print);
}

#else

void
bpf_libbpf_setup(void)
{
}

#endif
