/* The fd store, with the test playing systemd: it listens on the notification socket, keeps
 * what pasidd stores with FDSTORE=1 under its FDNAME (and, as systemd does, drops a
 * descriptor of a file it keeps already), drops what FDSTOREREMOVE=1 names, and passes the
 * kept descriptors back to the next start with LISTEN_FDS/LISTEN_FDNAMES (fdstore-launcher).
 * The attachments' descriptors are pipes, so that the test can tell which process still
 * holds a copy. */
#include <check.h>

#include "ck_main.h"
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/kcmp.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define DEVICE     "0000:00:04.0"
#define DEVICE_HEX "00000020" /* its BDF as the store's names write it */
#define MAX_STORED 32

/* The service manager's side. */
struct sm {
	int sock;
	char path[128];
	struct {
		int fd;
		char name[128];
	} kept[MAX_STORED];
	int nkept;
	int ready;   /* READY=1 messages seen */
	int removed; /* FDSTOREREMOVE=1 messages seen */
};

static struct it_daemon d;
static struct sm sm;

static void
sm_open(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	memset(&sm, 0, sizeof(sm));
	ck_assert_int_eq(it_prepare(&d), 0);
	snprintf(sm.path, sizeof(sm.path), "%s/notify", d.dir);
	ck_assert_int_lt(strlen(sm.path), sizeof(sa.sun_path));
	memcpy(sa.sun_path, sm.path, strlen(sm.path) + 1);
	sm.sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(sm.sock, 0);
	ck_assert_int_eq(bind(sm.sock, (struct sockaddr *)&sa, sizeof(sa)), 0);
	setenv("IT_NOTIFY_SOCKET", sm.path, 1);
	unsetenv("IT_STORE_FDS");
	it_set_launcher(FDSTORE_LAUNCHER);
}

static void
sm_close(void)
{
	for (int i = 0; i < sm.nkept; i++)
		close(sm.kept[i].fd);
	sm.nkept = 0;
	if (sm.sock > 0)
		close(sm.sock);
	sm.sock = -1;
	unsetenv("IT_NOTIFY_SOCKET");
	unsetenv("IT_STORE_FDS");
	it_set_launcher(NULL);
}

static void
teardown(void)
{
	it_cleanup(&d);
	sm_close();
	it_release_kept();
}

/* The value of a "KEY=value" line of a notification, or NULL. */
static const char *
field(const char *msg, const char *key, char *out, size_t len)
{
	size_t k = strlen(key);

	for (const char *p = msg; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (!strncmp(p, key, k) && p[k] == '=') {
			size_t n = strcspn(p + k + 1, "\n");

			snprintf(out, len, "%.*s", (int)n, p + k + 1);
			return out;
		}
	return NULL;
}

/* systemd's rule: one entry per open file, whatever the names. */
static bool
kept_already(int fd)
{
	for (int i = 0; i < sm.nkept; i++)
		if (syscall(SYS_kcmp, getpid(), getpid(), KCMP_FILE, sm.kept[i].fd, fd) == 0)
			return true;
	return false;
}

/* Handles one notification, waiting up to timeout_ms for it; 0 when none came. */
static int
sm_pump(int timeout_ms)
{
	char msg[4096], name[128], flag[8];
	union {
		char b[CMSG_SPACE(8 * sizeof(int))];
		struct cmsghdr align;
	} cbuf;
	struct iovec iov = {.iov_base = msg, .iov_len = sizeof(msg) - 1};
	struct msghdr mh = {.msg_iov = &iov,
	                    .msg_iovlen = 1,
	                    .msg_control = cbuf.b,
	                    .msg_controllen = sizeof(cbuf)};
	struct pollfd p = {.fd = sm.sock, .events = POLLIN};
	int fds[8], nfds = 0;
	ssize_t n;

	if (poll(&p, 1, timeout_ms) != 1)
		return 0;
	n = recvmsg(sm.sock, &mh, MSG_CMSG_CLOEXEC);
	ck_assert_int_ge(n, 0);
	msg[n] = '\0';
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
			nfds = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
			memcpy(fds, CMSG_DATA(cm), (size_t)nfds * sizeof(int));
		}
	if (field(msg, "READY", flag, sizeof(flag)))
		sm.ready++;
	if (field(msg, "FDSTORE", flag, sizeof(flag))) {
		ck_assert_msg(field(msg, "FDNAME", name, sizeof(name)), "FDSTORE=1 without a name");
		ck_assert_int_eq(nfds, 1);
		ck_assert_int_lt(sm.nkept, MAX_STORED);
		if (kept_already(fds[0])) {
			close(fds[0]);
			return 1;
		}
		sm.kept[sm.nkept].fd = fds[0];
		snprintf(sm.kept[sm.nkept++].name, sizeof(name), "%s", name);
		return 1;
	}
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	if (field(msg, "FDSTOREREMOVE", flag, sizeof(flag))) {
		ck_assert_msg(field(msg, "FDNAME", name, sizeof(name)),
		              "FDSTOREREMOVE without a name");
		sm.removed++;
		for (int i = 0; i < sm.nkept; i++)
			if (!strcmp(sm.kept[i].name, name)) {
				close(sm.kept[i].fd);
				sm.kept[i--] = sm.kept[--sm.nkept];
			}
	}
	return 1;
}

/* Pumps until cond holds or 10 s pass; whether it holds. */
#define SM_UNTIL(cond)                                                                             \
	({                                                                                         \
		struct timespec t0_, t_;                                                           \
		clock_gettime(CLOCK_MONOTONIC, &t0_);                                              \
		for (;;) {                                                                         \
			if (cond)                                                                  \
				break;                                                             \
			clock_gettime(CLOCK_MONOTONIC, &t_);                                       \
			if (t_.tv_sec - t0_.tv_sec > 10)                                           \
				break;                                                             \
			sm_pump(100);                                                              \
		}                                                                                  \
		(bool)(cond);                                                                      \
	})

static int
sm_find(const char *name)
{
	for (int i = 0; i < sm.nkept; i++)
		if (!strcmp(sm.kept[i].name, name))
			return i;
	return -1;
}

/* The next start gets every kept descriptor back, as systemd passes its fd store. */
static void
sm_pass_kept(void)
{
	char spec[MAX_STORED * 140] = "";

	for (int i = 0; i < sm.nkept; i++) {
		char one[140];

		ck_assert_int_eq(fcntl(sm.kept[i].fd, F_SETFD, 0), 0);
		snprintf(one, sizeof(one), "%s%d=%s", i ? " " : "", sm.kept[i].fd, sm.kept[i].name);
		strcat(spec, one);
	}
	setenv("IT_STORE_FDS", spec, 1);
}

/* After a start: the kept descriptors are not for the test's own children. */
static void
sm_keep_private(void)
{
	for (int i = 0; i < sm.nkept; i++)
		fcntl(sm.kept[i].fd, F_SETFD, FD_CLOEXEC);
	unsetenv("IT_STORE_FDS");
}

static bool
same_file(int a, int b)
{
	struct stat sa, sb;

	return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino;
}

/* Whether the read end of a pipe sees EOF within 5 s: no copy of the write end is left. */
static bool
pipe_closed(int rd)
{
	struct pollfd p = {.fd = rd, .events = POLLIN};
	char c;

	return poll(&p, 1, 5000) == 1 && read(rd, &c, 1) == 0;
}

/* A VM "v" holding DEVICE with one local PASID; its hPASID. */
static uint32_t
setup_vm(int fd)
{
	struct json_object *r;

	IT_OK(it_callf(fd, "vm.register", "{\"vm\":\"v\"}"));
	IT_OK(it_callf(fd, "device.assign", "{\"vm\":\"v\",\"device\":\"" DEVICE "\"}"));
	r = IT_OK(it_callf(fd, "pasid.alloc",
	                   "{\"vm\":\"v\",\"type\":\"local\",\"device\":\"" DEVICE
	                   "\",\"gpasid\":7}"));
	return (uint32_t)it_int(r, "hpasid");
}

/* pasid.attach of v's gpasid with the VMM's descriptors (the write ends of pipes). */
static struct json_object *
attach(int fd, unsigned gpasid, int iommufd, int devfd)
{
	char req[256];
	int fds[2] = {iommufd, devfd}, n;

	n = snprintf(req, sizeof(req),
	             "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"pasid.attach\",\"params\":{"
	             "\"vm\":\"v\",\"gpasid\":%u,\"device\":\"" DEVICE "\",\"pt_id\":5,"
	             "\"dev_id\":3,\"fds\":2}}\n",
	             gpasid);
	ck_assert_int_eq(it_send_fds(fd, req, (size_t)n, fds, 2), 0);
	return it_recvjson(fd, 5000);
}

/* The attachment of v's gPASID 7 as vm.show has it, or NULL. */
static struct json_object *
shown_attachment(int fd)
{
	struct json_object *r = IT_OK(it_callf(fd, "vm.show", "{\"vm\":\"v\"}")), *maps, *atts;

	if (!json_object_object_get_ex(r, "mappings", &maps) ||
	    json_object_array_length(maps) != 1 ||
	    !json_object_object_get_ex(json_object_array_get_idx(maps, 0), "attached", &atts) ||
	    json_object_array_length(atts) != 1)
		return NULL;
	return json_object_array_get_idx(atts, 0);
}

static void
name_of(uint32_t hpasid, unsigned seq, char *name)
{
	sprintf(name, "pasidd-a%u-%" PRIu32 "-" DEVICE_HEX, seq, hpasid);
}

/* The pair an attachment's stored entry holds (a socket with both in its queue), peeked so
 * that it stays there. */
static void
unstash(int stash, int *iommufd, int *devfd)
{
	union {
		char b[CMSG_SPACE(2 * sizeof(int))];
		struct cmsghdr align;
	} cbuf;
	char byte;
	struct iovec iov = {.iov_base = &byte, .iov_len = 1};
	struct msghdr mh = {.msg_iov = &iov,
	                    .msg_iovlen = 1,
	                    .msg_control = cbuf.b,
	                    .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *cm;

	ck_assert_int_eq(recvmsg(stash, &mh, MSG_PEEK | MSG_DONTWAIT | MSG_CMSG_CLOEXEC), 1);
	cm = CMSG_FIRSTHDR(&mh);
	ck_assert_ptr_nonnull(cm);
	ck_assert_int_eq(cm->cmsg_len, CMSG_LEN(2 * sizeof(int)));
	memcpy(iommufd, CMSG_DATA(cm), sizeof(int));
	memcpy(devfd, CMSG_DATA(cm) + sizeof(int), sizeof(int));
}

/* Stores a stray pair under name: a socket whose queue holds iommufd and devfd, as pasidd
 * stores an attachment's. */
static void
sm_keep_pair(const char *name, int iommufd, int devfd)
{
	int sp[2], fds[2] = {iommufd, devfd};
	union {
		char b[CMSG_SPACE(sizeof(fds))];
		struct cmsghdr align;
	} cbuf;
	char byte = 'a';
	struct iovec iov = {.iov_base = &byte, .iov_len = 1};
	struct msghdr mh = {.msg_iov = &iov,
	                    .msg_iovlen = 1,
	                    .msg_control = cbuf.b,
	                    .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sp), 0);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(fds));
	memcpy(CMSG_DATA(cm), fds, sizeof(fds));
	ck_assert_int_eq(sendmsg(sp[1], &mh, 0), 1);
	close(sp[1]);
	sm.kept[sm.nkept].fd = sp[0];
	snprintf(sm.kept[sm.nkept++].name, sizeof(sm.kept[0].name), "%s", name);
}

/* An attachment's descriptors go to the store under its name when it is made, and leave it
 * when its detach is durable; pasidd keeps no copy after that. */
START_TEST(stored_then_removed)
{
	int fd, io[2], dev[2], k, si, sd;
	char name[128];
	uint32_t hpasid;

	sm_open();
	ck_assert_int_eq(it_restart(&d, NULL), 0);
	ck_assert(SM_UNTIL(sm.ready == 1));
	fd = it_connect(&d);
	hpasid = setup_vm(fd);
	ck_assert_int_eq(pipe2(io, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(dev, O_CLOEXEC), 0);
	IT_OK(attach(fd, 7, io[1], dev[1]));
	name_of(hpasid, 1, name);
	ck_assert_msg(SM_UNTIL(sm_find(name) >= 0), "not stored as %s", name);
	ck_assert_int_eq(sm.nkept, 1);
	k = sm_find(name);
	unstash(sm.kept[k].fd, &si, &sd);
	ck_assert(same_file(si, io[1]));
	ck_assert(same_file(sd, dev[1]));
	close(si);
	close(sd);
	close(io[1]);
	close(dev[1]);

	IT_OK(
	    it_callf(fd, "pasid.detach", "{\"vm\":\"v\",\"gpasid\":7,\"device\":\"" DEVICE "\"}"));
	ck_assert_msg(SM_UNTIL(sm.nkept == 0), "%d descriptors still stored", sm.nkept);
	ck_assert_int_eq(sm.removed, 1);
	/* The store's copy is closed now (sm_pump), and pasidd's were before. */
	ck_assert(pipe_closed(io[0]));
	ck_assert(pipe_closed(dev[0]));
	close(io[0]);
	close(dev[0]);
	close(fd);
}
END_TEST

/* Two PASIDs of one device, attached by one VMM, share its iommufd and its device cdev:
 * systemd would keep those files once, yet each attachment's entry must come back. */
START_TEST(shared_descriptors_are_stored_per_attachment)
{
	int fd, io[2], dev[2];
	char n1[128], n2[128];
	uint32_t h1, h2;

	sm_open();
	ck_assert_int_eq(it_restart(&d, NULL), 0);
	fd = it_connect(&d);
	h1 = setup_vm(fd);
	h2 = (uint32_t)it_int(IT_OK(it_callf(fd, "pasid.alloc",
	                                     "{\"vm\":\"v\",\"type\":\"local\",\"device\":\"" DEVICE
	                                     "\",\"gpasid\":8}")),
	                      "hpasid");
	ck_assert_int_eq(pipe2(io, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(dev, O_CLOEXEC), 0);
	IT_OK(attach(fd, 7, io[1], dev[1]));
	IT_OK(attach(fd, 8, io[1], dev[1]));
	name_of(h1, 1, n1);
	name_of(h2, 2, n2);
	ck_assert_msg(SM_UNTIL(sm_find(n1) >= 0 && sm_find(n2) >= 0), "not stored as %s and %s", n1,
	              n2);
	close(io[1]);
	close(dev[1]);
	close(fd);
	it_kill(&d);

	sm_pass_kept();
	ck_assert_int_eq(it_restart(&d, NULL), 0);
	sm_keep_private();
	ck_assert_ptr_nonnull(strstr(it_log(&d), "2 attachment(s) in the state, 2 with their "
	                                         "descriptors back"));
	fd = it_connect(&d);
	IT_OK(
	    it_callf(fd, "pasid.detach", "{\"vm\":\"v\",\"gpasid\":7,\"device\":\"" DEVICE "\"}"));
	ck_assert(SM_UNTIL(sm_find(n1) < 0));
	ck_assert_int_ge(sm_find(n2), 0);
	IT_OK(
	    it_callf(fd, "pasid.detach", "{\"vm\":\"v\",\"gpasid\":8,\"device\":\"" DEVICE "\"}"));
	ck_assert(SM_UNTIL(sm.nkept == 0));
	ck_assert(pipe_closed(io[0]));
	ck_assert(pipe_closed(dev[0]));
	close(io[0]);
	close(dev[0]);
	close(fd);
}
END_TEST

/* A restart gets the descriptors back from the store: the attachment is whole again (not
 * lost), it stays stored (a second restart gets it too), and pasidd can detach it, after
 * which nothing holds a copy. */
START_TEST(restart_gets_them_back)
{
	int fd, io[2], dev[2];
	char name[128];
	uint32_t hpasid;
	struct json_object *att;

	sm_open();
	ck_assert_int_eq(it_restart(&d, NULL), 0);
	fd = it_connect(&d);
	hpasid = setup_vm(fd);
	ck_assert_int_eq(pipe2(io, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(dev, O_CLOEXEC), 0);
	IT_OK(attach(fd, 7, io[1], dev[1]));
	close(io[1]);
	close(dev[1]);
	name_of(hpasid, 1, name);
	ck_assert(SM_UNTIL(sm_find(name) >= 0));
	close(fd);
	for (int round = 0; round < 2; round++) {
		it_kill(&d);
		sm_pass_kept();
		ck_assert_int_eq(it_restart(&d, NULL), 0);
		sm_keep_private();
		fd = it_connect(&d);
		att = shown_attachment(fd);
		ck_assert_msg(att, "the attachment is not in vm.show after restart %d", round + 1);
		IT_JSON_EQ(att, "{\"device\":\"" DEVICE "\",\"pt_id\":5,\"dev_id\":3}");
		ck_assert_ptr_nonnull(strstr(it_log(&d), "1 with their descriptors back"));
		/* Passed back, not stored again. */
		sm_pump(200);
		ck_assert_int_eq(sm.nkept, 1);
		ck_assert_int_ge(sm_find(name), 0);
		if (round == 0)
			close(fd);
	}
	IT_OK(
	    it_callf(fd, "pasid.detach", "{\"vm\":\"v\",\"gpasid\":7,\"device\":\"" DEVICE "\"}"));
	ck_assert_msg(SM_UNTIL(sm.nkept == 0), "%d descriptors still stored", sm.nkept);
	ck_assert(pipe_closed(io[0]));
	ck_assert(pipe_closed(dev[0]));
	close(io[0]);
	close(dev[0]);
	close(fd);
}
END_TEST

/* A restart whose store lost the descriptors: the attachment stays as the journal has it,
 * marked lost, and the VMM attaching again gives it descriptors again. */
START_TEST(restart_without_them_keeps_it_lost)
{
	int fd, io[2], dev[2];
	struct json_object *att;

	sm_open();
	ck_assert_int_eq(it_restart(&d, NULL), 0);
	fd = it_connect(&d);
	setup_vm(fd);
	ck_assert_int_eq(pipe2(io, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(dev, O_CLOEXEC), 0);
	IT_OK(attach(fd, 7, io[1], dev[1]));
	ck_assert(SM_UNTIL(sm.nkept == 1));
	close(fd);
	it_kill(&d);
	close(sm.kept[0].fd);
	sm.nkept = 0;

	ck_assert_int_eq(it_restart(&d, NULL), 0);
	fd = it_connect(&d);
	att = shown_attachment(fd);
	ck_assert_msg(att, "the attachment is not in vm.show after the restart");
	IT_JSON_EQ(att, "{\"device\":\"" DEVICE "\",\"pt_id\":5,\"dev_id\":3,\"lost\":true}");
	ck_assert_ptr_nonnull(strstr(it_log(&d), "did not come back"));
	IT_OK(attach(fd, 7, io[1], dev[1]));
	att = shown_attachment(fd);
	IT_JSON_EQ(att, "{\"device\":\"" DEVICE "\",\"pt_id\":5,\"dev_id\":3}");
	ck_assert(SM_UNTIL(sm.nkept == 1));
	close(io[0]);
	close(io[1]);
	close(dev[0]);
	close(dev[1]);
	close(fd);
}
END_TEST

/* Entries the journal knows nothing of: an attach that was never recorded is detached and
 * dropped from the store at start-up, without waiting for any request; a descriptor that is
 * not pasidd's is closed. */
START_TEST(strays_are_detached_and_dropped)
{
	int io[2], dev[2], other[2], fd;

	sm_open();
	ck_assert_int_eq(pipe(io), 0);
	ck_assert_int_eq(pipe(dev), 0);
	ck_assert_int_eq(pipe(other), 0);
	sm_keep_pair("pasidd-a7-300-" DEVICE_HEX, io[1], dev[1]);
	close(io[1]);
	close(dev[1]);
	sm.kept[sm.nkept].fd = other[1];
	snprintf(sm.kept[sm.nkept++].name, sizeof(sm.kept[0].name), "somebody-else");
	sm_pass_kept();
	ck_assert_int_eq(it_restart(&d, NULL), 0);
	sm_keep_private();
	ck_assert(SM_UNTIL(sm.removed == 1));
	ck_assert_int_eq(sm.nkept, 1);
	ck_assert_int_ge(sm_find("somebody-else"), 0);
	ck_assert_ptr_nonnull(strstr(it_log(&d), "PASID 300 on " DEVICE " was attached but not "
	                                         "recorded before the restart"));
	ck_assert_ptr_nonnull(strstr(it_log(&d), "\"somebody-else\", which is not pasidd's"));
	/* pasidd closed every copy it was given; the store's stash went with FDSTOREREMOVE,
	 * and the test drops the one left. */
	close(sm.kept[0].fd);
	sm.nkept = 0;
	ck_assert(pipe_closed(io[0]));
	ck_assert(pipe_closed(dev[0]));
	ck_assert(pipe_closed(other[0]));
	fd = it_connect(&d);
	IT_JSON_EQ(IT_OK(it_callf(fd, "vm.list", NULL)), "{\"vms\":[]}");
	close(fd);
	close(io[0]);
	close(dev[0]);
	close(other[0]);
}
END_TEST

/* device.attach of v's DEVICE with the VMM's descriptors. */
static struct json_object *
rid_attach(int fd, int iommufd, int devfd)
{
	static const char req[] =
	    "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"device.attach\",\"params\":{\"vm\":\"v\","
	    "\"device\":\"" DEVICE "\",\"pt_id\":6,\"dev_id\":3,\"fds\":2}}\n";
	int fds[2] = {iommufd, devfd};

	ck_assert_int_eq(it_send_fds(fd, req, strlen(req), fds, 2), 0);
	return it_recvjson(fd, 5000);
}

/* A device's requester ID attachment (device.attach) is stored as hPASID 0's, comes back
 * with a restart and is attached again (before the device's PASIDs: the kernel wants the RID
 * attached first), and leaves the store with its detach; nothing holds a copy then. */
START_TEST(rid_attachment_restart)
{
	int fd, io[2], dev[2];
	struct json_object *r;
	const char *log, *rid, *pasid;

	sm_open();
	ck_assert_int_eq(it_restart(&d, NULL), 0);
	fd = it_connect(&d);
	setup_vm(fd);
	ck_assert_int_eq(pipe2(io, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(dev, O_CLOEXEC), 0);
	IT_OK(rid_attach(fd, io[1], dev[1]));
	IT_OK(attach(fd, 7, io[1], dev[1]));
	close(io[1]);
	close(dev[1]);
	ck_assert(SM_UNTIL(sm_find("pasidd-a1-0-" DEVICE_HEX) >= 0 && sm.nkept == 2));
	close(fd);
	it_kill(&d);

	sm_pass_kept();
	ck_assert_int_eq(it_restart(&d, NULL), 0);
	sm_keep_private();
	log = it_log(&d);
	ck_assert_ptr_nonnull(
	    strstr(log, "2 attachment(s) in the state, 2 with their descriptors"));
	rid = strstr(log, "sim: attached the requester ID of " DEVICE " (page table 6)");
	pasid = strstr(log, "sim: attached PASID 7 of " DEVICE);
	ck_assert_msg(rid && pasid && rid < pasid, "%s", log);
	fd = it_connect(&d);
	r = IT_OK(it_callf(fd, "vm.show", "{\"vm\":\"v\"}"));
	IT_JSON_EQ(it_get(r, "devices"),
	           "[{\"device\":\"" DEVICE "\",\"shared\":false,\"attached\":{\"pt_id\":6,"
	           "\"dev_id\":3}}]");
	IT_ERR(it_callf(fd, "device.detach", "{\"vm\":\"v\",\"device\":\"" DEVICE "\"}"), 1004,
	       "device");
	IT_OK(it_callf(fd, "vm.unregister", "{\"vm\":\"v\"}"));
	ck_assert_msg(SM_UNTIL(sm.nkept == 0), "%d descriptors still stored", sm.nkept);
	ck_assert(pipe_closed(io[0]));
	ck_assert(pipe_closed(dev[0]));
	close(io[0]);
	close(dev[0]);
	close(fd);
}
END_TEST

/* A stored requester ID attachment the journal does not have is detached and dropped. */
START_TEST(rid_stray_detached)
{
	int io[2], dev[2];

	sm_open();
	ck_assert_int_eq(pipe(io), 0);
	ck_assert_int_eq(pipe(dev), 0);
	sm_keep_pair("pasidd-a3-0-" DEVICE_HEX, io[1], dev[1]);
	close(io[1]);
	close(dev[1]);
	sm_pass_kept();
	ck_assert_int_eq(it_restart(&d, NULL), 0);
	sm_keep_private();
	ck_assert(SM_UNTIL(sm.removed == 1));
	ck_assert_ptr_nonnull(strstr(it_log(&d), "the requester ID of " DEVICE
	                                         " was attached but not recorded before the "
	                                         "restart"));
	ck_assert_int_eq(sm.nkept, 0);
	ck_assert(pipe_closed(io[0]));
	ck_assert(pipe_closed(dev[0]));
	close(io[0]);
	close(dev[0]);
}
END_TEST

/* Without a service manager nothing is stored, and the first attachment says, once, what a
 * restart will then lose. */
START_TEST(no_store_warns_once)
{
	const char *log, *w = "no service manager fd store";
	int fd, p[2];

	ck_assert_int_eq(it_start(&d, NULL), 0);
	fd = it_connect(&d);
	setup_vm(fd);
	IT_OK(it_callf(fd, "pasid.alloc",
	               "{\"vm\":\"v\",\"type\":\"local\",\"device\":\"" DEVICE "\",\"gpasid\":8}"));
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	ck_assert_ptr_null(strstr(it_log(&d), w));
	IT_OK(attach(fd, 7, p[1], p[1]));
	IT_OK(
	    it_callf(fd, "pasid.detach", "{\"vm\":\"v\",\"gpasid\":7,\"device\":\"" DEVICE "\"}"));
	IT_OK(attach(fd, 7, p[1], p[1]));
	log = it_log(&d);
	ck_assert_ptr_nonnull(strstr(log, w));
	ck_assert_ptr_null(strstr(strstr(log, w) + 1, w));
	close(p[0]);
	close(p[1]);
	close(fd);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("fdstore");
	TCase *tc = ck_case(s, "fdstore", NULL, teardown, 0);

	tcase_add_test(tc, stored_then_removed);
	tcase_add_test(tc, shared_descriptors_are_stored_per_attachment);
	tcase_add_test(tc, restart_gets_them_back);
	tcase_add_test(tc, restart_without_them_keeps_it_lost);
	tcase_add_test(tc, strays_are_detached_and_dropped);
	tcase_add_test(tc, no_store_warns_once);
	tcase_add_test(tc, rid_attachment_restart);
	tcase_add_test(tc, rid_stray_detached);
	return ck_main(s, NULL);
}
