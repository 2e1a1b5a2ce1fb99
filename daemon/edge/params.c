#include "params.h"
#include "cgpath.h"
#include "methods.h"
#include "namespace.h"
#include "paging.h"
#include "pasid-proto.h"
#include "rpc.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-id128.h>

#define invalid(c, p, ...) rpc_fail(c, PROTO_E_INVALID_PARAMS, (p)->name, __VA_ARGS__)

struct json_object *
params_member(struct json_object *params, const char *name)
{
	struct json_object *v = NULL;

	if (!params || !json_object_object_get_ex(params, name, &v))
		return NULL;
	return v;
}

void
params_init(const struct rpc_param *list, struct rpc_args *a)
{
	for (const struct rpc_param *p = list; p->name; p++) {
		void *field = (char *)a + p->at;

		switch (p->kind) {
		case RPC_INT:
		case RPC_BDF:
			*(int64_t *)field = -1;
			break;
		case RPC_ENUM:
		case RPC_FLAG:
			*(int *)field = -1;
			break;
		case RPC_LIMIT:
			*(uint64_t *)field = UINT64_MAX;
			break;
		default: /* zero: false, NULL, "", no cursor, no descriptors */
			break;
		}
	}
}

int
params_only(struct rpc_call *c, const struct rpc_param *list, struct json_object *params)
{
	if (!params)
		return 0;
	json_object_object_foreach(params, key, val)
	{
		const struct rpc_param *p = list;

		(void)val;
		while (p->name && strcmp(p->name, key))
			p++;
		if (!p->name)
			return rpc_fail(c, PROTO_E_INVALID_PARAMS, key, "unknown parameter '%.64s'",
			                key);
	}
	return 0;
}

static int
read_int(struct rpc_call *c, const struct rpc_param *p, struct json_object *v, int64_t *out)
{
	int64_t n;

	if (!json_object_is_type(v, json_type_int))
		return invalid(c, p, "'%s' must be an integer", p->name);
	n = json_object_get_int64(v);
	/* json-c clamps numbers beyond int64 and keeps large positive ones as uint64. */
	if (n < p->min || n > p->max || json_object_get_uint64(v) > (uint64_t)INT64_MAX)
		return invalid(c, p, "'%s' must be an integer from %lld to %lld", p->name,
		               (long long)p->min, (long long)p->max);
	*out = n;
	return 0;
}

/* An integer, or "max" for no limit, as in misc.max. */
static int
read_limit(struct rpc_call *c, const struct rpc_param *p, struct json_object *v, uint64_t *out)
{
	int64_t n;
	int r;

	if (json_object_is_type(v, json_type_string) && !strcmp(json_object_get_string(v), "max") &&
	    json_object_get_string_len(v) == 3) {
		*out = UINT64_MAX;
		return 0;
	}
	if (!json_object_is_type(v, json_type_int))
		return invalid(c, p, "'%s' must be an integer from %lld or the string \"max\"",
		               p->name, (long long)p->min);
	r = read_int(c, p, v, &n);
	if (r == 0)
		*out = (uint64_t)n;
	return r;
}

/* "'type' must be shared or local", or with more choices "a, b or c". */
static int
bad_choice(struct rpc_call *c, const struct rpc_param *p)
{
	char list[128] = "";
	size_t n = 0;

	for (int i = 0; p->choices[i] && n < sizeof(list); i++)
		n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s",
		                      i == 0              ? ""
		                      : p->choices[i + 1] ? ", "
		                                          : " or ",
		                      p->choices[i]);
	return invalid(c, p, "'%s' must be %s", p->name, list);
}

static int
bad_set(struct rpc_call *c, const struct rpc_param *p)
{
	return invalid(c, p, "'%s' must be a non-empty array of kinds such as \"%s\"", p->name,
	               p->choices[0]);
}

static int
read_enum(struct rpc_call *c, const struct rpc_param *p, const char *s, int *out)
{
	for (int i = 0; p->choices[i]; i++) {
		if (!strcmp(s, p->choices[i])) {
			*out = i;
			return 0;
		}
	}
	return bad_choice(c, p);
}

static int
read_uuid(struct rpc_call *c, const struct rpc_param *p, const char *s, char *out)
{
	sd_id128_t id;

	/* sd_id128 also takes 32 hex digits without dashes; the protocol wants the UUID form. */
	if (strlen(s) != NS_UUID_LEN || s[8] != '-' || s[13] != '-' || s[18] != '-' ||
	    s[23] != '-' || sd_id128_from_string(s, &id) < 0)
		return invalid(c, p, "'%s' must look like 01234567-89ab-cdef-0123-456789abcdef",
		               p->name);
	sd_id128_to_uuid_string(id, out);
	return 0;
}

/* The kinds that are strings: what the text must look like, and where it goes. */
static int
read_text(struct rpc_call *c, const struct rpc_param *p, struct json_object *v, void *field)
{
	const char *s;
	uint32_t bdf;

	if (!json_object_is_type(v, json_type_string))
		return invalid(c, p, "'%s' must be a string", p->name);
	s = json_object_get_string(v);
	/* Strings with embedded NULs would be cut short by every C consumer. */
	if (strlen(s) != (size_t)json_object_get_string_len(v))
		return invalid(c, p, "'%s' contains a NUL character", p->name);
	switch (p->kind) {
	case RPC_ENUM:
		return read_enum(c, p, s, field);
	case RPC_VM:
		if (!ns_vm_name_valid(s))
			return invalid(c, p,
			               "'%s' must be 1-64 characters [A-Za-z0-9._:@+-] starting "
			               "with a letter or digit",
			               p->name);
		*(const char **)field = s;
		return 0;
	case RPC_BDF:
		if (ns_bdf_parse(s, &bdf) < 0)
			return invalid(c, p, "'%s' must be a PCI address DDDD:BB:DD.F", p->name);
		*(int64_t *)field = bdf;
		return 0;
	case RPC_UUID:
		return read_uuid(c, p, s, field);
	case RPC_CGROUP:
		if (cgroup_normalize(s, field, sizeof(rpc_cgroup)) < 0)
			return invalid(c, p,
			               "'%s' must be an absolute cgroup path such as "
			               "/machine.slice, without . or .. components",
			               p->name);
		return 0;
	case RPC_WQ:
		if (!ns_wq_ref_valid(s))
			return invalid(c, p, "'%s' must name a work queue like dsa0/wq0.1",
			               p->name);
		strcpy(field, s);
		return 0;
	case RPC_LABEL:
		for (const char *q = s; *q; q++)
			if (*q < 0x21 || *q > 0x7e)
				return invalid(c, p, "'%s' must be printable ASCII without spaces",
				               p->name);
		if (!*s || strlen(s) > 1024)
			return invalid(c, p, "'%s' must be 1-1024 characters", p->name);
		*(const char **)field = s;
		return 0;
	case RPC_TEXT:
		for (const unsigned char *q = (const unsigned char *)s; *q; q++)
			if (*q < 0x20 || *q == 0x7f)
				return invalid(c, p, "'%s' must be text without control characters",
				               p->name);
		if (strlen(s) > NS_RESV_WHY_MAX)
			return invalid(c, p, "'%s' must be at most %d bytes", p->name,
			               NS_RESV_WHY_MAX);
		*(const char **)field = s;
		return 0;
	case RPC_CURSOR:
		if (page_cursor_parse(s, field) < 0)
			return invalid(c, p,
			               "'%s' must be the 'next' of an earlier page of this "
			               "listing",
			               p->name);
		return 0;
	default:
		return rpc_fail(c, PROTO_E_INTERNAL, NULL, "parameter '%s' of an unknown kind",
		                p->name);
	}
}

/* An array of distinct choices, into a bit mask; the empty array is refused (it would
 * select nothing, which no caller means). */
static int
read_set(struct rpc_call *c, const struct rpc_param *p, struct json_object *v, uint64_t *out)
{
	size_t n;

	if (!json_object_is_type(v, json_type_array) || !(n = json_object_array_length(v)))
		return bad_set(c, p);
	*out = 0;
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(v, i);
		const char *s = json_object_get_string(e);
		int k = -1;

		if (!json_object_is_type(e, json_type_string) ||
		    strlen(s) != (size_t)json_object_get_string_len(e))
			return bad_set(c, p);
		for (int j = 0; p->choices[j] && j < 64; j++)
			if (!strcmp(s, p->choices[j]))
				k = j;
		if (k < 0)
			return invalid(c, p, "'%s': unknown kind '%.64s'", p->name, s);
		if (*out & (UINT64_C(1) << k))
			return invalid(c, p, "'%s' names '%s' twice", p->name, s);
		*out |= UINT64_C(1) << k;
	}
	return 0;
}

int
params_read(struct rpc_call *c, const struct rpc_param *p, struct json_object *params,
            struct rpc_args *a)
{
	struct json_object *v = params_member(params, p->name);
	void *field = (char *)a + p->at;

	if (!v)
		return p->required ? invalid(c, p, "missing parameter '%s'", p->name) : 0;
	switch (p->kind) {
	case RPC_BOOL:
	case RPC_FLAG:
		if (!json_object_is_type(v, json_type_boolean))
			return invalid(c, p, "'%s' must be true or false", p->name);
		if (p->kind == RPC_FLAG)
			*(int *)field = json_object_get_boolean(v);
		else
			*(bool *)field = json_object_get_boolean(v);
		return 0;
	case RPC_INT:
	case RPC_FDS:
		return read_int(c, p, v, field);
	case RPC_LIMIT:
		return read_limit(c, p, v, field);
	case RPC_OBJECT:
		if (!json_object_is_type(v, json_type_object))
			return invalid(c, p, "'%s' must be an object", p->name);
		*(struct json_object **)field = v;
		return 0;
	case RPC_SET:
		return read_set(c, p, v, field);
	default:
		return read_text(c, p, v, field);
	}
}
