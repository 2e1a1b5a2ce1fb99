/* Issue 8, item 7 (DESIGN.md §7): who may act on which VM, as one table. Every method that
 * names a VM, against the caller's own VM, another uid's VM and a VM that does not exist, as
 * an administrator (uid 0) and as an ordinary uid (65534). VM names are global and not
 * secret; what another uid's VM holds is: a refusal says nothing of it. */
#include <check.h>

#include "ck_main.h"
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

#define NOBODY   65534
#define ROOT_DEV "0000:00:08.0"
#define NB_DEV   "0000:00:18.0"

static struct it_daemon d;
static int root_fd = -1, nb_fd = -1;
static pid_t nb_holder;

static void
setup(void)
{
	char conf[256];

	ck_assert_int_eq(it_prepare(&d), 0);
	ck_assert_int_eq(chmod(d.dir, 0755), 0);
	ck_assert_int_eq(
	    it_write_file(&d, "authz.conf", "[Daemon]\nSocketMode=0666\n", conf, sizeof(conf)), 0);
	ck_assert_int_eq(it_restart(&d, "--config", conf, NULL), 0);
	root_fd = it_connect(&d);
	nb_fd = it_connect_as(&d, NOBODY, NOBODY, NULL, 0, &nb_holder);
	ck_assert_int_ge(nb_fd, 0);
}

static void
teardown(void)
{
	it_release_kept();
	close(root_fd);
	close(nb_fd);
	it_holder_release(nb_holder);
	it_cleanup(&d);
}

/* Each VM with a device of its own and one shared PASID (gPASID 1). */
static void
populate(void)
{
	IT_OK(it_call(root_fd, "vm.register", "{\"vm\":\"root-vm\"}"));
	IT_OK(
	    it_call(root_fd, "device.assign", "{\"vm\":\"root-vm\",\"device\":\"" ROOT_DEV "\"}"));
	IT_OK(it_call(root_fd, "pasid.alloc", "{\"vm\":\"root-vm\",\"type\":\"shared\"}"));
	IT_OK(it_call(nb_fd, "vm.register", "{\"vm\":\"nb-vm\"}"));
	IT_OK(it_call(nb_fd, "device.assign", "{\"vm\":\"nb-vm\",\"device\":\"" NB_DEV "\"}"));
	IT_OK(it_call(nb_fd, "pasid.alloc", "{\"vm\":\"nb-vm\",\"type\":\"shared\"}"));
}

/* Back to nothing, as the administrator. */
static void
depopulate(void)
{
	static const char *const vms[] = {"root-vm", "nb-vm", "ghost"};

	for (size_t i = 0; i < 3; i++) {
		int code = it_code(root_fd, "vm.unregister",
		                   i == 0   ? "{\"vm\":\"root-vm\"}"
		                   : i == 1 ? "{\"vm\":\"nb-vm\"}"
		                            : "{\"vm\":\"ghost\"}");

		ck_assert_msg(code == 0 || code == 1003, "unregister %s: %d", vms[i], code);
	}
}

struct row {
	const char *method;
	const char *params; /* %1$s the VM, %2$s a device of that VM */
};

static const struct row rows[] = {
    {"vm.register", "{\"vm\":\"%1$s\"}"},
    {"vm.show", "{\"vm\":\"%1$s\"}"},
    {"pasid.list", "{\"vm\":\"%1$s\"}"},
    {"pasid.lookup", "{\"vm\":\"%1$s\",\"gpasid\":1}"},
    {"pasid.alloc", "{\"vm\":\"%1$s\",\"type\":\"shared\"}"},
    {"pasid.alloc", "{\"vm\":\"%1$s\",\"type\":\"local\",\"device\":\"%2$s\"}"},
    {"pasid.free", "{\"vm\":\"%1$s\",\"gpasid\":1}"},
    {"device.assign", "{\"vm\":\"%1$s\",\"device\":\"0000:00:1f.7\"}"},
    {"device.release", "{\"vm\":\"%1$s\",\"device\":\"%2$s\"}"},
    {"vm.unregister", "{\"vm\":\"%1$s\"}"},
};

enum target { OWN, OTHER, MISSING };

/* What another uid's VM holds, none of which a refusal may show. */
static void
assert_tells_nothing(struct json_object *resp, const char *ctx)
{
	char pid[16];
	const char *msg = it_str(resp, "error.message");
	struct json_object *data = it_get(resp, "error.data");

	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	ck_assert_msg(msg, "%s: no message", ctx);
	ck_assert_msg(!strstr(msg, pid) && !strstr(msg, ROOT_DEV) && !strstr(msg, "4096") &&
	                  !strstr(msg, "cgroup") && !strstr(msg, "uid"),
	              "%s: the refusal tells about the other VM: %s", ctx, msg);
	json_object_object_foreach(data, key, val)
	{
		(void)val;
		ck_assert_msg(!strcmp(key, "reason") || !strcmp(key, "param"),
		              "%s: the refusal's data tells more: %s", ctx,
		              json_object_to_json_string(data));
	}
}

static void
run_table(bool admin)
{
	int fd = admin ? root_fd : nb_fd;
	const char *own = admin ? "root-vm" : "nb-vm", *other = admin ? "nb-vm" : "root-vm";
	const char *own_dev = admin ? ROOT_DEV : NB_DEV, *other_dev = admin ? NB_DEV : ROOT_DEV;

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		for (enum target t = OWN; t <= MISSING; t++) {
			const char *vm = t == OWN ? own : t == OTHER ? other : "ghost";
			const char *dev = t == OWN     ? own_dev
			                  : t == OTHER ? other_dev
			                               : "0000:00:02.0";
			bool reg = !strcmp(rows[i].method, "vm.register");
			char params[256], ctx[384];
			struct json_object *r;
			int want;

			populate();
			snprintf(params, sizeof(params), rows[i].params, vm, dev);
			snprintf(ctx, sizeof(ctx), "%s %s %s by %s", rows[i].method, params,
			         t == OWN     ? "(own VM)"
			         : t == OTHER ? "(another uid's VM)"
			                      : "(none)",
			         admin ? "an admin" : "uid 65534");
			r = it_keep(it_call(fd, rows[i].method, params));
			if (t == MISSING)
				want = reg ? 0 : 1003;
			else if (t == OTHER && !admin)
				want = reg ? 1004 : 1005;
			else
				want = 0;
			ck_assert_msg(r && it_errcode(r) == want, "%s: want %d, got %s", ctx, want,
			              r ? json_object_to_json_string(r) : "no answer");
			if (want == 1005 || want == 1004)
				assert_tells_nothing(r, ctx);
			if (want == 1003)
				ck_assert_msg(!strcmp(it_errparam(r), "vm"), "%s: %s", ctx,
				              json_object_to_json_string(r));
			depopulate();
		}
	}
}

START_TEST(table_non_admin)
{
	run_table(false);
}
END_TEST

START_TEST(table_admin)
{
	run_table(true);
}
END_TEST

/* A device that another uid's VM holds: taken, but whose it is only an admin may learn. */
START_TEST(device_held_elsewhere)
{
	struct json_object *r;

	populate();
	IT_OK(it_call(nb_fd, "vm.register", "{\"vm\":\"nb-2\"}"));
	r = it_call(nb_fd, "device.assign", "{\"vm\":\"nb-2\",\"device\":\"" ROOT_DEV "\"}");
	IT_ERR(r, 1004, "device");
	{
		const char *msg = it_str(r, "error.message");
		char pid[16];

		/* The device is the caller's own word; whose VM holds it is not. */
		snprintf(pid, sizeof(pid), "%d", (int)getpid());
		ck_assert_msg(!strstr(msg, "root-vm") && !strstr(msg, pid) && !strstr(msg, "4096"),
		              "the refusal names the holder: %s", msg);
	}
	IT_OK(it_call(root_fd, "vm.register", "{\"vm\":\"root-2\"}"));
	r = it_call(root_fd, "device.assign", "{\"vm\":\"root-2\",\"device\":\"" NB_DEV "\"}");
	IT_ERR(r, 1004, "device");
	ck_assert_msg(strstr(it_str(r, "error.message"), "nb-vm"),
	              "an admin is not told the holder: %s", it_str(r, "error.message"));
}
END_TEST

/* Listings show an ordinary uid its own VMs only, an admin every VM. */
START_TEST(listings)
{
	struct json_object *l;

	populate();
	l = it_keep(it_list_all(nb_fd, "vm.list", "vms", NULL));
	ck_assert_int_eq(json_object_array_length(l), 1);
	ck_assert_str_eq(it_str(l, "0.vm"), "nb-vm");
	l = it_keep(it_list_all(nb_fd, "pasid.list", "mappings", NULL));
	ck_assert_int_eq(json_object_array_length(l), 1);
	ck_assert_str_eq(it_str(l, "0.vm"), "nb-vm");
	l = it_keep(it_list_all(root_fd, "vm.list", "vms", NULL));
	ck_assert_int_eq(json_object_array_length(l), 2);
	l = it_keep(it_list_all(root_fd, "pasid.list", "mappings", NULL));
	ck_assert_int_eq(json_object_array_length(l), 2);
	/* By hPASID is for administrators. */
	IT_ERR(it_call(nb_fd, "pasid.lookup", "{\"hpasid\":4096}"), 1005, "hpasid");
	IT_OK(it_call(root_fd, "pasid.lookup", "{\"hpasid\":4097}"));
}
END_TEST

/* The document the daemon serves says the same thing as the daemon does. */
START_TEST(openrpc_says_the_same)
{
	struct json_object *doc = IT_OK(it_call(nb_fd, "rpc.discover", NULL));
	const char *desc = it_str(doc, "info.description");

	ck_assert_ptr_nonnull(desc);
	ck_assert_msg(!strstr(desc, "as if it did not exist"), "%s", desc);
	ck_assert_ptr_nonnull(strstr(desc, "permission_denied (1005)"));
	ck_assert_ptr_nonnull(strstr(desc, "not_found (1003)"));
	ck_assert_ptr_nonnull(strstr(desc, "conflict (1004) for everyone"));
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("authz");
	TCase *tc = tcase_create("table");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, table_non_admin);
	tcase_add_test(tc, table_admin);
	tcase_add_test(tc, device_held_elsewhere);
	tcase_add_test(tc, listings);
	tcase_add_test(tc, openrpc_says_the_same);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	if (geteuid() != 0)
		ck_skip("needs root to act as two uids");
	signal(SIGPIPE, SIG_IGN);
	return ck_run(suite());
}
