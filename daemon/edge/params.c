#include "params.h"
#include "namespace.h"
#include "pasid-proto.h"
#include "pasidd.h"
#include "peer.h"
#include "rpc.h"

#include <string.h>
#include <systemd/sd-id128.h>

int
params_only(struct rpc_call *c, struct json_object *params, const char *const *names)
{
	if (!params)
		return 0;
	json_object_object_foreach(params, key, val)
	{
		bool known = false;

		(void)val;
		for (const char *const *n = names; *n && !known; n++)
			known = !strcmp(*n, key);
		if (!known)
			return rpc_fail(c, PROTO_E_INVALID_PARAMS, key, "unknown parameter '%.64s'",
			                key);
	}
	return 0;
}

static struct json_object *
member(struct json_object *params, const char *name)
{
	struct json_object *v = NULL;

	if (!params || !json_object_object_get_ex(params, name, &v))
		return NULL;
	/* A JSON null stands for "not given", as absent members do. */
	return v;
}

static int
missing(struct rpc_call *c, const char *name)
{
	return rpc_fail(c, PROTO_E_INVALID_PARAMS, name, "missing parameter '%s'", name);
}

int
param_str(struct rpc_call *c, struct json_object *params, const char *name, bool required,
          const char **out)
{
	struct json_object *v = member(params, name);

	*out = NULL;
	if (!v)
		return required ? missing(c, name) : 0;
	if (!json_object_is_type(v, json_type_string))
		return rpc_fail(c, PROTO_E_INVALID_PARAMS, name, "'%s' must be a string", name);
	*out = json_object_get_string(v);
	/* Strings with embedded NULs would be cut short by every C consumer. */
	if (strlen(*out) != (size_t)json_object_get_string_len(v))
		return rpc_fail(c, PROTO_E_INVALID_PARAMS, name, "'%s' contains a NUL character",
		                name);
	return 0;
}

int
param_int(struct rpc_call *c, struct json_object *params, const char *name, bool required,
          int64_t min, int64_t max, int64_t *out)
{
	struct json_object *v = member(params, name);
	int64_t n;

	*out = -1;
	if (!v)
		return required ? missing(c, name) : 0;
	if (!json_object_is_type(v, json_type_int))
		return rpc_fail(c, PROTO_E_INVALID_PARAMS, name, "'%s' must be an integer", name);
	n = json_object_get_int64(v);
	/* json-c clamps numbers beyond int64 and keeps large positive ones as uint64. */
	if (n < min || n > max || json_object_get_uint64(v) > (uint64_t)INT64_MAX)
		return rpc_fail(c, PROTO_E_INVALID_PARAMS, name,
		                "'%s' must be an integer from %lld to %lld", name, (long long)min,
		                (long long)max);
	*out = n;
	return 0;
}

int
param_bool(struct rpc_call *c, struct json_object *params, const char *name, bool *out)
{
	struct json_object *v = member(params, name);

	if (!v)
		return 0;
	if (!json_object_is_type(v, json_type_boolean))
		return rpc_fail(c, PROTO_E_INVALID_PARAMS, name, "'%s' must be true or false",
		                name);
	*out = json_object_get_boolean(v);
	return 0;
}

int
param_enum(struct rpc_call *c, struct json_object *params, const char *name, bool required,
           const char *const *choices, int *out)
{
	const char *s;

	if (param_str(c, params, name, required, &s) < 0)
		return -1;
	if (!s)
		return 0;
	for (int i = 0; choices[i]; i++) {
		if (!strcmp(s, choices[i])) {
			*out = i;
			return 0;
		}
	}
	return rpc_fail(c, PROTO_E_INVALID_PARAMS, name, "'%s' must be %s%s%s", name, choices[0],
	                choices[1] ? " or " : "", choices[1] ? choices[1] : "");
}

int
param_bdf(struct rpc_call *c, struct json_object *params, const char *name, bool required,
          uint32_t *out)
{
	const char *s;

	if (param_str(c, params, name, required, &s) < 0)
		return -1;
	if (!s)
		return 0;
	if (ns_bdf_parse(s, out) < 0)
		return rpc_fail(c, PROTO_E_INVALID_PARAMS, name,
		                "'%s' must be a PCI address DDDD:BB:DD.F", name);
	return 1;
}

int
param_uuid(struct rpc_call *c, struct json_object *params, const char *name,
           char out[NS_UUID_LEN + 1])
{
	const char *s;
	sd_id128_t id;

	if (param_str(c, params, name, false, &s) < 0)
		return -1;
	if (!s)
		return 0;
	/* sd_id128 also takes 32 hex digits without dashes; the protocol wants the UUID form. */
	if (strlen(s) != NS_UUID_LEN || s[8] != '-' || s[13] != '-' || s[18] != '-' ||
	    s[23] != '-' || sd_id128_from_string(s, &id) < 0)
		return rpc_fail(c, PROTO_E_INVALID_PARAMS, name,
		                "'%s' must look like 01234567-89ab-cdef-0123-456789abcdef", name);
	sd_id128_to_uuid_string(id, out);
	return 1;
}

bool
peer_may_use(const struct rpc_call *c, const struct ns_vm *vm)
{
	return c->peer->admin || c->peer->uid == vm->owner.uid;
}

int
param_vm(struct rpc_call *c, struct json_object *params, struct ns_vm **out)
{
	const char *name;

	if (param_str(c, params, "vm", true, &name) < 0)
		return -1;
	if (!ns_vm_name_valid(name))
		return rpc_fail(c, PROTO_E_INVALID_PARAMS, "vm",
		                "'vm' must be 1-64 characters [A-Za-z0-9._:@+-] starting with a "
		                "letter or digit");
	*out = ns_vm_find(&c->d->ns, name);
	if (!*out)
		return rpc_fail(c, PROTO_E_NOT_FOUND, "vm", "no VM named '%s'", name);
	/* Checked before anything about the VM's contents, so that nothing of another uid's
	 * VM can be probed through different errors. */
	if (!peer_may_use(c, *out))
		return rpc_fail(c, PROTO_E_PERMISSION, "vm", "VM '%s' belongs to another user",
		                name);
	return 0;
}
