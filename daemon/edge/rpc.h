/* JSON-RPC 2.0 over one line: parsing, batches, notifications, method dispatch. Knows
 * nothing of sockets, so the fuzzers can drive it directly. */
#ifndef PASIDD_RPC_H
#define PASIDD_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

struct pasidd;
struct peer;
struct ns_err;

/* One method invocation: who asks, and where a handler leaves its error. */
struct rpc_call {
	struct pasidd *d;
	const struct peer *peer;
	int code; /* 0 while no error */
	char param[32];
	char message[256];
	struct json_object *data; /* extra error data, taken over */
};

typedef int (*rpc_method_fn)(struct rpc_call *c, struct json_object *params,
                             struct json_object **result);

struct rpc_method {
	const char *name;
	rpc_method_fn fn;
	bool mutates; /* may change the state: journal room is reserved before it runs */
};

/* The served methods, NULL-terminated (daemon/methods.c). */
extern const struct rpc_method rpc_methods[];

/* Parses one framed message: the request object or the batch array to hand, one request at
 * a time, to rpc_handle_one(). NULL when the message as a whole is refused (not JSON, an
 * empty or too large batch): *error is then the response to send. */
struct json_object *rpc_parse(struct pasidd *d, const char *line, size_t len,
                              struct json_object **error);
/* Handles one request of a message parsed from line: index is its place in a batch, -1 for
 * a message that is a single request. Returns the response, or NULL for a notification. */
struct json_object *rpc_handle_one(struct pasidd *d, const struct peer *peer,
                                   struct json_object *req, const char *line, size_t len,
                                   int index);
/* Both at once: the response (object or batch array) to send, or NULL when there is nothing
 * to send (notifications only). For callers without a server: tests and fuzzers. */
struct json_object *rpc_handle(struct pasidd *d, const struct peer *peer, const char *line,
                               size_t len);

/* Sets the call's error; returns -1 for `return rpc_fail(...)`. */
int rpc_fail(struct rpc_call *c, int code, const char *param, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int rpc_fail_ns(struct rpc_call *c, const struct ns_err *e);

#endif
