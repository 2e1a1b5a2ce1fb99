/* The method table (daemon/edge/methods.h) against proto/openrpc.json, the one description of
 * the protocol: the same methods, and for each the same params with the same required flags,
 * JSON types, integer bounds, choices and string kinds; what only an admin may do says
 * "Admin only"; and the errors the dispatcher itself gives (-32602, 1003 and 1005) are among
 * the method's documented errors. A param, a method, a bound or a choice added on one side
 * only is a failure; the last tests show that each is caught. */
#include <check.h>

#include "ck_main.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "methods.h"
#include "namespace.h"
#include "pasid-proto.h"

#define REF_PREFIX  "#/components/schemas/"
#define MAX_METHODS 64
#define MAX_PARAMS  16

struct diffs {
	unsigned n;
	char text[16384];
};

static void differ(struct diffs *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
differ(struct diffs *d, const char *fmt, ...)
{
	size_t used = strlen(d->text);
	va_list ap;

	d->n++;
	if (used + 2 >= sizeof(d->text))
		return;
	va_start(ap, fmt);
	vsnprintf(d->text + used, sizeof(d->text) - used - 1, fmt, ap);
	va_end(ap);
	strcat(d->text, "\n");
}

static struct json_object *
get(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	return json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static const char *
get_str(struct json_object *o, const char *key)
{
	struct json_object *v = get(o, key);

	return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

/* The member of an array of objects whose "name" is name. */
static struct json_object *
named(struct json_object *array, const char *name)
{
	for (size_t i = 0; i < json_object_array_length(array); i++) {
		struct json_object *o = json_object_array_get_idx(array, i);

		if (!strcmp(get_str(o, "name"), name))
			return o;
	}
	return NULL;
}

static struct json_object *
doc_method(struct json_object *doc, const char *name)
{
	return named(get(doc, "methods"), name);
}

static struct json_object *
doc_param(struct json_object *dm, const char *name)
{
	return named(get(dm, "params"), name);
}

/* A schema with its $ref followed into components/schemas; *ref the name it had, "" none. */
static struct json_object *
resolve(struct json_object *doc, struct json_object *schema, const char **ref)
{
	const char *r = get_str(schema, "$ref");

	*ref = "";
	if (!r)
		return schema;
	if (strncmp(r, REF_PREFIX, strlen(REF_PREFIX)))
		return NULL;
	*ref = r + strlen(REF_PREFIX);
	return get(get(get(doc, "components"), "schemas"), *ref);
}

/* What a parameter of the table is, over all the entries (forms) of one method. */
struct merged {
	const struct rpc_param *p;
	bool required; /* in every form */
};

struct method_view {
	const char *name;
	struct merged params[MAX_PARAMS];
	unsigned n;
	const char *admin;  /* the method is for admins */
	bool vm_must_exist; /* it acts on an existing VM of the peer's */
	bool any_param_admin;
};

/* The entries of one name merged: a form's params, required where every form requires
 * them. */
static void
merge(const struct rpc_method *table, const char *name, struct method_view *v, struct diffs *d)
{
	unsigned forms = 0, seen[MAX_PARAMS] = {0};

	memset(v, 0, sizeof(*v));
	v->name = name;
	for (const struct rpc_method *m = table; m->name; m++) {
		if (strcmp(m->name, name))
			continue;
		forms++;
		v->admin = v->admin ? v->admin : m->admin;
		v->vm_must_exist |= m->vm && !m->new_vm;
		for (const struct rpc_param *p = m->params; p->name; p++) {
			unsigned i = 0;

			while (i < v->n && strcmp(v->params[i].p->name, p->name))
				i++;
			if (i == v->n) {
				ck_assert_uint_lt(v->n, MAX_PARAMS);
				v->params[v->n++] = (struct merged){.p = p, .required = true};
			} else if (p->kind != v->params[i].p->kind ||
			           p->min != v->params[i].p->min || p->max != v->params[i].p->max) {
				differ(d, "%s: the forms disagree on '%s'", name, p->name);
			}
			v->params[i].required &= p->required;
			v->any_param_admin |= p->admin != NULL;
			seen[i]++;
		}
	}
	for (unsigned i = 0; i < v->n; i++)
		if (seen[i] < forms)
			v->params[i].required = false;
}

static void
check_int(struct diffs *d, const char *where, struct json_object *s, const struct rpc_param *p)
{
	struct json_object *lo = get(s, "minimum"), *hi = get(s, "maximum");
	int64_t min = lo ? json_object_get_int64(lo) : INT64_MIN;
	int64_t max = hi ? json_object_get_int64(hi) : INT64_MAX;

	if (strcmp(get_str(s, "type") ? get_str(s, "type") : "", "integer"))
		differ(d, "%s: the document's type is not integer", where);
	if (min != p->min || max != p->max)
		differ(d, "%s: the document says %lld..%lld, the table %lld..%lld", where,
		       (long long)min, (long long)max, (long long)p->min, (long long)p->max);
}

static void
check_enum(struct diffs *d, const char *where, struct json_object *s, const struct rpc_param *p)
{
	struct json_object *e = get(s, "enum");
	size_t n = 0;

	while (p->choices[n])
		n++;
	if (!json_object_is_type(e, json_type_array) || json_object_array_length(e) != n) {
		differ(d, "%s: the document's enum has other choices than the table's", where);
		return;
	}
	for (size_t i = 0; i < n; i++)
		if (strcmp(json_object_get_string(json_object_array_get_idx(e, i)), p->choices[i]))
			differ(d, "%s: choice %zu is '%s' in the document, '%s' in the table",
			       where, i, json_object_get_string(json_object_array_get_idx(e, i)),
			       p->choices[i]);
}

/* An integer in [min, max] or the string "max". */
static void
check_limit(struct diffs *d, const char *where, struct json_object *doc, struct json_object *s,
            const struct rpc_param *p)
{
	struct json_object *alts = get(s, "oneOf");
	bool word = false, number = false;

	for (size_t i = 0; i < json_object_array_length(alts); i++) {
		const char *ref, *type;
		struct json_object *a = resolve(doc, json_object_array_get_idx(alts, i), &ref);

		type = get_str(a, "type");
		if (type && !strcmp(type, "integer")) {
			check_int(d, where, a, p);
			number = true;
		} else if (type && !strcmp(type, "string") && get_str(a, "const") &&
		           !strcmp(get_str(a, "const"), "max")) {
			word = true;
		}
	}
	if (!word || !number || json_object_array_length(alts) != 2)
		differ(d, "%s: the document does not say an integer or \"max\"", where);
}

/* The schema of each kind of string: the one the document names for it. */
static const char *const string_refs[] = {
    [RPC_VM] = "VmName",     [RPC_BDF] = "BdfInput",        [RPC_UUID] = "UuidInput",
    [RPC_CGROUP] = "Cgroup", [RPC_CURSOR] = "Cursor",       [RPC_WQ] = "WqRef",
    [RPC_LABEL] = "WqLabel", [RPC_TEXT] = "ReservationWhy",
};

static void
check_schema(struct diffs *d, const char *method, struct json_object *doc, struct json_object *dp,
             const struct rpc_param *p)
{
	char where[128];
	const char *ref, *type;
	struct json_object *s = resolve(doc, get(dp, "schema"), &ref);

	snprintf(where, sizeof(where), "%s '%s'", method, p->name);
	if (!s) {
		differ(d, "%s: the document's schema does not resolve", where);
		return;
	}
	type = get_str(s, "type") ? get_str(s, "type") : "";
	switch (p->kind) {
	case RPC_BOOL:
	case RPC_FLAG:
		if (strcmp(type, "boolean"))
			differ(d, "%s: the document's type is %s, the table's boolean", where,
			       type);
		break;
	case RPC_INT:
	case RPC_FDS:
		check_int(d, where, s, p);
		break;
	case RPC_ENUM:
		if (strcmp(type, "string"))
			differ(d, "%s: the document's type is %s, the table's string", where, type);
		check_enum(d, where, s, p);
		break;
	case RPC_LIMIT:
		check_limit(d, where, doc, s, p);
		break;
	case RPC_OBJECT:
		if (strcmp(type, "object"))
			differ(d, "%s: the document's type is %s, the table's object", where, type);
		break;
	case RPC_SET: {
		const char *iref;
		struct json_object *items = resolve(doc, get(s, "items"), &iref);

		if (strcmp(type, "array") || !items)
			differ(d, "%s: the document's type is %s, the table's an array", where,
			       type);
		else
			check_enum(d, where, items, p);
		break;
	}
	default:
		if (strcmp(type, "string") || strcmp(ref, string_refs[p->kind]))
			differ(d, "%s: the document says %s %s, the table a %s", where, type,
			       ref[0] ? ref : "(no $ref)", string_refs[p->kind]);
		break;
	}
}

static bool
admin_only(struct json_object *o)
{
	const char *s = get_str(o, "description");

	return s && strstr(s, "Admin only");
}

static bool
lists_error(struct json_object *dm, const char *name)
{
	struct json_object *errors = get(dm, "errors");
	char ref[96];

	snprintf(ref, sizeof(ref), "#/components/errors/%s", name);
	for (size_t i = 0; i < json_object_array_length(errors); i++)
		if (!strcmp(get_str(json_object_array_get_idx(errors, i), "$ref"), ref))
			return true;
	return false;
}

static void
check_params(struct diffs *d, struct json_object *doc, struct json_object *dm,
             const struct method_view *v)
{
	struct json_object *params = get(dm, "params");

	for (size_t i = 0; i < json_object_array_length(params); i++) {
		const char *name = get_str(json_object_array_get_idx(params, i), "name");
		unsigned k = 0;

		while (k < v->n && strcmp(v->params[k].p->name, name))
			k++;
		if (k == v->n)
			differ(d, "%s: param '%s' is in the document, not in the table", v->name,
			       name);
	}
	for (unsigned k = 0; k < v->n; k++) {
		const struct rpc_param *p = v->params[k].p;
		struct json_object *dp = doc_param(dm, p->name), *req;

		if (!dp) {
			differ(d, "%s: param '%s' is in the table, not in the document", v->name,
			       p->name);
			continue;
		}
		req = get(dp, "required");
		if ((req && json_object_get_boolean(req)) != v->params[k].required)
			differ(d, "%s '%s': required is %s in the table", v->name, p->name,
			       v->params[k].required ? "true" : "false");
		if ((p->admin != NULL) != admin_only(dp))
			differ(d, "%s '%s': the table and the document disagree on Admin only",
			       v->name, p->name);
		check_schema(d, v->name, doc, dp, p);
	}
}

static void
check_method(struct diffs *d, struct json_object *doc, const struct method_view *v)
{
	struct json_object *dm = doc_method(doc, v->name);
	const char *structure;

	if (!dm) {
		differ(d, "method %s is in the table, not in the document", v->name);
		return;
	}
	structure = get_str(dm, "paramStructure");
	if (!structure || strcmp(structure, "by-name"))
		differ(d, "%s: the dispatcher takes params by name only", v->name);
	if ((v->admin != NULL) != admin_only(dm))
		differ(d, "%s: the table and the document disagree on Admin only", v->name);
	if (!lists_error(dm, "InvalidParams"))
		differ(d, "%s: does not list InvalidParams", v->name);
	if (v->vm_must_exist && !lists_error(dm, "NotFound"))
		differ(d, "%s: acts on an existing VM but does not list NotFound", v->name);
	if ((v->vm_must_exist || v->admin || v->any_param_admin) &&
	    !lists_error(dm, "PermissionDenied"))
		differ(d, "%s: may be refused with 1005 but does not list PermissionDenied",
		       v->name);
	check_params(d, doc, dm, v);
}

/* Every difference between a table and a document. */
static void
compare(const struct rpc_method *table, struct json_object *doc, struct diffs *d)
{
	struct json_object *methods = get(doc, "methods");

	for (const struct rpc_method *m = table; m->name; m++) {
		struct method_view v;
		bool first = true;

		for (const struct rpc_method *e = table; e < m && first; e++)
			first = strcmp(e->name, m->name) != 0;
		if (!first)
			continue;
		merge(table, m->name, &v, d);
		check_method(d, doc, &v);
	}
	for (size_t i = 0; i < json_object_array_length(methods); i++) {
		const char *name = get_str(json_object_array_get_idx(methods, i), "name");
		const struct rpc_method *m = table;

		while (m->name && strcmp(m->name, name))
			m++;
		if (!m->name)
			differ(d, "method %s is in the document, not in the table", name);
	}
}

static struct json_object *
load_doc(void)
{
	struct json_object *doc = json_tokener_parse(proto_openrpc_json);

	ck_assert_ptr_nonnull(doc);
	return doc;
}

START_TEST(table_matches_document)
{
	struct json_object *doc = load_doc();
	struct diffs d = {0};

	compare(rpc_methods, doc, &d);
	ck_assert_msg(d.n == 0, "the table and proto/openrpc.json differ:\n%s", d.text);
	json_object_put(doc);
}
END_TEST

static const struct rpc_param *
table_param(const char *method, const char *name)
{
	for (const struct rpc_method *m = rpc_methods; m->name; m++)
		for (const struct rpc_param *p = m->params; !strcmp(m->name, method) && p->name;
		     p++)
			if (!strcmp(p->name, name))
				return p;
	ck_abort_msg("no param %s of %s in the table", name, method);
	return NULL;
}

/* Choices are read as indexes into the core's enums. */
START_TEST(choices_follow_the_core)
{
	const struct rpc_param *type = table_param("pasid.alloc", "type");
	const struct rpc_param *list_type = table_param("pasid.list", "type");
	const struct rpc_param *mode = table_param("vm.register", "mode");

	ck_assert_str_eq(type->choices[NS_TYPE_SHARED], ns_type_name(NS_TYPE_SHARED));
	ck_assert_str_eq(type->choices[NS_TYPE_LOCAL], ns_type_name(NS_TYPE_LOCAL));
	ck_assert_ptr_null(type->choices[2]);
	ck_assert_ptr_eq(list_type->choices, type->choices);
	ck_assert_str_eq(mode->choices[NS_MODE_TRANSLATED], ns_mode_name(NS_MODE_TRANSLATED));
	ck_assert_str_eq(mode->choices[NS_MODE_IDENTITY], ns_mode_name(NS_MODE_IDENTITY));
	ck_assert_ptr_null(mode->choices[2]);
}
END_TEST

/* ---- each kind of drift is caught ---- */

static struct json_object *
method_params(struct json_object *doc, const char *method)
{
	struct json_object *dm = doc_method(doc, method);

	ck_assert_ptr_nonnull(dm);
	return get(dm, "params");
}

/* The differences after `change` edits a fresh copy of the document. */
static unsigned
drift_in_document(void (*change)(struct json_object *doc))
{
	struct json_object *doc = load_doc();
	struct diffs d = {0};

	change(doc);
	compare(rpc_methods, doc, &d);
	json_object_put(doc);
	return d.n;
}

static void
add_param(struct json_object *doc)
{
	json_object_array_add(
	    method_params(doc, "vm.show"),
	    json_tokener_parse("{\"name\":\"verbose\",\"required\":false,\"schema\":{\"type\":"
	                       "\"boolean\"}}"));
}

static void
drop_param(struct json_object *doc)
{
	json_object_array_del_idx(method_params(doc, "device.assign"), 2, 1); /* shared */
}

static void
flip_required(struct json_object *doc)
{
	struct json_object *p = doc_param(doc_method(doc, "pasid.free"), "gpasid");

	json_object_object_add(p, "required", json_object_new_boolean(false));
}

static void
change_bound(struct json_object *doc)
{
	struct json_object *count = get(get(get(doc, "components"), "schemas"), "Count");

	json_object_object_add(count, "maximum", json_object_new_int(4095));
}

static void
add_choice(struct json_object *doc)
{
	struct json_object *mode = get(get(get(doc, "components"), "schemas"), "Mode");

	json_object_array_add(get(mode, "enum"), json_object_new_string("mirrored"));
}

static void
change_kind(struct json_object *doc)
{
	struct json_object *p = doc_param(doc_method(doc, "device.release"), "device");

	json_object_object_add(get(p, "schema"), "$ref",
	                       json_object_new_string(REF_PREFIX "Cgroup"));
}

static void
change_type(struct json_object *doc)
{
	struct json_object *p = doc_param(doc_method(doc, "device.assign"), "shared");

	json_object_object_add(get(p, "schema"), "type", json_object_new_string("string"));
}

static void
add_method(struct json_object *doc)
{
	json_object_array_add(get(doc, "methods"),
	                      json_tokener_parse("{\"name\":\"vm.rename\",\"params\":[]}"));
}

static void
drop_error(struct json_object *doc)
{
	json_object_object_add(doc_method(doc, "vm.show"), "errors",
	                       json_tokener_parse("[{\"$ref\":\"#/components/errors/"
	                                          "InvalidParams\"}]"));
}

static void
drop_admin(struct json_object *doc)
{
	struct json_object *p = doc_param(doc_method(doc, "vm.register"), "pid");

	json_object_object_add(p, "description", json_object_new_string("Owner process."));
}

static const struct {
	const char *what;
	void (*change)(struct json_object *doc);
} drifts[] = {
    {"a param added to the document", add_param},
    {"a param dropped from the document", drop_param},
    {"a required flag flipped", flip_required},
    {"an integer bound changed", change_bound},
    {"a choice added", add_choice},
    {"a string kind changed", change_kind},
    {"a JSON type changed", change_type},
    {"a method added to the document", add_method},
    {"a dispatcher error left out", drop_error},
    {"Admin only left out", drop_admin},
};

START_TEST(document_drift_is_caught)
{
	ck_assert_msg(drift_in_document(drifts[_i].change) > 0, "%s went unnoticed",
	              drifts[_i].what);
}
END_TEST

/* And on the table's side: a copy of the table with one method changed. */
static unsigned
drift_in_table(const char *method, const struct rpc_method *instead)
{
	struct rpc_method table[MAX_METHODS];
	struct json_object *doc = load_doc();
	struct diffs d = {0};
	size_t n = 0, k = 0;

	for (; rpc_methods[n].name; n++) {
		ck_assert_uint_lt(n, MAX_METHODS - 1);
		if (strcmp(rpc_methods[n].name, method))
			table[k++] = rpc_methods[n];
		else if (instead)
			table[k++] = *instead;
	}
	table[k] = (struct rpc_method){.name = NULL};
	compare(table, doc, &d);
	json_object_put(doc);
	return d.n;
}

START_TEST(table_drift_is_caught)
{
	static const char *const modes[] = {"translated", "identity", NULL};
	const struct rpc_method *show = NULL, *reg = NULL;

	for (const struct rpc_method *m = rpc_methods; m->name; m++) {
		show = strcmp(m->name, "vm.show") ? show : m;
		reg = strcmp(m->name, "vm.register") ? reg : m;
	}
	ck_assert_ptr_nonnull(show);
	ck_assert_ptr_nonnull(reg);
	/* A param added to the table only. */
	struct rpc_method more = *show;
	more.params = RPC_PARAMS(P_VM(RPC_REQUIRED), P_INT("limit", limit, RPC_OPTIONAL, 1, 4096),
	                         P_CURSOR("after", after), P_BOOL("verbose", shared));
	ck_assert_uint_gt(drift_in_table("vm.show", &more), 0);
	/* A bound, and a method, only in the table. */
	more.params = RPC_PARAMS(P_VM(RPC_REQUIRED), P_INT("limit", limit, RPC_OPTIONAL, 1, 8192),
	                         P_CURSOR("after", after));
	ck_assert_uint_gt(drift_in_table("vm.show", &more), 0);
	/* Admin only left out of the table. */
	struct rpc_method open = *reg;
	open.params = RPC_PARAMS(P_VM(RPC_REQUIRED), P_UUID("uuid", uuid),
	                         P_ENUM("mode", mode, RPC_OPTIONAL, modes),
	                         P_INT("pid", pid, RPC_OPTIONAL, 1, INT32_MAX));
	ck_assert_uint_gt(drift_in_table("vm.register", &open), 0);
	/* A method missing from the table. */
	ck_assert_uint_gt(drift_in_table("quota.get", NULL), 0);
	/* The unchanged table, copied the same way, is fine. */
	ck_assert_uint_eq(drift_in_table("vm.show", show), 0);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("methods_table");
	TCase *tc = tcase_create("table");

	tcase_add_test(tc, table_matches_document);
	tcase_add_test(tc, choices_follow_the_core);
	tcase_add_loop_test(tc, document_drift_is_caught, 0, sizeof(drifts) / sizeof(drifts[0]));
	tcase_add_test(tc, table_drift_is_caught);
	suite_add_tcase(s, tc);
	return ck_run(s);
}
