#include "rpc.h"
#include "audit.h"
#include "metrics.h"
#include "namespace.h"
#include "pasid-proto.h"
#include "pasidd.h"
#include "methods.h"
#include "params.h"
#include "peer.h"
#include "render.h"

#include <errno.h>
#include <stdarg.h>
#include <time.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The errno that stands for a protocol error code inside the daemon. */
static int
code_errno(int code)
{
	switch (code) {
	case PROTO_E_EXHAUSTED:
		return ENOSPC;
	case PROTO_E_QUOTA:
		return EDQUOT;
	case PROTO_E_NOT_FOUND:
		return ENOENT;
	case PROTO_E_CONFLICT:
		return EEXIST;
	case PROTO_E_PERMISSION:
		return EPERM;
	case PROTO_E_UNSUPPORTED:
		return EOPNOTSUPP;
	case PROTO_E_OUT_OF_RANGE:
		return ERANGE;
	case PROTO_E_INTERNAL:
	case PROTO_E_KERNEL:
		return EIO;
	default:
		return EINVAL;
	}
}

int
rpc_fail(struct rpc_call *c, int code, const char *param, const char *fmt, ...)
{
	va_list ap;

	c->code = code;
	snprintf(c->param, sizeof(c->param), "%s", param ? param : "");
	va_start(ap, fmt);
	vsnprintf(c->message, sizeof(c->message), fmt, ap);
	va_end(ap);
	return -code_errno(code);
}

/* The core's words for what went wrong, in the protocol's (DESIGN.md §4). */
static int
proto_code(enum ns_errc code)
{
	static const int codes[] = {
	    [NS_E_NONE] = PROTO_E_INTERNAL,           [NS_E_INVALID] = PROTO_E_INVALID_PARAMS,
	    [NS_E_NOMEM] = PROTO_E_INTERNAL,          [NS_E_NOSPACE] = PROTO_E_INTERNAL,
	    [NS_E_EXHAUSTED] = PROTO_E_EXHAUSTED,     [NS_E_QUOTA] = PROTO_E_QUOTA,
	    [NS_E_NOT_FOUND] = PROTO_E_NOT_FOUND,     [NS_E_CONFLICT] = PROTO_E_CONFLICT,
	    [NS_E_PERMISSION] = PROTO_E_PERMISSION,   [NS_E_KERNEL] = PROTO_E_KERNEL,
	    [NS_E_UNSUPPORTED] = PROTO_E_UNSUPPORTED, [NS_E_RANGE] = PROTO_E_OUT_OF_RANGE,
	};

	return codes[code];
}

int
rpc_fail_ns(struct rpc_call *c, const struct ns_err *e)
{
	/* Which cgroup refused, with its max and what it holds. */
	if (e->code == NS_E_QUOTA && !c->data)
		c->data = method_quota_denial(c->d);
	/* What the kernel refused (1006), or what this host lacks (1007). */
	if (e->code == NS_E_KERNEL && e->kernel_op && !c->data) {
		c->data = json_object_new_object();
		json_object_object_add(c->data, "op", json_object_new_string(e->kernel_op));
		json_object_object_add(c->data, "errno", json_object_new_int(e->kernel_errno));
		json_object_object_add(c->data, "message",
		                       json_object_new_string(strerror(e->kernel_errno)));
	}
	/* What is in the way of a reservation: the first live mapping, or the reservation. */
	if (e->code == NS_E_CONFLICT && e->map && !c->data)
		c->data = render_mapping(e->map, true);
	if (e->code == NS_E_CONFLICT && e->resv && !c->data) {
		c->data = json_object_new_object();
		json_object_object_add(c->data, "reservation",
		                       json_object_new_string(e->resv->name));
	}
	if (e->code == NS_E_UNSUPPORTED && e->missing[0] && !c->data) {
		c->data = json_object_new_object();
		json_object_object_add(c->data, "missing", json_object_new_string(e->missing));
	}
	return rpc_fail(c, proto_code(e->code), e->param, "%s", e->message);
}

bool
rpc_may_use(const struct rpc_call *c, const struct ns_vm *vm)
{
	return c->peer->admin || c->peer->uid == vm->owner.uid;
}

int
rpc_take_fd(struct rpc_call *c, unsigned i)
{
	int fd;

	if (i >= c->nfds)
		return -1;
	fd = c->fds[i];
	c->fds[i] = -1;
	return fd;
}

void
rpc_fds_close(struct rpc_fds *fds)
{
	for (unsigned i = 0; i < fds->n; i++)
		if (fds->fd[i] >= 0)
			close(fds->fd[i]);
	fds->n = fds->next = 0;
}

/* The entry serving a request: of its name, and of the form its params pick. */
static const struct rpc_method *
find_method(const struct pasidd *d, const char *name, struct json_object *params)
{
	for (const struct rpc_method *m = d->methods ? d->methods : rpc_methods; m->name; m++)
		if (!strcmp(m->name, name) &&
		    (!m->when || (json_object_is_type(params, json_type_object) &&
		                  json_object_object_get_ex(params, m->when, NULL))))
			return m;
	return NULL;
}

static struct json_object *
error_response(struct json_object *id, int code, const char *msg, const char *param)
{
	struct json_object *data = NULL;

	if (param && *param) {
		data = json_object_new_object();
		json_object_object_add(data, "param", json_object_new_string(param));
	}
	return proto_error_new(id, code, msg, data);
}

static bool
valid_id(struct json_object *id)
{
	switch (json_object_get_type(id)) {
	case json_type_null:
	case json_type_string:
	case json_type_int:
	case json_type_double:
		return true;
	default:
		return false;
	}
}

/* json-c turns integers beyond 64 bits into the nearest limit and "-0" into 0; an id must
 * come back as it was sent, so such ids are echoed from the request's own text. */
static void
keep_raw_id(struct json_object *id, const char *line, size_t len, int index)
{
	int64_t v;
	const char *at;
	size_t n;
	char *raw;

	if (!json_object_is_type(id, json_type_int))
		return;
	v = json_object_get_int64(id);
	if (v != 0 && v != INT64_MAX && v != INT64_MIN)
		return;
	if (proto_raw_member(line, len, index, "id", &at, &n) < 0 || !(raw = strndup(at, n)))
		return;
	json_object_set_serializer(id, json_object_userdata_to_json_string, raw,
	                           json_object_free_userdata);
}

/* The descriptors a request takes (a parameter of kind RPC_FDS): read before anything else,
 * so that a request refused for another fault still consumes what it says it brings and
 * the requests after it in the message get theirs. */
static int
take_fds(struct rpc_call *c, struct rpc_fds *slot, const struct rpc_method *m,
         struct json_object *params, struct rpc_args *a)
{
	unsigned have = slot ? slot->n - slot->next : 0;
	int r;

	for (const struct rpc_param *p = m->params; p->name; p++) {
		if (p->kind != RPC_FDS)
			continue;
		if ((r = params_read(c, p, params, a)) < 0)
			return r;
		if ((uint64_t)a->fds > have)
			return rpc_fail(c, PROTO_E_INVALID_PARAMS, p->name,
			                "'%s' is %lld, but %u file descriptor(s) came with the "
			                "request",
			                p->name, (long long)a->fds, have);
		if (a->fds > 0) {
			c->fds = &slot->fd[slot->next];
			c->nfds = (unsigned)a->fds;
			slot->next += c->nfds;
		}
	}
	return 0;
}

/* The VM the method acts on: it must exist, and be the peer's or the peer an admin
 * (DESIGN.md §7). Checked before anything about the VM's contents, so that nothing of
 * another uid's VM can be probed through different errors. */
static int
target_vm(struct rpc_call *c, const struct rpc_method *m, struct rpc_args *a)
{
	if (!a->vm_name)
		return 0;
	a->vm = ns_vm_find(&c->d->ns, a->vm_name);
	if (m->new_vm)
		return 0;
	if (!a->vm)
		return rpc_fail(c, PROTO_E_NOT_FOUND, m->vm, "no VM named '%s'", a->vm_name);
	if (!rpc_may_use(c, a->vm))
		return rpc_fail(c, PROTO_E_PERMISSION, m->vm, "VM '%s' belongs to another user",
		                a->vm_name);
	return 0;
}

/* Everything the table says about a request, in this order: the descriptors it takes, no
 * unknown member, a method for admins, each parameter where it stands in the list (the VM
 * resolved with its own), a parameter for admins. */
static int
check_request(struct rpc_call *c, struct rpc_fds *slot, const struct rpc_method *m,
              struct json_object *params, struct rpc_args *a)
{
	const struct rpc_param *p;
	int r;

	params_init(m->params, a);
	if ((r = take_fds(c, slot, m, params, a)) < 0 ||
	    (r = params_only(c, m->params, params)) < 0)
		return r;
	if (m->admin && !c->peer->admin)
		return rpc_fail(c, PROTO_E_PERMISSION, NULL, "%s", m->admin);
	for (p = m->params; p->name; p++) {
		if (p->kind == RPC_FDS)
			continue;
		if ((r = params_read(c, p, params, a)) < 0)
			return r;
		if (m->vm && !strcmp(p->name, m->vm) && (r = target_vm(c, m, a)) < 0)
			return r;
	}
	for (p = m->params; p->name; p++)
		if (p->admin && !c->peer->admin && params_member(params, p->name))
			return rpc_fail(c, PROTO_E_PERMISSION, p->name, "%s", p->admin);
	return 0;
}

/* Checks the request and runs the handler. A method that changes the state runs in a
 * transaction: what it changed stands only if all of it may (quotas, room in the journal),
 * and a failure half-way changes nothing. */
static int
invoke(struct rpc_call *call, struct rpc_fds *slot, const struct rpc_method *m,
       struct json_object *params, struct json_object **result)
{
	struct ns *ns = &call->d->ns;
	struct ns_err err = {0};
	struct rpc_args a = {0};
	int r;

	if (json_object_is_type(params, json_type_array))
		return rpc_fail(call, PROTO_E_INVALID_PARAMS, "params",
		                "params must be given by name (an object)");
	if ((r = check_request(call, slot, m, params, &a)) < 0)
		return r;
	/* What the handler changes is audited as this peer's doing. */
	audit_request(call->d->audit, call->peer, m->name);
	if (!m->mutates) {
		r = m->fn(call, &a, result);
		audit_request(call->d->audit, NULL, NULL);
		return r;
	}
	if ((r = ns_txn_begin(ns)) < 0) {
		audit_request(call->d->audit, NULL, NULL);
		return rpc_fail(call, PROTO_E_INTERNAL, NULL, "out of memory");
	}
	r = m->fn(call, &a, result);
	if (r < 0) {
		ns_txn_abort(ns);
		audit_request(call->d->audit, NULL, NULL);
		return r;
	}
	r = ns_txn_commit(ns, &err);
	audit_request(call->d->audit, NULL, NULL);
	if (r < 0) {
		json_object_put(*result);
		*result = NULL;
		return rpc_fail_ns(call, &err);
	}
	return 0;
}

/* The envelope of a request (JSON-RPC 2.0 §4): NULL when it is one, else the error to send
 * (with its id when it could be read). */
static struct json_object *
check_envelope(struct json_object *req, const struct rpc_msg *msg, int index,
               struct json_object **id, bool *has_id)
{
	struct json_object *ver, *method, *params;

	if (!json_object_is_type(req, json_type_object))
		return error_response(NULL, PROTO_E_INVALID_REQ, "request must be an object", NULL);
	*has_id = json_object_object_get_ex(req, "id", id);
	if (*has_id)
		keep_raw_id(*id, msg->line, msg->len, index);
	if (*has_id && !valid_id(*id))
		return error_response(NULL, PROTO_E_INVALID_REQ,
		                      "id must be a string, a number or null", NULL);
	if (!json_object_object_get_ex(req, "jsonrpc", &ver) ||
	    !json_object_is_type(ver, json_type_string) ||
	    strcmp(json_object_get_string(ver), "2.0"))
		return error_response(*id, PROTO_E_INVALID_REQ, "jsonrpc must be \"2.0\"", NULL);
	if (!json_object_object_get_ex(req, "method", &method) ||
	    !json_object_is_type(method, json_type_string))
		return error_response(*id, PROTO_E_INVALID_REQ, "method must be a string", NULL);
	if (json_object_object_get_ex(req, "params", &params) &&
	    !json_object_is_type(params, json_type_object) &&
	    !json_object_is_type(params, json_type_array))
		return error_response(*id, PROTO_E_INVALID_REQ,
		                      "params must be an object or an array", NULL);
	return NULL;
}

/* The error response of a failed call (NULL for a notification). */
static struct json_object *
call_error(struct rpc_call *call, struct json_object *id, bool has_id)
{
	if (!has_id) {
		json_object_put(call->data);
		return NULL;
	}
	if (!call->code)
		rpc_fail(call, PROTO_E_INTERNAL, NULL, "internal error");
	if (call->param[0]) {
		if (!call->data)
			call->data = json_object_new_object();
		json_object_object_add(call->data, "param", json_object_new_string(call->param));
	}
	return proto_error_new(id, call->code, call->message, call->data);
}

/* The code of an error response, 0 for anything else. */
static int
response_code(struct json_object *resp)
{
	struct json_object *e, *code;

	if (!resp || !json_object_object_get_ex(resp, "error", &e) ||
	    !json_object_object_get_ex(e, "code", &code))
		return 0;
	return json_object_get_int(code);
}

static struct json_object *handle_one(struct pasidd *d, const struct rpc_msg *msg,
                                      struct json_object *req, int index,
                                      const struct rpc_method **out_method, int *code);

static double
seconds_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

struct json_object *
rpc_handle_one(struct pasidd *d, const struct rpc_msg *msg, struct json_object *req, int index)
{
	const struct rpc_method *m = NULL;
	struct json_object *resp;
	struct timespec t0;
	int code = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	resp = handle_one(d, msg, req, index, &m, &code);
	metrics_request(d->metrics, d, m, resp ? response_code(resp) : code, seconds_since(&t0));
	return resp;
}

/* One request: its response (NULL for a notification), the method it named (NULL: none of
 * the table) and the error code even when a notification's answer is not sent. */
static struct json_object *
handle_one(struct pasidd *d, const struct rpc_msg *msg, struct json_object *req, int index,
           const struct rpc_method **out_method, int *code)
{
	struct json_object *id = NULL, *method, *params = NULL, *result = NULL, *bad;
	struct rpc_call call = {.d = d, .peer = msg->peer, .conn = msg->conn};
	const struct rpc_method *m;
	const char *name;
	bool has_id = false;

	if ((bad = check_envelope(req, msg, index, &id, &has_id)))
		return bad;
	json_object_object_get_ex(req, "method", &method);
	json_object_object_get_ex(req, "params", &params);
	name = json_object_get_string(method);
	/* "daemon.status\u0000x" is not daemon.status, whatever strcmp thinks. */
	m = strlen(name) == (size_t)json_object_get_string_len(method)
	        ? find_method(d, name, params)
	        : NULL;
	if (!m) {
		char text[128];

		snprintf(text, sizeof(text), "method not found: %.80s", name);
		*code = PROTO_E_NO_METHOD;
		return has_id ? error_response(id, PROTO_E_NO_METHOD, text, NULL) : NULL;
	}
	*out_method = m;
	if (invoke(&call, msg->fds, m, params, &result) == 0)
		return has_id ? render_result(id, result) : (json_object_put(result), NULL);
	json_object_put(result);
	*code = call.code ? call.code : PROTO_E_INTERNAL;
	return call_error(&call, id, has_id);
}

static struct json_object *
parse_message(struct pasidd *d, const char *line, size_t len, struct json_object **error)
{
	struct json_object *msg;
	size_t n;

	*error = NULL;
	if (!d->tok && !(d->tok = json_tokener_new())) {
		*error = error_response(NULL, PROTO_E_INTERNAL, "out of memory", NULL);
		return NULL;
	}
	/* A message refused whole is counted as one request of no method. */
	switch (proto_parse_with(d->tok, line, len, &msg)) {
	case 0:
		break;
	case -ENOTUNIQ:
		*error = error_response(NULL, PROTO_E_INVALID_REQ,
		                        "invalid request: an object repeats a member name", NULL);
		return NULL;
	case -EILSEQ:
		*error = error_response(NULL, PROTO_E_INVALID_REQ,
		                        "invalid request: a member name contains U+0000", NULL);
		return NULL;
	default:
		*error = error_response(NULL, PROTO_E_PARSE, "parse error: not valid JSON", NULL);
		return NULL;
	}
	if (!msg) { /* the JSON text null */
		*error =
		    error_response(NULL, PROTO_E_INVALID_REQ, "request must be an object", NULL);
		return NULL;
	}
	if (!json_object_is_type(msg, json_type_array))
		return msg;
	n = json_object_array_length(msg);
	if (n == 0) {
		json_object_put(msg);
		*error = error_response(NULL, PROTO_E_INVALID_REQ, "empty batch", NULL);
		return NULL;
	}
	if (n > d->cfg.limits.max_batch) {
		char m[96];

		snprintf(m, sizeof(m),
		         "batch of %zu requests exceeds MaxBatch=%u; nothing was done", n,
		         d->cfg.limits.max_batch);
		json_object_put(msg);
		*error = error_response(NULL, PROTO_E_INVALID_REQ, m, NULL);
		return NULL;
	}
	return msg;
}

struct json_object *
rpc_parse(struct pasidd *d, const char *line, size_t len, struct json_object **error)
{
	struct json_object *msg = parse_message(d, line, len, error);

	if (*error)
		metrics_request(d->metrics, d, NULL, response_code(*error), 0);
	return msg;
}

struct json_object *
rpc_handle_msg(struct pasidd *d, const struct rpc_msg *m)
{
	struct json_object *msg, *out, *error;
	size_t n;

	msg = rpc_parse(d, m->line, m->len, &error);
	if (!msg)
		return error;
	if (!json_object_is_type(msg, json_type_array)) {
		out = rpc_handle_one(d, m, msg, -1);
		json_object_put(msg);
		return out;
	}
	n = json_object_array_length(msg);
	out = json_object_new_array_ext((int)n);
	for (size_t i = 0; i < n; i++) {
		struct json_object *r =
		    rpc_handle_one(d, m, json_object_array_get_idx(msg, i), (int)i);

		if (r)
			json_object_array_add(out, r);
	}
	json_object_put(msg);
	if (json_object_array_length(out) == 0) {
		json_object_put(out);
		return NULL;
	}
	return out;
}

struct json_object *
rpc_handle(struct pasidd *d, const struct peer *peer, const char *line, size_t len)
{
	return rpc_handle_msg(d, &(struct rpc_msg){.peer = peer, .line = line, .len = len});
}
