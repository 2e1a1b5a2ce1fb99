/* render.c: the answers written as text (render_mapping_text, render_mapping_list, what
 * pasid.alloc and the lookups send, and render_result, every successful answer's envelope) are byte
 * for byte what json-c prints for the mapping built as an object tree (render_mapping, which an
 * error's data uses), as the daemon prints it (proto_serialize): for every kind of mapping (shared,
 * local with its device, with a work queue, with attachments, lost ones) and VM names made of every
 * character a name may hold. Names that would need escaping never get that far: the namespace
 * refuses them. */
#include <check.h>

#include "ck_main.h"
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backends.h"
#include "namespace.h"
#include "pasid-proto.h"
#include "render.h"

#define BDF_SHARED 0x0100 /* 0000:01:00.0 */
#define BDF_LOCAL  0x0208 /* 0000:02:01.0 */

static struct ns ns;
static struct backend *be;
static const struct ns_owner owner = {.pid = 1, .starttime = 1, .uid = 0};

static void
setup(void)
{
	struct ns_config cfg = {.pasid_bits = 20, .local = {1, 4095}, .shared = {4096, 524287}};
	char why[160];

	ck_assert_int_eq(backend_open("sim", &be, why, sizeof(why)), 0);
	ck_assert_int_eq(ns_init(&ns, &cfg, be), 0);
}

static void
teardown(void)
{
	ns_destroy(&ns);
	backend_close(be);
}

/* What json-c prints for o; o released. The daemon sends a rendered value's own text
 * (render_print): it must be the same, byte for byte. */
static char *
printed(struct json_object *o)
{
	size_t len, rlen = 0;
	const char *text, *raw;
	char *s;

	ck_assert_ptr_nonnull(o);
	raw = render_text(o, &rlen);
	text = proto_serialize(o, &len); /* before len is read */
	if (raw)
		ck_assert_msg(rlen == len && !memcmp(raw, text, len), "sent %.*s, printed %.*s",
		              (int)rlen, raw, (int)len, text);
	s = strndup(text, len);
	json_object_put(o);
	return s;
}

/* Text and tree print the same, with and without the VM, alone and in a list. */
static void
assert_same(struct ns_mapping *m)
{
	for (int with_vm = 0; with_vm < 2; with_vm++) {
		char *tree = printed(render_mapping(m, with_vm)), *text, *list, want[4096];

		text = printed(render_mapping_text(m, with_vm));
		ck_assert_str_eq(text, tree);
		list = printed(render_mapping_list(&m, 1, with_vm));
		snprintf(want, sizeof(want), "[%s]", tree);
		ck_assert_str_eq(list, want);
		free(tree);
		free(text);
		free(list);
	}
}

static struct ns_vm *
mkvm(const char *name, enum ns_mode mode)
{
	struct ns_vm *vm;
	struct ns_err err;

	ck_assert_int_eq(ns_vm_create(&ns, name, "00000000-0000-4000-8000-000000000000", mode,
	                              &owner, "/", -1, &vm, &err),
	                 0);
	return vm;
}

static struct ns_mapping *
alloc(struct ns_vm *vm, enum ns_type type, uint32_t bdf, int64_t gpasid, const char *wq)
{
	struct ns_alloc_req req = {
	    .type = type, .bdf = bdf, .gpasid = gpasid, .count = 1, .wq = wq};
	struct ns_mapping *m;
	struct ns_err err;

	ck_assert_msg(ns_alloc(&ns, vm, &req, &m, &err) == 0, "alloc: %s", err.message);
	return m;
}

START_TEST(every_kind_of_mapping)
{
	struct ns_vm *t = mkvm("vm-1", NS_MODE_TRANSLATED), *id = mkvm("id", NS_MODE_IDENTITY);
	struct ns_mapping *m;
	struct ns_err err;

	ck_assert_int_eq(ns_device_assign(&ns, t, BDF_SHARED, true, &err), 0);
	ck_assert_int_eq(ns_device_assign(&ns, t, BDF_LOCAL, false, &err), 0);
	assert_same(alloc(t, NS_TYPE_SHARED, 0, -1, NULL));
	assert_same(alloc(t, NS_TYPE_SHARED, 0, 100, NULL));
	assert_same(alloc(t, NS_TYPE_SHARED, 0, 4095, NULL));
	assert_same(alloc(t, NS_TYPE_SHARED, 0, -1, "dsa0/wq0.1"));
	assert_same(alloc(t, NS_TYPE_LOCAL, BDF_LOCAL, -1, NULL));
	assert_same(alloc(id, NS_TYPE_SHARED, 0, -1, NULL));
	/* Attached, once with its descriptors and once without them ("lost"). */
	m = alloc(t, NS_TYPE_SHARED, 0, 77, NULL);
	for (int i = 0; i < 2; i++) {
		int p[2], q[2];
		struct backend_attach a = {.bdf = BDF_SHARED, .pt_id = 4294967295u, .dev_id = 0};

		ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
		ck_assert_int_eq(pipe2(q, O_CLOEXEC), 0);
		close(p[0]);
		close(q[0]);
		a.iommufd = p[1];
		a.devfd = q[1];
		ck_assert_int_eq(ns_attach(&ns, t, m->gpasid, &a, &err), 0);
		assert_same(m);
		if (i == 0) {
			ck_assert_int_eq(ns_detach(&ns, t, m->gpasid, BDF_SHARED, &err), 0);
		} else {
			struct backend_attach *att = ns_attachment(m, BDF_SHARED);

			close(att->iommufd);
			att->iommufd = -1;
			assert_same(m);
		}
	}
}
END_TEST

/* Every character a VM name may hold, in the middle and at the end of one; the
 * characters that JSON escapes are refused by the namespace, so never printed raw. */
START_TEST(every_name_character)
{
	static const char allowed[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	                              "0123456789._:@+-";
	static const char *const refused[] = {"a\"b", "a\\b", "a/b",      "a b",
	                                      "a\tb", "\x01", "\xc3\xa9", "a\x7f"};
	struct ns_err err;
	struct ns_vm *vm;

	for (size_t i = 0; i + 1 < sizeof(allowed); i++) {
		char name[8];

		snprintf(name, sizeof(name), "x%cy%c", allowed[i], allowed[i]);
		vm = mkvm(name, NS_MODE_TRANSLATED);
		assert_same(alloc(vm, NS_TYPE_SHARED, 0, (int64_t)i + 1, NULL));
	}
	/* All of them in names of the longest length. */
	for (size_t i = 0; i + 1 < sizeof(allowed); i += NS_VM_NAME_MAX - 1) {
		char name[NS_VM_NAME_MAX + 1];

		snprintf(name, sizeof(name), "z%.*s", NS_VM_NAME_MAX - 1, allowed + i);
		vm = mkvm(name, NS_MODE_TRANSLATED);
		assert_same(alloc(vm, NS_TYPE_SHARED, 0, -1, NULL));
	}
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		ck_assert_int_lt(ns_vm_create(&ns, refused[i],
		                              "00000000-0000-4000-8000-000000000000",
		                              NS_MODE_TRANSLATED, &owner, "/", -1, &vm, &err),
		                 0);
}
END_TEST

/* A result of each kind, made afresh (the answer takes it over). */
static struct json_object *
result_of(int kind, struct ns_mapping *m)
{
	struct json_object *o;

	switch (kind) {
	case 0:
		return NULL;
	case 1:
		return render_mapping_text(m, false);
	case 2:
		return render_mapping_list(&m, 1, true);
	case 3:
		o = json_object_new_object();
		json_object_object_add(o, "name",
		                       json_object_new_string("a\"b\\c/d\n\x01\xc3\xa9"));
		json_object_object_add(o, "n", json_object_new_int64(-5));
		json_object_object_add(o, "x", json_object_new_double(0.1));
		json_object_object_add(o, "list", json_object_new_array());
		json_object_object_add(o, "none", NULL);
		return o;
	default:
		return json_object_new_array();
	}
}

/* A successful answer printed at once (render_result) is byte for byte the envelope json-c
 * builds and prints (proto_result_new, proto_serialize): for ids of every kind a request can
 * carry, as the daemon parses them (including those it echoes from the request's text), and
 * results of every kind. */
START_TEST(answer_as_envelope)
{
	static const char *const ids[] = {"1",
	                                  "0",
	                                  "-1",
	                                  "9223372036854775807",
	                                  "-9223372036854775808",
	                                  "18446744073709551615",
	                                  "99999999999999999999999",
	                                  "-0",
	                                  "1.50",
	                                  "1e5",
	                                  "-0.0",
	                                  "2.5E-3",
	                                  "\"\"",
	                                  "\"abc\"",
	                                  "\"a/b\\\\c\\\"d\\u0000e\\n\\t\\u001f\"",
	                                  "\"\\u00e9\xe2\x82\xac\xf0\x9f\x98\x80\"",
	                                  "\"\\ud83d\\ude00\"",
	                                  "null"};
	struct ns_vm *vm = mkvm("vm-1", NS_MODE_TRANSLATED);
	struct ns_mapping *m = alloc(vm, NS_TYPE_SHARED, 0, -1, "dsa0/wq0.1");

	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		char req[256];
		struct json_object *msg, *id = NULL;

		snprintf(req, sizeof(req), "{\"id\":%s}", ids[i]);
		ck_assert_msg(proto_parse(req, strlen(req), &msg) == 0, "%s", req);
		json_object_object_get_ex(msg, "id", &id);
		/* As rpc.c keeps an id json-c would change: echoed from the text. */
		if (i == 6 || i == 7)
			json_object_set_serializer(id, json_object_userdata_to_json_string,
			                           strdup(ids[i]), json_object_free_userdata);
		for (int kind = 0; kind < 5; kind++) {
			struct json_object *r = result_of(kind, m);
			char *want =
			    printed(proto_result_new(id, r ? r : json_object_new_object()));
			char *got = printed(render_result(id, result_of(kind, m)));

			ck_assert_str_eq(got, want);
			free(want);
			free(got);
		}
		json_object_put(msg);
	}
}
END_TEST

/* Only what render made passes for rendered text: never a value of json-c's, even one with
 * userdata of its own (a parsed double keeps its text there) or of rpc.c's (an echoed id). */
START_TEST(only_rendered_values_have_text)
{
	struct ns_vm *vm = mkvm("vm-1", NS_MODE_TRANSLATED);
	struct ns_mapping *m = alloc(vm, NS_TYPE_SHARED, 0, -1, NULL);
	struct json_object *msg, *v, *id = json_object_new_int64(0);
	struct json_object *mine[] = {render_mapping_text(m, true),
	                              render_mapping_list(&m, 1, false), render_result(id, NULL)};
	const char *req = "{\"d\":1.50,\"t\":true,\"f\":false,\"o\":{},\"a\":[],\"s\":\"x\"}";
	static const char *const keys[] = {"d", "t", "f", "o", "a", "s"};
	size_t len;

	ck_assert_ptr_null(render_text(NULL, &len));
	ck_assert_int_eq(proto_parse(req, strlen(req), &msg), 0);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		ck_assert(json_object_object_get_ex(msg, keys[i], &v));
		ck_assert_msg(!render_text(v, &len), "%s", keys[i]);
	}
	json_object_set_serializer(id, json_object_userdata_to_json_string, strdup("-0"),
	                           json_object_free_userdata);
	ck_assert_ptr_null(render_text(id, &len));
	for (size_t i = 0; i < sizeof(mine) / sizeof(mine[0]); i++) {
		const char *t = render_text(mine[i], &len);

		ck_assert_ptr_nonnull(t);
		ck_assert_uint_eq(len, strlen(t));
		ck_assert_str_eq(render_print(mine[i], &len), t);
		json_object_put(mine[i]);
	}
	ck_assert_str_eq(render_print(msg, &len), "{\"d\":1.50,\"t\":true,\"f\":false,\"o\":{},"
	                                          "\"a\":[],\"s\":\"x\"}");
	json_object_put(id);
	json_object_put(msg);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("render");
	TCase *tc = ck_case(s, "text", setup, teardown, 0);

	tcase_add_test(tc, every_kind_of_mapping);
	tcase_add_test(tc, every_name_character);
	tcase_add_test(tc, answer_as_envelope);
	tcase_add_test(tc, only_rendered_values_have_text);
	return ck_main(s, NULL);
}
