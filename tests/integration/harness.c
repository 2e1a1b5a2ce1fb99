#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_ARGS 64

static const char *
daemon_path(void)
{
	const char *p = getenv("PASIDD");

	return p ? p : "pasidd";
}

static int
collect(char **argv, int n, va_list ap)
{
	const char *a;

	while ((a = va_arg(ap, const char *)) && n < MAX_ARGS - 1)
		argv[n++] = (char *)a;
	argv[n] = NULL;
	return n;
}

static int
spawn(struct it_daemon *d, va_list ap)
{
	char *argv[MAX_ARGS];
	int n = 0;

	argv[n++] = (char *)daemon_path();
	argv[n++] = "--foreground";
	argv[n++] = "--backend";
	argv[n++] = "sim";
	argv[n++] = "--socket";
	argv[n++] = d->sock;
	argv[n++] = "--state-dir";
	argv[n++] = d->state;
	argv[n++] = "--config";
	argv[n++] = "/dev/null";
	collect(argv, n, ap);
	d->pid = fork();
	if (d->pid < 0)
		return -1;
	if (d->pid == 0) {
		int fd = open(d->log, O_WRONLY | O_CREAT | O_APPEND, 0644);

		if (fd >= 0) {
			dup2(fd, STDERR_FILENO);
			dup2(fd, STDOUT_FILENO);
		}
		unsetenv("LISTEN_FDS");
		unsetenv("LISTEN_PID");
		unsetenv("NOTIFY_SOCKET");
		execv(argv[0], argv);
		_exit(127);
	}
	/* Ready when the socket accepts; give up after 10 s or when the daemon dies. */
	for (int i = 0; i < 1000; i++) {
		int fd = it_connect(d), status;

		if (fd >= 0) {
			close(fd);
			return 0;
		}
		if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
			d->pid = 0;
			return -1;
		}
		usleep(10000);
	}
	return -1;
}

int
it_start(struct it_daemon *d, ...)
{
	va_list ap;
	int r;

	memset(d, 0, sizeof(*d));
	snprintf(d->dir, sizeof(d->dir), "/tmp/pasidd-it.XXXXXX");
	if (!mkdtemp(d->dir))
		return -1;
	snprintf(d->sock, sizeof(d->sock), "%s/pasidd.sock", d->dir);
	snprintf(d->state, sizeof(d->state), "%s/state", d->dir);
	snprintf(d->log, sizeof(d->log), "%s/pasidd.log", d->dir);
	va_start(ap, d);
	r = spawn(d, ap);
	va_end(ap);
	return r;
}

int
it_restart(struct it_daemon *d, ...)
{
	va_list ap;
	int r;

	va_start(ap, d);
	r = spawn(d, ap);
	va_end(ap);
	return r;
}

static int
reap(struct it_daemon *d)
{
	int status = 0;

	if (d->pid <= 0)
		return -1;
	while (waitpid(d->pid, &status, 0) < 0 && errno == EINTR)
		;
	d->pid = 0;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int
it_stop(struct it_daemon *d)
{
	if (d->pid <= 0)
		return -1;
	kill(d->pid, SIGTERM);
	return reap(d);
}

void
it_kill(struct it_daemon *d)
{
	if (d->pid <= 0)
		return;
	kill(d->pid, SIGKILL);
	reap(d);
}

void
it_cleanup(struct it_daemon *d)
{
	char cmd[160];

	it_stop(d);
	if (d->dir[0] && !getenv("IT_KEEP")) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d->dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", d->dir);
	}
}

int
it_run(char **out, ...)
{
	char *argv[MAX_ARGS], buf[4096];
	int p[2], status, n = 0;
	size_t len = 0;
	va_list ap;
	pid_t pid;
	ssize_t r;

	argv[n++] = (char *)daemon_path();
	va_start(ap, out);
	collect(argv, n, ap);
	va_end(ap);
	if (pipe(p) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		dup2(p[1], STDOUT_FILENO);
		dup2(p[1], STDERR_FILENO);
		close(p[0]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	while ((r = read(p[0], buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)r;
	buf[len] = '\0';
	close(p[0]);
	waitpid(pid, &status, 0);
	if (out)
		*out = strdup(buf);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int
it_connect(const struct it_daemon *d)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", d->sock);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int
it_send(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, data, len, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

char *
it_recvline(int fd, int timeout_ms)
{
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);

	/* One byte at a time: slow, but it never reads past the line, so the next call
	 * finds the next line on the socket. */
	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		ssize_t n;

		if (poll(&pfd, 1, timeout_ms) <= 0)
			break;
		n = recv(fd, buf + len, 1, 0);
		if (n <= 0)
			break;
		if (buf[len] == '\n') {
			buf[len] = '\0';
			return buf;
		}
		if (++len == cap)
			buf = realloc(buf, cap *= 2);
	}
	free(buf);
	return NULL;
}

char *
it_roundtrip(int fd, const char *line)
{
	if (it_send(fd, line, strlen(line)) < 0 || it_send(fd, "\n", 1) < 0)
		return NULL;
	return it_recvline(fd, 5000);
}

struct json_object *
it_call(int fd, const char *method, const char *params_json)
{
	char *req, *resp;
	struct json_object *o;

	if (asprintf(&req, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"%s\"%s%s}", method,
	             params_json ? ",\"params\":" : "", params_json ? params_json : "") < 0)
		return NULL;
	resp = it_roundtrip(fd, req);
	free(req);
	if (!resp)
		return NULL;
	o = json_tokener_parse(resp);
	free(resp);
	return o;
}

struct json_object *
it_result(struct json_object *resp)
{
	struct json_object *r = NULL;

	return resp && json_object_object_get_ex(resp, "result", &r) ? r : NULL;
}

int
it_errcode(struct json_object *resp)
{
	struct json_object *e = it_get(resp, "error.code");

	if (!resp)
		return -1;
	return e ? json_object_get_int(e) : 0;
}

const char *
it_errparam(struct json_object *resp)
{
	const char *s = it_str(resp, "error.data.param");

	return s ? s : "";
}

const char *
it_errreason(struct json_object *resp)
{
	const char *s = it_str(resp, "error.data.reason");

	return s ? s : "";
}

int
it_code(int fd, const char *method, const char *params_json)
{
	struct json_object *r = it_call(fd, method, params_json);
	int code = it_errcode(r);

	json_object_put(r);
	return code;
}

struct json_object *
it_get(struct json_object *obj, const char *path)
{
	char key[128];

	while (obj && *path) {
		size_t n = strcspn(path, ".");

		snprintf(key, sizeof(key), "%.*s", (int)n, path);
		if (json_object_is_type(obj, json_type_array)) {
			obj = json_object_array_get_idx(obj, (size_t)atoi(key));
		} else if (!json_object_object_get_ex(obj, key, &obj)) {
			return NULL;
		}
		path += n + (path[n] == '.');
	}
	return obj;
}

int64_t
it_int(struct json_object *obj, const char *path)
{
	struct json_object *v = it_get(obj, path);

	return v ? json_object_get_int64(v) : -999999;
}

const char *
it_str(struct json_object *obj, const char *path)
{
	struct json_object *v = it_get(obj, path);

	return v ? json_object_get_string(v) : NULL;
}
