/* pasid.attach and pasid.detach through libpasid against the real pasidd (--backend sim), as
 * a VMM uses them: the attachment shows in vm.show, pasid.list and daemon.status, goes with
 * pasid.detach, pasid.free, device.release and the owner's exit, and every refusal leaves the
 * state as it was. The daemon's descriptor table is counted before and after each step: the
 * descriptors it keeps for an attachment are closed when the attachment goes, and the ones
 * of a refused request at once. */
#include <check.h>

#include "ck_main.h"
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "itutil.h"
#include "libpasid.h"

#define DEV   "0000:00:04.0"
#define OTHER "0000:00:05.0"
#define SHDEV "0000:6a:01.0"

static struct it_daemon D;
static int fd = -1;              /* raw JSON lines, to look at the state */
static struct pasid_client *C;   /* the VMM's connection */
static int nullfd[2] = {-1, -1}; /* its "iommufd" and "device cdev": /dev/null will do */

static void
setup(void)
{
	struct pasid_error err;

	ck_assert_msg(it_setup(&D, &fd, NULL) == 0, "pasidd did not start (log in %s)", D.log);
	ck_assert_int_eq(pasid_connect(D.sock, &C, &err), 0);
	pasid_set_timeout(C, 10000);
	/* Both connections answered once: the daemon has accepted them, and their descriptors
	 * are in its table before a test counts it. */
	ck_assert_int_eq(pasid_call(C, "daemon.status", NULL, NULL, &err), 0);
	IT_OK(it_call(fd, "daemon.status", NULL));
	for (int i = 0; i < 2; i++) {
		nullfd[i] = open("/dev/null", O_RDWR | O_CLOEXEC);
		ck_assert_int_ge(nullfd[i], 0);
	}
}

static void
teardown(void)
{
	pasid_close(C);
	C = NULL;
	for (int i = 0; i < 2; i++) {
		if (nullfd[i] >= 0)
			close(nullfd[i]);
		nullfd[i] = -1;
	}
	it_teardown(&D, &fd);
}

static int
daemon_fds(void)
{
	return itu_fd_count(D.pid);
}

static void
assert_daemon_fds(int want)
{
	itu_assert_fd_count(D.pid, want);
}

static int64_t
attached_count(void)
{
	return it_int(IT_OK(it_call(fd, "daemon.status", NULL)), "attached");
}

/* it_snapshot() with daemon.status's count of attachments. Kept until teardown. */
static const char *
snapshot(void)
{
	const char *s = it_snapshot(fd);
	char *out;

	ck_assert_int_ge(asprintf(&out, "%s attached=%lld", s, (long long)attached_count()), 0);
	return it_keep_str(out);
}

/* The mappings of vm as vm.show renders them. */
static struct json_object *
shown(const char *vm)
{
	struct json_object *r = IT_OK(it_callf(fd, "vm.show", "{\"vm\":\"%s\"}", vm));

	return it_get(r, "mappings");
}

/* vm registered by this process, with dev assigned exclusively: its local gPASID. */
static uint32_t
vm_with_local(const char *vm, const char *dev)
{
	struct pasid_mapping m;
	struct pasid_error err;

	ck_assert_int_eq(pasid_vm_register(C, vm, NULL, PASID_MODE_DEFAULT, 0, NULL, &err), 0);
	ck_assert_int_eq(pasid_device_assign(C, vm, dev, false, NULL, &err), 0);
	ck_assert_int_eq(pasid_alloc(C, vm, PASID_TYPE_LOCAL, dev, PASID_ANY, &m, &err), 0);
	return m.gpasid;
}

/* Whether the read end of a pipe sees EOF: every copy of its write end is closed. */
static bool
pipe_closed(int rd)
{
	struct pollfd p = {.fd = rd, .events = POLLIN};
	char ch;

	return poll(&p, 1, 10000) == 1 && read(rd, &ch, 1) == 0;
}

START_TEST(attach_shows_detach_removes)
{
	struct pasid_error err;
	uint32_t g = vm_with_local("vm1", DEV);
	int base = daemon_fds(), p[2];
	struct json_object *m;

	/* The device cdev is a pipe's write end here: when the daemon closes its duplicate,
	 * the read end sees EOF. */
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(pasid_attach(C, "vm1", g, DEV, 7, 3, nullfd[0], p[1], &err), 0);
	ck_assert_int_eq(err.code, 0);
	close(p[1]);
	/* The daemon keeps its own duplicates of both. */
	assert_daemon_fds(base + 2);
	m = json_object_array_get_idx(shown("vm1"), 0);
	IT_JSON_EQ(m,
	           "{\"gpasid\":%u,\"hpasid\":%lld,\"type\":\"local\",\"device\":\"" DEV "\","
	           "\"attached\":[{\"device\":\"" DEV "\",\"pt_id\":7,\"dev_id\":3}]}",
	           g, (long long)it_int(m, "hpasid"));
	IT_JSON_EQ(it_get(IT_OK(it_callf(fd, "pasid.list", "{\"vm\":\"vm1\"}")), "mappings"),
	           "[{\"vm\":\"vm1\",\"gpasid\":%u,\"hpasid\":%lld,\"type\":\"local\",\"device\":"
	           "\"" DEV "\",\"attached\":[{\"device\":\"" DEV "\",\"pt_id\":7,\"dev_id\":3}]}]",
	           g, (long long)it_int(m, "hpasid"));
	ck_assert_int_eq(attached_count(), 1);

	ck_assert_int_eq(pasid_detach(C, "vm1", g, DEV, &err), 0);
	m = json_object_array_get_idx(shown("vm1"), 0);
	ck_assert_msg(!it_get(m, "attached"), "still attached: %s", json_object_to_json_string(m));
	ck_assert_uint_eq(it_int(m, "gpasid"), g);
	ck_assert_int_eq(attached_count(), 0);
	assert_daemon_fds(base);
	ck_assert(pipe_closed(p[0]));
	close(p[0]);
	/* The mapping stays allocated and can be attached again. */
	ck_assert_int_eq(pasid_attach(C, "vm1", g, DEV, 8, 3, nullfd[0], nullfd[1], &err), 0);
	ck_assert_int_eq(attached_count(), 1);
}
END_TEST

/* The request pasid_attach() sends, for sending it with other descriptors. */
static struct json_object *
attach_params(const char *vm, uint32_t g, const char *dev, bool with_fds)
{
	struct json_object *p = json_object_new_object();

	json_object_object_add(p, "vm", json_object_new_string(vm));
	json_object_object_add(p, "gpasid", json_object_new_int64(g));
	json_object_object_add(p, "device", json_object_new_string(dev));
	json_object_object_add(p, "pt_id", json_object_new_int64(7));
	json_object_object_add(p, "dev_id", json_object_new_int64(3));
	if (with_fds)
		json_object_object_add(p, "fds", json_object_new_int64(2));
	return p;
}

/* Sends pasid.attach with nfds of fds (the params say so unless they say "fds" already)
 * and checks the refusal: code, data.param, and the JSON-RPC error object as it came. */
static void
assert_attach_refused(struct json_object *params, const int *fds, size_t nfds, int code,
                      const char *param)
{
	struct pasid_error err;

	ck_assert_int_eq(pasid_call_fds(C, "pasid.attach", params, fds, nfds, NULL, &err),
	                 -EREMOTEIO);
	json_object_put(params);
	ck_assert_msg(err.code == code, "code %d (%s), expected %d", err.code, err.message, code);
	ck_assert_str_eq(err.param, param);
}

START_TEST(refusals_change_nothing)
{
	struct pasid_error err;
	uint32_t g = vm_with_local("vm1", DEV), g2;
	struct pasid_mapping m;
	int base, three[3] = {nullfd[0], nullfd[1], nullfd[0]};
	const char *before;

	ck_assert_int_eq(pasid_vm_register(C, "vm2", NULL, PASID_MODE_DEFAULT, 0, NULL, &err), 0);
	ck_assert_int_eq(pasid_device_assign(C, "vm2", SHDEV, true, NULL, &err), 0);
	ck_assert_int_eq(pasid_alloc(C, "vm2", PASID_TYPE_SHARED, NULL, PASID_ANY, &m, &err), 0);
	g2 = m.gpasid;
	base = daemon_fds();
	before = snapshot();

	/* A device the VM does not hold. */
	ck_assert_int_eq(pasid_attach(C, "vm2", g2, DEV, 7, 3, nullfd[0], nullfd[1], &err),
	                 -EREMOTEIO);
	ck_assert_int_eq(err.code, PASID_E_CONFLICT);
	ck_assert_str_eq(err.param, "device");
	/* A local mapping on another device than its own. */
	ck_assert_int_eq(pasid_device_assign(C, "vm1", OTHER, false, NULL, &err), 0);
	ck_assert_int_eq(pasid_attach(C, "vm1", g, OTHER, 7, 3, nullfd[0], nullfd[1], &err),
	                 -EREMOTEIO);
	ck_assert_int_eq(err.code, PASID_E_CONFLICT);
	ck_assert_str_eq(err.param, "device");
	ck_assert_int_eq(pasid_device_release(C, "vm1", OTHER, &err), 0);
	/* A gPASID that is not allocated, a VM that does not exist. */
	ck_assert_int_eq(pasid_attach(C, "vm1", g + 100, DEV, 7, 3, nullfd[0], nullfd[1], &err),
	                 -EREMOTEIO);
	ck_assert_int_eq(err.code, PASID_E_NOT_FOUND);
	ck_assert_str_eq(err.param, "gpasid");
	ck_assert_int_eq(pasid_attach(C, "nosuch", g, DEV, 7, 3, nullfd[0], nullfd[1], &err),
	                 -EREMOTEIO);
	ck_assert_int_eq(err.code, PASID_E_NOT_FOUND);
	ck_assert_str_eq(err.param, "vm");
	/* One descriptor, three, and two announced but none sent. */
	assert_attach_refused(attach_params("vm1", g, DEV, false), nullfd, 1,
	                      PASID_E_INVALID_PARAMS, "fds");
	assert_attach_refused(attach_params("vm1", g, DEV, false), three, 3, PASID_E_INVALID_PARAMS,
	                      "fds");
	assert_attach_refused(attach_params("vm1", g, DEV, true), NULL, 0, PASID_E_INVALID_PARAMS,
	                      "fds");
	/* Detaching what is not attached. */
	ck_assert_int_eq(pasid_detach(C, "vm1", g, DEV, &err), -EREMOTEIO);
	ck_assert_int_eq(err.code, PASID_E_NOT_FOUND);
	ck_assert_str_eq(err.param, "device");
	ck_assert_int_eq(pasid_detach(C, "vm2", g2, SHDEV, &err), -EREMOTEIO);
	ck_assert_int_eq(err.code, PASID_E_NOT_FOUND);
	ck_assert_str_eq(err.param, "device");
	ck_assert_int_eq(pasid_detach(C, "vm1", g + 100, DEV, &err), -EREMOTEIO);
	ck_assert_int_eq(err.code, PASID_E_NOT_FOUND);
	ck_assert_str_eq(err.param, "gpasid");
	ck_assert_str_eq(snapshot(), before);
	assert_daemon_fds(base);

	/* Attached once; a second attach of the same mapping on the same device is a conflict
	 * that leaves the first as it was, page table and all. */
	ck_assert_int_eq(pasid_attach(C, "vm1", g, DEV, 7, 3, nullfd[0], nullfd[1], &err), 0);
	before = snapshot();
	ck_assert_int_eq(pasid_attach(C, "vm1", g, DEV, 9, 4, nullfd[0], nullfd[1], &err),
	                 -EREMOTEIO);
	ck_assert_int_eq(err.code, PASID_E_CONFLICT);
	ck_assert_str_eq(err.param, "gpasid");
	ck_assert_str_eq(snapshot(), before);
	IT_JSON_EQ(it_get(json_object_array_get_idx(shown("vm1"), 0), "attached"),
	           "[{\"device\":\"" DEV "\",\"pt_id\":7,\"dev_id\":3}]");
	assert_daemon_fds(base + 2);
}
END_TEST

/* One connection, non-blocking, everything queued before anything is read: attach, the same
 * attach again (refused), detach, free. Each answer is matched to its request. */
START_TEST(pipelined_attach_detach_free)
{
	struct pasid_error err;
	uint32_t g = vm_with_local("vm1", DEV);
	int base = daemon_fds(), rc[4] = {1, 1, 1, 1}, got = 0;
	int64_t id[4];
	struct pasid_status *st;

	ck_assert_int_eq(pasid_set_nonblocking(C, true), 0);
	id[0] = pasid_queue_attach(C, "vm1", g, DEV, 7, 3, nullfd[0], nullfd[1], &err);
	id[1] = pasid_queue_attach(C, "vm1", g, DEV, 8, 3, nullfd[0], nullfd[1], &err);
	id[2] = pasid_queue_detach(C, "vm1", g, DEV, &err);
	{
		struct json_object *p = json_object_new_object();

		json_object_object_add(p, "vm", json_object_new_string("vm1"));
		json_object_object_add(p, "gpasid", json_object_new_int64(g));
		id[3] = pasid_queue(C, "pasid.free", p, NULL, 0, &err);
		json_object_put(p);
	}
	for (int i = 0; i < 4; i++)
		ck_assert_int_ge(id[i], 1);
	ck_assert_uint_eq(pasid_outstanding(C), 4);
	got = itu_pump_responses(C, id, rc, 4);
	ck_assert_int_eq(got, 4);
	ck_assert_int_eq(rc[0], 0);
	ck_assert_int_eq(rc[1], PASID_E_CONFLICT);
	ck_assert_int_eq(rc[2], 0);
	ck_assert_int_eq(rc[3], 0);
	ck_assert_int_eq(pasid_set_nonblocking(C, false), 0);
	ck_assert_int_eq(json_object_array_length(shown("vm1")), 0);
	ck_assert_int_eq(pasid_daemon_status(C, &st, &err), 0);
	ck_assert_uint_eq(st->used_local, 0);
	pasid_status_free(st);
	ck_assert_int_eq(attached_count(), 0);
	assert_daemon_fds(base);
}
END_TEST

/* pasid.free of an attached mapping detaches first, then frees; device.release and
 * vm.unregister detach what they take away too. */
START_TEST(free_release_unregister_detach)
{
	struct pasid_error err;
	struct pasid_mapping m;
	uint32_t g = vm_with_local("vm1", DEV), freed = 0;
	int base = daemon_fds();
	struct json_object *maps;

	ck_assert_int_eq(pasid_attach(C, "vm1", g, DEV, 7, 3, nullfd[0], nullfd[1], &err), 0);
	assert_daemon_fds(base + 2);
	ck_assert_int_eq(pasid_free(C, "vm1", g, &err), 0);
	ck_assert_int_eq(json_object_array_length(shown("vm1")), 0);
	ck_assert_int_eq(attached_count(), 0);
	ck_assert_int_eq(it_int(IT_OK(it_call(fd, "daemon.status", NULL)), "used.local"), 0);
	assert_daemon_fds(base);

	/* A shared mapping attached on a shared device: releasing the device detaches it, and
	 * the mapping stays. */
	ck_assert_int_eq(pasid_device_assign(C, "vm1", SHDEV, true, NULL, &err), 0);
	ck_assert_int_eq(pasid_alloc(C, "vm1", PASID_TYPE_SHARED, NULL, PASID_ANY, &m, &err), 0);
	ck_assert_int_eq(pasid_attach(C, "vm1", m.gpasid, SHDEV, 5, 1, nullfd[0], nullfd[1], &err),
	                 0);
	ck_assert_int_eq(attached_count(), 1);
	ck_assert_int_eq(pasid_device_release(C, "vm1", SHDEV, &err), 0);
	maps = shown("vm1");
	ck_assert_int_eq(json_object_array_length(maps), 1);
	ck_assert_msg(!it_get(json_object_array_get_idx(maps, 0), "attached"), "%s",
	              json_object_to_json_string(maps));
	ck_assert_int_eq(attached_count(), 0);
	assert_daemon_fds(base);

	/* Unregistering detaches and frees everything the VM holds. */
	ck_assert_int_eq(pasid_vm_register(C, "vm2", NULL, PASID_MODE_DEFAULT, 0, NULL, &err), 0);
	base = daemon_fds();
	ck_assert_int_eq(pasid_device_assign(C, "vm2", OTHER, false, NULL, &err), 0);
	ck_assert_int_eq(pasid_alloc(C, "vm2", PASID_TYPE_LOCAL, OTHER, PASID_ANY, &m, &err), 0);
	ck_assert_int_eq(pasid_attach(C, "vm2", m.gpasid, OTHER, 7, 3, nullfd[0], nullfd[1], &err),
	                 0);
	ck_assert_int_eq(attached_count(), 1);
	assert_daemon_fds(base + 2);
	ck_assert_int_eq(pasid_vm_unregister(C, "vm2", &freed, &err), 0);
	ck_assert_uint_eq(freed, 1);
	ck_assert_int_eq(attached_count(), 0);
	/* And the VM's own (the pin on its owner) goes with it. */
	assert_daemon_fds(base - 1);
}
END_TEST

/* The VMM dies holding an attachment: the daemon detaches, frees the mapping with the VM and
 * closes its duplicates. */
START_TEST(owner_exit_detaches)
{
	int base = daemon_fds(), ready[2], cdev[2], status;
	pid_t child;
	bool present = true;
	char ch;

	ck_assert_int_eq(pipe(ready), 0);
	ck_assert_int_eq(pipe(cdev), 0);
	child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0) {
		struct pasid_client *c;
		struct pasid_mapping m;
		struct pasid_error err;
		int ok;

		close(ready[0]);
		close(cdev[0]);
		ok = pasid_connect(D.sock, &c, &err) == 0 &&
		     pasid_vm_register(c, "dying", NULL, PASID_MODE_DEFAULT, 0, NULL, &err) == 0 &&
		     pasid_device_assign(c, "dying", DEV, false, NULL, &err) == 0 &&
		     pasid_alloc(c, "dying", PASID_TYPE_LOCAL, DEV, PASID_ANY, &m, &err) == 0 &&
		     pasid_attach(c, "dying", m.gpasid, DEV, 7, 3, nullfd[0], cdev[1], &err) == 0;
		if (!ok)
			fprintf(stderr, "owner: %s\n", err.message);
		close(cdev[1]);
		if (write(ready[1], ok ? "y" : "n", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(ready[1]);
	close(cdev[1]);
	ck_assert_int_eq(read(ready[0], &ch, 1), 1);
	close(ready[0]);
	ck_assert_int_eq(ch, 'y');
	ck_assert_int_eq(attached_count(), 1);

	kill(child, SIGKILL);
	waitpid(child, &status, 0);
	for (int i = 0; i < 400 && present; i++) {
		struct json_object *resp = it_call(fd, "vm.show", "{\"vm\":\"dying\"}");

		present = it_errcode(resp) == 0;
		json_object_put(resp);
		if (present)
			usleep(25000);
	}
	ck_assert_msg(!present, "the VM outlived its owner process");
	ck_assert_int_eq(attached_count(), 0);
	ck_assert_int_eq(it_int(IT_OK(it_call(fd, "daemon.status", NULL)), "used.local"), 0);
	/* The owner's copy died with it: EOF means the daemon's is closed too. */
	ck_assert(pipe_closed(cdev[0]));
	close(cdev[0]);
	assert_daemon_fds(base);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("attach");
	TCase *tc = tcase_create("attach");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, attach_shows_detach_removes);
	tcase_add_test(tc, refusals_change_nothing);
	tcase_add_test(tc, pipelined_attach_detach_free);
	tcase_add_test(tc, free_release_unregister_detach);
	tcase_add_test(tc, owner_exit_detaches);
	suite_add_tcase(s, tc);
	return ck_run(s);
}
