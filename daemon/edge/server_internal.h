/*
 * The control socket's insides, shared by its three files:
 *
 *  - server.c        listening: the socket, accepting (limits, the peer), closing down;
 *  - server_conn.c   a connection's I/O: reading with SCM_RIGHTS descriptors, queueing answers
 *                    and pushed messages (held until durable), writing, the idle timers;
 *  - server_pass.c   executing: the server pass that gives each connection with work a
 *                    slice, frames messages and runs them through rpc.c, and the group commit
 *                    that ends each pass.
 *
 * Reading, executing and writing are separate steps:
 *
 *  - conn_read_cb reads what the peer sent, with any SCM_RIGHTS descriptors, into c->in,
 *    but never more than one maximal message beyond what is waiting to be executed.
 *  - The server pass (server_pass: made active by the I/O callbacks that bring work, so it
 *    runs in their loop iteration after all of them; a zero-timeout timer for what a pass
 *    leaves over, which then waits for the next poll) gives each connection with work a
 *    slice: a few requests or about a millisecond, whichever ends first, the whole pass a
 *    few milliseconds.
 *    Connections that just received work are served before those continuing a long one, so
 *    a small request does not wait behind every heavy peer's slice. A batch is executed one
 *    request at a time across slices and its answer streamed element by element. At the end
 *    of the pass the state is committed once (group commit).
 *  - An answer made while changes wait in the journal goes to c->held, marked with the
 *    number of the commit that will take them (state_hold_gen()); it moves to c->out when
 *    that commit is done (on_durable), and so does everything the connection queued behind
 *    it, read-only answers included: answers leave in the order of their requests.
 *    conn_flush writes c->out alone. So no byte of an answer leaves before the commit that
 *    covers what it reports, and a commit cannot be postponed by other events: it is started
 *    at the end of the pass that made the change, or as soon as the one in flight is done.
 *    The commit's write and fdatasync run in the journal's thread: meanwhile the loop reads,
 *    executes and answers; an answer made while only a commit in flight is outstanding (a
 *    daemon.status) holds nothing. A pushed message (server_push) is queued the same way.
 *  - A connection whose unread output exceeds OUT_HIGH_WATER (or MaxPending answers) is not
 *    executed further until its peer reads, and takes no pushed message: the memory one
 *    connection can make the daemon hold is bounded by the mark plus one message.
 *
 * Two timers per connection measure what a peer owes: rx_timer a message that stays
 * incomplete, tx_timer answers that the peer does not read.
 */
#ifndef PASIDD_SERVER_INTERNAL_H
#define PASIDD_SERVER_INTERNAL_H

#include <event2/event.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <json-c/json.h>

#include "peer.h"
#include "rpc.h"
#include "u32map.h"

#define OUT_HIGH_WATER (256u << 10) /* stop executing for a peer that does not read */
#define OUT_LOW_WATER  (64u << 10)
#define READ_CHUNK     (64 * 1024)
#define CONN_MAX_FDS   RPC_MAX_FDS /* descriptors received and not yet handled */
#define CONN_HOLD_SEGS 4

struct evbuffer;
struct evconnlistener;

struct conn {
	struct server *srv;
	LIST_ENTRY(conn) link;
	TAILQ_ENTRY(conn) ready_link; /* in srv->fresh or srv->ready: has work to execute */
	LIST_ENTRY(conn) held_link;   /* in srv->held: c->held waits for a commit */
	bool in_held;
	/* c->held in segments, oldest first: len bytes waiting for commit gen (state.h). The
	 * numbers never go down along a connection, so that nothing overtakes what is queued
	 * before it; at most two are ever waited for (one in flight, the next). */
	struct {
		uint64_t gen;
		size_t len;
	} hold[CONN_HOLD_SEGS];
	unsigned nhold;
	struct conn_queue *queue; /* the one of srv->fresh, srv->ready it is in, or NULL */
	int fd;
	struct event *rev, *wev;
	struct event *rx_timer, *tx_timer;
	struct evbuffer *in, *out, *held;
	struct evbuffer *later; /* pushed while a batch answer is open: goes after it */
	struct peer peer;
	/* Descriptors received with SCM_RIGHTS, with the stream offset of the byte they came
	 * with: they belong to the message that byte is part of. */
	struct {
		int fd;
		uint64_t at;
	} fds[CONN_MAX_FDS];
	unsigned nfds;
	struct rpc_fds msg_fds; /* those of the message being handled */
	uint64_t received;      /* bytes read from the peer so far */
	uint64_t consumed;      /* bytes of it handled as messages */
	/* A batch being executed: its text (ids are echoed from it), the parsed array, the next
	 * request, and whether its answer array has been opened on the output. */
	struct {
		char *line;
		size_t len, used;
		struct json_object *msg;
		size_t next, n;
		bool opened;
	} batch;
	bool reading;    /* rev is armed */
	bool eof;        /* the peer will send no more */
	bool closing;    /* close once the output is written */
	unsigned queued; /* answers queued since the output was last empty */
};

TAILQ_HEAD(conn_queue, conn);

struct server {
	struct pasidd *d;
	struct evconnlistener *lev;
	char *path;    /* the socket file we created, NULL when systemd owns it */
	char *display; /* where we listen, for humans */
	LIST_HEAD(, conn) conns;
	/* Connections with work: those that just got some (fresh), served first in a pass so
	 * that a small request does not wait behind every heavy peer's slice, and those that
	 * had more than a slice (ready). */
	struct conn_queue fresh, ready;
	LIST_HEAD(, conn) held;
	unsigned nconns;
	struct u32map per_uid; /* uid -> connections + 1 (non-NULL) */
	struct event *pass;    /* executes the ready connections */
	bool in_pass;          /* server_pass is running: more work waits for the next turn */
	struct event *resume;  /* re-enables accepting after descriptors ran out */
	unsigned refused;      /* connections turned away by a limit */
};

/* server.c */
/* Connections of uid, after adding delta. */
unsigned server_uid_count(struct server *srv, uid_t uid, int delta);

/* server_conn.c */
/* A connection for an accepted socket and its peer (taken over); NULL on ENOMEM, the socket
 * and the peer's pidfd then closed. */
struct conn *conn_new(struct server *srv, int fd, const struct peer *p);
void conn_free(struct conn *c);
/* Forgets the batch in progress. */
void conn_batch_free(struct conn *c);
/* Bytes owed to the peer: written out or held. */
size_t conn_unread(const struct conn *c);
/* Adds answer bytes behind what is queued, held while changes wait for a commit. */
void conn_queue(struct conn *c, const void *data, size_t len);
/* Moves what c holds for commits up to done (state_durable_gen()) to its output, in order.
 * Whether anything moved. */
bool conn_release(struct conn *c, uint64_t done);
/* Queues one answer line (msg taken over). */
void conn_send(struct conn *c, struct json_object *msg);
/* Queues one element of a batch answer: "[" before the first, "," between. */
void conn_send_element(struct conn *c, struct json_object *msg);
/* Closes the batch answer ("]\n") and queues what was pushed meanwhile. */
void conn_end_batch_answer(struct conn *c);
/* Writes what it can of c->out. False when the connection is gone. */
bool conn_flush(struct conn *c);
void conn_update_reading(struct conn *c);
void conn_update_rx_timer(struct conn *c);
/* Whether nothing more will happen on the connection but closing it. */
bool conn_finished(const struct conn *c);

/* server_pass.c */
/* Whether c->in holds a complete message (or, at EOF, a last one without its LF). */
bool conn_has_line(const struct conn *c);
/* Queues c for the server pass if it has work: as fresh work, or (q = srv->ready) behind the
 * others when it just had its slice. */
void conn_schedule_to(struct conn *c, struct conn_queue *q);
void conn_schedule(struct conn *c);
void server_pass(evutil_socket_t fd, short what, void *arg);
/* The state's on-durable callback: releases the output held for the commits done. */
void server_on_durable(void *arg);

#endif
