/* Cgroup quotas: path handling, the cgroup2 mount, xattr limits, hierarchical charging, the
 * journal records of runtime limits, and thousands of random operations checked against a
 * plain model (a cgroup's current is what the VMs in its subtree hold; nothing on a charge's
 * path ever ends above its max). The xattr case needs a /tmp that takes user xattrs: tagged
 * user-xattr (ctest unit/test_quota/user-xattr). */
#include <check.h>

#include "ck_main.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "backends.h"
#include "cgroup.h"
#include "namespace.h"
#include "quota.h"
#include "record.h"

static struct quota *q;

static void
setup(void)
{
	ck_assert_int_eq(quota_new(&q), 0);
}

static void
teardown(void)
{
	quota_free(q);
	q = NULL;
}

static void
assert_consistent(void)
{
	char why[256];

	if (quota_check(q, why, sizeof(why)) < 0)
		ck_abort_msg("quota tree broken: %s", why);
}

static uint64_t
cur(const char *cgroup)
{
	struct quota_entry e;

	quota_get(q, cgroup, &e);
	return e.current;
}

static uint64_t
max_of(const char *cgroup)
{
	struct quota_entry e;

	quota_get(q, cgroup, &e);
	return e.max;
}

static uint64_t
denied(const char *cgroup)
{
	struct quota_entry e;

	quota_get(q, cgroup, &e);
	return e.denied;
}

/* ---- cgroup paths ---- */

static void
norm_ok(const char *in, const char *want)
{
	char out[CGROUP_PATH_MAX];

	ck_assert_msg(cgroup_normalize(in, out, sizeof(out)) == 0, "refused '%s'", in);
	ck_assert_str_eq(out, want);
}

static void
norm_bad(const char *in)
{
	char out[CGROUP_PATH_MAX];

	ck_assert_msg(cgroup_normalize(in, out, sizeof(out)) == -EINVAL, "accepted '%s'", in);
}

START_TEST(normalize)
{
	char big[CGROUP_PATH_MAX + 8], out[16], res[CGROUP_PATH_MAX];

	norm_ok("/", "/");
	norm_ok("//", "/");
	norm_ok("/machine.slice", "/machine.slice");
	norm_ok("/machine.slice/", "/machine.slice");
	norm_ok("//a///b//", "/a/b");
	norm_ok("/a b/c.d/..x/.y", "/a b/c.d/..x/.y");
	norm_bad("");
	norm_bad("a/b");
	norm_bad("/a/../b");
	norm_bad("/a/./b");
	norm_bad("/..");
	norm_bad("/a/.");
	norm_bad("/a\nb");
	norm_bad("/a\tb");
	memset(big, 'x', sizeof(big));
	big[0] = '/';
	big[sizeof(big) - 1] = '\0';
	norm_bad(big);
	big[CGROUP_PATH_MAX - 1] = '\0'; /* 4095 characters: the longest that fits */
	ck_assert_int_eq(cgroup_normalize(big, res, sizeof(res)), 0);
	ck_assert_str_eq(res, big);
	ck_assert_int_eq(cgroup_normalize("/abcdefghijklmno", out, sizeof(out)), -EINVAL);
	ck_assert_int_eq(cgroup_normalize("/abcdefghijklmn", out, sizeof(out)), 0);
}
END_TEST

START_TEST(parent_path)
{
	char p[64] = "/a/b/c";

	ck_assert(cgroup_parent(p));
	ck_assert_str_eq(p, "/a/b");
	ck_assert(cgroup_parent(p));
	ck_assert_str_eq(p, "/a");
	ck_assert(cgroup_parent(p));
	ck_assert_str_eq(p, "/");
	ck_assert(!cgroup_parent(p));
	ck_assert_str_eq(p, "/");
}
END_TEST

/* The layout of a hybrid host (cgroup v1 controllers, v2 at .../unified), as on the machine
 * these tests were written on. */
static const char hybrid[] =
    "24 30 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw\n"
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
    "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
    "41 31 0:38 / /sys/fs/cgroup/unified rw,nosuid shared:9 master:2 - cgroup2 cgroup2 rw\n";

START_TEST(mountinfo)
{
	char mnt[256], root[256];

	ck_assert_int_eq(cgroup_parse_mountinfo(hybrid, mnt, sizeof(mnt), root, sizeof(root)), 0);
	ck_assert_str_eq(mnt, "/sys/fs/cgroup/unified");
	ck_assert_str_eq(root, "/");
	ck_assert_int_eq(cgroup_parse_mountinfo("29 23 0:26 / /sys/fs/cgroup rw,nosuid shared:4 - "
	                                        "cgroup2 cgroup2 rw,nsdelegate\n",
	                                        mnt, sizeof(mnt), root, sizeof(root)),
	                 0);
	ck_assert_str_eq(mnt, "/sys/fs/cgroup");
	/* A bind mount of a subtree, at a path with a blank (escaped by the kernel). */
	ck_assert_int_eq(cgroup_parse_mountinfo("50 23 0:26 /lxc/c1 /mnt/my\\040cg rw - cgroup2 "
	                                        "none rw",
	                                        mnt, sizeof(mnt), root, sizeof(root)),
	                 0);
	ck_assert_str_eq(mnt, "/mnt/my cg");
	ck_assert_str_eq(root, "/lxc/c1");
	ck_assert_int_eq(cgroup_parse_mountinfo("32 31 0:29 / /sys/fs/cgroup/cpu rw - cgroup "
	                                        "cgroup rw,cpu\n",
	                                        mnt, sizeof(mnt), root, sizeof(root)),
	                 -ENOENT);
	ck_assert_int_eq(cgroup_parse_mountinfo("", mnt, sizeof(mnt), root, sizeof(root)), -ENOENT);
	/* A mount point named like the file system type is not the type. */
	ck_assert_int_eq(cgroup_parse_mountinfo("1 2 0:1 / /cgroup2 rw - ext4 /dev/x rw\n", mnt,
	                                        sizeof(mnt), root, sizeof(root)),
	                 -ENOENT);
}
END_TEST

START_TEST(parse_max)
{
	uint64_t m = 0;

	ck_assert_int_eq(cgroup_parse_max("5", 1, &m), 1);
	ck_assert_uint_eq(m, 5);
	ck_assert_int_eq(cgroup_parse_max("0\n", 2, &m), 1);
	ck_assert_uint_eq(m, 0);
	ck_assert_int_eq(cgroup_parse_max(" 42 \n", 5, &m), 1);
	ck_assert_uint_eq(m, 42);
	ck_assert_int_eq(cgroup_parse_max("max\n", 4, &m), 0);
	ck_assert_int_eq(cgroup_parse_max("9223372036854775807", 19, &m), 1);
	ck_assert_uint_eq(m, INT64_MAX);
	ck_assert_int_eq(cgroup_parse_max("9223372036854775808", 19, &m), -EINVAL);
	ck_assert_int_eq(cgroup_parse_max("99999999999999999999", 20, &m), -EINVAL);
	ck_assert_int_eq(cgroup_parse_max("", 0, &m), -EINVAL);
	ck_assert_int_eq(cgroup_parse_max("-1", 2, &m), -EINVAL);
	ck_assert_int_eq(cgroup_parse_max("1x", 2, &m), -EINVAL);
	ck_assert_int_eq(cgroup_parse_max("MAX", 3, &m), -EINVAL);
	ck_assert_int_eq(cgroup_parse_max("5\0", 2, &m), -EINVAL);
}
END_TEST

/* ---- charging ---- */

START_TEST(hierarchical_charges)
{
	ck_assert_int_eq(quota_charge(q, "/a/b", "vm1", 0, 3, false), 0);
	ck_assert_int_eq(quota_charge(q, "/a", "vm2", 0, 2, false), 0);
	ck_assert_int_eq(quota_charge(q, "", "vm3", 0, 1, false), 0); /* unknown: the root */
	ck_assert_uint_eq(cur("/a/b"), 3);
	ck_assert_uint_eq(cur("/a"), 5);
	ck_assert_uint_eq(cur("/"), 6);
	assert_consistent();
	quota_uncharge(q, "/a/b", 3);
	ck_assert_uint_eq(cur("/a"), 2);
	ck_assert_uint_eq(cur("/"), 3);
	/* Nothing is kept for a cgroup that holds nothing and has no limit. */
	{
		struct quota_entry e;

		ck_assert_int_eq(quota_get(q, "/a/b", &e), -ENOENT);
		ck_assert_uint_eq(e.current, 0);
		ck_assert_uint_eq(e.max, QUOTA_NO_LIMIT);
	}
	quota_uncharge(q, "/a", 2);
	quota_uncharge(q, "", 1);
	assert_consistent();
	{
		size_t it = 0;
		struct quota_entry e;

		ck_assert(!quota_next(q, &it, &e));
	}
}
END_TEST

START_TEST(limits_each_level_and_smallest_wins)
{
	const struct quota_denial *d = quota_last_denial(q);

	ck_assert_int_eq(quota_set_limit(q, "/a", QUOTA_SRC_RUNTIME, 10), 0);
	ck_assert_int_eq(quota_set_limit(q, "/a", QUOTA_SRC_CONFIG, 6), 0);
	ck_assert_int_eq(quota_set_limit(q, "/a", QUOTA_SRC_XATTR, 8), 0);
	ck_assert_uint_eq(max_of("/a"), 6);
	ck_assert_int_eq(quota_set_limit(q, "/a/b", QUOTA_SRC_RUNTIME, 4), 0);
	/* /a/b fills up first... */
	ck_assert_int_eq(quota_charge(q, "/a/b", "vm1", 0, 4, false), 0);
	ck_assert_int_eq(quota_charge(q, "/a/b", "vm1", 4, 1, false), -EDQUOT);
	ck_assert_str_eq(d->cgroup, "/a/b");
	ck_assert_str_eq(d->vm, "");
	ck_assert_uint_eq(d->max, 4);
	ck_assert_uint_eq(d->current, 4);
	ck_assert_uint_eq(denied("/a/b"), 1);
	ck_assert_uint_eq(denied("/a"), 0);
	/* ...then /a, which a deeper cgroup fills as well. */
	ck_assert_int_eq(quota_charge(q, "/a/c/d", "vm2", 0, 2, false), 0);
	ck_assert_int_eq(quota_charge(q, "/a/c/d", "vm2", 2, 1, false), -EDQUOT);
	ck_assert_str_eq(d->cgroup, "/a");
	ck_assert_uint_eq(d->max, 6);
	ck_assert_uint_eq(d->current, 6);
	ck_assert_uint_eq(denied("/a"), 1);
	/* Both at their max: the one closest to the VM is named. */
	ck_assert_int_eq(quota_charge(q, "/a/b", "vm1", 4, 1, false), -EDQUOT);
	ck_assert_str_eq(d->cgroup, "/a/b");
	ck_assert_uint_eq(denied("/a/b"), 2);
	ck_assert_uint_eq(denied("/a"), 1);
	/* A refused charge leaves nothing behind, not even the nodes it created. */
	ck_assert_uint_eq(cur("/a/c/d"), 2);
	ck_assert_uint_eq(cur("/a"), 6);
	ck_assert_int_eq(quota_charge(q, "/a/x/y/z", "vm3", 0, 1, false), -EDQUOT);
	{
		struct quota_entry e;

		ck_assert_int_eq(quota_get(q, "/a/x", &e), -ENOENT);
	}
	assert_consistent();
	/* Without the config limit, the xattr's 8 is the smallest left. */
	ck_assert_int_eq(quota_set_limit(q, "/a", QUOTA_SRC_CONFIG, QUOTA_NO_LIMIT), 0);
	ck_assert_uint_eq(max_of("/a"), 8);
	ck_assert_int_eq(quota_charge(q, "/a/c/d", "vm2", 2, 2, false), 0);
	ck_assert_uint_eq(cur("/a"), 8);
	{
		struct quota_stats st;

		quota_get_stats(q, &st);
		ck_assert_uint_eq(st.denied_cgroup, 4);
		ck_assert_uint_eq(st.charged, 8);
	}
}
END_TEST

START_TEST(count_is_all_or_nothing)
{
	ck_assert_int_eq(quota_set_limit(q, "/", QUOTA_SRC_RUNTIME, 5), 0);
	ck_assert_int_eq(quota_charge(q, "/a", "vm", 0, 3, false), 0);
	ck_assert_int_eq(quota_charge(q, "/a", "vm", 3, 3, false), -EDQUOT);
	ck_assert_uint_eq(quota_last_denial(q)->asked, 3);
	ck_assert_uint_eq(cur("/"), 3);
	ck_assert_int_eq(quota_charge(q, "/a", "vm", 3, 2, false), 0);
	ck_assert_uint_eq(cur("/"), 5);
	ck_assert_int_eq(quota_charge(q, "/a", "vm", 5, 1, false), -EDQUOT);
	assert_consistent();
}
END_TEST

START_TEST(lowering_never_revokes)
{
	ck_assert_int_eq(quota_charge(q, "/a", "vm", 0, 5, false), 0);
	ck_assert_int_eq(quota_set_limit(q, "/a", QUOTA_SRC_RUNTIME, 2), 0);
	ck_assert_uint_eq(cur("/a"), 5);
	ck_assert_int_eq(quota_charge(q, "/a", "vm", 5, 1, false), -EDQUOT);
	quota_uncharge(q, "/a", 2);
	ck_assert_int_eq(quota_charge(q, "/a", "vm", 3, 1, false), -EDQUOT);
	quota_uncharge(q, "/a", 2);
	ck_assert_int_eq(quota_charge(q, "/a", "vm", 1, 1, false), 0);
	ck_assert_int_eq(quota_charge(q, "/a", "vm", 2, 1, false), -EDQUOT);
	/* A zero limit freezes a cgroup. */
	ck_assert_int_eq(quota_set_limit(q, "/b", QUOTA_SRC_CONFIG, 0), 0);
	ck_assert_int_eq(quota_charge(q, "/b/c", "vm", 0, 1, false), -EDQUOT);
	ck_assert_str_eq(quota_last_denial(q)->cgroup, "/b");
	/* Rebuilding a replayed state charges whatever the limits say. */
	ck_assert_int_eq(quota_charge(q, "/b/c", "vm", 0, 7, true), 0);
	ck_assert_uint_eq(cur("/b"), 7);
	assert_consistent();
}
END_TEST

START_TEST(per_vm_limit)
{
	struct quota_config qc = {0};
	char why[200];
	const struct quota_denial *d = quota_last_denial(q);

	ck_assert_int_eq(quota_config_assign(&qc, "DefaultVMMax", "3", why, sizeof(why)), 0);
	ck_assert_int_eq(quota_config_assign(&qc, "Max", "/a 10", why, sizeof(why)), 0);
	ck_assert_int_eq(quota_apply_config(q, &qc), 0);
	ck_assert_uint_eq(quota_vm_max(q), 3);
	ck_assert_int_eq(quota_charge(q, "/a", "vm1", 0, 3, false), 0);
	ck_assert_int_eq(quota_charge(q, "/a", "vm1", 3, 1, false), -EDQUOT);
	ck_assert_str_eq(d->vm, "vm1");
	ck_assert_str_eq(d->cgroup, "/a");
	ck_assert_uint_eq(d->max, 3);
	ck_assert_uint_eq(d->current, 3);
	/* A per-VM refusal is no cgroup's. */
	ck_assert_uint_eq(denied("/a"), 0);
	ck_assert_int_eq(quota_charge(q, "/a", "vm2", 0, 3, false), 0);
	ck_assert_uint_eq(cur("/a"), 6);
	/* A new configuration replaces the old one's limits, per-VM one included. */
	quota_config_free(&qc);
	ck_assert_int_eq(quota_config_assign(&qc, "Max", "/b 1", why, sizeof(why)), 0);
	ck_assert_int_eq(quota_apply_config(q, &qc), 0);
	ck_assert_uint_eq(quota_vm_max(q), QUOTA_NO_LIMIT);
	ck_assert_uint_eq(max_of("/a"), QUOTA_NO_LIMIT);
	ck_assert_uint_eq(max_of("/b"), 1);
	ck_assert_int_eq(quota_charge(q, "/a", "vm1", 3, 4, false), 0);
	quota_config_free(&qc);
	assert_consistent();
}
END_TEST

START_TEST(tree_order)
{
	static const char *const want[] = {"/", "/a", "/a/b", "/a b", "/a.x", "/b"};
	struct quota_entry e;
	size_t it = 0, i = 0;

	ck_assert_int_eq(quota_set_limit(q, "/a.x", QUOTA_SRC_RUNTIME, 1), 0);
	ck_assert_int_eq(quota_set_limit(q, "/a b", QUOTA_SRC_RUNTIME, 1), 0);
	ck_assert_int_eq(quota_set_limit(q, "/b", QUOTA_SRC_RUNTIME, 1), 0);
	ck_assert_int_eq(quota_set_limit(q, "/a/b", QUOTA_SRC_RUNTIME, 1), 0);
	while (quota_next(q, &it, &e)) {
		ck_assert_uint_lt(i, sizeof(want) / sizeof(want[0]));
		ck_assert_str_eq(e.cgroup, want[i]);
		i++;
	}
	ck_assert_uint_eq(i, sizeof(want) / sizeof(want[0]));
	assert_consistent();
}
END_TEST

START_TEST(deep_path)
{
	char deep[CGROUP_PATH_MAX], mid[CGROUP_PATH_MAX];
	size_t n = 0;

	/* The deepest path there is: two thousand levels of "/a". */
	while (n + 2 < sizeof(deep)) {
		deep[n++] = '/';
		deep[n++] = 'a';
	}
	deep[n] = '\0';
	snprintf(mid, sizeof(mid), "%.1000s", deep);
	ck_assert_int_eq(quota_set_limit(q, mid, QUOTA_SRC_RUNTIME, 2), 0);
	ck_assert_int_eq(quota_charge(q, deep, "vm", 0, 2, false), 0);
	ck_assert_int_eq(quota_charge(q, deep, "vm", 2, 1, false), -EDQUOT);
	ck_assert_str_eq(quota_last_denial(q)->cgroup, mid);
	ck_assert_uint_eq(cur("/"), 2);
	assert_consistent();
	quota_uncharge(q, deep, 2);
	ck_assert_int_eq(quota_set_limit(q, mid, QUOTA_SRC_RUNTIME, QUOTA_NO_LIMIT), 0);
	{
		struct quota_stats st;

		/* What is left: the cgroup that counts a denial, and its 500 ancestors. */
		quota_get_stats(q, &st);
		ck_assert_uint_eq(st.cgroups, 501);
		ck_assert_uint_eq(denied(mid), 1);
	}
}
END_TEST

/* ---- xattrs, on a directory tree standing in for the cgroup2 mount ---- */

static char fake[64];

static void
rm_tree(void)
{
	char cmd[128];

	if (fake[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fake);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", fake);
		fake[0] = '\0';
	}
}

static int
mkcg(const char *cg, const char *xattr)
{
	char path[256];

	snprintf(path, sizeof(path), "%s%s", fake, cg);
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return -errno;
	if (xattr && setxattr(path, CGROUP_XATTR, xattr, strlen(xattr), 0) < 0)
		return -errno;
	return 0;
}

START_TEST(xattr_limits)
{
	uint64_t m;

	snprintf(fake, sizeof(fake), "/tmp/pasidd-cg.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(fake));
	ck_assert_int_eq(mkcg("/a", "7\n"), 0);
	ck_assert_int_eq(mkcg("/a/b", NULL), 0);
	ck_assert_int_eq(mkcg("/a/b/c", "max"), 0);
	ck_assert_int_eq(mkcg("/bad", "lots"), 0);
	ck_assert_int_eq(cgroup_read_max(fake, "/", "/a", &m), 1);
	ck_assert_uint_eq(m, 7);
	ck_assert_int_eq(cgroup_read_max(fake, "/", "/a/b", &m), 0);
	ck_assert_int_eq(cgroup_read_max(fake, "/", "/a/b/c", &m), 0);
	ck_assert_int_eq(cgroup_read_max(fake, "/", "/gone", &m), 0);
	ck_assert_int_eq(cgroup_read_max(fake, "/", "/bad", &m), -EINVAL);
	/* A mount of the subtree /a: its root directory is /a, outside it nothing is seen. */
	ck_assert_int_eq(cgroup_read_max(fake, "/x", "/a", &m), 0);
	{
		char sub[96];

		snprintf(sub, sizeof(sub), "%s/a", fake);
		ck_assert_int_eq(cgroup_read_max(sub, "/a", "/a", &m), 1);
		ck_assert_uint_eq(m, 7);
		ck_assert_int_eq(cgroup_read_max(sub, "/a", "/ab", &m), 0);
	}

	ck_assert_int_eq(cgroup_feed_quota(q, fake, "/"), 0);
	quota_refresh_xattrs(q, "/a/b/c");
	ck_assert_uint_eq(max_of("/a"), 7);
	ck_assert_uint_eq(max_of("/a/b/c"), QUOTA_NO_LIMIT);
	ck_assert_int_eq(quota_charge(q, "/a/b/c", "vm", 0, 7, false), 0);
	ck_assert_int_eq(quota_charge(q, "/a/b/c", "vm", 7, 1, false), -EDQUOT);
	ck_assert_str_eq(quota_last_denial(q)->cgroup, "/a");
	/* An xattr read is a snapshot: changes count from the next refresh on. */
	ck_assert_int_eq(mkcg("/a", "9"), 0);
	ck_assert_uint_eq(max_of("/a"), 7);
	quota_refresh_all_xattrs(q);
	ck_assert_uint_eq(max_of("/a"), 9);
	ck_assert_int_eq(mkcg("/a/b", "3"), 0);
	quota_refresh_xattrs(q, "/a/b/c");
	ck_assert_uint_eq(max_of("/a/b"), 3);
	ck_assert_int_eq(quota_charge(q, "/a/b/c", "vm", 7, 1, false), -EDQUOT);
	ck_assert_str_eq(quota_last_denial(q)->cgroup, "/a/b");
	/* Removing the attribute removes the limit. */
	{
		char path[128];

		snprintf(path, sizeof(path), "%s/a/b", fake);
		ck_assert_int_eq(removexattr(path, CGROUP_XATTR), 0);
	}
	quota_refresh_xattrs(q, "/a/b");
	ck_assert_uint_eq(max_of("/a/b"), QUOTA_NO_LIMIT);
	/* A malformed value is no limit (and a warning). */
	quota_refresh_xattrs(q, "/bad");
	ck_assert_uint_eq(max_of("/bad"), QUOTA_NO_LIMIT);
	/* quota_describe shows what an unseen cgroup's xattr says, without keeping it. */
	{
		struct quota_entry e;

		ck_assert_int_eq(mkcg("/new", "2"), 0);
		ck_assert_int_eq(quota_describe(q, "/new", &e), -ENOENT);
		ck_assert_uint_eq(e.max, 2);
		ck_assert_uint_eq(max_of("/new"), QUOTA_NO_LIMIT);
	}
	assert_consistent();
	rm_tree();
}
END_TEST

/* ---- journal records of runtime limits ---- */

static int
collect(void *ctx, const void *rec, size_t len)
{
	struct quota *dst = ctx;
	char why[256];

	ck_assert(rec_is_quota(rec, len));
	if (rec_apply_quota(dst, rec, len, why, sizeof(why)) < 0)
		ck_abort_msg("snapshot record refused: %s", why);
	return 0;
}

START_TEST(records)
{
	uint8_t rec[REC_BUF_MAX];
	char why[256], longpath[CGROUP_PATH_MAX];
	struct quota *copy;
	size_t n;

	ck_assert_int_eq(quota_set_limit(q, "/a", QUOTA_SRC_RUNTIME, 5), 0);
	ck_assert_int_eq(quota_set_limit(q, "/a/b", QUOTA_SRC_RUNTIME, 0), 0);
	ck_assert_int_eq(quota_set_limit(q, "/c", QUOTA_SRC_CONFIG, 9), 0);
	ck_assert_int_eq(quota_set_limit(q, "/d", QUOTA_SRC_XATTR, 9), 0);
	memset(longpath, 'p', sizeof(longpath));
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	ck_assert_int_eq(quota_set_limit(q, longpath, QUOTA_SRC_RUNTIME, INT64_MAX), 0);
	/* The snapshot holds the runtime limits, and only those. */
	ck_assert_int_eq(quota_new(&copy), 0);
	ck_assert_int_eq(rec_snapshot_quota(q, collect, copy), 0);
	{
		struct quota_entry e;

		ck_assert_int_eq(quota_get(copy, "/a", &e), 0);
		ck_assert_uint_eq(e.limit[QUOTA_SRC_RUNTIME], 5);
		ck_assert_int_eq(quota_get(copy, "/a/b", &e), 0);
		ck_assert_uint_eq(e.max, 0);
		ck_assert_int_eq(quota_get(copy, longpath, &e), 0);
		ck_assert_uint_eq(e.max, INT64_MAX);
		ck_assert_int_eq(quota_get(copy, "/c", &e), -ENOENT);
		ck_assert_int_eq(quota_get(copy, "/d", &e), -ENOENT);
	}
	/* A removal record takes the limit away. */
	n = rec_quota(rec, "/a", QUOTA_NO_LIMIT);
	ck_assert_uint_le(n, REC_BUF_MAX);
	ck_assert_int_eq(rec_apply_quota(copy, rec, n, why, sizeof(why)), 0);
	ck_assert_uint_eq(max_of("/a"), 5);
	{
		struct quota_entry e;

		ck_assert_int_eq(quota_get(copy, "/a", &e), 0); /* kept for its child /a/b */
		ck_assert_uint_eq(e.max, QUOTA_NO_LIMIT);
	}
	/* Malformed ones are refused. */
	n = rec_quota(rec, "/a", 3);
	ck_assert_int_eq(rec_apply_quota(copy, rec, n - 1, why, sizeof(why)), -EUCLEAN);
	rec[n] = 0;
	ck_assert_int_eq(rec_apply_quota(copy, rec, n + 1, why, sizeof(why)), -EUCLEAN);
	n = rec_quota(rec, "/a//b", 3);
	ck_assert_int_eq(rec_apply_quota(copy, rec, n, why, sizeof(why)), -EUCLEAN);
	n = rec_quota(rec, "relative", 3);
	ck_assert_int_eq(rec_apply_quota(copy, rec, n, why, sizeof(why)), -EUCLEAN);
	n = rec_quota(rec, "/a", (uint64_t)INT64_MAX + 1);
	ck_assert_int_eq(rec_apply_quota(copy, rec, n, why, sizeof(why)), -EUCLEAN);
	ck_assert(!rec_is_quota("\x01", 1));
	ck_assert(!rec_is_quota("", 0));
	quota_free(copy);
	/* The namespace does not take them: they go to the quotas. */
	{
		struct ns_config nc = {
		    .pasid_bits = 20, .local = {1, 4095}, .shared = {4096, 524287}};
		struct backend *be;
		struct ns ns;

		ck_assert_int_eq(backend_open("sim", &be, why, sizeof(why)), 0);
		ck_assert_int_eq(ns_init(&ns, &nc, be), 0);
		ns.replaying = true;
		n = rec_quota(rec, "/a", 3);
		ck_assert(rec_is_quota(rec, n));
		ck_assert_int_eq(rec_apply(&ns, rec, n, why, sizeof(why)), -EUCLEAN);
		ck_assert_ptr_nonnull(strstr(why, "quota"));
		ns_destroy(&ns);
		backend_close(be);
	}
}
END_TEST

/* ---- the randomized model ---- */

#define NCG   9
#define NVM   12
#define STEPS 20000

static const char *const cgs[NCG] = {"/",      "/a", "/a/b", "/a/b/c", "/a/d",
                                     "/a/d/e", "/f", "/f/g", "/h"};

struct model {
	int vm_cg[NVM];
	uint64_t held[NVM];
	uint64_t limit[NCG][QUOTA_NSRC];
	uint64_t denied[NCG];
	uint64_t vm_max;
	uint64_t denied_vm;
};

static bool
under(const char *cg, const char *anc)
{
	size_t n = strlen(anc);

	return !strcmp(anc, "/") || (!strncmp(cg, anc, n) && (cg[n] == '\0' || cg[n] == '/'));
}

static int
cg_index(const char *path)
{
	for (int i = 0; i < NCG; i++)
		if (!strcmp(cgs[i], path))
			return i;
	return -1;
}

static uint64_t
m_current(const struct model *m, int c)
{
	uint64_t s = 0;

	for (int v = 0; v < NVM; v++)
		if (under(cgs[m->vm_cg[v]], cgs[c]))
			s += m->held[v];
	return s;
}

static uint64_t
m_max(const struct model *m, int c)
{
	uint64_t x = QUOTA_NO_LIMIT;

	for (int s = 0; s < QUOTA_NSRC; s++)
		if (m->limit[c][s] < x)
			x = m->limit[c][s];
	return x;
}

/* The model's decision for a charge: -1 granted, -2 the per-VM limit, else the index of the
 * cgroup that refuses (the first from the VM's cgroup up). */
static int
m_charge(const struct model *m, int v, unsigned n)
{
	char p[64];

	if (m->vm_max != QUOTA_NO_LIMIT && m->held[v] + n > m->vm_max)
		return -2;
	snprintf(p, sizeof(p), "%s", cgs[m->vm_cg[v]]);
	do {
		int c = cg_index(p);
		uint64_t mx = m_max(m, c);

		if (mx != QUOTA_NO_LIMIT && m_current(m, c) + n > mx)
			return c;
	} while (cgroup_parent(p));
	return -1;
}

static void
compare(const struct model *m, unsigned step)
{
	struct quota_stats st;

	for (int c = 0; c < NCG; c++) {
		struct quota_entry e;

		quota_get(q, cgs[c], &e);
		ck_assert_msg(e.current == m_current(m, c), "step %u: %s holds %llu, model %llu",
		              step, cgs[c], (unsigned long long)e.current,
		              (unsigned long long)m_current(m, c));
		ck_assert_msg(e.max == m_max(m, c), "step %u: %s max %llu, model %llu", step,
		              cgs[c], (unsigned long long)e.max, (unsigned long long)m_max(m, c));
		ck_assert_msg(e.denied == m->denied[c], "step %u: %s denied %llu, model %llu", step,
		              cgs[c], (unsigned long long)e.denied,
		              (unsigned long long)m->denied[c]);
	}
	quota_get_stats(q, &st);
	ck_assert_uint_eq(st.denied_vm, m->denied_vm);
	assert_consistent();
}

/* Invariant 5 where no limit was lowered below what was held: every cgroup holds no more than
 * the smallest max on its path to the root, which bounds the sum over its children too. */
static void
check_invariant(const struct model *m, unsigned step)
{
	for (int c = 0; c < NCG; c++) {
		char p[64];
		uint64_t kids = 0;

		for (int k = 0; k < NCG; k++) {
			char parent[64];

			snprintf(parent, sizeof(parent), "%s", cgs[k]);
			if (cgroup_parent(parent) && !strcmp(parent, cgs[c]))
				kids += m_current(m, k);
		}
		snprintf(p, sizeof(p), "%s", cgs[c]);
		do {
			uint64_t mx = max_of(p);

			ck_assert_msg(mx == QUOTA_NO_LIMIT || (cur(cgs[c]) <= mx && kids <= mx),
			              "step %u: %s holds %llu (children %llu) under %s's max %llu",
			              step, cgs[c], (unsigned long long)cur(cgs[c]),
			              (unsigned long long)kids, p, (unsigned long long)mx);
		} while (cgroup_parent(p));
	}
}

static uint64_t
random_limit(const struct model *m, int c)
{
	uint64_t now = m_current(m, c);

	switch (random() % 5) {
	case 0:
		return QUOTA_NO_LIMIT;
	case 1:
		return now;
	case 2:
		return now + (uint64_t)(random() % 10);
	case 3:
		return (uint64_t)(random() % 40);
	default:
		return now > 3 ? now - (uint64_t)(random() % 3) : 0;
	}
}

/* freeze_limits: limits are set once, before anything is charged, so that invariant 5 must
 * hold after every step; otherwise limits move at random, also below what is held. */
static void
run_model(unsigned seed, bool freeze_limits)
{
	struct model m;

	memset(&m, 0, sizeof(m));
	srandom(seed);
	for (int c = 0; c < NCG; c++)
		for (int s = 0; s < QUOTA_NSRC; s++)
			m.limit[c][s] = QUOTA_NO_LIMIT;
	m.vm_max = QUOTA_NO_LIMIT;
	for (int v = 0; v < NVM; v++)
		m.vm_cg[v] = (int)(random() % NCG);
	if (freeze_limits) {
		for (int c = 0; c < NCG; c++) {
			enum quota_source s = (enum quota_source)(random() % QUOTA_NSRC);

			m.limit[c][s] = random() % 3 ? (uint64_t)(random() % 60) : QUOTA_NO_LIMIT;
			ck_assert_int_eq(quota_set_limit(q, cgs[c], s, m.limit[c][s]), 0);
		}
	}
	for (unsigned step = 0; step < STEPS; step++) {
		long op = random() % 100;
		int v = (int)(random() % NVM);

		if (op < 50) {
			unsigned n = 1 + (unsigned)(random() % (random() % 8 ? 4 : 40));
			int want = m_charge(&m, v, n);
			int r = quota_charge(q, cgs[m.vm_cg[v]], "vm", m.held[v], n, false);

			ck_assert_msg((r == 0) == (want == -1),
			              "step %u: charge %u to %s: %d, model %d (seed %u)", step, n,
			              cgs[m.vm_cg[v]], r, want, seed);
			if (want == -1) {
				m.held[v] += n;
				/* Everything on the path is within its max after a granted
				 * charge, whatever happened to the limits before. */
				char p[64];

				snprintf(p, sizeof(p), "%s", cgs[m.vm_cg[v]]);
				do
					ck_assert(max_of(p) == QUOTA_NO_LIMIT ||
					          cur(p) <= max_of(p));
				while (cgroup_parent(p));
			} else if (want == -2) {
				m.denied_vm++;
				ck_assert_str_eq(quota_last_denial(q)->vm, "vm");
			} else {
				m.denied[want]++;
				ck_assert_str_eq(quota_last_denial(q)->cgroup, cgs[want]);
				ck_assert_uint_eq(quota_last_denial(q)->current,
				                  m_current(&m, want));
			}
		} else if (op < 85) {
			if (m.held[v]) {
				unsigned n = 1 + (unsigned)(random() % m.held[v]);

				quota_uncharge(q, cgs[m.vm_cg[v]], n);
				m.held[v] -= n;
			}
		} else if (op < 88) {
			/* The VM goes and another takes its slot, maybe elsewhere. */
			if (m.held[v])
				quota_uncharge(q, cgs[m.vm_cg[v]], (unsigned)m.held[v]);
			m.held[v] = 0;
			m.vm_cg[v] = (int)(random() % NCG);
		} else if (!freeze_limits && op < 97) {
			int c = (int)(random() % NCG);
			enum quota_source s = (enum quota_source)(random() % QUOTA_NSRC);

			m.limit[c][s] = random_limit(&m, c);
			ck_assert_int_eq(quota_set_limit(q, cgs[c], s, m.limit[c][s]), 0);
		} else if (!freeze_limits) {
			/* A configuration: replaces every config limit and the per-VM one. */
			struct quota_config qc = {0};
			char why[200], line[96];

			for (int c = 0; c < NCG; c++)
				m.limit[c][QUOTA_SRC_CONFIG] = QUOTA_NO_LIMIT;
			for (int k = (int)(random() % 3); k > 0; k--) {
				int c = (int)(random() % NCG);

				m.limit[c][QUOTA_SRC_CONFIG] = random_limit(&m, c);
				if (m.limit[c][QUOTA_SRC_CONFIG] == QUOTA_NO_LIMIT)
					snprintf(line, sizeof(line), "%s max", cgs[c]);
				else
					snprintf(line, sizeof(line), "%s %llu", cgs[c],
					         (unsigned long long)m.limit[c][QUOTA_SRC_CONFIG]);
				ck_assert_int_eq(
				    quota_config_assign(&qc, "Max", line, why, sizeof(why)), 0);
			}
			m.vm_max = random() % 2 ? QUOTA_NO_LIMIT : (uint64_t)(random() % 30);
			if (m.vm_max != QUOTA_NO_LIMIT) {
				snprintf(line, sizeof(line), "%llu", (unsigned long long)m.vm_max);
				ck_assert_int_eq(quota_config_assign(&qc, "DefaultVMMax", line, why,
				                                     sizeof(why)),
				                 0);
			}
			ck_assert_int_eq(quota_apply_config(q, &qc), 0);
			quota_config_free(&qc);
		}
		compare(&m, step);
		if (freeze_limits)
			check_invariant(&m, step);
	}
	/* Everything given back leaves an empty tree but for limits and denied counts. */
	for (int v = 0; v < NVM; v++)
		if (m.held[v])
			quota_uncharge(q, cgs[m.vm_cg[v]], (unsigned)m.held[v]);
	{
		size_t it = 0;
		struct quota_entry e;

		while (quota_next(q, &it, &e))
			ck_assert_uint_eq(e.current, 0);
	}
	assert_consistent();
}

static unsigned
seed_of(unsigned salt)
{
	const char *s = getenv("QUOTA_SEED");
	unsigned seed = s ? (unsigned)strtoul(s, NULL, 0) : (unsigned)time(NULL);

	seed += salt;
	fprintf(stderr, "test_quota: seed %u (QUOTA_SEED=%u reproduces)\n", seed, seed - salt);
	return seed;
}

START_TEST(random_model)
{
	run_model(seed_of(0), false);
}
END_TEST

START_TEST(random_model_fixed_limits)
{
	run_model(seed_of(1), true);
}
END_TEST

static Suite *
quota_suite(void)
{
	Suite *s = suite_create("quota");
	TCase *tc = tcase_create("cgroup");

	tcase_add_test(tc, normalize);
	tcase_add_test(tc, parent_path);
	tcase_add_test(tc, mountinfo);
	tcase_add_test(tc, parse_max);
	suite_add_tcase(s, tc);

	tc = tcase_create("accounting");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, hierarchical_charges);
	tcase_add_test(tc, limits_each_level_and_smallest_wins);
	tcase_add_test(tc, count_is_all_or_nothing);
	tcase_add_test(tc, lowering_never_revokes);
	tcase_add_test(tc, per_vm_limit);
	tcase_add_test(tc, tree_order);
	tcase_add_test(tc, deep_path);
	tcase_add_test(tc, records);
	suite_add_tcase(s, tc);

	tc = ck_case(s, "xattrs", setup, teardown, 0);
	tcase_set_tags(tc, "user-xattr");
	tcase_add_test(tc, xattr_limits);

	tc = tcase_create("model");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, random_model);
	tcase_add_test(tc, random_model_fixed_limits);
	suite_add_tcase(s, tc);
	return s;
}

/* The need of the cases tagged user-xattr: a directory under /tmp that takes them. */
static const char *
lacking_user_xattrs(void)
{
	static char why[160];
	char dir[] = "/tmp/pasidd-xattr.XXXXXX";
	int r;

	if (!mkdtemp(dir)) {
		snprintf(why, sizeof(why), "cannot make a directory under /tmp: %s",
		         strerror(errno));
		return why;
	}
	r = setxattr(dir, CGROUP_XATTR, "1", 1, 0);
	snprintf(why, sizeof(why), "/tmp does not take user xattrs: %s", strerror(errno));
	rmdir(dir);
	return r == 0 ? NULL : why;
}

int
main(void)
{
	static const struct ck_need needs[] = {{"user-xattr", lacking_user_xattrs}, {NULL, NULL}};

	return ck_main(quota_suite(), needs);
}
