/* Cgroup PASID quotas against real cgroups: a private subtree under the cgroup2 mount (found
 * in /proc/self/mountinfo, /sys/fs/cgroup/unified on hybrid hosts), owner processes moved
 * into nested cgroups and VMs registered for them with vm.register {pid}. Needs root: reports
 * itself skipped (77) otherwise. The cases on real cgroups are tagged cgroup2 (ctest
 * integration/test_cgroup_quota/cgroup2), skipped without a cgroup2 mount that takes them. */
#include <check.h>

#include "ck_main.h"
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "harness.h"
#include "itcgroup.h"

static struct itcg cgs; /* the suite's subtree: /pasidd-test.XXXXXX */
static struct it_daemon d;
static int fd = -1;

/* ---- cgroups ---- */

static const char *
cg(const char *rel)
{
	return itcg_path(&cgs, rel);
}

static void
set_xattr(const char *cgroup, const char *value)
{
	char path[2048];

	itcg_dir(&cgs, cgroup, path, sizeof(path));
	if (value)
		ck_assert_msg(setxattr(path, "user.pasid.max", value, strlen(value), 0) == 0,
		              "setxattr %s: %s", path, strerror(errno));
	else
		ck_assert_msg(removexattr(path, "user.pasid.max") == 0 || errno == ENODATA,
		              "removexattr %s: %s", path, strerror(errno));
}

static pid_t
owner_in(const char *cgroup)
{
	return itcg_owner_in(&cgs, cgroup);
}

static void
owner_kill(pid_t pid)
{
	itcg_owner_kill(&cgs, pid);
}

/* ---- the daemon ---- */

/* Starts pasidd with a [Quota] section (may be NULL) and connects. */
static void
start(const char *quota)
{
	char conf[256], text[4096];

	ck_assert_int_eq(it_prepare(&d), 0);
	snprintf(text, sizeof(text), "[Daemon]\nSocketMode=0666\n%s%s", quota ? "[Quota]\n" : "",
	         quota ? quota : "");
	ck_assert_int_eq(it_write_file(&d, "pasidd.conf", text, conf, sizeof(conf)), 0);
	ck_assert_int_eq(it_restart(&d, "--config", conf, NULL), 0);
	fd = it_connect(&d);
	ck_assert_int_ge(fd, 0);
}

static void
restart(bool crash, const char *conf)
{
	close(fd);
	if (crash)
		it_kill(&d);
	else
		ck_assert_int_eq(it_stop(&d), 0);
	if (conf)
		ck_assert_int_eq(it_restart(&d, "--config", conf, NULL), 0);
	else
		ck_assert_int_eq(it_restart(&d, "--config", "/dev/null", NULL), 0);
	fd = it_connect(&d);
	ck_assert_int_ge(fd, 0);
}

static void
teardown(void)
{
	itcg_owners_kill(&cgs);
	if (fd >= 0)
		close(fd);
	fd = -1;
	it_release_kept();
	it_cleanup(&d);
}

/* Registers vm for process pid, which must be in cgroup. */
static void
reg(const char *vm, pid_t pid, const char *cgroup)
{
	struct json_object *r =
	    IT_OK(it_callf(fd, "vm.register", "{\"vm\":\"%s\",\"pid\":%d}", vm, (int)pid));

	ck_assert_str_eq(it_str(r, "cgroup"), cgroup);
}

/* The response, for IT_OK or IT_ERR (which keep it). */
static struct json_object *
alloc(const char *vm, int count)
{
	return it_callf(fd, "pasid.alloc", "{\"vm\":\"%s\",\"type\":\"shared\",\"count\":%d}", vm,
	                count);
}

static void
alloc_ok(const char *vm, int count)
{
	struct json_object *r = it_keep(alloc(vm, count));

	ck_assert_msg(!it_errcode(r), "alloc %d for %s: %s", count, vm,
	              json_object_to_json_string(r));
}

/* The allocation is refused with 1002 naming cgroup, its max and what it holds. */
static void
alloc_refused(const char *vm, int count, const char *cgroup, long max, long current)
{
	struct json_object *r = alloc(vm, count);

	IT_ERR(r, 1002, "");
	IT_JSON_EQ(it_get(r, "error.data"),
	           "{\"reason\":\"quota_exceeded\",\"cgroup\":\"%s\",\"max\":%ld,\"current\":%ld}",
	           cgroup, max, current);
}

/* quota.get of one cgroup must be {cgroup, max (-1: "max"), current, denied}. */
static void
expect(const char *cgroup, long max, long current, long denied)
{
	struct json_object *r = IT_OK(it_callf(fd, "quota.get", "{\"cgroup\":\"%s\"}", cgroup));
	char mx[32];

	snprintf(mx, sizeof(mx), max < 0 ? "\"max\"" : "%ld", max);
	IT_JSON_EQ(r, "[{\"cgroup\":\"%s\",\"max\":%s,\"current\":%ld,\"denied\":%ld}]", cgroup, mx,
	           current, denied);
}

static long
pasids_of(const char *vm)
{
	struct json_object *r = IT_OK(it_callf(fd, "vm.show", "{\"vm\":\"%s\"}", vm));

	return (long)json_object_array_length(it_get(r, "mappings"));
}

/* Whether quota.get without a cgroup lists this one. */
static bool
listed(const char *cgroup)
{
	struct json_object *r = IT_OK(it_call(fd, "quota.get", NULL));

	for (size_t i = 0; i < json_object_array_length(r); i++)
		if (!strcmp(it_str(json_object_array_get_idx(r, i), "cgroup"), cgroup))
			return true;
	return false;
}

static void
set_max(const char *cgroup, const char *max, long in_force)
{
	struct json_object *r =
	    IT_OK(it_callf(fd, "quota.set", "{\"cgroup\":\"%s\",\"max\":%s}", cgroup, max));

	ck_assert_str_eq(it_str(r, "cgroup"), cgroup);
	if (in_force < 0)
		ck_assert_str_eq(it_str(r, "max"), "max");
	else
		ck_assert_int_eq(it_int(r, "max"), in_force);
}

/* ---- tests ---- */

START_TEST(limits_at_each_level)
{
	const char *lv = cg("lv"), *a = cg("lv/a"), *b = cg("lv/a/b");
	pid_t p1 = owner_in(b), p2 = owner_in(a);

	start(NULL);
	reg("vm1", p1, b);
	reg("vm2", p2, a);
	set_max(a, "5", 5);
	set_max(b, "3", 3);
	alloc_ok("vm1", 3);
	alloc_refused("vm1", 1, b, 3, 3);
	alloc_ok("vm2", 2);
	alloc_refused("vm2", 1, a, 5, 5);
	/* vm1's cgroup has room, its parent has not. */
	set_max(b, "4", 4);
	alloc_refused("vm1", 1, a, 5, 5);
	expect(b, 4, 3, 1);
	expect(a, 5, 5, 2);
	expect(lv, -1, 5, 0);
	expect("/", -1, 5, 0);
	/* A third level, above both. */
	ck_assert_int_eq(it_code(fd, "pasid.free", "{\"vm\":\"vm1\",\"gpasid\":1}"), 0);
	ck_assert_int_eq(it_code(fd, "pasid.free", "{\"vm\":\"vm1\",\"gpasid\":2}"), 0);
	set_max(lv, "4", 4);
	alloc_refused("vm1", 2, lv, 4, 3);
	alloc_ok("vm1", 1);
	expect(b, 4, 2, 1);
	expect(a, 5, 4, 2);
	expect(lv, 4, 4, 1);
	alloc_refused("vm2", 1, lv, 4, 4);
}
END_TEST

START_TEST(smallest_wins)
{
	const char *a = cg("sw/a");
	char conf[256], text[512];
	pid_t p = owner_in(a);

	set_xattr(a, "7");
	snprintf(text, sizeof(text), "Max=%s 4\n", a);
	start(text);
	reg("vm", p, a);
	expect(a, 4, 0, 0);  /* config 4 < xattr 7 */
	set_max(a, "10", 4); /* runtime 10: config's 4 still smallest */
	alloc_ok("vm", 4);
	alloc_refused("vm", 1, a, 4, 4);
	set_max(a, "2", 2); /* runtime 2 is now the smallest: below current, nothing revoked */
	ck_assert_int_eq(pasids_of("vm"), 4);
	expect(a, 2, 4, 1);
	alloc_refused("vm", 1, a, 2, 4);
	set_max(a, "\"max\"", 4); /* runtime limit gone: config again */
	/* Without the config limit (another file), the xattr's 7 applies from start-up on. */
	ck_assert_int_eq(
	    it_write_file(&d, "none.conf", "[Daemon]\nSocketMode=0666\n", conf, sizeof(conf)), 0);
	restart(false, conf);
	expect(a, 7, 4, 0);
	alloc_ok("vm", 3);
	alloc_refused("vm", 1, a, 7, 7);
	set_max(a, "0", 0);
	alloc_refused("vm", 1, a, 0, 7);
}
END_TEST

START_TEST(xattr_limits)
{
	const char *x = cg("x"), *a = cg("x/a"), *b = cg("x/a/b"), *c = cg("x/c"), *dd = cg("x/d");
	pid_t p1 = owner_in(b), p2, p3;

	set_xattr(a, "3\n");
	start(NULL);
	/* Before a VM comes, a cgroup's xattr is shown as it is now. */
	expect(a, 3, 0, 0);
	reg("vm1", p1, b);
	alloc_ok("vm1", 3);
	alloc_refused("vm1", 1, a, 3, 3);
	/* The xattr is read when a VM registers: a change waits for the next one. */
	set_xattr(a, "5");
	alloc_refused("vm1", 1, a, 3, 3);
	p2 = owner_in(b);
	reg("vm2", p2, b);
	expect(a, 5, 3, 2);
	alloc_ok("vm1", 2);
	alloc_refused("vm2", 1, a, 5, 5);
	/* Every level's xattr is read, here one above. */
	set_xattr(x, "4");
	set_xattr(a, "max");
	itcg_mk(&cgs, c);
	set_xattr(c, "9");
	expect(c, 9, 0, 0);
	ck_assert(!listed(c)); /* seen, not kept: no VM registered there */
	reg("vm2", p2, b);     /* re-attaching registers too */
	expect(a, -1, 5, 3);
	expect(x, 4, 5, 0);
	alloc_refused("vm2", 1, x, 4, 5);
	/* A value that is not a limit is ignored. */
	set_xattr(x, "plenty");
	reg("vm1", p1, b);
	expect(x, -1, 5, 1);
	alloc_ok("vm2", 1);
	/* Removed: no limit either. */
	set_xattr(x, NULL);
	set_xattr(a, "6");
	reg("vm1", p1, b);
	expect(x, -1, 6, 1);
	alloc_refused("vm1", 1, a, 6, 6);
	/* At start-up the xattrs of every VM's cgroup are read again, also for a VM that holds
	 * nothing yet. */
	p3 = owner_in(dd);
	reg("vm3", p3, dd);
	set_xattr(dd, "1");
	restart(false, NULL);
	alloc_ok("vm3", 1);
	alloc_refused("vm3", 1, dd, 1, 1);
}
END_TEST

/* Grows the journal past its compaction threshold (1 MiB) with quota records of a long
 * cgroup path, 15 to a batch so that each group commit takes many, until the daemon has
 * written a new snapshot. Cheap enough for a daemon under valgrind. */
static void
force_compaction(void)
{
	struct json_object *st = IT_OK(it_call(fd, "daemon.status", NULL));
	int64_t gen = it_int(st, "journal.generation");
	char name[3901], *batch;
	size_t cap = 16 * (sizeof(name) + 128);
	int id = 1000;

	memset(name, 'x', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	batch = it_keep_str(malloc(cap));
	for (int round = 0; round < 100; round++) {
		struct json_object *r;
		size_t n = 0;

		n += (size_t)snprintf(batch + n, cap - n, "[");
		for (int i = 0; i < 15; i++)
			n += (size_t)snprintf(
			    batch + n, cap - n,
			    "%s{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"quota.set\","
			    "\"params\":{\"cgroup\":\"%s/churn/%s\",\"max\":%d}}",
			    i ? "," : "", id++, cgs.top, name, 1 + i % 2);
		snprintf(batch + n, cap - n, "]");
		ck_assert_int_eq(it_sendline(fd, batch), 0);
		r = it_keep(it_recvjson(fd, 30000));
		ck_assert_msg(
		    json_object_is_type(r, json_type_array) && json_object_array_length(r) == 15,
		    "batch %d: %s", round, r ? json_object_to_json_string(r) : "no answer");
		for (size_t i = 0; i < 15; i++)
			ck_assert_msg(!it_errcode(json_object_array_get_idx(r, i)), "batch %d: %s",
			              round, json_object_to_json_string(r));
		st = IT_OK(it_call(fd, "daemon.status", NULL));
		if (it_int(st, "journal.generation") > gen)
			break;
	}
	ck_assert_int_gt(it_int(st, "journal.generation"), gen);
	IT_OK(it_callf(fd, "quota.set", "{\"cgroup\":\"%s/churn/%s\",\"max\":\"max\"}", cgs.top,
	               name));
}

START_TEST(runtime_limits_survive_restart)
{
	const char *a = cg("rs/a"), *b = cg("rs/b"), *c = cg("rs/c");
	pid_t p = owner_in(a);

	start(NULL);
	reg("vm", p, a);
	set_max(a, "2", 2);
	set_max(b, "0", 0);
	set_max(c, "5", 5);
	set_max(c, "\"max\"", -1);
	alloc_ok("vm", 2);
	alloc_refused("vm", 1, a, 2, 2);
	restart(false, NULL);
	expect(a, 2, 2, 0); /* the denied count starts again; the charges are rebuilt */
	expect(b, 0, 0, 0);
	ck_assert(!listed(c));
	alloc_refused("vm", 1, a, 2, 2);
	restart(true, NULL); /* kill -9 */
	expect(a, 2, 2, 0);
	expect(b, 0, 0, 0);
	expect("/", -1, 2, 0);
	/* Once the journal is compacted, the limits come from the snapshot. */
	force_compaction();
	set_max(b, "1", 1);
	restart(true, NULL);
	expect(a, 2, 2, 0);
	expect(b, 1, 0, 0);
	ck_assert(!listed(c));
	alloc_refused("vm", 1, a, 2, 2);
	set_max(a, "3", 3);
	alloc_ok("vm", 1);
}
END_TEST

START_TEST(count_all_or_nothing)
{
	const char *a = cg("ct/a"), *b = cg("ct/a/b");
	pid_t p = owner_in(b);
	struct json_object *r;

	start(NULL);
	reg("vm", p, b);
	set_max(a, "5", 5);
	alloc_ok("vm", 3);
	alloc_refused("vm", 3, a, 5, 3);
	ck_assert_int_eq(pasids_of("vm"), 3);
	alloc_refused("vm", 4092, a, 5, 3);
	ck_assert_int_eq(pasids_of("vm"), 3);
	alloc_ok("vm", 2); /* exactly up to the max */
	ck_assert_int_eq(pasids_of("vm"), 5);
	alloc_refused("vm", 1, a, 5, 5);
	/* Local PASIDs count the same. */
	ck_assert_int_eq(
	    it_code(fd, "device.assign", "{\"vm\":\"vm\",\"device\":\"0000:00:02.0\"}"), 0);
	set_max(a, "8", 8);
	r = it_call(fd, "pasid.alloc",
	            "{\"vm\":\"vm\",\"type\":\"local\",\"device\":\"0000:00:02.0\",\"count\":4}");
	IT_ERR(r, 1002, "");
	IT_OK(
	    it_call(fd, "pasid.alloc",
	            "{\"vm\":\"vm\",\"type\":\"local\",\"device\":\"0000:00:02.0\",\"count\":3}"));
	expect(a, 8, 8, 4);
	expect(b, -1, 8, 0);
}
END_TEST

START_TEST(denied_counters)
{
	const char *dn = cg("dn"), *a = cg("dn/a"), *b = cg("dn/a/b");
	pid_t p = owner_in(b);
	struct json_object *all, *mine = NULL;

	start("DefaultVMMax=4\n");
	reg("vm", p, b);
	set_max(a, "2", 2);
	alloc_ok("vm", 2);
	for (int i = 0; i < 3; i++)
		alloc_refused("vm", 1, a, 2, 2);
	expect(a, 2, 2, 3);
	expect(b, -1, 2, 0);
	expect(dn, -1, 2, 0);
	/* The per-VM limit refuses without counting against a cgroup. */
	set_max(a, "\"max\"", -1);
	alloc_ok("vm", 2);
	all = alloc("vm", 1);
	IT_ERR(all, 1002, "");
	IT_JSON_EQ(it_get(all, "error.data"),
	           "{\"reason\":\"quota_exceeded\",\"cgroup\":\"%s\",\"max\":4,\"current\":4,"
	           "\"vm\":\"vm\"}",
	           b);
	expect(a, -1, 4, 3);
	expect(b, -1, 4, 0);
	/* quota.get without a cgroup lists the counter, in tree order. */
	all = IT_OK(it_call(fd, "quota.get", "{}"));
	for (size_t i = 0; i < json_object_array_length(all); i++) {
		struct json_object *e = json_object_array_get_idx(all, i);

		ck_assert_msg(it_members(e, "cgroup", "max", "current", "denied", NULL), "%s",
		              json_object_to_json_string(e));
		if (!strcmp(it_str(e, "cgroup"), a))
			mine = e;
		if (i)
			ck_assert_str_lt(it_str(json_object_array_get_idx(all, i - 1), "cgroup"),
			                 it_str(e, "cgroup"));
	}
	ck_assert_ptr_nonnull(mine);
	ck_assert_int_eq(it_int(mine, "denied"), 3);
	ck_assert_str_eq(it_str(json_object_array_get_idx(all, 0), "cgroup"), "/");
}
END_TEST

START_TEST(frees_uncharge_every_level)
{
	const char *levels[] = {cg("fr/a/b/c"), cg("fr/a/b"), cg("fr/a"), cg("fr"), cgs.top, "/"};
	pid_t p = owner_in(levels[0]);

	start(NULL);
	reg("vm", p, levels[0]);
	alloc_ok("vm", 10);
	for (int i = 0; i < 6; i++)
		expect(levels[i], -1, 10, 0);
	for (int g = 1; g <= 3; g++)
		IT_OK(it_callf(fd, "pasid.free", "{\"vm\":\"vm\",\"gpasid\":%d}", g));
	for (int i = 0; i < 6; i++)
		expect(levels[i], -1, 7, 0);
	ck_assert_int_eq(it_code(fd, "vm.unregister", "{\"vm\":\"vm\"}"), 0);
	for (int i = 0; i < 6; i++) {
		expect(levels[i], -1, 0, 0);
		ck_assert(!listed(levels[i]));
	}
}
END_TEST

static void
wait_gone(const char *vm)
{
	/* Seconds, not milliseconds, for a daemon under valgrind. */
	for (int i = 0; i < 3000; i++) {
		struct json_object *r = it_keep(it_callf(fd, "vm.show", "{\"vm\":\"%s\"}", vm));

		if (it_errcode(r) == 1003)
			return;
		usleep(10000);
	}
	ck_abort_msg("VM %s outlived its owner", vm);
}

START_TEST(owner_exit_uncharges)
{
	const char *a = cg("ox/a"), *b = cg("ox/a/b");
	pid_t p1 = owner_in(b), p2 = owner_in(a);

	start(NULL);
	set_max(a, "6", 6);
	reg("vm1", p1, b);
	reg("vm2", p2, a);
	alloc_ok("vm1", 4);
	alloc_ok("vm2", 2);
	alloc_refused("vm2", 1, a, 6, 6);
	owner_kill(p1);
	wait_gone("vm1");
	expect(b, -1, 0, 0);
	expect(a, 6, 2, 1);
	alloc_ok("vm2", 4); /* the room vm1 left */
	/* Also when the owner exits while the daemon is down. */
	close(fd);
	ck_assert_int_eq(it_stop(&d), 0);
	owner_kill(p2);
	ck_assert_int_eq(it_restart(&d, "--config", "/dev/null", NULL), 0);
	fd = it_connect(&d);
	wait_gone("vm2");
	expect(a, 6, 0, 0);
	expect("/", -1, 0, 0);
}
END_TEST

START_TEST(charge_stays_where_made)
{
	const char *a = cg("mv/a"), *b = cg("mv/b");
	pid_t p = owner_in(a);

	itcg_mk(&cgs, b);
	set_xattr(b, "1");
	start(NULL);
	reg("vm", p, a);
	itcg_move(&cgs, p, b);
	alloc_ok("vm", 3);
	reg("vm", p, a); /* re-attach: still the registration-time cgroup */
	alloc_ok("vm", 1);
	expect(a, -1, 4, 0);
	expect(b, 1, 0, 0);
}
END_TEST

/* As uid 65534: quota.set is refused, quota.get answers. Exit status 0 when so. */
static int
nobody_calls(void)
{
	int s = it_connect(&d), bad = 0;
	struct json_object *r;

	if (s < 0)
		return 10;
	r = it_call(s, "quota.set", "{\"cgroup\":\"/x\",\"max\":1}");
	bad |= it_error_mismatch(r, 1005, NULL) != NULL;
	json_object_put(r);
	r = it_call(s, "quota.get", "{\"cgroup\":\"/x\"}");
	bad |= it_errcode(r) != 0;
	json_object_put(r);
	return bad;
}

START_TEST(methods_and_params)
{
	struct json_object *r;
	pid_t pid;
	int st;

	start(NULL);
	ck_assert_int_eq(chmod(d.dir, 0711), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (setgid(65534) < 0 || setuid(65534) < 0)
			_exit(20);
		_exit(nobody_calls());
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "unprivileged quota calls: %d", st);
	/* Paths come back canonical. */
	r = IT_OK(it_call(fd, "quota.set", "{\"cgroup\":\"//q//r/\",\"max\":7}"));
	IT_JSON_EQ(r, "{\"cgroup\":\"/q/r\",\"max\":7,\"current\":0}");
	expect("/q/r", 7, 0, 0);
	r = IT_OK(it_call(fd, "quota.get", "{\"cgroup\":\"/never/seen\"}"));
	IT_JSON_EQ(r, "[{\"cgroup\":\"/never/seen\",\"max\":\"max\",\"current\":0,\"denied\":0}]");
	IT_ERR(it_call(fd, "quota.set", "{\"cgroup\":\"rel\",\"max\":1}"), -32602, "cgroup");
	IT_ERR(it_call(fd, "quota.set", "{\"cgroup\":\"/a/../b\",\"max\":1}"), -32602, "cgroup");
	IT_ERR(it_call(fd, "quota.set", "{\"max\":1}"), -32602, "cgroup");
	IT_ERR(it_call(fd, "quota.set", "{\"cgroup\":5,\"max\":1}"), -32602, "cgroup");
	IT_ERR(it_call(fd, "quota.set", "{\"cgroup\":\"/a\"}"), -32602, "max");
	IT_ERR(it_call(fd, "quota.set", "{\"cgroup\":\"/a\",\"max\":-1}"), -32602, "max");
	IT_ERR(it_call(fd, "quota.set", "{\"cgroup\":\"/a\",\"max\":1.5}"), -32602, "max");
	IT_ERR(it_call(fd, "quota.set", "{\"cgroup\":\"/a\",\"max\":\"lots\"}"), -32602, "max");
	IT_ERR(it_call(fd, "quota.set", "{\"cgroup\":\"/a\",\"max\":\"5\"}"), -32602, "max");
	IT_ERR(it_call(fd, "quota.set", "{\"cgroup\":\"/a\",\"max\":null}"), -32602, "max");
	IT_ERR(it_call(fd, "quota.set", "{\"cgroup\":\"/a\",\"max\":1,\"x\":1}"), -32602, "x");
	IT_ERR(it_call(fd, "quota.set", "[\"/a\",1]"), -32602, "params");
	IT_ERR(it_call(fd, "quota.get", "{\"cgroup\":\"\"}"), -32602, "cgroup");
	IT_ERR(it_call(fd, "quota.get", "{\"cgroup\":[]}"), -32602, "cgroup");
	IT_ERR(it_call(fd, "quota.get", "{\"vm\":\"x\"}"), -32602, "vm");
	r = IT_OK(it_call(fd, "quota.set", "{\"cgroup\":\"/big\",\"max\":9223372036854775807}"));
	ck_assert_int_eq(it_int(r, "max"), INT64_MAX);
	/* Setting the same limit again changes nothing, and says the same. */
	r = IT_OK(it_call(fd, "quota.set", "{\"cgroup\":\"/q/r\",\"max\":7}"));
	IT_JSON_EQ(r, "{\"cgroup\":\"/q/r\",\"max\":7,\"current\":0}");
}
END_TEST

static Suite *
quota_suite(void)
{
	Suite *s = suite_create("quota");
	TCase *tc = tcase_create("cgroups");

	tcase_set_tags(tc, "cgroup2");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, limits_at_each_level);
	tcase_add_test(tc, smallest_wins);
	tcase_add_test(tc, xattr_limits);
	tcase_add_test(tc, runtime_limits_survive_restart);
	tcase_add_test(tc, count_all_or_nothing);
	tcase_add_test(tc, denied_counters);
	tcase_add_test(tc, frees_uncharge_every_level);
	tcase_add_test(tc, owner_exit_uncharges);
	tcase_add_test(tc, charge_stays_where_made);
	suite_add_tcase(s, tc);
	/* Without real cgroups. */
	tc = ck_case(s, "methods", NULL, teardown, 120);
	tcase_add_test(tc, methods_and_params);
	return s;
}

/* The cgroup2 mount, if this process may make cgroups under it that take user xattrs. */
static bool
find_cgroups(char *why, size_t len)
{
	char path[2048];

	if (!itcg_open(&cgs, "pasidd-test", why, len))
		return false;
	itcg_dir(&cgs, cgs.top, path, sizeof(path));
	if (setxattr(path, "user.pasid.max", "1", 1, 0) < 0) {
		snprintf(why, len, "cgroups under %.200s take no user xattrs: %s", cgs.mnt,
		         strerror(errno));
		itcg_remove(&cgs);
		return false;
	}
	removexattr(path, "user.pasid.max");
	return true;
}

/* The need of the cases tagged cgroup2: makes the suite's subtree when it can. */
static const char *
lacking_cgroups(void)
{
	static char why[300];
	char because[256];

	if (find_cgroups(because, sizeof(because))) {
		printf("cgroup2 at %s, test subtree %s\n", cgs.mnt, cgs.top);
		return NULL;
	}
	snprintf(why, sizeof(why), "needs real cgroups: %s", because);
	return why;
}

int
main(void)
{
	static const struct ck_need needs[] = {{"cgroup2", lacking_cgroups}, {NULL, NULL}};
	int rc;

	if (geteuid() != 0)
		ck_skip("needs root (cgroups, vm.register for other processes, setuid)");
	rc = ck_main(quota_suite(), needs);
	itcg_remove(&cgs);
	return rc;
}
