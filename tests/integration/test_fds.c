/* Descriptors riding along a request (SCM_RIGHTS) belong to that request: ones that no
 * method takes are closed once it is answered, never left for a later message. */
#include <check.h>

#include "ck_main.h"
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

static struct it_daemon d;

static void
teardown(void)
{
	it_cleanup(&d);
}

static int
send_with_fd(int sock, const char *line, int fd)
{
	return it_send_fd(sock, line, strlen(line), fd);
}

/* Whether the read end sees EOF, i.e. every copy of the write end is closed. */
static int
pipe_closed(int rd)
{
	struct pollfd p = {.fd = rd, .events = POLLIN};
	char c;

	return poll(&p, 1, 10000) == 1 && read(rd, &c, 1) == 0;
}

START_TEST(unclaimed_fds_are_closed)
{
	int sock, p[2];
	char *r;

	ck_assert_int_eq(it_start(&d, NULL), 0);
	sock = it_connect(&d);
	for (int round = 0; round < 20; round++) {
		ck_assert_int_eq(pipe(p), 0);
		ck_assert_int_eq(
		    send_with_fd(sock, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"vm.list\"}\n",
		                 p[1]),
		    0);
		close(p[1]);
		r = it_recvline(sock, 5000);
		ck_assert_ptr_nonnull(r);
		ck_assert_str_eq(r, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"vms\":[]}}");
		free(r);
		/* The daemon held the only other copy: it is gone now. */
		ck_assert_int_eq(pipe_closed(p[0]), 1);
		close(p[0]);
	}
	/* A descriptor with a message that is not complete yet stays until it is. */
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(send_with_fd(sock, "{\"jsonrpc\":\"2.0\",\"id\":2,", p[1]), 0);
	close(p[1]);
	struct pollfd pf = {.fd = p[0], .events = POLLIN};
	ck_assert_int_eq(poll(&pf, 1, 200), 0);
	ck_assert_int_eq(it_send(sock, "\"method\":\"vm.list\"}\n", 20), 0);
	r = it_recvline(sock, 5000);
	ck_assert_ptr_nonnull(r);
	free(r);
	ck_assert_int_eq(pipe_closed(p[0]), 1);
	close(p[0]);
	close(sock);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("fds");
	TCase *tc = tcase_create("fds");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, unclaimed_fds_are_closed);
	suite_add_tcase(s, tc);
	return ck_run(s);
}
