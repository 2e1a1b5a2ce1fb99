/* Issue 8, item 2: a record damaged in the middle of the journal is not a torn tail. The
 * daemon refuses to serve, naming the file and the offset, and leaves every file as it was;
 * pasidd --salvage then keeps the valid part and keeps the hPASIDs that the readable rest
 * shows in use out of circulation until their owners are gone. The case with VMs registered
 * for another process is tagged root (ctest integration/test_statedamage/root). */
#include <check.h>

#include "ck_main.h"
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "itutil.h"

#define RANGE "4096-4127" /* a small shared range, so that a VM can take all of it */

static struct it_daemon d;
static pid_t owner_a, owner_b;

static void
teardown(void)
{
	it_cleanup(&d);
	itu_end_child(owner_a);
	itu_end_child(owner_b);
	owner_a = owner_b = 0;
	it_release_kept();
}

/* pasidd on d's directories to completion, with the options it_start gives it plus `what`
 * ("--salvage", "-n" or "--foreground"). */
static int
run(const char *what, char **err)
{
	char *args[] = {(char *)what, "--backend",      "sim",   "--socket",
	                d.sock,       "--state-dir",    d.state, "--config",
	                "/dev/null",  "--shared-range", RANGE,   NULL};
	int st = itu_run(NULL, err, 120, args);

	it_keep_str(*err);
	return st;
}

static uint32_t
le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The offset of the journal frame that maps hpasid for vm (record.c: op 5 = REC_MAP, the VM's
 * name as u32 length + bytes, type u8, gpasid u32, hpasid u32), or -1. */
static long
map_frame(const char *journal, const char *vm, uint32_t hpasid)
{
	size_t nlen = strlen(vm);

	for (unsigned i = 0;; i++) {
		long off = itu_frame_offset(journal, i);
		unsigned char buf[64];
		FILE *f;
		size_t n;

		if (off < 0)
			return -1;
		f = fopen(journal, "rb");
		fseek(f, off, SEEK_SET);
		n = fread(buf, 1, sizeof(buf), f);
		fclose(f);
		if (n >= 8 + 1 + 4 + nlen + 9 && buf[8] == 5 && le32(buf + 9) == nlen &&
		    !memcmp(buf + 13, vm, nlen) && le32(buf + 13 + nlen + 5) == hpasid)
			return off;
	}
}

/* "g:h g:h ..." of a VM (vm.show order), or "error N". */
static const char *
table(int fd, const char *vm)
{
	struct json_object *r = it_keep(it_callf(fd, "vm.show", "{\"vm\":\"%s\"}", vm));
	struct json_object *maps = it_get(r, "result.mappings");
	char buf[1024] = "";
	size_t len = 0;

	if (!maps) {
		snprintf(buf, sizeof(buf), "error %d", it_errcode(r));
		return it_keep_str(strdup(buf));
	}
	for (size_t i = 0; i < json_object_array_length(maps); i++) {
		struct json_object *m = json_object_array_get_idx(maps, i);

		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%lld:%lld", i ? " " : "",
		                        (long long)it_int(m, "gpasid"),
		                        (long long)it_int(m, "hpasid"));
	}
	return it_keep_str(strdup(buf));
}

static void
fill(void)
{
	int fd = it_connect(&d);

	ck_assert_int_ge(fd, 0);
	IT_OK(it_callf(fd, "vm.register", "{\"vm\":\"a\",\"pid\":%d}", owner_a));
	IT_OK(it_callf(fd, "pasid.alloc", "{\"vm\":\"a\",\"type\":\"shared\",\"count\":2}"));
	/* One at a time: each its own REC_MAP (a count allocation is one REC_MAP_RUN), so
	 * that damage to the third leaves the fourth to salvage. */
	IT_OK(it_callf(fd, "pasid.alloc", "{\"vm\":\"a\",\"type\":\"shared\"}"));
	IT_OK(it_callf(fd, "pasid.alloc", "{\"vm\":\"a\",\"type\":\"shared\"}"));
	IT_OK(it_callf(fd, "vm.register", "{\"vm\":\"b\",\"pid\":%d}", owner_b));
	IT_OK(it_callf(fd, "device.assign", "{\"vm\":\"b\",\"device\":\"0000:01:00.1\"}"));
	IT_OK(it_callf(fd, "pasid.alloc", "{\"vm\":\"b\",\"type\":\"shared\",\"count\":4}"));
	IT_OK(it_callf(fd, "pasid.alloc",
	               "{\"vm\":\"b\",\"type\":\"local\",\"device\":\"0000:01:00.1\"}"));
	ck_assert_str_eq(table(fd, "a"), "1:4096 2:4097 3:4098 4:4099");
	ck_assert_str_eq(table(fd, "b"), "1:4100 2:4101 3:4102 4:4103 5:5");
	close(fd);
}

/* The line of a digest for one file, without its name: "mode size hash". */
static const char *
digest_of(const char *digest, const char *prefix)
{
	const char *p = digest;

	while (p && *p) {
		const char *nl = strchr(p, '\n');

		if (!strncmp(p, prefix, strlen(prefix)))
			return it_keep_str(
			    strndup(strchr(p, ' ') + 1,
			            (size_t)((nl ? nl : p + strlen(p)) - strchr(p, ' ') - 1)));
		p = nl ? nl + 1 : NULL;
	}
	return "(none)";
}

START_TEST(damaged_journal_refused_then_salvaged)
{
	char journal[256], needle[160], *err = NULL, *before, *after;
	struct json_object *r;
	long off;
	int fd, st, code = 0;
	uint32_t got[64];
	unsigned ngot = 0;

	owner_a = itu_idle_child();
	owner_b = itu_idle_child();
	ck_assert_int_eq(it_start(&d, "--shared-range", RANGE, NULL), 0);
	fill();
	ck_assert_int_eq(it_stop(&d), 0);

	/* One byte of a's third mapping, early in the journal; b comes after it. */
	snprintf(journal, sizeof(journal), "%s/journal.0", d.state);
	off = map_frame(journal, "a", 4098);
	ck_assert_int_gt(off, 0);
	ck_assert_int_eq(itu_flip_byte(journal, off + 8 + 3), 0);
	before = it_keep_str(itu_dir_digest(d.state));

	/* Refused, with one message that names the file, the offset and what it found. */
	st = run("--foreground", &err);
	ck_assert_msg(st != 0, "a damaged journal was served: %s", err);
	snprintf(needle, sizeof(needle), "journal.0: record at offset %ld fails its checksum", off);
	ck_assert_msg(itu_has_all(err, needle, "valid records follow at offset",
	                          "the journal is damaged, not torn", "pasidd --salvage", NULL),
	              "message: %s", err);
	after = it_keep_str(itu_dir_digest(d.state));
	ck_assert_str_eq(before, after);
	/* pasidd -n says the same, and changes nothing either. */
	ck_assert_int_eq(run("-n", &err), 2);
	ck_assert_msg(strstr(err, needle), "message: %s", err);
	ck_assert_str_eq(before, it_keep_str(itu_dir_digest(d.state)));

	/* The way out. */
	st = run("--salvage", &err);
	ck_assert_msg(st == 0, "salvage exit %d: %s", st, err);
	ck_assert_msg(itu_has_all(err, "quarantined in VM salvaged.a", "4099",
	                          "quarantined in VM salvaged.b", "4100-4103", "0000:01:00.1",
	                          "kept journal.0 as journal.0.damaged-", NULL),
	              "salvage said: %s", err);
	after = it_keep_str(itu_dir_digest(d.state));
	/* The damaged journal is kept, byte for byte, under a name replay ignores. */
	ck_assert_str_eq(digest_of(after, "journal.0.damaged-"), digest_of(before, "journal.0 "));
	ck_assert_str_eq(digest_of(after, "journal.0 "), "(none)");

	ck_assert_int_eq(it_restart(&d, "--shared-range", RANGE, NULL), 0);
	fd = it_connect(&d);
	/* The valid part as it was; what came after the damage is not applied. */
	ck_assert_str_eq(table(fd, "a"), "1:4096 2:4097");
	ck_assert_str_eq(table(fd, "b"), "error 1003");
	ck_assert_str_eq(table(fd, "salvaged.a"), "4099:4099");
	ck_assert_str_eq(table(fd, "salvaged.b"), "4100:4100 4101:4101 4102:4102 4103:4103");
	r = IT_OK(it_callf(fd, "vm.show", "{\"vm\":\"salvaged.b\"}"));
	ck_assert_int_eq(it_int(r, "pid"), owner_b);
	ck_assert_str_eq(it_str(r, "mode"), "identity");
	ck_assert_str_eq(it_str(r, "devices.0.device"), "0000:01:00.1");
	r = IT_OK(it_callf(fd, "vm.show", "{\"vm\":\"salvaged.a\"}"));
	ck_assert_int_eq(it_int(r, "pid"), owner_a);

	/* A new VM gets every other free hPASID, never a quarantined one, nor the device. */
	IT_OK(it_callf(fd, "vm.register", "{\"vm\":\"c\"}"));
	IT_ERR(it_callf(fd, "device.assign", "{\"vm\":\"c\",\"device\":\"0000:01:00.1\"}"), 1004,
	       NULL);
	for (;;) {
		r = it_keep(it_callf(fd, "pasid.alloc", "{\"vm\":\"c\",\"type\":\"shared\"}"));
		if (it_errcode(r))
			break;
		ck_assert_uint_lt(ngot, 64);
		got[ngot++] = (uint32_t)it_int(r, "result.hpasid");
	}
	ck_assert_int_eq(it_errcode(r), 1001);
	ck_assert_uint_eq(ngot, 32 - 2 - 1 - 4);
	for (unsigned i = 0; i < ngot; i++)
		ck_assert_msg(got[i] < 4099 || got[i] > 4103, "quarantined hPASID %u handed out",
		              got[i]);

	/* Once b's owner is gone, its salvaged VM goes, and what it held is free again. */
	itu_end_child(owner_b);
	owner_b = 0;
	for (int i = 0; i < 1000 && code != 1003; i++) {
		code = it_code(fd, "vm.show", "{\"vm\":\"salvaged.b\"}");
		if (code != 1003)
			usleep(10000);
	}
	ck_assert_int_eq(code, 1003);
	r = IT_OK(it_callf(fd, "pasid.alloc", "{\"vm\":\"c\",\"type\":\"shared\",\"count\":4}"));
	for (size_t i = 0; i < 4; i++) {
		long long h = it_int(json_object_array_get_idx(it_get(r, "mappings"), i), "hpasid");

		ck_assert_msg(h >= 4100 && h <= 4103, "got hPASID %lld", h);
	}
	IT_OK(it_callf(fd, "device.assign", "{\"vm\":\"c\",\"device\":\"0000:01:00.1\"}"));
	close(fd);
}
END_TEST

/* A state that replays is not salvaged, and not touched. */
START_TEST(salvage_of_a_sound_state_changes_nothing)
{
	char *err = NULL, *before;
	int fd;

	ck_assert_int_eq(it_start(&d, "--shared-range", RANGE, NULL), 0);
	fd = it_connect(&d);
	IT_OK(it_callf(fd, "vm.register", "{\"vm\":\"s\"}"));
	IT_OK(it_callf(fd, "pasid.alloc", "{\"vm\":\"s\",\"type\":\"shared\",\"count\":3}"));
	close(fd);
	ck_assert_int_eq(it_stop(&d), 0);
	before = it_keep_str(itu_dir_digest(d.state));
	ck_assert_int_eq(run("--salvage", &err), 0);
	ck_assert_msg(strstr(err, "nothing to salvage"), "salvage said: %s", err);
	ck_assert_str_eq(before, it_keep_str(itu_dir_digest(d.state)));
}
END_TEST

int
main(void)
{
	static const struct ck_need needs[] = {{"root", ck_lacking_root}, {NULL, NULL}};
	Suite *s = suite_create("statedamage");
	TCase *tc = tcase_create("statedamage");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, salvage_of_a_sound_state_changes_nothing);
	suite_add_tcase(s, tc);
	/* Its VMs are registered for another process, which takes an administrator. */
	tc = ck_case(s, "registered-for-others", NULL, teardown, 300);
	tcase_set_tags(tc, "root");
	tcase_add_test(tc, damaged_journal_refused_then_salvaged);
	return ck_main(s, needs);
}
