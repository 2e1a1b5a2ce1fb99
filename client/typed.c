/* libpasid: the typed calls of the v1 methods. Each public function builds its parameters and
 * hands them, with the description of its method, to typed_call(), the one place that calls,
 * decodes the result into the caller's structures and releases what it made; the few that
 * have a non-blocking form hand them to typed_queue() instead. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "call.h"
#include "decode.h"
#include "errors.h"

/* Reads a result into the caller's output, out (which the typed call documents; may be
 * NULL where the call allows it). */
typedef int (*typed_decode_fn)(struct json_object *result, void *out, struct pasid_error *err);

/* A method as the typed calls use it. */
struct typed_method {
	const char *name;
	/* For a paged listing, the array its pages append to, walked with pasid_call_pages();
	 * NULL for a method that answers at once. */
	const char *pages;
	/* NULL: the result is not read (its calls return nothing but success). */
	typed_decode_fn decode;
};

/* Request parameters under construction. A failed allocation is remembered, so that the
 * builders need no checks of their own and the call reports -ENOMEM once. */
struct params {
	struct json_object *obj;
	bool nomem;
	/* Descriptors that ride along with the request (pasid.attach); params says how many. */
	const int *fds;
	size_t nfds;
};

static struct params
params_new(void)
{
	struct params p = {.obj = json_object_new_object()};

	p.nomem = !p.obj;
	return p;
}

static void
params_add(struct params *p, const char *key, struct json_object *val)
{
	if (p->nomem || !val || json_object_object_add(p->obj, key, val) < 0) {
		json_object_put(val);
		p->nomem = true;
	}
}

/* Adds key: val unless val is NULL (an optional parameter left out). */
static void
add_str(struct params *p, const char *key, const char *val)
{
	if (val)
		params_add(p, key, json_object_new_string(val));
}

static void
add_int(struct params *p, const char *key, int64_t val)
{
	params_add(p, key, json_object_new_int64(val));
}

static struct params
vm_params(const char *vm)
{
	struct params p = params_new();

	add_str(&p, "vm", vm);
	return p;
}

/* Calls m with params p (NULL: a request without params; taken either way) and decodes the
 * result into out. Returns as the typed call does. */
static int
typed_call(struct pasid_client *c, const struct typed_method *m, struct params *p, void *out,
           struct pasid_error *err)
{
	struct json_object *params = p ? p->obj : NULL, *res;
	int rc;

	if (p && p->nomem) {
		json_object_put(params);
		lp_forget_outcome(c);
		return lp_nomem(err);
	}
	if (m->pages)
		rc = pasid_call_pages(c, m->name, params, m->pages, &res, err);
	else
		rc = pasid_call_fds(c, m->name, params, p ? p->fds : NULL, p ? p->nfds : 0, &res,
		                    err);
	json_object_put(params);
	if (rc == 0 && m->decode)
		rc = m->decode(res, out, err);
	json_object_put(res);
	return rc;
}

/* Queues m with params p (taken): the request id, or a negative errno. */
static int64_t
typed_queue(struct pasid_client *c, const struct typed_method *m, struct params *p,
            struct pasid_error *err)
{
	int64_t id;

	if (p->nomem) {
		json_object_put(p->obj);
		return lp_nomem(err);
	}
	id = pasid_queue(c, m->name, p->obj, p->fds, p->nfds, err);
	json_object_put(p->obj);
	return id;
}

/* The decoders of the typed calls: the public ones (decode.c) with each call's output and the
 * shape its method answers with. */

static int
decode_status(struct json_object *res, void *out, struct pasid_error *err)
{
	return pasid_parse_status(res, out, err);
}

/* A VM, or nothing (and nothing checked) when the caller wants none. */
static int
decode_vm(struct json_object *res, void *out, struct pasid_error *err)
{
	return out ? pasid_parse_vm(res, out, err) : 0;
}

/* An array and its length, for the list decoders. */
struct list_out {
	void *items; /* a struct pasid_vm **, pasid_mapping ** or pasid_quota ** */
	size_t *n;
};

static int
decode_vms(struct json_object *res, void *out, struct pasid_error *err)
{
	struct list_out *l = out;

	return pasid_parse_vms(res, l->items, l->n, err);
}

/* Copies a structure that decoded whole (rc 0) to the caller's out, if it wants it: out is
 * written only when the whole answer is good, and a malformed answer is reported either way. */
static int
copy_out(int rc, void *out, const void *item, size_t size)
{
	if (rc == 0 && out)
		memcpy(out, item, size);
	return rc;
}

static int
decode_freed(struct json_object *res, void *out, struct pasid_error *err)
{
	uint32_t n = 0;

	return copy_out(lp_get_u32(res, "freed", &n, err), out, &n, sizeof(n));
}

static int
decode_device(struct json_object *res, void *out, struct pasid_error *err)
{
	struct pasid_device d;

	return copy_out(pasid_parse_device(res, &d, err), out, &d, sizeof(d));
}

static int
decode_mapping(struct json_object *res, void *out, struct pasid_error *err)
{
	struct pasid_mapping m;

	return copy_out(pasid_parse_mapping(res, &m, err), out, &m, sizeof(m));
}

static int
decode_mappings(struct json_object *res, void *out, struct pasid_error *err)
{
	struct list_out *l = out;

	return pasid_parse_mappings(res, l->items, l->n, err);
}

/* pasid.alloc with count answers {"mappings": [...]}, never a bare list. */
static int
decode_mapping_object(struct json_object *res, void *out, struct pasid_error *err)
{
	if (!json_object_is_type(res, json_type_object))
		return lp_bad_reply(err, "expected {\"mappings\": [...]}");
	return decode_mappings(res, out, err);
}

static int
decode_document(struct json_object *res, void *out, struct pasid_error *err)
{
	if (!json_object_is_type(res, json_type_object))
		return lp_bad_reply(err, "OpenRPC document is not an object");
	*(struct json_object **)out = json_object_get(res);
	return 0;
}

/* vm.export's document and vm.import's result, given to the caller as they came. */
static int
decode_object(struct json_object *res, void *out, struct pasid_error *err)
{
	if (!json_object_is_type(res, json_type_object))
		return lp_bad_reply(err, "the result is not an object");
	*(struct json_object **)out = json_object_get(res);
	return 0;
}

/* quota.get answers a list, quota.set one object; pasid_parse_quotas() takes either. */
static int
decode_quota_list(struct json_object *res, void *out, struct pasid_error *err)
{
	struct list_out *l = out;

	if (!json_object_is_type(res, json_type_array))
		return lp_bad_reply(err, "expected a list of quotas");
	return pasid_parse_quotas(res, l->items, l->n, err);
}

/* One quota, freed again when the caller wants none. */
static int
decode_quota(struct json_object *res, void *out, struct pasid_error *err)
{
	struct pasid_quota *q, **want = out;
	size_t n;
	int rc;

	if (!json_object_is_type(res, json_type_object))
		return lp_bad_reply(err, "expected a quota object");
	rc = pasid_parse_quotas(res, &q, &n, err);
	if (rc == 0 && want)
		*want = q;
	else if (rc == 0)
		pasid_quotas_free(q, n);
	return rc;
}

/* wq.list answers a list. */
static int
decode_wq_list(struct json_object *res, void *out, struct pasid_error *err)
{
	struct list_out *l = out;

	if (!json_object_is_type(res, json_type_array))
		return lp_bad_reply(err, "expected a list of WQs");
	return pasid_parse_wqs(res, l->items, l->n, err);
}

/* What pasid_wq_configure() hands back, each part only if the caller wants it. */
struct wq_configured {
	struct pasid_wq **wq;
	bool *changed;
};

/* wq.configure answers the WQ as read back, with "changed" beside its members. */
static int
decode_wq_configured(struct json_object *res, void *out, struct pasid_error *err)
{
	struct wq_configured *w = out;
	struct json_object *changed;
	struct pasid_wq *wq;
	size_t n;
	int rc;

	if (!json_object_is_type(res, json_type_object))
		return lp_bad_reply(err, "expected a WQ object");
	changed = lp_member(res, "changed", json_type_boolean);
	if (!changed)
		return lp_bad_reply(err, "changed");
	rc = pasid_parse_wqs(res, &wq, &n, err);
	if (rc < 0)
		return rc;
	if (w->changed)
		*w->changed = json_object_get_boolean(changed);
	if (w->wq)
		*w->wq = wq;
	else
		pasid_wqs_free(wq, n);
	return 0;
}

/* The v1 methods that have a typed call: what each is named, whether it is paged and how its
 * result is read. */
static const struct typed_method m_status = {"daemon.status", NULL, decode_status};
static const struct typed_method m_vm_register = {"vm.register", NULL, decode_vm};
static const struct typed_method m_vm_unregister = {"vm.unregister", NULL, decode_freed};
static const struct typed_method m_vm_list = {"vm.list", "vms", decode_vms};
static const struct typed_method m_vm_show = {"vm.show", "mappings", decode_vm};
static const struct typed_method m_device_assign = {"device.assign", NULL, decode_device};
static const struct typed_method m_device_release = {"device.release", NULL, NULL};
static const struct typed_method m_alloc = {"pasid.alloc", NULL, decode_mapping};
static const struct typed_method m_alloc_count = {"pasid.alloc", NULL, decode_mapping_object};
static const struct typed_method m_free = {"pasid.free", NULL, NULL};
static const struct typed_method m_lookup = {"pasid.lookup", NULL, decode_mapping};
static const struct typed_method m_list = {"pasid.list", "mappings", decode_mappings};
static const struct typed_method m_discover = {"rpc.discover", NULL, decode_document};
static const struct typed_method m_quota_get = {"quota.get", NULL, decode_quota_list};
static const struct typed_method m_quota_set = {"quota.set", NULL, decode_quota};
static const struct typed_method m_attach = {"pasid.attach", NULL, NULL};
static const struct typed_method m_detach = {"pasid.detach", NULL, NULL};
static const struct typed_method m_dev_attach = {"device.attach", NULL, NULL};
static const struct typed_method m_dev_detach = {"device.detach", NULL, NULL};
static const struct typed_method m_wq_list = {"wq.list", NULL, decode_wq_list};
static const struct typed_method m_wq_configure = {"wq.configure", NULL, decode_wq_configured};
static const struct typed_method m_export = {"vm.export", NULL, decode_object};
static const struct typed_method m_import = {"vm.import", NULL, decode_object};

int
pasid_daemon_status(struct pasid_client *c, struct pasid_status **out, struct pasid_error *err)
{
	*out = NULL;
	return typed_call(c, &m_status, NULL, out, err);
}

int
pasid_vm_register(struct pasid_client *c, const char *vm, const char *uuid, enum pasid_mode mode,
                  pid_t pid, struct pasid_vm **out, struct pasid_error *err)
{
	struct params p = vm_params(vm);

	if (out)
		*out = NULL;
	add_str(&p, "uuid", uuid);
	add_str(&p, "mode", pasid_mode_name(mode));
	if (pid > 0)
		add_int(&p, "pid", pid);
	return typed_call(c, &m_vm_register, &p, out, err);
}

int
pasid_vm_unregister(struct pasid_client *c, const char *vm, uint32_t *freed,
                    struct pasid_error *err)
{
	struct params p = vm_params(vm);

	return typed_call(c, &m_vm_unregister, &p, freed, err);
}

int
pasid_vm_list(struct pasid_client *c, struct pasid_vm **vms, size_t *n, struct pasid_error *err)
{
	struct list_out l = {vms, n};

	*vms = NULL;
	*n = 0;
	return typed_call(c, &m_vm_list, NULL, &l, err);
}

int
pasid_vm_show(struct pasid_client *c, const char *vm, struct pasid_vm **out,
              struct pasid_error *err)
{
	struct params p = vm_params(vm);

	*out = NULL;
	return typed_call(c, &m_vm_show, &p, out, err);
}

int
pasid_device_assign(struct pasid_client *c, const char *vm, const char *device, bool shared,
                    struct pasid_device *out, struct pasid_error *err)
{
	struct params p = vm_params(vm);

	add_str(&p, "device", device);
	params_add(&p, "shared", json_object_new_boolean(shared));
	return typed_call(c, &m_device_assign, &p, out, err);
}

int
pasid_device_release(struct pasid_client *c, const char *vm, const char *device,
                     struct pasid_error *err)
{
	struct params p = vm_params(vm);

	add_str(&p, "device", device);
	return typed_call(c, &m_device_release, &p, NULL, err);
}

static struct params
alloc_params(const char *vm, enum pasid_type type, const char *device, uint32_t gpasid)
{
	struct params p = vm_params(vm);

	add_str(&p, "type", pasid_type_name(type));
	add_str(&p, "device", device);
	if (gpasid != PASID_ANY)
		add_int(&p, "gpasid", gpasid);
	return p;
}

int
pasid_alloc(struct pasid_client *c, const char *vm, enum pasid_type type, const char *device,
            uint32_t gpasid, struct pasid_mapping *out, struct pasid_error *err)
{
	struct params p = alloc_params(vm, type, device, gpasid);

	return typed_call(c, &m_alloc, &p, out, err);
}

int
pasid_alloc_count(struct pasid_client *c, const char *vm, enum pasid_type type, const char *device,
                  uint32_t gpasid, uint32_t count, struct pasid_mapping **maps, size_t *n,
                  struct pasid_error *err)
{
	struct params p = alloc_params(vm, type, device, gpasid);
	struct list_out l = {maps, n};

	*maps = NULL;
	*n = 0;
	add_int(&p, "count", count);
	return typed_call(c, &m_alloc_count, &p, &l, err);
}

int
pasid_free(struct pasid_client *c, const char *vm, uint32_t gpasid, struct pasid_error *err)
{
	struct params p = vm_params(vm);

	add_int(&p, "gpasid", gpasid);
	return typed_call(c, &m_free, &p, NULL, err);
}

int
pasid_lookup(struct pasid_client *c, const char *vm, uint32_t gpasid, struct pasid_mapping *out,
             struct pasid_error *err)
{
	struct params p = vm_params(vm);

	add_int(&p, "gpasid", gpasid);
	return typed_call(c, &m_lookup, &p, out, err);
}

int
pasid_lookup_hpasid(struct pasid_client *c, uint32_t hpasid, const char *device,
                    struct pasid_mapping *out, struct pasid_error *err)
{
	struct params p = params_new();

	add_int(&p, "hpasid", hpasid);
	add_str(&p, "device", device);
	return typed_call(c, &m_lookup, &p, out, err);
}

int
pasid_list(struct pasid_client *c, const char *vm, enum pasid_type type,
           struct pasid_mapping **maps, size_t *n, struct pasid_error *err)
{
	struct params p = vm_params(vm);
	struct list_out l = {maps, n};

	*maps = NULL;
	*n = 0;
	add_str(&p, "type", pasid_type_name(type));
	return typed_call(c, &m_list, &p, &l, err);
}

int
pasid_rpc_discover(struct pasid_client *c, struct json_object **doc, struct pasid_error *err)
{
	*doc = NULL;
	return typed_call(c, &m_discover, NULL, doc, err);
}

int
pasid_quota_get(struct pasid_client *c, const char *cgroup, struct pasid_quota **quotas, size_t *n,
                struct pasid_error *err)
{
	struct params p = params_new();
	struct list_out l = {quotas, n};

	*quotas = NULL;
	*n = 0;
	add_str(&p, "cgroup", cgroup);
	return typed_call(c, &m_quota_get, &p, &l, err);
}

int
pasid_quota_set(struct pasid_client *c, const char *cgroup, uint64_t max, struct pasid_quota **out,
                struct pasid_error *err)
{
	struct params p;

	if (out)
		*out = NULL;
	/* The protocol's integers stop at INT64_MAX; refused here rather than sent wrapped. */
	if (max != PASID_QUOTA_NO_LIMIT && max > INT64_MAX) {
		lp_forget_outcome(c);
		return lp_fail(err, -EINVAL, "a quota is at most %lld or no limit",
		               (long long)INT64_MAX);
	}
	p = params_new();
	add_str(&p, "cgroup", cgroup);
	params_add(&p, "max",
	           max == PASID_QUOTA_NO_LIMIT ? json_object_new_string("max")
	                                       : json_object_new_int64((int64_t)max));
	return typed_call(c, &m_quota_set, &p, out, err);
}

/* Attachments. A request without its VM or device, which the daemon could only refuse, and
 * descriptors that are not open are refused here, before anything is queued, with a message
 * that names the descriptor at fault (pasid_queue() would fail to duplicate it, and not say
 * which). */

static int
check_target(const char *vm, const char *device, struct pasid_error *err)
{
	if (!vm || !device)
		return lp_fail(err, -EINVAL, "attach and detach need a VM and a device");
	return 0;
}

static int
check_fd(int fd, const char *what, struct pasid_error *err)
{
	if (fd < 0 || fcntl(fd, F_GETFD) < 0)
		return lp_fail(err, -EBADF, "%s %d is not an open descriptor", what, fd);
	return 0;
}

static int
check_attach(const char *vm, const char *device, int iommufd, int devfd, struct pasid_error *err)
{
	int rc = check_target(vm, device, err);

	if (rc == 0)
		rc = check_fd(iommufd, "iommufd", err);
	if (rc == 0)
		rc = check_fd(devfd, "devfd", err);
	return rc;
}

static struct params
detach_params(const char *vm, uint32_t gpasid, const char *device)
{
	struct params p = vm_params(vm);

	add_int(&p, "gpasid", gpasid);
	add_str(&p, "device", device);
	return p;
}

/* fds must outlive the params: the call or queue copies them before it returns. */
static struct params
attach_params(const char *vm, uint32_t gpasid, const char *device, uint32_t pt_id, uint32_t dev_id,
              const int fds[2])
{
	struct params p = detach_params(vm, gpasid, device);

	add_int(&p, "pt_id", pt_id);
	add_int(&p, "dev_id", dev_id);
	add_int(&p, "fds", 2);
	p.fds = fds;
	p.nfds = 2;
	return p;
}

int
pasid_attach(struct pasid_client *c, const char *vm, uint32_t gpasid, const char *device,
             uint32_t pt_id, uint32_t dev_id, int iommufd, int devfd, struct pasid_error *err)
{
	const int fds[2] = {iommufd, devfd};
	struct params p;
	int rc = check_attach(vm, device, iommufd, devfd, err);

	if (rc < 0) {
		lp_forget_outcome(c);
		return rc;
	}
	p = attach_params(vm, gpasid, device, pt_id, dev_id, fds);
	return typed_call(c, &m_attach, &p, NULL, err);
}

int
pasid_detach(struct pasid_client *c, const char *vm, uint32_t gpasid, const char *device,
             struct pasid_error *err)
{
	struct params p;
	int rc = check_target(vm, device, err);

	if (rc < 0) {
		lp_forget_outcome(c);
		return rc;
	}
	p = detach_params(vm, gpasid, device);
	return typed_call(c, &m_detach, &p, NULL, err);
}

int64_t
pasid_queue_attach(struct pasid_client *c, const char *vm, uint32_t gpasid, const char *device,
                   uint32_t pt_id, uint32_t dev_id, int iommufd, int devfd, struct pasid_error *err)
{
	const int fds[2] = {iommufd, devfd};
	struct params p;
	int rc = check_attach(vm, device, iommufd, devfd, err);

	if (rc < 0)
		return rc;
	p = attach_params(vm, gpasid, device, pt_id, dev_id, fds);
	return typed_queue(c, &m_attach, &p, err);
}

int64_t
pasid_queue_detach(struct pasid_client *c, const char *vm, uint32_t gpasid, const char *device,
                   struct pasid_error *err)
{
	struct params p;
	int rc = check_target(vm, device, err);

	if (rc < 0)
		return rc;
	p = detach_params(vm, gpasid, device);
	return typed_queue(c, &m_detach, &p, err);
}

/* A device's requester ID, attached by the daemon for the VMM (device.attach). */

int
pasid_device_attach(struct pasid_client *c, const char *vm, const char *device, uint32_t pt_id,
                    uint32_t dev_id, int iommufd, int devfd, struct pasid_error *err)
{
	const int fds[2] = {iommufd, devfd};
	struct params p;
	int rc = check_attach(vm, device, iommufd, devfd, err);

	if (rc < 0) {
		lp_forget_outcome(c);
		return rc;
	}
	p = vm_params(vm);
	add_str(&p, "device", device);
	add_int(&p, "pt_id", pt_id);
	add_int(&p, "dev_id", dev_id);
	add_int(&p, "fds", 2);
	p.fds = fds;
	p.nfds = 2;
	return typed_call(c, &m_dev_attach, &p, NULL, err);
}

int
pasid_device_detach(struct pasid_client *c, const char *vm, const char *device,
                    struct pasid_error *err)
{
	struct params p;
	int rc = check_target(vm, device, err);

	if (rc < 0) {
		lp_forget_outcome(c);
		return rc;
	}
	p = vm_params(vm);
	add_str(&p, "device", device);
	return typed_call(c, &m_dev_detach, &p, NULL, err);
}

/* Work queues. */

int
pasid_wq_list(struct pasid_client *c, struct pasid_wq **wqs, size_t *n, struct pasid_error *err)
{
	struct list_out l = {wqs, n};

	*wqs = NULL;
	*n = 0;
	return typed_call(c, &m_wq_list, NULL, &l, err);
}

#define WQ_SET_KNOWN                                                                               \
	(PASID_WQ_SET_SIZE | PASID_WQ_SET_PRIORITY | PASID_WQ_SET_GROUP | PASID_WQ_SET_THRESHOLD | \
	 PASID_WQ_SET_NAME | PASID_WQ_SET_BLOCK_ON_FAULT)

/* A configuration the daemon could only refuse, or one that asks for what this library does
 * not know how to send (a set bit or reserved member of a later version), is refused here:
 * sending it without those parts would configure something else than was asked for. */
static int
check_wq_config(const struct pasid_wq_config *cfg, struct pasid_error *err)
{
	if (!cfg || !cfg->wq)
		return lp_fail(err, -EINVAL, "wq.configure needs a WQ");
	if (!pasid_wq_mode_name(cfg->mode) || !pasid_wq_type_name(cfg->type))
		return lp_fail(err, -EINVAL, "wq.configure needs a mode and a type");
	if (cfg->set & ~WQ_SET_KNOWN)
		return lp_fail(err, -EINVAL, "unknown struct pasid_wq_config set bits 0x%x",
		               cfg->set & ~WQ_SET_KNOWN);
	for (size_t i = 0; i < sizeof(cfg->reserved) / sizeof(cfg->reserved[0]); i++) {
		if (cfg->reserved[i])
			return lp_fail(err, -EINVAL,
			               "struct pasid_wq_config reserved[%zu] is not 0", i);
	}
	if ((cfg->set & PASID_WQ_SET_GROUP) && cfg->group < 0)
		return lp_fail(err, -EINVAL, "a WQ's group is a group number, 0 or more");
	if ((cfg->set & PASID_WQ_SET_NAME) && !cfg->name)
		return lp_fail(err, -EINVAL, "PASID_WQ_SET_NAME without a name");
	return 0;
}

static struct params
wq_config_params(const struct pasid_wq_config *cfg)
{
	struct params p = params_new();

	add_str(&p, "wq", cfg->wq);
	add_str(&p, "mode", pasid_wq_mode_name(cfg->mode));
	add_str(&p, "type", pasid_wq_type_name(cfg->type));
	if (cfg->set & PASID_WQ_SET_SIZE)
		add_int(&p, "size", cfg->size);
	if (cfg->set & PASID_WQ_SET_PRIORITY)
		add_int(&p, "priority", cfg->priority);
	if (cfg->set & PASID_WQ_SET_GROUP)
		add_int(&p, "group", cfg->group);
	if (cfg->set & PASID_WQ_SET_THRESHOLD)
		add_int(&p, "threshold", cfg->threshold);
	if (cfg->set & PASID_WQ_SET_NAME)
		add_str(&p, "name", cfg->name);
	if (cfg->set & PASID_WQ_SET_BLOCK_ON_FAULT)
		params_add(&p, "block_on_fault", json_object_new_boolean(cfg->block_on_fault));
	return p;
}

int
pasid_wq_configure(struct pasid_client *c, const struct pasid_wq_config *cfg, struct pasid_wq **out,
                   bool *changed, struct pasid_error *err)
{
	struct wq_configured w = {out, changed};
	struct params p;
	int rc;

	if (out)
		*out = NULL;
	if (changed)
		*changed = false;
	rc = check_wq_config(cfg, err);
	if (rc < 0) {
		lp_forget_outcome(c);
		return rc;
	}
	p = wq_config_params(cfg);
	return typed_call(c, &m_wq_configure, &p, &w, err);
}

int
pasid_alloc_wq(struct pasid_client *c, const char *vm, const char *wq, uint32_t gpasid,
               struct pasid_mapping *out, struct pasid_error *err)
{
	struct params p = alloc_params(vm, PASID_TYPE_SHARED, NULL, gpasid);

	add_str(&p, "wq", wq);
	return typed_call(c, &m_alloc, &p, out, err);
}

int
pasid_alloc_wq_count(struct pasid_client *c, const char *vm, const char *wq, uint32_t gpasid,
                     uint32_t count, struct pasid_mapping **maps, size_t *n,
                     struct pasid_error *err)
{
	struct params p = alloc_params(vm, PASID_TYPE_SHARED, NULL, gpasid);
	struct list_out l = {maps, n};

	*maps = NULL;
	*n = 0;
	add_int(&p, "count", count);
	add_str(&p, "wq", wq);
	return typed_call(c, &m_alloc_count, &p, &l, err);
}

int
pasid_list_wq(struct pasid_client *c, const char *vm, enum pasid_type type, const char *wq,
              struct pasid_mapping **maps, size_t *n, struct pasid_error *err)
{
	struct params p = vm_params(vm);
	struct list_out l = {maps, n};

	*maps = NULL;
	*n = 0;
	add_str(&p, "type", pasid_type_name(type));
	add_str(&p, "wq", wq);
	return typed_call(c, &m_list, &p, &l, err);
}

int
pasid_vm_export(struct pasid_client *c, const char *vm, struct json_object **doc,
                struct pasid_error *err)
{
	struct params p = vm_params(vm);

	*doc = NULL;
	return typed_call(c, &m_export, &p, doc, err);
}

int
pasid_vm_import(struct pasid_client *c, struct json_object *doc,
                const struct pasid_import_opts *opts, struct json_object **result,
                struct pasid_error *err)
{
	struct params p = params_new();

	*result = NULL;
	params_add(&p, "document", json_object_get(doc));
	if (opts) {
		add_str(&p, "vm", opts->vm);
		if (opts->pid > 0)
			add_int(&p, "pid", opts->pid);
		if (opts->dry_run)
			params_add(&p, "dry_run", json_object_new_boolean(true));
		if (opts->devices)
			params_add(&p, "devices", json_object_get(opts->devices));
		if (opts->wqs)
			params_add(&p, "wqs", json_object_get(opts->wqs));
		add_str(&p, "reservation", opts->reservation);
	}
	return typed_call(c, &m_import, &p, result, err);
}

/* Reservations. */

static int
decode_reservations(struct json_object *res, void *out, struct pasid_error *err)
{
	struct list_out *l = out;

	if (!json_object_is_type(res, json_type_array))
		return lp_bad_reply(err, "expected a list of reservations");
	return pasid_parse_reservations(res, l->items, l->n, err);
}

/* One reservation, freed again when the caller wants none. */
static int
decode_reservation(struct json_object *res, void *out, struct pasid_error *err)
{
	struct pasid_reservation *r, **want = out;
	size_t n;
	int rc;

	if (!json_object_is_type(res, json_type_object))
		return lp_bad_reply(err, "expected a reservation object");
	rc = pasid_parse_reservations(res, &r, &n, err);
	if (rc == 0 && want)
		*want = r;
	else if (rc == 0)
		pasid_reservations_free(r, n);
	return rc;
}

static const struct typed_method m_range_reserve = {"range.reserve", NULL, decode_reservation};
static const struct typed_method m_range_unreserve = {"range.unreserve", NULL, NULL};
static const struct typed_method m_range_list = {"range.list", NULL, decode_reservations};

int
pasid_range_reserve(struct pasid_client *c, uint32_t first, uint32_t last, const char *why,
                    uint32_t expires_s, const char *name, struct pasid_reservation **out,
                    struct pasid_error *err)
{
	struct params p = params_new();

	if (out)
		*out = NULL;
	add_int(&p, "first", first);
	add_int(&p, "last", last);
	add_str(&p, "why", why);
	if (expires_s)
		add_int(&p, "expires_s", expires_s);
	add_str(&p, "name", name);
	return typed_call(c, &m_range_reserve, &p, out, err);
}

int
pasid_range_unreserve(struct pasid_client *c, const char *name, struct pasid_error *err)
{
	struct params p = params_new();

	if (!name) {
		lp_forget_outcome(c);
		return lp_fail(err, -EINVAL, "range.unreserve needs a reservation's name");
	}
	add_str(&p, "name", name);
	return typed_call(c, &m_range_unreserve, &p, NULL, err);
}

int
pasid_range_unreserve_range(struct pasid_client *c, uint32_t first, uint32_t last,
                            struct pasid_error *err)
{
	struct params p = params_new();

	add_int(&p, "first", first);
	add_int(&p, "last", last);
	return typed_call(c, &m_range_unreserve, &p, NULL, err);
}

int
pasid_range_list(struct pasid_client *c, struct pasid_reservation **out, size_t *n,
                 struct pasid_error *err)
{
	struct list_out l = {out, n};

	*out = NULL;
	*n = 0;
	return typed_call(c, &m_range_list, NULL, &l, err);
}

int
pasid_alloc_reserved(struct pasid_client *c, const char *vm, enum pasid_type type,
                     const char *device, const char *reservation, uint32_t gpasid, uint32_t count,
                     struct pasid_mapping *out, struct pasid_mapping **maps, size_t *n,
                     struct pasid_error *err)
{
	struct params p = alloc_params(vm, type, device, gpasid);
	struct list_out l = {maps, n};

	add_str(&p, "reservation", reservation);
	if (!count)
		return typed_call(c, &m_alloc, &p, out, err);
	*maps = NULL;
	*n = 0;
	add_int(&p, "count", count);
	return typed_call(c, &m_alloc_count, &p, &l, err);
}
