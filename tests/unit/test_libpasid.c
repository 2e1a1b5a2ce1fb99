/* libpasid against fake servers: framing, id matching, errors, the non-blocking path and
 * descriptor passing. The fake server is the other end of a socketpair, driven in-process or
 * by a forked child for the blocking calls. */
#include <check.h>

#include "ck_main.h"
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "libpasid.h"

struct fixture {
	struct pasid_client *c;
	int srv; /* the fake daemon's end */
};

static void
fixture_open(struct fixture *f)
{
	struct pasid_error err;
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	ck_assert_int_eq(pasid_connect_fd(sv[0], &f->c, &err), 0);
	ck_assert_int_eq(err.code, 0);
	f->srv = sv[1];
}

static void
fixture_close(struct fixture *f)
{
	pasid_close(f->c);
	if (f->srv >= 0)
		close(f->srv);
}

/* Reads one LF-terminated line from the fake server's side, byte by byte so that nothing
 * after the line is consumed. Returns its length without the LF. */
static size_t
srv_read_line(int fd, char *buf, size_t size)
{
	size_t n = 0;

	for (;;) {
		char ch;
		ssize_t r = read(fd, &ch, 1);

		ck_assert_int_eq(r, 1);
		if (ch == '\n')
			break;
		ck_assert_uint_lt(n, size - 1);
		buf[n++] = ch;
	}
	buf[n] = '\0';
	return n;
}

static struct json_object *
srv_read_request(int fd)
{
	static char line[1 << 16];
	struct json_object *req;

	srv_read_line(fd, line, sizeof(line));
	req = json_tokener_parse(line);
	ck_assert_ptr_nonnull(req);
	return req;
}

static void
srv_write(int fd, const char *s)
{
	size_t len = strlen(s);

	while (len) {
		ssize_t n = write(fd, s, len);

		ck_assert_int_gt(n, 0);
		s += n;
		len -= (size_t)n;
	}
}

static int64_t
req_id(struct json_object *req)
{
	struct json_object *id;

	ck_assert(json_object_object_get_ex(req, "id", &id));
	ck_assert(json_object_is_type(id, json_type_int));
	return json_object_get_int64(id);
}

static const char *
req_str(struct json_object *obj, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static void
reply(int fd, int64_t id, const char *result_json)
{
	char buf[4096];

	snprintf(buf, sizeof(buf), "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":%s}\n",
	         (long long)id, result_json);
	srv_write(fd, buf);
}

/* Waits until the client has read and matched `want` responses. */
static void
receive_until(struct pasid_client *c, int want)
{
	for (int i = 0; i < 1000; i++) {
		int n = pasid_receive(c, NULL);

		ck_assert_int_ge(n, 0);
		if (n >= want)
			return;
		usleep(1000);
	}
	ck_abort_msg("responses did not arrive");
}

START_TEST(test_request_framing)
{
	struct fixture f;
	struct json_object *p = json_object_new_object();
	char buf[8192];
	size_t len = 0;
	int64_t ids[3];
	ssize_t n;

	fixture_open(&f);
	json_object_object_add(p, "vm", json_object_new_string("vm/1"));
	json_object_object_add(p, "gpasid", json_object_new_int(5));
	ids[0] = pasid_queue(f.c, "daemon.status", NULL, NULL, 0, NULL);
	ids[1] = pasid_queue(f.c, "pasid.free", p, NULL, 0, NULL);
	ids[2] = pasid_queue(f.c, "vm.list", NULL, NULL, 0, NULL);
	json_object_put(p);
	ck_assert_int_ge(ids[0], 1);
	ck_assert_int_gt(ids[1], ids[0]);
	ck_assert_int_gt(ids[2], ids[1]);
	ck_assert(pasid_want_write(f.c));
	ck_assert_uint_eq(pasid_outstanding(f.c), 3);
	ck_assert_int_eq(pasid_flush(f.c, NULL), 0);
	ck_assert(!pasid_want_write(f.c));

	/* Everything queued is on the wire now: read it all in one go. */
	while ((n = recv(f.srv, buf + len, sizeof(buf) - 1 - len, MSG_DONTWAIT)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	ck_assert_uint_gt(len, 0);
	ck_assert_int_eq(buf[len - 1], '\n');

	char *save = NULL, *line = strtok_r(buf, "\n", &save);
	int count = 0;
	for (; line; line = strtok_r(NULL, "\n", &save), count++) {
		struct json_object *req = json_tokener_parse(line);
		static const char *const methods[] = {"daemon.status", "pasid.free", "vm.list"};

		ck_assert_ptr_nonnull(req);
		/* Compact: no white space outside strings, '/' not escaped. */
		ck_assert_ptr_null(strstr(line, ": "));
		ck_assert_ptr_null(strstr(line, ", "));
		ck_assert_str_eq(req_str(req, "jsonrpc"), "2.0");
		ck_assert_str_eq(req_str(req, "method"), methods[count]);
		ck_assert_int_eq(req_id(req), ids[count]);
		if (count == 1) {
			struct json_object *params;

			ck_assert(json_object_object_get_ex(req, "params", &params));
			ck_assert_str_eq(req_str(params, "vm"), "vm/1");
			ck_assert_ptr_nonnull(strstr(line, "\"vm/1\""));
		} else {
			ck_assert(!json_object_object_get_ex(req, "params", NULL));
		}
		json_object_put(req);
	}
	ck_assert_int_eq(count, 3);
	fixture_close(&f);
}
END_TEST

START_TEST(test_out_of_order)
{
	struct fixture f;
	struct json_object *res;
	struct pasid_error err;
	int64_t a, b, c, id;

	fixture_open(&f);
	a = pasid_queue(f.c, "m.a", NULL, NULL, 0, NULL);
	b = pasid_queue(f.c, "m.b", NULL, NULL, 0, NULL);
	c = pasid_queue(f.c, "m.c", NULL, NULL, 0, NULL);
	ck_assert_int_eq(pasid_flush(f.c, NULL), 0);
	ck_assert_int_eq(pasid_response_take(f.c, b, &res, &err), -EINPROGRESS);

	/* Answers come back c, a, b, plus one for an id never sent, in one write. */
	char buf[512];
	snprintf(buf, sizeof(buf),
	         "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":\"C\"}\n"
	         "{\"jsonrpc\":\"2.0\",\"id\":999,\"result\":\"stray\"}\n"
	         "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":\"A\"}\n"
	         "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":\"B\"}\n",
	         (long long)c, (long long)a, (long long)b);
	srv_write(f.srv, buf);
	receive_until(f.c, 3);

	ck_assert_int_eq(pasid_response_take(f.c, b, &res, &err), 0);
	ck_assert_str_eq(json_object_get_string(res), "B");
	json_object_put(res);
	ck_assert_int_eq(pasid_response_take(f.c, b, &res, &err), -ENOENT);
	ck_assert_uint_eq(pasid_outstanding(f.c), 2);

	/* The rest in the order they arrived. */
	ck_assert_int_eq(pasid_response_next(f.c, &id, &res, &err), 0);
	ck_assert_int_eq(id, c);
	ck_assert_str_eq(json_object_get_string(res), "C");
	json_object_put(res);
	ck_assert_int_eq(pasid_response_next(f.c, &id, &res, &err), 0);
	ck_assert_int_eq(id, a);
	ck_assert_str_eq(json_object_get_string(res), "A");
	json_object_put(res);
	ck_assert_int_eq(pasid_response_next(f.c, &id, &res, &err), -EAGAIN);
	ck_assert_ptr_null(res);
	ck_assert_uint_eq(pasid_outstanding(f.c), 0);
	fixture_close(&f);
}
END_TEST

START_TEST(test_error_mapping)
{
	struct fixture f;
	struct json_object *res = (struct json_object *)1;
	struct pasid_error err;
	int64_t id[4];

	fixture_open(&f);
	for (int i = 0; i < 4; i++)
		id[i] = pasid_queue(f.c, "vm.show", NULL, NULL, 0, NULL);
	ck_assert_int_eq(pasid_flush(f.c, NULL), 0);

	char buf[1024];
	snprintf(
	    buf, sizeof(buf),
	    "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"error\":{\"code\":1003,\"message\":\"no VM "
	    "named 'x'\",\"data\":{\"reason\":\"not_found\",\"param\":\"vm\"}}}\n"
	    "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"error\":{\"code\":-32602,\"message\":\"bad "
	    "gpasid\",\"data\":{\"param\":\"gpasid\"}}}\n"
	    "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"error\":{\"code\":1004,\"message\":\"taken\"}}\n"
	    "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"error\":\"nonsense\"}\n",
	    (long long)id[0], (long long)id[1], (long long)id[2], (long long)id[3]);
	srv_write(f.srv, buf);
	receive_until(f.c, 4);

	ck_assert_int_eq(pasid_response_take(f.c, id[0], &res, &err), -EREMOTEIO);
	ck_assert_ptr_null(res);
	ck_assert_int_eq(err.code, PASID_E_NOT_FOUND);
	ck_assert_str_eq(err.message, "no VM named 'x'");
	ck_assert_str_eq(err.reason, "not_found");
	ck_assert_str_eq(err.param, "vm");

	ck_assert_int_eq(pasid_response_take(f.c, id[1], &res, &err), -EREMOTEIO);
	ck_assert_int_eq(err.code, PASID_E_INVALID_PARAMS);
	ck_assert_str_eq(err.message, "bad gpasid");
	ck_assert_str_eq(err.reason, "");
	ck_assert_str_eq(err.param, "gpasid");

	/* No data: the reason still follows from the code. */
	ck_assert_int_eq(pasid_response_take(f.c, id[2], &res, &err), -EREMOTEIO);
	ck_assert_int_eq(err.code, PASID_E_CONFLICT);
	ck_assert_str_eq(err.reason, "conflict");
	ck_assert_str_eq(err.param, "");

	ck_assert_int_eq(pasid_response_take(f.c, id[3], &res, &err), -EPROTO);
	ck_assert_int_eq(err.code, -EPROTO);

	ck_assert_str_eq(pasid_error_reason(1001), "exhausted");
	ck_assert_str_eq(pasid_error_reason(1002), "quota_exceeded");
	ck_assert_str_eq(pasid_error_reason(1005), "permission_denied");
	ck_assert_str_eq(pasid_error_reason(1008), "out_of_range");
	ck_assert_ptr_null(pasid_error_reason(1009));
	ck_assert_ptr_null(pasid_error_reason(-32602));
	ck_assert_ptr_null(pasid_error_reason(0));
	fixture_close(&f);
}
END_TEST

START_TEST(test_partial_lines)
{
	struct fixture f;
	struct json_object *res;
	int64_t id;
	char msg[256];

	fixture_open(&f);
	id = pasid_queue(f.c, "pasid.lookup", NULL, NULL, 0, NULL);
	ck_assert_int_eq(pasid_flush(f.c, NULL), 0);
	/* A blank line first: ignored, as on the daemon's side. */
	snprintf(msg, sizeof(msg),
	         "  \n{\"jsonrpc\":\"2.0\",\"result\":{\"gpasid\":1,\"hpasid\":4096,\"type\":"
	         "\"shared\",\"vm\":\"v\"},\"id\":%lld}\n",
	         (long long)id);
	for (size_t i = 0; msg[i]; i++) {
		ck_assert_int_eq(write(f.srv, &msg[i], 1), 1);
		ck_assert_int_eq(pasid_receive(f.c, NULL), msg[i + 1] ? 0 : 1);
		if (msg[i + 1])
			ck_assert_int_eq(pasid_response_take(f.c, id, &res, NULL), -EINPROGRESS);
	}
	ck_assert_int_eq(pasid_response_take(f.c, id, &res, NULL), 0);

	struct pasid_mapping m;
	ck_assert_int_eq(pasid_parse_mapping(res, &m, NULL), 0);
	ck_assert_uint_eq(m.gpasid, 1);
	ck_assert_uint_eq(m.hpasid, 4096);
	ck_assert_int_eq(m.type, PASID_TYPE_SHARED);
	ck_assert_str_eq(m.vm, "v");
	ck_assert_str_eq(m.device, "");
	json_object_put(res);
	fixture_close(&f);
}
END_TEST

START_TEST(test_nonblocking_eagain)
{
	struct fixture f;
	struct json_object *p = json_object_new_object(), *req, *res;
	size_t big = 1 << 20, got = 0;
	int small = 4096, rc, flags;
	char *blob = malloc(big + 1), *line = malloc(big + 4096);
	int64_t id;

	ck_assert_ptr_nonnull(blob);
	ck_assert_ptr_nonnull(line);
	fixture_open(&f);
	ck_assert_int_eq(pasid_set_nonblocking(f.c, true), 0);
	flags = fcntl(pasid_fd(f.c), F_GETFL);
	ck_assert(flags & O_NONBLOCK);
	setsockopt(pasid_fd(f.c), SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	setsockopt(f.srv, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	memset(blob, 'x', big);
	blob[big] = '\0';
	json_object_object_add(p, "blob", json_object_new_string(blob));
	id = pasid_queue(f.c, "big.call", p, NULL, 0, NULL);
	json_object_put(p);
	ck_assert_int_eq(id, 1);

	/* The socket cannot take a megabyte: the library says so instead of blocking. */
	ck_assert_int_eq(pasid_flush(f.c, NULL), -EAGAIN);
	ck_assert(pasid_want_write(f.c));
	/* Drain as the daemon would, flushing again whenever there is room. */
	for (;;) {
		ssize_t n = recv(f.srv, line + got, big + 4096 - got, MSG_DONTWAIT);

		if (n > 0)
			got += (size_t)n;
		rc = pasid_flush(f.c, NULL);
		ck_assert(rc == 0 || rc == -EAGAIN);
		if (rc == 0 && n <= 0 && got && line[got - 1] == '\n')
			break;
	}
	ck_assert(!pasid_want_write(f.c));
	line[got - 1] = '\0';
	ck_assert_ptr_null(memchr(line, '\n', got - 1));
	req = json_tokener_parse(line);
	ck_assert_ptr_nonnull(req);
	ck_assert_int_eq(req_id(req), id);
	json_object_put(req);

	/* Nothing to read yet: no response, and no blocking either. */
	ck_assert_int_eq(pasid_receive(f.c, NULL), 0);
	ck_assert_int_eq(pasid_response_take(f.c, id, &res, NULL), -EINPROGRESS);
	reply(f.srv, id, "{}");
	receive_until(f.c, 1);
	ck_assert_int_eq(pasid_response_take(f.c, id, &res, NULL), 0);
	ck_assert(json_object_is_type(res, json_type_object));
	json_object_put(res);
	free(blob);
	free(line);
	fixture_close(&f);
}
END_TEST

/* Receives `lines` request lines one byte per recvmsg(), so that the byte that carries the
 * descriptors is known: its offset goes to *fd_at. */
static size_t
srv_recv_fds(int fd, int lines, char *buf, size_t size, int *fds, size_t *nfds, size_t *fd_at)
{
	size_t n = 0;

	*nfds = 0;
	while (lines > 0) {
		char control[CMSG_SPACE(8 * sizeof(int))];
		struct iovec iov = {.iov_base = buf + n, .iov_len = 1};
		struct msghdr mh = {.msg_iov = &iov,
		                    .msg_iovlen = 1,
		                    .msg_control = control,
		                    .msg_controllen = sizeof(control)};

		ck_assert_uint_lt(n, size - 1);
		ck_assert_int_eq(recvmsg(fd, &mh, MSG_CMSG_CLOEXEC), 1);
		ck_assert(!(mh.msg_flags & MSG_CTRUNC));
		for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
			if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
				ck_assert_uint_eq(*nfds, 0);
				*nfds = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
				memcpy(fds, CMSG_DATA(cm), *nfds * sizeof(int));
				*fd_at = n;
			}
		}
		if (buf[n++] == '\n')
			lines--;
	}
	buf[n] = '\0';
	return n;
}

START_TEST(test_fd_passing)
{
	struct fixture f;
	struct json_object *p = json_object_new_object(), *req, *params, *v;
	int pa[2], pb[2], fds[8];
	size_t nfds, n, at = 0;
	char buf[4096], data[8], *second;
	int64_t first, id;

	fixture_open(&f);
	ck_assert_int_eq(pipe(pa), 0);
	ck_assert_int_eq(pipe(pb), 0);
	ck_assert_int_eq(write(pa[1], "iommufd", 7), 7);
	ck_assert_int_eq(write(pb[1], "cdev", 4), 4);
	json_object_object_add(p, "vm", json_object_new_string("vm1"));

	/* A plain request first: the descriptors must ride on the second line, not this one. */
	first = pasid_queue(f.c, "daemon.status", NULL, NULL, 0, NULL);
	int pass[2] = {pa[0], pb[0]};
	id = pasid_queue(f.c, "pasid.attach", p, pass, 2, NULL);
	ck_assert_int_gt(id, first);
	/* The caller's descriptors stay the caller's. */
	close(pa[0]);
	close(pb[0]);
	/* And the caller's params are not changed behind its back. */
	ck_assert(!json_object_object_get_ex(p, "fds", NULL));
	ck_assert_int_eq(pasid_flush(f.c, NULL), 0);

	n = srv_recv_fds(f.srv, 2, buf, sizeof(buf), fds, &nfds, &at);
	ck_assert_uint_eq(nfds, 2);
	ck_assert_int_eq(buf[n - 1], '\n');
	/* Exactly on the first byte of the second line. */
	second = strchr(buf, '\n') + 1;
	ck_assert_uint_eq(at, (size_t)(second - buf));
	ck_assert_ptr_nonnull(strstr(buf, "daemon.status"));
	ck_assert_ptr_null(strstr(second, "daemon.status"));
	req = json_tokener_parse(second);
	ck_assert_ptr_nonnull(req);
	ck_assert_int_eq(req_id(req), id);
	ck_assert(json_object_object_get_ex(req, "params", &params));
	ck_assert_str_eq(req_str(params, "vm"), "vm1");
	ck_assert(json_object_object_get_ex(params, "fds", &v));
	ck_assert_int_eq(json_object_get_int(v), 2);
	json_object_put(req);

	/* They are the same open files, in order. */
	ck_assert_int_eq(read(fds[0], data, sizeof(data)), 7);
	ck_assert_int_eq(memcmp(data, "iommufd", 7), 0);
	ck_assert_int_eq(read(fds[1], data, sizeof(data)), 4);
	ck_assert_int_eq(memcmp(data, "cdev", 4), 0);
	close(fds[0]);
	close(fds[1]);
	/* The library's duplicates are closed once sent: the write ends see no reader. */
	signal(SIGPIPE, SIG_IGN);
	ck_assert_int_eq(write(pa[1], "x", 1), -1);
	ck_assert_int_eq(errno, EPIPE);
	close(pa[1]);
	close(pb[1]);

	/* Params that name fds already are sent as they are; non-objects are refused. */
	struct json_object *arr = json_object_new_array();
	struct pasid_error err;
	ck_assert_int_eq(pasid_queue(f.c, "x", arr, fds, 1, &err), -EINVAL);
	ck_assert_int_eq(err.code, -EINVAL);
	json_object_put(arr);
	json_object_put(p);
	fixture_close(&f);
}
END_TEST

/* Attachments read from mapping objects as vm.show and pasid.list render them; a malformed
 * "attached" is the daemon's fault and leaves nothing to free. */
START_TEST(test_parse_attachments)
{
	struct json_object *show = json_tokener_parse(
	    "{\"mappings\":[{\"gpasid\":1,\"hpasid\":4096,\"type\":\"shared\",\"attached\":[{"
	    "\"device\":\"0000:6a:01.0\",\"pt_id\":7,\"dev_id\":3},{\"device\":\"0000:00:04.0\","
	    "\"pt_id\":4294967295,\"dev_id\":0,\"lost\":true}]},{\"gpasid\":2,\"hpasid\":4097,"
	    "\"type\":\"shared\"}]}");
	static const char *const bad[] = {
	    "{\"attached\":{}}",
	    "{\"attached\":[1]}",
	    "{\"attached\":[{\"pt_id\":1,\"dev_id\":1}]}",
	    "{\"attached\":[{\"device\":\"0000:00:04.0\",\"pt_id\":-1,\"dev_id\":1}]}",
	    "{\"attached\":[{\"device\":\"0000:00:04.0\",\"pt_id\":1,\"dev_id\":4294967296}]}",
	    "{\"attached\":[{\"device\":\"0000:00:04.0\",\"pt_id\":1,\"dev_id\":1,\"lost\":1}]}",
	    "{\"attached\":[{\"device\":\"0000:00:04.0:too-long\",\"pt_id\":1,\"dev_id\":1}]}",
	    "[]",
	};
	struct json_object *maps = json_object_object_get(show, "mappings");
	struct pasid_attachment *a;
	struct pasid_mapping *m;
	struct pasid_error err;
	size_t n, nm;

	/* The mappings decode as before, the attachments beside them, index for index. */
	ck_assert_int_eq(pasid_parse_mappings(show, &m, &nm, &err), 0);
	ck_assert_uint_eq(nm, 2);
	ck_assert_uint_eq(m[0].hpasid, 4096);
	ck_assert_int_eq(pasid_parse_attachments(json_object_array_get_idx(maps, 0), &a, &n, &err),
	                 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(a[0].device, "0000:6a:01.0");
	ck_assert_uint_eq(a[0].pt_id, 7);
	ck_assert_uint_eq(a[0].dev_id, 3);
	ck_assert(!a[0].lost);
	ck_assert_str_eq(a[1].device, "0000:00:04.0");
	ck_assert_uint_eq(a[1].pt_id, UINT32_MAX);
	ck_assert_uint_eq(a[1].dev_id, 0);
	ck_assert(a[1].lost);
	pasid_attachments_free(a);
	ck_assert_int_eq(pasid_parse_attachments(json_object_array_get_idx(maps, 1), &a, &n, &err),
	                 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_ptr_null(a);
	pasid_mappings_free(m);
	json_object_put(show);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct json_object *o = json_tokener_parse(bad[i]);

		ck_assert_ptr_nonnull(o);
		n = 99;
		ck_assert_msg(pasid_parse_attachments(o, &a, &n, &err) == -EPROTO, "accepted %s",
		              bad[i]);
		ck_assert_int_eq(err.code, -EPROTO);
		ck_assert_ptr_null(a);
		ck_assert_uint_eq(n, 0);
		json_object_put(o);
	}
	pasid_attachments_free(NULL);
}
END_TEST

/* A scripted fake daemon in a child process: each step expects one method with exactly
 * these params and answers with `reply` (a whole "result":... or "error":... member). */
struct step {
	const char *method;
	const char *params; /* NULL: no params member */
	const char *reply;
};

static int
serve_script(int fd, const struct step *steps)
{
	for (const struct step *s = steps; s->method; s++) {
		struct json_object *req = srv_read_request(fd), *params = NULL, *want = NULL;
		char buf[8192];
		bool ok;

		json_object_object_get_ex(req, "params", &params);
		if (s->params)
			want = json_tokener_parse(s->params);
		ok = strcmp(req_str(req, "method"), s->method) == 0 &&
		     (s->params ? json_object_equal(params, want) : params == NULL);
		if (!ok) {
			fprintf(stderr, "fake daemon: expected %s %s, got %s\n", s->method,
			        s->params ? s->params : "(none)", json_object_to_json_string(req));
			snprintf(buf, sizeof(buf),
			         "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"error\":{\"code\":-32603,"
			         "\"message\":\"script mismatch\"}}\n",
			         (long long)req_id(req));
		} else {
			snprintf(buf, sizeof(buf), "{\"jsonrpc\":\"2.0\",\"id\":%lld,%s}\n",
			         (long long)req_id(req), s->reply);
		}
		srv_write(fd, buf);
		json_object_put(req);
		json_object_put(want);
		if (!ok)
			return 1;
	}
	return 0;
}

static pid_t
fork_server(struct fixture *f, const struct step *steps)
{
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int rc;

		pasid_close(f->c);
		rc = serve_script(f->srv, steps);
		_exit(rc);
	}
	close(f->srv);
	f->srv = -1;
	return pid;
}

static void
wait_server(pid_t pid)
{
	int status;

	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
}

/* Two pipes whose read ends stand for a VMM's iommufd and device cdev: what the daemon
 * receives can be told apart by what the write ends wrote. */
struct vmm_fds {
	int iommufd, devfd; /* read ends, passed */
	int w[2];           /* write ends, kept */
};

static void
vmm_fds_open(struct vmm_fds *v)
{
	int a[2], b[2];

	ck_assert_int_eq(pipe(a), 0);
	ck_assert_int_eq(pipe(b), 0);
	ck_assert_int_eq(write(a[1], "iommufd", 7), 7);
	ck_assert_int_eq(write(b[1], "cdev", 4), 4);
	v->iommufd = a[0];
	v->devfd = b[0];
	v->w[0] = a[1];
	v->w[1] = b[1];
}

static void
vmm_fds_close(struct vmm_fds *v)
{
	close(v->iommufd);
	close(v->devfd);
	close(v->w[0]);
	close(v->w[1]);
}

/* fds[0] and fds[1] as the daemon got them must be the VMM's iommufd and cdev, in order;
 * closes them. */
static void
assert_vmm_fds(const int *fds)
{
	char data[8];

	ck_assert_int_eq(read(fds[0], data, sizeof(data)), 7);
	ck_assert_int_eq(memcmp(data, "iommufd", 7), 0);
	ck_assert_int_eq(read(fds[1], data, sizeof(data)), 4);
	ck_assert_int_eq(memcmp(data, "cdev", 4), 0);
	close(fds[0]);
	close(fds[1]);
}

/* The request line in buf (up to its LF) must call method with exactly these params; returns
 * its id. */
static int64_t
assert_request(const char *line, const char *method, const char *params_json)
{
	struct json_object *req = json_tokener_parse(line), *params, *want;
	int64_t id;

	ck_assert_ptr_nonnull(req);
	ck_assert_str_eq(req_str(req, "method"), method);
	ck_assert(json_object_object_get_ex(req, "params", &params));
	want = json_tokener_parse(params_json);
	ck_assert_msg(json_object_equal(params, want), "params %s, expected %s",
	              json_object_to_json_string(params), params_json);
	id = req_id(req);
	json_object_put(want);
	json_object_put(req);
	return id;
}

static const char attach_params[] = "{\"vm\":\"vm1\",\"gpasid\":5,\"device\":\"0000:00:04.0\","
                                    "\"pt_id\":7,\"dev_id\":3,\"fds\":2}";
static const char detach_params[] = "{\"vm\":\"vm1\",\"gpasid\":5,\"device\":\"0000:00:04.0\"}";

/* The non-blocking forms: pasid.attach with exactly the two descriptors on the first byte of
 * its line, in order, and pasid.detach after it with none. */
START_TEST(test_queue_attach_detach)
{
	struct fixture f;
	struct vmm_fds v;
	struct pasid_error err;
	struct json_object *res;
	int fds[8];
	size_t nfds, at = 99;
	char buf[4096], *second;
	int64_t a, d, id;

	fixture_open(&f);
	vmm_fds_open(&v);
	a = pasid_queue_attach(f.c, "vm1", 5, "0000:00:04.0", 7, 3, v.iommufd, v.devfd, &err);
	ck_assert_int_ge(a, 1);
	ck_assert_int_eq(err.code, 0);
	d = pasid_queue_detach(f.c, "vm1", 5, "0000:00:04.0", &err);
	ck_assert_int_gt(d, a);
	ck_assert_uint_eq(pasid_outstanding(f.c), 2);
	/* Duplicates were queued: the caller may close its own before they go out. */
	close(v.iommufd);
	close(v.devfd);
	v.iommufd = v.devfd = -1;
	ck_assert_int_eq(pasid_flush(f.c, &err), 0);

	srv_recv_fds(f.srv, 2, buf, sizeof(buf), fds, &nfds, &at);
	ck_assert_uint_eq(nfds, 2);
	ck_assert_uint_eq(at, 0);
	second = strchr(buf, '\n') + 1;
	ck_assert_int_eq(assert_request(buf, "pasid.attach", attach_params), a);
	ck_assert_int_eq(assert_request(second, "pasid.detach", detach_params), d);
	assert_vmm_fds(fds);

	reply(f.srv, d, "{}");
	srv_write(f.srv, "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":1004,\"message\":"
	                 "\"gPASID 5 of vm1 is already attached on 0000:00:04.0\",\"data\":{"
	                 "\"reason\":\"conflict\",\"param\":\"gpasid\"}}}\n");
	receive_until(f.c, 2);
	ck_assert_int_eq(pasid_response_take(f.c, a, &res, &err), -EREMOTEIO);
	ck_assert_ptr_null(res);
	ck_assert_int_eq(err.code, PASID_E_CONFLICT);
	ck_assert_str_eq(err.param, "gpasid");
	ck_assert_int_eq(pasid_response_next(f.c, &id, &res, &err), 0);
	ck_assert_int_eq(id, d);
	ck_assert(json_object_is_type(res, json_type_object));
	json_object_put(res);
	vmm_fds_close(&v);
	fixture_close(&f);
}
END_TEST

/* The blocking forms, against a child that checks what arrives: attach (descriptors on the
 * first byte), then detach (none), each answered; exit status 0 when all was as expected. */
static int
serve_attach_detach(int srv)
{
	char buf[4096];
	int fds[8];
	size_t nfds, at = 99;
	int64_t id;

	srv_recv_fds(srv, 1, buf, sizeof(buf), fds, &nfds, &at);
	if (nfds != 2 || at != 0)
		return 1;
	id = assert_request(buf, "pasid.attach", attach_params);
	assert_vmm_fds(fds);
	reply(srv, id, "{}");
	srv_recv_fds(srv, 1, buf, sizeof(buf), fds, &nfds, &at);
	if (nfds != 0)
		return 1;
	id = assert_request(buf, "pasid.detach", detach_params);
	snprintf(buf, sizeof(buf),
	         "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"error\":{\"code\":1003,\"message\":\"gPASID 5 "
	         "of vm1 is not attached on 0000:00:04.0\",\"data\":{\"reason\":\"not_found\","
	         "\"param\":\"device\"}}}\n",
	         (long long)id);
	srv_write(srv, buf);
	return 0;
}

START_TEST(test_attach_detach)
{
	struct fixture f;
	struct vmm_fds v;
	struct pasid_error err;
	pid_t pid;

	fixture_open(&f);
	vmm_fds_open(&v);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int rc;

		pasid_close(f.c);
		rc = serve_attach_detach(f.srv);
		_exit(rc);
	}
	close(f.srv);
	f.srv = -1;
	ck_assert_int_eq(
	    pasid_attach(f.c, "vm1", 5, "0000:00:04.0", 7, 3, v.iommufd, v.devfd, &err), 0);
	ck_assert_int_eq(err.code, 0);
	/* The caller's descriptors are still its own, and the library kept none. */
	ck_assert_int_ge(fcntl(v.iommufd, F_GETFD), 0);
	ck_assert_int_ge(fcntl(v.devfd, F_GETFD), 0);
	ck_assert_int_eq(pasid_detach(f.c, "vm1", 5, "0000:00:04.0", &err), -EREMOTEIO);
	ck_assert_int_eq(err.code, PASID_E_NOT_FOUND);
	ck_assert_str_eq(err.reason, "not_found");
	ck_assert_str_eq(err.param, "device");
	ck_assert_ptr_nonnull(pasid_error_object(f.c));
	wait_server(pid);
	ck_assert_uint_eq(pasid_outstanding(f.c), 0);
	vmm_fds_close(&v);
	fixture_close(&f);
}
END_TEST

/* Nothing may reach the fake daemon, and nothing may wait to be sent. */
static void
assert_nothing_sent(struct fixture *f)
{
	char ch;

	ck_assert(!pasid_want_write(f->c));
	ck_assert_uint_eq(pasid_outstanding(f->c), 0);
	ck_assert_int_eq(pasid_flush(f->c, NULL), 0);
	ck_assert_int_eq(recv(f->srv, &ch, 1, MSG_DONTWAIT), -1);
	ck_assert_int_eq(errno, EAGAIN);
}

/* pasid_device_attach/detach against a child that checks what arrives: device.attach with
 * the two descriptors on the first byte, device.detach with none. */
static const char dev_attach_params[] =
    "{\"vm\":\"vm1\",\"device\":\"0000:00:04.0\",\"pt_id\":7,\"dev_id\":3,\"fds\":2}";
static const char dev_detach_params[] = "{\"vm\":\"vm1\",\"device\":\"0000:00:04.0\"}";

static int
serve_device_attach_detach(int srv)
{
	char buf[4096];
	int fds[8];
	size_t nfds, at = 99;
	int64_t id;

	srv_recv_fds(srv, 1, buf, sizeof(buf), fds, &nfds, &at);
	if (nfds != 2 || at != 0)
		return 1;
	id = assert_request(buf, "device.attach", dev_attach_params);
	assert_vmm_fds(fds);
	reply(srv, id, "{}");
	srv_recv_fds(srv, 1, buf, sizeof(buf), fds, &nfds, &at);
	if (nfds != 0)
		return 1;
	id = assert_request(buf, "device.detach", dev_detach_params);
	snprintf(buf, sizeof(buf),
	         "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"error\":{\"code\":1004,\"message\":\"1 "
	         "PASID(s) of vm1 are attached on 0000:00:04.0\",\"data\":{\"reason\":\"conflict\","
	         "\"param\":\"device\"}}}\n",
	         (long long)id);
	srv_write(srv, buf);
	return 0;
}

START_TEST(test_device_attach_detach)
{
	struct fixture f;
	struct vmm_fds v;
	struct pasid_error err;
	pid_t pid;
	int closed;

	fixture_open(&f);
	vmm_fds_open(&v);
	closed = dup(v.iommufd);
	close(closed);
	/* Refused before anything is sent. */
	ck_assert_int_eq(
	    pasid_device_attach(f.c, NULL, "0000:00:04.0", 7, 3, v.iommufd, v.devfd, &err),
	    -EINVAL);
	ck_assert_int_eq(
	    pasid_device_attach(f.c, "vm1", "0000:00:04.0", 7, 3, closed, v.devfd, &err), -EBADF);
	ck_assert_int_eq(pasid_device_detach(f.c, "vm1", NULL, &err), -EINVAL);
	assert_nothing_sent(&f);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int rc;

		pasid_close(f.c);
		rc = serve_device_attach_detach(f.srv);
		_exit(rc);
	}
	close(f.srv);
	f.srv = -1;
	ck_assert_int_eq(
	    pasid_device_attach(f.c, "vm1", "0000:00:04.0", 7, 3, v.iommufd, v.devfd, &err), 0);
	ck_assert_int_ge(fcntl(v.iommufd, F_GETFD), 0);
	ck_assert_int_ge(fcntl(v.devfd, F_GETFD), 0);
	ck_assert_int_eq(pasid_device_detach(f.c, "vm1", "0000:00:04.0", &err), -EREMOTEIO);
	ck_assert_int_eq(err.code, PASID_E_CONFLICT);
	ck_assert_str_eq(err.param, "device");
	wait_server(pid);
	vmm_fds_close(&v);
	fixture_close(&f);
}
END_TEST

/* What the daemon could only refuse is refused before anything is queued, with -EINVAL for a
 * missing VM or device and -EBADF for a descriptor that is not open. */
START_TEST(test_attach_refused_locally)
{
	struct fixture f;
	struct vmm_fds v;
	struct pasid_error err;
	int closed;

	fixture_open(&f);
	vmm_fds_open(&v);
	closed = dup(v.iommufd);
	close(closed);

	ck_assert_int_eq(pasid_attach(f.c, NULL, 5, "0000:00:04.0", 7, 3, v.iommufd, v.devfd, &err),
	                 -EINVAL);
	ck_assert_int_eq(err.code, -EINVAL);
	ck_assert_int_eq(pasid_attach(f.c, "vm1", 5, NULL, 7, 3, v.iommufd, v.devfd, &err),
	                 -EINVAL);
	ck_assert_int_eq(pasid_attach(f.c, "vm1", 5, "0000:00:04.0", 7, 3, -1, v.devfd, &err),
	                 -EBADF);
	ck_assert_int_eq(err.code, -EBADF);
	ck_assert_ptr_nonnull(strstr(err.message, "iommufd -1"));
	ck_assert_int_eq(pasid_attach(f.c, "vm1", 5, "0000:00:04.0", 7, 3, v.iommufd, closed, &err),
	                 -EBADF);
	ck_assert_ptr_nonnull(strstr(err.message, "devfd"));
	ck_assert_ptr_null(pasid_error_object(f.c));
	ck_assert_ptr_null(pasid_last_result(f.c));
	ck_assert_int_eq(pasid_detach(f.c, NULL, 5, "0000:00:04.0", &err), -EINVAL);
	ck_assert_int_eq(pasid_detach(f.c, "vm1", 5, NULL, &err), -EINVAL);
	ck_assert_int_eq(err.code, -EINVAL);

	ck_assert_int_eq(
	    pasid_queue_attach(f.c, NULL, 5, "0000:00:04.0", 7, 3, v.iommufd, v.devfd, &err),
	    -EINVAL);
	ck_assert_int_eq(
	    pasid_queue_attach(f.c, "vm1", 5, "0000:00:04.0", 7, 3, closed, v.devfd, &err), -EBADF);
	ck_assert_int_eq(err.code, -EBADF);
	ck_assert_int_eq(
	    pasid_queue_attach(f.c, "vm1", 5, "0000:00:04.0", 7, 3, v.iommufd, -5, &err), -EBADF);
	ck_assert_int_eq(pasid_queue_detach(f.c, "vm1", 5, NULL, &err), -EINVAL);
	ck_assert_int_eq(err.code, -EINVAL);
	assert_nothing_sent(&f);
	vmm_fds_close(&v);
	fixture_close(&f);
}
END_TEST

static const char status_json[] =
    "\"result\":{\"version\":\"0.1.0\",\"uptime_s\":42,\"backend\":{\"name\":\"sim\","
    "\"pasid_bits\":20,\"caps\":[\"attach\",\"fault_injection\"]},\"ranges\":{\"local\":[1,"
    "4095],\"shared\":[4096,524287]},\"used\":{\"local\":3,\"shared\":2},\"free\":{\"shared\":"
    "520190},\"vms\":1,\"connections\":2}";

static const struct step typed_steps[] = {
    {"daemon.status", NULL, status_json},
    {"vm.register", "{\"vm\":\"vm1\",\"mode\":\"identity\",\"pid\":4242}",
     "\"result\":{\"vm\":\"vm1\",\"uuid\":\"6a6b6606-bfb1-4c39-8b91-551857bfd0fd\","
     "\"mode\":\"identity\",\"pid\":4242,\"cgroup\":\"/machine.slice/x.scope\"}"},
    {"vm.register", "{\"vm\":\"vm2\",\"uuid\":\"6A6B6606-BFB1-4C39-8B91-551857BFD0FD\"}",
     "\"error\":{\"code\":1004,\"message\":\"VM vm2 has another owner\",\"data\":{\"reason\":"
     "\"conflict\",\"param\":\"vm\"}}"},
    {"device.assign", "{\"vm\":\"vm1\",\"device\":\"0000:6A:01.0\",\"shared\":true}",
     "\"result\":{\"vm\":\"vm1\",\"device\":\"0000:6a:01.0\",\"shared\":true}"},
    {"pasid.alloc", "{\"vm\":\"vm1\",\"type\":\"shared\"}",
     "\"result\":{\"gpasid\":1,\"hpasid\":4096,\"type\":\"shared\"}"},
    {"pasid.alloc",
     "{\"vm\":\"vm1\",\"type\":\"local\",\"device\":\"0000:00:01.0\",\"gpasid\":7,\"count\":2}",
     "\"result\":{\"mappings\":[{\"gpasid\":7,\"hpasid\":7,\"type\":\"local\",\"device\":"
     "\"0000:00:01.0\"},{\"gpasid\":8,\"hpasid\":8,\"type\":\"local\",\"device\":\"0000:00:01."
     "0\"}]}"},
    {"pasid.lookup", "{\"vm\":\"vm1\",\"gpasid\":1}",
     "\"result\":{\"vm\":\"vm1\",\"gpasid\":1,\"hpasid\":4096,\"type\":\"shared\"}"},
    {"pasid.lookup", "{\"hpasid\":7,\"device\":\"0000:00:01.0\"}",
     "\"result\":{\"vm\":\"vm1\",\"gpasid\":7,\"hpasid\":7,\"type\":\"local\",\"device\":"
     "\"0000:00:01.0\"}"},
    /* Paged listings are walked to their end with "after". */
    {"pasid.list", "{\"type\":\"local\"}",
     "\"result\":{\"mappings\":[{\"vm\":\"vm1\",\"gpasid\":7,\"hpasid\":7,\"type\":\"local\","
     "\"device\":\"0000:00:01.0\"}],\"next\":\"vm1/7\"}"},
    {"pasid.list", "{\"type\":\"local\",\"after\":\"vm1/7\"}",
     "\"result\":{\"mappings\":[{\"vm\":\"vm1\",\"gpasid\":8,\"hpasid\":8,\"type\":\"local\","
     "\"device\":\"0000:00:01.0\"}]}"},
    {"vm.list", NULL,
     "\"result\":{\"vms\":[{\"vm\":\"vm1\",\"uuid\":\"6a6b6606-bfb1-4c39-8b91-551857bfd0fd\","
     "\"mode\":\"identity\",\"pid\":4242,\"cgroup\":\"\",\"pasids\":3,\"devices\":[{"
     "\"device\":\"0000:6a:01.0\",\"shared\":true}]}]}"},
    {"vm.show", "{\"vm\":\"vm1\"}",
     "\"result\":{\"vm\":\"vm1\",\"uuid\":\"6a6b6606-bfb1-4c39-8b91-551857bfd0fd\",\"mode\":"
     "\"translated\",\"pid\":4242,\"cgroup\":\"/a\",\"pasids\":2,\"devices\":[],\"mappings\":["
     "{\"gpasid\":1,\"hpasid\":4096,\"type\":\"shared\"}],\"next\":\"vm1/1\"}"},
    {"vm.show", "{\"vm\":\"vm1\",\"after\":\"vm1/1\"}",
     "\"result\":{\"vm\":\"vm1\",\"uuid\":\"6a6b6606-bfb1-4c39-8b91-551857bfd0fd\",\"mode\":"
     "\"translated\",\"pid\":4242,\"cgroup\":\"/a\",\"pasids\":2,\"devices\":[],\"mappings\":["
     "{\"gpasid\":2,\"hpasid\":4097,\"type\":\"shared\"}]}"},
    {"pasid.free", "{\"vm\":\"vm1\",\"gpasid\":1}", "\"result\":{}"},
    {"device.release", "{\"vm\":\"vm1\",\"device\":\"0000:00:01.0\"}", "\"result\":{}"},
    {"pasid.alloc", "{\"vm\":\"vm1\",\"type\":\"shared\"}",
     "\"error\":{\"code\":1001,\"message\":\"shared range exhausted\",\"data\":{\"reason\":"
     "\"exhausted\"}}"},
    {"vm.unregister", "{\"vm\":\"vm1\"}", "\"result\":{\"vm\":\"vm1\",\"freed\":3}"},
    {"rpc.discover", NULL, "\"result\":{\"openrpc\":\"1.2.6\",\"methods\":[]}"},
    {"pasid.list", "{}", "\"result\":{\"not\":\"a list\"}"},
    {NULL, NULL, NULL},
};

START_TEST(test_typed_calls)
{
	struct fixture f;
	struct pasid_error err;
	struct pasid_status *st;
	struct pasid_vm *vm, *vms;
	struct pasid_device dev;
	struct pasid_mapping m, *maps;
	struct json_object *doc;
	uint32_t freed = 0;
	size_t n;
	pid_t pid;

	fixture_open(&f);
	pid = fork_server(&f, typed_steps);

	ck_assert_int_eq(pasid_daemon_status(f.c, &st, &err), 0);
	ck_assert_str_eq(st->version, "0.1.0");
	ck_assert_uint_eq(st->uptime_s, 42);
	ck_assert_str_eq(st->backend, "sim");
	ck_assert_uint_eq(st->pasid_bits, 20);
	ck_assert_uint_eq(st->n_caps, 2);
	ck_assert_str_eq(st->caps[1], "fault_injection");
	ck_assert_uint_eq(st->local.first, 1);
	ck_assert_uint_eq(st->local.last, 4095);
	ck_assert_uint_eq(st->shared.first, 4096);
	ck_assert_uint_eq(st->shared.last, 524287);
	ck_assert_uint_eq(st->used_local, 3);
	ck_assert_uint_eq(st->used_shared, 2);
	ck_assert_uint_eq(st->free_shared, 520190);
	ck_assert_uint_eq(st->vms, 1);
	ck_assert_uint_eq(st->connections, 2);
	pasid_status_free(st);

	ck_assert_int_eq(pasid_vm_register(f.c, "vm1", NULL, PASID_MODE_IDENTITY, 4242, &vm, &err),
	                 0);
	ck_assert_str_eq(vm->vm, "vm1");
	ck_assert_str_eq(vm->uuid, "6a6b6606-bfb1-4c39-8b91-551857bfd0fd");
	ck_assert_int_eq(vm->mode, PASID_MODE_IDENTITY);
	ck_assert_int_eq(vm->pid, 4242);
	ck_assert_str_eq(vm->cgroup, "/machine.slice/x.scope");
	ck_assert_uint_eq(vm->n_devices, 0);
	pasid_vm_free(vm);

	ck_assert_int_eq(pasid_vm_register(f.c, "vm2", "6A6B6606-BFB1-4C39-8B91-551857BFD0FD",
	                                   PASID_MODE_DEFAULT, 0, &vm, &err),
	                 -EREMOTEIO);
	ck_assert_ptr_null(vm);
	ck_assert_int_eq(err.code, PASID_E_CONFLICT);
	ck_assert_str_eq(err.reason, "conflict");
	ck_assert_str_eq(err.param, "vm");
	ck_assert_str_eq(err.message, "VM vm2 has another owner");

	ck_assert_int_eq(pasid_device_assign(f.c, "vm1", "0000:6A:01.0", true, &dev, &err), 0);
	ck_assert_str_eq(dev.device, "0000:6a:01.0");
	ck_assert(dev.shared);

	ck_assert_int_eq(pasid_alloc(f.c, "vm1", PASID_TYPE_SHARED, NULL, PASID_ANY, &m, &err), 0);
	ck_assert_uint_eq(m.gpasid, 1);
	ck_assert_uint_eq(m.hpasid, 4096);
	ck_assert_int_eq(m.type, PASID_TYPE_SHARED);

	ck_assert_int_eq(
	    pasid_alloc_count(f.c, "vm1", PASID_TYPE_LOCAL, "0000:00:01.0", 7, 2, &maps, &n, &err),
	    0);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(maps[1].gpasid, 8);
	ck_assert_uint_eq(maps[1].hpasid, 8);
	ck_assert_int_eq(maps[1].type, PASID_TYPE_LOCAL);
	ck_assert_str_eq(maps[1].device, "0000:00:01.0");
	pasid_mappings_free(maps);

	ck_assert_int_eq(pasid_lookup(f.c, "vm1", 1, &m, &err), 0);
	ck_assert_str_eq(m.vm, "vm1");
	ck_assert_uint_eq(m.hpasid, 4096);
	ck_assert_int_eq(pasid_lookup_hpasid(f.c, 7, "0000:00:01.0", &m, &err), 0);
	ck_assert_uint_eq(m.gpasid, 7);
	ck_assert_str_eq(m.device, "0000:00:01.0");

	ck_assert_int_eq(pasid_list(f.c, NULL, PASID_TYPE_LOCAL, &maps, &n, &err), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(maps[0].vm, "vm1");
	ck_assert_uint_eq(maps[1].gpasid, 8);
	pasid_mappings_free(maps);

	ck_assert_int_eq(pasid_vm_list(f.c, &vms, &n, &err), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(vms[0].pasids, 3);
	ck_assert_str_eq(vms[0].cgroup, "");
	ck_assert_uint_eq(vms[0].n_devices, 1);
	ck_assert_str_eq(vms[0].devices[0].device, "0000:6a:01.0");
	ck_assert(vms[0].devices[0].shared);
	pasid_vm_list_free(vms, n);

	ck_assert_int_eq(pasid_vm_show(f.c, "vm1", &vm, &err), 0);
	ck_assert_int_eq(vm->mode, PASID_MODE_TRANSLATED);
	ck_assert_uint_eq(vm->n_mappings, 2);
	ck_assert_uint_eq(vm->mappings[0].hpasid, 4096);
	ck_assert_uint_eq(vm->mappings[1].hpasid, 4097);
	ck_assert_str_eq(vm->mappings[0].vm, "");
	pasid_vm_free(vm);

	ck_assert_int_eq(pasid_free(f.c, "vm1", 1, &err), 0);
	ck_assert_int_eq(pasid_device_release(f.c, "vm1", "0000:00:01.0", &err), 0);
	ck_assert_int_eq(pasid_alloc(f.c, "vm1", PASID_TYPE_SHARED, NULL, PASID_ANY, &m, &err),
	                 -EREMOTEIO);
	ck_assert_int_eq(err.code, PASID_E_EXHAUSTED);
	ck_assert_str_eq(err.reason, "exhausted");
	ck_assert_int_eq(pasid_vm_unregister(f.c, "vm1", &freed, &err), 0);
	ck_assert_uint_eq(freed, 3);
	ck_assert_int_eq(pasid_rpc_discover(f.c, &doc, &err), 0);
	ck_assert_str_eq(req_str(doc, "openrpc"), "1.2.6");
	json_object_put(doc);

	/* A result of the wrong shape is the daemon's fault, reported as such. */
	ck_assert_int_eq(pasid_list(f.c, NULL, PASID_TYPE_ANY, &maps, &n, &err), -EPROTO);
	ck_assert_int_eq(err.code, -EPROTO);
	ck_assert_ptr_null(maps);

	wait_server(pid);
	fixture_close(&f);
}
END_TEST

/* The daemon's error object reaches the caller whole, data and all, and only for the call
 * that returned it. */
static const struct step error_object_steps[] = {
    {"pasid.alloc", "{\"vm\":\"vm1\",\"type\":\"shared\",\"count\":3}",
     "\"error\":{\"code\":1002,\"message\":\"cgroup /m.slice holds 6 PASID(s) of its max "
     "6; 3 more refused\",\"data\":{\"reason\":\"quota_exceeded\",\"cgroup\":\"/m.slice\","
     "\"max\":6,\"current\":6}}"},
    {"daemon.status", NULL, status_json},
    {"vm.show", "{\"vm\":\"nosuch\"}",
     "\"error\":{\"code\":1003,\"message\":\"no VM named 'nosuch'\"}"},
    {"vm.show", "{\"vm\":\"odd\"}", "\"error\":\"not an object\""},
    {NULL, NULL, NULL},
};

START_TEST(test_error_object)
{
	struct fixture f;
	struct pasid_error err;
	struct pasid_mapping *maps;
	struct pasid_status *st;
	struct pasid_vm *vm;
	struct json_object *e, *data, *v, *kept;
	size_t n;
	pid_t pid;

	fixture_open(&f);
	ck_assert_ptr_null(pasid_error_object(f.c));
	pid = fork_server(&f, error_object_steps);

	ck_assert_int_eq(
	    pasid_alloc_count(f.c, "vm1", PASID_TYPE_SHARED, NULL, PASID_ANY, 3, &maps, &n, &err),
	    -EREMOTEIO);
	ck_assert_int_eq(err.code, PASID_E_QUOTA);
	e = pasid_error_object(f.c);
	ck_assert_ptr_nonnull(e);
	ck_assert(json_object_object_get_ex(e, "code", &v));
	ck_assert_int_eq(json_object_get_int(v), 1002);
	ck_assert_str_eq(req_str(e, "message"), err.message);
	ck_assert(json_object_object_get_ex(e, "data", &data));
	ck_assert_str_eq(req_str(data, "reason"), "quota_exceeded");
	ck_assert_str_eq(req_str(data, "cgroup"), "/m.slice");
	ck_assert(json_object_object_get_ex(data, "max", &v));
	ck_assert_int_eq(json_object_get_int(v), 6);
	ck_assert(json_object_object_get_ex(data, "current", &v));
	ck_assert_int_eq(json_object_get_int(v), 6);
	kept = json_object_get(e);

	/* A success forgets it; the reference taken keeps it alive. */
	ck_assert_int_eq(pasid_daemon_status(f.c, &st, &err), 0);
	pasid_status_free(st);
	ck_assert_ptr_null(pasid_error_object(f.c));
	ck_assert_str_eq(req_str(kept, "message"),
	                 "cgroup /m.slice holds 6 PASID(s) of its max 6; 3 more refused");
	json_object_put(kept);

	/* Without data, the object is still as sent: no data member made up. */
	ck_assert_int_eq(pasid_vm_show(f.c, "nosuch", &vm, &err), -EREMOTEIO);
	e = pasid_error_object(f.c);
	ck_assert_ptr_nonnull(e);
	ck_assert(!json_object_object_get_ex(e, "data", NULL));
	ck_assert_str_eq(req_str(e, "message"), "no VM named 'nosuch'");

	/* A local failure, or a malformed error, has no daemon error object. */
	ck_assert_int_eq(pasid_quota_set(f.c, "/a", (uint64_t)INT64_MAX + 1, NULL, &err), -EINVAL);
	ck_assert_ptr_null(pasid_error_object(f.c));
	ck_assert_int_eq(pasid_vm_show(f.c, "odd", &vm, &err), -EPROTO);
	ck_assert_ptr_null(pasid_error_object(f.c));
	wait_server(pid);
	fixture_close(&f);
}
END_TEST

/* The daemon's result as it came stays with the handle after every call that took one, typed
 * or not: the whole listing of a paged walk, and a result a typed call could not decode. */
static const struct step last_result_steps[] = {
    {"vm.show", "{\"vm\":\"vm1\"}",
     "\"result\":{\"vm\":\"vm1\",\"uuid\":\"6a6b6606-bfb1-4c39-8b91-551857bfd0fd\",\"mode\":"
     "\"translated\",\"pid\":4242,\"cgroup\":\"/a\",\"pasids\":2,\"devices\":[],\"mappings\":["
     "{\"gpasid\":1,\"hpasid\":4096,\"type\":\"shared\"}],\"next\":\"vm1/1\",\"extra\":7}"},
    {"vm.show", "{\"vm\":\"vm1\",\"after\":\"vm1/1\"}",
     "\"result\":{\"vm\":\"vm1\",\"uuid\":\"6a6b6606-bfb1-4c39-8b91-551857bfd0fd\",\"mode\":"
     "\"translated\",\"pid\":4242,\"cgroup\":\"/a\",\"pasids\":2,\"devices\":[],\"mappings\":["
     "{\"gpasid\":2,\"hpasid\":4097,\"type\":\"shared\"}]}"},
    {"pasid.alloc", "{\"vm\":\"vm1\",\"type\":\"shared\"}",
     "\"error\":{\"code\":1001,\"message\":\"shared range exhausted\"}"},
    {"pasid.lookup", "{\"vm\":\"vm1\",\"gpasid\":1}",
     "\"result\":{\"gpasid\":1,\"hpasid\":4096,\"type\":\"weird\"}"},
    {"pasid.free", "{\"vm\":\"vm1\",\"gpasid\":1}", "\"result\":{}"},
    {"daemon.status", NULL, status_json},
    {"vm.list", NULL, "\"result\":{\"vms\":[],\"next\":\"x\"}"},
    {"vm.list", "{\"after\":\"x\"}", "\"result\":{\"no\":\"vms\"}"},
    {NULL, NULL, NULL},
};

START_TEST(test_last_result)
{
	struct fixture f;
	struct pasid_error err;
	struct pasid_mapping m;
	struct pasid_vm *vm, *vms;
	struct json_object *r, *res, *v;
	size_t n;
	pid_t pid;

	fixture_open(&f);
	ck_assert_ptr_null(pasid_last_result(f.c));
	pid = fork_server(&f, last_result_steps);

	/* Two pages, one listing: what the typed call decoded, members it does not know too. */
	ck_assert_int_eq(pasid_vm_show(f.c, "vm1", &vm, &err), 0);
	ck_assert_uint_eq(vm->n_mappings, 2);
	pasid_vm_free(vm);
	r = pasid_last_result(f.c);
	ck_assert_ptr_nonnull(r);
	ck_assert(json_object_object_get_ex(r, "mappings", &v));
	ck_assert_uint_eq(json_object_array_length(v), 2);
	ck_assert(!json_object_object_get_ex(r, "next", NULL));
	ck_assert(json_object_object_get_ex(r, "extra", &v));
	ck_assert_int_eq(json_object_get_int(v), 7);

	/* An error has no result, only the error object. */
	ck_assert_int_eq(pasid_alloc(f.c, "vm1", PASID_TYPE_SHARED, NULL, PASID_ANY, &m, &err),
	                 -EREMOTEIO);
	ck_assert_ptr_null(pasid_last_result(f.c));
	ck_assert_ptr_nonnull(pasid_error_object(f.c));

	/* A result the typed call cannot decode is kept, to be looked at. */
	ck_assert_int_eq(pasid_lookup(f.c, "vm1", 1, &m, &err), -EPROTO);
	ck_assert_ptr_null(pasid_error_object(f.c));
	r = pasid_last_result(f.c);
	ck_assert_ptr_nonnull(r);
	ck_assert_str_eq(req_str(r, "type"), "weird");

	/* Typed calls that return nothing still keep what came. */
	ck_assert_int_eq(pasid_free(f.c, "vm1", 1, &err), 0);
	r = pasid_last_result(f.c);
	ck_assert_ptr_nonnull(r);
	ck_assert(json_object_is_type(r, json_type_object));
	ck_assert_int_eq(json_object_object_length(r), 0);

	/* pasid_call() hands out the very object that is kept. */
	ck_assert_int_eq(pasid_call(f.c, "daemon.status", NULL, &res, &err), 0);
	ck_assert_ptr_eq(pasid_last_result(f.c), res);
	json_object_put(res);
	ck_assert_str_eq(req_str(pasid_last_result(f.c), "version"), "0.1.0");

	/* A walk that does not reach its end has no result. */
	ck_assert_int_eq(pasid_vm_list(f.c, &vms, &n, &err), -EPROTO);
	ck_assert_ptr_null(pasid_last_result(f.c));

	/* Nor has a call refused before it was sent. */
	ck_assert_int_eq(pasid_quota_set(f.c, "/a", (uint64_t)INT64_MAX + 1, NULL, &err), -EINVAL);
	ck_assert_ptr_null(pasid_last_result(f.c));
	wait_server(pid);
	fixture_close(&f);
}
END_TEST

/* The same through the non-blocking path: each response taken sets it. */
START_TEST(test_error_object_nonblocking)
{
	struct fixture f;
	struct json_object *res, *e, *data;
	struct pasid_error err;
	int64_t a, b, id;
	char buf[1024];

	fixture_open(&f);
	a = pasid_queue(f.c, "pasid.alloc", NULL, NULL, 0, NULL);
	b = pasid_queue(f.c, "daemon.status", NULL, NULL, 0, NULL);
	ck_assert_int_eq(pasid_flush(f.c, NULL), 0);
	snprintf(buf, sizeof(buf),
	         "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"error\":{\"code\":1002,\"message\":\"over\","
	         "\"data\":{\"reason\":\"quota_exceeded\",\"cgroup\":\"/x\",\"max\":1,"
	         "\"current\":1}}}\n"
	         "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{}}\n",
	         (long long)a, (long long)b);
	srv_write(f.srv, buf);
	receive_until(f.c, 2);
	ck_assert_ptr_null(pasid_error_object(f.c));
	ck_assert_int_eq(pasid_response_next(f.c, &id, &res, &err), -EREMOTEIO);
	ck_assert_int_eq(id, a);
	ck_assert_ptr_null(pasid_last_result(f.c));
	e = pasid_error_object(f.c);
	ck_assert_ptr_nonnull(e);
	ck_assert(json_object_object_get_ex(e, "data", &data));
	ck_assert_str_eq(req_str(data, "cgroup"), "/x");
	ck_assert_int_eq(pasid_response_take(f.c, 999, &res, &err), -ENOENT);
	ck_assert_ptr_null(pasid_error_object(f.c));
	ck_assert_int_eq(pasid_response_take(f.c, b, &res, &err), 0);
	ck_assert_ptr_null(pasid_error_object(f.c));
	ck_assert_ptr_eq(pasid_last_result(f.c), res);
	json_object_put(res);
	fixture_close(&f);
}
END_TEST

START_TEST(test_parsers_reject)
{
	static const char *const bad_mappings[] = {
	    "{\"gpasid\":\"1\",\"hpasid\":2,\"type\":\"shared\"}",
	    "{\"gpasid\":1,\"hpasid\":-2,\"type\":\"shared\"}",
	    "{\"gpasid\":1,\"hpasid\":2,\"type\":\"weird\"}",
	    "{\"gpasid\":1,\"hpasid\":2,\"type\":\"local\",\"device\":\"0000:00:01.0-too-long\"}",
	    "{\"gpasid\":1.5,\"hpasid\":2,\"type\":\"shared\"}",
	    "[1]",
	};
	struct pasid_error err;
	struct pasid_mapping m;
	struct pasid_vm *vm;

	for (size_t i = 0; i < sizeof(bad_mappings) / sizeof(bad_mappings[0]); i++) {
		struct json_object *o = json_tokener_parse(bad_mappings[i]);

		ck_assert_ptr_nonnull(o);
		ck_assert_int_eq(pasid_parse_mapping(o, &m, &err), -EPROTO);
		ck_assert_int_eq(err.code, -EPROTO);
		ck_assert_ptr_nonnull(strstr(err.message, "malformed"));
		json_object_put(o);
	}
	struct json_object *o =
	    json_tokener_parse("{\"vm\":\"a\",\"uuid\":\"u\",\"mode\":\"translated\",\"pid\":1,"
	                       "\"devices\":[{\"device\":"
	                       "\"0000:00:01.0\"}]}");
	ck_assert_int_eq(pasid_parse_vm(o, &vm, &err), -EPROTO);
	ck_assert_ptr_null(vm);
	ck_assert_ptr_nonnull(strstr(err.message, "shared"));
	json_object_put(o);
}
END_TEST

static const struct step quota_steps[] = {
    {"quota.get", "{}",
     "\"result\":[{\"cgroup\":\"/\",\"max\":\"max\",\"current\":5,\"denied\":0},"
     "{\"cgroup\":\"/machine.slice\",\"max\":8,\"current\":5,\"denied\":2}]"},
    {"quota.get", "{\"cgroup\":\"/a\"}",
     "\"result\":[{\"cgroup\":\"/a\",\"max\":0,\"current\":0,\"denied\":0}]"},
    {"quota.set", "{\"cgroup\":\"/machine.slice\",\"max\":8}",
     "\"result\":{\"cgroup\":\"/machine.slice\",\"max\":4,\"current\":5}"},
    {"quota.set", "{\"cgroup\":\"/machine.slice\",\"max\":\"max\"}",
     "\"result\":{\"cgroup\":\"/machine.slice\",\"max\":\"max\",\"current\":5}"},
    {"quota.set", "{\"cgroup\":\"/x\",\"max\":1}",
     "\"error\":{\"code\":1005,\"message\":\"setting a quota is for administrators\","
     "\"data\":{\"reason\":\"permission_denied\"}}"},
    {"quota.get", "{}", "\"result\":[{\"cgroup\":\"/\",\"max\":\"lots\",\"current\":1}]"},
    {NULL, NULL, NULL},
};

START_TEST(test_quota_calls)
{
	struct fixture f;
	struct pasid_error err;
	struct pasid_quota *q;
	size_t n;
	pid_t pid;

	fixture_open(&f);
	pid = fork_server(&f, quota_steps);
	ck_assert_int_eq(pasid_quota_get(f.c, NULL, &q, &n, &err), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(q[0].cgroup, "/");
	ck_assert_uint_eq(q[0].max, PASID_QUOTA_NO_LIMIT);
	ck_assert_uint_eq(q[0].current, 5);
	ck_assert_str_eq(q[1].cgroup, "/machine.slice");
	ck_assert_uint_eq(q[1].max, 8);
	ck_assert_uint_eq(q[1].denied, 2);
	pasid_quotas_free(q, n);
	ck_assert_int_eq(pasid_quota_get(f.c, "/a", &q, &n, &err), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(q[0].max, 0);
	pasid_quotas_free(q, n);
	ck_assert_int_eq(pasid_quota_set(f.c, "/machine.slice", 8, &q, &err), 0);
	ck_assert_str_eq(q->cgroup, "/machine.slice");
	ck_assert_uint_eq(q->max, 4);
	ck_assert_uint_eq(q->current, 5);
	ck_assert_uint_eq(q->denied, 0);
	pasid_quotas_free(q, 1);
	ck_assert_int_eq(pasid_quota_set(f.c, "/machine.slice", PASID_QUOTA_NO_LIMIT, NULL, &err),
	                 0);
	ck_assert_int_eq(pasid_quota_set(f.c, "/x", 1, &q, &err), -EREMOTEIO);
	ck_assert_int_eq(err.code, PASID_E_PERMISSION);
	ck_assert_ptr_null(q);
	/* Refused locally: the protocol's integers stop at INT64_MAX. */
	ck_assert_int_eq(pasid_quota_set(f.c, "/x", (uint64_t)INT64_MAX + 1, NULL, &err), -EINVAL);
	ck_assert_int_eq(pasid_quota_get(f.c, NULL, &q, &n, &err), -EPROTO);
	ck_assert_ptr_null(q);
	ck_assert_ptr_nonnull(strstr(err.message, "max"));
	wait_server(pid);
	fixture_close(&f);
}
END_TEST

START_TEST(test_blocking_keeps_other_responses)
{
	struct fixture f;
	struct json_object *res;
	struct pasid_error err;
	int64_t early, id;
	pid_t pid;

	fixture_open(&f);
	early = pasid_queue(f.c, "first", NULL, NULL, 0, NULL);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		/* Read both requests, answer the blocking one before the queued one. */
		struct json_object *a = srv_read_request(f.srv), *b = srv_read_request(f.srv);

		reply(f.srv, req_id(b), "\"second\"");
		reply(f.srv, req_id(a), "\"first\"");
		/* The child runs under valgrind too: leave nothing behind. */
		json_object_put(a);
		json_object_put(b);
		pasid_close(f.c);
		_exit(0);
	}
	close(f.srv);
	f.srv = -1;
	ck_assert_int_eq(pasid_call(f.c, "second", NULL, &res, &err), 0);
	ck_assert_str_eq(json_object_get_string(res), "second");
	json_object_put(res);
	wait_server(pid);
	/* The early one may or may not have been read yet; it is not lost either way. */
	pasid_receive(f.c, NULL);
	ck_assert_int_eq(pasid_response_next(f.c, &id, &res, &err), 0);
	ck_assert_int_eq(id, early);
	ck_assert_str_eq(json_object_get_string(res), "first");
	json_object_put(res);
	fixture_close(&f);
}
END_TEST

START_TEST(test_connection_closed)
{
	struct fixture f;
	struct json_object *res;
	struct pasid_error err;
	int64_t a, b, id;

	fixture_open(&f);
	a = pasid_queue(f.c, "a", NULL, NULL, 0, NULL);
	b = pasid_queue(f.c, "b", NULL, NULL, 0, NULL);
	ck_assert_int_eq(pasid_flush(f.c, NULL), 0);
	/* The daemon answers a line it could not take (id null) and hangs up. */
	srv_write(f.srv, "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32600,\"message\":"
	                 "\"line too long\"}}\n");
	close(f.srv);
	f.srv = -1;
	ck_assert_int_eq(pasid_receive(f.c, &err), -ECONNRESET);
	ck_assert_int_eq(err.code, -ECONNRESET);
	ck_assert_int_eq(pasid_response_next(f.c, &id, &res, &err), -EREMOTEIO);
	ck_assert_int_eq(id, a);
	ck_assert_int_eq(err.code, PASID_E_INVALID_REQ);
	ck_assert_str_eq(err.message, "line too long");
	ck_assert_int_eq(pasid_response_next(f.c, &id, &res, &err), -ECONNRESET);
	ck_assert_int_eq(id, b);
	ck_assert_int_eq(err.code, -ECONNRESET);
	ck_assert_uint_eq(pasid_outstanding(f.c), 0);
	/* Nothing more can be sent on a dead connection. */
	ck_assert_int_lt(pasid_queue(f.c, "c", NULL, NULL, 0, &err), 0);
	ck_assert_int_eq(pasid_call(f.c, "c", NULL, &res, &err), -ECONNRESET);
	ck_assert_ptr_null(res);
	fixture_close(&f);
}
END_TEST

START_TEST(test_timeout_then_late_reply)
{
	struct fixture f;
	struct json_object *res;
	struct pasid_error err;
	struct json_object *req;

	fixture_open(&f);
	pasid_set_timeout(f.c, 50);
	ck_assert_int_eq(pasid_call(f.c, "slow", NULL, &res, &err), -ETIMEDOUT);
	ck_assert_int_eq(err.code, -ETIMEDOUT);
	ck_assert_uint_eq(pasid_outstanding(f.c), 0);
	req = srv_read_request(f.srv);
	reply(f.srv, req_id(req), "1");
	json_object_put(req);
	/* The late answer has nobody to go to and is dropped. */
	usleep(20000);
	ck_assert_int_eq(pasid_receive(f.c, NULL), 0);
	ck_assert_int_eq(pasid_response_next(f.c, &(int64_t){0}, &res, NULL), -EAGAIN);
	fixture_close(&f);
}
END_TEST

START_TEST(test_connect_path)
{
	char dir[] = "/tmp/libpasid-test.XXXXXX", path[64], longpath[200];
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct pasid_client *c;
	struct pasid_error err;
	struct json_object *req;
	int lfd, sfd;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/s.sock", dir);
	memcpy(sa.sun_path, path, strlen(path) + 1);

	ck_assert_int_eq(pasid_connect(path, &c, &err), -ENOENT);
	ck_assert_ptr_null(c);
	ck_assert_int_eq(err.code, -ENOENT);
	ck_assert_ptr_nonnull(strstr(err.message, path));

	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(lfd, 4), 0);
	setenv("PASIDD_SOCKET", path, 1);
	ck_assert_str_eq(pasid_default_socket(), path);
	ck_assert_int_eq(pasid_connect(NULL, &c, &err), 0);
	sfd = accept(lfd, NULL, NULL);
	ck_assert_int_ge(sfd, 0);
	ck_assert_int_ge(pasid_queue(c, "daemon.status", NULL, NULL, 0, NULL), 1);
	ck_assert_int_eq(pasid_flush(c, NULL), 0);
	req = srv_read_request(sfd);
	ck_assert_str_eq(req_str(req, "method"), "daemon.status");
	json_object_put(req);
	pasid_close(c);
	close(sfd);

	setenv("PASIDD_SOCKET", "", 1);
	ck_assert_str_ne(pasid_default_socket(), "");
	unsetenv("PASIDD_SOCKET");

	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[sizeof(longpath) - 1] = '\0';
	ck_assert_int_eq(pasid_connect(longpath, &c, &err), -ENAMETOOLONG);
	close(lfd);
	unlink(path);
	rmdir(dir);
}
END_TEST

/* pasid_connect() says what the path is when connecting fails: connect(2)'s errno alone
 * ("Connection refused" for a directory) leaves a user guessing. */
static void
assert_connect_says(const char *path, int want_rc, const char *want_text)
{
	struct pasid_client *c;
	struct pasid_error err;

	ck_assert_int_eq(pasid_connect(path, &c, &err), want_rc);
	ck_assert_ptr_null(c);
	ck_assert_int_eq(err.code, want_rc);
	ck_assert_msg(strstr(err.message, path) && strstr(err.message, want_text),
	              "message '%s' lacks '%s'", err.message, want_text);
}

/* In a child, as nobody if we are root: connects to path and returns 0 if the message names
 * group and says whether this process is in it. */
static int
connect_as_nobody(const char *path, const char *group, bool member)
{
	struct pasid_client *c;
	struct pasid_error err;
	char want[128];

	if (getuid() == 0 && (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
	                      setresuid(65534, 65534, 65534) < 0))
		return 10;
	if (pasid_connect(path, &c, &err) != -EACCES || err.code != -EACCES)
		return 11;
	snprintf(want, sizeof(want), "group '%s'", group);
	if (!strstr(err.message, want) || !strstr(err.message, "permission denied")) {
		fprintf(stderr, "message: %s\n", err.message);
		return 12;
	}
	if (!strstr(err.message, member ? "(socket mode 000, group"
	                                : "may connect, and this process is not in it")) {
		fprintf(stderr, "message: %s\n", err.message);
		return 13;
	}
	return 0;
}

START_TEST(test_connect_diagnosis)
{
	char dir[] = "/tmp/libpasid-test.XXXXXX", path[64], file[64], stale[64], none[64];
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct group *gr;
	int lfd, fd, status;
	pid_t pid;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(chmod(dir, 0755), 0);
	snprintf(path, sizeof(path), "%s/s.sock", dir);
	snprintf(file, sizeof(file), "%s/file", dir);
	snprintf(stale, sizeof(stale), "%s/stale.sock", dir);
	snprintf(none, sizeof(none), "%s/none.sock", dir);

	assert_connect_says(none, -ENOENT, "no such socket; pasidd does not seem to be running");
	assert_connect_says(dir, -ECONNREFUSED, "it is a directory, not a socket");
	fd = open(file, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	close(fd);
	assert_connect_says(file, -ECONNREFUSED, "it is a regular file, not a socket");
	/* A socket file nobody listens on: what a killed daemon leaves behind. */
	memcpy(sa.sun_path, stale, strlen(stale) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	assert_connect_says(stale, -ECONNREFUSED, "the socket is stale, pasidd is not running");

	/* Permission denied names the socket's group. Root is never denied, so the client runs
	 * as nobody; a non-root caller is denied by mode 0 on a socket of its own group. */
	memcpy(sa.sun_path, path, strlen(path) + 1);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(lfd, 4), 0);
	ck_assert_int_eq(chmod(path, getuid() == 0 ? 0660 : 0), 0);
	gr = getgrgid(getegid());
	ck_assert_ptr_nonnull(gr);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(connect_as_nobody(path, gr->gr_name, getuid() != 0));
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);

	close(lfd);
	unlink(path);
	unlink(stale);
	unlink(file);
	rmdir(dir);
}
END_TEST

/* wq.list as the daemon sends it: a WQ read whole with an administrator's per-VM breakdown, one
 * the daemon could not read, and one that mappings still name but the host no longer has. */
static const char wq_list_json[] =
    "[{\"wq\":\"dsa0/wq0.1\",\"device\":\"dsa0\",\"kind\":\"dsa\",\"bdf\":\"0000:6a:01.0\","
    "\"mode\":\"shared\",\"type\":\"user\",\"state\":\"enabled\",\"size\":16,\"priority\":10,"
    "\"threshold\":15,\"group_id\":0,\"block_on_fault\":true,\"label\":\"app1\","
    "\"driver_name\":\"user\",\"clients\":2,\"char_device\":\"/dev/dsa/wq0.1\","
    "\"pasid_enabled\":true,\"device_state\":\"enabled\",\"pasids\":4,"
    "\"vms\":[{\"vm\":\"vm1\",\"pasids\":3},{\"vm\":\"vm2\",\"pasids\":1}]},"
    "{\"wq\":\"iax1/wq1.0\",\"device\":\"iax1\",\"kind\":\"iax\",\"bdf\":\"0000:6a:02.0\","
    "\"mode\":\"dedicated\",\"type\":\"none\",\"state\":\"disabled\",\"size\":0,"
    "\"priority\":0,\"threshold\":0,\"group_id\":-1,\"block_on_fault\":false,\"label\":\"\","
    "\"driver_name\":\"\",\"clients\":0,\"char_device\":null,\"pasid_enabled\":false,"
    "\"device_state\":\"disabled\",\"pasids\":0,\"vms\":[]},"
    "{\"wq\":\"dsa2/wq2.0\",\"error\":\"cannot read wq_size: Permission denied\"},"
    "{\"wq\":\"dsa3/wq3.3\",\"state\":\"missing\",\"pasids\":2,"
    "\"vms\":[{\"vm\":\"vm1\",\"pasids\":2}]}]";

START_TEST(test_parse_wqs)
{
	struct json_object *o = json_tokener_parse(wq_list_json);
	struct pasid_error err;
	struct pasid_wq *w;
	size_t n;

	ck_assert_ptr_nonnull(o);
	ck_assert_int_eq(pasid_parse_wqs(o, &w, &n, &err), 0);
	ck_assert_int_eq(err.code, 0);
	ck_assert_uint_eq(n, 4);
	ck_assert_str_eq(w[0].wq, "dsa0/wq0.1");
	ck_assert_str_eq(w[0].device, "dsa0");
	ck_assert_str_eq(w[0].kind, "dsa");
	ck_assert_str_eq(w[0].bdf, "0000:6a:01.0");
	ck_assert_int_eq(w[0].mode, PASID_WQ_MODE_SHARED);
	ck_assert_int_eq(w[0].type, PASID_WQ_TYPE_USER);
	ck_assert_int_eq(w[0].state, PASID_WQ_STATE_ENABLED);
	ck_assert_uint_eq(w[0].size, 16);
	ck_assert_uint_eq(w[0].priority, 10);
	ck_assert_uint_eq(w[0].threshold, 15);
	ck_assert_int_eq(w[0].group_id, 0);
	ck_assert(w[0].block_on_fault);
	ck_assert_str_eq(w[0].label, "app1");
	ck_assert_str_eq(w[0].driver_name, "user");
	ck_assert_uint_eq(w[0].clients, 2);
	ck_assert_str_eq(w[0].char_device, "/dev/dsa/wq0.1");
	ck_assert(w[0].pasid_enabled);
	ck_assert_str_eq(w[0].device_state, "enabled");
	ck_assert_uint_eq(w[0].pasids, 4);
	ck_assert_uint_eq(w[0].n_vms, 2);
	ck_assert_str_eq(w[0].vms[0].vm, "vm1");
	ck_assert_uint_eq(w[0].vms[0].pasids, 3);
	ck_assert_str_eq(w[0].vms[1].vm, "vm2");
	ck_assert_uint_eq(w[0].vms[1].pasids, 1);
	ck_assert_ptr_null(w[0].error);

	ck_assert_int_eq(w[1].mode, PASID_WQ_MODE_DEDICATED);
	ck_assert_int_eq(w[1].type, PASID_WQ_TYPE_NONE);
	ck_assert_int_eq(w[1].state, PASID_WQ_STATE_DISABLED);
	ck_assert_int_eq(w[1].group_id, -1);
	ck_assert_str_eq(w[1].char_device, "");
	ck_assert_str_eq(w[1].label, "");
	ck_assert(!w[1].pasid_enabled);
	ck_assert_uint_eq(w[1].n_vms, 0);

	/* Unreadable: the error, and nothing else made up. */
	ck_assert_str_eq(w[2].wq, "dsa2/wq2.0");
	ck_assert_str_eq(w[2].error, "cannot read wq_size: Permission denied");
	ck_assert_int_eq(w[2].state, PASID_WQ_STATE_UNKNOWN);
	ck_assert_int_eq(w[2].mode, PASID_WQ_MODE_UNKNOWN);
	ck_assert_int_eq(w[2].group_id, -1);
	ck_assert_str_eq(w[2].label, "");
	ck_assert_str_eq(w[2].bdf, "");

	/* Missing: its PASIDs and who holds them. */
	ck_assert_str_eq(w[3].wq, "dsa3/wq3.3");
	ck_assert_int_eq(w[3].state, PASID_WQ_STATE_MISSING);
	ck_assert_ptr_null(w[3].error);
	ck_assert_uint_eq(w[3].pasids, 2);
	ck_assert_uint_eq(w[3].n_vms, 1);
	ck_assert_str_eq(w[3].vms[0].vm, "vm1");
	ck_assert_str_eq(w[3].device, "");
	pasid_wqs_free(w, n);
	json_object_put(o);

	/* One object, as wq.configure answers, and an empty list (a host without idxd). */
	o = json_tokener_parse("{\"wq\":\"dsa3/wq3.3\",\"state\":\"missing\",\"pasids\":0}");
	ck_assert_int_eq(pasid_parse_wqs(o, &w, &n, &err), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(w[0].state, PASID_WQ_STATE_MISSING);
	ck_assert_uint_eq(w[0].n_vms, 0);
	ck_assert_ptr_null(w[0].vms);
	pasid_wqs_free(w, n);
	json_object_put(o);
	o = json_tokener_parse("[]");
	ck_assert_int_eq(pasid_parse_wqs(o, &w, &n, &err), 0);
	ck_assert_uint_eq(n, 0);
	pasid_wqs_free(w, n);
	json_object_put(o);

	ck_assert_str_eq(pasid_wq_mode_name(PASID_WQ_MODE_DEDICATED), "dedicated");
	ck_assert_str_eq(pasid_wq_type_name(PASID_WQ_TYPE_KERNEL), "kernel");
	ck_assert_str_eq(pasid_wq_state_name(PASID_WQ_STATE_MISSING), "missing");
	ck_assert_ptr_null(pasid_wq_mode_name(PASID_WQ_MODE_UNKNOWN));
	ck_assert_ptr_null(pasid_wq_type_name(PASID_WQ_TYPE_UNKNOWN));
}
END_TEST

/* Member m of the full first entry of wq_list_json replaced by the JSON v: a WQ that is
 * readable, so every member is required and must have its type. */
static struct json_object *
wq_with(const char *m, const char *v)
{
	struct json_object *all = json_tokener_parse(wq_list_json);
	struct json_object *wq = json_object_get(json_object_array_get_idx(all, 0));

	json_object_put(all);
	if (v)
		json_object_object_add(wq, m, json_tokener_parse(v));
	else
		json_object_object_del(wq, m);
	return wq;
}

START_TEST(test_parse_wqs_reject)
{
	static const struct {
		const char *member, *value; /* value NULL: left out */
	} bad[] = {
	    {"size", "\"16\""},
	    {"size", "-1"},
	    {"size", "4294967296"},
	    {"priority", "1.5"},
	    {"threshold", "null"},
	    {"clients", "true"},
	    {"pasids", "\"4\""},
	    {"group_id", "-2"},
	    {"group_id", "\"0\""},
	    {"block_on_fault", "1"},
	    {"pasid_enabled", "\"yes\""},
	    {"mode", "\"swq\""},
	    {"type", "\"mdev\""},
	    {"state", "\"on\""},
	    {"state", "1"},
	    {"wq", "7"},
	    {"wq", "\"dsa0/wq0.1-much-longer-than-any-wq-name\""},
	    {"bdf", "\"0000:6a:01.0-too-long\""},
	    {"char_device", "0"},
	    {"label", "[]"},
	    {"error", "null"},
	    {"vms", "{}"},
	    {"vms", "[1]"},
	    {"vms", "[{\"vm\":\"vm1\"}]"},
	    {"vms", "[{\"vm\":\"vm1\",\"pasids\":\"3\"}]"},
	    {"vms", "[{\"pasids\":3}]"},
	    {"wq", NULL},
	    {"size", NULL},
	    {"mode", NULL},
	    {"label", NULL},
	    {"char_device", NULL},
	    {"pasids", NULL},
	    {"state", NULL},
	};
	static const char *const bad_whole[] = {
	    "\"dsa0/wq0.1\"",
	    "[1]",
	    "[{\"wq\":\"dsa0/wq0.1\",\"error\":7}]",
	    /* Unreadable or missing, it still may not send the wrong type. */
	    "[{\"wq\":\"dsa0/wq0.1\",\"error\":\"x\",\"size\":\"16\"}]",
	    "[{\"wq\":\"dsa0/wq0.1\",\"state\":\"missing\",\"pasids\":-1}]",
	    "[{\"wq\":\"dsa0/wq0.1\",\"state\":\"missing\"}]",
	    "[{\"state\":\"missing\",\"pasids\":0}]",
	};
	struct pasid_error err;
	struct pasid_wq *w;
	size_t n;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct json_object *o = wq_with(bad[i].member, bad[i].value);

		n = 99;
		ck_assert_msg(pasid_parse_wqs(o, &w, &n, &err) == -EPROTO, "accepted %s: %s",
		              bad[i].member, bad[i].value ? bad[i].value : "(absent)");
		ck_assert_int_eq(err.code, -EPROTO);
		ck_assert_ptr_nonnull(strstr(err.message, "malformed"));
		ck_assert_ptr_null(w);
		ck_assert_uint_eq(n, 0);
		json_object_put(o);
	}
	for (size_t i = 0; i < sizeof(bad_whole) / sizeof(bad_whole[0]); i++) {
		struct json_object *o = json_tokener_parse(bad_whole[i]);

		ck_assert_ptr_nonnull(o);
		ck_assert_msg(pasid_parse_wqs(o, &w, &n, &err) == -EPROTO, "accepted %s",
		              bad_whole[i]);
		ck_assert_ptr_null(w);
		json_object_put(o);
	}
	/* The error names the member at fault. */
	{
		struct json_object *o = wq_with("size", "\"16\"");

		ck_assert_int_eq(pasid_parse_wqs(o, &w, &n, &err), -EPROTO);
		ck_assert_ptr_nonnull(strstr(err.message, "size"));
		json_object_put(o);
	}
}
END_TEST

START_TEST(test_parse_mapping_wq)
{
	struct json_object *o =
	    json_tokener_parse("{\"mappings\":[{\"gpasid\":1,\"hpasid\":4096,\"type\":\"shared\","
	                       "\"wq\":\"dsa0/wq0.1\"},"
	                       "{\"gpasid\":2,\"hpasid\":4097,\"type\":\"shared\"},"
	                       "{\"gpasid\":3,\"hpasid\":4098,\"type\":\"shared\",\"wq\":1}]}");
	struct json_object *maps = json_object_object_get(o, "mappings");
	char wq[PASID_WQ_NAME_MAX + 1], small[4];
	struct pasid_mapping *m;
	struct pasid_error err;
	size_t n;

	/* struct pasid_mapping is untouched: the list decodes as before (the "wq" members do not
	 * disturb it) and the WQ is read beside it. */
	ck_assert_int_eq(pasid_parse_mappings(o, &m, &n, &err), 0);
	ck_assert_uint_eq(n, 3);
	pasid_mappings_free(m);
	ck_assert_int_eq(
	    pasid_parse_mapping_wq(json_object_array_get_idx(maps, 0), wq, sizeof(wq), &err), 0);
	ck_assert_str_eq(wq, "dsa0/wq0.1");
	ck_assert_int_eq(
	    pasid_parse_mapping_wq(json_object_array_get_idx(maps, 1), wq, sizeof(wq), &err), 0);
	ck_assert_str_eq(wq, "");
	ck_assert_int_eq(
	    pasid_parse_mapping_wq(json_object_array_get_idx(maps, 2), wq, sizeof(wq), &err),
	    -EPROTO);
	ck_assert_str_eq(wq, "");
	ck_assert_int_eq(
	    pasid_parse_mapping_wq(json_object_array_get_idx(maps, 0), small, sizeof(small), &err),
	    -ERANGE);
	ck_assert_str_eq(small, "");
	ck_assert_int_eq(pasid_parse_mapping_wq(maps, wq, sizeof(wq), &err), -EPROTO);
	json_object_put(o);
}
END_TEST

static const struct step wq_steps[] = {
    {"wq.list", NULL,
     "\"result\":[{\"wq\":\"dsa2/wq2.0\",\"error\":\"cannot read\"},{\"wq\":\"dsa3/wq3.3\","
     "\"state\":\"missing\",\"pasids\":1,\"vms\":[{\"vm\":\"vm1\",\"pasids\":1}]}]"},
    {"wq.list", NULL, "\"result\":{\"wqs\":[]}"},
    {"wq.configure",
     "{\"wq\":\"dsa0/wq0.1\",\"mode\":\"shared\",\"type\":\"user\",\"size\":16,\"priority\":10,"
     "\"group\":2,\"threshold\":15,\"name\":\"app1\",\"block_on_fault\":false}",
     "\"result\":{\"wq\":\"dsa0/wq0.1\",\"state\":\"missing\",\"pasids\":0,\"changed\":true}"},
    {"wq.configure", "{\"wq\":\"dsa0/wq0.1\",\"mode\":\"dedicated\",\"type\":\"kernel\"}",
     "\"result\":{\"wq\":\"dsa0/wq0.1\",\"state\":\"missing\",\"pasids\":0,\"changed\":false}"},
    {"wq.configure", "{\"wq\":\"dsa0/wq0.1\",\"mode\":\"shared\",\"type\":\"user\"}",
     "\"error\":{\"code\":1006,\"message\":\"writing wq_size refused\",\"data\":{\"reason\":"
     "\"kernel_error\",\"op\":\"sysfs write\",\"errno\":16,\"message\":\"Device or resource busy\","
     "\"attribute\":\"size\"}}"},
    {"wq.configure", "{\"wq\":\"dsa0/wq0.1\",\"mode\":\"shared\",\"type\":\"user\"}",
     "\"result\":{\"wq\":\"dsa0/wq0.1\",\"state\":\"missing\",\"pasids\":0}"},
    {"pasid.alloc", "{\"vm\":\"vm1\",\"type\":\"shared\",\"wq\":\"dsa0/wq0.1\"}",
     "\"result\":{\"gpasid\":1,\"hpasid\":4096,\"type\":\"shared\",\"wq\":\"dsa0/wq0.1\"}"},
    {"pasid.alloc",
     "{\"vm\":\"vm1\",\"type\":\"shared\",\"gpasid\":8,\"count\":2,\"wq\":\"dsa0/wq0.1\"}",
     "\"result\":{\"mappings\":[{\"gpasid\":8,\"hpasid\":5000,\"type\":\"shared\",\"wq\":"
     "\"dsa0/wq0.1\"},{\"gpasid\":9,\"hpasid\":5001,\"type\":\"shared\",\"wq\":"
     "\"dsa0/wq0.1\"}]}"},
    {"pasid.list", "{\"wq\":\"dsa0/wq0.1\"}",
     "\"result\":{\"mappings\":[{\"vm\":\"vm1\",\"gpasid\":1,\"hpasid\":4096,\"type\":"
     "\"shared\",\"wq\":\"dsa0/wq0.1\"}]}"},
    {NULL, NULL, NULL},
};

START_TEST(test_wq_calls)
{
	struct pasid_wq_config cfg = {.wq = "dsa0/wq0.1",
	                              .mode = PASID_WQ_MODE_SHARED,
	                              .type = PASID_WQ_TYPE_USER,
	                              .set = PASID_WQ_SET_SIZE | PASID_WQ_SET_PRIORITY |
	                                     PASID_WQ_SET_GROUP | PASID_WQ_SET_THRESHOLD |
	                                     PASID_WQ_SET_NAME | PASID_WQ_SET_BLOCK_ON_FAULT,
	                              .size = 16,
	                              .priority = 10,
	                              .group = 2,
	                              .threshold = 15,
	                              .name = "app1"};
	struct pasid_wq_config plain = {
	    .wq = "dsa0/wq0.1", .mode = PASID_WQ_MODE_DEDICATED, .type = PASID_WQ_TYPE_KERNEL};
	struct pasid_mapping one, *maps;
	struct json_object *data;
	struct pasid_error err;
	char wq[PASID_WQ_NAME_MAX + 1];
	struct pasid_wq *w;
	bool changed;
	struct fixture f;
	size_t n;
	pid_t pid;

	fixture_open(&f);
	pid = fork_server(&f, wq_steps);
	ck_assert_int_eq(pasid_wq_list(f.c, &w, &n, &err), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(w[0].error, "cannot read");
	ck_assert_int_eq(w[1].state, PASID_WQ_STATE_MISSING);
	ck_assert_uint_eq(w[1].vms[0].pasids, 1);
	pasid_wqs_free(w, n);
	/* wq.list answers an array, not a paged object. */
	ck_assert_int_eq(pasid_wq_list(f.c, &w, &n, &err), -EPROTO);
	ck_assert_ptr_null(w);
	ck_assert_uint_eq(n, 0);
	ck_assert_ptr_nonnull(pasid_last_result(f.c));

	ck_assert_int_eq(pasid_wq_configure(f.c, &cfg, &w, &changed, &err), 0);
	ck_assert(changed);
	ck_assert_str_eq(w->wq, "dsa0/wq0.1");
	pasid_wqs_free(w, 1);
	ck_assert_int_eq(pasid_wq_configure(f.c, &plain, NULL, &changed, &err), 0);
	ck_assert(!changed);
	/* A sysfs write refused: the daemon's data says which and why. */
	cfg.set = 0;
	ck_assert_int_eq(pasid_wq_configure(f.c, &cfg, &w, &changed, &err), -EREMOTEIO);
	ck_assert_int_eq(err.code, PASID_E_KERNEL);
	ck_assert_ptr_null(w);
	ck_assert(!changed);
	data = json_object_object_get(pasid_error_object(f.c), "data");
	ck_assert_str_eq(req_str(data, "attribute"), "size");
	/* A result without "changed" is malformed. */
	ck_assert_int_eq(pasid_wq_configure(f.c, &cfg, &w, &changed, &err), -EPROTO);
	ck_assert_ptr_nonnull(strstr(err.message, "changed"));
	ck_assert_ptr_null(w);

	ck_assert_int_eq(pasid_alloc_wq(f.c, "vm1", "dsa0/wq0.1", PASID_ANY, &one, &err), 0);
	ck_assert_uint_eq(one.hpasid, 4096);
	ck_assert_int_eq(one.type, PASID_TYPE_SHARED);
	ck_assert_int_eq(pasid_parse_mapping_wq(pasid_last_result(f.c), wq, sizeof(wq), &err), 0);
	ck_assert_str_eq(wq, "dsa0/wq0.1");
	ck_assert_int_eq(pasid_alloc_wq_count(f.c, "vm1", "dsa0/wq0.1", 8, 2, &maps, &n, &err), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(maps[1].gpasid, 9);
	pasid_mappings_free(maps);
	ck_assert_int_eq(pasid_list_wq(f.c, NULL, PASID_TYPE_ANY, "dsa0/wq0.1", &maps, &n, &err),
	                 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(maps[0].vm, "vm1");
	pasid_mappings_free(maps);
	wait_server(pid);
	fixture_close(&f);
}
END_TEST

/* What the daemon could only refuse, or what this library cannot send, never leaves it. */
START_TEST(test_wq_configure_refused_locally)
{
	struct pasid_wq_config cfg = {
	    .wq = "dsa0/wq0.1", .mode = PASID_WQ_MODE_SHARED, .type = PASID_WQ_TYPE_USER};
	struct pasid_error err;
	struct pasid_wq *w = (void *)1;
	bool changed = true;
	struct fixture f;

	fixture_open(&f);
	ck_assert_int_eq(pasid_wq_configure(f.c, NULL, &w, &changed, &err), -EINVAL);
	ck_assert_ptr_null(w);
	ck_assert(!changed);
	cfg.wq = NULL;
	ck_assert_int_eq(pasid_wq_configure(f.c, &cfg, NULL, NULL, &err), -EINVAL);
	cfg.wq = "dsa0/wq0.1";
	cfg.mode = PASID_WQ_MODE_UNKNOWN;
	ck_assert_int_eq(pasid_wq_configure(f.c, &cfg, NULL, NULL, &err), -EINVAL);
	cfg.mode = PASID_WQ_MODE_SHARED;
	cfg.type = PASID_WQ_TYPE_UNKNOWN;
	ck_assert_int_eq(pasid_wq_configure(f.c, &cfg, NULL, NULL, &err), -EINVAL);
	cfg.type = PASID_WQ_TYPE_USER;
	cfg.set = 1u << 20;
	ck_assert_int_eq(pasid_wq_configure(f.c, &cfg, NULL, NULL, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.message, "set bits"));
	cfg.set = PASID_WQ_SET_GROUP;
	cfg.group = -1;
	ck_assert_int_eq(pasid_wq_configure(f.c, &cfg, NULL, NULL, &err), -EINVAL);
	cfg.set = PASID_WQ_SET_NAME;
	ck_assert_int_eq(pasid_wq_configure(f.c, &cfg, NULL, NULL, &err), -EINVAL);
	cfg.set = 0;
	cfg.reserved[3] = 1;
	ck_assert_int_eq(pasid_wq_configure(f.c, &cfg, NULL, NULL, &err), -EINVAL);
	ck_assert_uint_eq(pasid_outstanding(f.c), 0);
	ck_assert(!pasid_want_write(f.c));
	fixture_close(&f);
}
END_TEST

static Suite *
libpasid_suite(void)
{
	Suite *s = suite_create("libpasid");
	TCase *tc = tcase_create("client");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_request_framing);
	tcase_add_test(tc, test_out_of_order);
	tcase_add_test(tc, test_error_mapping);
	tcase_add_test(tc, test_partial_lines);
	tcase_add_test(tc, test_nonblocking_eagain);
	tcase_add_test(tc, test_fd_passing);
	tcase_add_test(tc, test_typed_calls);
	tcase_add_test(tc, test_parsers_reject);
	tcase_add_test(tc, test_quota_calls);
	tcase_add_test(tc, test_blocking_keeps_other_responses);
	tcase_add_test(tc, test_connection_closed);
	tcase_add_test(tc, test_timeout_then_late_reply);
	tcase_add_test(tc, test_connect_path);
	tcase_add_test(tc, test_connect_diagnosis);
	tcase_add_test(tc, test_error_object);
	tcase_add_test(tc, test_error_object_nonblocking);
	tcase_add_test(tc, test_last_result);
	tcase_add_test(tc, test_queue_attach_detach);
	tcase_add_test(tc, test_attach_detach);
	tcase_add_test(tc, test_attach_refused_locally);
	tcase_add_test(tc, test_device_attach_detach);
	tcase_add_test(tc, test_parse_attachments);
	tcase_add_test(tc, test_parse_wqs);
	tcase_add_test(tc, test_parse_wqs_reject);
	tcase_add_test(tc, test_parse_mapping_wq);
	tcase_add_test(tc, test_wq_calls);
	tcase_add_test(tc, test_wq_configure_refused_locally);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return ck_run(libpasid_suite());
}
