/* proto/codec.c: strict parsing, envelopes, line framing. */
#include <check.h>

#include "ck_main.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pasid-proto.h"

static int
parse(const char *s)
{
	struct json_object *o;
	int r = proto_parse(s, strlen(s), &o);

	json_object_put(o);
	return r;
}

START_TEST(parse_strict)
{
	ck_assert_int_eq(parse("{\"a\":1}"), 0);
	ck_assert_int_eq(parse("  [1,2]  \r"), 0);
	ck_assert_int_eq(parse("1"), 0);
	ck_assert_int_eq(parse("\"x\""), 0);
	ck_assert_int_eq(parse("{\"a\":1} x"), -EBADMSG);
	ck_assert_int_eq(parse("{\"a\":1}{}"), -EBADMSG);
	ck_assert_int_eq(parse("{'a':1}"), -EBADMSG);
	ck_assert_int_eq(parse("['a']"), -EBADMSG);
	ck_assert_int_eq(parse("[\"it's\", \"\\\"'\"]"), 0);
	ck_assert_int_eq(parse("[1,]"), -EBADMSG);
	ck_assert_int_eq(parse("{\"a\":01}"), -EBADMSG);
	ck_assert_int_eq(parse("\"\xff\""), -EBADMSG);
	ck_assert_int_eq(parse("/* c */ 1"), -EBADMSG);
	ck_assert_int_eq(parse(""), -EBADMSG);
	ck_assert_int_eq(parse("{"), -EBADMSG);
	ck_assert_int_eq(proto_parse("{\"a\":1}\0", 8, &(struct json_object *){NULL}), -EBADMSG);
	ck_assert_int_eq(parse("123"), 0);
	ck_assert_int_eq(parse("null"), 0);
	ck_assert_int_eq(parse(" true "), 0);
	/* what json-c alone would let through */
	ck_assert_int_eq(parse("[NaN]"), -EBADMSG);
	ck_assert_int_eq(parse("[Infinity]"), -EBADMSG);
	ck_assert_int_eq(parse("[1.]"), -EBADMSG);
	ck_assert_int_eq(parse("[.5]"), -EBADMSG);
	ck_assert_int_eq(parse("[1.e5]"), -EBADMSG);
	ck_assert_int_eq(parse("[+1]"), -EBADMSG);
	ck_assert_int_eq(parse("[\"a\tb\"]"), -EBADMSG);
	ck_assert_int_eq(parse("[\"\x01\"]"), -EBADMSG);
	ck_assert_int_eq(parse("[\"\xc0\xaf\"]"), -EBADMSG);     /* overlong */
	ck_assert_int_eq(parse("[\"\xed\xa0\x80\"]"), -EBADMSG); /* surrogate */
	ck_assert_int_eq(parse("[\"\xf4\x90\x80\x80\"]"), -EBADMSG);
	ck_assert_int_eq(parse("[\"\xe2\x82\"]"), -EBADMSG);
	/* (json-c does not check UTF-8 again: check_json is the one check, names included) */
	ck_assert_int_eq(parse("{\"\xff\":1}"), -EBADMSG);
	ck_assert_int_eq(parse("{\"a\xc3\":1}"), -EBADMSG);
	ck_assert_int_eq(parse("[\"a\"]\xc3\xa9"), -EBADMSG);
	ck_assert_int_eq(parse("[\"\x80\"]"), -EBADMSG);
	ck_assert_int_eq(parse("[\"\xf8\x88\x80\x80\x80\"]"), -EBADMSG);
	ck_assert_int_eq(parse("{\"\xc3\xa9\":\"\xf0\x9f\x98\x80\"}"), 0);
	ck_assert_int_eq(parse("[\"\\x\"]"), -EBADMSG);
	ck_assert_int_eq(parse("[\"\\u12g4\"]"), -EBADMSG);
	ck_assert_int_eq(parse("[\"\xe2\x82\xac \xf0\x9f\x98\x80 \\u00e9\"]"), 0);
	ck_assert_int_eq(parse("[1e+5, -0.5E-3, 0]"), 0);
	ck_assert_int_eq(parse("{\"vm\\u0000x\":1}"), -EILSEQ);
	ck_assert_int_eq(parse("{\"a\":{\"\\u0000\":1}}"), -EILSEQ);
	ck_assert_int_eq(parse("{\"vm\":\"a\\u0000x\"}"), 0); /* values: the methods refuse */
	ck_assert_int_eq(parse("{\"a\\\\u0000\":1}"), 0);     /* an escaped backslash */
	ck_assert_int_eq(parse("-1.5e3 "), 0);
	/* repeated member names, at any depth, however written */
	ck_assert_int_eq(parse("{\"a\":1,\"a\":2}"), -ENOTUNIQ);
	ck_assert_int_eq(parse("[{\"x\":{}},{\"p\":{\"b\":1,\"c\":{\"d\":[{\"e\":1,\"e\":1}]}}}]"),
	                 -ENOTUNIQ);
	ck_assert_int_eq(parse("{\"a\":1,\"\\u0061\":2}"), -ENOTUNIQ);
	ck_assert_int_eq(parse("{\"a\":{\"b\":1},\"a\":{\"b\":1}}"), -ENOTUNIQ);
	ck_assert_int_eq(parse("{\"a\":\"{:}\",\"b\":{\"a\":1},\"c\":[{},{\":\":2}]}"), 0);
	/* nesting deeper than the tokener's limit is an error, not a crash */
	char deep[4001];
	memset(deep, '[', 4000);
	deep[4000] = '\0';
	ck_assert_int_eq(parse(deep), -EBADMSG);
}
END_TEST

/* One tokener for message after message (as the daemon parses): each result and each error
 * as a fresh tokener gives it, also right after a message it refused or left unfinished. */
START_TEST(parse_with_one_tokener)
{
	static const char *const msgs[] = {
	    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"pasid.alloc\",\"params\":{\"vm\":\"a\"}}",
	    "{",
	    "1",
	    "[1,",
	    "{\"a\":1,\"a\":2}",
	    "\"x\"",
	    "{\"a\":[1,2,{\"b\":null}]}",
	    "[NaN]",
	    "null",
	    "123",
	    "{\"id\":99999999999999999999999,\"x\":1.50}",
	    "[\"",
	    "{\"vm\\u0000x\":1}",
	    "{\"id\":-0,\"f\":1e5,\"s\":\"\\u00e9\\n\"}",
	    "true",
	};
	struct json_tokener *tok = json_tokener_new();

	ck_assert_ptr_nonnull(tok);
	for (int round = 0; round < 3; round++) {
		for (size_t i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
			struct json_object *a, *b;
			int ra = proto_parse(msgs[i], strlen(msgs[i]), &a);
			int rb = proto_parse_with(tok, msgs[i], strlen(msgs[i]), &b);

			ck_assert_int_eq(rb, ra);
			ck_assert_str_eq(json_object_to_json_string(b),
			                 json_object_to_json_string(a));
			json_object_put(a);
			json_object_put(b);
		}
	}
	json_tokener_free(tok);
}
END_TEST

START_TEST(envelopes)
{
	struct json_object *id = json_object_new_string("x");
	struct json_object *r = proto_error_new(id, PROTO_E_NOT_FOUND, "no", NULL);
	size_t len;

	ck_assert_str_eq(
	    proto_serialize(r, &len),
	    "{\"jsonrpc\":\"2.0\",\"id\":\"x\",\"error\":{\"code\":1003,\"message\":\"no\","
	    "\"data\":{\"reason\":\"not_found\"}}}");
	ck_assert_uint_eq(len, strlen(proto_serialize(r, NULL)));
	json_object_put(r);
	r = proto_result_new(NULL, json_object_new_string("a/b"));
	ck_assert_str_eq(proto_serialize(r, &len),
	                 "{\"jsonrpc\":\"2.0\",\"id\":null,\"result\":\"a/b\"}");
	json_object_put(r);
	r = proto_error_new(id, PROTO_E_INVALID_PARAMS, "bad", NULL);
	ck_assert_ptr_null(strstr(proto_serialize(r, &len), "reason"));
	json_object_put(r);
	json_object_put(id);
	for (int c = 1001; c <= 1008; c++)
		ck_assert_ptr_nonnull(proto_error_reason(c));
	ck_assert_ptr_null(proto_error_reason(1000));
	ck_assert_ptr_null(proto_error_reason(-32600));
	ck_assert_str_eq(proto_error_reason(1002), "quota_exceeded");
}
END_TEST

static void
feed(struct proto_linebuf *lb, const char *s)
{
	size_t n = strlen(s);

	memcpy(proto_linebuf_space(lb, n), s, n);
	proto_linebuf_commit(lb, n);
}

START_TEST(linebuf)
{
	struct proto_linebuf lb;
	const char *line;
	size_t len;

	proto_linebuf_init(&lb, 8);
	ck_assert_int_eq(proto_linebuf_next(&lb, &line, &len), 0);
	feed(&lb, "ab");
	ck_assert_int_eq(proto_linebuf_next(&lb, &line, &len), 0);
	feed(&lb, "c\nde\n\nf");
	ck_assert_int_eq(proto_linebuf_next(&lb, &line, &len), 1);
	ck_assert_uint_eq(len, 3);
	ck_assert(!memcmp(line, "abc", 3));
	ck_assert_int_eq(proto_linebuf_next(&lb, &line, &len), 1);
	ck_assert_uint_eq(len, 2);
	ck_assert_int_eq(proto_linebuf_next(&lb, &line, &len), 1);
	ck_assert_uint_eq(len, 0);
	ck_assert_int_eq(proto_linebuf_next(&lb, &line, &len), 0);
	feed(&lb, "2345678\n"); /* "f" was pending: a line of exactly the maximum */
	ck_assert_int_eq(proto_linebuf_next(&lb, &line, &len), 1);
	ck_assert_uint_eq(len, 8);
	ck_assert(!memcmp(line, "f2345678", 8));
	feed(&lb, "123456789");
	ck_assert_int_eq(proto_linebuf_next(&lb, &line, &len), -EMSGSIZE);
	proto_linebuf_free(&lb);
}
END_TEST

static void
raw_is(const char *msg, int index, const char *want)
{
	const char *at;
	size_t n;
	int r = proto_raw_member(msg, strlen(msg), index, "id", &at, &n);

	if (!want) {
		ck_assert_int_lt(r, 0);
		return;
	}
	ck_assert_int_eq(r, 0);
	ck_assert_uint_eq(n, strlen(want));
	ck_assert(!memcmp(at, want, n));
}

START_TEST(raw_member)
{
	raw_is("{\"id\":123456789012345678901234}", -1, "123456789012345678901234");
	raw_is(" { \"jsonrpc\" : \"2.0\" , \"idx\":1, \"id\" : -0 , \"method\":\"a\"}", -1, "-0");
	raw_is("{\"params\":{\"id\":5},\"id\":7}", -1, "7");
	raw_is("{\"a\":\"\\\"id\\\":9\",\"id\":8}", -1, "8");
	raw_is("{\"a\":[1,{\"id\":2}]}", -1, NULL);
	raw_is("[{\"id\":1},{\"x\":[\"]\"],\"id\":-12345678901234567890123}]", 1,
	       "-12345678901234567890123");
	raw_is("[{\"id\":1},2]", 1, NULL);
	raw_is("[{\"id\":1}]", 3, NULL);
	raw_is("{\"id\":\"x\"}", -1, "\"x\"");
}
END_TEST

START_TEST(openrpc_is_json)
{
	struct json_object *o;

	ck_assert_int_eq(proto_parse(proto_openrpc_json, strlen(proto_openrpc_json), &o), 0);
	ck_assert(json_object_is_type(o, json_type_object));
	json_object_put(o);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("codec");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, parse_strict);
	tcase_add_test(tc, parse_with_one_tokener);
	tcase_add_test(tc, envelopes);
	tcase_add_test(tc, linebuf);
	tcase_add_test(tc, openrpc_is_json);
	tcase_add_test(tc, raw_member);
	suite_add_tcase(s, tc);
	return ck_run(s);
}
