/* Integration harness: runs the real pasidd (env PASIDD) on a private socket and talks
 * raw JSON lines to it, as an independent VMM would. */
#ifndef PASIDD_IT_HARNESS_H
#define PASIDD_IT_HARNESS_H

#include <json-c/json.h>
#include <stdbool.h>
#include <sys/types.h>

struct it_daemon {
	pid_t pid;
	char dir[64];    /* private temporary directory */
	char sock[100];  /* dir/pasidd.sock */
	char state[128]; /* dir/state */
	char log[128];   /* dir/pasidd.log: the daemon's stderr */
};

/* Creates a fresh private directory and starts pasidd --foreground --backend sim on it,
 * with extra arguments (NULL-terminated). Waits until the socket answers. 0 or -1. */
int it_start(struct it_daemon *d, ...) __attribute__((sentinel));
/* Starts again on the same directory (state kept), with extra arguments. */
int it_restart(struct it_daemon *d, ...) __attribute__((sentinel));
/* SIGTERM and wait; returns the exit status (or 128+signal). */
int it_stop(struct it_daemon *d);
/* SIGKILL and wait. */
void it_kill(struct it_daemon *d);
/* Stops if running and removes the directory. */
void it_cleanup(struct it_daemon *d);

/* Runs pasidd with argv (NULL-terminated, without argv[0]) to completion; returns its exit
 * status and, if out is not NULL, its stderr+stdout in a malloc'd string. */
int it_run(char **out, ...) __attribute__((sentinel));

int it_connect(const struct it_daemon *d);
/* Sends `line` + LF and returns the next response line (malloc'd, without LF), or NULL on
 * EOF/timeout (5 s). */
char *it_roundtrip(int fd, const char *line);
int it_send(int fd, const char *data, size_t len);
char *it_recvline(int fd, int timeout_ms);
/* Request {"jsonrpc":"2.0","id":1,"method":method,"params":params_json} (params_json may be
 * NULL); returns the parsed response object. */
struct json_object *it_call(int fd, const char *method, const char *params_json);
/* The result member of a response, or NULL. Borrowed from resp. */
struct json_object *it_result(struct json_object *resp);
/* The error code of a response, 0 when it is a result. */
int it_errcode(struct json_object *resp);
/* data.param / data.reason of an error response, "" when absent. */
const char *it_errparam(struct json_object *resp);
const char *it_errreason(struct json_object *resp);
/* Convenience: it_call and return the error code (0 on success), dropping the response. */
int it_code(int fd, const char *method, const char *params_json);
/* A member of an object by dotted path ("backend.name"), or NULL. */
struct json_object *it_get(struct json_object *obj, const char *path);
int64_t it_int(struct json_object *obj, const char *path);
const char *it_str(struct json_object *obj, const char *path);

#endif
