#include "log.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

/* Where messages go and which are kept is decided at start-up (and the level again by a
 * reload), from the one thread; it is the one piece of process-wide state besides the daemon
 * context, because log calls come from every layer and threading a handle through all of them
 * buys nothing. */
static int log_to_stderr = 1;
static int log_prefix;
static int log_level = LOG_INFO;

static const char *const level_names[] = {
    [LOG_ERR] = "err",   [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
    [LOG_INFO] = "info", [LOG_DEBUG] = "debug",
};

/* Whether stderr is the stream JOURNAL_STREAM names (device:inode), as systemd sets it for
 * StandardError=journal: the service's messages may then go to the journal natively, with
 * their fields, rather than as text lines of the stream. */
static int
stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2 || fstat(STDERR_FILENO, &st) < 0)
		return 0;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void
log_setup(int foreground)
{
	/* journald parses "<N>" prefixes on a stream it owns. */
	log_prefix = getenv("JOURNAL_STREAM") != NULL;
	log_to_stderr = foreground && !stderr_is_journal();
}

void
log_set_level(int prio)
{
	if (prio >= LOG_EMERG && prio <= LOG_DEBUG)
		log_level = prio;
}

int
log_get_level(void)
{
	return log_level;
}

int
log_level_parse(const char *name)
{
	for (int i = 0; i < (int)(sizeof(level_names) / sizeof(level_names[0])); i++)
		if (level_names[i] && !strcmp(name, level_names[i]))
			return i;
	return -1;
}

const char *
log_level_name(int prio)
{
	if (prio < 0 || prio >= (int)(sizeof(level_names) / sizeof(level_names[0])) ||
	    !level_names[prio])
		return "err";
	return level_names[prio];
}

static void
stderr_head(int prio)
{
	if (log_prefix)
		fprintf(stderr, "<%d>", prio);
	else
		fputs("pasidd: ", stderr);
}

void
log_msg(int prio, const char *fmt, ...)
{
	va_list ap;

	if (prio > log_level)
		return;
	va_start(ap, fmt);
	if (log_to_stderr) {
		stderr_head(prio);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
	} else {
		sd_journal_printv(prio, fmt, ap);
	}
	va_end(ap);
}

static void
stderr_entry(int prio, const struct log_field *f, size_t n, const char *message)
{
	stderr_head(prio);
	fputs(message, stderr);
	for (size_t i = 0; i < n; i++) {
		const char *name = f[i].name;

		if (!strncmp(name, "PASIDD_", 7))
			name += 7;
		fputs(i == 0 ? " [" : " ", stderr);
		for (const char *p = name; *p; p++)
			fputc(tolower((unsigned char)*p), stderr);
		fprintf(stderr, "=%s", f[i].value);
	}
	fputs(n ? "]\n" : "\n", stderr);
}

#define ENTRY_MAX_FIELDS 32

void
log_entry(int prio, const char *message_id, const struct log_field *f, size_t n,
          const char *message)
{
	struct iovec iov[ENTRY_MAX_FIELDS + 4];
	char *text[ENTRY_MAX_FIELDS + 4];
	size_t k = 0;
	int r = -1;

	if (prio > log_level)
		return;
	if (n > ENTRY_MAX_FIELDS)
		n = ENTRY_MAX_FIELDS;
	if (!log_to_stderr) {
		bool ok = asprintf(&text[k++], "MESSAGE=%s", message) >= 0 &&
		          asprintf(&text[k++], "PRIORITY=%d", prio) >= 0 &&
		          asprintf(&text[k++], "SYSLOG_IDENTIFIER=pasidd") >= 0;

		if (ok && message_id)
			ok = asprintf(&text[k++], "MESSAGE_ID=%s", message_id) >= 0;
		for (size_t i = 0; ok && i < n; i++)
			ok = asprintf(&text[k++], "%s=%s", f[i].name, f[i].value) >= 0;
		if (!ok)
			k--; /* the failed one set nothing to free */
		for (size_t i = 0; i < k; i++)
			iov[i] = (struct iovec){.iov_base = text[i], .iov_len = strlen(text[i])};
		if (ok)
			r = sd_journal_sendv(iov, (int)k);
		for (size_t i = 0; i < k; i++)
			free(text[i]);
	}
	/* Without a journal to take it, the entry is not lost: stderr is where it would go. */
	if (r < 0)
		stderr_entry(prio, f, n, message);
}
