#include "log.h"

#include <ctype.h>
#include <errno.h>
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

/* Lines gathered between log_hold() and log_release(): written together, in order, each
 * whole (a line that does not fit behind the others first writes them out). */
#define HOLD_MAX 16384
static struct {
	unsigned depth;
	size_t len;
	char buf[HOLD_MAX];
} hold;

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

/* A log line or journal entry being put together: on the stack while it fits, so that the
 * common entry costs no allocation; grown on the heap beyond that. A failed growth keeps what
 * fitted (a cut entry still says most of what happened). */
struct line {
	char *p;
	size_t len, cap;
	bool cut;
	char stack[1024];
};

static void
line_init(struct line *l)
{
	l->p = l->stack;
	l->len = 0;
	l->cap = sizeof(l->stack);
	l->cut = false;
	l->p[0] = '\0';
}

static void
line_free(struct line *l)
{
	if (l->p != l->stack)
		free(l->p);
}

static bool
line_grow(struct line *l, size_t need)
{
	size_t cap = l->cap;
	char *p;

	while (cap < need)
		cap *= 2;
	if (cap == l->cap)
		return true;
	if (l->p == l->stack) {
		if ((p = malloc(cap)))
			memcpy(p, l->stack, l->len + 1);
	} else {
		p = realloc(l->p, cap);
	}
	if (!p) {
		l->cut = true;
		return false;
	}
	l->p = p;
	l->cap = cap;
	return true;
}

static void __attribute__((format(printf, 2, 0)))
line_vadd(struct line *l, const char *fmt, va_list ap)
{
	va_list again;
	int n;

	va_copy(again, ap);
	n = vsnprintf(l->p + l->len, l->cap - l->len, fmt, ap);
	if (n >= 0 && (size_t)n >= l->cap - l->len && line_grow(l, l->len + (size_t)n + 1))
		n = vsnprintf(l->p + l->len, l->cap - l->len, fmt, again);
	va_end(again);
	if (n > 0)
		l->len += (size_t)n < l->cap - l->len ? (size_t)n : l->cap - l->len - 1;
}

/* Appends n bytes of s: what most of an entry is, without a format to parse. */
static void
line_put(struct line *l, const char *s, size_t n)
{
	if (l->len + n >= l->cap && !line_grow(l, l->len + n + 1))
		n = l->cap - l->len - 1;
	memcpy(l->p + l->len, s, n);
	l->len += n;
	l->p[l->len] = '\0';
}

static void __attribute__((format(printf, 2, 3))) line_add(struct line *l, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	line_vadd(l, fmt, ap);
	va_end(ap);
}

static void
write_all(const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(STDERR_FILENO, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

static void
hold_write(void)
{
	write_all(hold.buf, hold.len);
	hold.len = 0;
}

/* One write for the whole line: a line is never interleaved with another writer's, nor cut
 * between two writes by a crash, and an entry costs one system call (per-character stdio on
 * the unbuffered stderr made an audited request several times dearer than its work). While
 * held, the line waits behind the others for one write of them all. */
static void
line_write(struct line *l)
{
	if (hold.depth && l->len <= HOLD_MAX) {
		if (hold.len + l->len > HOLD_MAX)
			hold_write();
		memcpy(hold.buf + hold.len, l->p, l->len);
		hold.len += l->len;
		return;
	}
	if (hold.len)
		hold_write();
	write_all(l->p, l->len);
}

void
log_hold(void)
{
	hold.depth++;
}

void
log_release(void)
{
	if (hold.depth && --hold.depth == 0 && hold.len)
		hold_write();
}

static void
line_head(struct line *l, int prio)
{
	if (log_prefix) {
		char p[3] = {'<', (char)('0' + (prio & 7)), '>'};

		line_put(l, p, 3);
	} else {
		line_put(l, "pasidd: ", 8);
	}
}

void
log_msg(int prio, const char *fmt, ...)
{
	struct line l;
	va_list ap;

	if (prio > log_level)
		return;
	va_start(ap, fmt);
	if (log_to_stderr) {
		line_init(&l);
		line_head(&l, prio);
		line_vadd(&l, fmt, ap);
		line_add(&l, "\n");
		line_write(&l);
		line_free(&l);
	} else {
		sd_journal_printv(prio, fmt, ap);
	}
	va_end(ap);
}

#define ENTRY_MAX_FIELDS 32

/* Appends up to the n bytes of s that fit before end; returns the new end. */
static char *
put_within(char *p, const char *end, const char *s, size_t n)
{
	if (n > (size_t)(end - p))
		n = (size_t)(end - p);
	memcpy(p, s, n);
	return p + n;
}

/* "message [name=value ...]", names without PASIDD_ and in lower case. An audited request
 * writes one: measured first and written in one go (piece by piece, its dozen fields cost
 * more than the request's own work). A line that memory cannot hold whole is cut. */
static void
stderr_entry(int prio, const struct log_field *f, size_t n, const char *message)
{
	const char *names[ENTRY_MAX_FIELDS];
	size_t nl[ENTRY_MAX_FIELDS], vl[ENTRY_MAX_FIELDS], ml = strlen(message);
	size_t need = 8 + ml + 3; /* the head, "]\n" and a NUL */
	struct line l;
	char *p, *end;

	for (size_t i = 0; i < n; i++) {
		names[i] = strncmp(f[i].name, "PASIDD_", 7) ? f[i].name : f[i].name + 7;
		nl[i] = strlen(names[i]);
		vl[i] = strlen(f[i].value);
		need += 2 + nl[i] + vl[i];
	}
	line_init(&l);
	line_grow(&l, need);
	line_head(&l, prio);
	p = l.p + l.len;
	end = l.p + l.cap - 3; /* room for "]\n" */
	p = put_within(p, end, message, ml);
	for (size_t i = 0; i < n; i++) {
		char *name;

		p = put_within(p, end, i == 0 ? " [" : " ", i == 0 ? 2 : 1);
		name = p;
		p = put_within(p, end, names[i], nl[i]);
		for (; name < p; name++)
			if (*name >= 'A' && *name <= 'Z')
				*name = (char)(*name - 'A' + 'a');
		p = put_within(p, end, "=", 1);
		p = put_within(p, end, f[i].value, vl[i]);
	}
	if (n)
		*p++ = ']';
	*p++ = '\n';
	*p = '\0';
	l.len = (size_t)(p - l.p);
	line_write(&l);
	line_free(&l);
}

/* The entry's fields "NAME=value" one after the other in one buffer, each ended by a NUL
 * that its iovec leaves out. */
static int
journal_entry(int prio, const char *message_id, const struct log_field *f, size_t n,
              const char *message)
{
	struct iovec iov[ENTRY_MAX_FIELDS + 4];
	size_t at[ENTRY_MAX_FIELDS + 5], k = 0;
	struct line l;
	int r = -ENOMEM;

	line_init(&l);
	at[k++] = l.len;
	line_add(&l, "MESSAGE=%s%c", message, 0);
	at[k++] = l.len;
	line_add(&l, "PRIORITY=%d%c", prio, 0);
	at[k++] = l.len;
	line_add(&l, "SYSLOG_IDENTIFIER=pasidd%c", 0);
	at[k++] = l.len;
	if (message_id) {
		line_add(&l, "MESSAGE_ID=%s%c", message_id, 0);
		at[k++] = l.len;
	}
	for (size_t i = 0; i < n; i++) {
		line_add(&l, "%s=%s%c", f[i].name, f[i].value, 0);
		at[k++] = l.len;
	}
	/* A field cut by a failed growth would be sent cut: the entry goes to stderr instead. */
	if (!l.cut) {
		for (size_t i = 0; i + 1 < k; i++)
			iov[i] = (struct iovec){.iov_base = l.p + at[i],
			                        .iov_len = at[i + 1] - at[i] - 1};
		r = sd_journal_sendv(iov, (int)(k - 1));
	}
	line_free(&l);
	return r;
}

void
log_entry(int prio, const char *message_id, const struct log_field *f, size_t n,
          const char *message)
{
	int r = -1;

	if (prio > log_level)
		return;
	if (n > ENTRY_MAX_FIELDS)
		n = ENTRY_MAX_FIELDS;
	if (!log_to_stderr)
		r = journal_entry(prio, message_id, f, n, message);
	/* Without a journal to take it, the entry is not lost: stderr is where it would go. */
	if (r < 0)
		stderr_entry(prio, f, n, message);
}
