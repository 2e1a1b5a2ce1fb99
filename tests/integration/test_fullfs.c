/* Issue 8, item 1: with the state's file system full, changes are refused (and nothing
 * else is lost) instead of acknowledged and then forgotten; the daemon stays up. Needs root
 * to mount a small tmpfs: reports itself skipped (77) otherwise. */
#include <check.h>

#include "ck_main.h"
#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

static struct it_daemon d;
static char mnt[160];

static void
teardown(void)
{
	it_release_kept();
	it_stop(&d);
	if (mnt[0])
		umount2(mnt, MNT_DETACH);
	it_cleanup(&d);
}

/* ---- a full state file system ---- */

/* Fills the file system of path with a file until it is full. */
static void
fill(const char *dir)
{
	char path[256], block[65536];
	int fd;

	memset(block, 0x5a, sizeof(block));
	snprintf(path, sizeof(path), "%s/filler", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	for (size_t sz = sizeof(block); sz > 0; sz /= 2)
		while (write(fd, block, sz) == (ssize_t)sz)
			;
	close(fd);
}

START_TEST(full_state_fs_refuses_instead_of_acknowledging)
{
	char statedir[200], params[160], *line;
	long table[4096];
	struct it_reader rd;
	unsigned acked = 0, refused = 0;
	long ack_g[4096], ack_h[4096];
	int fd, status;

	ck_assert_int_eq(it_prepare(&d), 0);
	snprintf(mnt, sizeof(mnt), "%s/small", d.dir);
	ck_assert_int_eq(mkdir(mnt, 0700), 0);
	ck_assert_msg(mount("tmpfs", mnt, "tmpfs", 0, "size=2m,mode=0700") == 0, "mount: %s",
	              strerror(errno));
	snprintf(statedir, sizeof(statedir), "%s/state", mnt);
	ck_assert_int_eq(it_restart(&d, "--state-dir", statedir, NULL), 0);
	fd = it_connect(&d);
	IT_OK(it_call(fd, "vm.register", "{\"vm\":\"full\"}"));
	fill(mnt);
	/* The pattern: unread answers first, then changes, pipelined. */
	ck_assert_int_eq(it_sendline(fd,
	                             "[{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"rpc.discover\"},"
	                             "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"rpc.discover\"}]"),
	                 0);
	/* In chunks, each read back whole, so that neither side waits on the other's socket. */
	it_reader_init(&rd, fd);
	for (int first = 1; first < 4096; first += 256) {
		int last = first + 255 < 4095 ? first + 255 : 4095;

		for (int g = first; g <= last; g++) {
			snprintf(params, sizeof(params),
			         "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"pasid.alloc\","
			         "\"params\":{\"vm\":\"full\",\"type\":\"shared\",\"gpasid\":%d}}",
			         g, g);
			ck_assert_int_eq(it_sendline(fd, params), 0);
		}
		while ((line = it_reader_line(&rd, 20000))) {
			struct json_object *o = json_tokener_parse(line);
			int64_t id = json_object_is_type(o, json_type_object) ? it_int(o, "id") : 0;

			free(line);
			if (id > 0 && it_result(o)) {
				ack_g[acked] = it_int(o, "result.gpasid");
				ack_h[acked++] = it_int(o, "result.hpasid");
			} else if (id > 0) {
				ck_assert_int_eq(it_errcode(o), -32603);
				ck_assert_ptr_nonnull(
				    strstr(it_str(o, "error.message"), "no room"));
				refused++;
			}
			json_object_put(o);
			if (id == last)
				break;
		}
		ck_assert_ptr_nonnull(line);
	}
	it_reader_free(&rd);
	fprintf(stderr, "fullfs: %u allocation(s) acknowledged, %u refused\n", acked, refused);
	ck_assert_msg(refused > 0, "a full file system refused nothing (%u acknowledged)", acked);
	/* The daemon stays up and answers what needs no room. */
	IT_OK(it_call(fd, "daemon.status", NULL));
	close(fd);
	ck_assert_int_eq(waitpid(d.pid, &status, WNOHANG), 0);
	it_kill(&d);
	{
		char filler[200];

		snprintf(filler, sizeof(filler), "%s/filler", mnt);
		unlink(filler);
	}
	ck_assert_int_eq(it_restart(&d, "--state-dir", statedir, NULL), 0);
	fd = it_connect(&d);
	ck_assert_int_eq(it_vm_table(fd, "full", table, 4096), 0);
	for (unsigned i = 0; i < acked; i++)
		ck_assert_msg(table[ack_g[i]] == ack_h[i],
		              "acknowledged %ld->%ld is %s after the restart", ack_g[i], ack_h[i],
		              table[ack_g[i]] < 0 ? "lost" : "changed");
	close(fd);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("fullfs");
	TCase *tc = tcase_create("full");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, full_state_fs_refuses_instead_of_acknowledging);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	if (geteuid() != 0)
		ck_skip("needs root to mount a tmpfs");
	/* Mounts made here vanish with this process and its daemons, even when a failed test
	 * never reaches its teardown. */
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		ck_skip("no private mount namespace (%s)", strerror(errno));
	signal(SIGPIPE, SIG_IGN);
	return ck_run(suite());
}
