/* Issue 14: live migration between two real daemons (two sockets, two state directories):
 * vm.export on one, vm.import (dry run, then for real) on the other, in both modes, with both
 * hosts partly full; conflicts reported all at once and a refused import changing nothing;
 * quotas and device maps on the destination; hostile documents; a kill -9 of the destination
 * during a big import and a commit cut short on disk (all or nothing after restart); and a
 * randomized walk migrating many VMs back and forth, checking both daemons after each step. */
#include <check.h>

#include "ck_main.h"
#include "idxd_fixture.h"
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "itutil.h"

#define DEV_A  "0000:00:04.0"
#define DEV_B  "0000:00:05.0"
#define DEV_SH "0000:00:06.0"

static struct it_daemon A, B;
static int fa = -1, fb = -1;

/* Both daemons take messages of up to 4 MiB: a VM of thousands of mappings is one line. */
static void
start(struct it_daemon *d, int *fd)
{
	char conf[256];

	ck_assert_int_eq(it_prepare(d), 0);
	/* Reachable by uid nobody too (import_by_a_user). */
	ck_assert_int_eq(chmod(d->dir, 0755), 0);
	ck_assert_int_eq(it_write_file(d, "migrate.conf",
	                               "[Daemon]\nMaxMessageSize=4194304\nSocketMode=0666\n", conf,
	                               sizeof(conf)),
	                 0);
	ck_assert_msg(it_restart(d, "--config", conf, NULL) == 0, "pasidd did not start (%s)",
	              d->log);
	*fd = it_connect(d);
	ck_assert_int_ge(*fd, 0);
}

static void
restart(struct it_daemon *d, int *fd)
{
	char conf[256];

	snprintf(conf, sizeof(conf), "%s/migrate.conf", d->dir);
	if (*fd >= 0)
		close(*fd);
	ck_assert_msg(it_restart(d, "--config", conf, NULL) == 0, "pasidd did not restart (%s)",
	              d->log);
	*fd = it_connect(d);
	ck_assert_int_ge(*fd, 0);
}

static void
setup(void)
{
	start(&A, &fa);
	start(&B, &fb);
}

static void
teardown(void)
{
	int fd = fb;

	it_teardown(&B, &fd);
	fb = -1;
	it_teardown(&A, &fa);
}

static const char *
text(struct json_object *o)
{
	return json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
	                                             JSON_C_TO_STRING_NOSLASHESCAPE);
}

static struct json_object *export(int fd, const char *vm)
{
	return IT_OK(it_callf(fd, "vm.export", "{\"vm\":\"%s\"}", vm));
}

/* vm.import with the document and the other params (extra: "" or ",\"dry_run\":true"...). */
static struct json_object *
import(int fd, struct json_object *doc, const char *extra)
{
	char *params;
	struct json_object *r;

	ck_assert_int_ge(asprintf(&params, "{\"document\":%s%s}", text(doc), extra), 0);
	r = it_call(fd, "vm.import", params);
	free(params);
	return r;
}

/* Invariants 1-3 as a client sees them: no shared hPASID twice, no local PASID twice on a
 * device, daemon.status counting what pasid.list lists. */
static void
check_invariants(int fd)
{
	struct json_object *maps = it_keep(it_list_all(fd, "pasid.list", "mappings", NULL));
	struct json_object *st = IT_OK(it_call(fd, "daemon.status", NULL));
	static unsigned char seen[1 << 20];
	char(*local)[40];
	size_t n, nlocal = 0, nshared = 0;

	ck_assert_ptr_nonnull(maps);
	n = json_object_array_length(maps);
	local = calloc(n + 1, sizeof(*local));
	memset(seen, 0, sizeof(seen));
	for (size_t i = 0; i < n; i++) {
		struct json_object *m = json_object_array_get_idx(maps, i);
		int64_t h = it_int(m, "hpasid");

		ck_assert(h > 0 && h < (1 << 20));
		if (!strcmp(it_str(m, "type"), "shared")) {
			ck_assert_msg(!seen[h], "hPASID %lld handed out twice", (long long)h);
			seen[h] = 1;
			nshared++;
			continue;
		}
		snprintf(local[nlocal], sizeof(local[0]), "%s/%lld", it_str(m, "device"),
		         (long long)h);
		for (size_t k = 0; k < nlocal; k++)
			ck_assert_msg(strcmp(local[k], local[nlocal]), "local %s twice", local[k]);
		nlocal++;
	}
	free(local);
	ck_assert_int_eq(it_int(st, "used.shared"), (int64_t)nshared);
	ck_assert_int_eq(it_int(st, "used.local"), (int64_t)nlocal);
}

/* A translated VM with local PASIDs on an exclusive device and shared ones. */
static void
make_vm(int fd, const char *vm, const char *mode, const char *dev, int shared, int local)
{
	IT_OK(it_callf(fd, "vm.register", "{\"vm\":\"%s\",\"mode\":\"%s\"}", vm, mode));
	if (dev)
		IT_OK(it_callf(fd, "device.assign", "{\"vm\":\"%s\",\"device\":\"%s\"}", vm, dev));
	if (shared)
		IT_OK(it_callf(fd, "pasid.alloc",
		               "{\"vm\":\"%s\",\"type\":\"shared\",\"count\":%d}", vm, shared));
	if (local)
		IT_OK(it_callf(fd, "pasid.alloc",
		               "{\"vm\":\"%s\",\"type\":\"local\",\"device\":\"%s\",\"count\":%d}",
		               vm, dev, local));
}

/* Moves vm from (fs) to (fd) as the protocol says: export, dry run, import, unregister. */
static void
migrate(int fs, int fd, const char *vm)
{
	struct json_object *doc = export(fs, vm), *dry;

	dry = IT_OK(import(fd, doc, ",\"dry_run\":true"));
	ck_assert_msg(json_object_get_boolean(it_get(dry, "ok")), "%s", text(dry));
	IT_OK(import(fd, doc, ""));
	/* The guest-visible table is the same, byte for byte. */
	ck_assert_str_eq(text(export(fd, vm)), text(doc));
	IT_OK(it_callf(fs, "vm.unregister", "{\"vm\":\"%s\"}", vm));
}

START_TEST(back_and_forth_both_modes)
{
	struct json_object *doc, *r;

	/* Both hosts partly full, so the translated VM gets other hPASIDs on each. */
	make_vm(fa, "fill-a", "translated", DEV_B, 30, 3);
	make_vm(fb, "fill-b", "translated", DEV_B, 77, 2);
	make_vm(fa, "t", "translated", DEV_A, 12, 5);
	IT_OK(it_call(fa, "device.assign",
	              "{\"vm\":\"t\",\"device\":\"" DEV_SH "\",\"shared\":true}"));
	/* Identity hPASIDs that are free on both hosts. */
	IT_OK(it_call(fa, "vm.register", "{\"vm\":\"i\",\"mode\":\"identity\"}"));
	IT_OK(it_call(fa, "pasid.alloc",
	              "{\"vm\":\"i\",\"type\":\"shared\",\"gpasid\":200000,\"count\":9}"));
	doc = export(fa, "t");
	ck_assert_str_eq(it_str(doc, "format"), "pasidd-vm");
	ck_assert_int_eq(it_int(doc, "version"), 1);
	ck_assert_int_eq(it_int(doc, "pasid_bits"), 20);
	ck_assert_int_eq(json_object_array_length(it_get(doc, "mappings")), 17);
	/* No hPASID of a translated VM leaves its host. */
	ck_assert_ptr_null(strstr(text(doc), "hpasid"));
	/* Deterministic. */
	ck_assert_str_eq(text(export(fa, "t")), text(doc));

	migrate(fa, fb, "t");
	migrate(fa, fb, "i");
	check_invariants(fa);
	check_invariants(fb);
	/* The identity VM kept its very hPASIDs. */
	r = IT_OK(it_call(fb, "pasid.lookup", "{\"vm\":\"i\",\"gpasid\":200003}"));
	ck_assert_int_eq(it_int(r, "hpasid"), 200003);
	/* And back. */
	migrate(fb, fa, "t");
	migrate(fb, fa, "i");
	check_invariants(fa);
	check_invariants(fb);
	/* An import survives a kill -9: durable before it is acknowledged. */
	migrate(fa, fb, "t");
	doc = export(fb, "t");
	it_kill(&B);
	restart(&B, &fb);
	ck_assert_str_eq(text(export(fb, "t")), text(doc));
	check_invariants(fb);
}
END_TEST

START_TEST(device_map_and_rename)
{
	struct json_object *doc, *got, *r;

	make_vm(fa, "d", "translated", DEV_A, 3, 4);
	make_vm(fb, "holder", "translated", DEV_A, 1, 0);
	doc = export(fa, "d");
	/* DEV_A is held by another VM on B: mapped onto DEV_B instead, under another name. */
	r = IT_OK(import(fb, doc, ",\"dry_run\":true"));
	ck_assert(!json_object_get_boolean(it_get(r, "ok")));
	r = IT_OK(import(fb, doc, ",\"vm\":\"d2\",\"devices\":{\"" DEV_A "\":\"" DEV_B "\"}"));
	ck_assert_str_eq(it_str(r, "vm"), "d2");
	ck_assert_int_eq(it_int(r, "pasids"), 7);
	got = export(fb, "d2");
	ck_assert_ptr_nonnull(strstr(text(got), DEV_B));
	ck_assert_ptr_null(strstr(text(got), DEV_A));
	ck_assert_int_eq(json_object_array_length(it_get(got, "mappings")), 7);
	/* A map naming a device the document lacks is a typo, not an identity. */
	IT_ERR(import(fb, doc, ",\"vm\":\"d3\",\"devices\":{\"0000:00:09.0\":\"" DEV_B "\"}"),
	       -32602, "devices.0000:00:09.0");
	IT_ERR(import(fb, doc, ",\"vm\":\"d3\",\"devices\":{\"" DEV_A "\":\"nope\"}"), -32602,
	       "devices." DEV_A);
	check_invariants(fb);
}
END_TEST

/* An admin imports for the destination VMM process: the VM lives as long as that process. */
START_TEST(import_for_another_process)
{
	pid_t vmm = itu_idle_child();
	struct json_object *doc, *r;
	char extra[64];

	make_vm(fa, "p", "translated", NULL, 4, 0);
	doc = export(fa, "p");
	snprintf(extra, sizeof(extra), ",\"pid\":%d", (int)vmm);
	r = IT_OK(import(fb, doc, extra));
	ck_assert_int_eq(it_int(r, "pid"), vmm);
	itu_end_child(vmm);
	for (int i = 0; i < 500 && it_code(fb, "vm.show", "{\"vm\":\"p\"}") != 1003; i++)
		usleep(10000);
	ck_assert_int_eq(it_code(fb, "vm.show", "{\"vm\":\"p\"}"), 1003);
	check_invariants(fb);
}
END_TEST

#define NOBODY 65534

/* A user who is no admin exports and imports VMs of their own, owned by their own process,
 * and nobody else's. */
START_TEST(import_by_a_user)
{
	pid_t ha, hb;
	int ua = it_connect_as(&A, NOBODY, NOBODY, NULL, 0, &ha);
	int ub = it_connect_as(&B, NOBODY, NOBODY, NULL, 0, &hb);
	struct json_object *doc, *r;

	ck_assert_int_ge(ua, 0);
	ck_assert_int_ge(ub, 0);
	make_vm(ua, "mine", "translated", NULL, 4, 0);
	make_vm(fa, "root-vm", "translated", NULL, 2, 0);
	/* Another uid's VM: 1005, nothing of it in the answer. */
	IT_ERR(it_call(ua, "vm.export", "{\"vm\":\"root-vm\"}"), 1005, "vm");
	doc = export(ua, "mine");
	IT_ERR(import(ub, doc, ",\"pid\":1"), 1005, "pid");
	r = IT_OK(import(ub, doc, ""));
	ck_assert_int_eq(it_int(r, "pid"), hb);
	ck_assert_str_eq(text(export(ub, "mine")), text(doc));
	/* The importer's VMs are the importer's: root sees it, another user would not. */
	IT_OK(it_call(fb, "vm.show", "{\"vm\":\"mine\"}"));
	IT_OK(it_call(ua, "vm.unregister", "{\"vm\":\"mine\"}"));
	close(ua);
	close(ub);
	it_holder_release(ha);
	it_holder_release(hb);
	check_invariants(fb);
}
END_TEST

START_TEST(identity_conflicts_all_reported)
{
	struct json_object *doc, *dry, *list, *r;
	const char *before;

	/* On A: identity VM with hPASIDs 4096-4101 and local PASIDs 7, 8 on DEV_A. */
	make_vm(fa, "idv", "identity", DEV_A, 6, 0);
	IT_OK(it_call(fa, "pasid.alloc",
	              "{\"vm\":\"idv\",\"type\":\"local\",\"device\":\"" DEV_A
	              "\",\"gpasid\":7,\"count\":2}"));
	doc = export(fa, "idv");
	ck_assert_ptr_nonnull(strstr(text(doc), "\"hpasid\":4096"));
	/* On B: 4097 and 4100 taken by another identity VM, DEV_A held with PASID 7 on it. */
	IT_OK(it_call(fb, "vm.register", "{\"vm\":\"occ\",\"mode\":\"identity\"}"));
	IT_OK(it_call(fb, "pasid.alloc", "{\"vm\":\"occ\",\"type\":\"shared\",\"gpasid\":4097}"));
	IT_OK(it_call(fb, "pasid.alloc", "{\"vm\":\"occ\",\"type\":\"shared\",\"gpasid\":4100}"));
	IT_OK(it_call(fb, "device.assign", "{\"vm\":\"occ\",\"device\":\"" DEV_A "\"}"));
	IT_OK(it_call(fb, "pasid.alloc",
	              "{\"vm\":\"occ\",\"type\":\"local\",\"device\":\"" DEV_A "\",\"gpasid\":7}"));
	before = it_snapshot(fb);
	dry = IT_OK(import(fb, doc, ",\"dry_run\":true"));
	ck_assert(!json_object_get_boolean(it_get(dry, "ok")));
	list = it_get(dry, "conflicts");
	IT_JSON_EQ(list,
	           "[{\"device\":\"%s\",\"what\":\"taken\",\"why\":\"device %s is assigned "
	           "exclusively to another VM\"},"
	           "{\"gpasid\":7,\"device\":\"%s\",\"what\":\"taken\",\"why\":\"PASID 7 is "
	           "already used on device %s\"},"
	           "{\"gpasid\":4097,\"what\":\"taken\",\"why\":\"hPASID 4097 is already taken on "
	           "this host\"},"
	           "{\"gpasid\":4100,\"what\":\"taken\",\"why\":\"hPASID 4100 is already taken on "
	           "this host\"}]",
	           DEV_A, DEV_A, DEV_A, DEV_A);
	ck_assert_str_eq(it_snapshot(fb), before);
	/* For real: the first conflict's error, all of them in data, nothing changed. */
	r = import(fb, doc, "");
	IT_ERR(r, 1004, "document"); /* keeps r */
	ck_assert_int_eq(json_object_array_length(it_get(r, "error.data.conflicts")), 4);
	ck_assert_str_eq(it_snapshot(fb), before);
	/* Out of range on a host with a smaller shared range is another kind. */
	IT_OK(it_call(fb, "vm.unregister", "{\"vm\":\"occ\"}"));
	IT_OK(import(fb, doc, ""));
	check_invariants(fb);
}
END_TEST

/* The destination reserves an identity VM's hPASIDs ahead (range.reserve): nobody else is
 * handed them meanwhile; the import that names the reservation takes them, one that does not
 * reports each as reserved; only an administrator may name it. */
START_TEST(identity_into_reservation)
{
	struct json_object *doc, *dry, *r, *list;
	const char *before;

	make_vm(fa, "idr", "identity", NULL, 4, 0);
	doc = export(fa, "idr");
	ck_assert_ptr_nonnull(strstr(text(doc), "\"hpasid\":4099"));
	IT_OK(it_call(fb, "range.reserve",
	              "{\"first\":4096,\"last\":4099,\"name\":\"mig-idr\",\"why\":\"idr "
	              "arriving\",\"expires_s\":600}"));
	/* Meanwhile another identity VM on B cannot take them, a translated one goes around. */
	IT_OK(it_call(fb, "vm.register", "{\"vm\":\"other\",\"mode\":\"identity\"}"));
	IT_ERR(it_call(fb, "pasid.alloc", "{\"vm\":\"other\",\"type\":\"shared\",\"gpasid\":4097}"),
	       1004, "gpasid");
	IT_OK(it_call(fb, "vm.register", "{\"vm\":\"tr\"}"));
	r = IT_OK(it_call(fb, "pasid.alloc", "{\"vm\":\"tr\",\"type\":\"shared\"}"));
	ck_assert_int_eq(it_int(r, "hpasid"), 4100);
	before = it_snapshot(fb);
	dry = IT_OK(import(fb, doc, ",\"dry_run\":true"));
	list = it_get(dry, "conflicts");
	ck_assert_int_eq(json_object_array_length(list), 4);
	for (size_t i = 0; i < 4; i++)
		ck_assert_str_eq(it_str(json_object_array_get_idx(list, i), "what"), "reserved");
	IT_ERR(import(fb, doc, ",\"reservation\":\"nosuch\""), 1003, "reservation");
	ck_assert_str_eq(it_snapshot(fb), before);
	dry = IT_OK(import(fb, doc, ",\"dry_run\":true,\"reservation\":\"mig-idr\""));
	ck_assert_msg(json_object_get_boolean(it_get(dry, "ok")), "%s", text(dry));
	IT_OK(import(fb, doc, ",\"reservation\":\"mig-idr\""));
	ck_assert_str_eq(text(export(fb, "idr")), text(doc));
	list = IT_OK(it_call(fb, "range.list", NULL));
	ck_assert_int_eq(it_int(json_object_array_get_idx(list, 0), "used"), 4);
	check_invariants(fb);
}
END_TEST

START_TEST(quota_on_destination)
{
	struct json_object *doc, *r, *dry;
	const char *cg, *before;
	char params[4200];

	make_vm(fa, "q", "translated", NULL, 5, 0);
	doc = export(fa, "q");
	r = IT_OK(it_call(fb, "vm.register", "{\"vm\":\"probe\"}"));
	cg = it_str(r, "cgroup");
	IT_OK(it_call(fb, "pasid.alloc", "{\"vm\":\"probe\",\"type\":\"shared\",\"count\":2}"));
	snprintf(params, sizeof(params), "{\"cgroup\":\"%s\",\"max\":5}", cg);
	IT_OK(it_call(fb, "quota.set", params));
	before = it_snapshot(fb);
	dry = IT_OK(import(fb, doc, ",\"dry_run\":true"));
	ck_assert(!json_object_get_boolean(it_get(dry, "ok")));
	ck_assert_str_eq(it_str(json_object_array_get_idx(it_get(dry, "conflicts"), 0), "what"),
	                 "quota");
	IT_ERR(import(fb, doc, ""), 1002, "document");
	ck_assert_str_eq(it_snapshot(fb), before);
	snprintf(params, sizeof(params), "{\"cgroup\":\"%s\",\"max\":7}", cg);
	IT_OK(it_call(fb, "quota.set", params));
	IT_OK(import(fb, doc, ""));
	check_invariants(fb);
}
END_TEST

/* Hostile documents: precise -32602 (or 1007), never a crash, nothing changed. */
static const struct {
	const char *doc;
	int code;
	const char *param;
} hostile[] = {
    {"[]", -32602, "document"},
    {"{}", -32602, "document.format"},
    {"{\"format\":\"x\",\"version\":1}", -32602, "document.format"},
    {"{\"format\":\"pasidd-vm\",\"version\":2}", 1007, "document.version"},
    {"{\"format\":\"pasidd-vm\",\"version\":0}", -32602, "document.version"},
    {"{\"format\":\"pasidd-vm\",\"version\":1.5}", -32602, "document.version"},
#define HEAD                                                                                       \
	"\"format\":\"pasidd-vm\",\"version\":1,\"vm\":\"h\",\"uuid\":"                            \
	"\"0f8fad5b-d9cb-469f-a165-70867728950e\",\"mode\":\"translated\",\"pasid_bits\":20"
    {"{" HEAD ",\"devices\":[],\"mappings\":[],\"extra\":1}", -32602, "document.extra"},
    {"{" HEAD ",\"devices\":[]}", -32602, "document.mappings"},
    {"{" HEAD ",\"devices\":{},\"mappings\":[]}", -32602, "document.devices"},
    {"{" HEAD ",\"devices\":[],\"mappings\":[{\"gpasid\":1,\"type\":\"shared\"},{\"gpasid\":1,"
     "\"type\":\"shared\"}]}",
     -32602, "document.mappings[1].gpasid"},
    {"{" HEAD ",\"devices\":[],\"mappings\":[{\"gpasid\":1048576,\"type\":\"shared\"}]}", -32602,
     "document.mappings[0].gpasid"},
    {"{" HEAD ",\"devices\":[],\"mappings\":[{\"gpasid\":0,\"type\":\"shared\"}]}", -32602,
     "document.mappings[0].gpasid"},
    {"{" HEAD ",\"devices\":[],\"mappings\":[{\"gpasid\":-1,\"type\":\"shared\"}]}", -32602,
     "document.mappings[0].gpasid"},
    {"{" HEAD ",\"devices\":[],\"mappings\":[{\"gpasid\":99999999999999999999,\"type\":"
     "\"shared\"}]}",
     -32602, "document.mappings[0].gpasid"},
    {"{" HEAD ",\"devices\":[],\"mappings\":[{\"gpasid\":3,\"type\":\"local\"}]}", -32602,
     "document.mappings[0].device"},
    {"{" HEAD ",\"devices\":[],\"mappings\":[{\"gpasid\":3,\"type\":\"local\",\"device\":"
     "\"0000:00:04.0\"}]}",
     -32602, "document.mappings[0].device"},
    {"{" HEAD ",\"devices\":[{\"device\":\"0000:00:04.0\",\"shared\":true}],\"mappings\":[{"
     "\"gpasid\":3,\"type\":\"local\",\"device\":\"0000:00:04.0\"}]}",
     -32602, "document.mappings[0].device"},
    {"{" HEAD ",\"devices\":[],\"mappings\":[{\"gpasid\":3,\"type\":\"shared\",\"device\":"
     "\"0000:00:04.0\"}]}",
     -32602, "document.mappings[0].device"},
    {"{" HEAD ",\"devices\":[],\"mappings\":[{\"gpasid\":3,\"type\":\"shared\",\"hpasid\":5000}]}",
     -32602, "document.mappings[0].hpasid"},
    {"{" HEAD ",\"devices\":[],\"mappings\":[{\"gpasid\":3,\"type\":\"both\"}]}", -32602,
     "document.mappings[0].type"},
    {"{" HEAD ",\"devices\":[],\"mappings\":[7]}", -32602, "document.mappings[0]"},
    {"{" HEAD ",\"devices\":[],\"mappings\":[{\"gpasid\":3,\"type\":\"shared\",\"wq\":\"x\"}]}",
     -32602, "document.mappings[0].wq"},
    {"{" HEAD ",\"devices\":[{\"device\":\"0000:00:04.0\",\"shared\":true},{\"device\":"
     "\"0000:00:04.0\",\"shared\":false}],\"mappings\":[]}",
     -32602, "document.devices[1].device"},
    {"{" HEAD ",\"devices\":[{\"device\":\"zz\",\"shared\":true}],\"mappings\":[]}", -32602,
     "document.devices[0].device"},
    {"{" HEAD ",\"devices\":[{\"device\":\"0000:00:04.0\"}],\"mappings\":[]}", -32602,
     "document.devices[0].shared"},
    {"{\"format\":\"pasidd-vm\",\"version\":1,\"vm\":\"-bad\",\"uuid\":\"x\",\"mode\":"
     "\"translated\",\"pasid_bits\":20,\"devices\":[],\"mappings\":[]}",
     -32602, "document.vm"},
    {"{\"format\":\"pasidd-vm\",\"version\":1,\"vm\":\"h\",\"uuid\":\"x\",\"mode\":"
     "\"translated\",\"pasid_bits\":20,\"devices\":[],\"mappings\":[]}",
     -32602, "document.uuid"},
    {"{\"format\":\"pasidd-vm\",\"version\":1,\"vm\":\"h\",\"uuid\":"
     "\"0f8fad5b-d9cb-469f-a165-70867728950e\",\"mode\":\"translated\",\"pasid_bits\":21,"
     "\"devices\":[],\"mappings\":[]}",
     -32602, "document.pasid_bits"},
    {"{\"format\":\"pasidd-vm\",\"version\":1,\"vm\":\"h\",\"uuid\":"
     "\"0f8fad5b-d9cb-469f-a165-70867728950e\",\"mode\":\"other\",\"pasid_bits\":20,"
     "\"devices\":[],\"mappings\":[]}",
     -32602, "document.mode"},
};

START_TEST(hostile_documents)
{
	const char *before = it_snapshot(fb);
	struct json_object *r;
	char *params, *line, *ans;
	size_t n;

	for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
		ck_assert_int_ge(asprintf(&params, "{\"document\":%s}", hostile[i].doc), 0);
		r = it_keep(it_call(fb, "vm.import", params));
		free(params);
		ck_assert_msg(r, "no answer to %s", hostile[i].doc);
		ck_assert_msg(!it_error_mismatch(r, hostile[i].code, hostile[i].param), "%s: %s",
		              hostile[i].doc,
		              it_error_mismatch(r, hostile[i].code, hostile[i].param));
	}
	r = it_keep(
	    it_call(fb, "vm.import", "{\"document\":{\"format\":\"pasidd-vm\",\"version\":7}}"));
	ck_assert_str_eq(it_str(r, "error.message"),
	                 "pasidd-vm document version 7; this pasidd reads 1");
	/* More mappings than a VM can hold: refused before any is read. */
	n = (1u << 20) + 1;
	line = malloc(n * 2 + 512);
	{
		char *p =
		    line + sprintf(line, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"vm.import\","
		                         "\"params\":{\"document\":{" HEAD
		                         ",\"devices\":[],\"mappings\":[");
		struct timespec t0, t1;

		for (size_t i = 0; i < n; i++) {
			*p++ = '0';
			*p++ = ',';
		}
		strcpy(p - 1, "]}}}");
		/* No timing is checked (the daemon may run under valgrind): only that the answer
		 * comes, and is the refusal. How long it takes is printed for whoever looks. */
		clock_gettime(CLOCK_MONOTONIC, &t0);
		ck_assert_int_eq(it_send(fb, line, strlen(line)), 0);
		ck_assert_int_eq(it_send(fb, "\n", 1), 0);
		ans = it_keep_str(it_recvline(fb, 600000));
		clock_gettime(CLOCK_MONOTONIC, &t1);
		ck_assert_msg(ans, "no answer to a document of %zu mappings", n);
		r = json_tokener_parse(ans);
		IT_ERR(r, -32602, "document.mappings"); /* keeps r */
		fprintf(stderr, "test_migrate: %zu mappings refused in %.2f s\n", n,
		        (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	}
	/* 64 KiB of nesting inside the document: the parser's depth limit, no crash. */
	{
		size_t depth = 30000;
		char *p =
		    line + sprintf(line, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"vm.import\","
		                         "\"params\":{\"document\":");

		memset(p, '[', depth);
		memset(p + depth, ']', depth);
		strcpy(p + 2 * depth, "}}");
		ck_assert_int_eq(it_sendline(fb, line), 0);
		ans = it_keep_str(it_recvline(fb, 600000));
		ck_assert_msg(ans, "no answer to %zu levels of nesting", depth);
		r = it_keep(json_tokener_parse(ans));
		ck_assert_int_eq(it_errcode(r), -32700);
	}
	free(line);
	ck_assert_str_eq(it_snapshot(fb), before);
	IT_OK(it_call(fb, "daemon.status", NULL));
}
END_TEST

/* A big identity VM (5000 mappings) from A, and the path of B's journal. */
static struct json_object *
big_document(void)
{
	IT_OK(it_call(fa, "vm.register", "{\"vm\":\"big\",\"mode\":\"identity\"}"));
	IT_OK(it_call(fa, "pasid.alloc",
	              "{\"vm\":\"big\",\"type\":\"shared\",\"gpasid\":100000,\"count\":4096}"));
	IT_OK(it_call(fa, "pasid.alloc",
	              "{\"vm\":\"big\",\"type\":\"shared\",\"gpasid\":104096,\"count\":904}"));
	return export(fa, "big");
}

/* B holds "big" whole or not at all, and its table is consistent. */
static int
big_whole_or_absent(void)
{
	struct json_object *r = it_keep(it_call(fb, "vm.show", "{\"vm\":\"big\",\"limit\":1}"));

	check_invariants(fb);
	if (it_errcode(r) == 1003)
		return 0;
	ck_assert_int_eq(it_int(it_result(r), "pasids"), 5000);
	return 1;
}

START_TEST(kill9_during_import)
{
	struct json_object *doc = big_document();
	char *params, *req;
	int present = 0;

	make_vm(fb, "pre", "translated", NULL, 10, 0);
	srand((unsigned)time(NULL));
	ck_assert_int_ge(asprintf(&params, "{\"document\":%s}", text(doc)), 0);
	ck_assert_int_ge(
	    asprintf(&req, "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"vm.import\",\"params\":%s}",
	             params),
	    0);
	for (int round = 0; round < 8; round++) {
		ck_assert_int_eq(it_sendline(fb, req), 0);
		usleep(round == 0 ? 0 : (useconds_t)(rand() % (round < 4 ? 20000 : 300000)));
		it_kill(&B);
		restart(&B, &fb);
		present += big_whole_or_absent();
		ck_assert_int_eq(
		    it_int(IT_OK(it_call(fb, "vm.show", "{\"vm\":\"pre\"}")), "pasids"), 10);
		if (it_code(fb, "vm.show", "{\"vm\":\"big\"}") == 0)
			IT_OK(it_call(fb, "vm.unregister", "{\"vm\":\"big\"}"));
	}
	fprintf(stderr, "kill9_during_import: the VM was there after %d of 8 kills\n", present);
	free(req);
	free(params);
}
END_TEST

/* The newest journal file of a state directory. */
static void
journal_path(const struct it_daemon *d, char *path, size_t len)
{
	char cmd[300];
	FILE *p;
	char name[64] = "";

	snprintf(cmd, sizeof(cmd),
	         "ls %s | grep -E '^journal\\.[0-9]+$' | sort -t. -k2 -n | tail -1", d->state);
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(fscanf(p, "%63s", name), 1);
	pclose(p);
	snprintf(path, len, "%s/%s", d->state, name);
}

/* Whole frames with a length in a journal file (a preallocated tail of zeros is none). */
static unsigned
count_frames(const char *path)
{
	FILE *f = fopen(path, "rb");
	unsigned n = 0;
	long off = 24;
	unsigned char h[4];

	ck_assert_ptr_nonnull(f);
	while (fseek(f, off, SEEK_SET) == 0 && fread(h, 1, 4, f) == 4) {
		uint32_t len = (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 |
		               (uint32_t)h[3] << 24;

		if (!len)
			break;
		off += 8 + (long)len;
		n++;
	}
	fclose(f);
	return n;
}

/* A commit cut short on disk (what a crash during its write leaves): whole frames of the
 * import and then part of one, or whole frames only. Replay drops the whole transaction. */
START_TEST(import_commit_cut_short)
{
	struct json_object *doc = big_document();
	char path[512];
	long end, cut;
	unsigned frames = 0;

	make_vm(fb, "pre", "translated", NULL, 10, 0);
	IT_OK(import(fb, doc, ""));
	ck_assert_int_eq(it_stop(&B), 0);
	journal_path(&B, path, sizeof(path));
	frames = count_frames(path);
	/* The import's 5000 consecutive mappings are one REC_MAP_RUN: its frame, a REC_TXN
	 * before it and the VM's records; cut the last of them. */
	ck_assert_uint_gt(frames, 3);
	/* _i 0: in the middle of a frame; 1: at a frame boundary. */
	end = itu_frame_offset(path, frames - 1);
	cut = end + (_i == 0 ? 5 : 0);
	ck_assert_int_eq(truncate(path, cut), 0);
	/* pasidd -n says so, and writes nothing. */
	{
		char *args[] = {"-n",          "--backend", "sim",      "--socket",  B.sock,
		                "--state-dir", B.state,     "--config", "/dev/null", NULL};
		char *out = NULL;

		ck_assert_int_eq(itu_run(&out, NULL, 60, args), 0);
		it_keep_str(out);
		ck_assert_msg(strstr(out,
		                     "the journal ends inside a transaction whose commit was cut "
		                     "short"),
		              "%s", out);
	}
	restart(&B, &fb);
	ck_assert_int_eq(big_whole_or_absent(), 0);
	ck_assert_int_eq(it_int(IT_OK(it_call(fb, "vm.show", "{\"vm\":\"pre\"}")), "pasids"), 10);
	ck_assert_msg(strstr(it_log(&B), "of a transaction whose commit was cut short"), "%s",
	              it_log(&B));
	/* What follows is not mistaken for the rest of the transaction. */
	IT_OK(import(fb, doc, ""));
	IT_OK(it_call(fb, "pasid.alloc", "{\"vm\":\"pre\",\"type\":\"shared\"}"));
	it_kill(&B);
	restart(&B, &fb);
	ck_assert_int_eq(big_whole_or_absent(), 1);
	ck_assert_int_eq(it_int(IT_OK(it_call(fb, "vm.show", "{\"vm\":\"pre\"}")), "pasids"), 11);
}
END_TEST

/* Many VMs of both modes migrating at random between the two daemons; after each step both
 * daemons' invariants hold and every VM's guest-visible table is what it was. */
START_TEST(randomized_migrations)
{
	enum { NVMS = 10, STEPS = 40 };
	struct json_object *docs[NVMS];
	int where[NVMS], fds[2];
	unsigned seed = (unsigned)time(NULL);
	int moved = 0, refused = 0;

	fprintf(stderr, "randomized_migrations: seed %u\n", seed);
	srand(seed);
	for (int v = 0; v < NVMS; v++) {
		char name[16], dev[16];
		bool identity = rand() % 3 == 0;

		snprintf(name, sizeof(name), "r%d", v);
		snprintf(dev, sizeof(dev), "0000:01:%02x.0", v);
		where[v] = rand() % 2;
		fds[0] = fa;
		fds[1] = fb;
		make_vm(fds[where[v]], name, identity ? "identity" : "translated",
		        identity ? NULL : dev, 1 + rand() % 40, identity ? 0 : rand() % 8);
		docs[v] = export(fds[where[v]], name);
	}
	for (int step = 0; step < STEPS; step++) {
		int v = rand() % NVMS, from, to;
		char name[16];
		struct json_object *dry;

		fds[0] = fa;
		fds[1] = fb;
		from = fds[where[v]];
		to = fds[!where[v]];
		snprintf(name, sizeof(name), "r%d", v);
		dry = IT_OK(import(to, export(from, name), ",\"dry_run\":true"));
		if (!json_object_get_boolean(it_get(dry, "ok"))) {
			const char *before = it_snapshot(to);

			/* Identity VMs meet each other's hPASIDs: refused, nothing changed. */
			ck_assert_int_ne(it_errcode(it_keep(import(to, docs[v], ""))), 0);
			ck_assert_str_eq(it_snapshot(to), before);
			refused++;
		} else {
			migrate(from, to, name);
			where[v] = !where[v];
			moved++;
		}
		check_invariants(fa);
		check_invariants(fb);
		for (int k = 0; k < NVMS; k++) {
			char n[16];

			snprintf(n, sizeof(n), "r%d", k);
			ck_assert_str_eq(text(export(where[k] ? fb : fa, n)), text(docs[k]));
		}
		it_release_kept();
		for (int k = 0; k < NVMS; k++) {
			char n[16];

			snprintf(n, sizeof(n), "r%d", k);
			docs[k] = export(where[k] ? fb : fa, n);
		}
	}
	fprintf(stderr, "randomized_migrations: %d moved, %d refused\n", moved, refused);
	ck_assert_int_gt(moved, 0);
}
END_TEST

/* ---- work queues: A's dsa0/wq0.1 is usable; on B it is dedicated, dsa1/wq1.0 usable ---- */

static void
start_idxd(struct it_daemon *d, int *fd, bool usable0)
{
	static const struct idxd_fx_wq good = {
	    "wq0.1", "shared", "user", "vms", "enabled", "user", 32, 10, 16, 1, 0, 2, 1};
	static const struct idxd_fx_wq dedicated = {
	    "wq0.1", "dedicated", "user", "vms", "enabled", "user", 32, 10, 16, 1, 0, 2, 1};
	static const struct idxd_fx_wq other = {
	    "wq1.0", "shared", "user", "vms", "enabled", "user", 32, 10, 16, 1, 0, 2, 1};
	char sys[160], conf[256], text[512];

	ck_assert_int_eq(it_prepare(d), 0);
	snprintf(sys, sizeof(sys), "%s/sys", d->dir);
	ck_assert_int_eq(idxd_fx_device(sys, "dsa0", "0000:6a:01.0", 1, "enabled", 8, 128, NULL),
	                 0);
	ck_assert_int_eq(idxd_fx_wq(sys, "dsa0", usable0 ? &good : &dedicated), 0);
	if (!usable0) {
		ck_assert_int_eq(
		    idxd_fx_device(sys, "dsa1", "0000:6b:01.0", 1, "enabled", 8, 128, NULL), 0);
		ck_assert_int_eq(idxd_fx_wq(sys, "dsa1", &other), 0);
	}
	snprintf(text, sizeof(text), "[Daemon]\nMaxMessageSize=4194304\n[Idxd]\nSysfsRoot=%s\n",
	         sys);
	ck_assert_int_eq(it_write_file(d, "migrate.conf", text, conf, sizeof(conf)), 0);
	ck_assert_msg(it_restart(d, "--config", conf, NULL) == 0, "pasidd did not start (%s)",
	              d->log);
	*fd = it_connect(d);
	ck_assert_int_ge(*fd, 0);
}

static void
setup_idxd(void)
{
	start_idxd(&A, &fa, true);
	start_idxd(&B, &fb, false);
}

START_TEST(work_queues_checked_and_mapped)
{
	struct json_object *doc, *dry, *r;
	const char *before;

	make_vm(fa, "w", "translated", NULL, 0, 0);
	IT_OK(it_call(fa, "pasid.alloc",
	              "{\"vm\":\"w\",\"type\":\"shared\",\"wq\":\"dsa0/wq0.1\",\"count\":3}"));
	doc = export(fa, "w");
	ck_assert_ptr_nonnull(strstr(text(doc), "\"wq\":\"dsa0/wq0.1\""));
	before = it_snapshot(fb);
	/* dsa0/wq0.1 is dedicated on B: unusable, reported once. */
	dry = IT_OK(import(fb, doc, ",\"dry_run\":true"));
	ck_assert_int_eq(json_object_array_length(it_get(dry, "conflicts")), 1);
	ck_assert_str_eq(it_str(json_object_array_get_idx(it_get(dry, "conflicts"), 0), "what"),
	                 "wq");
	IT_ERR(import(fb, doc, ""), 1004, "document");
	/* Mapped to a WQ B does not have: missing. */
	dry = IT_OK(import(fb, doc, ",\"dry_run\":true,\"wqs\":{\"dsa0/wq0.1\":\"dsa5/wq5.0\"}"));
	ck_assert_str_eq(it_str(json_object_array_get_idx(it_get(dry, "conflicts"), 0), "what"),
	                 "missing");
	ck_assert_str_eq(it_snapshot(fb), before);
	/* Mapped to B's usable one. */
	IT_OK(import(fb, doc, ",\"wqs\":{\"dsa0/wq0.1\":\"dsa1/wq1.0\"}"));
	r = IT_OK(it_call(fb, "pasid.list", "{\"vm\":\"w\",\"wq\":\"dsa1/wq1.0\"}"));
	ck_assert_int_eq(json_object_array_length(it_get(r, "mappings")), 3);
	check_invariants(fb);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("migrate");
	TCase *tc = tcase_create("migrate");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 240);
	tcase_add_test(tc, back_and_forth_both_modes);
	tcase_add_test(tc, device_map_and_rename);
	tcase_add_test(tc, import_for_another_process);
	tcase_add_test(tc, import_by_a_user);
	tcase_add_test(tc, identity_conflicts_all_reported);
	tcase_add_test(tc, identity_into_reservation);
	tcase_add_test(tc, quota_on_destination);
	tcase_add_test(tc, hostile_documents);
	tcase_add_test(tc, kill9_during_import);
	tcase_add_loop_test(tc, import_commit_cut_short, 0, 2);
	tcase_add_test(tc, randomized_migrations);
	suite_add_tcase(s, tc);
	tc = tcase_create("work queues");
	tcase_add_checked_fixture(tc, setup_idxd, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, work_queues_checked_and_mapped);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	if (geteuid() != 0)
		ck_skip("needs root to be an administrator");
	signal(SIGPIPE, SIG_IGN);
	return ck_run(suite());
}
