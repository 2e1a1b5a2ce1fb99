/* log.c on stderr: every message and every structured entry leaves in one write(2), whole and
 * in the format pasidd(8) documents. stderr is replaced by one end of a SOCK_SEQPACKET pair,
 * where each write is one packet, so a line written in pieces shows as several packets (as it
 * did when an audited request wrote its entry a character at a time). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <check.h>

#include "ck_main.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

static int peer = -1;

/* stderr into a packet socket; the other end kept in peer. */
static void
setup(void)
{
	int sv[2];

	unsetenv("JOURNAL_STREAM");
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	ck_assert_int_eq(dup2(sv[1], STDERR_FILENO), STDERR_FILENO);
	close(sv[1]);
	peer = sv[0];
	log_setup(1);
	log_set_level(LOG_INFO);
}

/* The packets written so far, each checked to be one whole line; how many there were. */
static int
packets(char lines[][10000], int max)
{
	static char packet[10000];
	int n = 0;

	for (;;) {
		/* Into a buffer of its own: lines[max] is past the caller's array. */
		ssize_t r = recv(peer, packet, sizeof(packet) - 1, MSG_DONTWAIT);

		if (r < 0)
			break;
		ck_assert_int_lt(n, max);
		memcpy(lines[n], packet, (size_t)r);
		lines[n][r] = '\0';
		ck_assert_msg(r > 0 && lines[n][r - 1] == '\n' &&
		                  !memchr(lines[n], '\n', (size_t)r - 1),
		              "packet %d is not one whole line: '%s'", n, lines[n]);
		n++;
	}
	return n;
}

START_TEST(message_in_one_write)
{
	char got[4][10000];

	log_info("replayed %d records in %.1f ms", 42, 1.5);
	log_debug("not kept at level info");
	log_warn("%s", "a warning");
	ck_assert_int_eq(packets(got, 4), 2);
	ck_assert_str_eq(got[0], "pasidd: replayed 42 records in 1.5 ms\n");
	ck_assert_str_eq(got[1], "pasidd: a warning\n");
}
END_TEST

START_TEST(entry_in_one_write)
{
	const struct log_field f[] = {
	    {"PASIDD_VM", "vm1"}, {"PASIDD_GPASID", "5"}, {"PASIDD_HPASID", "4096"}, {"SEQ", "3"}};
	char got[4][10000];

	log_entry(LOG_INFO, "0123456789abcdef0123456789abcdef", f, 4, "1 PASID allocated");
	log_entry(LOG_NOTICE, NULL, NULL, 0, "no fields");
	ck_assert_int_eq(packets(got, 4), 2);
	ck_assert_str_eq(got[0], "pasidd: 1 PASID allocated [vm=vm1 gpasid=5 hpasid=4096 seq=3]\n");
	ck_assert_str_eq(got[1], "pasidd: no fields\n");
}
END_TEST

/* Longer than the line's stack buffer: still one write, nothing cut. */
START_TEST(long_entry_whole)
{
	static char value[6000], msg[3000], want[10000];
	const struct log_field f[] = {{"PASIDD_DEVICE", value}};
	char got[2][10000];

	memset(value, 'd', sizeof(value) - 1);
	memset(msg, 'm', sizeof(msg) - 1);
	log_entry(LOG_ERR, NULL, f, 1, msg);
	ck_assert_int_eq(packets(got, 2), 1);
	snprintf(want, sizeof(want), "pasidd: %s [device=%s]\n", msg, value);
	ck_assert_str_eq(got[0], want);
	log_err("%s", value);
	ck_assert_int_eq(packets(got, 2), 1);
	snprintf(want, sizeof(want), "pasidd: %s\n", value);
	ck_assert_str_eq(got[0], want);
}
END_TEST

/* Under journald's stream (JOURNAL_STREAM set, stderr not that stream): "<N>" prefixes. */
START_TEST(priority_prefix)
{
	const struct log_field f[] = {{"PASIDD_VM", "v"}};
	char got[2][10000];

	setenv("JOURNAL_STREAM", "0:0", 1);
	log_setup(1);
	log_entry(LOG_WARNING, NULL, f, 1, "owner gone");
	log_notice("reloaded");
	ck_assert_int_eq(packets(got, 2), 2);
	ck_assert_str_eq(got[0], "<4>owner gone [vm=v]\n");
	ck_assert_str_eq(got[1], "<5>reloaded\n");
}
END_TEST

/* The packets written so far, concatenated in out (cap bytes), each checked to end a line;
 * how many there were. */
static int
held_packets(char *out, size_t cap)
{
	static char pkt[1 << 16];
	size_t len = 0;
	int n = 0;

	for (;;) {
		ssize_t r = recv(peer, pkt, sizeof(pkt), MSG_DONTWAIT);

		if (r < 0)
			break;
		ck_assert_msg(r > 0 && pkt[r - 1] == '\n', "packet %d does not end a line", n);
		ck_assert_uint_lt(len + (size_t)r, cap);
		memcpy(out + len, pkt, (size_t)r);
		len += (size_t)r;
		n++;
	}
	out[len] = '\0';
	return n;
}

/* Held entries (the audit trail's of one commit) leave together, in order, in one write. */
START_TEST(held_entries_in_one_write)
{
	static char got[1 << 16], want[1 << 16];
	size_t len = 0;

	log_hold();
	log_hold(); /* nested: the outer release writes */
	for (int i = 0; i < 20; i++) {
		char seq[16];
		const struct log_field f[] = {{"PASIDD_VM", "vm1"}, {"PASIDD_SEQ", seq}};

		snprintf(seq, sizeof(seq), "%d", i);
		log_entry(LOG_INFO, NULL, f, 2, "1 PASID allocated");
		len += (size_t)snprintf(want + len, sizeof(want) - len,
		                        "pasidd: 1 PASID allocated [vm=vm1 seq=%d]\n", i);
		if (i == 10) {
			log_warn("in between %d", i);
			len += (size_t)snprintf(want + len, sizeof(want) - len,
			                        "pasidd: in between %d\n", i);
		}
	}
	log_release();
	ck_assert_int_eq(held_packets(got, sizeof(got)), 0);
	log_release();
	ck_assert_int_eq(held_packets(got, sizeof(got)), 1);
	ck_assert_str_eq(got, want);
	/* Not held any more: one write a line again. */
	log_info("after");
	ck_assert_int_eq(held_packets(got, sizeof(got)), 1);
	ck_assert_str_eq(got, "pasidd: after\n");
}
END_TEST

/* More than the held buffer takes: several writes, each of whole lines, all in order; a line
 * larger than the buffer alone in its write, after what came before it. */
START_TEST(held_overflow_whole_lines)
{
	static char got[1 << 17], want[1 << 17], big[20000];
	const struct log_field bf[] = {{"PASIDD_DEVICE", big}};
	size_t len = 0;
	int n;

	memset(big, 'b', sizeof(big) - 1);
	log_hold();
	for (int i = 0; i < 400; i++) {
		char seq[16];
		const struct log_field f[] = {{"PASIDD_SEQ", seq}};

		snprintf(seq, sizeof(seq), "%d", i);
		log_entry(LOG_INFO, NULL, f, 1, "an entry of about sixty bytes on stderr...");
		len += (size_t)snprintf(want + len, sizeof(want) - len,
		                        "pasidd: an entry of about sixty bytes on stderr... "
		                        "[seq=%d]\n",
		                        i);
		if (i == 200) {
			log_entry(LOG_INFO, NULL, bf, 1, "big");
			len += (size_t)snprintf(want + len, sizeof(want) - len,
			                        "pasidd: big [device=%s]\n", big);
		}
	}
	log_release();
	n = held_packets(got, sizeof(got));
	ck_assert_int_ge(n, 3);
	ck_assert_int_le(n, 6);
	ck_assert_str_eq(got, want);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("log");
	TCase *tc = ck_case(s, "stderr", setup, NULL, 0);

	tcase_add_test(tc, message_in_one_write);
	tcase_add_test(tc, entry_in_one_write);
	tcase_add_test(tc, long_entry_whole);
	tcase_add_test(tc, priority_prefix);
	tcase_add_test(tc, held_entries_in_one_write);
	tcase_add_test(tc, held_overflow_whole_lines);
	return ck_main(s, NULL);
}
