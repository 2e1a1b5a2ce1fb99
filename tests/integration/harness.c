#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/prctl.h>
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

static const char *launcher;

void
it_set_launcher(const char *path)
{
	launcher = path;
}

/* The start of a command line that runs pasidd: the launcher (for it_start), the words of
 * PASIDD_WRAPPER ("valgrind --log-file=...", to run the daemon under a tool) when wrapped,
 * and the daemon. Returns their number; *wrap holds the words (free it). */
static int
daemon_argv(char **argv, bool with_launcher, bool wrapped, char **wrap)
{
	int n = 0;

	*wrap = NULL;
	if (with_launcher && launcher)
		argv[n++] = (char *)launcher;
	if (wrapped && it_wrapped()) {
		*wrap = strdup(getenv("PASIDD_WRAPPER"));
		for (char *tok = strtok(*wrap, " "); tok && n < MAX_ARGS - 16;
		     tok = strtok(NULL, " "))
			argv[n++] = tok;
	}
	argv[n++] = (char *)daemon_path();
	return n;
}

static int
spawn(struct it_daemon *d, va_list ap)
{
	char *argv[MAX_ARGS], *wrap;
	pid_t parent;
	int n = daemon_argv(argv, true, true, &wrap);

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
	parent = getpid();
	d->pid = fork();
	if (d->pid < 0)
		return -1;
	if (d->pid == 0) {
		int fd = open(d->log, O_WRONLY | O_CREAT | O_APPEND, 0644);

		/* A failed Check test ends its process without running the teardown: take
		 * the daemon down with it rather than leave it running. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(127);

		if (fd >= 0) {
			dup2(fd, STDERR_FILENO);
			dup2(fd, STDOUT_FILENO);
		}
		unsetenv("LISTEN_FDS");
		unsetenv("LISTEN_PID");
		unsetenv("NOTIFY_SOCKET");
		execvp(argv[0], argv);
		_exit(127);
	}
	free(wrap);
	/* Ready when the socket accepts; give up after 60 s (valgrind starts slowly) or
	 * when the daemon dies. */
	for (int i = 0; i < 6000; i++) {
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
it_prepare(struct it_daemon *d)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->dir, sizeof(d->dir), "/tmp/pasidd-it.XXXXXX");
	if (!mkdtemp(d->dir)) {
		d->dir[0] = '\0';
		return -1;
	}
	snprintf(d->sock, sizeof(d->sock), "%s/pasidd.sock", d->dir);
	snprintf(d->state, sizeof(d->state), "%s/state", d->dir);
	snprintf(d->log, sizeof(d->log), "%s/pasidd.log", d->dir);
	return 0;
}

int
it_start(struct it_daemon *d, ...)
{
	va_list ap;
	int r;

	if (it_prepare(d) < 0)
		return -1;
	va_start(ap, d);
	r = spawn(d, ap);
	va_end(ap);
	return r;
}

int
it_setup(struct it_daemon *d, int *fd, ...)
{
	va_list ap;
	int r;

	*fd = -1;
	if (it_prepare(d) < 0)
		return -1;
	va_start(ap, fd);
	r = spawn(d, ap);
	va_end(ap);
	if (r == 0)
		*fd = it_connect(d);
	return *fd >= 0 ? 0 : -1;
}

void
it_teardown(struct it_daemon *d, int *fd)
{
	it_release_kept();
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
	it_cleanup(d);
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

/* What a child writes to one pipe. */
struct sink {
	int fd;
	char *buf;
	size_t len, cap;
};

/* Reads what is there; closes the sink at EOF or, when draining, once nothing is left. */
static void
sink_read(struct sink *s, bool drain)
{
	char tmp[4096];

	if (drain && s->fd >= 0)
		fcntl(s->fd, F_SETFL, fcntl(s->fd, F_GETFL) | O_NONBLOCK);
	while (s->fd >= 0) {
		ssize_t n = read(s->fd, tmp, sizeof(tmp));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			close(s->fd);
			s->fd = -1;
			return;
		}
		if (s->len + (size_t)n + 1 > s->cap) {
			s->cap = (s->len + (size_t)n + 1) * 2;
			s->buf = realloc(s->buf, s->cap);
		}
		memcpy(s->buf + s->len, tmp, (size_t)n);
		s->len += (size_t)n;
		s->buf[s->len] = '\0';
		if (!drain)
			return;
	}
}

/* The sink's text (malloc'd) into *to, or freed when to is NULL. */
static void
sink_take(struct sink *s, char **to)
{
	if (s->fd >= 0)
		close(s->fd);
	if (!s->buf)
		s->buf = strdup("");
	if (to)
		*to = s->buf;
	else
		free(s->buf);
}

int
it_exec(char **out, char **err, unsigned timeout_s, bool wrapped, char *const *args)
{
	struct sink sinks[2] = {{.fd = -1}, {.fd = -1}};
	char *argv[MAX_ARGS], *wrap;
	int po[2], pe[2] = {-1, -1}, status = 0, n = daemon_argv(argv, false, wrapped, &wrap);
	struct timespec start, now;
	pid_t pid;

	while (args && *args && n < MAX_ARGS - 1)
		argv[n++] = *args++;
	argv[n] = NULL;
	if (pipe2(po, O_CLOEXEC) < 0 || (err && pipe2(pe, O_CLOEXEC) < 0)) {
		free(wrap);
		return -1;
	}
	pid = fork();
	if (pid == 0) {
		/* Without err, stderr goes where stdout goes, interleaved as written. */
		dup2(po[1], STDOUT_FILENO);
		dup2(err ? pe[1] : po[1], STDERR_FILENO);
		unsetenv("LISTEN_FDS");
		unsetenv("LISTEN_PID");
		unsetenv("NOTIFY_SOCKET");
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execvp(argv[0], argv);
		_exit(127);
	}
	free(wrap);
	close(po[1]);
	sinks[0].fd = po[0];
	if (err) {
		close(pe[1]);
		sinks[1].fd = pe[0];
	}
	if (pid < 0) {
		sink_take(&sinks[0], NULL);
		sink_take(&sinks[1], NULL);
		return -1;
	}
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		struct pollfd p[2];
		int idx[2], np = 0;

		for (int i = 0; i < 2; i++)
			if (sinks[i].fd >= 0) {
				idx[np] = i;
				p[np++] = (struct pollfd){.fd = sinks[i].fd, .events = POLLIN};
			}
		if (np)
			poll(p, (nfds_t)np, 50);
		else
			usleep(10000);
		for (int k = 0; k < np; k++)
			if (p[k].revents)
				sink_read(&sinks[idx[k]], false);
		if (waitpid(pid, &status, WNOHANG) == pid)
			break;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (timeout_s && now.tv_sec - start.tv_sec >= (time_t)timeout_s) {
			kill(pid, SIGKILL);
			while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
				;
			break;
		}
	}
	/* What it wrote before it ended, without waiting for a daemon it left behind, which
	 * may hold the pipes still. */
	for (int i = 0; i < 2; i++)
		sink_read(&sinks[i], true);
	sink_take(&sinks[0], out);
	sink_take(&sinks[1], err);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int
it_run(char **out, ...)
{
	char *argv[MAX_ARGS];
	va_list ap;

	va_start(ap, out);
	collect(argv, 0, ap);
	va_end(ap);
	return it_exec(out, NULL, 0, false, argv);
}

/* The log's text, malloc'd; NULL without a log. */
static char *
read_log(const struct it_daemon *d)
{
	FILE *f = fopen(d->log, "re");
	char *text = NULL;
	size_t cap = 0;

	if (!f)
		return NULL;
	if (getdelim(&text, &cap, '\0', f) < 0) {
		free(text);
		text = strdup("");
	}
	fclose(f);
	return text;
}

const char *
it_log(const struct it_daemon *d)
{
	return it_keep_str(read_log(d));
}

const char *
it_wait_log(const struct it_daemon *d, const char *needle)
{
	char *log = read_log(d);

	for (int i = 0; i < 12000 && (!log || !strstr(log, needle)); i++) {
		usleep(10000);
		free(log);
		log = read_log(d);
	}
	return it_keep_str(log);
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

/* ---- additions for the protocol, method and concurrency suites ---- */

int
it_write_file(const struct it_daemon *d, const char *name, const char *text, char *path, size_t len)
{
	FILE *f;
	int r;

	snprintf(path, len, "%s/%s", d->dir, name);
	f = fopen(path, "we");
	if (!f)
		return -1;
	r = fputs(text, f) < 0 ? -1 : 0;
	if (fclose(f) != 0)
		r = -1;
	return r;
}

int
it_sendline(int fd, const char *line)
{
	if (it_send(fd, line, strlen(line)) < 0)
		return -1;
	return it_send(fd, "\n", 1);
}

struct json_object *
it_recvjson(int fd, int timeout_ms)
{
	char *line = it_recvline(fd, timeout_ms);
	struct json_object *o;

	if (!line)
		return NULL;
	o = json_tokener_parse(line);
	free(line);
	return o;
}

struct json_object *
it_callf(int fd, const char *method, const char *fmt, ...)
{
	struct json_object *o;
	char *params = NULL;
	va_list ap;

	if (fmt) {
		va_start(ap, fmt);
		if (vasprintf(&params, fmt, ap) < 0)
			params = NULL;
		va_end(ap);
		if (!params)
			return NULL;
	}
	o = it_call(fd, method, params);
	free(params);
	return o;
}

int
it_wait_eof(int fd, int timeout_ms)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	char c;
	ssize_t n;

	if (poll(&pfd, 1, timeout_ms) <= 0)
		return 0;
	n = recv(fd, &c, 1, MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno == ECONNRESET))
		return 1;
	return 0;
}

bool
it_members(struct json_object *obj, ...)
{
	const char *name;
	int n = 0;
	va_list ap;
	bool ok = true;

	if (!json_object_is_type(obj, json_type_object))
		return false;
	va_start(ap, obj);
	while ((name = va_arg(ap, const char *))) {
		n++;
		if (!json_object_object_get_ex(obj, name, NULL))
			ok = false;
	}
	va_end(ap);
	return ok && json_object_object_length(obj) == n;
}

const char *
it_reason_of(int code)
{
	static const char *const reasons[] = {
	    "exhausted",         "quota_exceeded", "not_found",   "conflict",
	    "permission_denied", "kernel_error",   "unsupported", "out_of_range",
	};

	if (code >= 1001 && code <= 1008)
		return reasons[code - 1001];
	return "";
}

static char mismatch[2048];

static const char *
describe(struct json_object *resp, const char *what)
{
	snprintf(mismatch, sizeof(mismatch), "%s; response: %.1500s", what,
	         resp ? json_object_to_json_string_ext(resp, JSON_C_TO_STRING_PLAIN)
	              : "(none: EOF, timeout or not JSON)");
	return mismatch;
}

static const char *
envelope_mismatch(struct json_object *resp)
{
	const char *v;

	if (!json_object_is_type(resp, json_type_object))
		return describe(resp, "not a response object");
	v = it_str(resp, "jsonrpc");
	if (!v || !json_object_is_type(it_get(resp, "jsonrpc"), json_type_string) ||
	    strcmp(v, "2.0"))
		return describe(resp, "jsonrpc is not \"2.0\"");
	if (!json_object_object_get_ex(resp, "id", NULL))
		return describe(resp, "no id member");
	return NULL;
}

const char *
it_error_mismatch(struct json_object *resp, int code, const char *param)
{
	struct json_object *err, *c, *m, *data, *p, *r;
	const char *why = envelope_mismatch(resp), *reason = it_reason_of(code);
	char what[160];

	if (why)
		return why;
	if (json_object_object_get_ex(resp, "result", NULL))
		return describe(resp, "a result where an error was expected");
	if (!json_object_object_get_ex(resp, "error", &err) ||
	    !json_object_is_type(err, json_type_object))
		return describe(resp, "no error object");
	if (!json_object_object_get_ex(err, "code", &c) || !json_object_is_type(c, json_type_int))
		return describe(resp, "error.code is not an integer");
	if (!json_object_object_get_ex(err, "message", &m) ||
	    !json_object_is_type(m, json_type_string) || !json_object_get_string_len(m))
		return describe(resp, "error.message is not a non-empty string");
	if (json_object_get_int(c) != code) {
		snprintf(what, sizeof(what), "expected error code %d", code);
		return describe(resp, what);
	}
	data = it_get(err, "data");
	if (data && !json_object_is_type(data, json_type_object))
		return describe(resp, "error.data is not an object");
	p = it_get(err, "data.param");
	r = it_get(err, "data.reason");
	if (param && !param[0] && p) {
		return describe(resp, "unexpected error.data.param");
	} else if (param && param[0] &&
	           (!json_object_is_type(p, json_type_string) ||
	            strcmp(json_object_get_string(p), param))) {
		snprintf(what, sizeof(what), "expected error.data.param \"%s\"", param);
		return describe(resp, what);
	}
	if (!reason[0] && r)
		return describe(resp, "unexpected error.data.reason");
	if (reason[0] && (!json_object_is_type(r, json_type_string) ||
	                  strcmp(json_object_get_string(r), reason))) {
		snprintf(what, sizeof(what), "expected error.data.reason \"%s\"", reason);
		return describe(resp, what);
	}
	return NULL;
}

const char *
it_result_mismatch(struct json_object *resp)
{
	const char *why = envelope_mismatch(resp);

	if (why)
		return why;
	if (json_object_object_get_ex(resp, "error", NULL))
		return describe(resp, "an error where a result was expected");
	if (!json_object_object_get_ex(resp, "result", NULL))
		return describe(resp, "no result member");
	return NULL;
}

const char *
it_snapshot(int fd)
{
	struct json_object *vms = it_list_all(fd, "vm.list", "vms", NULL);
	struct json_object *maps = it_list_all(fd, "pasid.list", "mappings", NULL);
	struct json_object *st = it_call(fd, "daemon.status", NULL);
	struct json_object *snap = json_object_new_object();
	static const char *const counters[] = {"used", "free", "vms", "ranges"};
	const char *s;

	json_object_object_add(snap, "vm.list", json_object_get(vms));
	json_object_object_add(snap, "pasid.list", json_object_get(maps));
	for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++)
		json_object_object_add(snap, counters[i],
		                       json_object_get(it_get(it_result(st), counters[i])));
	s = it_keep_str(strdup(json_object_to_json_string_ext(snap, JSON_C_TO_STRING_PLAIN)));
	json_object_put(snap);
	json_object_put(vms);
	json_object_put(maps);
	json_object_put(st);
	return s;
}

size_t
it_snapshot_diff(const char *got, const char *want)
{
	size_t i = 0;

	while (got[i] && got[i] == want[i])
		i++;
	return got[i] || want[i] ? i : SIZE_MAX;
}

static struct json_object **kept;
static size_t nkept, kept_cap;
static char **kept_str;
static size_t nkept_str, kept_str_cap;

static bool
grow(void **arr, size_t *cap, size_t n)
{
	size_t ncap = *cap ? *cap * 2 : 64;
	void *a;

	if (n < *cap)
		return true;
	a = realloc(*arr, ncap * sizeof(void *));
	if (!a)
		return false; /* the object leaks: only a test process, out of memory anyway */
	*arr = a;
	*cap = ncap;
	return true;
}

struct json_object *
it_keep(struct json_object *obj)
{
	if (obj && grow((void **)&kept, &kept_cap, nkept))
		kept[nkept++] = obj;
	return obj;
}

char *
it_keep_str(char *s)
{
	if (s && grow((void **)&kept_str, &kept_str_cap, nkept_str))
		kept_str[nkept_str++] = s;
	return s;
}

void
it_release_kept(void)
{
	for (size_t i = 0; i < nkept; i++)
		json_object_put(kept[i]);
	for (size_t i = 0; i < nkept_str; i++)
		free(kept_str[i]);
	free(kept);
	free(kept_str);
	kept = NULL;
	kept_str = NULL;
	nkept = kept_cap = nkept_str = kept_str_cap = 0;
}

const char *
it_json_mismatch(struct json_object *obj, const char *fmt, ...)
{
	char *text = NULL;
	struct json_object *want;
	bool equal;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&text, fmt, ap) < 0)
		text = NULL;
	va_end(ap);
	if (!text)
		return "out of memory";
	want = json_tokener_parse(text);
	if (!want && strcmp(text, "null")) {
		snprintf(mismatch, sizeof(mismatch), "bad expected JSON: %.1500s", text);
		free(text);
		return mismatch;
	}
	equal = json_object_equal(obj, want);
	if (!equal)
		snprintf(mismatch, sizeof(mismatch), "got %.900s, expected %.900s",
		         obj ? json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN) : "null",
		         text);
	json_object_put(want);
	free(text);
	return equal ? NULL : mismatch;
}

int
it_runv(char **out, unsigned timeout_s, char *const *args)
{
	return it_exec(out, NULL, timeout_s, false, args);
}

void
it_reader_init(struct it_reader *r, int fd)
{
	memset(r, 0, sizeof(*r));
	r->fd = fd;
}

char *
it_reader_line(struct it_reader *r, int timeout_ms)
{
	for (;;) {
		char *nl =
		    r->len > r->start ? memchr(r->buf + r->start, '\n', r->len - r->start) : NULL;
		struct pollfd pfd = {.fd = r->fd, .events = POLLIN};
		ssize_t n;

		if (nl) {
			size_t llen = (size_t)(nl - (r->buf + r->start));
			char *line = strndup(r->buf + r->start, llen);

			r->start += llen + 1;
			return line;
		}
		if (r->eof)
			return NULL;
		if (r->start > 0) {
			memmove(r->buf, r->buf + r->start, r->len - r->start);
			r->len -= r->start;
			r->start = 0;
		}
		if (r->cap - r->len < 65536) {
			r->cap = r->cap ? r->cap * 2 : 1 << 17;
			r->buf = realloc(r->buf, r->cap);
		}
		if (poll(&pfd, 1, timeout_ms) <= 0)
			return NULL;
		n = recv(r->fd, r->buf + r->len, r->cap - r->len, 0);
		if (n <= 0) {
			r->eof = true;
			return NULL;
		}
		r->len += (size_t)n;
	}
}

void
it_reader_free(struct it_reader *r)
{
	free(r->buf);
	memset(r, 0, sizeof(*r));
	r->fd = -1;
}

long
it_rss_kib(pid_t pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

bool
it_wrapped(void)
{
	const char *w = getenv("PASIDD_WRAPPER");

	return w && *w;
}

int
it_vm_table(int fd, const char *vm, long *table, size_t n)
{
	char *after = NULL;
	int rc = 0;

	for (size_t i = 0; i < n; i++)
		table[i] = -1;
	for (;;) {
		struct json_object *r, *maps, *next;

		if (after)
			r = it_callf(fd, "pasid.list", "{\"vm\":\"%s\",\"after\":\"%s\"}", vm,
			             after);
		else
			r = it_callf(fd, "pasid.list", "{\"vm\":\"%s\"}", vm);
		free(after);
		after = NULL;
		maps = it_get(r, "result.mappings");
		if (!maps || !json_object_is_type(maps, json_type_array)) {
			json_object_put(r);
			return -1;
		}
		for (size_t i = 0; i < json_object_array_length(maps); i++) {
			struct json_object *m = json_object_array_get_idx(maps, i);
			int64_t g = it_int(m, "gpasid");

			if (g >= 0 && (size_t)g < n)
				table[g] = (long)it_int(m, "hpasid");
		}
		next = it_get(r, "result.next");
		if (next)
			after = strdup(json_object_get_string(next));
		json_object_put(r);
		if (!after)
			return rc;
	}
}

struct json_object *
it_list_all(int fd, const char *method, const char *member, const char *params_json)
{
	struct json_object *all = json_object_new_array();
	struct json_object *params =
	    params_json ? json_tokener_parse(params_json) : json_object_new_object();

	for (;;) {
		struct json_object *r = it_call(fd, method, json_object_to_json_string(params));
		struct json_object *res = it_get(r, "result");
		struct json_object *page = it_get(res, member), *next = it_get(res, "next");

		if (!page || !json_object_is_type(page, json_type_array)) {
			json_object_put(r);
			json_object_put(params);
			json_object_put(all);
			return NULL;
		}
		for (size_t i = 0; i < json_object_array_length(page); i++)
			json_object_array_add(all,
			                      json_object_get(json_object_array_get_idx(page, i)));
		if (next)
			json_object_object_add(params, "after", json_object_get(next));
		json_object_put(r);
		if (!next)
			break;
	}
	json_object_put(params);
	return all;
}

int
it_send_fds(int sock, const void *data, size_t len, const int *fds, size_t nfds)
{
	union {
		char b[CMSG_SPACE(IT_MAX_FDS * sizeof(int))];
		struct cmsghdr align;
	} cbuf;
	struct iovec iov = {.iov_base = (void *)data, .iov_len = len};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	struct cmsghdr *cm;

	if (nfds > IT_MAX_FDS)
		return -1;
	if (nfds) {
		mh.msg_control = cbuf.b;
		mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(cm), fds, nfds * sizeof(int));
	}
	return sendmsg(sock, &mh, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -1;
}

int
it_send_fd(int sock, const void *data, size_t len, int fd)
{
	return it_send_fds(sock, data, len, &fd, 1);
}

int
it_connect_as(const struct it_daemon *d, uid_t uid, gid_t gid, const gid_t *groups, size_t ngroups,
              pid_t *holder)
{
	union {
		char b[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} cbuf;
	char c = 0;
	struct iovec iov = {.iov_base = &c, .iov_len = 1};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	struct cmsghdr *cm;
	int sp[2], fd = -1;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
		return -1;
	pid = fork();
	if (pid < 0) {
		close(sp[0]);
		close(sp[1]);
		return -1;
	}
	if (pid == 0) {
		close(sp[0]);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (setgroups(ngroups, groups) < 0 || setgid(gid) < 0 || setuid(uid) < 0)
			_exit(3);
		fd = it_connect(d);
		if (fd < 0)
			_exit(4);
		if (it_send_fd(sp[1], &c, 1, fd) < 0)
			_exit(5);
		close(fd);
		/* Holds on (as the owner of its VMs) until released. */
		while (read(sp[1], &c, 1) > 0)
			;
		_exit(0);
	}
	close(sp[1]);
	mh.msg_control = cbuf.b;
	mh.msg_controllen = sizeof(cbuf.b);
	if (recvmsg(sp[0], &mh, MSG_CMSG_CLOEXEC) == 1 && (cm = CMSG_FIRSTHDR(&mh)) &&
	    cm->cmsg_type == SCM_RIGHTS)
		memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	/* sp[0] stays open in this process: the holder lives while it does. */
	if (fd < 0) {
		close(sp[0]);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return -1;
	}
	*holder = pid;
	return fd;
}

void
it_holder_release(pid_t holder)
{
	if (holder <= 0)
		return;
	kill(holder, SIGKILL);
	waitpid(holder, NULL, 0);
}
