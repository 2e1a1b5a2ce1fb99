/* Issue 11: work queues on the real pasidd pointed at sysfs fixture trees ([Idxd] SysfsRoot=,
 * tests/idxd_fixture.h). wq.list as the files say at each request, with the shared PASIDs
 * handed out against each WQ (per VM, as far as the peer may see); pasid.alloc with `wq`
 * against each kind of WQ, every refusal changing nothing; the WQ kept with its mappings
 * (listed, filtered, kept across a kill -9, uncounted when freed); [Idxd] RequireWQ=; a WQ
 * that changes or vanishes under its mappings reported by daemon.status and the log. */
#include <check.h>

#include "ck_main.h"
#include "idxd_fixture.h"
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "itutil.h"

#define NOBODY 65534

static struct it_daemon d;
static int fd = -1;
static char sys[128], conf[256];

static void
start_with(const char *root, const char *more)
{
	char text[512];

	snprintf(text, sizeof(text), "[Idxd]\nSysfsRoot=%s\n%s", root, more);
	ck_assert_int_eq(it_write_file(&d, "idxd.conf", text, conf, sizeof(conf)), 0);
	ck_assert_int_eq(it_restart(&d, "--config", conf, NULL), 0);
	fd = it_connect(&d);
	ck_assert_int_ge(fd, 0);
}

static void
start(const char *root)
{
	start_with(root, "");
}

/* dsa0: wq0.0 dedicated and disabled, wq0.1 the usable one, wq0.2 shared but of type kernel,
 * wq0.3 shared and of type user but disabled; iax1 (PASID disabled): wq1.0; dsa2 (device
 * disabled): wq2.0. */
static void
setup(void)
{
	static const struct idxd_fx_wq wqs[] = {
	    {"wq0.0", "dedicated", "none", "", "disabled", "", 0, 0, 0, 0, -1, 0, -1},
	    {"wq0.1", "shared", "user", "vms", "enabled", "user", 32, 10, 16, 1, 0, 2, 1},
	    {"wq0.2", "shared", "kernel", "dma", "enabled", "dmaengine", 16, 5, 8, 0, 0, 0, -1},
	    {"wq0.3", "shared", "user", "", "disabled", "user", 16, 5, 8, 0, 1, 0, -1},
	};
	static const struct idxd_fx_wq iax = {"wq1.0", "shared", "user", "", "enabled", "user", 8,
	                                      1,       8,        0,      0,  0,         0};
	static const struct idxd_fx_wq off = {"wq2.0", "shared", "user", "", "enabled", "user", 8,
	                                      1,       8,        0,      0,  0,         0};

	ck_assert_int_eq(it_prepare(&d), 0);
	snprintf(sys, sizeof(sys), "%s/sys", d.dir);
	ck_assert_int_eq(idxd_fx_device(sys, "dsa0", "0000:6a:01.0", 1, "enabled", 8, 128, NULL),
	                 0);
	for (size_t i = 0; i < sizeof(wqs) / sizeof(wqs[0]); i++)
		ck_assert_int_eq(idxd_fx_wq(sys, "dsa0", &wqs[i]), 0);
	ck_assert_int_eq(idxd_fx_device(sys, "iax1", "0000:6a:02.0", 0, "enabled", 8, 128, NULL),
	                 0);
	ck_assert_int_eq(idxd_fx_wq(sys, "iax1", &iax), 0);
	ck_assert_int_eq(idxd_fx_device(sys, "dsa2", "0000:6b:01.0", 1, "disabled", 8, 128, NULL),
	                 0);
	ck_assert_int_eq(idxd_fx_wq(sys, "dsa2", &off), 0);
}

static void
teardown(void)
{
	it_teardown(&d, &fd);
}

/* The wq.list entry of ref, or NULL. */
static struct json_object *
entry(struct json_object *list, const char *ref)
{
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		struct json_object *e = json_object_array_get_idx(list, i);

		if (!strcmp(it_str(e, "wq"), ref))
			return e;
	}
	return NULL;
}

static struct json_object *
wq_entry(const char *ref)
{
	struct json_object *e = entry(IT_OK(it_call(fd, "wq.list", NULL)), ref);

	ck_assert_msg(e, "wq.list lacks %s", ref);
	return e;
}

static const char *
alloc_wq(const char *vm, const char *wq, int count)
{
	static char params[160];

	snprintf(params, sizeof(params),
	         "{\"vm\":\"%s\",\"type\":\"shared\",\"wq\":\"%s\",\"count\":%d}", vm, wq, count);
	return params;
}

START_TEST(lists_the_fixture)
{
	struct json_object *r, *e;

	start(sys);
	/* Start-up says what there is: wq0.1 is the one usable WQ. */
	ck_assert_msg(strstr(it_log(&d), "idxd: 3 device(s), 6 work queue(s) under ") &&
	                  strstr(it_log(&d), ", 1 of them shared, of type user, enabled"),
	              "%s", it_log(&d));
	r = IT_OK(it_call(fd, "wq.list", NULL));
	ck_assert(json_object_is_type(r, json_type_array));
	ck_assert_uint_eq(json_object_array_length(r), 6);
	ck_assert_str_eq(it_str(r, "0.wq"), "dsa0/wq0.0");
	ck_assert_str_eq(it_str(r, "0.state"), "disabled");
	ck_assert_int_eq(it_int(r, "0.group_id"), -1);
	ck_assert_ptr_null(it_get(r, "0.char_device"));
	e = entry(r, "dsa0/wq0.1");
	IT_JSON_EQ(e,
	           "{\"wq\":\"dsa0/wq0.1\",\"device\":\"dsa0\",\"kind\":\"dsa\","
	           "\"bdf\":\"0000:6a:01.0\",\"mode\":\"shared\",\"type\":\"user\","
	           "\"state\":\"enabled\",\"size\":32,\"pasid_enabled\":true,"
	           "\"device_state\":\"enabled\",\"priority\":10,\"threshold\":16,\"group_id\":0,"
	           "\"block_on_fault\":true,\"label\":\"vms\",\"driver_name\":\"user\","
	           "\"clients\":2,\"char_device\":\"/dev/dsa/wq0.1\",\"pasids\":0,\"vms\":[]}");
	e = entry(r, "iax1/wq1.0");
	ck_assert(!json_object_get_boolean(it_get(e, "pasid_enabled")));
	ck_assert_str_eq(it_str(e, "char_device"), "/dev/iax/wq1.0");
	ck_assert_str_eq(it_str(e, "kind"), "iax");
	/* daemon.status says idxd is there and nothing is wrong. */
	r = IT_OK(it_call(fd, "daemon.status", NULL));
	ck_assert(json_object_get_boolean(it_get(r, "idxd.present")));
	ck_assert_str_eq(it_str(r, "idxd.sysfs_root"), sys);
	ck_assert(!json_object_get_boolean(it_get(r, "idxd.require_wq")));
	ck_assert_uint_eq(json_object_array_length(it_get(r, "warnings")), 0);
	IT_ERR(it_call(fd, "wq.list", "{\"wq\":\"dsa0/wq0.1\"}"), -32602, "wq");
}
END_TEST

START_TEST(sees_changes_between_requests)
{
	struct json_object *r;

	start(sys);
	ck_assert_str_eq(it_str(wq_entry("dsa0/wq0.1"), "mode"), "shared");
	ck_assert_int_eq(idxd_fx_set(sys, "wq0.1", "mode", "dedicated"), 0);
	ck_assert_int_eq(idxd_fx_remove_wq(sys, "dsa0", "wq0.0"), 0);
	ck_assert_int_eq(idxd_fx_set(sys, "iax1", "pasid_enabled", "yes"), 0);
	r = IT_OK(it_call(fd, "wq.list", NULL));
	ck_assert_ptr_null(entry(r, "dsa0/wq0.0"));
	ck_assert_str_eq(it_str(entry(r, "dsa0/wq0.1"), "mode"), "dedicated");
	/* A file that cannot be read is shown, naming it, not hidden nor fatal. */
	ck_assert_str_eq(it_str(entry(r, "iax1/wq1.0"), "error"),
	                 "iax1/pasid_enabled: 'yes' is not a number");
	/* ... and refuses an allocation against it as the kernel's fault, changing nothing. */
	IT_OK(it_call(fd, "vm.register", "{\"vm\":\"v\"}"));
	IT_ERR(it_call(fd, "pasid.alloc", alloc_wq("v", "iax1/wq1.0", 1)), 1006, "wq");
	ck_assert_int_eq(it_int(IT_OK(it_call(fd, "daemon.status", NULL)), "used.shared"), 0);
}
END_TEST

START_TEST(no_idxd_on_the_host)
{
	struct json_object *r, *e;
	char empty[128];

	snprintf(empty, sizeof(empty), "%s/empty", d.dir);
	ck_assert_int_eq(idxd_fx_mkdirs(empty), 0);
	start(empty);
	ck_assert_msg(strstr(it_log(&d), "idxd: none ("), "%s", it_log(&d));
	r = IT_OK(it_call(fd, "wq.list", "{}"));
	ck_assert_uint_eq(json_object_array_length(r), 0);
	r = IT_OK(it_call(fd, "daemon.status", NULL));
	ck_assert(!json_object_get_boolean(it_get(r, "idxd.present")));
	ck_assert_ptr_nonnull(strstr(it_str(r, "idxd.why"), "no idxd driver"));
	IT_OK(it_call(fd, "vm.register", "{\"vm\":\"v\"}"));
	e = it_call(fd, "pasid.alloc", alloc_wq("v", "dsa0/wq0.1", 1));
	IT_ERR(e, 1007, "wq");
	ck_assert_str_eq(it_str(e, "error.data.missing"), "idxd (DSA/IAX) driver");
	/* Without a WQ, shared PASIDs are handed out as ever. */
	IT_OK(it_call(fd, "pasid.alloc", "{\"vm\":\"v\",\"type\":\"shared\"}"));
}
END_TEST

/* Each kind of WQ gets its documented answer; a refusal changes neither the answers nor a
 * byte of the state directory. */
static const struct refusal {
	const char *wq;
	int code;
	const char *says;
} refusals[] = {
    {"dsa0/wq0.0", 1004, "work queue dsa0/wq0.0 is dedicated"},
    {"dsa0/wq0.2", 1004, "work queue dsa0/wq0.2 is of type kernel"},
    {"dsa0/wq0.3", 1004, "work queue dsa0/wq0.3 is disabled"},
    {"iax1/wq1.0", 1004, "device iax1 has PASID disabled"},
    {"dsa2/wq2.0", 1004, "device dsa2 is disabled"},
    {"dsa0/wq0.7", 1003, "no work queue dsa0/wq0.7"},
    {"dsa5/wq5.0", 1003, "no idxd device dsa5"},
    {"dsa0/wq1.0", -32602, "like dsa0/wq0.1"},
    {"dsa00/wq00.1", -32602, "like dsa0/wq0.1"},
};

START_TEST(alloc_checks_the_wq)
{
	const struct refusal *f = &refusals[_i];
	struct json_object *r;
	char *before;

	start(sys);
	IT_OK(it_call(fd, "vm.register", "{\"vm\":\"v\"}"));
	r = IT_OK(it_call(fd, "pasid.alloc", alloc_wq("v", "dsa0/wq0.1", 1)));
	ck_assert_str_eq(it_str(r, "mappings.0.wq"), "dsa0/wq0.1");
	before = it_keep_str(itu_dir_digest(d.state));
	r = it_call(fd, "pasid.alloc", alloc_wq("v", f->wq, 2));
	IT_ERR(r, f->code, "wq");
	ck_assert_msg(strstr(it_str(r, "error.message"), f->says), "%s: %s", f->wq,
	              it_str(r, "error.message"));
	ck_assert_str_eq(it_keep_str(itu_dir_digest(d.state)), before);
	r = IT_OK(it_call(fd, "vm.show", "{\"vm\":\"v\"}"));
	ck_assert_int_eq(it_int(r, "pasids"), 1);
	ck_assert_int_eq(it_int(wq_entry("dsa0/wq0.1"), "pasids"), 1);
}
END_TEST

START_TEST(wq_is_for_shared_pasids)
{
	start(sys);
	IT_OK(it_call(fd, "vm.register", "{\"vm\":\"v\"}"));
	IT_OK(it_call(fd, "device.assign", "{\"vm\":\"v\",\"device\":\"0000:01:00.0\"}"));
	IT_ERR(it_call(fd, "pasid.alloc",
	               "{\"vm\":\"v\",\"type\":\"local\",\"device\":\"0000:01:00.0\","
	               "\"wq\":\"dsa0/wq0.1\"}"),
	       -32602, "wq");
	IT_ERR(it_call(fd, "pasid.alloc", "{\"vm\":\"v\",\"type\":\"shared\",\"wq\":7}"), -32602,
	       "wq");
	IT_ERR(it_call(fd, "pasid.list", "{\"wq\":\"wq0.1\"}"), -32602, "wq");
}
END_TEST

/* Who uses which WQ: totals for everyone, the VMs of the peer's uid for anyone, all VMs for
 * an administrator; the mappings carry their WQ in every listing, through a kill -9, and
 * leave its count when freed. */
START_TEST(accounting_per_wq_and_vm)
{
	struct json_object *r, *e;
	pid_t holder;
	int nb;

	ck_assert_int_eq(chmod(d.dir, 0755), 0);
	start_with(sys, "[Daemon]\nSocketMode=0666\n");
	IT_OK(it_call(fd, "vm.register", "{\"vm\":\"a\"}"));
	IT_OK(it_call(fd, "vm.register", "{\"vm\":\"b\"}"));
	IT_OK(it_call(fd, "pasid.alloc", alloc_wq("a", "dsa0/wq0.1", 2)));
	IT_OK(it_call(fd, "pasid.alloc", alloc_wq("b", "dsa0/wq0.1", 1)));
	IT_OK(it_call(fd, "pasid.alloc", "{\"vm\":\"b\",\"type\":\"shared\"}"));
	e = wq_entry("dsa0/wq0.1");
	ck_assert_int_eq(it_int(e, "pasids"), 3);
	IT_JSON_EQ(it_get(e, "vms"), "[{\"vm\":\"a\",\"pasids\":2},{\"vm\":\"b\",\"pasids\":1}]");
	ck_assert_int_eq(it_int(wq_entry("dsa0/wq0.2"), "pasids"), 0);

	nb = it_connect_as(&d, NOBODY, NOBODY, NULL, 0, &holder);
	ck_assert_int_ge(nb, 0);
	IT_OK(it_call(nb, "vm.register", "{\"vm\":\"n\"}"));
	IT_OK(it_call(nb, "pasid.alloc", alloc_wq("n", "dsa0/wq0.1", 1)));
	e = entry(IT_OK(it_call(nb, "wq.list", NULL)), "dsa0/wq0.1");
	ck_assert_int_eq(it_int(e, "pasids"), 4);
	IT_JSON_EQ(it_get(e, "vms"), "[{\"vm\":\"n\",\"pasids\":1}]");
	close(nb);
	it_holder_release(holder);

	r = IT_OK(it_call(fd, "pasid.list", "{\"wq\":\"dsa0/wq0.1\",\"vm\":\"b\"}"));
	ck_assert_uint_eq(json_object_array_length(it_get(r, "mappings")), 1);
	ck_assert_str_eq(it_str(r, "mappings.0.wq"), "dsa0/wq0.1");
	r = IT_OK(it_call(fd, "pasid.list", "{\"wq\":\"dsa0/wq0.2\"}"));
	ck_assert_uint_eq(json_object_array_length(it_get(r, "mappings")), 0);
	r = IT_OK(it_call(fd, "vm.show", "{\"vm\":\"b\"}"));
	ck_assert_str_eq(it_str(r, "mappings.0.wq"), "dsa0/wq0.1");
	ck_assert_ptr_null(it_get(r, "mappings.1.wq"));
	r = IT_OK(it_call(fd, "pasid.lookup", "{\"vm\":\"a\",\"gpasid\":2}"));
	ck_assert_str_eq(it_str(r, "wq"), "dsa0/wq0.1");

	/* Journaled: a kill -9 and a restart keep every WQ with its mapping. */
	it_kill(&d);
	close(fd);
	ck_assert_int_eq(it_restart(&d, "--config", conf, NULL), 0);
	fd = it_connect(&d);
	ck_assert_int_ge(fd, 0);
	IT_OK(it_call(fd, "vm.register", "{\"vm\":\"a\"}"));
	e = wq_entry("dsa0/wq0.1");
	ck_assert_int_eq(it_int(e, "pasids"), 3);
	r = IT_OK(it_call(fd, "pasid.list", "{\"wq\":\"dsa0/wq0.1\"}"));
	ck_assert_uint_eq(json_object_array_length(it_get(r, "mappings")), 3);
	IT_OK(it_call(fd, "pasid.free", "{\"vm\":\"a\",\"gpasid\":1}"));
	IT_OK(it_call(fd, "vm.unregister", "{\"vm\":\"b\"}"));
	e = wq_entry("dsa0/wq0.1");
	ck_assert_int_eq(it_int(e, "pasids"), 1);
	IT_JSON_EQ(it_get(e, "vms"), "[{\"vm\":\"a\",\"pasids\":1}]");
}
END_TEST

START_TEST(require_wq)
{
	struct json_object *r;

	start_with(sys, "RequireWQ=yes\n");
	r = IT_OK(it_call(fd, "daemon.status", NULL));
	ck_assert(json_object_get_boolean(it_get(r, "idxd.require_wq")));
	IT_OK(it_call(fd, "vm.register", "{\"vm\":\"v\"}"));
	r = it_call(fd, "pasid.alloc", "{\"vm\":\"v\",\"type\":\"shared\"}");
	IT_ERR(r, -32602, "wq");
	ck_assert_msg(it_str(r, "error.message") && strstr(it_str(r, "error.message"), "RequireWQ"),
	              "%s", json_object_to_json_string(r));
	IT_OK(it_call(fd, "pasid.alloc", alloc_wq("v", "dsa0/wq0.1", 1)));
	/* Local PASIDs are for a device, not a WQ. */
	IT_OK(it_call(fd, "device.assign", "{\"vm\":\"v\",\"device\":\"0000:01:00.0\"}"));
	IT_OK(it_call(fd, "pasid.alloc",
	              "{\"vm\":\"v\",\"type\":\"local\",\"device\":\"0000:01:00.0\"}"));
}
END_TEST

/* A WQ reconfigured, then removed, under its mappings: daemon.status warns and the log says
 * so once per change; wq.list still counts its PASIDs (state missing once gone); put back,
 * the warning ends. */
START_TEST(wq_changing_under_mappings_is_reported)
{
	static const struct idxd_fx_wq back = {
	    "wq0.1", "shared", "user", "vms", "enabled", "user", 32, 10, 16, 1, 0, 2, 1};
	struct json_object *r, *e;

	start(sys);
	IT_OK(it_call(fd, "vm.register", "{\"vm\":\"v\"}"));
	IT_OK(it_call(fd, "pasid.alloc", alloc_wq("v", "dsa0/wq0.1", 2)));
	ck_assert_int_eq(idxd_fx_set(sys, "wq0.1", "mode", "dedicated"), 0);
	r = IT_OK(it_call(fd, "daemon.status", NULL));
	ck_assert_uint_eq(json_object_array_length(it_get(r, "warnings")), 1);
	ck_assert_str_eq(it_str(r, "warnings.0.kind"), "wq");
	ck_assert_str_eq(it_str(r, "warnings.0.wq"), "dsa0/wq0.1");
	ck_assert_int_eq(it_int(r, "warnings.0.pasids"), 2);
	ck_assert_ptr_nonnull(strstr(it_str(r, "warnings.0.problem"), "is dedicated"));
	IT_OK(it_call(fd, "daemon.status", NULL));
	ck_assert_ptr_nonnull(strstr(it_log(&d), "work queue dsa0/wq0.1, which 2 shared PASID(s) "
	                                         "were handed out for: work queue dsa0/wq0.1 is "
	                                         "dedicated"));
	/* Said once while it lasts. */
	ck_assert_ptr_null(strstr(strstr(it_log(&d), "is dedicated") + 1, "is dedicated"));

	ck_assert_int_eq(idxd_fx_remove_wq(sys, "dsa0", "wq0.1"), 0);
	r = IT_OK(it_call(fd, "daemon.status", NULL));
	ck_assert_str_eq(it_str(r, "warnings.0.problem"), "work queue dsa0/wq0.1 is gone");
	e = wq_entry("dsa0/wq0.1");
	IT_JSON_EQ(e, "{\"wq\":\"dsa0/wq0.1\",\"state\":\"missing\",\"pasids\":2,"
	              "\"vms\":[{\"vm\":\"v\",\"pasids\":2}]}");
	/* New PASIDs are not handed out for it, the old ones stay where they are. */
	IT_ERR(it_call(fd, "pasid.alloc", alloc_wq("v", "dsa0/wq0.1", 1)), 1003, "wq");
	ck_assert_int_eq(it_int(IT_OK(it_call(fd, "vm.show", "{\"vm\":\"v\"}")), "pasids"), 2);

	ck_assert_int_eq(idxd_fx_wq(sys, "dsa0", &back), 0);
	r = IT_OK(it_call(fd, "daemon.status", NULL));
	ck_assert_uint_eq(json_object_array_length(it_get(r, "warnings")), 0);
	ck_assert_ptr_nonnull(
	    strstr(it_log(&d), "work queue dsa0/wq0.1 is usable again for its 2 shared PASID(s)"));
}
END_TEST

/* ---- declarative setup: wq.configure and [WorkQueue] ---- */

/* dsa3 as a host brings it up: device and WQs disabled, of type none, in no group; its
 * groups and engines, and the drivers of the dsa bus with their bind files. */
static void
add_blank_device(void)
{
	static const struct idxd_fx_wq blank[] = {
	    {"wq3.0", "dedicated", "none", "", "disabled", "", 0, 0, 0, 0, -1, 0, -1},
	    {"wq3.1", "dedicated", "none", "", "disabled", "", 0, 0, 0, 0, -1, 0, -1},
	};

	ck_assert_int_eq(idxd_fx_device(sys, "dsa3", "0000:6c:01.0", 1, "disabled", 8, 128, NULL),
	                 0);
	ck_assert_int_eq(idxd_fx_groups(sys, "dsa3", 2, 2), 0);
	ck_assert_int_eq(idxd_fx_wq(sys, "dsa3", &blank[0]), 0);
	ck_assert_int_eq(idxd_fx_wq(sys, "dsa3", &blank[1]), 0);
	ck_assert_int_eq(idxd_fx_drivers(sys), 0);
}

/* The file under the fixture's sysfs, without its newline ("" when unreadable). */
static const char *
sysfile(const char *rel)
{
	static char buf[256];
	char path[512];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", sys, rel);
	buf[0] = '\0';
	if ((f = fopen(path, "r"))) {
		n = fread(buf, 1, sizeof(buf) - 1, f);
		buf[n] = '\0';
		if (n && buf[n - 1] == '\n')
			buf[n - 1] = '\0';
		fclose(f);
	}
	return buf;
}

/* What the kernel does on the binds pasidd wrote: device and WQ enabled and bound. */
static void
kernel_binds(const char *dev, const char *wq)
{
	ck_assert_int_eq(idxd_fx_set(sys, dev, "state", "enabled"), 0);
	ck_assert_int_eq(idxd_fx_set(sys, wq, "state", "enabled"), 0);
	ck_assert_int_eq(idxd_fx_set(sys, wq, "driver_name", "user"), 0);
	ck_assert_int_eq(idxd_fx_bind(sys, dev, "idxd"), 0);
	ck_assert_int_eq(idxd_fx_bind(sys, wq, "user"), 0);
}

#define GUESTS_WQ                                                                                  \
	"{\"wq\":\"dsa3/wq3.0\",\"mode\":\"shared\",\"type\":\"user\",\"size\":16,"                \
	"\"priority\":5,\"group\":0,\"threshold\":8,\"name\":\"guests\",\"block_on_fault\":false}"

/* From all disabled to the configuration: every attribute written, the device enabled, the
 * WQ bound to the user driver; asked again once the kernel did so, nothing is written; then
 * its PASIDs go out. */
START_TEST(configure_brings_a_device_up)
{
	struct json_object *r;
	char *before;

	add_blank_device();
	start(sys);
	r = IT_OK(it_call(fd, "wq.configure", GUESTS_WQ));
	ck_assert(json_object_get_boolean(it_get(r, "changed")));
	ck_assert_str_eq(it_str(r, "wq"), "dsa3/wq3.0");
	ck_assert_str_eq(it_str(r, "mode"), "shared");
	ck_assert_str_eq(it_str(r, "type"), "user");
	ck_assert_int_eq(it_int(r, "size"), 16);
	ck_assert_int_eq(it_int(r, "threshold"), 8);
	ck_assert_str_eq(it_str(r, "label"), "guests");
	ck_assert_str_eq(sysfile("bus/dsa/devices/wq3.0/mode"), "shared");
	ck_assert_str_eq(sysfile("bus/dsa/devices/wq3.0/size"), "16");
	ck_assert_str_eq(sysfile("bus/dsa/devices/wq3.0/group_id"), "0");
	ck_assert_str_eq(sysfile("bus/dsa/devices/wq3.0/priority"), "5");
	ck_assert_str_eq(sysfile("bus/dsa/devices/wq3.0/threshold"), "8");
	ck_assert_str_eq(sysfile("bus/dsa/devices/wq3.0/type"), "user");
	ck_assert_str_eq(sysfile("bus/dsa/devices/wq3.0/name"), "guests");
	ck_assert_str_eq(sysfile("bus/dsa/devices/wq3.0/driver_name"), "user");
	ck_assert_str_eq(sysfile("bus/dsa/drivers/idxd/bind"), "dsa3");
	ck_assert_str_eq(sysfile("bus/dsa/drivers/user/bind"), "wq3.0");
	/* The other WQ was left alone. */
	ck_assert_str_eq(sysfile("bus/dsa/devices/wq3.1/type"), "none");

	kernel_binds("dsa3", "wq3.0");
	before = it_keep_str(itu_dir_digest(sys));
	r = IT_OK(it_call(fd, "wq.configure", GUESTS_WQ));
	ck_assert(!json_object_get_boolean(it_get(r, "changed")));
	ck_assert_str_eq(it_str(r, "state"), "enabled");
	ck_assert_str_eq(it_keep_str(itu_dir_digest(sys)), before);
	IT_OK(it_call(fd, "vm.register", "{\"vm\":\"v\"}"));
	IT_OK(it_call(fd, "pasid.alloc", alloc_wq("v", "dsa3/wq3.0", 2)));
	ck_assert_int_eq(it_int(wq_entry("dsa3/wq3.0"), "pasids"), 2);
}
END_TEST

/* Refusals write nothing: a WQ with PASIDs out (whatever is asked), a peer that is not an
 * administrator, a WQ that does not exist, values the device cannot take. */
START_TEST(configure_refusals_write_nothing)
{
	struct json_object *r;
	char *before;
	pid_t holder;
	int nb;

	add_blank_device();
	ck_assert_int_eq(chmod(d.dir, 0755), 0);
	start_with(sys, "[Daemon]\nSocketMode=0666\n");
	IT_OK(it_call(fd, "vm.register", "{\"vm\":\"v\"}"));
	IT_OK(it_call(fd, "pasid.alloc", alloc_wq("v", "dsa0/wq0.1", 1)));
	before = it_keep_str(itu_dir_digest(sys));

	r = it_call(fd, "wq.configure",
	            "{\"wq\":\"dsa0/wq0.1\",\"mode\":\"shared\",\"type\":\"user\",\"priority\":3}");
	IT_ERR(r, 1004, "wq");
	ck_assert_ptr_nonnull(strstr(it_str(r, "error.message"), "not reconfigured"));
	IT_ERR(it_call(fd, "wq.configure",
	               "{\"wq\":\"dsa9/wq9.0\",\"mode\":\"shared\",\"type\":\"user\"}"),
	       1003, "wq");
	IT_ERR(it_call(fd, "wq.configure",
	               "{\"wq\":\"dsa3/wq3.0\",\"mode\":\"shared\",\"type\":\"user\",\"size\":999,"
	               "\"group\":0,\"threshold\":8,\"name\":\"x\"}"),
	       -32602, "size");
	IT_ERR(it_call(fd, "wq.configure",
	               "{\"wq\":\"dsa3/wq3.0\",\"mode\":\"dedicated\",\"type\":\"user\","
	               "\"threshold\":8}"),
	       -32602, "threshold");
	IT_ERR(it_call(fd, "wq.configure",
	               "{\"wq\":\"dsa3/wq3.0\",\"mode\":\"shared\",\"type\":\"user\",\"group\":7,"
	               "\"size\":8,\"threshold\":8,\"name\":\"x\"}"),
	       -32602, "group");
	IT_ERR(it_call(fd, "wq.configure", "{\"wq\":\"dsa3/wq3.0\",\"mode\":\"shared\"}"), -32602,
	       "type");
	IT_ERR(it_call(fd, "wq.configure",
	               "{\"wq\":\"dsa3/wq3.0\",\"mode\":\"shared\",\"type\":\"user\","
	               "\"name\":\"two words\"}"),
	       -32602, "name");

	nb = it_connect_as(&d, NOBODY, NOBODY, NULL, 0, &holder);
	ck_assert_int_ge(nb, 0);
	IT_ERR(it_call(nb, "wq.configure", GUESTS_WQ), 1005, NULL);
	close(nb);
	it_holder_release(holder);
	ck_assert_str_eq(it_keep_str(itu_dir_digest(sys)), before);
}
END_TEST

/* A write the kernel refuses (here the user driver's bind, made a link to /dev/full: ENOSPC)
 * is 1006 naming the file and what was written before it, which stays written. */
START_TEST(configure_kernel_refusal)
{
	struct json_object *r;
	char path[512];

	add_blank_device();
	snprintf(path, sizeof(path), "%s/bus/dsa/drivers/user/bind", sys);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(symlink("/dev/full", path), 0);
	start(sys);
	r = it_call(fd, "wq.configure", GUESTS_WQ);
	IT_ERR(r, 1006, "wq");
	ck_assert_str_eq(it_str(r, "error.data.op"), "sysfs write");
	ck_assert_int_eq(it_int(r, "error.data.errno"), 28);
	ck_assert_str_eq(it_str(r, "error.data.attribute"), "bind");
	ck_assert_ptr_nonnull(strstr(it_str(r, "error.data.written"), "wq3.0/mode"));
	ck_assert_ptr_nonnull(strstr(it_str(r, "error.message"), "still in effect"));
	ck_assert_str_eq(sysfile("bus/dsa/devices/wq3.0/mode"), "shared");
}
END_TEST

/* [WorkQueue] sections at start-up: a blank WQ is set up; one that PASIDs were handed out
 * for is left as it is, said in the log, and pasidd serves all the same. */
START_TEST(workqueue_sections_at_startup)
{
	char more[512];

	add_blank_device();
	ck_assert_int_eq(idxd_fx_groups(sys, "dsa0", 4, 4), 0);
	ck_assert_int_eq(idxd_fx_bind(sys, "wq0.1", "user"), 0);
	/* Nobody has it open (with clients it would not be disabled under them). */
	ck_assert_int_eq(idxd_fx_set(sys, "wq0.1", "clients", "0"), 0);
	snprintf(more, sizeof(more),
	         "[WorkQueue]\nName=dsa3/wq3.0\nMode=shared\nType=user\nSize=16\nPriority=5\n"
	         "Group=0\nThreshold=8\nLabel=guests\n"
	         "[WorkQueue]\nName=dsa0/wq0.1\nMode=shared\nType=user\nPriority=3\n");
	start_with(sys, more);
	ck_assert_msg(strstr(it_log(&d), "[WorkQueue] dsa3/wq3.0: dsa3/wq3.0 configured: wrote "),
	              "%s", it_log(&d));
	ck_assert_str_eq(sysfile("bus/dsa/devices/wq3.0/name"), "guests");
	ck_assert_ptr_nonnull(strstr(it_log(&d), ",drivers/idxd/bind,drivers/user/bind"));
	/* Nothing used dsa0/wq0.1 at this start: it was unbound, reconfigured and bound again
	 * (the last bind of the user driver). */
	ck_assert_str_eq(sysfile("bus/dsa/drivers/user/unbind"), "wq0.1");
	ck_assert_str_eq(sysfile("bus/dsa/drivers/user/bind"), "wq0.1");
	ck_assert_msg(!strcmp(sysfile("bus/dsa/devices/wq0.1/priority"), "3"), "%s", it_log(&d));
	ck_assert_int_eq(idxd_fx_set(sys, "wq0.1", "priority", "10"), 0);

	IT_OK(it_call(fd, "vm.register", "{\"vm\":\"v\"}"));
	IT_OK(it_call(fd, "pasid.alloc", alloc_wq("v", "dsa0/wq0.1", 1)));
	it_kill(&d);
	close(fd);
	ck_assert_int_eq(it_restart(&d, "--config", conf, NULL), 0);
	fd = it_connect(&d);
	ck_assert_int_ge(fd, 0);
	ck_assert_msg(strstr(it_log(&d), "[WorkQueue] dsa0/wq0.1 (") &&
	                  strstr(it_log(&d), "not set up: dsa0/wq0.1 differs from the "
	                                     "configuration asked for, but shared PASIDs were "
	                                     "handed out for it"),
	              "%s", it_log(&d));
	ck_assert_str_eq(sysfile("bus/dsa/devices/wq0.1/priority"), "10");
	IT_OK(it_call(fd, "daemon.status", NULL));
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("wq");
	TCase *tc = ck_case(s, "fixture", setup, teardown, 60);

	tcase_add_test(tc, lists_the_fixture);
	tcase_add_test(tc, sees_changes_between_requests);
	tcase_add_test(tc, no_idxd_on_the_host);
	tcase_add_loop_test(tc, alloc_checks_the_wq, 0, sizeof(refusals) / sizeof(refusals[0]));
	tcase_add_test(tc, wq_is_for_shared_pasids);
	tcase_add_test(tc, accounting_per_wq_and_vm);
	tcase_add_test(tc, require_wq);
	tcase_add_test(tc, wq_changing_under_mappings_is_reported);
	tcase_add_test(tc, configure_brings_a_device_up);
	tcase_add_test(tc, configure_refusals_write_nothing);
	tcase_add_test(tc, configure_kernel_refusal);
	tcase_add_test(tc, workqueue_sections_at_startup);
	return ck_main(s, NULL);
}
