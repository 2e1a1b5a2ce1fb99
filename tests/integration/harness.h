/* Integration harness: runs the real pasidd (env PASIDD) on a private socket and talks
 * raw JSON lines to it, as an independent VMM would. */
#ifndef PASIDD_IT_HARNESS_H
#define PASIDD_IT_HARNESS_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct it_daemon {
	pid_t pid;
	char dir[64];    /* private temporary directory */
	char sock[100];  /* dir/pasidd.sock */
	char state[128]; /* dir/state */
	char log[128];   /* dir/pasidd.log: the daemon's stderr */
};

/* Creates a fresh private directory and starts pasidd --foreground --backend sim on it,
 * with extra arguments (NULL-terminated). Waits until the socket answers. 0 or -1. */
int it_start(struct it_daemon *d, ...) __attribute__((sentinel));
/* Starts again on the same directory (state kept), with extra arguments. */
int it_restart(struct it_daemon *d, ...) __attribute__((sentinel));
/* From the next start on, runs the daemon (and its PASIDD_WRAPPER) under launcher, a
 * program that execs its arguments in a changed environment (NULL: none). */
void it_set_launcher(const char *launcher);
/* SIGTERM and wait; returns the exit status (or 128+signal). */
int it_stop(struct it_daemon *d);
/* SIGKILL and wait. */
void it_kill(struct it_daemon *d);
/* Stops if running and removes the directory. */
void it_cleanup(struct it_daemon *d);
/* The fixture of most suites: it_start with the extra arguments, then a connection to the
 * daemon in *fd. 0, or -1 when either fails (the log is in d->log). */
int it_setup(struct it_daemon *d, int *fd, ...) __attribute__((sentinel));
/* Undoes it_setup: releases what was kept (it_release_kept), closes *fd (then -1), stops
 * the daemon and removes its directory. */
void it_teardown(struct it_daemon *d, int *fd);

/* Runs pasidd with args (NULL-terminated, without argv[0]) to completion, under
 * PASIDD_WRAPPER (as it_start runs it) when wrapped, and kills it (SIGKILL) if it has not
 * finished after timeout_s seconds (0: no limit). Its stdout goes to *out and its stderr to
 * *err (malloc'd; either may be NULL); without err, stderr goes to *out too, interleaved as
 * written. Does not wait for a process the daemon leaves behind. Returns the exit status, or
 * 128 + the signal (-1 when it cannot run it). it_run, it_runv and itu_run are its short
 * forms. */
int it_exec(char **out, char **err, unsigned timeout_s, bool wrapped, char *const *args);

/* Runs pasidd with argv (NULL-terminated, without argv[0]) to completion; returns its exit
 * status and, if out is not NULL, its stderr+stdout in a malloc'd string. */
int it_run(char **out, ...) __attribute__((sentinel));

/* Everything the daemon has logged (its stderr) so far, kept (it_keep_str); NULL when its
 * log cannot be read. */
const char *it_log(const struct it_daemon *d);
/* The daemon's log once it holds needle, or as it is after 120 s (a daemon under valgrind):
 * for what the daemon logs after the event a test can see (a child reaped, then logged). */
const char *it_wait_log(const struct it_daemon *d, const char *needle);
/* Fails the test unless the log comes to hold needle (it_wait_log), showing the log's last
 * 3000 bytes (a whole log is more than a Check message can carry). For Check programs. */
#define it_assert_log(d, needle)                                                                   \
	do {                                                                                       \
		const char *n_ = (needle), *l_ = it_wait_log(d, n_);                               \
		size_t len_ = l_ ? strlen(l_) : 0;                                                 \
		ck_assert_msg(l_ != NULL && strstr(l_, n_) != NULL,                                \
		              "no '%s' in the log; it ends: %s", n_,                               \
		              l_ ? l_ + (len_ > 3000 ? len_ - 3000 : 0) : "(none)");               \
	} while (0)

int it_connect(const struct it_daemon *d);
/* Sends len bytes of data on sock with one descriptor (SCM_RIGHTS). 0 when all were sent. */
int it_send_fd(int sock, const void *data, size_t len, int fd);
/* The same with nfds descriptors (at most IT_MAX_FDS; 0 sends none) on the first byte. */
#define IT_MAX_FDS 16
int it_send_fds(int sock, const void *data, size_t len, const int *fds, size_t nfds);
/* Sends `line` + LF and returns the next response line (malloc'd, without LF), or NULL on
 * EOF/timeout (5 s). */
char *it_roundtrip(int fd, const char *line);
int it_send(int fd, const char *data, size_t len);
char *it_recvline(int fd, int timeout_ms);
/* Request {"jsonrpc":"2.0","id":1,"method":method,"params":params_json} (params_json may be
 * NULL); returns the parsed response object. */
struct json_object *it_call(int fd, const char *method, const char *params_json);
/* The result member of a response, or NULL. Borrowed from resp. */
struct json_object *it_result(struct json_object *resp);
/* The error code of a response, 0 when it is a result. */
int it_errcode(struct json_object *resp);
/* data.param / data.reason of an error response, "" when absent. */
const char *it_errparam(struct json_object *resp);
const char *it_errreason(struct json_object *resp);
/* Convenience: it_call and return the error code (0 on success), dropping the response. */
int it_code(int fd, const char *method, const char *params_json);
/* A member of an object by dotted path ("backend.name"), or NULL. */
struct json_object *it_get(struct json_object *obj, const char *path);
int64_t it_int(struct json_object *obj, const char *path);
const char *it_str(struct json_object *obj, const char *path);

/* ---- additions for the protocol, method and concurrency suites ---- */

/* Creates a fresh private directory (as it_start does) without starting the daemon, so
 * that files it reads at start-up can be written there first; start it with it_restart. */
int it_prepare(struct it_daemon *d);
/* Writes text to dir/name and returns the full path in path. 0 or -1. */
int it_write_file(const struct it_daemon *d, const char *name, const char *text, char *path,
                  size_t len);
/* Sends line + LF. 0 or -1. */
int it_sendline(int fd, const char *line);
/* The next line parsed as JSON, or NULL on EOF/timeout/garbage. */
struct json_object *it_recvjson(int fd, int timeout_ms);
/* it_call with printf-formatted params (fmt may be NULL for none). */
struct json_object *it_callf(int fd, const char *method, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Waits for the peer to hang up: 1 on EOF (or ECONNRESET), 0 when data arrives instead or
 * nothing happens within timeout_ms. */
int it_wait_eof(int fd, int timeout_ms);
/* Whether obj is an object with exactly these members (NULL-terminated). */
bool it_members(struct json_object *obj, ...) __attribute__((sentinel));
/* The data.reason the contract pins for an error code ("" for codes without one). */
const char *it_reason_of(int code);
/* Checks that resp is a well-formed error response (jsonrpc "2.0", id present, error with an
 * integer code and a string message) with this code, data.param (param NULL: not checked,
 * "": must be absent) and the reason the code implies. NULL when it is, else a description
 * of the difference (static buffer). */
const char *it_error_mismatch(struct json_object *resp, int code, const char *param);
/* Checks that resp is a well-formed success response. NULL when it is, else a description
 * (static buffer). */
const char *it_result_mismatch(struct json_object *resp);
/* The client-visible state: vm.list, pasid.list and daemon.status's counters, as one
 * string to compare before and after a refused request. Valid until it_release_kept(). */
const char *it_snapshot(int fd);
/* Where two it_snapshot()s first differ, SIZE_MAX when they are equal. */
size_t it_snapshot_diff(const char *got, const char *want);
/* Fails the test unless they are equal, showing where they first differ (the whole of two
 * large snapshots is more than a Check message can carry). For Check programs. */
#define it_assert_same_snapshot(got, want)                                                         \
	do {                                                                                       \
		const char *g_ = (got), *w_ = (want);                                              \
		size_t at_ = it_snapshot_diff(g_, w_), from_ = at_ > 120 ? at_ - 120 : 0;          \
		ck_assert_msg(at_ == SIZE_MAX,                                                     \
		              "snapshots differ at byte %zu: got ...%.240s... want ...%.240s...",  \
		              at_, g_ + from_, strlen(w_) >= from_ ? w_ + from_ : "");             \
	} while (0)
/* Keeps obj (a malloc'd s) to be released by it_release_kept(); returns it. Test bodies
 * keep what they take apart, so that a failed assertion, which leaves the body at once,
 * leaks nothing (CK_FORK=no under valgrind). */
struct json_object *it_keep(struct json_object *obj);
char *it_keep_str(char *s);
void it_release_kept(void);
/* NULL when obj equals the JSON text made from fmt (same members, types and values; array
 * order matters, member order does not), else a description (static buffer). */
const char *it_json_mismatch(struct json_object *obj, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Runs pasidd with args (NULL-terminated, without argv[0]) to completion, like it_run, but
 * kills it (SIGKILL) if it has not finished after timeout_s seconds, so that a command
 * line wrongly accepted cannot leave a daemon running. */
int it_runv(char **out, unsigned timeout_s, char *const *args);

/* A buffered reader of answer lines, for peers that pipeline and read answers in bulk
 * (it_recvline reads a byte at a time). */
struct it_reader {
	int fd;
	char *buf;
	size_t len, cap, start;
	bool eof;
};
void it_reader_init(struct it_reader *r, int fd);
/* The next line (malloc'd, without LF), or NULL on EOF/error/timeout (r->eof tells EOF). */
char *it_reader_line(struct it_reader *r, int timeout_ms);
void it_reader_free(struct it_reader *r);

/* Every entry of a paged listing (pasid.list, vm.list, vm.show: `member` is "mappings" or
 * "vms"), walking its pages with `after`; params_json (may be NULL) is the first page's
 * params. A new array, or NULL when a page is refused or malformed. */
struct json_object *it_list_all(int fd, const char *method, const char *member,
                                const char *params_json);

/* A VM's table read through every page of pasid.list: table[g] = hPASID of gPASID g < n,
 * -1 where there is none. 0, or -1 when a page is refused or malformed. */
int it_vm_table(int fd, const char *vm, long *table, size_t n);

/* A connection made by a child process that runs as uid/gid with the given supplementary
 * groups: the child hands the connected socket over (SCM_RIGHTS) and stays alive, so that it
 * is the owner of what is registered through the connection, until it_holder_release().
 * The socket and its directory must be reachable by uid. Returns the fd, or -1. */
int it_connect_as(const struct it_daemon *d, uid_t uid, gid_t gid, const gid_t *groups,
                  size_t ngroups, pid_t *holder);
/* Ends a holder process of it_connect_as (its VMs are then reclaimed by the daemon). */
void it_holder_release(pid_t holder);

/* Resident set size of a process in KiB, from /proc/<pid>/status; -1 if unknown. */
long it_rss_kib(pid_t pid);
/* Whether the daemon runs under a tool (PASIDD_WRAPPER: valgrind), which slows it and
 * inflates its memory. */
bool it_wrapped(void);

/* Assertions for Check test bodies (they need <check.h> where they are used). */

/* resp must be an error response with this code, data.param (NULL: not checked, "": must be
 * absent) and the data.reason the code implies. resp is kept (it_keep). */
#define IT_ERR(resp, code, param)                                                                  \
	do {                                                                                       \
		const char *it_err_m_ = it_error_mismatch(it_keep(resp), code, param);             \
		ck_assert_msg(!it_err_m_, "%s", it_err_m_);                                        \
	} while (0)

/* resp must be a success response; evaluates to its result, which lives until
 * it_release_kept(). */
#define IT_OK(resp)                                                                                \
	({                                                                                         \
		struct json_object *it_ok_r_ = it_keep(resp);                                      \
		const char *it_ok_m_ = it_result_mismatch(it_ok_r_);                               \
		ck_assert_msg(!it_ok_m_, "%s", it_ok_m_);                                          \
		it_result(it_ok_r_);                                                               \
	})

/* obj must equal the JSON text made from the printf arguments (see it_json_mismatch). */
#define IT_JSON_EQ(obj, ...)                                                                       \
	do {                                                                                       \
		const char *it_eq_m_ = it_json_mismatch(obj, __VA_ARGS__);                         \
		ck_assert_msg(!it_eq_m_, "%s", it_eq_m_);                                          \
	} while (0)

#endif
