/*
 * libFuzzer target: the whole request path of pasidd, bytes in and responses out, against
 * the daemon as the composition root builds it for main.c (sim backend, quotas, owner
 * watches, the journal in a state directory on /dev/shm, a shared range of 2048 numbers),
 * without only the socket.
 *
 * Input: byte 0 chooses the peer of each line (bit k % 8 set: line k comes from an admin,
 * clear: from an ordinary uid); the rest is split at LF into lines for rpc_handle(), as the
 * server frames them. The namespace lives on across inputs, so that sequences built up by
 * earlier inputs meet later ones, and is reset every RESET_INPUTS inputs or when it grows
 * past the bounds below, so that each input stays cheap.
 *
 * State kept across inputs is, for libFuzzer, memory that an input allocated and did not
 * free: its per-input leak check (-detect_leaks=1, the default) would run a full LeakSanitizer
 * scan after nearly every input and slow the target tenfold. Run it with -detect_leaks=0
 * (tests/fuzz/run.sh does); the target then runs that scan itself at a reset (at most one in
 * RESET_INPUTS inputs), when the kept state has just been freed, and aborts on a leak.
 *
 * Oracles (any failure aborts, which libFuzzer reports as a crash):
 *  - every response serializes to one line of strict JSON that proto_parse accepts, and is
 *    a JSON-RPC 2.0 response (or a non-empty batch of them);
 *  - ns_check() holds after every input (DESIGN.md §3 invariants);
 *  - a second namespace rebuilt only from the records of the changes the live one makes (as
 *    an observer, like the journal), the way a restart replays them, accepts every record and
 *    ends up with the same state (invariant 6: what was acknowledged is what a restart
 *    finds).
 */
#include "backends.h"
#include "config.h"
#include "daemon.h"
#include "log.h"
#include "namespace.h"
#include "pasid-proto.h"
#include "peer.h"
#include "record.h"
#include "rpc.h"

#include <event2/event.h>
#include <sanitizer/lsan_interface.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RESET_INPUTS 256
#define MAX_VMS      64
#define MAX_MAPPINGS 1024
#define MAX_DEVICES  64
#define SHARED_FIRST 4096
#define SHARED_LAST  6143
#define NONADMIN_UID 65534

static struct pasidd D;
static char statedir[64];
static struct ns shadow; /* what a restart would rebuild from the records */
static struct backend *shadow_be;
static struct peer peers[2]; /* [0] ordinary uid, [1] admin */
static unsigned inputs;
/* Inputs since the last leak check. A full LeakSanitizer scan takes tens of milliseconds;
 * inputs that fill the namespace past its bounds reset it nearly every time, and a scan at
 * each of those resets made the target run a dozen inputs a second. A leak stays found by a
 * later scan (and by the one at exit), only less precisely placed. */
static unsigned unchecked;
static bool ready;

static void bug(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

static void
bug(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("fuzz_request: BUG: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	abort();
}

/* Every change the live namespace makes goes to the shadow at once, in order, as the
 * journal would hand it back at start-up. */
static void
on_change(void *ctx, const struct ns_event *ev)
{
	uint8_t rec[REC_BUF_MAX];
	size_t len = rec_encode_event(rec, ev);
	char why[256];

	/* Quota limits share the journal but are no part of the namespace. */
	if (!len || rec_is_quota(rec, len))
		return;
	if (rec_apply(&shadow, rec, len, why, sizeof(why)) < 0)
		bug("a record of a change does not replay: %s", why);
}

/* The peers are made by the daemon's own code from a real socket, so that whatever it
 * records about a peer (pidfd, ...) is set up as in production; only the identity is
 * then forced, since the fuzzer may run as any user. */
static void
make_peer(struct peer *p, bool admin)
{
	char why[256];
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 ||
	    peer_from_socket(sv[0], (gid_t)-1, p, why, sizeof(why)) < 0)
		bug("cannot set up a peer");
	close(sv[0]);
	close(sv[1]);
	p->uid = admin ? 0 : NONADMIN_UID;
	p->gid = admin ? 0 : NONADMIN_UID;
	p->admin = admin;
}

/* The daemon as main.c builds it, on an empty state directory. Its loop never runs, so no
 * owner exit arrives behind the fuzzer's back. */
static void
core_up(void)
{
	char why[512] = "";

	/* Every change is an audit entry at LOG_INFO: not what a fuzzer's output is for. */
	log_set_level(LOG_WARNING);
	if (pasidd_open(&D, PASIDD_NO_SERVER, why, sizeof(why)) < 0)
		bug("pasidd_open: %s", why);
	if (backend_open("sim", &shadow_be, why, sizeof(why)) < 0 ||
	    ns_init(&shadow, &D.cfg.ns, shadow_be) < 0)
		bug("the shadow namespace: %s", why);
	shadow.replaying = true;
	if (ns_observe(&D.ns, &(struct ns_observer){.apply = on_change, .ctx = &shadow}) < 0)
		bug("cannot observe the namespace");
}

static void
core_down(void)
{
	char cmd[128];

	pasidd_close(&D);
	ns_destroy(&shadow);
	backend_close(shadow_be);
	shadow_be = NULL;
	/* The next daemon starts on an empty state again. */
	snprintf(cmd, sizeof(cmd), "rm -f %s/journal.* %s/snapshot.*", statedir, statedir);
	if (system(cmd) != 0)
		bug("cannot empty %s", statedir);
}

static void
setup_once(void)
{
	char why[256];

	config_init(&D.cfg);
	free(D.cfg.backend);
	D.cfg.backend = strdup("sim");
	snprintf(statedir, sizeof(statedir), "/dev/shm/fuzz_request.XXXXXX");
	if (!mkdtemp(statedir))
		bug("cannot make a state directory");
	free(D.cfg.state_dir);
	D.cfg.state_dir = strdup(statedir);
	/* A small shared range, as --shared-range can make: one that inputs can exhaust, and
	 * that ns_check() walks in microseconds (the default's million numbers took it ~15 ms,
	 * twice an input, and the target ran a few dozen inputs a second). */
	D.cfg.ns.shared.first = SHARED_FIRST;
	D.cfg.ns.shared.last = SHARED_LAST;
	D.cfg.shared_set = true;
	if (config_finish(&D.cfg, why, sizeof(why)) < 0)
		bug("default config refused: %s", why);
	D.admin_gid = (gid_t)-1;
	clock_gettime(CLOCK_MONOTONIC, &D.started);
	make_peer(&peers[0], false);
	make_peer(&peers[1], true);
	core_up();
	ready = true;
}

static bool
is_response(struct json_object *r)
{
	struct json_object *v, *e, *c, *m;
	bool has_result, has_error;

	if (!json_object_is_type(r, json_type_object))
		return false;
	if (!json_object_object_get_ex(r, "jsonrpc", &v) ||
	    !json_object_is_type(v, json_type_string) || strcmp(json_object_get_string(v), "2.0"))
		return false;
	if (!json_object_object_get_ex(r, "id", &v))
		return false;
	has_result = json_object_object_get_ex(r, "result", NULL);
	has_error = json_object_object_get_ex(r, "error", &e);
	if (has_result == has_error)
		return false;
	if (has_error) {
		if (!json_object_object_get_ex(e, "code", &c) ||
		    !json_object_is_type(c, json_type_int) ||
		    !json_object_object_get_ex(e, "message", &m) ||
		    !json_object_is_type(m, json_type_string))
			return false;
		if (json_object_object_get_ex(e, "data", &v) &&
		    !json_object_is_type(v, json_type_object))
			return false;
	}
	return true;
}

static void
check_response(struct json_object *resp, const uint8_t *line, size_t len)
{
	struct json_object *back = NULL;
	size_t n;
	const char *s = proto_serialize(resp, &n);

	if (!s || memchr(s, '\n', n))
		bug("response is not one line: %.*s", (int)n, s ? s : "");
	if (proto_parse(s, n, &back) < 0)
		bug("response is not strict JSON: %.*s\nrequest: %.*s", (int)n, s, (int)len,
		    (const char *)line);
	if (json_object_is_type(back, json_type_array)) {
		size_t k = json_object_array_length(back);

		if (k == 0)
			bug("empty batch answer");
		for (size_t i = 0; i < k; i++)
			if (!is_response(json_object_array_get_idx(back, i)))
				bug("batch item %zu is not a response: %.*s", i, (int)n, s);
	} else if (!is_response(back)) {
		bug("not a JSON-RPC response: %.*s", (int)n, s);
	}
	json_object_put(back);
}

/* ---- state comparison through snapshots ---- */

/* The oracle's own code is not what is being fuzzed: keep it out of the coverage feedback
 * (and out of libFuzzer's memcmp tracing, which made it the bulk of the run time). */
#define ORACLE __attribute__((no_sanitize("coverage")))

struct recset {
	uint64_t *h; /* one hash per record: sorting numbers is cheap, sorting bytes was not */
	size_t n, cap;
};

static ORACLE uint64_t
fnv1a(const uint8_t *p, size_t len)
{
	uint64_t h = 14695981039346656037ull;

	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return (h ^ len) * 1099511628211ull;
}

/* An idle device with its local cursor at 0 is indistinguishable from no device: a refused
 * device.assign may leave one behind in the live namespace only. */
static ORACLE bool
ignored(const uint8_t *p, size_t len)
{
	return len == 13 && p[0] == REC_LCURSOR && !p[9] && !p[10] && !p[11] && !p[12];
}

static ORACLE int
collect(void *ctx, const void *rec, size_t len)
{
	struct recset *s = ctx;

	if (ignored(rec, len))
		return 0;
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 256;
		s->h = realloc(s->h, s->cap * sizeof(*s->h));
		if (!s->h)
			bug("out of memory");
	}
	s->h[s->n++] = fnv1a(rec, len);
	return 0;
}

static ORACLE int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

static ORACLE int
dump_rec(void *ctx, const void *rec, size_t len)
{
	const uint8_t *p = rec;

	if (ignored(rec, len))
		return 0;
	fprintf(stderr, "  %s:", (const char *)ctx);
	for (size_t i = 0; i < len; i++)
		fprintf(stderr, " %02x", p[i]);
	fputc('\n', stderr);
	return 0;
}

/* The map iteration order of two namespaces built by different histories differs; their
 * content, as the records that rebuild them, must not. */
static ORACLE void
compare_with_shadow(void)
{
	struct recset live = {0}, replayed = {0};
	bool same;

	rec_snapshot(&D.ns, collect, &live);
	rec_snapshot(&shadow, collect, &replayed);
	qsort(live.h, live.n, sizeof(*live.h), cmp_u64);
	qsort(replayed.h, replayed.n, sizeof(*replayed.h), cmp_u64);
	same = live.n == replayed.n;
	for (size_t i = 0; same && i < live.n; i++)
		same = live.h[i] == replayed.h[i];
	if (!same) {
		fprintf(stderr, "live state (%zu records) and replayed records (%zu) differ:\n",
		        live.n, replayed.n);
		rec_snapshot(&D.ns, dump_rec, "live");
		rec_snapshot(&shadow, dump_rec, "replayed");
		bug("a restart would not find what was acknowledged");
	}
	free(live.h);
	free(replayed.h);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[256];
	unsigned mask, k = 0;
	const uint8_t *p, *end;

	if (!ready)
		setup_once();
	if (size == 0)
		return 0;
	mask = data[0];
	p = data + 1;
	end = data + size;
	while (p < end) {
		const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		const struct peer *peer = &peers[(mask >> (k++ % 8)) & 1];
		struct json_object *resp = rpc_handle(&D, peer, (const char *)p, len);

		if (resp) {
			check_response(resp, p, len);
			json_object_put(resp);
		}
		p += len + (nl != NULL);
	}
	if (ns_check(&D.ns, why, sizeof(why)) < 0)
		bug("invariant broken: %s", why);
	if (ns_check(&shadow, why, sizeof(why)) < 0)
		bug("invariant broken in the replayed namespace: %s", why);
	compare_with_shadow();
	if (++inputs >= RESET_INPUTS || D.ns.nvms > MAX_VMS ||
	    D.ns.shared_maps.count + D.ns.nlocal > MAX_MAPPINGS ||
	    D.ns.devices.count > MAX_DEVICES) {
		core_down();
		unchecked += inputs;
		if (unchecked >= RESET_INPUTS) {
			if (__lsan_do_recoverable_leak_check())
				bug("memory leaked within the last %u inputs (rerun them with "
				    "-detect_leaks=1 to find which)",
				    unchecked);
			unchecked = 0;
		}
		core_up();
		inputs = 0;
	}
	return 0;
}
