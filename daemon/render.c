#include "render.h"
#include "namespace.h"

#include <inttypes.h>
#include <json-c/printbuf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct json_object *
render_mapping(const struct ns_mapping *m, bool with_vm)
{
	struct json_object *o = json_object_new_object();

	if (with_vm)
		json_object_object_add(o, "vm", json_object_new_string(m->vm->name));
	json_object_object_add(o, "gpasid", json_object_new_int64(m->gpasid));
	json_object_object_add(o, "hpasid", json_object_new_int64(m->hpasid));
	json_object_object_add(o, "type", json_object_new_string(ns_type_name(m->type)));
	if (m->dev) {
		char bdf[NS_BDF_LEN + 1];

		ns_bdf_format(m->dev->bdf, bdf);
		json_object_object_add(o, "device", json_object_new_string(bdf));
	}
	return o;
}

static int
raw_serialize(struct json_object *o, struct printbuf *pb, int level, int flags)
{
	const char *text = json_object_get_userdata(o);

	return printbuf_memappend(pb, text, (int)strlen(text));
}

static void
raw_free(struct json_object *o, void *userdata)
{
	free(userdata);
}

struct json_object *
render_mapping_list(struct ns_mapping *const *maps, size_t n, bool with_vm)
{
	/* Names are [A-Za-z0-9._:@+-] and the rest numbers: nothing needs escaping. */
	size_t cap = 3 + n * (with_vm ? 176 : 112), len = 0; /* [ ] NUL */
	char *buf = malloc(cap);
	struct json_object *o;

	if (!buf)
		return NULL;
	buf[len++] = '[';
	for (size_t i = 0; i < n; i++) {
		const struct ns_mapping *m = maps[i];
		char bdf[NS_BDF_LEN + 1];

		if (i)
			buf[len++] = ',';
		buf[len++] = '{';
		if (with_vm)
			len +=
			    (size_t)snprintf(buf + len, cap - len, "\"vm\":\"%s\",", m->vm->name);
		len += (size_t)snprintf(buf + len, cap - len,
		                        "\"gpasid\":%" PRIu32 ",\"hpasid\":%" PRIu32
		                        ",\"type\":\"%s\"",
		                        m->gpasid, m->hpasid, ns_type_name(m->type));
		if (m->dev) {
			ns_bdf_format(m->dev->bdf, bdf);
			len += (size_t)snprintf(buf + len, cap - len, ",\"device\":\"%s\"", bdf);
		}
		buf[len++] = '}';
	}
	buf[len++] = ']';
	buf[len] = '\0';
	o = json_object_new_array();
	if (!o) {
		free(buf);
		return NULL;
	}
	json_object_set_serializer(o, raw_serialize, buf, raw_free);
	return o;
}

struct json_object *
render_vm(const struct ns_vm *vm)
{
	struct json_object *o = json_object_new_object(), *devs = json_object_new_array();

	json_object_object_add(o, "vm", json_object_new_string(vm->name));
	json_object_object_add(o, "uuid", json_object_new_string(vm->uuid));
	json_object_object_add(o, "mode", json_object_new_string(ns_mode_name(vm->mode)));
	json_object_object_add(o, "pid", json_object_new_int64(vm->owner.pid));
	json_object_object_add(o, "cgroup", json_object_new_string(vm->cgroup));
	json_object_object_add(o, "pasids", json_object_new_int64((int64_t)vm->maps.count));
	for (unsigned i = 0; i < vm->ndevs; i++) {
		struct json_object *d = json_object_new_object();
		char bdf[NS_BDF_LEN + 1];

		ns_bdf_format(vm->devs[i].dev->bdf, bdf);
		json_object_object_add(d, "device", json_object_new_string(bdf));
		json_object_object_add(d, "shared", json_object_new_boolean(vm->devs[i].shared));
		json_object_array_add(devs, d);
	}
	json_object_object_add(o, "devices", devs);
	return o;
}
