/* The control socket: listening, accepting, and each connection's framing and output
 * (server_internal.h tells how). */
#ifndef PASIDD_SERVER_H
#define PASIDD_SERVER_H

#include <stddef.h>

struct pasidd;
struct server;

/* Serves the socket systemd passed (sd_listen_fds) or creates cfg.socket_path. */
int server_open(struct pasidd *d, struct server **out, char *why, size_t len);
void server_close(struct server *srv);
unsigned server_connections(const struct server *srv);
/* Where it listens, for the readiness message. */
const char *server_path(const struct server *srv);

#endif
