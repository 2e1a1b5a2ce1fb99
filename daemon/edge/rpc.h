/* JSON-RPC 2.0 over one line: parsing, batches, notifications, and the dispatcher, which
 * validates and authorizes every request from the method table (methods.h) before its
 * handler runs. Knows nothing of sockets, so the tests and fuzzers can drive it directly. */
#ifndef PASIDD_RPC_H
#define PASIDD_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

struct pasidd;
struct peer;
struct ns_err;
struct ns_vm;
struct conn;

/* Descriptors one message may carry (SCM_RIGHTS); more are closed as they arrive. */
#define RPC_MAX_FDS 16

/* The file descriptors that came with one message, in the order they came (DESIGN.md §4:
 * `params.fds` says how many a request takes, consumed in order). A request of a method that
 * takes descriptors is given the next ones; a handler that takes one (rpc_take_fd) owns it.
 * Whoever made the slot closes what no handler took once the message is handled. */
struct rpc_fds {
	int fd[RPC_MAX_FDS]; /* -1: taken by a handler */
	unsigned n;          /* received */
	unsigned next;       /* the first not yet given to a request */
};

/* Closes the descriptors no handler took and empties the slot. */
void rpc_fds_close(struct rpc_fds *fds);

/* One framed message and where it came from. */
struct rpc_msg {
	const struct peer *peer;
	struct conn *conn; /* the connection, for server_push(); NULL outside the server */
	const char *line;  /* its text: ids are echoed from it */
	size_t len;
	struct rpc_fds *fds; /* the descriptors that came with it; NULL: none */
};

/* One method invocation: who asks, what came with it, and where a handler leaves its error. */
struct rpc_call {
	struct pasidd *d;
	const struct peer *peer;
	struct conn *conn; /* as in rpc_msg */
	int *fds;          /* the descriptors this request took (params.fds), in order */
	unsigned nfds;
	int code; /* 0 while no error */
	char param[32];
	char message[256];
	struct json_object *data; /* extra error data, taken over */
};

/* Parses one framed message: the request object or the batch array to hand, one request at
 * a time, to rpc_handle_one(). NULL when the message as a whole is refused (not JSON, an
 * empty or too large batch): *error is then the response to send. */
struct json_object *rpc_parse(struct pasidd *d, const char *line, size_t len,
                              struct json_object **error);
/* Handles one request of a message parsed from msg->line: index is its place in a batch, -1
 * for a message that is a single request. Returns the response, or NULL for a notification. */
struct json_object *rpc_handle_one(struct pasidd *d, const struct rpc_msg *msg,
                                   struct json_object *req, int index);
/* Both at once: the response (object or batch array) to send, or NULL when there is nothing
 * to send (notifications only). For callers without a server: tests and fuzzers. The caller
 * closes what is left in msg->fds afterwards (rpc_fds_close). */
struct json_object *rpc_handle_msg(struct pasidd *d, const struct rpc_msg *msg);
/* rpc_handle_msg() of a message without descriptors. */
struct json_object *rpc_handle(struct pasidd *d, const struct peer *peer, const char *line,
                               size_t len);

/* Sets the call's error; returns the negative errno that goes with code, for
 * `return rpc_fail(...)` (the convention of core/namespace.h, with the call as its ns_err). */
int rpc_fail(struct rpc_call *c, int code, const char *param, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int rpc_fail_ns(struct rpc_call *c, const struct ns_err *e);

/* Whether the peer may act on vm: an admin, or the uid that registered it (DESIGN.md §7). */
bool rpc_may_use(const struct rpc_call *c, const struct ns_vm *vm);

/* The i-th descriptor the request took, now the caller's to close; -1 when there is none or
 * it was taken already. */
int rpc_take_fd(struct rpc_call *c, unsigned i);

#endif
