/* Logging: stderr in the foreground (with sd-daemon level prefixes when stderr is the
 * journal), the journal otherwise. */
#ifndef PASIDD_LOG_H
#define PASIDD_LOG_H

#include <syslog.h>

void log_setup(int foreground);
void log_msg(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_err(...)   log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARNING, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
