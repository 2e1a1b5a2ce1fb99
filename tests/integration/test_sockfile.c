/* Issue 8, items 8 and 9: the files pasidd creates. Only a stale socket is ever replaced at
 * the socket path; the socket's mode and group are set without following a link; and
 * pasidd refuses (exit 2) a socket or state directory that anyone but root can write. The
 * case that acts as another uid is tagged root (ctest integration/test_sockfile/root). */
#include <check.h>

#include "ck_main.h"
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "itutil.h"

static struct it_daemon d;
static pid_t swapper;

static void
teardown(void)
{
	itu_end_child(swapper);
	swapper = 0;
	it_cleanup(&d);
	it_release_kept();
}

/* pasidd --foreground (or detached) with this socket, state directory and configuration,
 * to completion; its stderr in *err. A daemon that wrongly starts is killed after
 * timeout_s. */
static int
start(bool foreground, const char *sock, const char *state, const char *conf, unsigned timeout_s,
      char **err)
{
	char *args[] = {"--foreground",
	                "--backend",
	                "sim",
	                "--socket",
	                (char *)sock,
	                "--state-dir",
	                (char *)state,
	                "--config",
	                (char *)(conf ? conf : "/dev/null"),
	                NULL};
	int st = itu_run(NULL, err, timeout_s, foreground ? args : args + 1);

	it_keep_str(*err);
	return st;
}

/* How pasidd names the owner of the directories the test makes: us. */
static const char *
me(void)
{
	static char buf[96];
	const struct passwd *pw = getpwuid(geteuid());

	if (pw)
		snprintf(buf, sizeof(buf), "uid %u (%s)", (unsigned)geteuid(), pw->pw_name);
	else
		snprintf(buf, sizeof(buf), "uid %u", (unsigned)geteuid());
	return buf;
}

/* A group other than root's for the socket, or NULL. */
static const struct group *
other_group(void)
{
	const struct group *g = getgrgid(65534);

	return g ? g : getgrnam("nogroup");
}

/* Item 8: anything but a socket at the socket path is refused and left as it is. */
START_TEST(not_a_socket_is_left_alone)
{
	static const char *const kinds[] = {"a regular file", "a directory", "a symbolic link",
	                                    "a FIFO"};
	char target[200], buf[64], needle[300], *err;
	struct stat st;

	ck_assert_int_eq(it_prepare(&d), 0);
	ck_assert_int_eq(it_write_file(&d, "target", "keep me\n", target, sizeof(target)), 0);
	for (int k = 0; k < 4; k++) {
		for (int fg = 0; fg < 2; fg++) {
			char path[200];
			int rc;

			switch (k) {
			case 0:
				ck_assert_int_eq(
				    it_write_file(&d, "pasidd.sock", "data\n", path, sizeof(path)),
				    0);
				break;
			case 1:
				ck_assert_int_eq(mkdir(d.sock, 0755), 0);
				break;
			case 2:
				ck_assert_int_eq(symlink(target, d.sock), 0);
				break;
			default:
				ck_assert_int_eq(mkfifo(d.sock, 0600), 0);
			}
			rc = start(fg, d.sock, d.state, NULL, 30, &err);
			snprintf(needle, sizeof(needle), "%s exists and is %s, not a socket",
			         d.sock, kinds[k]);
			ck_assert_msg(rc == 2 && strstr(err, needle),
			              "%s at the socket path: exit %d, message '%s'", kinds[k], rc,
			              err);
			ck_assert_int_eq(lstat(d.sock, &st), 0);
			switch (k) {
			case 0: {
				FILE *f = fopen(d.sock, "r");

				ck_assert_ptr_nonnull(fgets(buf, sizeof(buf), f));
				fclose(f);
				ck_assert_str_eq(buf, "data\n");
				ck_assert(S_ISREG(st.st_mode));
				unlink(d.sock);
				break;
			}
			case 1:
				ck_assert(S_ISDIR(st.st_mode));
				rmdir(d.sock);
				break;
			case 2:
				ck_assert(S_ISLNK(st.st_mode));
				unlink(d.sock);
				break;
			default:
				ck_assert(S_ISFIFO(st.st_mode));
				unlink(d.sock);
			}
		}
	}
	ck_assert_int_eq(stat(target, &st), 0);
	ck_assert_int_eq(st.st_size, 8);
}
END_TEST

/* A socket nobody answers on is what a crash leaves: it is replaced. */
START_TEST(stale_socket_is_replaced)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	ck_assert_int_eq(it_prepare(&d), 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", d.sock);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	ck_assert_int_eq(it_restart(&d, NULL), 0);
	fd = it_connect(&d);
	ck_assert_int_ge(fd, 0);
	close(fd);
}
END_TEST

/* Item 9: a correct setup works, and the socket has the configured mode and group. */
START_TEST(socket_mode_and_group)
{
	const struct group *g = other_group();
	char conf[256], text[200];
	struct stat st;

	ck_assert_int_eq(it_prepare(&d), 0);
	snprintf(text, sizeof(text), "[Daemon]\nSocketMode=0640\n%s%s\n", g ? "SocketGroup=" : "",
	         g ? g->gr_name : "");
	ck_assert_int_eq(it_write_file(&d, "p.conf", text, conf, sizeof(conf)), 0);
	ck_assert_int_eq(it_restart(&d, "--config", conf, NULL), 0);
	ck_assert_int_eq(lstat(d.sock, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	ck_assert_uint_eq(st.st_mode & 07777, 0640);
	if (g)
		ck_assert_uint_eq(st.st_gid, g->gr_gid);
	ck_assert_int_eq(it_stop(&d), 0);
	/* The defaults. */
	ck_assert_int_eq(it_restart(&d, NULL), 0);
	ck_assert_int_eq(lstat(d.sock, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0660);
}
END_TEST

/* Item 9: a state directory that others may write to is refused, and nothing is put in it. */
START_TEST(writable_state_directory_refused)
{
	static const mode_t modes[] = {0777, 0770, 0730, 01777};
	char *err, needle[300];

	ck_assert_int_eq(it_prepare(&d), 0);
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		struct stat st;
		int rc;

		ck_assert_int_eq(mkdir(d.state, 0700), 0);
		ck_assert_int_eq(chmod(d.state, modes[i]), 0);
		rc = start(true, d.sock, d.state, NULL, 30, &err);
		snprintf(needle, sizeof(needle),
		         "refusing the state directory %s: it is owned by %s with mode %04o",
		         d.state, me(), (unsigned)modes[i]);
		ck_assert_msg(rc == 2 && strstr(err, needle), "state mode %04o: exit %d, '%s'",
		              (unsigned)modes[i], rc, err);
		ck_assert_int_eq(rmdir(d.state), 0); /* still empty */
		ck_assert_int_ne(lstat(d.sock, &st), 0);
	}
	/* Private enough: 0755 and 0700. */
	ck_assert_int_eq(mkdir(d.state, 0755), 0);
	ck_assert_int_eq(it_restart(&d, NULL), 0);
}
END_TEST

/* Item 9: the socket's directory and its ancestors. */
START_TEST(writable_socket_directory_refused)
{
	char dir[200], sock[260], *err, needle[400];
	int rc;

	ck_assert_int_eq(it_prepare(&d), 0);
	/* The directory itself. */
	snprintf(dir, sizeof(dir), "%s/open", d.dir);
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	ck_assert_int_eq(chmod(dir, 0777), 0);
	snprintf(sock, sizeof(sock), "%s/p.sock", dir);
	rc = start(true, sock, d.state, NULL, 30, &err);
	snprintf(needle, sizeof(needle),
	         "refusing the socket directory %s: it is owned by %s with mode 0777", dir, me());
	ck_assert_msg(rc == 2 && strstr(err, needle), "exit %d, '%s'", rc, err);
	/* An ancestor others may write to, without the sticky bit. */
	snprintf(sock, sizeof(sock), "%s/sub/p.sock", dir);
	rc = start(true, sock, d.state, NULL, 30, &err);
	snprintf(needle, sizeof(needle),
	         "%s (owned by %s, mode 0777) is writable by others and has no sticky bit", dir,
	         me());
	ck_assert_msg(rc == 2 && strstr(err, needle), "exit %d, '%s'", rc, err);
	/* With the sticky bit, as /tmp has it, a subdirectory of ours is fine. */
	ck_assert_int_eq(chmod(dir, 01777), 0);
	ck_assert_int_lt(snprintf(d.sock, sizeof(d.sock), "%.80s/sub/p.sock", dir),
	                 (int)sizeof(d.sock));
	ck_assert_int_eq(it_restart(&d, NULL), 0);
}
END_TEST

/* The swapper: as uid 65534, whenever the socket appears in the world-writable directory,
 * moves it away and puts a link to `target` in its place. */
static pid_t
start_swapper(const char *dir, const char *target)
{
	int ready[2];
	pid_t pid;
	char c;

	ck_assert_int_eq(pipe(ready), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int in = inotify_init1(IN_CLOEXEC);
		unsigned n = 0;

		close(ready[0]);
		if (in < 0 || inotify_add_watch(in, dir, IN_CREATE) < 0 || setgroups(0, NULL) < 0 ||
		    setgid(65534) < 0 || setuid(65534) < 0)
			_exit(3);
		if (write(ready[1], "r", 1) != 1)
			_exit(3);
		for (;;) {
			char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
			ssize_t len = read(in, buf, sizeof(buf));

			for (char *p = buf; len > 0 && p < buf + len;) {
				struct inotify_event *ev = (struct inotify_event *)p;

				if (ev->len && !strcmp(ev->name, "pasidd.sock")) {
					char from[300], to[300];

					snprintf(from, sizeof(from), "%s/pasidd.sock", dir);
					snprintf(to, sizeof(to), "%s/moved.%u", dir, n++);
					if (rename(from, to) == 0)
						symlink(target, from);
				}
				p += sizeof(*ev) + ev->len;
			}
		}
	}
	close(ready[1]);
	ck_assert_int_eq(read(ready[0], &c, 1), 1);
	close(ready[0]);
	return pid;
}

/* Item 9, as an unprivileged user would try it: the socket's directory is writable by uid
 * 65534, who swaps a link to a root-owned 0600 file in for the socket as soon as it appears.
 * Setting the mode or group by path after bind() would change that file; pasidd must refuse
 * such a directory instead, and the file stays as it is. */
START_TEST(symlink_swap_in_writable_directory)
{
	const struct group *g = other_group();
	char dir[200], secret[200], conf[200], text[200], sock[260], *err = NULL;
	struct stat st;
	int rc = -1, round;

	ck_assert_int_eq(it_prepare(&d), 0);
	ck_assert_int_eq(chmod(d.dir, 0755), 0);
	snprintf(dir, sizeof(dir), "%s/open", d.dir);
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	ck_assert_int_eq(chmod(dir, 0777), 0);
	ck_assert_int_eq(it_write_file(&d, "secret", "root only\n", secret, sizeof(secret)), 0);
	ck_assert_int_eq(chmod(secret, 0600), 0);
	snprintf(text, sizeof(text), "[Daemon]\nSocketMode=0660\n%s%s\n", g ? "SocketGroup=" : "",
	         g ? g->gr_name : "");
	ck_assert_int_eq(it_write_file(&d, "p.conf", text, conf, sizeof(conf)), 0);
	snprintf(sock, sizeof(sock), "%s/pasidd.sock", dir);
	swapper = start_swapper(dir, secret);
	/* The race is the swapper's to win or lose; a daemon that starts at all is wrong, and
	 * it is given a few rounds to show what it does to the file. */
	for (round = 0; round < 10; round++) {
		rc = start(true, sock, d.state, conf, 3, &err);
		ck_assert_int_eq(stat(secret, &st), 0);
		if (rc == 2 || (st.st_mode & 07777) != 0600 || st.st_gid != 0)
			break;
	}
	ck_assert_msg((st.st_mode & 07777) == 0600 && st.st_gid == 0,
	              "in round %d, pasidd made the root-owned 0600 file behind the swapped-in "
	              "link mode %04o, group %u",
	              round, (unsigned)(st.st_mode & 07777), (unsigned)st.st_gid);
	ck_assert_msg(rc == 2 && strstr(err, "refusing the socket directory") &&
	                  strstr(err, "mode 0777"),
	              "pasidd started with its socket in a directory anyone can write: exit %d, "
	              "'%s'",
	              rc, err);
}
END_TEST

int
main(void)
{
	static const struct ck_need needs[] = {{"root", ck_lacking_root}, {NULL, NULL}};
	Suite *s = suite_create("sockfile");
	TCase *tc = tcase_create("sockfile");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, not_a_socket_is_left_alone);
	tcase_add_test(tc, stale_socket_is_replaced);
	tcase_add_test(tc, socket_mode_and_group);
	tcase_add_test(tc, writable_state_directory_refused);
	tcase_add_test(tc, writable_socket_directory_refused);
	suite_add_tcase(s, tc);
	tc = ck_case(s, "as-another-uid", NULL, teardown, 300);
	tcase_set_tags(tc, "root");
	tcase_add_test(tc, symlink_swap_in_writable_directory);
	return ck_main(s, needs);
}
