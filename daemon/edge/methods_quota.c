#include "methods.h"
#include "pasid-proto.h"
#include "pasidd.h"
#include "quota.h"

#include <string.h>

/* RPC_LIMIT's "max" is the quotas' "no limit". */
_Static_assert(QUOTA_NO_LIMIT == UINT64_MAX, "RPC_LIMIT reads \"max\" as UINT64_MAX");

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

int
method_quota_get(struct rpc_call *c, const struct rpc_args *a, struct json_object **result)
{
	struct quota *q = c->d->quota;
	struct quota_entry e;
	size_t it = 0;

	*result = json_object_new_array();
	if (a->cgroup[0]) {
		/* Any cgroup has an answer, if only "nothing held, no limit". */
		if (q)
			quota_describe(q, a->cgroup, &e);
		else
			e = (struct quota_entry){.cgroup = a->cgroup, .max = QUOTA_NO_LIMIT};
		json_object_array_add(*result, entry_json(&e, true));
		return 0;
	}
	while (q && quota_next(q, &it, &e))
		if (e.current || e.denied || e.max != QUOTA_NO_LIMIT)
			json_object_array_add(*result, entry_json(&e, true));
	return 0;
}

/* Only for admins: the table says so. */
int
method_quota_set(struct rpc_call *c, const struct rpc_args *a, struct json_object **result)
{
	struct quota *q = c->d->quota;
	struct quota_entry e;
	struct ns_err err;

	if (!q)
		return rpc_fail(c, PROTO_E_INTERNAL, NULL, "quota accounting is not running");
	quota_get(q, a->cgroup, &e);
	/* A change of the state like any other: it stands, with the request, once it is
	 * recorded; the answer says what will be in force then. */
	if (e.limit[QUOTA_SRC_RUNTIME] != a->max &&
	    ns_quota_set(&c->d->ns, a->cgroup, a->max, &err) < 0)
		return rpc_fail_ns(c, &err);
	quota_describe(q, a->cgroup, &e);
	e.limit[QUOTA_SRC_RUNTIME] = a->max;
	e.max = QUOTA_NO_LIMIT;
	for (int i = 0; i < QUOTA_NSRC; i++)
		e.max = e.limit[i] < e.max ? e.limit[i] : e.max;
	*result = entry_json(&e, false);
	return 0;
}
