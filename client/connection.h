/* libpasid, private: a connection to pasidd, the handle that the calls above it share
 * (README.md draws the layers). */
#ifndef LIBPASID_CONNECTION_H
#define LIBPASID_CONNECTION_H

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
	/* The outcome of the last call that took a response, kept by call.c for
	 * pasid_error_object() and pasid_last_result(); released here with the handle. */
	struct json_object *last_error;
	struct json_object *last_result;
	/* Event notifications (events.subscribe) read while waiting for anything, kept in order
	 * until pasid_event_next() takes them (events.c). */
	struct note *notes_head, **notes_tail;
};

struct note {
	struct note *next;
	struct json_object *params;
};

/* Unlinks a ready response, the oldest (id NULL) or that of request *id, and counts it as no
 * longer outstanding; NULL if there is none. The caller frees it with lp_request_free(). */
struct request *lp_ready_take(struct pasid_client *c, const int64_t *id);
/* True while request id is sent or queued, its response not in and its caller still
 * waiting. */
bool lp_waiting(const struct pasid_client *c, int64_t id);
/* A blocking caller gave up on request id: its response is dropped when it comes. */
void lp_abandon(struct pasid_client *c, int64_t id);
void lp_request_free(struct request *r);
/* Frees every event not taken. */
void lp_notes_free(struct pasid_client *c);
/* The connection is unusable: every request still waiting completes with rc ("what" failed
 * with rc). Returns the rc that ended it. */
int lp_fail_connection(struct pasid_client *c, int rc, const char *what);

#endif
