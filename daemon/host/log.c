#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <systemd/sd-journal.h>

/* Where messages go is decided once at start-up, before any other thread or loop exists;
 * it is the one piece of process-wide state besides the daemon context, because log
 * calls come from every layer and threading a handle through all of them buys nothing. */
static int log_to_stderr = 1;
static int log_prefix;

void
log_setup(int foreground)
{
	log_to_stderr = foreground;
	/* journald parses "<N>" prefixes on a stream it owns. */
	log_prefix = getenv("JOURNAL_STREAM") != NULL;
}

void
log_msg(int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (log_to_stderr) {
		if (log_prefix)
			fprintf(stderr, "<%d>", prio);
		else
			fputs("pasidd: ", stderr);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
	} else {
		sd_journal_printv(prio, fmt, ap);
	}
	va_end(ap);
}
