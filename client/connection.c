/* libpasid: a connection to pasidd. The handle; requests queued, framed and written with
 * their descriptors; responses read, matched to their requests by the ids the library assigns
 * and kept until a call takes them (call.c). */
#include "connection.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "errors.h"
#include "socket.h"

/* The kernel refuses more descriptors than this in one SCM_RIGHTS message (SCM_MAX_FD). */
#define MAX_FDS   253
#define READ_SIZE 65536

void
lp_notes_free(struct pasid_client *c)
{
	while (c->notes_head) {
		struct note *n = c->notes_head;

		c->notes_head = n->next;
		json_object_put(n->params);
		free(n);
	}
	c->notes_tail = &c->notes_head;
}

static void
out_msg_free(struct out_msg *m)
{
	for (size_t i = 0; i < m->nfds; i++)
		close(m->fds[i]);
	free(m->fds);
	free(m->buf);
	free(m);
}

void
lp_request_free(struct request *r)
{
	json_object_put(r->result);
	json_object_put(r->error_obj);
	free(r);
}

/* Releases every request line not yet written. */
static void
drop_output(struct pasid_client *c)
{
	while (c->out_head) {
		struct out_msg *m = c->out_head;

		c->out_head = m->next;
		out_msg_free(m);
	}
	c->out_tail = &c->out_head;
}

/* Releases a list of requests and empties it. */
static void
drop_requests(struct request **head, struct request ***tail)
{
	while (*head) {
		struct request *r = *head;

		*head = r->next;
		lp_request_free(r);
	}
	*tail = head;
}

int
pasid_connect_fd(int fd, struct pasid_client **out, struct pasid_error *err)
{
	struct pasid_client *c;

	*out = NULL;
	if (fd < 0)
		return lp_fail(err, -EBADF, "invalid socket descriptor");
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return lp_nomem(err);
	}
	c->fd = fd;
	c->timeout_ms = -1;
	c->next_id = 1;
	c->out_tail = &c->out_head;
	c->wait_tail = &c->wait_head;
	c->ready_tail = &c->ready_head;
	c->notes_tail = &c->notes_head;
	proto_linebuf_init(&c->in, CLIENT_MAX_LINE);
	*out = c;
	lp_clear_error(err);
	return 0;
}

int
pasid_connect(const char *path, struct pasid_client **out, struct pasid_error *err)
{
	int fd;

	*out = NULL;
	fd = lp_socket_connect(path, err);
	if (fd < 0)
		return fd;
	return pasid_connect_fd(fd, out, err);
}

void
pasid_close(struct pasid_client *c)
{
	if (!c)
		return;
	drop_output(c);
	drop_requests(&c->wait_head, &c->wait_tail);
	drop_requests(&c->ready_head, &c->ready_tail);
	lp_notes_free(c);
	proto_linebuf_free(&c->in);
	json_object_put(c->last_error);
	json_object_put(c->last_result);
	if (c->fd >= 0)
		close(c->fd);
	free(c);
}

int
pasid_fd(const struct pasid_client *c)
{
	return c->fd;
}

void
pasid_set_timeout(struct pasid_client *c, int timeout_ms)
{
	c->timeout_ms = timeout_ms < 0 ? -1 : timeout_ms;
}

int
pasid_set_nonblocking(struct pasid_client *c, bool on)
{
	int fl = fcntl(c->fd, F_GETFL);

	if (fl < 0)
		return -errno;
	fl = on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK;
	if (fcntl(c->fd, F_SETFL, fl) < 0)
		return -errno;
	return 0;
}

/* Moves a request from the waiting list to the ready list (or drops it if nobody waits for
 * it any more). */
static void
complete(struct pasid_client *c, struct request **link)
{
	struct request *r = *link;

	*link = r->next;
	if (!*link)
		c->wait_tail = link;
	r->next = NULL;
	if (r->abandoned) {
		lp_request_free(r);
		return;
	}
	*c->ready_tail = r;
	c->ready_tail = &r->next;
}

int
lp_fail_connection(struct pasid_client *c, int rc, const char *what)
{
	if (c->dead)
		return c->dead;
	c->dead = rc;
	if (rc == -ECONNRESET)
		lp_fail(&c->dead_err, rc, "connection closed by pasidd");
	else
		lp_fail(&c->dead_err, rc, "%s: %s", what, strerror(-rc));
	drop_output(c);
	while (c->wait_head) {
		c->wait_head->rc = rc;
		c->wait_head->error = c->dead_err;
		complete(c, &c->wait_head);
	}
	return rc;
}

static void
copy_string(char *dst, size_t size, struct json_object *obj, const char *key)
{
	struct json_object *v;

	if (json_object_object_get_ex(obj, key, &v) && json_object_is_type(v, json_type_string))
		snprintf(dst, size, "%s", json_object_get_string(v));
}

/* Reads a JSON-RPC error object into r; a malformed one still fails the request. */
static void
set_remote_error(struct request *r, struct json_object *e)
{
	struct json_object *code, *data;
	const char *reason;

	memset(&r->error, 0, sizeof(r->error));
	if (!json_object_is_type(e, json_type_object) ||
	    !json_object_object_get_ex(e, "code", &code) ||
	    !json_object_is_type(code, json_type_int)) {
		r->rc = lp_fail(&r->error, -EPROTO, "malformed error response from pasidd");
		return;
	}
	r->rc = -EREMOTEIO;
	r->error_obj = json_object_get(e);
	r->error.code = (int)json_object_get_int64(code);
	copy_string(r->error.message, sizeof(r->error.message), e, "message");
	if (json_object_object_get_ex(e, "data", &data) &&
	    json_object_is_type(data, json_type_object)) {
		copy_string(r->error.reason, sizeof(r->error.reason), data, "reason");
		copy_string(r->error.param, sizeof(r->error.param), data, "param");
	}
	reason = proto_error_reason(r->error.code);
	if (!r->error.reason[0] && reason)
		snprintf(r->error.reason, sizeof(r->error.reason), "%s", reason);
	if (!r->error.message[0])
		snprintf(r->error.message, sizeof(r->error.message), "error %d", r->error.code);
}

static struct request **
find_waiting(struct pasid_client *c, struct json_object *id)
{
	struct request **link;
	int64_t want;

	/* An error without an id (a line the daemon could not read) is about the oldest
	 * request, since the daemon reads requests in order. */
	if (!id)
		return c->wait_head ? &c->wait_head : NULL;
	if (!json_object_is_type(id, json_type_int))
		return NULL;
	want = json_object_get_int64(id);
	for (link = &c->wait_head; *link; link = &(*link)->next) {
		if ((*link)->id == want)
			return link;
	}
	return NULL;
}

static bool
is_blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return false;
	}
	return true;
}

static int
handle_line(struct pasid_client *c, const char *line, size_t len)
{
	struct json_object *msg, *id = NULL, *v, *result, *error;
	struct request **link, *r;
	bool has_result, has_error;

	if (is_blank(line, len))
		return 0;
	if (proto_parse(line, len, &msg) < 0)
		return lp_fail_connection(c, -EPROTO, "unreadable response from pasidd");
	if (!json_object_is_type(msg, json_type_object)) {
		json_object_put(msg);
		return lp_fail_connection(c, -EPROTO, "unexpected message from pasidd");
	}
	/* An event notification (events.subscribe): kept for pasid_event_next(); other
	 * notifications are none of ours. */
	if (!json_object_object_get_ex(msg, "id", NULL) &&
	    json_object_object_get_ex(msg, "method", &v)) {
		struct note *n;

		if (json_object_is_type(v, json_type_string) &&
		    !strcmp(json_object_get_string(v), "event") &&
		    json_object_object_get_ex(msg, "params", &v) &&
		    json_object_is_type(v, json_type_object) && (n = calloc(1, sizeof(*n)))) {
			n->params = json_object_get(v);
			*c->notes_tail = n;
			c->notes_tail = &n->next;
		}
		json_object_put(msg);
		return 0;
	}
	has_result = json_object_object_get_ex(msg, "result", &result);
	has_error = json_object_object_get_ex(msg, "error", &error);
	json_object_object_get_ex(msg, "id", &id);
	/* Responses to requests we gave up on, or to no request at all, are dropped. */
	link = has_error || id ? find_waiting(c, id) : NULL;
	if (!link) {
		json_object_put(msg);
		return 0;
	}
	r = *link;
	if (!json_object_object_get_ex(msg, "jsonrpc", &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    strcmp(json_object_get_string(v), "2.0") != 0 || has_result == has_error) {
		r->rc = lp_fail(&r->error, -EPROTO, "malformed response from pasidd");
	} else if (has_error) {
		set_remote_error(r, error);
	} else {
		r->rc = 0;
		r->result = json_object_get(result);
	}
	json_object_put(msg);
	complete(c, link);
	return 0;
}

static int
process_lines(struct pasid_client *c)
{
	const char *line;
	size_t len;
	int rc;

	while ((rc = proto_linebuf_next(&c->in, &line, &len)) > 0) {
		if (handle_line(c, line, len) < 0)
			return c->dead;
	}
	if (rc < 0)
		return lp_fail_connection(c, rc, "response from pasidd");
	return 0;
}

static size_t
ready_count(const struct pasid_client *c)
{
	size_t n = 0;

	for (const struct request *r = c->ready_head; r; r = r->next)
		n++;
	return n;
}

int
pasid_receive(struct pasid_client *c, struct pasid_error *err)
{
	for (;;) {
		char *space;
		ssize_t n;

		if (c->dead)
			break;
		space = proto_linebuf_space(&c->in, READ_SIZE);
		if (!space)
			return lp_nomem(err);
		n = recv(c->fd, space, READ_SIZE, MSG_DONTWAIT);
		if (n > 0) {
			proto_linebuf_commit(&c->in, (size_t)n);
			process_lines(c);
		} else if (n == 0) {
			lp_fail_connection(c, -ECONNRESET, "");
		} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
			break;
		} else if (errno != EINTR) {
			lp_fail_connection(c, -errno, "receive");
		}
	}
	if (c->dead) {
		lp_copy_error(err, &c->dead_err);
		return c->dead;
	}
	lp_clear_error(err);
	return (int)ready_count(c);
}

static int
send_fds(struct pasid_client *c, struct out_msg *m)
{
	struct iovec iov = {.iov_base = m->buf, .iov_len = m->len};
	size_t clen = CMSG_SPACE(m->nfds * sizeof(int));
	char *control = calloc(1, clen);
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	struct cmsghdr *cm;
	ssize_t n;

	if (!control) {
		errno = ENOMEM;
		return -1;
	}
	mh.msg_control = control;
	mh.msg_controllen = clen;
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(m->nfds * sizeof(int));
	memcpy(CMSG_DATA(cm), m->fds, m->nfds * sizeof(int));
	n = sendmsg(c->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
	free(control);
	return (int)n;
}

int
pasid_flush(struct pasid_client *c, struct pasid_error *err)
{
	while (c->out_head) {
		struct out_msg *m = c->out_head;
		ssize_t n;

		if (c->dead)
			break;
		/* Descriptors ride on the first byte of their request line and on no other
		 * request's bytes, so each request goes out in its own send. */
		if (m->nfds)
			n = send_fds(c, m);
		else
			n = send(c->fd, m->buf + m->off, m->len - m->off,
			         MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0) {
			int e = errno;

			if (e == EINTR)
				continue;
			if (e == EAGAIN || e == EWOULDBLOCK)
				return lp_fail(err, -EAGAIN, "socket full");
			/* The daemon may have said why it closed (a too-long line): read that
			 * first so the request fails with the daemon's answer. */
			pasid_receive(c, NULL);
			lp_fail_connection(c, -e, "send");
			break;
		}
		if (m->nfds) {
			for (size_t i = 0; i < m->nfds; i++)
				close(m->fds[i]);
			m->nfds = 0;
		}
		m->off += (size_t)n;
		if (m->off == m->len) {
			c->out_head = m->next;
			if (!c->out_head)
				c->out_tail = &c->out_head;
			out_msg_free(m);
		}
	}
	if (c->dead) {
		lp_copy_error(err, &c->dead_err);
		return c->dead;
	}
	lp_clear_error(err);
	return 0;
}

bool
pasid_want_write(const struct pasid_client *c)
{
	return c->out_head != NULL;
}

size_t
pasid_outstanding(const struct pasid_client *c)
{
	return c->outstanding;
}

/* The request line for `method`: compact JSON and the LF that frames it. */
static int
build_line(int64_t id, const char *method, struct json_object *params, size_t nfds, char **buf,
           size_t *len)
{
	struct json_object *msg = json_object_new_object(), *p = NULL;
	const char *s;
	size_t n;
	int rc = 0;

	if (!msg)
		return -ENOMEM;
	if (nfds) {
		if (params && !json_object_is_type(params, json_type_object)) {
			rc = -EINVAL;
			goto out;
		}
		if (!params || !json_object_object_get_ex(params, "fds", NULL)) {
			/* Copy rather than add to the caller's object behind its back. */
			if (params ? json_object_deep_copy(params, &p, NULL) < 0
			           : !(p = json_object_new_object())) {
				rc = -ENOMEM;
				goto out;
			}
			json_object_object_add(p, "fds", json_object_new_int64((int64_t)nfds));
		}
	}
	if (!p && params)
		p = json_object_get(params);
	json_object_object_add(msg, "jsonrpc", json_object_new_string("2.0"));
	json_object_object_add(msg, "id", json_object_new_int64(id));
	json_object_object_add(msg, "method", json_object_new_string(method));
	if (p)
		json_object_object_add(msg, "params", p);
	s = proto_serialize(msg, &n);
	*buf = s ? malloc(n + 1) : NULL;
	if (!*buf) {
		rc = -ENOMEM;
		goto out;
	}
	memcpy(*buf, s, n);
	(*buf)[n] = '\n';
	*len = n + 1;
out:
	json_object_put(msg);
	return rc;
}

int64_t
pasid_queue(struct pasid_client *c, const char *method, struct json_object *params, const int *fds,
            size_t nfds, struct pasid_error *err)
{
	struct out_msg *m;
	struct request *r;
	int rc;

	if (!method || !*method)
		return lp_fail(err, -EINVAL, "no method given");
	if (nfds > MAX_FDS || (nfds && !fds))
		return lp_fail(err, -EINVAL, "too many file descriptors");
	if (c->dead) {
		lp_copy_error(err, &c->dead_err);
		return c->dead;
	}
	m = calloc(1, sizeof(*m));
	r = calloc(1, sizeof(*r));
	if (!m || !r || (nfds && !(m->fds = calloc(nfds, sizeof(int))))) {
		rc = -ENOMEM;
		goto fail;
	}
	rc = build_line(c->next_id, method, params, nfds, &m->buf, &m->len);
	if (rc < 0)
		goto fail;
	for (; m->nfds < nfds; m->nfds++) {
		m->fds[m->nfds] = fcntl(fds[m->nfds], F_DUPFD_CLOEXEC, 3);
		if (m->fds[m->nfds] < 0) {
			rc = -errno;
			goto fail;
		}
	}
	r->id = c->next_id++;
	*c->out_tail = m;
	c->out_tail = &m->next;
	*c->wait_tail = r;
	c->wait_tail = &r->next;
	c->outstanding++;
	lp_clear_error(err);
	return r->id;
fail:
	if (m)
		out_msg_free(m);
	free(r);
	if (rc == -EINVAL)
		return lp_fail(err, rc, "params must be an object to pass descriptors");
	return lp_fail(err, rc, "cannot queue %s: %s", method, strerror(-rc));
}

struct request *
lp_ready_take(struct pasid_client *c, const int64_t *id)
{
	struct request **link = &c->ready_head, *r;

	while (*link && id && (*link)->id != *id)
		link = &(*link)->next;
	r = *link;
	if (!r)
		return NULL;
	*link = r->next;
	if (!*link)
		c->ready_tail = link;
	c->outstanding--;
	return r;
}

bool
lp_waiting(const struct pasid_client *c, int64_t id)
{
	for (const struct request *r = c->wait_head; r; r = r->next) {
		if (r->id == id && !r->abandoned)
			return true;
	}
	return false;
}

void
lp_abandon(struct pasid_client *c, int64_t id)
{
	for (struct request *r = c->wait_head; r; r = r->next) {
		if (r->id == id) {
			r->abandoned = true;
			c->outstanding--;
			return;
		}
	}
}
