/* The control socket: listening, accepting, and each connection's framing and output
 * (server_internal.h tells how). */
#ifndef PASIDD_SERVER_H
#define PASIDD_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct pasidd;
struct server;
struct conn;
struct json_object;

/* Serves listen_fd, a listening socket the service manager passed (taken over), or when it is
 * -1 creates cfg.socket_path. */
int server_open(struct pasidd *d, int listen_fd, struct server **out, char *why, size_t len);
void server_close(struct server *srv);
unsigned server_connections(const struct server *srv);
/* Gives the socket file pasidd created the mode and group (a reload); a socket the service
 * manager passed is its own. 0, or a negative errno with why. */
int server_socket_perms(struct server *srv, mode_t mode, const char *group, char *why, size_t len);
/* Where it listens, for the readiness message. */
const char *server_path(const struct server *srv);

/* Queues msg (taken over) on the connection as a message of its own, not an answer: a
 * notification such as an event. It leaves as answers do: not before the commit that covers
 * the changes made so far, and not inside a batch answer being streamed (after it). 0;
 * -ENOBUFS when the peer has not read enough of its output for more (the bound of what one
 * connection may make the daemon hold), -EPIPE when the connection is closing: msg is then
 * dropped, and the caller decides what the peer is told of the loss. A connection is known
 * from the rpc_call of a request that came on it (rpc.h). */
int server_push(struct conn *c, struct json_object *msg);

/* Bytes the daemon holds for the connection that its peer has not read yet (the event
 * stream's bound is about them). */
size_t server_backlog(const struct conn *c);
/* Ends the connection once what is queued on it is written (or the idle timeout runs out
 * while its peer reads nothing): nothing more is read from it or executed for it. Safe from
 * anywhere: the connection is freed by the loop, never here. */
void server_hangup(struct conn *c);

#endif
