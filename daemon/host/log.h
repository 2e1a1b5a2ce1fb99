/* Logging: stderr in the foreground, with sd-daemon level prefixes when stderr is a stream
 * journald owns (JOURNAL_STREAM) and that is not the journal's own socket; the journal's
 * native protocol otherwise, so that structured entries (log_entry) keep their fields. */
#ifndef PASIDD_LOG_H
#define PASIDD_LOG_H

#include <stddef.h>
#include <syslog.h>

void log_setup(int foreground);
/* Messages less important than prio (LOG_ERR..LOG_DEBUG) are dropped; LOG_INFO at start. */
void log_set_level(int prio);
int log_get_level(void);
/* "err", "warning", "notice", "info" or "debug" (as LogLevel= takes them): the LOG_* value, or
 * -1. */
int log_level_parse(const char *name);
const char *log_level_name(int prio);

void log_msg(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* One journal field of a structured entry: its name (PASIDD_VM, upper case, as the journal
 * takes it) and its value. */
struct log_field {
	const char *name;
	const char *value;
};

/* A structured entry: MESSAGE=message, PRIORITY=prio, MESSAGE_ID=message_id (32 hex digits,
 * or NULL) and the fields. On stderr the message is followed by the fields in brackets,
 * named in lower case without their PASIDD_ prefix: "[vm=vm1 count=8]". */
void log_entry(int prio, const char *message_id, const struct log_field *fields, size_t n,
               const char *message);

/* Between log_hold() and log_release() (nested: the outermost release counts), lines for
 * stderr are gathered and leave together, in order, each whole, in as few writes as a bounded
 * buffer allows: the audit trail's entries of one commit cost one system call rather than one
 * each. Nothing else is held: the journal takes each entry as a datagram of its own. */
void log_hold(void);
void log_release(void);

#define log_err(...)    log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...)   log_msg(LOG_WARNING, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_info(...)   log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...)  log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
