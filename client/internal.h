/* Private to libpasid: the handle shared by the connection, call and typed-call files. */
#ifndef LIBPASID_INTERNAL_H
#define LIBPASID_INTERNAL_H

#include "libpasid.h"
#include "pasid-proto.h"

/* Responses can be far longer than requests (pasid.list of a full shared range); the limit
 * only stops a runaway peer from exhausting memory. */
#define CLIENT_MAX_LINE (256u * 1024 * 1024)

/* One request line waiting to be written. */
struct out_msg {
	struct out_msg *next;
	char *buf;
	size_t len;
	size_t off;
	int *fds; /* our duplicates, closed once they went out with the first byte */
	size_t nfds;
};

/* A request whose response has not been taken yet. */
struct request {
	struct request *next;
	int64_t id;
	bool abandoned; /* its blocking caller timed out: drop the response when it comes */
	int rc;
	struct json_object *result;
	struct pasid_error error;
	struct json_object *error_obj; /* the daemon's error object as it came, or NULL */
};

struct pasid_client {
	int fd;
	int timeout_ms;
	int64_t next_id;
	int dead; /* 0, or the -errno that ended the connection */
	struct pasid_error dead_err;
	struct out_msg *out_head, **out_tail;
	struct request *wait_head, **wait_tail;   /* sent or queued, no response yet */
	struct request *ready_head, **ready_tail; /* response here, not yet taken */
	size_t outstanding;
	struct proto_linebuf in;
	/* The daemon's error object of the last response taken, for pasid_error_object(). */
	struct json_object *last_error;
};

/* Fills err (if not NULL) with a local failure: code = rc (a -errno) and a message. */
int lp_fail(struct pasid_error *err, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void lp_clear_error(struct pasid_error *err);
void lp_copy_error(struct pasid_error *dst, const struct pasid_error *src);

/* Forgets the last daemon error: a call that fails locally must not show an older one. */
void lp_forget_error(struct pasid_client *c);

/* Releases the queued output and request lists of a closing handle. */
void lp_drop_all(struct pasid_client *c);

#endif
