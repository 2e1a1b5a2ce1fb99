/* range.reserve, range.unreserve and range.list: the administrator's hPASID reservations
 * (core/ns_resv.c holds them; range_expiry.c removes the expired ones). */
#include "methods.h"
#include "pasid-proto.h"
#include "pasidd.h"
#include "peer.h"
#include "range_expiry.h"

#include <stdio.h>
#include <string.h>

/* A reservation as range.list shows it. Everyone sees the numbers, which are host facts like
 * the ranges of daemon.status; why and by (who reserved it) are for administrators, as a why
 * may speak of another tenant's VM. expires: whole seconds left, rounded up, absent for none. */
static struct json_object *
resv_json(const struct ns_resv *r, bool admin, uint64_t now)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "first", json_object_new_int64(r->first));
	json_object_object_add(o, "last", json_object_new_int64(r->last));
	if (admin)
		json_object_object_add(o, "why", json_object_new_string(r->why));
	if (r->expires) {
		uint64_t left = r->expires > now ? r->expires - now : 0;

		json_object_object_add(
		    o, "expires",
		    json_object_new_int64((int64_t)((left + 999999999u) / 1000000000u)));
	}
	json_object_object_add(o, "name", json_object_new_string(r->name));
	json_object_object_add(o, "source",
	                       json_object_new_string(r->config ? "config" : "runtime"));
	if (admin && !r->config) {
		struct json_object *by = json_object_new_object();

		json_object_object_add(by, "uid", json_object_new_int64(r->uid));
		json_object_object_add(by, "pid", json_object_new_int64(r->pid));
		json_object_object_add(o, "by", by);
	}
	json_object_object_add(o, "used", json_object_new_int64(r->nmaps));
	return o;
}

/* Only for admins: the table says so. */
int
method_range_reserve(struct rpc_call *c, const struct rpc_args *a, struct json_object **result)
{
	/* first and last are 0..UINT32_MAX (the table); the core judges them by the width. */
	struct ns_resv spec = {.first = (uint32_t)a->first,
	                       .last = (uint32_t)a->last,
	                       .uid = c->peer->uid,
	                       .pid = c->peer->pid};
	struct ns_resv *r;
	struct ns_err err;
	uint64_t now = range_now();

	if (a->resv)
		snprintf(spec.name, sizeof(spec.name), "%s", a->resv);
	if (a->why)
		snprintf(spec.why, sizeof(spec.why), "%s", a->why);
	if (a->expires_s > 0)
		spec.expires = now + (uint64_t)a->expires_s * 1000000000u;
	if (ns_reserve(&c->d->ns, &spec, &r, &err) < 0)
		return rpc_fail_ns(c, &err);
	if (spec.expires && range_expiry_schedule(c->d) < 0)
		return rpc_fail(c, PROTO_E_INTERNAL, NULL, "out of memory for the expiry's timer");
	*result = resv_json(r, true, now);
	return 0;
}

/* Only for admins: the table says so. By name, or by the exact range. */
int
method_range_unreserve(struct rpc_call *c, const struct rpc_args *a, struct json_object **result)
{
	struct ns_resv *r = NULL;
	struct ns_err err;
	bool by_range = a->first >= 0 || a->last >= 0;

	if (a->resv && by_range)
		return rpc_fail(c, PROTO_E_INVALID_PARAMS, a->first >= 0 ? "first" : "last",
		                "name a reservation by 'name' or by 'first' and 'last', not both");
	if (!a->resv && (a->first < 0 || a->last < 0))
		return rpc_fail(c, PROTO_E_INVALID_PARAMS, a->first < 0 ? "first" : "last",
		                "name a reservation by 'name' or by 'first' and 'last'");
	if (a->resv) {
		if (!(r = ns_resv_find(&c->d->ns, a->resv)))
			return rpc_fail(c, PROTO_E_NOT_FOUND, "name", "no reservation named %s",
			                a->resv);
	} else {
		r = a->first <= UINT32_MAX ? ns_resv_at(&c->d->ns, (uint32_t)a->first) : NULL;
		if (!r || r->first != a->first || r->last != a->last)
			return rpc_fail(c, PROTO_E_NOT_FOUND, "first",
			                "no reservation of %lld-%lld", (long long)a->first,
			                (long long)a->last);
	}
	if (r->config)
		return rpc_fail(c, PROTO_E_CONFLICT, a->resv ? "name" : "first",
		                "reservation %s comes from the configuration: remove its Reserve= "
		                "line and reload",
		                r->name);
	/* The mappings handed out of it stay: they are mappings like any other. */
	if (ns_unreserve(&c->d->ns, r, &err) < 0)
		return rpc_fail_ns(c, &err);
	*result = json_object_new_object();
	return 0;
}

int
method_range_list(struct rpc_call *c, const struct rpc_args *a, struct json_object **result)
{
	const struct ns *ns = &c->d->ns;
	uint64_t now = range_now();

	(void)a;
	*result = json_object_new_array();
	for (unsigned i = 0; i < ns->nresvs; i++)
		json_object_array_add(*result, resv_json(ns->resvs[i], c->peer->admin, now));
	return 0;
}
