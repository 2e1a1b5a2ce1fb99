/* Attachments are part of the state (issue 10): the real pasidd (--backend sim) journals
 * each pasid.attach and pasid.detach, and a kill -9 and a restart without the service
 * manager's fd store (the harness runs it without NOTIFY_SOCKET) bring back every attachment
 * that was acknowledged, with its device, pt_id and dev_id, but without pasidd's descriptors
 * of it: "lost". What the core then does with a lost attachment (ns_attach.c) is asserted
 * through the socket: a new pasid.attach replaces it; while its VM lives, pasid.free,
 * pasid.detach and vm.unregister are refused and the number stays out of circulation; once
 * the owner is gone it is dropped with the VM. A state directory of record format version 0
 * is read and upgraded. */
#include <check.h>

#include "ck_main.h"
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "itutil.h"

#define DEV "0000:00:02.0"

static struct it_daemon d;
static int fd = -1;

static void
teardown(void)
{
	it_teardown(&d, &fd);
}

/* pasid.attach with two descriptors (/dev/null: the sim backend wants them open) on the
 * request's own message, as a VMM passes its iommufd and device cdev. */
static struct json_object *
attach(int sock, const char *vm, int gpasid, unsigned pt_id, unsigned dev_id)
{
	int fds[2] = {open("/dev/null", O_RDONLY | O_CLOEXEC),
	              open("/dev/null", O_RDONLY | O_CLOEXEC)};
	char line[320];

	ck_assert_int_ge(fds[0], 0);
	ck_assert_int_ge(fds[1], 0);
	snprintf(line, sizeof(line),
	         "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"pasid.attach\",\"params\":{\"vm\":"
	         "\"%s\",\"gpasid\":%d,\"device\":\"" DEV "\",\"pt_id\":%u,\"dev_id\":%u,"
	         "\"fds\":2}}\n",
	         vm, gpasid, pt_id, dev_id);
	ck_assert_int_eq(itu_send_fds(sock, line, strlen(line), fds, 2), 0);
	close(fds[0]);
	close(fds[1]);
	return it_recvjson(sock, 5000);
}

/* The mapping of gpasid in vm.show's listing of vm (every page), or NULL. */
static struct json_object *
mapping(int sock, const char *vm, int gpasid)
{
	struct json_object *maps;
	char params[96];

	snprintf(params, sizeof(params), "{\"vm\":\"%s\"}", vm);
	maps = it_keep(it_list_all(sock, "vm.show", "mappings", params));
	ck_assert_ptr_nonnull(maps);
	for (size_t i = 0; i < json_object_array_length(maps); i++) {
		struct json_object *m = json_object_array_get_idx(maps, i);

		if (it_int(m, "gpasid") == gpasid)
			return m;
	}
	return NULL;
}

/* The "attached" member of a mapping, "none" when it has none. */
static const char *
attached_of(int sock, const char *vm, int gpasid)
{
	struct json_object *m = mapping(sock, vm, gpasid), *a;

	ck_assert_msg(m, "gPASID %d of %s is gone", gpasid, vm);
	if (!json_object_object_get_ex(m, "attached", &a))
		return "none";
	return json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN);
}

static int64_t
status_attached(int sock)
{
	return it_int(IT_OK(it_call(sock, "daemon.status", NULL)), "attached");
}

static void
restart_after_kill9(void)
{
	close(fd);
	it_kill(&d);
	ck_assert_int_eq(it_restart(&d, NULL), 0);
	fd = it_connect(&d);
	ck_assert_int_ge(fd, 0);
}

#define LOST(pt, dev)                                                                              \
	"[{\"device\":\"" DEV "\",\"pt_id\":" #pt ",\"dev_id\":" #dev ",\"lost\":true}]"
#define HELD(pt, dev) "[{\"device\":\"" DEV "\",\"pt_id\":" #pt ",\"dev_id\":" #dev "}]"

START_TEST(attachments_survive_kill9)
{
	struct json_object *r;
	const char *before;

	ck_assert_int_eq(it_setup(&d, &fd, NULL), 0);
	IT_OK(it_call(fd, "vm.register", "{\"vm\":\"a\"}"));
	IT_OK(it_call(fd, "device.assign", "{\"vm\":\"a\",\"device\":\"" DEV "\"}"));
	r = IT_OK(it_call(fd, "pasid.alloc", "{\"vm\":\"a\",\"type\":\"shared\",\"count\":3}"));
	IT_JSON_EQ(it_get(r, "mappings"),
	           "[{\"gpasid\":1,\"hpasid\":4096,\"type\":\"shared\"},{\"gpasid\":2,\"hpasid\":"
	           "4097,\"type\":\"shared\"},{\"gpasid\":3,\"hpasid\":4098,\"type\":\"shared\"}]");
	IT_OK(attach(fd, "a", 1, 5, 6));
	IT_OK(attach(fd, "a", 2, 7, 6));
	ck_assert_str_eq(attached_of(fd, "a", 1), HELD(5, 6));
	ck_assert_int_eq(status_attached(fd), 2);

	/* Both acknowledged, so both come back; pasidd's descriptors do not. */
	restart_after_kill9();
	ck_assert_str_eq(attached_of(fd, "a", 1), LOST(5, 6));
	ck_assert_str_eq(attached_of(fd, "a", 2), LOST(7, 6));
	ck_assert_str_eq(attached_of(fd, "a", 3), "none");
	ck_assert_int_eq(status_attached(fd), 2);

	/* The VMM attaches again: its descriptors replace the lost ones. */
	IT_OK(attach(fd, "a", 1, 9, 10));
	ck_assert_str_eq(attached_of(fd, "a", 1), HELD(9, 10));
	ck_assert_int_eq(status_attached(fd), 2);

	/* gPASID 2 cannot be detached by pasidd while its VM lives (the VMM still holds the
	 * device): freeing it, detaching it or unregistering the VM is refused, and its number
	 * stays where it is. */
	before = it_snapshot(fd);
	IT_ERR(it_call(fd, "pasid.free", "{\"vm\":\"a\",\"gpasid\":2}"), 1004, "device");
	IT_ERR(it_call(fd, "pasid.detach", "{\"vm\":\"a\",\"gpasid\":2,\"device\":\"" DEV "\"}"),
	       1004, "device");
	IT_ERR(it_call(fd, "vm.unregister", "{\"vm\":\"a\"}"), 1004, "device");
	ck_assert_str_eq(it_snapshot(fd), before);
	ck_assert_str_eq(attached_of(fd, "a", 2), LOST(7, 6));
	ck_assert_int_eq(it_int(mapping(fd, "a", 2), "hpasid"), 4097);

	/* Detached through the new descriptors; attached again, then freed with its mapping. */
	IT_OK(it_call(fd, "pasid.detach", "{\"vm\":\"a\",\"gpasid\":1,\"device\":\"" DEV "\"}"));
	IT_OK(attach(fd, "a", 2, 11, 12));
	IT_OK(it_call(fd, "pasid.free", "{\"vm\":\"a\",\"gpasid\":2}"));
	ck_assert_int_eq(status_attached(fd), 0);

	/* And that is what the journal brings back. */
	restart_after_kill9();
	ck_assert_str_eq(attached_of(fd, "a", 1), "none");
	ck_assert_str_eq(attached_of(fd, "a", 3), "none");
	ck_assert_ptr_null(mapping(fd, "a", 2));
	ck_assert_int_eq(status_attached(fd), 0);
	r = IT_OK(it_call(fd, "daemon.status", NULL));
	ck_assert_int_eq(it_int(r, "used.shared"), 2);
}
END_TEST

/* A VM owned by another process: once that process is gone, its lost attachment goes with
 * it (the kernel let go when the owner's descriptors closed), and so does the number. */
START_TEST(lost_attachment_goes_with_its_owner)
{
	struct json_object *r = NULL;
	pid_t holder;
	int hfd;

	ck_assert_int_eq(it_setup(&d, &fd, NULL), 0);
	hfd = it_connect_as(&d, getuid(), getgid(), NULL, 0, &holder);
	ck_assert_int_ge(hfd, 0);
	IT_OK(it_call(hfd, "vm.register", "{\"vm\":\"b\"}"));
	IT_OK(it_call(hfd, "device.assign", "{\"vm\":\"b\",\"device\":\"" DEV "\"}"));
	IT_OK(it_call(hfd, "pasid.alloc", "{\"vm\":\"b\",\"type\":\"shared\"}"));
	IT_OK(attach(hfd, "b", 1, 3, 4));
	close(hfd);

	restart_after_kill9();
	ck_assert_str_eq(attached_of(fd, "b", 1), LOST(3, 4));
	ck_assert_int_eq(status_attached(fd), 1);
	it_holder_release(holder);
	for (int i = 0; i < 100; i++) {
		r = it_call(fd, "vm.show", "{\"vm\":\"b\"}");
		if (!r || it_errcode(r))
			break;
		json_object_put(r);
		r = NULL;
		usleep(50000);
	}
	IT_ERR(r, 1003, "vm");
	ck_assert_int_eq(status_attached(fd), 0);
	r = IT_OK(it_call(fd, "daemon.status", NULL));
	ck_assert_int_eq(it_int(r, "used.shared"), 0);

	/* The journal has it gone too. */
	restart_after_kill9();
	IT_ERR(it_call(fd, "vm.show", "{\"vm\":\"b\"}"), 1003, "vm");
	ck_assert_int_eq(status_attached(fd), 0);
}
END_TEST

/* ---- a state directory of record format version 0 ---- */

static uint32_t
crc32c(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffffu;

	while (n--) {
		c ^= *p++;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
	}
	return ~c;
}

/* Sets the record format version in the header of every snapshot and journal file (bytes
 * 16-19, then the header's CRC-32C in 20-23: daemon/state/journal_format.c) to v, or, with
 * v < 0, checks that each holds -v - 1; returns how many files. */
static int
headers(const char *dir, long v)
{
	char cmd[256], path[512], name[128];
	FILE *ls;
	int n = 0;

	snprintf(cmd, sizeof(cmd), "ls %s | grep -E '^(snapshot|journal)\\.[0-9]+$'", dir);
	ls = popen(cmd, "r");
	ck_assert_ptr_nonnull(ls);
	while (fscanf(ls, "%127s", name) == 1) {
		uint8_t h[24];
		FILE *f;

		snprintf(path, sizeof(path), "%s/%s", dir, name);
		f = fopen(path, "r+b");
		ck_assert_ptr_nonnull(f);
		ck_assert_uint_eq(fread(h, 1, sizeof(h), f), sizeof(h));
		if (v < 0) {
			ck_assert_msg(h[16] == -v - 1 && !h[17] && !h[18] && !h[19],
			              "%s holds version %u", name, h[16]);
		} else {
			uint32_t crc;

			h[16] = (uint8_t)v;
			h[17] = h[18] = h[19] = 0;
			crc = crc32c(h, 20);
			for (int i = 0; i < 4; i++)
				h[20 + i] = (uint8_t)(crc >> (8 * i));
			ck_assert_int_eq(fseek(f, 0, SEEK_SET), 0);
			ck_assert_uint_eq(fwrite(h, 1, sizeof(h), f), sizeof(h));
		}
		ck_assert_int_eq(fclose(f), 0);
		n++;
	}
	pclose(ls);
	return n;
}

/* Rewrites journal.0 (the only file: a fresh state directory) as a pasidd of record format
 * version v < 3 wrote it: that version in the header, no REC_TXN (op 17, version 3), and
 * below 2 each REC_MAP (op 5) without the work queue that version 2 added at its end (the 4
 * bytes of an empty string here). Frames
 * are u32 length, u32 CRC-32C of the length's bytes and the record, then the record; the
 * zeros after the last frame stay zeros. */
static void
downgrade_journal(const char *dir, uint8_t v)
{
	char path[512];
	uint8_t *in, *out;
	size_t n, i, o;
	FILE *f;

	snprintf(path, sizeof(path), "%s/journal.0", dir);
	f = fopen(path, "rb");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
	n = (size_t)ftell(f);
	rewind(f);
	in = malloc(n);
	out = calloc(1, n);
	ck_assert(in && out && n >= 24);
	ck_assert_uint_eq(fread(in, 1, n, f), n);
	fclose(f);
	memcpy(out, in, 24);
	for (i = o = 24; i + 8 <= n;) {
		uint32_t len = (uint32_t)in[i] | (uint32_t)in[i + 1] << 8 |
		               (uint32_t)in[i + 2] << 16 | (uint32_t)in[i + 3] << 24,
		         crc;
		const uint8_t *rec = in + i + 8;
		uint32_t keep = len;

		if (!len || i + 8 + len > n)
			break;
		if (rec[0] == 17) { /* REC_TXN came with version 3: such a pasidd wrote none */
			i += 8 + len;
			continue;
		}
		if (rec[0] == 5 && v < 2) {
			ck_assert(len > 4 && !memcmp(rec + len - 4, "\0\0\0\0", 4));
			keep = len - 4;
		}
		/* The CRC covers the length and the record, which the CRC sits between: computed
		 * over them side by side first. */
		for (int k = 0; k < 4; k++)
			out[o + 4 + k] = (uint8_t)(keep >> (8 * k));
		memcpy(out + o + 8, rec, keep);
		crc = crc32c(out + o + 4, 4 + keep);
		memcpy(out + o, out + o + 4, 4);
		for (int k = 0; k < 4; k++)
			out[o + 4 + k] = (uint8_t)(crc >> (8 * k));
		o += 8 + keep;
		i += 8 + len;
	}
	f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(out, 1, n, f), n);
	ck_assert_int_eq(fclose(f), 0);
	free(in);
	free(out);
	ck_assert_int_eq(headers(dir, v), 1);
}

/* A state of version 0, 1 or 2 (what the pasidds before attachments, before work queues and
 * before the changes of record format version 3 wrote: these records, without a work queue
 * before 2, another number in the headers): pasidd -n reads
 * it and writes nothing; pasidd upgrades it before it serves, and what it held is there. */
START_TEST(earlier_version_upgraded)
{
	char *args[] = {"-n",          "--backend", "sim",      "--socket",  d.sock,
	                "--state-dir", d.state,     "--config", "/dev/null", NULL};
	char *before, *err = NULL, want[64];

	ck_assert_int_eq(it_setup(&d, &fd, NULL), 0);
	IT_OK(it_call(fd, "vm.register", "{\"vm\":\"u\"}"));
	/* One at a time: a count allocation is one REC_MAP_RUN (version 3), which the
	 * earlier versions did not have; they wrote a REC_MAP each. */
	for (int i = 0; i < 3; i++)
		IT_OK(it_call(fd, "pasid.alloc", "{\"vm\":\"u\",\"type\":\"shared\"}"));
	close(fd);
	fd = -1;
	ck_assert_int_eq(it_stop(&d), 0);
	downgrade_journal(d.state, (uint8_t)_i);

	before = it_keep_str(itu_dir_digest(d.state));
	ck_assert_int_eq(itu_run(NULL, &err, 60, args), 0);
	it_keep_str(err);
	ck_assert_str_eq(it_keep_str(itu_dir_digest(d.state)), before);

	ck_assert_int_eq(it_restart(&d, NULL), 0);
	fd = it_connect(&d);
	ck_assert_int_ge(fd, 0);
	snprintf(want, sizeof(want), "from record format version %d to 3", _i);
	ck_assert_msg(strstr(it_log(&d), "upgraded the state") && strstr(it_log(&d), want), "%s",
	              it_log(&d));
	ck_assert_int_eq(headers(d.state, -4), 2); /* snapshot.1 and journal.1, version 3 */
	ck_assert_int_eq(it_int(IT_OK(it_call(fd, "vm.show", "{\"vm\":\"u\"}")), "pasids"), 3);
	IT_OK(it_call(fd, "device.assign", "{\"vm\":\"u\",\"device\":\"" DEV "\"}"));
	IT_OK(attach(fd, "u", 2, 1, 1));
	restart_after_kill9();
	ck_assert_str_eq(attached_of(fd, "u", 2), LOST(1, 1));
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("attach_restart");
	TCase *tc = tcase_create("attach_restart");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, attachments_survive_kill9);
	tcase_add_test(tc, lost_attachment_goes_with_its_owner);
	tcase_add_loop_test(tc, earlier_version_upgraded, 0, 3);
	suite_add_tcase(s, tc);
	return ck_run(s);
}
