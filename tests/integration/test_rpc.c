/*
 * JSON-RPC 2.0 edge cases against the real pasidd (DESIGN.md §4, PROTOCOL-DECISIONS.md
 * "Transport"): parse errors, invalid requests, batches, notifications, id echo, framing,
 * the line limit, and rpc.discover as the one source of truth for the served methods.
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
#include <unistd.h>

#define TIMEOUT_MS 5000
#define LIMIT      65536 /* the default MaxMessageSize */

#define ERR     IT_ERR
#define OK      IT_OK
#define JSON_EQ IT_JSON_EQ

/* The response's id member must be present and null. */
#define ID_NULL(resp)                                                                              \
	do {                                                                                       \
		struct json_object *i_ = NULL;                                                     \
		ck_assert_msg(json_object_object_get_ex(resp, "id", &i_) && !i_,                   \
		              "id is not null: %s", json_object_to_json_string(resp));             \
	} while (0)

#define STATUS "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"daemon.status\"}"

static struct it_daemon D;
static int fd = -1;

static void
setup(void)
{
	ck_assert_msg(it_setup(&D, &fd, NULL) == 0, "pasidd did not start (log in %s)", D.log);
}

static void
teardown(void)
{
	it_teardown(&D, &fd);
}

/* Sends a raw line and parses the one response line (NULL if none or not JSON). */
static struct json_object *
raw(int s, const char *line)
{
	char *resp = it_roundtrip(s, line);
	struct json_object *o = resp ? json_tokener_parse(resp) : NULL;

	free(resp);
	return o;
}

/* The connection still answers a request, with the id it was given. */
static void
alive(int s, int id)
{
	char line[96];
	struct json_object *r;

	snprintf(line, sizeof(line), "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"daemon.status\"}",
	         id);
	r = it_keep(raw(s, line));
	ck_assert_msg(!it_result_mismatch(r), "%s", it_result_mismatch(r));
	ck_assert_int_eq(it_int(r, "id"), id);
	ck_assert_str_eq(it_str(r, "result.backend.name"), "sim");
}

/* A single error object (not a batch) with id null. */
static void
expect_null_id_error(struct json_object *resp, int code)
{
	const char *m = it_error_mismatch(it_keep(resp), code, "");

	ck_assert_msg(!m, "%s", m);
	ck_assert_msg(json_object_is_type(resp, json_type_object), "not one object: %s",
	              json_object_to_json_string(resp));
	ID_NULL(resp);
}

/* ---- parse errors ---- */

/* Sends each line and checks that each gets a single error object with this code and id
 * null; reports every line that does not, at once. */
static void
expect_each_null_id(const char *const *lines, size_t n, int code)
{
	char report[4096] = "";
	size_t len = 0;

	for (size_t i = 0; i < n; i++) {
		struct json_object *r = it_keep(raw(fd, lines[i])), *id = NULL;
		const char *m = it_error_mismatch(r, code, "");

		if (!m && !(json_object_object_get_ex(r, "id", &id) && !id))
			m = "id is not null";
		if (!m && !json_object_is_type(r, json_type_object))
			m = "not a single object";
		if (m && len < sizeof(report) - 1)
			len += (size_t)snprintf(report + len, sizeof(report) - len,
			                        "\n  line %zu (%.60s): %.300s", i, lines[i], m);
	}
	ck_assert_msg(len == 0, "lines not answered with %d and id null:%s", code, report);
	alive(fd, 2);
}

#define EXPECT_EACH(lines, code) expect_each_null_id(lines, sizeof(lines) / sizeof(lines[0]), code)

START_TEST(parse_error_broken_json)
{
	static const char *const lines[] = {
	    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"daemon.status\"",
	    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":}",
	    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"daemon.status\",}",
	    "{jsonrpc:\"2.0\",\"id\":1,\"method\":\"daemon.status\"}",
	    "{'jsonrpc':'2.0','id':1,'method':'daemon.status'}",
	    "{\"jsonrpc\":\"2.0\",\"id\":01,\"method\":\"daemon.status\"}",
	    "{\"jsonrpc\":\"2.0\",\"id\":+1,\"method\":\"daemon.status\"}",
	    "{\"jsonrpc\":\"2.0\",\"id\":.5,\"method\":\"daemon.status\"}",
	    "{\"jsonrpc\":\"2.0\",\"id\":0x10,\"method\":\"daemon.status\"}",
	    "{\"jsonrpc\":\"2.0\",\"id\":nan,\"method\":\"daemon.status\"}",
	    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"daemon.status\\x\"}",
	    "{\"a\":1 \"b\":2}",
	    "nonsense",
	    "\"unterminated",
	    "[",
	    "tru",
	    "{]",
	};

	EXPECT_EACH(lines, -32700);
}
END_TEST

/* RFC 8259 has no NaN, no Infinity and no "1." (and the echo of such an id would not be
 * JSON either). */
START_TEST(parse_error_nonstandard_numbers)
{
	static const char *const lines[] = {
	    "{\"jsonrpc\":\"2.0\",\"id\":NaN,\"method\":\"daemon.status\"}",
	    "{\"jsonrpc\":\"2.0\",\"id\":Infinity,\"method\":\"daemon.status\"}",
	    "{\"jsonrpc\":\"2.0\",\"id\":-Infinity,\"method\":\"daemon.status\"}",
	    "{\"jsonrpc\":\"2.0\",\"id\":1.,\"method\":\"daemon.status\"}",
	    "{\"jsonrpc\":\"2.0\",\"id\":1.e5,\"method\":\"daemon.status\"}",
	};

	EXPECT_EACH(lines, -32700);
}
END_TEST

/* RFC 8259 §7: control characters U+0000-U+001F must be escaped inside strings. */
START_TEST(parse_error_raw_control_chars)
{
	static const char *const lines[] = {
	    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"daemon\tstatus\"}",
	    "{\"jsonrpc\":\"2.0\",\"id\":\"a\x01\",\"method\":\"daemon.status\"}",
	    "{\"jsonrpc\":\"2.0\",\"id\":\"a\x1f\",\"method\":\"daemon.status\"}",
	};

	EXPECT_EACH(lines, -32700);
}
END_TEST

START_TEST(parse_error_invalid_utf8)
{
	static const char *const lines[] = {
	    /* bytes that never occur in UTF-8 */
	    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\xff\"}",
	    "{\"jsonrpc\":\"2.0\",\"id\":\"\xf8\x88\x80\x80\x80\",\"method\":\"daemon.status\"}",
	    /* a lone continuation byte, a truncated sequence */
	    "{\"jsonrpc\":\"2.0\",\"id\":\"\x80\",\"method\":\"daemon.status\"}",
	    "{\"jsonrpc\":\"2.0\",\"id\":\"\xe2\x82\",\"method\":\"daemon.status\"}",
	    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"vm.show\",\"params\":{\"vm\":\"a\xc3\"}}",
	    /* overlong encodings of '/' */
	    "{\"jsonrpc\":\"2.0\",\"id\":\"\xc0\xaf\",\"method\":\"daemon.status\"}",
	    "{\"jsonrpc\":\"2.0\",\"id\":\"\xe0\x80\xaf\",\"method\":\"daemon.status\"}",
	    /* a UTF-16 surrogate, and a code point above U+10FFFF */
	    "{\"jsonrpc\":\"2.0\",\"id\":\"\xed\xa0\x80\",\"method\":\"daemon.status\"}",
	    "{\"jsonrpc\":\"2.0\",\"id\":\"\xf4\x90\x80\x80\",\"method\":\"daemon.status\"}",
	};

	EXPECT_EACH(lines, -32700);
	/* Valid multi-byte UTF-8 is fine. */
	ERR(raw(fd, "{\"jsonrpc\":\"2.0\",\"id\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\","
	            "\"method\":\"n\xc3\xa9\"}"),
	    -32601, "");
}
END_TEST

START_TEST(parse_error_trailing_garbage)
{
	static const char *const lines[] = {
	    STATUS " x",   STATUS STATUS,        STATUS "]",
	    STATUS ",",    STATUS " 1",          "[" STATUS "] [",
	    "1 2",         STATUS " // comment", STATUS "/* comment */",
	    STATUS "\x01",
	};

	EXPECT_EACH(lines, -32700);
	/* White space around the message is not garbage. */
	OK(raw(fd, STATUS " \t \r"));
	OK(raw(fd, " \t" STATUS));
}
END_TEST

/* ---- invalid requests ---- */

START_TEST(invalid_request_not_object)
{
	static const char *const lines[] = {"1", "0", "\"str\"", "null", "true", "false"};

	EXPECT_EACH(lines, -32600);
}
END_TEST

/* Valid JSON texts all the same, so not parse errors. */
START_TEST(invalid_request_bare_numbers)
{
	static const char *const lines[] = {"3.5", "-0", "-0.0", "1e3", "-7"};

	EXPECT_EACH(lines, -32600);
}
END_TEST

START_TEST(invalid_request_jsonrpc)
{
	static const char *const lines[] = {
	    "{\"id\":7,\"method\":\"daemon.status\"}",
	    "{\"jsonrpc\":\"1.0\",\"id\":7,\"method\":\"daemon.status\"}",
	    "{\"jsonrpc\":2.0,\"id\":7,\"method\":\"daemon.status\"}",
	    "{\"jsonrpc\":2,\"id\":7,\"method\":\"daemon.status\"}",
	    "{\"jsonrpc\":\"2.0 \",\"id\":7,\"method\":\"daemon.status\"}",
	    "{\"jsonrpc\":null,\"id\":7,\"method\":\"daemon.status\"}",
	    "{\"jsonrpc\":[\"2.0\"],\"id\":7,\"method\":\"daemon.status\"}",
	};

	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		struct json_object *r = it_keep(raw(fd, lines[i]));

		ck_assert_msg(r, "no response to %s", lines[i]);
		/* The id could be read, so it is echoed. */
		ck_assert_int_eq(it_int(r, "id"), 7);
		ck_assert_msg(!it_error_mismatch(r, -32600, ""), "line %s: %s", lines[i],
		              it_error_mismatch(r, -32600, ""));
	}
	/* The specification's own example: not a request at all. */
	expect_null_id_error(raw(fd, "{\"foo\":\"boo\"}"), -32600);
	alive(fd, 2);
}
END_TEST

START_TEST(invalid_request_method)
{
	static const char *const lines[] = {
	    "{\"jsonrpc\":\"2.0\",\"id\":7}",
	    "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":1}",
	    "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":null}",
	    "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":[]}",
	    "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":{}}",
	    "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":true}",
	    "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":[\"daemon.status\"]}",
	};

	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		struct json_object *r = it_keep(raw(fd, lines[i]));

		ck_assert_msg(r, "no response to %s", lines[i]);
		ck_assert_int_eq(it_int(r, "id"), 7);
		ck_assert_msg(!it_error_mismatch(r, -32600, ""), "line %s: %s", lines[i],
		              it_error_mismatch(r, -32600, ""));
	}
	alive(fd, 2);
}
END_TEST

START_TEST(invalid_request_id_type)
{
	static const char *const ids[] = {"{}", "[]", "true", "false", "{\"a\":1}", "[1]"};

	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		char line[128];

		snprintf(line, sizeof(line),
		         "{\"jsonrpc\":\"2.0\",\"id\":%s,\"method\":\"daemon.status\"}", ids[i]);
		expect_null_id_error(raw(fd, line), -32600);
	}
	/* Not answered as a request either: nothing was done. */
	expect_null_id_error(
	    raw(fd,
	        "{\"jsonrpc\":\"2.0\",\"id\":true,\"method\":\"vm.register\",\"params\":{\"vm\":"
	        "\"badid\"}}"),
	    -32600);
	ERR(it_call(fd, "vm.show", "{\"vm\":\"badid\"}"), 1003, "vm");
	alive(fd, 2);
}
END_TEST

START_TEST(invalid_request_params_type)
{
	static const char *const params[] = {"\"x\"", "5", "true", "null", "1.5", "\"{}\""};
	const char *before = it_snapshot(fd);

	for (size_t i = 0; i < sizeof(params) / sizeof(params[0]); i++) {
		char line[160];
		struct json_object *r;

		snprintf(line, sizeof(line),
		         "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"vm.register\",\"params\":%s}",
		         params[i]);
		r = it_keep(raw(fd, line));
		ck_assert_msg(r, "no response to %s", line);
		ck_assert_int_eq(it_int(r, "id"), 7);
		ck_assert_msg(!it_error_mismatch(r, -32600, ""), "line %s: %s", line,
		              it_error_mismatch(r, -32600, ""));
	}
	ck_assert_str_eq(it_snapshot(fd), before);
}
END_TEST

START_TEST(method_not_found)
{
	static const char *const methods[] = {
	    "nosuch",         "vm.nosuch",      "",     "DAEMON.STATUS",
	    "daemon.status ", " daemon.status", "rpc.", "vm",
	};

	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		char line[160];
		struct json_object *r;

		snprintf(
		    line, sizeof(line),
		    "{\"jsonrpc\":\"2.0\",\"id\":\"m%zu\",\"method\":\"%s\",\"params\":{\"vm\":"
		    "\"x\"}}",
		    i, methods[i]);
		r = it_keep(raw(fd, line));
		ck_assert_msg(r, "no response to %s", line);
		ck_assert_msg(!it_error_mismatch(r, -32601, ""), "line %s: %s", line,
		              it_error_mismatch(r, -32601, ""));
		ck_assert_int_eq(atoi(it_str(r, "id") + 1), (int)i);
	}
	alive(fd, 2);
}
END_TEST

/* A method name is the whole JSON string, NUL and all. */
START_TEST(method_name_with_nul)
{
	ERR(raw(fd, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"daemon.status\\u0000\"}"), -32601,
	    "");
	ERR(raw(fd, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"vm.list\\u0000x\"}"), -32601, "");
	alive(fd, 6);
}
END_TEST

START_TEST(invalid_params)
{
	static const struct {
		const char *method, *params, *param;
	} cases[] = {
	    {"daemon.status", "[]", "params"},
	    {"rpc.discover", "[1]", "params"},
	    {"vm.register", "[\"x\"]", "params"},
	    {"vm.list", "[]", "params"},
	    {"daemon.status", "{\"bogus\":1}", "bogus"},
	    {"vm.list", "{\"verbose\":true}", "verbose"},
	    {"vm.register", "{\"vm\":\"p1\",\"bogus\":1}", "bogus"},
	    {"vm.register", "{\"vm\":5}", "vm"},
	    {"vm.register", "{\"vm\":[\"p1\"]}", "vm"},
	    {"vm.register", "{}", "vm"},
	    {"vm.register", "{\"vm\":\"p1\",\"mode\":1}", "mode"},
	    {"vm.register", "{\"vm\":\"p1\",\"uuid\":false}", "uuid"},
	    {"vm.show", "{}", "vm"},
	    {"pasid.alloc", "{\"vm\":\"ip\",\"type\":5}", "type"},
	    {"pasid.alloc", "{\"vm\":\"ip\",\"type\":\"bogus\"}", "type"},
	    {"pasid.alloc", "{\"vm\":\"ip\",\"type\":\"shared\",\"gpasid\":\"1\"}", "gpasid"},
	    {"pasid.alloc", "{\"vm\":\"ip\",\"type\":\"shared\",\"gpasid\":1.0}", "gpasid"},
	    {"pasid.alloc", "{\"vm\":\"ip\",\"type\":\"shared\",\"count\":true}", "count"},
	    {"pasid.alloc", "{\"vm\":\"ip\",\"type\":\"shared\",\"extra\":{}}", "extra"},
	    {"device.assign", "{\"vm\":\"ip\",\"device\":\"0000:00:02.0\",\"shared\":\"yes\"}",
	     "shared"},
	};
	const char *before;

	OK(it_call(fd, "vm.register", "{\"vm\":\"ip\"}"));
	before = it_snapshot(fd);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct json_object *r = it_keep(it_call(fd, cases[i].method, cases[i].params));
		const char *m = it_error_mismatch(r, -32602, cases[i].param);

		ck_assert_msg(!m, "%s %s: %s", cases[i].method, cases[i].params, m);
		/* data is exactly {"param": ...} */
		ck_assert_msg(it_members(it_get(r, "error.data"), "param", NULL),
		              "%s %s: data is not {param}: %s", cases[i].method, cases[i].params,
		              json_object_to_json_string(r));
	}
	ck_assert_str_eq(it_snapshot(fd), before);
	alive(fd, 2);
}
END_TEST

/* ---- batches and notifications ---- */

START_TEST(batch_empty)
{
	expect_null_id_error(raw(fd, "[]"), -32600);
	expect_null_id_error(raw(fd, "[ ]"), -32600);
	alive(fd, 2);
}
END_TEST

START_TEST(batch_invalid_items)
{
	static const struct {
		const char *line;
		size_t n;
	} cases[] = {{"[1,2]", 2}, {"[1]", 1}, {"[[]]", 1}, {"[\"a\",null,true]", 3}};

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct json_object *r = it_keep(raw(fd, cases[c].line));

		ck_assert_msg(json_object_is_type(r, json_type_array), "%s: not an array: %s",
		              cases[c].line, r ? json_object_to_json_string(r) : "(none)");
		ck_assert_uint_eq(json_object_array_length(r), cases[c].n);
		for (size_t i = 0; i < cases[c].n; i++) {
			struct json_object *e = json_object_array_get_idx(r, i);

			ID_NULL(e);
			ck_assert_msg(!it_error_mismatch(e, -32600, ""), "%s",
			              it_error_mismatch(e, -32600, ""));
		}
	}
	alive(fd, 2);
}
END_TEST

/* The element of a batch response with this id (JSON text), or NULL. */
static struct json_object *
by_id(struct json_object *arr, const char *id)
{
	struct json_object *want = it_keep(json_tokener_parse(id)), *found = NULL;

	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		struct json_object *e = json_object_array_get_idx(arr, i), *eid = NULL;

		if (json_object_object_get_ex(e, "id", &eid) && json_object_equal(eid, want)) {
			ck_assert_msg(!found, "two responses with id %s", id);
			found = e;
		}
	}
	return found;
}

START_TEST(batch_mixed)
{
	struct json_object *r, *e;

	r = it_keep(raw(fd, "["
	                    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"daemon.status\"},"
	                    "{\"jsonrpc\":\"2.0\",\"method\":\"vm.register\",\"params\":{\"vm\":"
	                    "\"bm\"}},"
	                    "{\"foo\":\"boo\"},"
	                    "{\"jsonrpc\":\"2.0\",\"id\":\"x\",\"method\":\"vm.show\",\"params\":{"
	                    "\"vm\":\"bm\"}},"
	                    "{\"jsonrpc\":\"2.0\",\"method\":\"vm.nosuch\"},"
	                    "{\"jsonrpc\":\"2.0\",\"method\":\"vm.show\",\"params\":{\"vm\":"
	                    "\"none\"}},"
	                    "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"vm.nosuch\"},"
	                    "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"vm.show\",\"params\":[]}"
	                    "]"));
	ck_assert_msg(json_object_is_type(r, json_type_array), "not an array: %s",
	              r ? json_object_to_json_string(r) : "(none)");
	/* Requests 1, "x", 3, 4 and the invalid one; no notification is answered. */
	ck_assert_uint_eq(json_object_array_length(r), 5);
	e = by_id(r, "1");
	ck_assert_msg(!it_result_mismatch(e), "%s", it_result_mismatch(e));
	ck_assert_str_eq(it_str(e, "result.backend.name"), "sim");
	e = by_id(r, "\"x\"");
	ck_assert_msg(!it_result_mismatch(e), "%s", it_result_mismatch(e));
	/* The notification before it was carried out. */
	ck_assert_str_eq(it_str(e, "result.vm"), "bm");
	e = by_id(r, "null");
	ck_assert_msg(!it_error_mismatch(e, -32600, ""), "%s", it_error_mismatch(e, -32600, ""));
	e = by_id(r, "3");
	ck_assert_msg(!it_error_mismatch(e, -32601, ""), "%s", it_error_mismatch(e, -32601, ""));
	e = by_id(r, "4");
	ck_assert_msg(!it_error_mismatch(e, -32602, "params"), "%s",
	              it_error_mismatch(e, -32602, "params"));
	alive(fd, 5);
}
END_TEST

START_TEST(batch_of_requests)
{
	struct json_object *r, *e;

	r = it_keep(raw(fd, "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"vm.register\",\"params\":{"
	                    "\"vm\":\"br\"}},"
	                    "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"pasid.alloc\",\"params\":{"
	                    "\"vm\":\"br\",\"type\":\"shared\"}},"
	                    "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"pasid.alloc\",\"params\":{"
	                    "\"vm\":\"br\",\"type\":\"shared\"}}]"));
	ck_assert_msg(json_object_is_type(r, json_type_array), "not an array");
	ck_assert_uint_eq(json_object_array_length(r), 3);
	e = by_id(r, "1");
	ck_assert_str_eq(it_str(e, "result.vm"), "br");
	/* Carried out in order: the first alloc gets gPASID 1, the second 2. */
	JSON_EQ(it_get(by_id(r, "2"), "result"),
	        "{\"gpasid\":1,\"hpasid\":4096,\"type\":\"shared\"}");
	JSON_EQ(it_get(by_id(r, "3"), "result"),
	        "{\"gpasid\":2,\"hpasid\":4097,\"type\":\"shared\"}");
}
END_TEST

START_TEST(batch_all_notifications)
{
	struct json_object *r;

	/* No reply at all: the next line on the socket is the answer to the next request. */
	ck_assert_int_eq(
	    it_sendline(fd, "[{\"jsonrpc\":\"2.0\",\"method\":\"daemon.status\"},"
	                    "{\"jsonrpc\":\"2.0\",\"method\":\"vm.register\",\"params\":{\"vm\":"
	                    "\"bn\"}},"
	                    "{\"jsonrpc\":\"2.0\",\"method\":\"vm.nosuch\"},"
	                    "{\"jsonrpc\":\"2.0\",\"method\":\"vm.show\",\"params\":{\"vm\":"
	                    "\"nope\"}}]"),
	    0);
	r = OK(raw(fd, "{\"jsonrpc\":\"2.0\",\"id\":99,\"method\":\"vm.show\",\"params\":{\"vm\":"
	               "\"bn\"}}"));
	ck_assert_int_eq(it_int(r, "pasids"), 0);
	ck_assert_str_eq(it_str(r, "vm"), "bn");
}
END_TEST

START_TEST(notification_no_reply)
{
	static const char *const notes[] = {
	    "{\"jsonrpc\":\"2.0\",\"method\":\"daemon.status\"}",
	    "{\"jsonrpc\":\"2.0\",\"method\":\"vm.register\",\"params\":{\"vm\":\"nn\"}}",
	    "{\"jsonrpc\":\"2.0\",\"method\":\"vm.nosuch\"}",
	    "{\"jsonrpc\":\"2.0\",\"method\":\"vm.register\",\"params\":{\"vm\":5}}",
	    "{\"jsonrpc\":\"2.0\",\"method\":\"vm.show\",\"params\":[]}",
	    "{\"jsonrpc\":\"2.0\",\"method\":\"vm.show\",\"params\":{\"vm\":\"nope\"}}",
	    /* One string over two lines (the parentheses tell clang it is meant). */
	    ("{\"jsonrpc\":\"2.0\",\"method\":\"pasid.alloc\",\"params\":{\"vm\":\"nn\",\"type\":"
	     "\"shared\"}}"),
	};
	struct json_object *resp, *r;

	for (size_t i = 0; i < sizeof(notes) / sizeof(notes[0]); i++)
		ck_assert_int_eq(it_sendline(fd, notes[i]), 0);
	resp = it_keep(raw(fd, "{\"jsonrpc\":\"2.0\",\"id\":42,\"method\":\"vm.show\",\"params\":{"
	                       "\"vm\":\"nn\"}}"));
	ck_assert_msg(!it_result_mismatch(resp), "%s", it_result_mismatch(resp));
	ck_assert_int_eq(it_int(resp, "id"), 42);
	r = it_result(resp);
	/* The notifications were carried out, only not answered. */
	JSON_EQ(it_get(r, "mappings"), "[{\"gpasid\":1,\"hpasid\":4096,\"type\":\"shared\"}]");
}
END_TEST

/* ---- ids ---- */

START_TEST(ids_echoed)
{
	static const char *const ids[] = {
	    "\"abc\"",
	    "0",
	    "-5",
	    "1.5",
	    "null",
	    "\"\"",
	    "\"1\"",
	    "9007199254740993",
	    "-9223372036854775807",
	    "\"a\\\"b\\\\c\\u00e9\\ud83d\\ude00\"",
	    "1e3",
	    "2.5e-3",
	};

	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		char line[192], *text;
		struct json_object *r, *want, *got = NULL;

		for (int kind = 0; kind < 2; kind++) {
			/* A success and an error response both echo the id. */
			snprintf(line, sizeof(line),
			         "{\"jsonrpc\":\"2.0\",\"id\":%s,\"method\":\"%s\"}", ids[i],
			         kind ? "vm.nosuch" : "daemon.status");
			text = it_keep_str(it_roundtrip(fd, line));
			ck_assert_msg(text, "no response to %s", line);
			r = it_keep(json_tokener_parse(text));
			want = it_keep(json_tokener_parse(ids[i]));
			ck_assert_msg(json_object_object_get_ex(r, "id", &got), "no id in %s",
			              text);
			ck_assert_msg(json_object_equal(got, want) &&
			                  json_object_get_type(got) == json_object_get_type(want),
			              "id %s came back as %s", ids[i], text);
			ck_assert_msg(kind ? !it_error_mismatch(r, -32601, "")
			                   : !it_result_mismatch(r),
			              "%s", text);
		}
	}
	/* Simple ids come back verbatim, byte for byte. */
	for (size_t i = 0; i < 5; i++) {
		char line[128], expect[64], *text;

		snprintf(line, sizeof(line),
		         "{\"jsonrpc\":\"2.0\",\"id\":%s,\"method\":\"vm.list\"}", ids[i]);
		snprintf(expect, sizeof(expect), "\"id\":%s,", ids[i]);
		text = it_keep_str(it_roundtrip(fd, line));
		ck_assert_msg(text && strstr(text, expect), "%s not in %s", expect,
		              text ? text : "(none)");
	}
}
END_TEST

/* ---- framing ---- */

START_TEST(blank_lines_ignored)
{
	static const char burst[] = "\n  \n\t\n\r\n \t\r\n"
	                            "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"vm.list\"}\n"
	                            "\n\n   \n"
	                            "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"vm.list\"}\n";
	struct json_object *r;

	ck_assert_int_eq(it_send(fd, burst, strlen(burst)), 0);
	r = it_keep(it_recvjson(fd, TIMEOUT_MS));
	ck_assert_msg(!it_result_mismatch(r), "%s", it_result_mismatch(r));
	ck_assert_int_eq(it_int(r, "id"), 1);
	r = it_keep(it_recvjson(fd, TIMEOUT_MS));
	ck_assert_msg(!it_result_mismatch(r), "%s", it_result_mismatch(r));
	ck_assert_int_eq(it_int(r, "id"), 2);
	ck_assert_int_eq(it_send(fd, "\n\n", 2), 0);
	alive(fd, 3);
}
END_TEST

START_TEST(several_messages_one_write)
{
	char burst[2048] = "";
	size_t n = 0;

	for (int i = 1; i <= 6; i++)
		n += (size_t)snprintf(
		    burst + n, sizeof(burst) - n,
		    i % 2 ? "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"vm.list\"}\n"
		          : "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"vm.nosuch\"}\n",
		    i);
	/* And a batch and a notification in the same write. */
	n += (size_t)snprintf(burst + n, sizeof(burst) - n,
	                      "[{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"vm.list\"}]\n"
	                      "{\"jsonrpc\":\"2.0\",\"method\":\"vm.list\"}\n"
	                      "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"vm.list\"}\n");
	ck_assert_int_eq(it_send(fd, burst, n), 0);
	for (int i = 1; i <= 6; i++) {
		struct json_object *r = it_keep(it_recvjson(fd, TIMEOUT_MS));

		ck_assert_msg(r, "response %d missing", i);
		ck_assert_int_eq(it_int(r, "id"), i);
		if (i % 2)
			ck_assert_msg(!it_result_mismatch(r), "%s", it_result_mismatch(r));
		else
			ck_assert_msg(!it_error_mismatch(r, -32601, ""), "%s",
			              it_error_mismatch(r, -32601, ""));
	}
	{
		struct json_object *b = it_keep(it_recvjson(fd, TIMEOUT_MS));

		ck_assert_msg(json_object_is_type(b, json_type_array), "batch answer missing");
		ck_assert_uint_eq(json_object_array_length(b), 1);
		ck_assert_int_eq(it_int(b, "0.id"), 7);
		b = it_keep(it_recvjson(fd, TIMEOUT_MS));
		ck_assert_int_eq(it_int(b, "id"), 8);
	}
}
END_TEST

static void
send_slowly(int s, const char *data, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		ck_assert_int_eq(it_send(s, data + i, 1), 0);
		/* Give the daemon the chance to read each byte on its own. */
		usleep(1000);
	}
}

START_TEST(split_byte_by_byte)
{
	/* The id holds multi-byte UTF-8 characters, split between writes too. */
	static const char req[] = "{\"jsonrpc\":\"2.0\",\"id\":\"\xc3\xa9t\xc3\xa9 \xe2\x82\xac\","
	                          "\"method\":\"vm.register\",\"params\":{\"vm\":\"split\"}}\n";
	static const char batch[] = "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"vm.list\"},"
	                            "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"vm.nosuch\"}]\n";
	static const char two[] = "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"vm.list\"}\n"
	                          "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"vm.list\"}\n";
	struct json_object *r;
	size_t cut = strchr(two, '\n') - two + 6;

	send_slowly(fd, req, strlen(req));
	r = it_keep(it_recvjson(fd, TIMEOUT_MS));
	ck_assert_msg(!it_result_mismatch(r), "%s", it_result_mismatch(r));
	ck_assert_str_eq(it_str(r, "id"), "\xc3\xa9t\xc3\xa9 \xe2\x82\xac");
	ck_assert_str_eq(it_str(r, "result.vm"), "split");

	send_slowly(fd, batch, strlen(batch));
	r = it_keep(it_recvjson(fd, TIMEOUT_MS));
	ck_assert_msg(json_object_is_type(r, json_type_array), "batch answer missing");
	ck_assert_uint_eq(json_object_array_length(r), 2);

	/* A write that ends one message and begins the next. */
	ck_assert_int_eq(it_send(fd, two, cut), 0);
	usleep(20000);
	ck_assert_int_eq(it_send(fd, two + cut, strlen(two) - cut), 0);
	r = it_keep(it_recvjson(fd, TIMEOUT_MS));
	ck_assert_int_eq(it_int(r, "id"), 3);
	r = it_keep(it_recvjson(fd, TIMEOUT_MS));
	ck_assert_int_eq(it_int(r, "id"), 4);
}
END_TEST

/* A daemon.status request of exactly len bytes (LF not counted), padded with spaces. */
static char *
padded_request(size_t len, int id)
{
	char head[64];
	int n = snprintf(head, sizeof(head),
	                 "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"daemon.status\"", id);
	char *line;

	ck_assert_uint_gt(len, (size_t)n + 1);
	line = malloc(len + 1);
	memcpy(line, head, (size_t)n);
	memset(line + n, ' ', len - (size_t)n - 1);
	line[len - 1] = '}';
	line[len] = '\0';
	return line;
}

/* A request whose line is len bytes, that would be an invalid-params error if it were read:
 * so a -32600 can only come from the limit. */
static char *
padded_param_request(size_t len)
{
	static const char head[] =
	    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"daemon.status\",\"params\":{\"pad\":\"";
	char *line = malloc(len + 2); /* room for an LF */
	size_t n = strlen(head);

	memcpy(line, head, n);
	memset(line + n, 'x', len - n - 3);
	memcpy(line + len - 3, "\"}}", 3);
	line[len] = '\0';
	return line;
}

/* Sends a line of len bytes over the limit and checks -32600 then the hang-up. */
static void
expect_too_long(int s, size_t len)
{
	char *line = it_keep_str(padded_param_request(len));
	struct json_object *r;

	/* The daemon may hang up before it has read it all: a failed send is fine. */
	line[len] = '\n';
	it_send(s, line, len + 1);
	r = it_recvjson(s, TIMEOUT_MS);
	expect_null_id_error(r, -32600);
	ck_assert_msg(it_wait_eof(s, TIMEOUT_MS), "the connection was not closed");
}

START_TEST(line_too_long_closes)
{
	int other = it_connect(&D), late;

	ck_assert_int_ge(other, 0);
	alive(other, 1);
	expect_too_long(fd, LIMIT + 1);
	/* The other connections are not affected, and new ones are served. */
	alive(other, 2);
	late = it_connect(&D);
	ck_assert_int_ge(late, 0);
	alive(late, 3);
	close(late);
	close(other);
}
END_TEST

START_TEST(line_far_too_long_closes)
{
	int other = it_connect(&D);

	ck_assert_int_ge(other, 0);
	expect_too_long(fd, 3 * LIMIT);
	alive(other, 2);
	close(other);
}
END_TEST

START_TEST(unterminated_too_long_closes)
{
	/* Never an LF: the daemon must not wait for one beyond the limit. */
	static const char head[] =
	    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"daemon.status\",\"x\":\"";
	char chunk[4096];
	size_t sent = 0;
	struct json_object *r;
	int other = it_connect(&D);

	ck_assert_int_ge(other, 0);
	memset(chunk, 'x', sizeof(chunk));
	ck_assert_int_eq(it_send(fd, head, strlen(head)), 0);
	sent = strlen(head);
	while (sent <= LIMIT + sizeof(chunk)) {
		if (it_send(fd, chunk, sizeof(chunk)) < 0)
			break; /* already hung up: fine */
		sent += sizeof(chunk);
	}
	r = it_recvjson(fd, TIMEOUT_MS);
	expect_null_id_error(r, -32600);
	ck_assert_msg(it_wait_eof(fd, TIMEOUT_MS), "the connection was not closed");
	alive(other, 2);
	close(other);
}
END_TEST

START_TEST(line_at_limit)
{
	char *line = it_keep_str(padded_request(LIMIT, 11));
	struct json_object *r;

	ck_assert_uint_eq(strlen(line), LIMIT);
	r = it_keep(raw(fd, line));
	ck_assert_msg(!it_result_mismatch(r), "%s", it_result_mismatch(r));
	ck_assert_int_eq(it_int(r, "id"), 11);
	/* The same, with the LF arriving in a later write. */
	line[LIMIT - 1] = '}';
	ck_assert_int_eq(it_send(fd, line, LIMIT), 0);
	usleep(50000);
	ck_assert_int_eq(it_send(fd, "\n", 1), 0);
	r = it_keep(it_recvjson(fd, TIMEOUT_MS));
	ck_assert_msg(!it_result_mismatch(r), "%s", it_result_mismatch(r));
	ck_assert_int_eq(it_int(r, "id"), 11);
	alive(fd, 12);
}
END_TEST

START_TEST(configured_limit)
{
	struct it_daemon e;
	char cfg[256], *line;
	struct json_object *r;
	int s, other;

	ck_assert_int_eq(it_prepare(&e), 0);
	ck_assert_int_eq(
	    it_write_file(&e, "pasidd.conf", "[Daemon]\nMaxMessageSize=2048\n", cfg, sizeof(cfg)),
	    0);
	ck_assert_int_eq(it_restart(&e, "--config", cfg, NULL), 0);
	s = it_connect(&e);
	other = it_connect(&e);
	ck_assert_int_ge(s, 0);
	ck_assert_int_ge(other, 0);
	/* 2048 bytes: served. */
	line = it_keep_str(padded_request(2048, 21));
	r = it_keep(raw(s, line));
	ck_assert_msg(!it_result_mismatch(r), "%s", it_result_mismatch(r));
	ck_assert_int_eq(it_int(r, "id"), 21);
	/* 2049 bytes: refused and closed; the old 64 KiB limit no longer applies. */
	expect_too_long(s, 2049);
	alive(other, 22);
	close(s);
	close(other);
	it_cleanup(&e);
}
END_TEST

START_TEST(responses_one_line_each)
{
	/* A big response (rpc.discover) and a batch answer are each exactly one line: the
	 * line after them is the next response. */
	ck_assert_int_eq(
	    it_sendline(fd, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"rpc.discover\"}"), 0);
	ck_assert_int_eq(it_sendline(fd, "[{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"vm.list\"},"
	                                 "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"vm.list\"}]"),
	                 0);
	ck_assert_int_eq(it_sendline(fd, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"vm.list\"}"),
	                 0);
	ck_assert_int_eq(it_int(it_keep(it_recvjson(fd, TIMEOUT_MS)), "id"), 1);
	ck_assert_uint_eq(json_object_array_length(it_keep(it_recvjson(fd, TIMEOUT_MS))), 2);
	ck_assert_int_eq(it_int(it_keep(it_recvjson(fd, TIMEOUT_MS)), "id"), 4);
}
END_TEST

/* ---- rpc.discover ---- */

static const char *const served[] = {
    "rpc.discover",  "daemon.status",   "vm.register",    "vm.unregister",  "vm.list",
    "vm.show",       "device.assign",   "device.release", "pasid.alloc",    "pasid.free",
    "pasid.lookup",  "pasid.list",      "pasid.attach",   "pasid.detach",   "quota.get",
    "quota.set",     "wq.list",         "wq.configure",   "daemon.metrics", "config.reload",
    "vm.export",     "vm.import",       "device.attach",  "device.detach",  "events.subscribe",
    "range.reserve", "range.unreserve", "range.list",
};

/* Methods DESIGN.md names that this version may not serve yet, and made-up ones. */
static const char *const others[] = {
    "range.nosuch", "vm.nosuch", "rpc.nosuch", "pasid", "rpc.discover.x",
};

static bool
described(struct json_object *methods, const char *name)
{
	for (size_t i = 0; i < json_object_array_length(methods); i++)
		if (!strcmp(it_str(json_object_array_get_idx(methods, i), "name"), name))
			return true;
	return false;
}

START_TEST(discover_document)
{
	struct json_object *doc = OK(it_call(fd, "rpc.discover", NULL));
	struct json_object *methods = it_get(doc, "methods");
	size_t n;

	ck_assert_msg(json_object_is_type(doc, json_type_object), "not an object");
	ck_assert_str_eq(it_str(doc, "openrpc"), "1.2.6");
	ck_assert_msg(json_object_is_type(it_get(doc, "info.title"), json_type_string),
	              "info.title");
	ck_assert_msg(json_object_is_type(it_get(doc, "info.version"), json_type_string),
	              "info.version");
	ck_assert_msg(json_object_is_type(methods, json_type_array), "methods is not an array");
	n = json_object_array_length(methods);
	for (size_t i = 0; i < n; i++) {
		struct json_object *m = json_object_array_get_idx(methods, i);
		const char *name = it_str(m, "name");

		ck_assert_msg(json_object_is_type(it_get(m, "name"), json_type_string),
		              "method %zu has no name", i);
		ck_assert_msg(json_object_is_type(it_get(m, "params"), json_type_array),
		              "%s: params is not an array", name);
		ck_assert_msg(json_object_is_type(it_get(m, "result"), json_type_object),
		              "%s: result is not an object", name);
		for (size_t j = 0; j < i; j++)
			ck_assert_str_ne(it_str(json_object_array_get_idx(methods, j), "name"),
			                 name);
	}
	/* Described = the served set, exactly. */
	ck_assert_uint_eq(n, sizeof(served) / sizeof(served[0]));
	for (size_t i = 0; i < sizeof(served) / sizeof(served[0]); i++)
		ck_assert_msg(described(methods, served[i]), "%s is not described", served[i]);
	/* params can be empty, but not positional. */
	ERR(it_call(fd, "rpc.discover", "[]"), -32602, "params");
	ERR(it_call(fd, "rpc.discover", "{\"x\":1}"), -32602, "x");
}
END_TEST

START_TEST(discover_one_source_of_truth)
{
	struct json_object *doc = OK(it_call(fd, "rpc.discover", "{}"));
	struct json_object *methods = it_get(doc, "methods");

	/* Every described method is served... */
	ck_assert_msg(json_object_array_length(methods) > 0, "rpc.discover describes no method");
	for (size_t i = 0; i < json_object_array_length(methods); i++) {
		const char *name = it_str(json_object_array_get_idx(methods, i), "name");
		struct json_object *r = it_keep(it_call(fd, name, NULL));

		ck_assert_msg(r, "no answer to %s", name);
		ck_assert_int_ne(it_errcode(r), -32601);
	}
	/* ...and a method not described is not. */
	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		struct json_object *r = it_keep(it_call(fd, others[i], NULL));

		ck_assert_msg(r, "no answer to %s", others[i]);
		if (described(methods, others[i]))
			ck_assert_int_ne(it_errcode(r), -32601);
		else
			ck_assert_msg(!it_error_mismatch(r, -32601, ""), "%s: %s", others[i],
			              it_error_mismatch(r, -32601, ""));
	}
}
END_TEST

static Suite *
rpc_suite(void)
{
	Suite *s = suite_create("rpc");
	TCase *tc;

	tc = tcase_create("errors");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, parse_error_broken_json);
	tcase_add_test(tc, parse_error_nonstandard_numbers);
	tcase_add_test(tc, parse_error_raw_control_chars);
	tcase_add_test(tc, parse_error_invalid_utf8);
	tcase_add_test(tc, parse_error_trailing_garbage);
	tcase_add_test(tc, invalid_request_not_object);
	tcase_add_test(tc, invalid_request_bare_numbers);
	tcase_add_test(tc, invalid_request_jsonrpc);
	tcase_add_test(tc, invalid_request_method);
	tcase_add_test(tc, invalid_request_id_type);
	tcase_add_test(tc, invalid_request_params_type);
	tcase_add_test(tc, method_not_found);
	tcase_add_test(tc, method_name_with_nul);
	tcase_add_test(tc, invalid_params);
	suite_add_tcase(s, tc);

	tc = tcase_create("batch");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, batch_empty);
	tcase_add_test(tc, batch_invalid_items);
	tcase_add_test(tc, batch_mixed);
	tcase_add_test(tc, batch_of_requests);
	tcase_add_test(tc, batch_all_notifications);
	tcase_add_test(tc, notification_no_reply);
	suite_add_tcase(s, tc);

	tc = tcase_create("ids");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, ids_echoed);
	suite_add_tcase(s, tc);

	tc = tcase_create("framing");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, blank_lines_ignored);
	tcase_add_test(tc, several_messages_one_write);
	tcase_add_test(tc, split_byte_by_byte);
	tcase_add_test(tc, line_too_long_closes);
	tcase_add_test(tc, line_far_too_long_closes);
	tcase_add_test(tc, unterminated_too_long_closes);
	tcase_add_test(tc, line_at_limit);
	tcase_add_test(tc, configured_limit);
	tcase_add_test(tc, responses_one_line_each);
	suite_add_tcase(s, tc);

	tc = tcase_create("discover");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, discover_document);
	tcase_add_test(tc, discover_one_source_of_truth);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return ck_run(rpc_suite());
}
