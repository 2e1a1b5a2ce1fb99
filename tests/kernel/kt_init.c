/* PID 1 of the kernel-test guests (tests/kernel/README.md). It sets the guest up (devtmpfs,
 * proc, sysfs, debugfs, cgroup2, tmpfs on /run and /tmp; the devices named on the command
 * line bound to vfio-pci), plays the service manager for pasidd (a NOTIFY_SOCKET listener
 * that waits for READY=1 and keeps what FDSTORE=1 stores under its FDNAME, handing it back as
 * LISTEN_FDS/LISTEN_FDNAMES/LISTEN_PID on a restart), drives the VMM stand-in, checks what
 * pasidd answers against what the kernel has (the VT-d PASID table in debugfs), prints one
 * "PASIDD-KT: [PASS]/[FAIL]" line per check and "PASIDD-KT-RESULT: pass=N fail=M", and powers
 * the machine off. pasidd's log goes to the console, each line prefixed "[pasidd] ".
 *
 * On 7.3, pasidd's BPF programs run too (the kernel has BTF and the BPF LSM, booted with
 * lsm=bpf): the attach gate refuses the stand-in's own PASID attach in enforce mode and lets
 * its RID attach through, the observer reports pasidd's attaches, and in audit mode the
 * stand-in's own attach is allowed, reported by the gate and flagged by the observer. The
 * race (kt_race=SECS, default 3): the stand-in flips the PASID flag of its attach argument
 * from a second thread, and every PASID attach that slips through the gate must be an ALARM
 * of the observer.
 *
 * Kernel command line: kt_mode=7.3 (VT-d with PASID, the edu device at 00:03.0 and the
 * vfio-user device with a PASID capability at 00:04.0) or kt_mode=6.12 (edu only, no PASID
 * attach in the kernel). */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#define PASIDD      "/bin/pasidd"
#define STANDIN     "/bin/vmm_standin"
#define SOCK        "/run/pasidd/pasidd.sock"
#define NOTIFY      "/run/kt/notify"
#define KT_CONF     "/run/kt/pasidd.conf" /* pasidd's configuration: [Bpf] AttachGate= */
#define DEBUGFS_VTD "/sys/kernel/debug/iommu/intel"
#define EDU         "0000:00:03.0"
#define VFU         "0000:00:04.0"
#define WATCHDOG_S  240
#define MAX_STORE   128

static int npass, nfail;

static void
pass(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	printf("PASIDD-KT: [PASS] ");
	vprintf(fmt, ap);
	printf("\n");
	fflush(stdout);
	va_end(ap);
	npass++;
}

static void
fail(const char *what, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	printf("PASIDD-KT: [FAIL] %s: ", what);
	vprintf(fmt, ap);
	printf("\n");
	fflush(stdout);
	va_end(ap);
	nfail++;
}

static void
info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	printf("PASIDD-KT: [INFO] ");
	vprintf(fmt, ap);
	printf("\n");
	fflush(stdout);
	va_end(ap);
}

/* Reports a check: passes when ok, fails with why otherwise. Returns ok. */
static bool
check(bool ok, const char *what, const char *fmt, ...)
{
	va_list ap;
	char why[1024];

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (ok)
		pass("%s", what);
	else
		fail(what, "%s", why);
	return ok;
}

static void
power_off(void)
{
	printf("PASIDD-KT-RESULT: pass=%d fail=%d\n", npass, nfail);
	fflush(stdout);
	sync();
	reboot(RB_POWER_OFF);
	for (;;)
		pause();
}

/* A hung step must not hang CI: the host's timeout is the last resort, this says where. */
static void
on_watchdog(int sig)
{
	static const char msg[] = "PASIDD-KT: [FAIL] watchdog: the guest tests did not finish in "
	                          "time\n";
	char res[64];
	int n = snprintf(res, sizeof(res), "PASIDD-KT-RESULT: pass=%d fail=%d\n", npass, nfail + 1);

	(void)sig;
	(void)!write(STDOUT_FILENO, msg, sizeof(msg) - 1);
	(void)!write(STDOUT_FILENO, res, (size_t)n);
	reboot(RB_POWER_OFF);
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), r = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, text, strlen(text)) < 0)
		r = -errno;
	close(fd);
	return r;
}

static void
setup_mounts(void)
{
	static const struct {
		const char *src, *dst, *type;
		unsigned long flags;
		const char *opts;
	} m[] = {
	    {"devtmpfs", "/dev", "devtmpfs", 0, NULL},
	    {"proc", "/proc", "proc", 0, NULL},
	    {"sysfs", "/sys", "sysfs", 0, NULL},
	    {"debugfs", "/sys/kernel/debug", "debugfs", 0, NULL},
	    {"cgroup2", "/sys/fs/cgroup", "cgroup2", 0, NULL},
	    {"tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=755"},
	    {"tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777"},
	};

	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		mkdir(m[i].dst, 0755);
		if (mount(m[i].src, m[i].dst, m[i].type, m[i].flags, m[i].opts) < 0 &&
		    errno != EBUSY)
			fail("mount", "%s on %s: %s", m[i].type, m[i].dst, strerror(errno));
		/* The kernel found no /dev/console in the initramfs to give PID 1: take it now. */
		if (i == 0) {
			int fd = open("/dev/console", O_RDWR);

			if (fd >= 0) {
				dup2(fd, 0);
				dup2(fd, 1);
				dup2(fd, 2);
				if (fd > 2)
					close(fd);
			}
		}
	}
}

/* driver_override + drivers_probe: the device is vfio-pci's and gets a cdev. */
static bool
bind_vfio(const char *bdf)
{
	char path[160], what[96];
	struct stat st;
	int r;

	snprintf(what, sizeof(what), "%s bound to vfio-pci (VFIO cdev present)", bdf);
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver_override", bdf);
	if ((r = write_file(path, "vfio-pci")) < 0)
		return check(false, what, "%s: %s", path, strerror(-r));
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver/unbind", bdf);
	write_file(path, bdf);
	if ((r = write_file("/sys/bus/pci/drivers_probe", bdf)) < 0)
		return check(false, what, "drivers_probe: %s", strerror(-r));
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/vfio-dev", bdf);
	return check(stat(path, &st) == 0, what, "%s: %s", path, strerror(errno));
}

/* pasidd's configuration for its next start (KT_CONF). */
static void
write_conf(const char *text)
{
	FILE *f = fopen(KT_CONF, "we");

	if (!f || fputs(text, f) < 0 || fclose(f) != 0)
		fail("configuration", "%s: %s", KT_CONF, strerror(errno));
}

/* ---- the service manager: NOTIFY_SOCKET and the fd store ---- */

static struct {
	int notify;   /* datagram socket pasidd notifies */
	pid_t pid;    /* pasidd, or 0 */
	int log;      /* read end of its stdout+stderr */
	bool ready;   /* READY=1 since the last start */
	char *logbuf; /* everything it logged */
	size_t loglen, logcap;
	char partial[4096]; /* the line being read */
	size_t plen;
	struct stored {
		char name[256];
		int fd;
	} store[MAX_STORE];
	int nstore;
	bool quiet; /* the race: log lines kept, not echoed (bar a few alarms) */
	unsigned long unechoed, echoed_alarms;
} SM = {.notify = -1, .log = -1};

static void
log_append(const char *line)
{
	size_t n = strlen(line);

	if (SM.loglen + n + 2 > SM.logcap) {
		SM.logcap = (SM.loglen + n + 2) * 2;
		SM.logbuf = realloc(SM.logbuf, SM.logcap);
		if (!SM.logbuf)
			abort();
	}
	memcpy(SM.logbuf + SM.loglen, line, n);
	SM.loglen += n;
	SM.logbuf[SM.loglen++] = '\n';
	SM.logbuf[SM.loglen] = '\0';
	/* The race makes the gate refuse up to hundreds of thousands of attaches: a console
	 * line each would cost more than the race. */
	if (SM.quiet && !(strstr(line, "ALARM") && SM.echoed_alarms++ < 5)) {
		SM.unechoed++;
		return;
	}
	printf("[pasidd] %s\n", line);
	fflush(stdout);
}

static void
read_log(void)
{
	char buf[4096];
	ssize_t n = read(SM.log, buf, sizeof(buf));

	if (n <= 0) {
		close(SM.log);
		SM.log = -1;
		return;
	}
	for (ssize_t i = 0; i < n; i++) {
		if (buf[i] == '\n' || SM.plen == sizeof(SM.partial) - 1) {
			SM.partial[SM.plen] = '\0';
			log_append(SM.partial);
			SM.plen = 0;
			if (buf[i] == '\n')
				continue;
		}
		SM.partial[SM.plen++] = buf[i];
	}
}

static void
store_remove(const char *name)
{
	for (int i = 0; i < SM.nstore;)
		if (!strcmp(SM.store[i].name, name)) {
			close(SM.store[i].fd);
			SM.store[i] = SM.store[--SM.nstore];
		} else {
			i++;
		}
}

/* One notification: "KEY=VALUE" lines, maybe with descriptors (SCM_RIGHTS). */
static void
read_notify(void)
{
	char buf[4096], cbuf[CMSG_SPACE(sizeof(int) * 64)];
	struct iovec iov = {buf, sizeof(buf) - 1};
	struct msghdr msg = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
	int fds[64], nfds = 0;
	bool fdstore = false, remove = false, ready = false;
	char name[256] = "stored";
	ssize_t n = recvmsg(SM.notify, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);

	if (n < 0)
		return;
	buf[n] = '\0';
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			int k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));

			memcpy(fds + nfds, CMSG_DATA(c), sizeof(int) * (size_t)k);
			nfds += k;
		}
	for (char *save = NULL, *l = strtok_r(buf, "\n", &save); l;
	     l = strtok_r(NULL, "\n", &save)) {
		if (!strcmp(l, "READY=1"))
			ready = true;
		else if (!strcmp(l, "FDSTORE=1"))
			fdstore = true;
		else if (!strcmp(l, "FDSTOREREMOVE=1"))
			remove = true;
		else if (!strncmp(l, "FDNAME=", 7))
			snprintf(name, sizeof(name), "%s", l + 7);
	}
	if (ready)
		SM.ready = true;
	if (remove)
		store_remove(name);
	for (int i = 0; i < nfds; i++) {
		if (fdstore && SM.nstore < MAX_STORE) {
			snprintf(SM.store[SM.nstore].name, sizeof(SM.store[0].name), "%s", name);
			SM.store[SM.nstore++].fd = fds[i];
		} else {
			close(fds[i]);
		}
	}
}

/* Serves the notifications and the log until fd is readable (-1: none) or ms pass.
 * Returns whether fd became readable. */
static bool
pump(int fd, int ms)
{
	double end = now_s() + ms / 1000.0;

	for (;;) {
		struct pollfd p[3] = {{SM.notify, POLLIN, 0}, {SM.log, POLLIN, 0}, {fd, POLLIN, 0}};
		int left = (int)((end - now_s()) * 1000);

		if (left < 0)
			left = 0;
		if (poll(p, 3, left) < 0 && errno != EINTR)
			return false;
		if (p[0].revents & POLLIN)
			read_notify();
		if (p[1].revents)
			read_log();
		if (fd >= 0 && p[2].revents)
			return true;
		if (left == 0)
			return false;
	}
}

static bool
store_has_prefix(const char *prefix)
{
	for (int i = 0; i < SM.nstore; i++)
		if (!strncmp(SM.store[i].name, prefix, strlen(prefix)))
			return true;
	return false;
}

/* Serves notifications until the store has (or no longer has) an attachment's entry, up to
 * 5 s: FDSTORE=1 and FDSTOREREMOVE=1 are datagrams of their own, not ordered with replies. */
static bool
store_wait(bool want)
{
	for (int i = 0; i < 50 && store_has_prefix("pasidd-a") != want; i++)
		pump(-1, 100);
	return store_has_prefix("pasidd-a") == want;
}

/* Starts pasidd as a service manager would, the stored descriptors at 3, 4, ... */
static void
pasidd_start(void)
{
	int p[2];

	if (pipe2(p, O_CLOEXEC) < 0)
		abort();
	SM.ready = false;
	SM.pid = fork();
	if (SM.pid == 0) {
		char num[32], names[MAX_STORE * 257] = "";
		int tmp[MAX_STORE];

		dup2(p[1], STDOUT_FILENO);
		dup2(p[1], STDERR_FILENO);
		for (int i = 0; i < SM.nstore; i++)
			tmp[i] = fcntl(SM.store[i].fd, F_DUPFD_CLOEXEC, 3 + MAX_STORE);
		for (int i = 0; i < SM.nstore; i++) {
			dup2(tmp[i], 3 + i); /* without O_CLOEXEC: they go to pasidd */
			if (i)
				strcat(names, ":");
			strcat(names, SM.store[i].name);
		}
		if (SM.nstore) {
			snprintf(num, sizeof(num), "%d", SM.nstore);
			setenv("LISTEN_FDS", num, 1);
			setenv("LISTEN_FDNAMES", names, 1);
			snprintf(num, sizeof(num), "%d", (int)getpid());
			setenv("LISTEN_PID", num, 1);
		}
		setenv("NOTIFY_SOCKET", NOTIFY, 1);
		execl(PASIDD, PASIDD, "--foreground", "--backend", "auto", "--socket", SOCK,
		      "--state-dir", "/run/pasidd/state", "--config", KT_CONF, (char *)NULL);
		fprintf(stderr, "exec %s: %s\n", PASIDD, strerror(errno));
		_exit(127);
	}
	close(p[1]);
	SM.log = p[0];
}

/* Waits for READY=1. */
static bool
pasidd_ready(const char *what)
{
	double t0 = now_s();

	while (!SM.ready && now_s() - t0 < 20) {
		int st;

		pump(-1, 100);
		if (waitpid(SM.pid, &st, WNOHANG) == SM.pid) {
			SM.pid = 0;
			while (SM.log >= 0)
				read_log();
			return check(false, what, "pasidd exited (status 0x%x) before READY=1", st);
		}
	}
	return check(SM.ready, what, "no READY=1 within 20 s") &&
	       (info("pasidd ready after %.2f s", now_s() - t0), true);
}

/* Kills pasidd with sig and waits for it, its last words included. */
static int
pasidd_stop(int sig)
{
	int st = -1;

	if (SM.pid <= 0) /* never kill(0): that is every process of the guest */
		return -1;
	kill(SM.pid, sig);
	/* Its log is read while it stops: a pasidd blocked writing to a full log pipe (thousands
	 * of lines after the race) would otherwise never exit, and this wait never end. */
	for (;;) {
		pid_t r = waitpid(SM.pid, &st, WNOHANG);
		struct pollfd p = {.fd = SM.log, .events = POLLIN};

		if (r == SM.pid || (r < 0 && errno != EINTR))
			break;
		if (SM.log < 0)
			usleep(10000);
		else if (poll(&p, 1, 100) > 0)
			read_log();
	}
	SM.pid = 0;
	while (SM.log >= 0)
		read_log();
	return st;
}

/* ---- the stand-in ---- */

struct standin {
	pid_t pid;
	FILE *in;
	int out;
	char buf[65536];
	size_t len;
};

static bool
standin_start(struct standin *s)
{
	int in[2], out[2];

	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0)
		abort();
	s->pid = fork();
	if (s->pid == 0) {
		dup2(in[0], STDIN_FILENO);
		dup2(out[1], STDOUT_FILENO);
		execl(STANDIN, STANDIN, SOCK, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	s->in = fdopen(in[1], "w");
	s->out = out[0];
	s->len = 0;
	return s->pid > 0;
}

/* Sends a command, returns its answer (NULL after 30 s or when the stand-in is gone). */
static struct json_object *
sa(struct standin *s, const char *fmt, ...)
{
	va_list ap;
	double end = now_s() + 30;

	va_start(ap, fmt);
	vfprintf(s->in, fmt, ap);
	va_end(ap);
	fputc('\n', s->in);
	fflush(s->in);
	for (;;) {
		char *nl = memchr(s->buf, '\n', s->len);
		ssize_t n;

		if (nl) {
			struct json_object *o;

			*nl = '\0';
			o = json_tokener_parse(s->buf);
			s->len -= (size_t)(nl + 1 - s->buf);
			memmove(s->buf, nl + 1, s->len);
			return o;
		}
		if (now_s() > end || !pump(s->out, (int)((end - now_s()) * 1000) + 1))
			return NULL;
		n = read(s->out, s->buf + s->len, sizeof(s->buf) - 1 - s->len);
		if (n <= 0)
			return NULL;
		s->len += (size_t)n;
	}
}

static void
standin_end(struct standin *s, int sig)
{
	int st;

	if (!s->pid)
		return;
	if (sig)
		kill(s->pid, sig);
	fclose(s->in);
	close(s->out);
	while (waitpid(s->pid, &st, 0) < 0 && errno == EINTR)
		;
	s->pid = 0;
}

/* ---- JSON ---- */

/* The member at a dotted path ("error.data.missing"), or NULL. */
static struct json_object *
jget(struct json_object *o, const char *path)
{
	char key[64];

	while (o && *path) {
		size_t n = strcspn(path, ".");

		snprintf(key, sizeof(key), "%.*s", (int)n, path);
		if (!json_object_object_get_ex(o, key, &o))
			return NULL;
		path += n + (path[n] == '.');
	}
	return o;
}

static long long
jint(struct json_object *o, const char *path)
{
	struct json_object *v = jget(o, path);

	return v ? json_object_get_int64(v) : -1;
}

static const char *
jstr(struct json_object *o, const char *path)
{
	struct json_object *v = jget(o, path);

	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
}

static bool
jok(struct json_object *o)
{
	struct json_object *v = jget(o, "ok");

	return v && json_object_get_boolean(v);
}

static const char *
jtext(struct json_object *o)
{
	return o ? json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN) : "(no answer)";
}

static bool
has_cap(struct json_object *status, const char *cap)
{
	struct json_object *caps = jget(status, "result.backend.caps");

	for (size_t i = 0; caps && i < json_object_array_length(caps); i++)
		if (!strcmp(json_object_get_string(json_object_array_get_idx(caps, i)), cap))
			return true;
	return false;
}

/* ---- the kernel's side: VT-d PASID table entries in debugfs ---- */

/* Whether the VT-d PASID table has a present entry for pasid of bdf ("0000:00:04.0"):
 * dmar_translation_struct lists "BB:DD.F<TAB>root<TAB>context<TAB>PASID<TAB>entry" for every
 * present PASID entry of every device (drivers/iommu/intel/debugfs.c). -errno if unreadable. */
static int
vtd_has(const char *bdf, unsigned pasid)
{
	FILE *f = fopen(DEBUGFS_VTD "/dmar_translation_struct", "re");
	char line[512];
	int found = 0;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char *save = NULL, *dev = strtok_r(line, "\t", &save);

		strtok_r(NULL, "\t", &save);
		strtok_r(NULL, "\t", &save);
		char *p = strtok_r(NULL, "\t", &save);

		if (dev && p && !strcmp(dev, bdf + 5) && strtol(p, NULL, 10) == (long)pasid)
			found = 1;
	}
	fclose(f);
	return found;
}

/* Its per-PASID directory (iommu/intel/BDF/<hex PASID>), made on attach, removed on detach. */
static bool
vtd_dir(const char *bdf, unsigned pasid)
{
	char path[128];
	struct stat st;

	snprintf(path, sizeof(path), DEBUGFS_VTD "/%s/%x", bdf, pasid);
	return stat(path, &st) == 0;
}

static void
check_vtd(const char *bdf, unsigned pasid, bool want, const char *when)
{
	char what[160];
	int r = vtd_has(bdf, pasid);

	snprintf(what, sizeof(what), "kernel: VT-d PASID entry %u of %s %s %s", pasid, bdf,
	         want ? "present" : "absent", when);
	if (r < 0)
		fail(what, "debugfs: %s", strerror(-r));
	else
		check(r == want, what, "dmar_translation_struct %s it (per-PASID debugfs dir: %s)",
		      r ? "lists" : "does not list", vtd_dir(bdf, pasid) ? "present" : "absent");
}

/* Whether the log since offset `from` has a line containing a and a2, and a later one
 * containing b (case-insensitive); the lines found are copied out. */
static bool
log_order(size_t from, const char *a, const char *a2, const char *b, char *la, char *lb, size_t len)
{
	const char *p = SM.logbuf ? SM.logbuf + from : "";
	bool have_a = false;

	la[0] = lb[0] = '\0';
	while (*p) {
		size_t n = strcspn(p, "\n");
		char line[1024];

		snprintf(line, sizeof(line), "%.*s", (int)n, p);
		if (!have_a && strcasestr(line, a) && strcasestr(line, a2)) {
			snprintf(la, len, "%s", line);
			have_a = true;
		} else if (have_a && strcasestr(line, b)) {
			snprintf(lb, len, "%s", line);
			return true;
		}
		p += n + (p[n] == '\n');
	}
	return false;
}

static bool
log_has(size_t from, const char *s)
{
	return SM.logbuf && strcasestr(SM.logbuf + from, s);
}

/* log_has, waiting up to 5 s: the BPF programs' reports reach the log when pasidd's event
 * loop reads their ring buffers, after the call that caused them has answered. */
static bool
log_wait(size_t from, const char *s)
{
	double end = now_s() + 5;

	while (!log_has(from, s) && now_s() < end)
		pump(-1, 50);
	return log_has(from, s);
}

/* ---- the checks ---- */

/* An error answer with this code. */
static bool
is_error(struct json_object *o, int code)
{
	return o && !jok(o) && jint(o, "error.code") == code;
}

/* Registers vm, assigns bdf to it, allocates a local PASID on bdf: its gPASID and hPASID. */
static bool
vm_with_pasid(struct standin *s, const char *vm, const char *bdf, unsigned *g, unsigned *h)
{
	static const char *const step[] = {"vm.register", "device.assign", "pasid.alloc"};
	struct json_object *o = NULL;
	char what[128];
	bool ok = true;

	snprintf(what, sizeof(what), "vm.register %s, device.assign %s, pasid.alloc local", vm,
	         bdf);
	for (int i = 0; i < 3 && ok; i++) {
		json_object_put(o);
		if (i == 0)
			o = sa(s, "call vm.register {\"vm\":\"%s\"}", vm);
		else
			o = sa(s, "call %s {\"vm\":\"%s\",\"device\":\"%s\"%s}", step[i], vm, bdf,
			       i == 2 ? ",\"type\":\"local\"" : "");
		if (!(ok = jok(o)))
			fail(what, "%s: %s", step[i], jtext(o));
	}
	if (ok) {
		*g = (unsigned)jint(o, "result.gpasid");
		*h = (unsigned)jint(o, "result.hpasid");
		pass("%s (gPASID %u, hPASID %u)", what, *g, *h);
	}
	json_object_put(o);
	return ok;
}

struct devinfo {
	bool ok;
	long long dev_id, pt, pt_nopasid, width;
	bool pasid_hwpt;
};

static struct devinfo
open_dev(struct standin *s, const char *bdf, const char *what)
{
	struct json_object *o = sa(s, "dev %s", bdf);
	struct devinfo d = {.ok = jok(o)};

	d.dev_id = jint(o, "dev_id");
	d.pt = jint(o, "pt");
	d.pt_nopasid = jint(o, "pt_nopasid");
	d.width = jint(o, "max_pasid_log2");
	d.pasid_hwpt = json_object_get_boolean(jget(o, "pasid_hwpt"));
	check(d.ok, what, "%s", jtext(o));
	if (d.ok)
		info("%s: dev_id %lld, HWPT %lld (ALLOC_PASID: %s), HWPT %lld without, PASID width "
		     "%lld",
		     bdf, d.dev_id, d.pt, d.pasid_hwpt ? "yes" : "refused", d.pt_nopasid, d.width);
	json_object_put(o);
	return d;
}

/* A vm.show result as text, for comparisons. */
static char *
vm_show(struct standin *s, const char *vm)
{
	struct json_object *o = sa(s, "call vm.show {\"vm\":\"%s\"}", vm);
	char *t = strdup(jtext(jget(o, "result")));

	json_object_put(o);
	return t;
}

/* pasidd's daemon.status.bpf.<prog>.<member> through the stand-in, as text. */
static void
bpf_status(struct standin *s, const char *prog, const char *member, char *out, size_t len)
{
	struct json_object *o = sa(s, "call daemon.status"), *v;
	char path[96];

	snprintf(path, sizeof(path), "result.bpf.%s.%s", prog, member);
	v = jget(o, path);
	snprintf(out, len, "%s",
	         v && json_object_is_type(v, json_type_string) ? json_object_get_string(v)
	                                                       : jtext(v));
	json_object_put(o);
}

/* With the iommufd backend and the gate and observer attached, pasidd kept CAP_SYS_ADMIN
 * (config space), CAP_BPF with CAP_NET_ADMIN only where its device gate runs, CAP_CHOWN only
 * for a socket it made itself: CAP_PERFMON went once the programs were attached, and they go
 * on reporting without it. */
static void
check_privileges(struct standin *s)
{
	struct json_object *o = sa(s, "call daemon.status");
	struct json_object *caps = jget(o, "result.privileges.capabilities");
	const char *gate = json_object_get_string(jget(o, "result.bpf.device_gate.state"));
	bool gated = gate && !strcmp(gate, "active"), admin = false, other = false;

	for (size_t i = 0; caps && i < json_object_array_length(caps); i++) {
		const char *c = json_object_get_string(json_object_array_get_idx(caps, i));

		admin |= !strcmp(c, "CAP_SYS_ADMIN");
		other |= strcmp(c, "CAP_SYS_ADMIN") && strcmp(c, "CAP_CHOWN") &&
		         !(gated && (!strcmp(c, "CAP_BPF") || !strcmp(c, "CAP_NET_ADMIN")));
	}
	check(json_object_is_type(caps, json_type_array) && admin && !other,
	      "privileges: pasidd kept only what iommufd and its BPF programs need",
	      "kept %s (device gate %s)", jtext(caps), gate ? gate : "?");
	json_object_put(o);
}

/* Both BPF programs run, attach gate in mode; their whys to the console. */
static void
check_bpf_active(struct standin *s, const char *mode)
{
	char state[64], why[512], what[128];

	bpf_status(s, "attach_gate", "state", state, sizeof(state));
	bpf_status(s, "attach_gate", "why", why, sizeof(why));
	snprintf(what, sizeof(what), "daemon.status.bpf.attach_gate active in %s mode", mode);
	check(!strcmp(state, "active") && !strncmp(why, mode, strlen(mode)), what, "%s: %s", state,
	      why);
	info("attach gate: %s", why);
	bpf_status(s, "observer", "state", state, sizeof(state));
	bpf_status(s, "observer", "why", why, sizeof(why));
	check(!strcmp(state, "active"), "daemon.status.bpf.observer active", "%s: %s", state, why);
	info("observer: %s", why);
	check_privileges(s);
}

/* The observer's report of pasidd's own call, with pasidd's pid, and no alarm about it. */
static void
check_observed(size_t from, const char *call, const char *bdf, unsigned pasid)
{
	char line[256], what[256];

	snprintf(line, sizeof(line), "observer: %s(%s, PASID %u) = 0 by pid %d (tgid %d", call, bdf,
	         pasid, (int)SM.pid, (int)SM.pid);
	snprintf(what, sizeof(what), "observer: pasidd's %s of PASID %u on %s seen, no alarm", call,
	         pasid, bdf);
	check(log_wait(from, line) && !log_has(from, "ALARM"), what,
	      "no '%s' in pasidd's log, or an ALARM", line);
}

/* Polls (through s) until vm is gone from pasidd, up to 10 s. */
static bool
wait_vm_gone(struct standin *s, const char *vm)
{
	for (int i = 0; i < 100; i++) {
		struct json_object *o = sa(s, "call vm.show {\"vm\":\"%s\"}", vm);
		bool gone = is_error(o, 1003);

		json_object_put(o);
		if (gone)
			return true;
		pump(-1, 100);
	}
	return false;
}

/* (g) the attach gate in audit mode: the stand-in's own PASID attach is allowed, the gate
 * reports it and the observer flags it as made around pasidd. It is also the positive control
 * of the VT-d reader: a PASID the stand-in attaches with VFIO directly shows up in the table
 * and goes away, or the absent-checks above prove nothing. */
static void
run_73_audit(void)
{
	struct standin s = {0};
	struct json_object *o;
	struct devinfo vfu;
	char alarms[32], line[160];
	size_t mark;
	int st;

	write_conf("[Bpf]\nAttachGate=audit\n");
	mark = SM.loglen;
	pasidd_start();
	if (!pasidd_ready("pasidd started in audit mode ([Bpf] AttachGate=audit)") ||
	    !check(standin_start(&s), "VMM stand-in started (audit)", "fork"))
		return;
	check_bpf_active(&s, "audit");
	vfu = open_dev(&s, VFU, "stand-in: " VFU " bound, PASID HWPT, RID attached (audit)");
	if (!vfu.ok)
		goto out;
	o = sa(&s, "vfio attach %s 4000", VFU);
	check(jok(o), "attach gate (audit): the stand-in's own VFIO PASID attach (4000) allowed",
	      "%s", jtext(o));
	json_object_put(o);
	check_vtd(VFU, 4000, true, "after the stand-in's own attach (debugfs reader works)");
	check(log_wait(mark, "attach gate: audited, allowed VFIO_DEVICE_ATTACH_IOMMUFD_PT (flags "
	                     "0x1, a PASID) by pid"),
	      "attach gate (audit): the attach is reported in pasidd's log", "not in the log");
	snprintf(line, sizeof(line),
	         "ALARM observer: iommu_attach_device_pasid(%s, PASID 4000) = 0 by pid %d", VFU,
	         (int)s.pid);
	check(log_wait(mark, line), "observer: the stand-in's attach is flagged as an alarm",
	      "no '%s' in pasidd's log", line);
	o = sa(&s, "vfio detach %s 4000", VFU);
	check(jok(o), "attach gate (audit): the stand-in's own VFIO PASID detach (4000) allowed",
	      "%s", jtext(o));
	json_object_put(o);
	check_vtd(VFU, 4000, false, "after the stand-in's own detach");
	snprintf(line, sizeof(line),
	         "ALARM observer: iommu_detach_device_pasid(%s, PASID 4000) = 0 by pid %d", VFU,
	         (int)s.pid);
	check(log_wait(mark, line), "observer: the stand-in's detach is flagged as an alarm",
	      "no '%s' in pasidd's log", line);
	bpf_status(&s, "observer", "alarms", alarms, sizeof(alarms));
	check(atoi(alarms) >= 2, "daemon.status.bpf.observer.alarms counts them", "alarms %s",
	      alarms);
	bpf_status(&s, "attach_gate", "alarms", alarms, sizeof(alarms));
	check(atoi(alarms) >= 2, "daemon.status.bpf.attach_gate.alarms counts the reports",
	      "alarms %s", alarms);
out:
	standin_end(&s, 0);
	st = pasidd_stop(SIGTERM);
	check(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	      "pasidd (audit) stops on SIGTERM with status 0", "status 0x%x", st);
}

/* (h2) strict, the VMM entirely through pasidd: its RID attach made by pasidd
 * (device.attach), then pasidd's PASID attach, both in the kernel; another process's RID
 * attach still EPERM; device.detach refused while the PASID is attached, then pasidd's
 * detaches; and vm.unregister detaches the PASID before the RID (pasidd's log). The stand-in's
 * device is open and bound: only its own RID attach was refused. */
static void
run_73_strict_brokered(struct standin *s, size_t mark)
{
	struct json_object *o;
	char la[1024], lb[1024], line[200];
	unsigned g, h;

	if (!vm_with_pasid(s, "strict", VFU, &g, &h))
		return;
	o = sa(s, "rid strict %s", VFU);
	check(jok(o), "device.attach (strict): pasidd attaches the stand-in's RID", "%s", jtext(o));
	json_object_put(o);
	check(log_wait(mark, "iommufd: attached the requester ID of " VFU),
	      "device.attach (strict): pasidd's RID attach passed the gate", "not in the log");
	o = sa(s, "call vm.show {\"vm\":\"strict\"}");
	check(jget(o, "result.devices") &&
	          jint(json_object_array_get_idx(jget(o, "result.devices"), 0),
	               "attached.dev_id") >= 0,
	      "device.attach (strict): vm.show lists the RID attachment", "%s", jtext(o));
	json_object_put(o);
	o = sa(s, "fork rid %s", VFU);
	check(!jok(o) && jint(o, "errno") == EPERM,
	      "attach gate (strict): another process's RID attach still -> EPERM", "%s", jtext(o));
	json_object_put(o);
	/* The PASID HWPT is the one pasidd attached the RID to: ask the stand-in for it. */
	o = sa(s, "call vm.show {\"vm\":\"strict\"}");
	snprintf(line, sizeof(line), "%lld",
	         jint(json_object_array_get_idx(jget(o, "result.devices"), 0), "attached.pt_id"));
	json_object_put(o);
	o = sa(s, "attach strict %u %s %s", g, VFU, line);
	check(jok(o), "pasid.attach (strict) after device.attach", "%s", jtext(o));
	json_object_put(o);
	check_vtd(VFU, h, true, "after pasid.attach in strict mode");
	o = sa(s, "unrid strict %s", VFU);
	check(is_error(o, 1004), "device.detach (strict) refused while the PASID is attached", "%s",
	      jtext(o));
	json_object_put(o);
	o = sa(s, "detach strict %u %s", g, VFU);
	check(jok(o), "pasid.detach (strict)", "%s", jtext(o));
	json_object_put(o);
	check_vtd(VFU, h, false, "after pasid.detach in strict mode");
	o = sa(s, "unrid strict %s", VFU);
	check(jok(o), "device.detach (strict): pasidd detaches the RID", "%s", jtext(o));
	json_object_put(o);
	check(log_wait(mark, "iommufd: detached the requester ID of " VFU),
	      "device.detach (strict): pasidd's RID detach passed the gate", "not in the log");
	/* Again, and the VM goes: its PASID leaves the kernel before its RID does. */
	o = sa(s, "rid strict %s", VFU);
	json_object_put(o);
	o = sa(s, "attach strict %u %s %s", g, VFU, line);
	check(jok(o), "pasid.attach (strict) after a second device.attach", "%s", jtext(o));
	json_object_put(o);
	mark = SM.loglen;
	o = sa(s, "call vm.unregister {\"vm\":\"strict\"}");
	check(jok(o), "vm.unregister (strict) with a PASID and the RID attached", "%s", jtext(o));
	json_object_put(o);
	check(log_order(mark, "iommufd: detached PASID", VFU,
	                "iommufd: detached the requester ID of " VFU, la, lb, sizeof(la)),
	      "vm.unregister (strict): the PASID is detached before the RID", "log: %s | %s", la,
	      lb);
	check_vtd(VFU, h, false, "after vm.unregister in strict mode");
}

/* (h) strict: another process's RID attach is refused too, decided on the ioctl number. */
static void
run_73_strict(void)
{
	struct standin s = {0};
	struct json_object *o;
	char why[512];
	size_t mark;
	int st;

	write_conf("[Bpf]\nAttachGate=strict\n");
	mark = SM.loglen;
	pasidd_start();
	if (!pasidd_ready("pasidd started in strict mode ([Bpf] AttachGate=strict)") ||
	    !check(standin_start(&s), "VMM stand-in started (strict)", "fork"))
		return;
	check_bpf_active(&s, "strict");
	/* 7.3 has the hook of 32-bit callers' ioctls (this guest runs no 32-bit process, so
	 * that it is loaded and attached is what can be checked). */
	bpf_status(&s, "attach_gate", "why", why, sizeof(why));
	check(strstr(why, "32-bit callers too (file_ioctl_compat)") != NULL,
	      "attach gate: lsm/file_ioctl_compat loaded and attached too", "%s", why);
	o = sa(&s, "dev %s", VFU);
	check(!jok(o) && jint(o, "errno") == EPERM &&
	          strstr(jstr(o, "op"), "VFIO_DEVICE_ATTACH_IOMMUFD_PT(RID)"),
	      "attach gate (strict): the stand-in's RID attach -> EPERM", "%s", jtext(o));
	json_object_put(o);
	check(log_wait(mark, "attach gate: refused VFIO_DEVICE_ATTACH_IOMMUFD_PT (flags not read)"),
	      "attach gate (strict): the refusal is in pasidd's log", "not in the log");
	run_73_strict_brokered(&s, mark);
	standin_end(&s, 0);
	st = pasidd_stop(SIGTERM);
	check(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	      "pasidd (strict) stops on SIGTERM with status 0", "status 0x%x", st);
}

/* The lines of the log since offset from that contain both a and b. */
static unsigned long
log_count(size_t from, const char *a, const char *b)
{
	const char *p = SM.logbuf ? SM.logbuf + from : "";
	unsigned long n = 0;

	while (*p) {
		size_t len = strcspn(p, "\n");
		const char *x = memmem(p, len, a, strlen(a));

		n += x && memmem(p, len, b, strlen(b));
		p += len + (p[len] == '\n');
	}
	return n;
}

/* The guest's kernel command line value of key=, or def. */
static double
cmdline_num(const char *key, double def)
{
	char buf[1024] = "", *p;
	FILE *f = fopen("/proc/cmdline", "re");

	if (f) {
		if (!fgets(buf, sizeof(buf), f))
			buf[0] = '\0';
		fclose(f);
	}
	p = strstr(buf, key);
	return p ? strtod(p + strlen(key), NULL) : def;
}

/* (i) the gate's known limit, and the observer that covers it. The gate reads the flags of
 * the ioctl's argument from user memory and VFIO copies the argument again, so a thread
 * flipping VFIO_DEVICE_ATTACH_PASID in and out of the flags can get a PASID attach through in
 * enforce mode. The stand-in (not pasidd) tries attach i with PASID RACE_BASE+i, each PASID
 * once, for kt_race seconds, and counts from the VT-d table what the kernel attached: each
 * slip is one iommu_attach_device_pasid (never a replace: no PASID is tried twice). The check
 * is on detection, not timing: however many slipped (0 included), the observer must have
 * raised exactly as many ALARMs for the stand-in's attaches. */
#define RACE_BASE 0x10000
#define RACE_MAX  400000
#define RACE_CAP  256 /* slips: the stand-in's exit detaches each, slowly under TCG */

static void
run_73_race(void)
{
	struct standin s = {0};
	struct json_object *o;
	char dev_pid[64], alarms[32], lost[32];
	unsigned long slipped, attach_alarms = 0, replace_alarms, gate_refusals;
	long long eperm;
	double secs = cmdline_num("kt_race=", 2), end, t0;
	long max = (long)cmdline_num("kt_race_max=", RACE_MAX);
	size_t mark;
	int st;

	write_conf("[Bpf]\nAttachGate=enforce\n");
	pasidd_start();
	if (!pasidd_ready("pasidd started in enforce mode for the race") ||
	    !check(standin_start(&s), "VMM stand-in started (race)", "fork"))
		return;
	if (!open_dev(&s, VFU, "stand-in: " VFU " bound, PASID HWPT, RID attached (race)").ok)
		goto out;
	mark = SM.loglen;
	SM.quiet = true;
	SM.unechoed = SM.echoed_alarms = 0;
	o = sa(&s, "race %s %g %ld %d %d", VFU, secs, max, RACE_BASE, RACE_CAP);
	if (!check(jok(o), "race: the stand-in ran its two threads", "%s", jtext(o))) {
		json_object_put(o);
		SM.quiet = false;
		goto out;
	}
	slipped = (unsigned long)jint(o, "slipped");
	/* The observer's reports reach the log as pasidd reads its ring buffer: wait for them
	 * (up to 10 s), then a little longer for any that would be one too many. */
	snprintf(dev_pid, sizeof(dev_pid), "(tgid %d,", (int)s.pid);
	end = now_s() + 10;
	while ((attach_alarms = log_count(mark, "ALARM observer: iommu_attach_device_pasid(" VFU,
	                                  dev_pid)) < slipped &&
	       now_s() < end)
		pump(-1, 50);
	pump(-1, 300);
	attach_alarms = log_count(mark, "ALARM observer: iommu_attach_device_pasid(" VFU, dev_pid);
	replace_alarms =
	    log_count(mark, "ALARM observer: iommu_replace_device_pasid(" VFU, dev_pid);
	gate_refusals =
	    log_count(mark, "attach gate: refused VFIO_DEVICE_ATTACH_IOMMUFD_PT", dev_pid);
	SM.quiet = false;
	info("race: %lld attaches tried in %.2f s (%lld returned 0, %lld EPERM, %lld other "
	     "errors), %lu PASID attaches slipped past the gate (VT-d table), %lu attach + %lu "
	     "replace alarms; %lu gate refusals in pasidd's log; %lu log lines not echoed",
	     jint(o, "tried"), json_object_get_double(jget(o, "secs")), jint(o, "ret0"),
	     jint(o, "eperm"), jint(o, "other"), slipped, attach_alarms, replace_alarms,
	     gate_refusals, SM.unechoed);
	/* With 2 vCPUs the flipper runs beside the attaching thread and the gate sees the flag
	 * set in part of the tries; with one (KT_SMP=1) it measured none: no race was run. */
	if (sysconf(_SC_NPROCESSORS_ONLN) >= 2)
		check(jint(o, "tried") > 0 && jint(o, "eperm") > 0 && gate_refusals > 0,
		      "race: the gate refused the stand-in's attaches it read the PASID flag in",
		      "tried %lld, EPERM %lld, refusals logged %lu", jint(o, "tried"),
		      jint(o, "eperm"), gate_refusals);
	else
		info("race: 1 CPU: whether the gate saw the flag is not checked (%lld EPERM)",
		     jint(o, "eperm"));
	check(jint(o, "slipped_not0") == 0,
	      "race: every PASID the kernel attached was an attach that returned 0",
	      "%lld slipped PASIDs whose attach failed", jint(o, "slipped_not0"));
	check(attach_alarms + replace_alarms == slipped && replace_alarms == 0,
	      "race: every PASID attach that slipped past the gate is an ALARM of the observer",
	      "%lu slipped (VT-d), %lu attach and %lu replace alarms for pid %d", slipped,
	      attach_alarms, replace_alarms, (int)s.pid);
	eperm = jint(o, "eperm");
	json_object_put(o);
	bpf_status(&s, "observer", "alarms", alarms, sizeof(alarms));
	check((unsigned long)atol(alarms) >= slipped,
	      "race: daemon.status.bpf.observer.alarms counts them", "alarms %s, slipped %lu",
	      alarms, slipped);
	/* A full ring drops gate reports, never refusals: each EPERM is a report read or one
	 * the program counted as lost. */
	bpf_status(&s, "attach_gate", "lost", lost, sizeof(lost));
	info("race: the gate's ring buffer lost %s report(s)", lost);
	check(strchr("0123456789", lost[0]) && (long long)gate_refusals + atoll(lost) == eperm,
	      "race: every refusal of the gate was reported or counted in attach_gate.lost",
	      "%lld EPERM, %lu refusals logged, lost %s", eperm, gate_refusals,
	      lost[0] ? lost : "(none)");
	check(atoll(lost) == 0 || log_count(mark,
	                                    "report(s) of refused or audited ioctls were "
	                                    "lost",
	                                    "") > 0,
	      "race: a loss of gate reports is logged", "lost %s, no log line", lost);
	bpf_status(&s, "observer", "lost", lost, sizeof(lost));
	check(strcmp(lost, "0") == 0 ||
	          log_count(mark, "ALARM observer: its ring buffer was full", "") > 0,
	      "race: the observer lost no report, or said so with an ALARM", "lost %s", lost);
out:
	/* The stand-in's exit detaches what slipped (observer: ALARM detaches, not echoed). */
	SM.quiet = true;
	t0 = now_s();
	standin_end(&s, 0);
	info("race: the stand-in's exit (detaching what slipped) took %.2f s", now_s() - t0);
	st = pasidd_stop(SIGTERM);
	SM.quiet = false;
	check(WIFEXITED(st) && WEXITSTATUS(st) == 0, "pasidd (race) stops on SIGTERM with status 0",
	      "status 0x%x", st);
}

static void
run_73(void)
{
	struct standin s1 = {0}, s2 = {0}, s3 = {0};
	struct json_object *o;
	struct devinfo edu, vfu;
	unsigned g1, h1, g2, h2, g3, h3;
	char *before, *after, la[1024], lb[1024], pasid_word[32];
	size_t mark;
	int st;

	bind_vfio(EDU);
	bind_vfio(VFU);
	write_conf("[Bpf]\nAttachGate=enforce\n");
	pasidd_start();
	if (!pasidd_ready("pasidd started (--backend auto), READY=1 to the service manager"))
		return;
	if (!check(standin_start(&s1), "VMM stand-in started", "fork"))
		return;

	/* (a) */
	o = sa(&s1, "call daemon.status");
	check(!strcmp(jstr(o, "result.backend.name"), "iommufd"),
	      "auto picked the iommufd backend (daemon.status.backend.name)", "%s", jtext(o));
	check(has_cap(o, "attach"), "daemon.status.backend.caps has attach", "%s", jtext(o));
	json_object_put(o);

	edu = open_dev(&s1, EDU,
	               "stand-in: " EDU " (edu) bound to its iommufd, PASID HWPT, RID "
	               "attached");
	vfu = open_dev(&s1, VFU,
	               "stand-in: " VFU " (vfio-user, PASID cap) bound, PASID HWPT, RID "
	               "attached");
	check(vfu.width == 20, "kernel: IOMMU_GET_HW_INFO gives the vfio-user device 20 PASID bits",
	      "out_max_pasid_log2 = %lld", vfu.width);
	/* The attach gate (enforce): the stand-in is another process holding the VFIO cdev; its
	 * RID attach went through above (open_dev), its own PASID attach and detach do not.
	 * The positive control of the VT-d reader (the stand-in's own attach showing up) runs in
	 * audit mode at the end, where the gate lets it through. */
	check_bpf_active(&s1, "enforce");
	check(vfu.ok && edu.ok && !log_has(0, "a RID"),
	      "attach gate (enforce): the stand-in's RID attaches pass",
	      "no RID attach, or refused");
	mark = SM.loglen;
	o = sa(&s1, "vfio attach %s 4000", VFU);
	check(!jok(o) && jint(o, "errno") == EPERM,
	      "attach gate (enforce): the stand-in's own VFIO PASID attach (4000) -> EPERM", "%s",
	      jtext(o));
	json_object_put(o);
	check(log_wait(mark, "attach gate: refused VFIO_DEVICE_ATTACH_IOMMUFD_PT (flags 0x1, a "
	                     "PASID) by pid"),
	      "attach gate (enforce): the refusal is in pasidd's log", "not in the log");
	check_vtd(VFU, 4000, false, "after the gate's refusal");
	o = sa(&s1, "vfio detach %s 4000", VFU);
	check(!jok(o) && jint(o, "errno") == EPERM,
	      "attach gate (enforce): the stand-in's own VFIO PASID detach (4000) -> EPERM", "%s",
	      jtext(o));
	json_object_put(o);
	check(log_wait(mark, "attach gate: refused VFIO_DEVICE_DETACH_IOMMUFD_PT"),
	      "attach gate (enforce): the detach's refusal is in pasidd's log", "not in the log");
	check(!log_has(mark, "iommu_attach_device_pasid(" VFU ", PASID 4000)"),
	      "observer: no attach of PASID 4000 reached the IOMMU core", "it did");
	/* A child of the stand-in holding the same cdev: refused for a PASID, not for its RID. */
	o = sa(&s1, "fork pasid %s 4001", VFU);
	snprintf(la, sizeof(la),
	         "refused VFIO_DEVICE_ATTACH_IOMMUFD_PT (flags 0x1, a PASID) by pid %d",
	         (int)jint(o, "pid"));
	check(!jok(o) && jint(o, "errno") == EPERM && log_wait(mark, la),
	      "attach gate (enforce): a fork of the stand-in (same VFIO cdev) -> EPERM on a PASID "
	      "attach, refusal in pasidd's log",
	      "%s; or no '%s' in the log", jtext(o), la);
	json_object_put(o);
	o = sa(&s1, "fork rid %s", VFU);
	check(jok(o),
	      "attach gate (enforce): the fork's RID attaches (to another HWPT and back) pass",
	      "%s", jtext(o));
	json_object_put(o);
	if (!edu.ok || !vfu.ok || !vm_with_pasid(&s1, "kt1", EDU, &g1, &h1))
		return;

	/* (b) the width check: the kernel itself would accept this attach */
	o = sa(&s1, "attach kt1 %u %s %lld", g1, EDU, edu.pt);
	check(is_error(o, 1007) && *jstr(o, "error.data.missing"),
	      "pasid.attach on edu (no PASID capability) -> 1007 unsupported with data.missing",
	      "%s", jtext(o));
	if (o && !jok(o))
		info("edu refusal: %s", jtext(jget(o, "error")));
	json_object_put(o);
	check_vtd(EDU, h1, false, "after the refused attach");

	/* (c) the accepted path, and the kernel has it */
	o = sa(&s1, "call device.assign {\"vm\":\"kt1\",\"device\":\"%s\"}", VFU);
	check(jok(o), "device.assign " VFU, "%s", jtext(o));
	json_object_put(o);
	o = sa(&s1, "call pasid.alloc {\"vm\":\"kt1\",\"type\":\"local\",\"device\":\"%s\"}", VFU);
	check(jok(o), "pasid.alloc local on " VFU, "%s", jtext(o));
	g2 = (unsigned)jint(o, "result.gpasid");
	h2 = (unsigned)jint(o, "result.hpasid");
	json_object_put(o);
	mark = SM.loglen;
	o = sa(&s1, "attach kt1 %u %s %lld", g2, VFU, vfu.pt);
	check(jok(o), "pasid.attach on the vfio-user device accepted", "%s", jtext(o));
	json_object_put(o);
	check_vtd(VFU, h2, true, "after pasid.attach");
	check_observed(mark, "iommu_attach_device_pasid", VFU, h2);
	before = vm_show(&s1, "kt1");
	check(strstr(before, "\"attached\"") != NULL, "vm.show lists the attachment", "%s", before);
	free(before);
	mark = SM.loglen;
	o = sa(&s1, "detach kt1 %u %s", g2, VFU);
	check(jok(o), "pasid.detach accepted", "%s", jtext(o));
	json_object_put(o);
	check_vtd(VFU, h2, false, "after pasid.detach");
	check_observed(mark, "iommu_detach_device_pasid", VFU, h2);

	/* (c) a kernel refusal through pasidd: a HWPT without ALLOC_PASID */
	before = vm_show(&s1, "kt1");
	o = sa(&s1, "attach kt1 %u %s %lld", g2, VFU, vfu.pt_nopasid);
	check(is_error(o, 1006) && jint(o, "error.data.errno") == 22 && *jstr(o, "error.data.op"),
	      "pasid.attach to a HWPT without ALLOC_PASID -> 1006 kernel_error {op, errno 22}",
	      "%s", jtext(o));
	json_object_put(o);
	after = vm_show(&s1, "kt1");
	check(!strcmp(before, after), "vm.show unchanged by the kernel's refusal",
	      "before %s, after %s", before, after);
	free(before);
	free(after);
	check_vtd(VFU, h2, false, "after the kernel's refusal");

	/* (d) the owner dies with an attachment live: pasidd detaches, then frees */
	o = sa(&s1, "attach kt1 %u %s %lld", g2, VFU, vfu.pt);
	check(jok(o), "pasid.attach again before the owner dies", "%s", jtext(o));
	json_object_put(o);
	check_vtd(VFU, h2, true, "before the owner dies");
	o = sa(&s1, "drop");
	check(jok(o), "the VMM closes its own iommufd and cdevs without detaching", "%s", jtext(o));
	json_object_put(o);
	check_vtd(VFU, h2, true, "with only pasidd's duplicates of the descriptors open");
	mark = SM.loglen;
	standin_end(&s1, SIGKILL);
	standin_start(&s2);
	check(wait_vm_gone(&s2, "kt1"), "owner killed (SIGKILL): pasidd removed VM kt1",
	      "kt1 still there after 10 s");
	check_vtd(VFU, h2, false, "after the owner's death");
	snprintf(pasid_word, sizeof(pasid_word), "PASID %u ", h2);
	check(log_order(mark, "detach", pasid_word, "reclaimed", la, lb, sizeof(la)),
	      "pasidd's log: detached, then freed (in that order)",
	      "no line with 'detach' and '%s' followed by one with 'reclaimed' after the kill: "
	      "'%s' / '%s'",
	      pasid_word, la, lb);
	info("log: '%s', then '%s'", la, lb);
	o = sa(&s2, "call pasid.lookup {\"hpasid\":%u}", h2);
	check(is_error(o, 1003), "the mapping is gone (pasid.lookup hpasid -> 1003)", "%s",
	      jtext(o));
	json_object_put(o);
	standin_end(&s2, 0);

	/* (e) pasidd killed with an attachment live, restarted with the stored descriptors */
	standin_start(&s3);
	/* Binding again also shows that nothing holds the dead VMM's cdev any more. */
	vfu = open_dev(&s3, VFU, "a new VMM binds " VFU " again (the dead one's cdev released)");
	if (!vfu.ok || !vm_with_pasid(&s3, "kt2", VFU, &g3, &h3))
		goto mock;
	o = sa(&s3, "attach kt2 %u %s %lld", g3, VFU, vfu.pt);
	check(jok(o), "pasid.attach on kt2", "%s", jtext(o));
	json_object_put(o);
	check(store_wait(true), "the fd store holds the attachment's descriptors",
	      "%d entries, none named pasidd-a*", SM.nstore);
	for (int i = 0; i < SM.nstore; i++)
		info("fd store: %s (fd %d)", SM.store[i].name, SM.store[i].fd);
	check_vtd(VFU, h3, true, "before pasidd is killed");
	st = pasidd_stop(SIGKILL);
	check(WIFSIGNALED(st), "pasidd killed (SIGKILL) with the attachment live", "status 0x%x",
	      st);
	mark = SM.loglen;
	pasidd_start();
	if (!pasidd_ready("pasidd restarted with LISTEN_FDS/LISTEN_FDNAMES from the fd store"))
		goto mock;
	o = sa(&s3, "reconnect");
	check(jok(o), "the VMM reconnects", "%s", jtext(o));
	json_object_put(o);
	/* Attachments are journaled and their descriptors came back from the store: pasidd
	 * re-adopts the attachment (VFIO re-attaches it in place), and pasid.detach after the
	 * restart is what removes the kernel's entry. (Descriptors of an attachment the journal
	 * lacks would be strays, detached at start-up: fdstore.h.) */
	check(log_has(mark, "attachment(s) in the state"),
	      "pasidd reconciled fd store and journal at start-up (log)",
	      "no reconciliation line in its log");
	check_vtd(VFU, h3, true, "after the restart (re-adopted)");
	before = vm_show(&s3, "kt2");
	check(strstr(before, "\"attached\"") != NULL,
	      "vm.show lists the attachment after the restart", "%s", before);
	free(before);
	o = sa(&s3, "detach kt2 %u %s", g3, VFU);
	check(jok(o), "pasid.detach after the restart", "%s", jtext(o));
	json_object_put(o);
	check_vtd(VFU, h3, false, "after pasid.detach following the restart");
	check(store_wait(false), "the fd store is empty again", "%d entries left", SM.nstore);
	o = sa(&s3, "call vm.unregister {\"vm\":\"kt2\"}");
	check(jok(o), "vm.unregister kt2 after the restart", "%s", jtext(o));
	json_object_put(o);
	check_vtd(VFU, h3, false, "after vm.unregister");

mock:
	/* (f) a direct kernel check: pasidd does not drive the selftest mock */
	if (!s3.pid)
		standin_start(&s3);
	o = sa(&s3, "mock");
	check(jok(o) && jint(o, "second_errno") == EBUSY,
	      "kernel (selftest mock, not through pasidd): a second attach of an attached PASID "
	      "-> EBUSY, the first stays",
	      "%s", jtext(o));
	json_object_put(o);
	standin_end(&s3, 0);
	st = pasidd_stop(SIGTERM);
	check(WIFEXITED(st) && WEXITSTATUS(st) == 0, "pasidd stops on SIGTERM with status 0",
	      "status 0x%x", st);
	run_73_race();
	run_73_audit();
	run_73_strict();
}

static void
run_612(void)
{
	struct standin s = {0};
	struct json_object *o;
	struct devinfo edu;
	unsigned g, h;
	int st;

	bind_vfio(EDU);
	write_conf("");
	pasidd_start();
	if (!pasidd_ready("pasidd started (--backend auto), READY=1 to the service manager"))
		return;
	standin_start(&s);
	{
		char state[64], why[512];

		/* The 6.12 kernel has no BPF: pasidd runs without its programs and says why. */
		bpf_status(&s, "attach_gate", "state", state, sizeof(state));
		bpf_status(&s, "attach_gate", "why", why, sizeof(why));
		check(!strcmp(state, "unavailable") && why[0],
		      "daemon.status.bpf.attach_gate unavailable on 6.12, with why", "%s: %s",
		      state, why);
		info("6.12 attach gate: %s", why);
		bpf_status(&s, "observer", "why", why, sizeof(why));
		info("6.12 observer: %s", why);
	}
	o = sa(&s, "call daemon.status");
	check(!strcmp(jstr(o, "result.backend.name"), "iommufd"),
	      "auto picked the iommufd backend on 6.12", "%s", jtext(o));
	check(!has_cap(o, "attach"), "daemon.status.backend.caps lack attach", "%s", jtext(o));
	check(strstr(jstr(o, "result.backend.unsupported.attach"), "6.15") != NULL,
	      "daemon.status names the missing kernel feature and 6.15",
	      "backend.unsupported.attach = '%s'", jstr(o, "result.backend.unsupported.attach"));
	info("6.12 backend: %s", jtext(jget(o, "result.backend")));
	json_object_put(o);
	edu = open_dev(&s, EDU, "stand-in: " EDU " bound to its iommufd, HWPT, RID attached");
	check(edu.ok && !edu.pasid_hwpt, "kernel: IOMMU_HWPT_ALLOC_PASID refused on 6.12",
	      "ALLOC_PASID accepted");
	if (edu.ok && vm_with_pasid(&s, "kt612", EDU, &g, &h)) {
		o = sa(&s, "attach kt612 %u %s %lld", g, EDU, edu.pt);
		check(is_error(o, 1007) && strstr(jstr(o, "error.data.missing"), "6.15"),
		      "pasid.attach -> 1007 unsupported, data.missing naming the feature and 6.15",
		      "%s", jtext(o));
		if (o && !jok(o))
			info("6.12 refusal: %s", jtext(jget(o, "error")));
		json_object_put(o);
	}
	standin_end(&s, 0);
	st = pasidd_stop(SIGTERM);
	check(WIFEXITED(st) && WEXITSTATUS(st) == 0, "pasidd stops on SIGTERM with status 0",
	      "status 0x%x", st);
}

int
main(void)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	char cmdline[1024] = "";
	double t0;
	int fd;

	signal(SIGALRM, on_watchdog);
	alarm(WATCHDOG_S);
	signal(SIGPIPE, SIG_IGN);
	setup_mounts();
	t0 = now_s();
	if ((fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC)) >= 0) {
		ssize_t n = read(fd, cmdline, sizeof(cmdline) - 1);

		cmdline[n > 0 ? n : 0] = '\0';
		close(fd);
	}
	mkdir("/run/kt", 0700);
	mkdir("/run/pasidd", 0755);
	SM.notify = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", NOTIFY);
	if (bind(SM.notify, (struct sockaddr *)&a, sizeof(a)) < 0)
		fail("service manager", "bind %s: %s", NOTIFY, strerror(errno));
	if (strstr(cmdline, "kt_mode=6.12"))
		run_612();
	else if (strstr(cmdline, "kt_mode=7.3"))
		run_73();
	else
		fail("kernel command line", "no kt_mode=7.3|6.12 in '%s'", cmdline);
	if (SM.pid)
		pasidd_stop(SIGKILL);
	info("guest tests took %.2f s", now_s() - t0);
	power_off();
}
