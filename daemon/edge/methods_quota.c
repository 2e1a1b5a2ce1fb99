#include "methods.h"
#include "params.h"
#include "pasid-proto.h"
#include "pasidd.h"
#include "peer.h"
#include "quota.h"

#include <string.h>

/* A limit on the wire: a number, or the string "max" for none, as in misc.max. */
static struct json_object *
max_json(uint64_t max)
{
	return max == QUOTA_NO_LIMIT ? json_object_new_string("max")
	                             : json_object_new_int64((int64_t)max);
}

static struct json_object *
entry_json(const struct quota_entry *e, bool with_denied)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "cgroup", json_object_new_string(e->cgroup));
	json_object_object_add(o, "max", max_json(e->max));
	json_object_object_add(o, "current", json_object_new_int64((int64_t)e->current));
	if (with_denied)
		json_object_object_add(o, "denied", json_object_new_int64((int64_t)e->denied));
	return o;
}

/* "cgroup": a cgroup path, canonicalized (repeated and trailing slashes dropped). */
static int
param_cgroup(struct rpc_call *c, struct json_object *params, bool required, char *out, size_t len)
{
	const char *s;

	if (param_str(c, params, "cgroup", required, &s) < 0)
		return -1;
	if (!s)
		return 0;
	if (cgroup_normalize(s, out, len) < 0)
		return rpc_fail(c, PROTO_E_INVALID_PARAMS, "cgroup",
		                "'cgroup' must be an absolute cgroup path such as /machine.slice, "
		                "without . or .. components");
	return 1;
}

struct json_object *
method_quota_denial(const struct pasidd *d)
{
	const struct quota_denial *q;
	struct json_object *o;

	if (!d->quota)
		return NULL;
	q = quota_last_denial(d->quota);
	o = json_object_new_object();
	json_object_object_add(o, "cgroup", json_object_new_string(q->cgroup));
	json_object_object_add(o, "max", json_object_new_int64((int64_t)q->max));
	json_object_object_add(o, "current", json_object_new_int64((int64_t)q->current));
	if (q->vm[0])
		json_object_object_add(o, "vm", json_object_new_string(q->vm));
	return o;
}

METHOD(method_quota_get)
{
	static const char *const names[] = {"cgroup", NULL};
	struct quota *q = c->d->quota;
	char cgroup[CGROUP_PATH_MAX];
	struct quota_entry e;
	size_t it = 0;
	int one;

	if (params_only(c, params, names) < 0 ||
	    (one = param_cgroup(c, params, false, cgroup, sizeof(cgroup))) < 0)
		return -1;
	*result = json_object_new_array();
	if (one) {
		/* Any cgroup has an answer, if only "nothing held, no limit". */
		if (q)
			quota_describe(q, cgroup, &e);
		else
			e = (struct quota_entry){.cgroup = cgroup, .max = QUOTA_NO_LIMIT};
		json_object_array_add(*result, entry_json(&e, true));
		return 0;
	}
	while (q && quota_next(q, &it, &e))
		if (e.current || e.denied || e.max != QUOTA_NO_LIMIT)
			json_object_array_add(*result, entry_json(&e, true));
	return 0;
}

METHOD(method_quota_set)
{
	static const char *const names[] = {"cgroup", "max", NULL};
	struct quota *q = c->d->quota;
	char cgroup[CGROUP_PATH_MAX];
	struct json_object *m = NULL;
	struct quota_entry e;
	struct ns_err err;
	uint64_t max;

	if (params_only(c, params, names) < 0)
		return -1;
	if (!c->peer->admin)
		return rpc_fail(c, PROTO_E_PERMISSION, NULL,
		                "setting a quota is for administrators");
	if (param_cgroup(c, params, true, cgroup, sizeof(cgroup)) < 0)
		return -1;
	if (params)
		json_object_object_get_ex(params, "max", &m);
	if (json_object_is_type(m, json_type_string) && !strcmp(json_object_get_string(m), "max") &&
	    json_object_get_string_len(m) == 3) {
		max = QUOTA_NO_LIMIT;
	} else {
		int64_t n;

		if (m && !json_object_is_type(m, json_type_int))
			return rpc_fail(c, PROTO_E_INVALID_PARAMS, "max",
			                "'max' must be an integer from 0 or the string \"max\"");
		if (param_int(c, params, "max", true, 0, INT64_MAX, &n) < 0)
			return -1;
		max = (uint64_t)n;
	}
	if (!q)
		return rpc_fail(c, PROTO_E_INTERNAL, NULL, "quota accounting is not running");
	quota_get(q, cgroup, &e);
	/* A change of the state like any other: it stands, with the request, once it is
	 * recorded; the answer says what will be in force then. */
	if (e.limit[QUOTA_SRC_RUNTIME] != max && ns_quota_set(&c->d->ns, cgroup, max, &err) < 0)
		return rpc_fail_ns(c, &err);
	quota_describe(q, cgroup, &e);
	e.limit[QUOTA_SRC_RUNTIME] = max;
	e.max = QUOTA_NO_LIMIT;
	for (int i = 0; i < QUOTA_NSRC; i++)
		e.max = e.limit[i] < e.max ? e.limit[i] : e.max;
	*result = entry_json(&e, false);
	return 0;
}
