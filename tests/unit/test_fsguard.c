/* fsguard_open_dir(): which directories a root daemon may trust, walked from / without
 * following an unchecked link. The cases with another owner need root (to chown): tagged
 * root (ctest unit/test_fsguard/root). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <check.h>

#include "ck_main.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsguard.h"

static char base[64];
static char why[512];

static void
setup(void)
{
	strcpy(base, "/tmp/test_fsguard.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(base));
	why[0] = '\0';
}

static void
teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
	ck_assert_int_eq(system(cmd), 0);
}

static const char *
at(const char *rel)
{
	static char bufs[4][256];
	static int k;
	char *b = bufs[k++ % 4];

	snprintf(b, 256, "%s/%s", base, rel);
	return b;
}

static void
make_dir(const char *rel, mode_t mode)
{
	ck_assert_int_eq(mkdir(at(rel), 0700), 0);
	ck_assert_int_eq(chmod(at(rel), mode), 0);
}

/* 0 and an open directory, or the error; why is kept. */
static int
open_dir(const char *path, unsigned flags)
{
	int fd = -1,
	    r = fsguard_open_dir(path, "test directory", flags, 0750, &fd, why, sizeof(why));

	if (r == 0) {
		struct stat st;

		ck_assert_int_ge(fd, 0);
		ck_assert_int_eq(fstat(fd, &st), 0);
		ck_assert(S_ISDIR(st.st_mode));
		close(fd);
	} else {
		ck_assert_int_eq(fd, -1);
		ck_assert_msg(why[0], "an error without a reason");
	}
	return r;
}

START_TEST(private_directories_are_fine)
{
	make_dir("a", 0755);
	make_dir("a/b", 0700);
	ck_assert_int_eq(open_dir(at("a/b"), 0), 0);
	ck_assert_int_eq(open_dir(at("a//b/"), 0), 0);
	ck_assert_int_eq(open_dir(at("a/./b"), 0), 0);
	ck_assert_int_eq(open_dir("/", 0), 0);
}
END_TEST

START_TEST(writable_directory_refused)
{
	make_dir("w", 0777);
	ck_assert_int_eq(open_dir(at("w"), 0), -EPERM);
	ck_assert_msg(strstr(why, "refusing the test directory") && strstr(why, "mode 0777"), "%s",
	              why);
	ck_assert_int_eq(chmod(at("w"), 0770), 0);
	ck_assert_int_eq(open_dir(at("w"), 0), -EPERM);
	ck_assert_int_eq(chmod(at("w"), 01777), 0); /* sticky or not, not as the directory */
	ck_assert_int_eq(open_dir(at("w"), 0), -EPERM);
}
END_TEST

/* Others may write to an ancestor: only with the sticky bit, and an entry of ours. */
START_TEST(writable_ancestor)
{
	make_dir("open", 0777);
	make_dir("open/ours", 0755);
	ck_assert_int_eq(open_dir(at("open/ours"), 0), -EPERM);
	ck_assert_msg(strstr(why, "has no sticky bit"), "%s", why);
	ck_assert_int_eq(chmod(at("open"), 01777), 0);
	ck_assert_int_eq(open_dir(at("open/ours"), 0), 0);
}
END_TEST

START_TEST(others_entry_on_the_way)
{
	make_dir("open", 01777);
	make_dir("open/ours", 0755);
	ck_assert_int_eq(open_dir(at("open/ours"), 0), 0);
	/* Someone else's entry in a sticky directory: theirs to replace. */
	ck_assert_int_eq(chown(at("open/ours"), 65534, 65534), 0);
	ck_assert_int_eq(open_dir(at("open/ours"), 0), -EPERM);
	ck_assert_msg(strstr(why, "is owned by uid 65534"), "%s", why);
	/* And someone else's directory on the way, even private. */
	ck_assert_int_eq(chmod(at("open"), 0755), 0);
	ck_assert_int_eq(chmod(at("open/ours"), 0755), 0);
	make_dir("open/ours/x", 0755);
	ck_assert_int_eq(open_dir(at("open/ours/x"), 0), -EPERM);
	ck_assert_msg(strstr(why, "who could replace what it holds"), "%s", why);
}
END_TEST

START_TEST(links_are_checked_then_followed)
{
	make_dir("real", 0755);
	make_dir("real/state", 0700);
	make_dir("sub", 0755);
	ck_assert_int_eq(symlink(at("real"), at("abs")), 0);
	ck_assert_int_eq(symlink("../real", at("sub/rel")), 0);
	ck_assert_int_eq(open_dir(at("abs/state"), 0), 0);
	ck_assert_int_eq(open_dir(at("sub/rel/state"), 0), 0);
	ck_assert_int_eq(open_dir(at("sub/../real/state"), 0), 0);
	/* A link to a directory anyone can write to is no way around the rule. */
	make_dir("open", 0777);
	ck_assert_int_eq(symlink(at("open"), at("to-open")), 0);
	ck_assert_int_eq(open_dir(at("to-open"), 0), -EPERM);
	/* A loop ends. */
	ck_assert_int_eq(symlink("loop", at("loop")), 0);
	ck_assert_int_eq(open_dir(at("loop/x"), 0), -ELOOP);
}
END_TEST

START_TEST(others_link_not_followed)
{
	make_dir("real", 0755);
	make_dir("real/state", 0700);
	make_dir("open", 01777);
	ck_assert_int_eq(symlink(at("real"), at("open/ours")), 0);
	ck_assert_int_eq(open_dir(at("open/ours/state"), 0), 0);
	/* A link that someone else owns, in a sticky directory: not followed. */
	ck_assert_int_eq(symlink(at("real"), at("open/theirs")), 0);
	ck_assert_int_eq(lchown(at("open/theirs"), 65534, 65534), 0);
	ck_assert_int_eq(open_dir(at("open/theirs/state"), 0), -EPERM);
	ck_assert_msg(strstr(why, "open/theirs is owned by uid 65534"), "%s", why);
}
END_TEST

START_TEST(missing_and_created)
{
	struct stat st;

	ck_assert_int_eq(open_dir(at("x/y"), 0), -ENOENT);
	ck_assert_msg(strstr(why, "does not exist"), "%s", why);
	ck_assert_int_eq(open_dir(at("x/y"), FSGUARD_MKDIR_LAST), -ENOENT);
	ck_assert_int_eq(open_dir(at("x/y"), FSGUARD_MKDIR_ALL), 0);
	ck_assert_int_eq(stat(at("x/y"), &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0750 & ~(mode_t)022);
	ck_assert_int_eq(open_dir(at("x/z"), FSGUARD_MKDIR_LAST), 0);
	/* Nothing is created in a directory that is refused. */
	make_dir("w", 0777);
	ck_assert_int_eq(open_dir(at("w/new"), FSGUARD_MKDIR_ALL), -EPERM);
	ck_assert_int_ne(stat(at("w/new"), &st), 0);
	/* A file on the way. */
	ck_assert_int_eq(close(open(at("file"), O_CREAT | O_WRONLY, 0600)), 0);
	ck_assert_int_eq(open_dir(at("file/d"), FSGUARD_MKDIR_ALL), -ENOTDIR);
	ck_assert_int_eq(open_dir("relative/path", 0), -EINVAL);
}
END_TEST

int
main(void)
{
	static const struct ck_need needs[] = {{"root", ck_lacking_root}, {NULL, NULL}};
	Suite *s = suite_create("fsguard");
	TCase *tc = tcase_create("walk");

	umask(022);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, private_directories_are_fine);
	tcase_add_test(tc, writable_directory_refused);
	tcase_add_test(tc, writable_ancestor);
	tcase_add_test(tc, links_are_checked_then_followed);
	tcase_add_test(tc, missing_and_created);
	suite_add_tcase(s, tc);
	tc = ck_case(s, "other-owners", setup, teardown, 0);
	tcase_set_tags(tc, "root");
	tcase_add_test(tc, others_entry_on_the_way);
	tcase_add_test(tc, others_link_not_followed);
	return ck_main(s, needs);
}
