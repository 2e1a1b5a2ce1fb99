/*
 * Hostile and malformed requests against the real pasidd, one table row each: what the
 * daemon must answer (DESIGN.md §4, PROTOCOL-DECISIONS.md) and that the state it serves is
 * exactly what it was before. All rows run against one daemon holding a fixture VM with an
 * exclusive device, a shared device and a mapping of each type, so that a request that
 * slipped through would show in the state.
 *
 * Many rows are built so that a lax daemon would change something: a NUL that, if it cut
 * the string short, would name the fixture VM or device; a repeated member whose last value
 * (the one json-c keeps) would unregister the fixture; a member name that is "vm" once a
 * NUL cuts it.
 */
#include "harness.h"

#include <check.h>

#include "ck_main.h"
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define TIMEOUT_MS 10000

#define FIX      "fix"
#define FIX_UUID "11111111-2222-3333-4444-555555555555"
#define FIX_EXCL "0000:00:02.0"
#define FIX_SHRD "0000:00:03.0"

/* Request text pieces. */
#define HEAD(method)    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"" method "\""
#define REQ(method, p)  HEAD(method) ",\"params\":" p "}"
#define UNREG(name)     REQ("vm.unregister", "{\"vm\":\"" name "\"}")
#define REGISTER(p)     REQ("vm.register", p)
#define FREE(g)         REQ("pasid.free", "{\"vm\":\"fix\",\"gpasid\":" g "}")
#define LOOKUP_H(h)     REQ("pasid.lookup", "{\"hpasid\":" h "}")
#define ALLOC(p)        REQ("pasid.alloc", "{\"vm\":\"fix\"," p "}")
#define ASSIGN(dev, sh) REQ("device.assign", "{\"vm\":\"fix\",\"device\":\"" dev "\"" sh "}")
#define RELEASE(dev)    REQ("device.release", "{\"vm\":\"fix\",\"device\":\"" dev "\"}")

enum id_want {
	ID_ONE,  /* the request's id 1 comes back */
	ID_NULL, /* the id could not be read (or must not be trusted): null */
};

struct row {
	const char *what;
	const char *line; /* may hold NUL bytes: len counts them */
	size_t len;
	char *(*make)(size_t *len); /* instead of line, for long lines */
	int code;                   /* expected error code; 0: a result */
	const char *param;          /* expected data.param; NULL: none */
	enum id_want id;
	bool batch;  /* the answer is a batch whose every item is this error */
	bool closes; /* the daemon hangs up after answering */
};

/* String literals keep their embedded NULs through sizeof. */
#define ROW(what_, line_, code_, param_, id_)                                                      \
	{                                                                                          \
		.what = what_, .line = line_, .len = sizeof(line_) - 1, .code = code_,             \
		.param = param_, .id = id_                                                         \
	}
#define GEN(what_, fn_, code_, param_, id_)                                                        \
	{                                                                                          \
		.what = what_, .make = fn_, .code = code_, .param = param_, .id = id_              \
	}
#define BATCH(what_, line_, code_)                                                                 \
	{                                                                                          \
		.what = what_, .line = line_, .len = sizeof(line_) - 1, .code = code_,             \
		.id = ID_NULL, .batch = true                                                       \
	}

/* ---- generated lines ---- */

static char *
repeat(const char *head, char c, size_t n, const char *tail, size_t *len)
{
	size_t h = strlen(head), t = strlen(tail);
	char *s = malloc(h + n + t + 1);

	memcpy(s, head, h);
	memset(s + h, c, n);
	memcpy(s + h + n, tail, t + 1);
	*len = h + n + t;
	return s;
}

static char *
open_brackets(size_t *len)
{
	return repeat("", '[', 10000, "", len);
}

static char *
balanced_brackets(size_t *len)
{
	char *s = malloc(20001);

	memset(s, '[', 10000);
	memset(s + 10000, ']', 10000);
	s[20000] = '\0';
	*len = 20000;
	return s;
}

static char *
deep_params(size_t *len)
{
	char *s = malloc(4096);
	int n = snprintf(s, 4096, "%s", HEAD("vm.show") ",\"params\":{\"vm\":");

	for (int i = 0; i < 1000; i++)
		s[n++] = '[';
	for (int i = 0; i < 1000; i++)
		s[n++] = ']';
	n += snprintf(s + n, 4096 - (size_t)n, "}}");
	*len = (size_t)n;
	return s;
}

static char *
long_method(size_t *len)
{
	return repeat("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"", 'm', 60000, "\"}", len);
}

static char *
name_65(size_t *len)
{
	return repeat(HEAD("vm.register") ",\"params\":{\"vm\":\"", 'a', 65, "\"}}", len);
}

static char *
name_60k(size_t *len)
{
	return repeat(HEAD("vm.register") ",\"params\":{\"vm\":\"", 'a', 60000, "\"}}", len);
}

static char *
digits_400(size_t *len)
{
	return repeat(HEAD("pasid.free") ",\"params\":{\"vm\":\"fix\",\"gpasid\":", '9', 400, "}}",
	              len);
}

/* 10 MiB, far beyond the 64 KiB default limit, that would unregister the fixture VM if the
 * daemon read it whole: only the limit can answer -32600. */
static char *
line_10mb(size_t *len)
{
	return repeat(HEAD("vm.unregister") ",\"params\":{\"vm\":\"fix\"},\"pad\":\"", 'x',
	              10u << 20, "\"}", len);
}

/* ---- the table ---- */

static const struct row rows[] = {
    /* NUL bytes on the wire */
    ROW("NUL byte after the object", HEAD("vm.list") "}\0", -32700, NULL, ID_NULL),
    ROW("NUL byte inside a method name", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"vm.\0list\"}",
        -32700, NULL, ID_NULL),
    ROW("NUL byte inside a VM name", UNREG("fix\0x"), -32700, NULL, ID_NULL),
    ROW("a line that is one NUL byte", "\0", -32700, NULL, ID_NULL),
    /* invalid UTF-8 */
    ROW("invalid UTF-8: 0xff in a name", UNREG("fi\xffx"), -32700, NULL, ID_NULL),
    ROW("invalid UTF-8: truncated sequence", UNREG("fix\xe2\x82"), -32700, NULL, ID_NULL),
    ROW("invalid UTF-8: overlong '/'", REGISTER("{\"vm\":\"a\xc0\xaf\x62\"}"), -32700, NULL,
        ID_NULL),
    ROW("invalid UTF-8: UTF-16 surrogate", REGISTER("{\"vm\":\"a\xed\xa0\x80\"}"), -32700, NULL,
        ID_NULL),
    ROW("invalid UTF-8: above U+10FFFF", REGISTER("{\"vm\":\"a\xf4\x90\x80\x80\"}"), -32700, NULL,
        ID_NULL),
    ROW("invalid UTF-8 outside any string",
        "{\xff\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"vm.list\"}", -32700, NULL, ID_NULL),
    /* raw control characters (RFC 8259 §7: must be escaped) */
    ROW("raw control character in a name", REGISTER("{\"vm\":\"a\x01\x62\"}"), -32700, NULL,
        ID_NULL),
    ROW("raw tab in a name", REGISTER("{\"vm\":\"a\tb\"}"), -32700, NULL, ID_NULL),
    /* not JSON */
    ROW("two messages on one line", HEAD("vm.list") "}" UNREG("fix"), -32700, NULL, ID_NULL),
    ROW("single-quoted strings",
        "{'jsonrpc':'2.0','id':1,'method':'vm.unregister','params':{'vm':'fix'}}", -32700, NULL,
        ID_NULL),
    ROW("unterminated object", REGISTER("{\"vm\":\"x\""), -32700, NULL, ID_NULL),
    /* deep nesting */
    GEN("deep nesting: 10000 '['", open_brackets, -32700, NULL, ID_NULL),
    GEN("deep nesting: 10000 balanced brackets", balanced_brackets, -32700, NULL, ID_NULL),
    GEN("deep nesting: 1000 levels inside params", deep_params, -32700, NULL, ID_NULL),
    /* repeated member names, at any depth: the request is refused whole */
    ROW("duplicate id", "{\"jsonrpc\":\"2.0\",\"id\":1,\"id\":2,\"method\":\"vm.list\"}", -32600,
        NULL, ID_NULL),
    ROW("duplicate method, the last one vm.unregister",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"vm.show\",\"method\":\"vm.unregister\","
        "\"params\":{\"vm\":\"fix\"}}",
        -32600, NULL, ID_NULL),
    ROW("duplicate param, the last one the fixture",
        REQ("vm.unregister", "{\"vm\":\"nosuch\",\"vm\":\"fix\"}"), -32600, NULL, ID_NULL),
    ROW("duplicate param spelled with an escape",
        REQ("vm.unregister", "{\"vm\":\"nosuch\",\"v\\u006d\":\"fix\"}"), -32600, NULL, ID_NULL),
    ROW("duplicate params object",
        HEAD("vm.unregister") ",\"params\":{\"vm\":\"nosuch\"},\"params\":{\"vm\":\"fix\"}}",
        -32600, NULL, ID_NULL),
    ROW("duplicate member three levels down",
        HEAD("vm.show") ",\"params\":{\"vm\":\"fix\"},\"x\":{\"y\":{\"z\":1,\"z\":2}}}", -32600,
        NULL, ID_NULL),
    ROW("duplicate member in an array element",
        HEAD("vm.show") ",\"params\":{\"vm\":\"fix\"},\"x\":[{\"k\":1},{\"k\":1,\"k\":2}]}", -32600,
        NULL, ID_NULL),
    ROW("duplicate member inside a batch item",
        "[" HEAD("vm.list") ",\"id\":2}," HEAD("vm.list") "}]", -32600, NULL, ID_NULL),
    /* the envelope */
    ROW("params as an array", REQ("vm.unregister", "[\"fix\"]"), -32602, "params", ID_ONE),
    ROW("params as a string", REQ("vm.unregister", "\"fix\""), -32600, NULL, ID_ONE),
    ROW("params as a number", REQ("vm.unregister", "5"), -32600, NULL, ID_ONE),
    ROW("params as null", REQ("vm.unregister", "null"), -32600, NULL, ID_ONE),
    ROW("id as an object",
        "{\"jsonrpc\":\"2.0\",\"id\":{\"a\":1},\"method\":\"vm.unregister\",\"params\":{\"vm\":"
        "\"fix\"}}",
        -32600, NULL, ID_NULL),
    ROW("id as an array",
        "{\"jsonrpc\":\"2.0\",\"id\":[1],\"method\":\"vm.unregister\",\"params\":{\"vm\":\"fix\"}}",
        -32600, NULL, ID_NULL),
    ROW("id as a boolean",
        "{\"jsonrpc\":\"2.0\",\"id\":true,\"method\":\"vm.unregister\",\"params\":{\"vm\":\"fix\"}"
        "}",
        -32600, NULL, ID_NULL),
    ROW("method empty", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\"}", -32601, NULL, ID_ONE),
    GEN("method 60000 characters long", long_method, -32601, NULL, ID_ONE),
    ROW("method with an escaped NUL",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"vm.list\\u0000\"}", -32601, NULL, ID_ONE),
    ROW("method vm.unregister with a NUL and a suffix",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"vm.unregister\\u0000x\",\"params\":{\"vm\":"
        "\"fix\"}}",
        -32601, NULL, ID_ONE),
    ROW("method as a number", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":7}", -32600, NULL, ID_ONE),
    ROW("jsonrpc \"1.0\"",
        "{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"vm.unregister\",\"params\":{\"vm\":\"fix\"}}",
        -32600, NULL, ID_ONE),
    ROW("jsonrpc 2.0 as a number",
        "{\"jsonrpc\":2.0,\"id\":1,\"method\":\"vm.unregister\",\"params\":{\"vm\":\"fix\"}}",
        -32600, NULL, ID_ONE),
    ROW("jsonrpc missing", "{\"id\":1,\"method\":\"vm.unregister\",\"params\":{\"vm\":\"fix\"}}",
        -32600, NULL, ID_ONE),
    ROW("unknown top-level member (ignored: a normal answer)",
        HEAD("vm.show") ",\"params\":{\"vm\":\"fix\"},\"x-trace\":{\"span\":[1,2]}}", 0, NULL,
        ID_ONE),
    ROW("unknown param", REQ("vm.show", "{\"vm\":\"fix\",\"verbose\":true}"), -32602, "verbose",
        ID_ONE),
    ROW("unknown param on vm.unregister", REQ("vm.unregister", "{\"vm\":\"fix\",\"force\":true}"),
        -32602, "force", ID_ONE),
    ROW("unknown param in another case", REQ("vm.unregister", "{\"VM\":\"fix\"}"), -32602, "VM",
        ID_ONE),
    /* PASIDs and counts: JSON integers only, gpasid/hpasid 0..2^20-1 */
    ROW("gpasid -1", FREE("-1"), -32602, "gpasid", ID_ONE),
    ROW("gpasid 2^20", FREE("1048576"), -32602, "gpasid", ID_ONE),
    ROW("gpasid 2^63", FREE("9223372036854775808"), -32602, "gpasid", ID_ONE),
    ROW("gpasid 2^64", FREE("18446744073709551616"), -32602, "gpasid", ID_ONE),
    ROW("gpasid -2^63", FREE("-9223372036854775808"), -32602, "gpasid", ID_ONE),
    GEN("gpasid with 400 digits", digits_400, -32602, "gpasid", ID_ONE),
    ROW("gpasid 1e3", FREE("1e3"), -32602, "gpasid", ID_ONE),
    ROW("gpasid 1e400", FREE("1e400"), -32602, "gpasid", ID_ONE),
    ROW("gpasid \"5\"", FREE("\"5\""), -32602, "gpasid", ID_ONE),
    ROW("gpasid 1.5", FREE("1.5"), -32602, "gpasid", ID_ONE),
    ROW("gpasid 1.0 (integral, still a float)", FREE("1.0"), -32602, "gpasid", ID_ONE),
    ROW("gpasid as an object", FREE("{\"n\":1}"), -32602, "gpasid", ID_ONE),
    ROW("hpasid -1", LOOKUP_H("-1"), -32602, "hpasid", ID_ONE),
    ROW("hpasid 2^20", LOOKUP_H("1048576"), -32602, "hpasid", ID_ONE),
    ROW("gpasid 2^20-1, well-formed but outside the guest range",
        ALLOC("\"type\":\"shared\",\"gpasid\":1048575"), 1008, "gpasid", ID_ONE),
    ROW("gpasid 0, never handed out", ALLOC("\"type\":\"shared\",\"gpasid\":0"), 1008, "gpasid",
        ID_ONE),
    ROW("count 0", ALLOC("\"type\":\"shared\",\"count\":0"), -32602, "count", ID_ONE),
    ROW("count 4097", ALLOC("\"type\":\"shared\",\"count\":4097"), -32602, "count", ID_ONE),
    ROW("count true", ALLOC("\"type\":\"shared\",\"count\":true"), -32602, "count", ID_ONE),
    ROW("count -1", ALLOC("\"type\":\"shared\",\"count\":-1"), -32602, "count", ID_ONE),
    ROW("pid -1", REGISTER("{\"vm\":\"newvm\",\"pid\":-1}"), -32602, "pid", ID_ONE),
    ROW("pid 2^31", REGISTER("{\"vm\":\"newvm\",\"pid\":2147483648}"), -32602, "pid", ID_ONE),
    /* VM names: 1-64 of [A-Za-z0-9._:@+-], alphanumeric first */
    ROW("vm \"\"", REGISTER("{\"vm\":\"\"}"), -32602, "vm", ID_ONE),
    GEN("vm of 65 characters", name_65, -32602, "vm", ID_ONE),
    GEN("vm of 60000 characters", name_60k, -32602, "vm", ID_ONE),
    ROW("vm \"a/b\"", REGISTER("{\"vm\":\"a/b\"}"), -32602, "vm", ID_ONE),
    ROW("vm \"../x\"", REGISTER("{\"vm\":\"../x\"}"), -32602, "vm", ID_ONE),
    ROW("vm \"a\\u0001b\"", REGISTER("{\"vm\":\"a\\u0001b\"}"), -32602, "vm", ID_ONE),
    ROW("vm \"a\\nb\"", REGISTER("{\"vm\":\"a\\nb\"}"), -32602, "vm", ID_ONE),
    ROW("vm in UTF-8 (\"v\xc3\xa9\")", REGISTER("{\"vm\":\"v\xc3\xa9\"}"), -32602, "vm", ID_ONE),
    ROW("vm with an escaped non-ASCII letter", REGISTER("{\"vm\":\"v\\u00e9\"}"), -32602, "vm",
        ID_ONE),
    ROW("vm with an escaped lone surrogate", REGISTER("{\"vm\":\"v\\ud800\"}"), -32602, "vm",
        ID_ONE),
    ROW("vm starting with '-'", REGISTER("{\"vm\":\"-x\"}"), -32602, "vm", ID_ONE),
    ROW("vm with a leading space", UNREG(" fix"), -32602, "vm", ID_ONE),
    ROW("vm \"fix\\u0000\" (the fixture, if cut at the NUL)", UNREG("fix\\u0000"), -32602, "vm",
        ID_ONE),
    ROW("vm \"fix\\u0000x\" on pasid.free",
        REQ("pasid.free", "{\"vm\":\"fix\\u0000x\",\"gpasid\":1}"), -32602, "vm", ID_ONE),
    ROW("vm as a number", REQ("vm.unregister", "{\"vm\":5}"), -32602, "vm", ID_ONE),
    ROW("vm null (not given)", REQ("vm.unregister", "{\"vm\":null}"), -32602, "vm", ID_ONE),
    /* json-c keeps member names as C strings, where this one would be "vm": pasidd(8) refuses
     * member names with U+0000 as a whole. */
    ROW("member name \"vm\\u0000x\" (\"vm\" if cut at the NUL)",
        REQ("vm.unregister", "{\"vm\\u0000x\":\"fix\"}"), -32600, NULL, ID_NULL),
    ROW("top-level member name \"method\\u0000\"",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"vm.show\",\"method\\u0000\":\"vm.unregister\","
        "\"params\":{\"vm\":\"fix\"}}",
        -32600, NULL, ID_NULL),
    /* BDFs: DDDD:BB:DD.F, device 00-1f, function 0-7 */
    ROW("device \"0000:00:1f.8\"", ASSIGN("0000:00:1f.8", ""), -32602, "device", ID_ONE),
    ROW("device \"0000:00:20.0\"", ASSIGN("0000:00:20.0", ""), -32602, "device", ID_ONE),
    ROW("device \"FFFF:FF:1F.7\" is valid (not assigned: 1003)", RELEASE("FFFF:FF:1F.7"), 1003,
        "device", ID_ONE),
    ROW("device \"0000:0:02.0\"", ASSIGN("0000:0:02.0", ""), -32602, "device", ID_ONE),
    ROW("device \"0000:00:03.0\\u0000x\" (the shared fixture device if cut)",
        RELEASE(FIX_SHRD "\\u0000x"), -32602, "device", ID_ONE),
    ROW("device \"0000:00:02.0\\u0000x\"", ASSIGN(FIX_EXCL "\\u0000x", ""), -32602, "device",
        ID_ONE),
    ROW("device with a trailing space", RELEASE(FIX_SHRD " "), -32602, "device", ID_ONE),
    ROW("device \"0x00:00:03.0\"", RELEASE("0x00:00:03.0"), -32602, "device", ID_ONE),
    ROW("device \"-000:00:03.0\"", RELEASE("-000:00:03.0"), -32602, "device", ID_ONE),
    ROW("device without a function", RELEASE("0000:00:03"), -32602, "device", ID_ONE),
    ROW("device \"0000.00:03.0\"", RELEASE("0000.00:03.0"), -32602, "device", ID_ONE),
    ROW("device \"\"", RELEASE(""), -32602, "device", ID_ONE),
    /* enumerations, UUIDs and booleans */
    ROW("type \"both\"", ALLOC("\"type\":\"both\""), -32602, "type", ID_ONE),
    ROW("type \"SHARED\"", ALLOC("\"type\":\"SHARED\""), -32602, "type", ID_ONE),
    ROW("type local without a device", ALLOC("\"type\":\"local\""), -32602, "device", ID_ONE),
    ROW("type shared with a device", ALLOC("\"type\":\"shared\",\"device\":\"" FIX_EXCL "\""),
        -32602, "device", ID_ONE),
    ROW("mode \"IDENTITY\"", REGISTER("{\"vm\":\"newvm\",\"mode\":\"IDENTITY\"}"), -32602, "mode",
        ID_ONE),
    ROW("uuid too short", REGISTER("{\"vm\":\"newvm\",\"uuid\":\"1234\"}"), -32602, "uuid", ID_ONE),
    ROW("uuid in braces", REGISTER("{\"vm\":\"newvm\",\"uuid\":\"{" FIX_UUID "}\"}"), -32602,
        "uuid", ID_ONE),
    ROW("uuid not hex",
        REGISTER("{\"vm\":\"newvm\",\"uuid\":\"gggggggg-2222-3333-4444-555555555555\"}"), -32602,
        "uuid", ID_ONE),
    ROW("uuid without dashes",
        REGISTER("{\"vm\":\"newvm\",\"uuid\":\"111111112222333344445555555555550000\"}"), -32602,
        "uuid", ID_ONE),
    ROW("shared as the string \"true\"", ASSIGN("0000:00:04.0", ",\"shared\":\"true\""), -32602,
        "shared", ID_ONE),
    ROW("shared as 1", ASSIGN("0000:00:04.0", ",\"shared\":1"), -32602, "shared", ID_ONE),
    /* batches */
    BATCH("batch of non-requests", "[1,\"x\",null]", -32600),
    ROW("empty batch", "[]", -32600, NULL, ID_NULL),
    /* the line limit: refused, then the connection is closed */
    {.what = "10 MiB line", .make = line_10mb, .code = -32600, .id = ID_NULL, .closes = true},
};

#define NROWS ((int)(sizeof(rows) / sizeof(rows[0])))

/* ---- fixture: one daemon for all rows ---- */

static struct it_daemon D;
static pid_t runner; /* owns the fixture VM: the process that outlives every row */
static int fd = -1;

/* (Re)creates the fixture VM where it is missing, owned by the runner (vm.register with
 * "pid", which needs an admin: the suite runs as root). A row that wrongly removed or
 * changed it fails on its own; the rows after it still start from a complete fixture. */
static void
ensure_fixture(int s)
{
	char reg[160];
	const char *steps[][2] = {
	    {"vm.register", reg},
	    {"device.assign", "{\"vm\":\"" FIX "\",\"device\":\"" FIX_EXCL "\"}"},
	    {"device.assign", "{\"vm\":\"" FIX "\",\"device\":\"" FIX_SHRD "\",\"shared\":true}"},
	    {"pasid.alloc", "{\"vm\":\"" FIX "\",\"type\":\"local\",\"device\":\"" FIX_EXCL "\"}"},
	    {"pasid.alloc", "{\"vm\":\"" FIX "\",\"type\":\"shared\"}"},
	};
	struct json_object *show = it_keep(it_call(s, "vm.show", "{\"vm\":\"" FIX "\"}"));

	if (it_result(show) && it_int(show, "result.pasids") == 2 &&
	    json_object_array_length(it_get(show, "result.devices")) == 2)
		return;
	if (it_result(show))
		ck_assert_int_eq(it_code(s, "vm.unregister", "{\"vm\":\"" FIX "\"}"), 0);
	snprintf(reg, sizeof(reg), "{\"vm\":\"" FIX "\",\"uuid\":\"" FIX_UUID "\",\"pid\":%d}",
	         (int)runner);
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		ck_assert_msg(it_code(s, steps[i][0], steps[i][1]) == 0, "fixture: %s %s",
		              steps[i][0], steps[i][1]);
}

static void
start_daemon(void)
{
	int s;

	runner = getpid();
	ck_assert_int_eq(it_start(&D, NULL), 0);
	s = it_connect(&D);
	ck_assert_int_ge(s, 0);
	ensure_fixture(s);
	it_release_kept();
	close(s);
}

static void
stop_daemon(void)
{
	it_cleanup(&D);
}

static void
setup(void)
{
	fd = it_connect(&D);
	ck_assert_int_ge(fd, 0);
	ensure_fixture(fd);
}

static void
teardown(void)
{
	it_release_kept();
	if (fd >= 0)
		close(fd);
	fd = -1;
}

/* Everything a client can see of the state: vm.list, pasid.list, the counters of
 * daemon.status, and the fixture VM in full. */
static const char *
state(int s)
{
	struct json_object *show = it_keep(it_call(s, "vm.show", "{\"vm\":\"" FIX "\"}"));
	char *all;

	ck_assert_msg(it_result(show), "the fixture VM is gone: %s",
	              show ? json_object_to_json_string(show) : "(no answer)");
	ck_assert_int_ge(
	    asprintf(&all, "%s %s", it_snapshot(s),
	             json_object_to_json_string_ext(it_result(show), JSON_C_TO_STRING_PLAIN)),
	    0);
	return it_keep_str(all);
}

/* Sends len bytes with a deadline, on a non-blocking socket so that a daemon that stops
 * reading cannot block the test; stops quietly when the daemon hangs up. */
static void
send_until_closed(int s, const char *buf, size_t len)
{
	time_t deadline = time(NULL) + 60;

	while (len > 0 && time(NULL) < deadline) {
		struct pollfd p = {.fd = s, .events = POLLOUT};
		ssize_t n;

		if (poll(&p, 1, 1000) <= 0)
			continue;
		n = send(s, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			return; /* EPIPE, ECONNRESET: hung up, as it may */
		}
		buf += n;
		len -= (size_t)n;
	}
}

/* NULL when item is the error the row expects, else what differs. */
static const char *
mismatch(const struct row *r, struct json_object *item)
{
	struct json_object *id = NULL;
	const char *m;

	if (r->code == 0)
		m = it_result_mismatch(item);
	else
		m = it_error_mismatch(item, r->code, r->param ? r->param : "");
	if (m)
		return m;
	if (!json_object_object_get_ex(item, "id", &id))
		return "no id";
	if (r->id == ID_NULL && id)
		return "id is not null";
	if (r->id == ID_ONE &&
	    (!json_object_is_type(id, json_type_int) || json_object_get_int64(id) != 1))
		return "id 1 did not come back";
	return NULL;
}

static void
check_answer(const struct row *r, struct json_object *resp)
{
	const char *m;

	ck_assert_msg(resp, "%s: no answer (EOF, timeout or not JSON)", r->what);
	if (!r->batch) {
		m = mismatch(r, resp);
		ck_assert_msg(!m, "%s: %s; answer %.600s", r->what, m,
		              json_object_to_json_string(resp));
		return;
	}
	ck_assert_msg(json_object_is_type(resp, json_type_array) &&
	                  json_object_array_length(resp) > 0,
	              "%s: not a batch answer: %.600s", r->what, json_object_to_json_string(resp));
	for (size_t i = 0; i < json_object_array_length(resp); i++) {
		m = mismatch(r, json_object_array_get_idx(resp, i));
		ck_assert_msg(!m, "%s: item %zu: %s; answer %.600s", r->what, i, m,
		              json_object_to_json_string(resp));
	}
}

START_TEST(bad_input)
{
	const struct row *r = &rows[_i];
	const char *before = state(fd), *after;
	size_t len = r->len;
	char *line, *text;
	int s = fd;

	/* Every line has one byte of room after it, for the LF. */
	line = r->make ? r->make(&len) : memcpy(malloc(len + 1), r->line, len);
	it_keep_str(line);
	line[len] = '\n';
	if (r->closes) {
		/* On a connection of its own; the others must not notice. */
		s = it_connect(&D);
		ck_assert_int_ge(s, 0);
		send_until_closed(s, line, len + 1);
	} else {
		ck_assert_int_eq(it_send(s, line, len + 1), 0);
	}
	text = it_keep_str(it_recvline(s, TIMEOUT_MS));
	check_answer(r, text ? it_keep(json_tokener_parse(text)) : NULL);
	if (r->closes) {
		ck_assert_msg(it_wait_eof(s, TIMEOUT_MS), "%s: the connection was not closed",
		              r->what);
		close(s);
	} else {
		/* One request, one answer: the next line must answer the next request. */
		char *next;

		ck_assert_int_eq(
		    it_sendline(s, "{\"jsonrpc\":\"2.0\",\"id\":\"next\",\"method\":\"vm.list\"}"),
		    0);
		next = it_keep_str(it_recvline(s, TIMEOUT_MS));
		ck_assert_msg(
		    next && strstr(next, "\"id\":\"next\""),
		    "%s: another answer, or none, where the next request's was due: %.300s",
		    r->what, next ? next : "(none)");
	}
	/* The daemon still serves this connection, and its state is as it was. */
	after = state(fd);
	ck_assert_msg(!strcmp(before, after), "%s: the state changed:\nbefore %s\nafter  %s",
	              r->what, before, after);
}
END_TEST

/* The table holds at least what the issue asks for. */
START_TEST(table_size)
{
	ck_assert_int_ge(NROWS, 50);
}
END_TEST

static Suite *
badinput_suite(void)
{
	Suite *s = suite_create("badinput");
	TCase *tc = tcase_create("rows");

	tcase_add_unchecked_fixture(tc, start_daemon, stop_daemon);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, table_size);
	tcase_add_loop_test(tc, bad_input, 0, NROWS);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	if (geteuid() != 0)
		ck_skip("needs root: the fixture VM is registered for another process");
	return ck_run(badinput_suite());
}
