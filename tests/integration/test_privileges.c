/* Issue 13, least privilege: once started, the real pasidd keeps only the capabilities that
 * its backend and the BPF programs it runs need (daemon/pasidd.c, privileges_needed) and
 * gives up the rest for good, bounding set included; daemon.status.privileges tells the
 * same as the kernel (/proc/<pid>/status), and pasidd keeps serving without what it gave up:
 * VMs of another uid, owner-exit reclaim, a reload that gives its socket another group. */
#include <check.h>

#include "ck_main.h"
#include <grp.h>
#include <inttypes.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define BIT(c) (UINT64_C(1) << (c))

static struct it_daemon d;
static int fd = -1;
static char conf[256];

/* A line "Cap<which>:\t<hex>" of /proc/<pid>/status. */
static uint64_t
proc_caps(pid_t pid, const char *which)
{
	char path[64], line[256], key[32];
	uint64_t v = 0;
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	snprintf(key, sizeof(key), "Cap%s:", which);
	f = fopen(path, "re");
	ck_assert_ptr_nonnull(f);
	while (!found && fgets(line, sizeof(line), f))
		if (strncmp(line, key, strlen(key)) == 0)
			found = sscanf(line + strlen(key), "%" SCNx64, &v) == 1;
	fclose(f);
	ck_assert_msg(found, "no %s in %s", key, path);
	return v;
}

/* daemon.status.privileges.capabilities as a mask (only the names this test knows). */
static uint64_t
status_caps(const char *member)
{
	static const struct {
		const char *name;
		unsigned cap;
	} known[] = {{"CAP_CHOWN", CAP_CHOWN},         {"CAP_DAC_OVERRIDE", CAP_DAC_OVERRIDE},
	             {"CAP_FOWNER", CAP_FOWNER},       {"CAP_NET_ADMIN", CAP_NET_ADMIN},
	             {"CAP_SYS_ADMIN", CAP_SYS_ADMIN}, {"CAP_SYS_RESOURCE", CAP_SYS_RESOURCE},
	             {"CAP_PERFMON", CAP_PERFMON},     {"CAP_BPF", CAP_BPF},
	             {"CAP_SETPCAP", CAP_SETPCAP},     {"CAP_SYS_PTRACE", CAP_SYS_PTRACE}};
	struct json_object *r = it_keep(it_call(fd, "daemon.status", NULL));
	struct json_object *a = it_get(it_result(r), member);
	uint64_t m = 0;

	ck_assert_msg(a && json_object_is_type(a, json_type_array), "%s: %s", member,
	              json_object_to_json_string(r));
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		const char *n = json_object_get_string(json_object_array_get_idx(a, i));

		for (size_t k = 0; k < sizeof(known) / sizeof(known[0]); k++)
			if (strcmp(n, known[k].name) == 0)
				m |= BIT(known[k].cap);
	}
	return m;
}

static void
start(const char *text)
{
	ck_assert_int_eq(it_prepare(&d), 0);
	/* Another uid's VMM must reach the socket. */
	ck_assert_int_eq(chmod(d.dir, 0755), 0);
	ck_assert_int_eq(it_write_file(&d, "pasidd.conf", text, conf, sizeof(conf)), 0);
	ck_assert_int_eq(it_restart(&d, "--config", conf, NULL), 0);
	fd = it_connect(&d);
	ck_assert_int_ge(fd, 0);
}

static void
teardown(void)
{
	it_teardown(&d, &fd);
}

/* What the test compares with: it runs as root with the usual full set. */
static bool
privileged(void)
{
	return geteuid() == 0 && (proc_caps(getpid(), "Eff") & BIT(CAP_SYS_ADMIN));
}

START_TEST(gives_up_what_sim_does_not_need)
{
	uint64_t eff, bnd, want;
	struct json_object *r;
	bool gate;

	if (!privileged()) {
		fprintf(stderr, "test_privileges: not run as root with CAP_SYS_ADMIN: nothing to "
		                "give up\n");
		return;
	}
	start("[Daemon]\nSocketMode=0660\n");
	r = it_keep(it_call(fd, "daemon.status", NULL));
	ck_assert_msg(json_object_get_boolean(it_get(it_result(r), "privileges.limited")), "%s",
	              json_object_to_json_string(r));
	gate = strcmp(it_str(it_result(r), "bpf.device_gate.state"), "active") == 0;
	eff = proc_caps(d.pid, "Eff");
	bnd = proc_caps(d.pid, "Bnd");
	/* Its own socket file (a reload may regroup it); the device gate's programs if it runs
	 * here. Nothing for the sim backend; CAP_PERFMON went after loading. */
	want = BIT(CAP_CHOWN) | (gate ? BIT(CAP_BPF) | BIT(CAP_NET_ADMIN) : 0);
	ck_assert_msg(eff == want, "CapEff %016" PRIx64 ", want %016" PRIx64, eff, want);
	ck_assert_msg(proc_caps(d.pid, "Prm") == want, "CapPrm");
	ck_assert_msg(bnd == want, "CapBnd %016" PRIx64 " keeps what was given up", bnd);
	ck_assert_msg(proc_caps(d.pid, "Inh") == 0 && proc_caps(d.pid, "Amb") == 0, "CapInh/Amb");
	ck_assert_msg(status_caps("privileges.capabilities") == want,
	              "daemon.status.privileges.capabilities differ from CapEff");
	ck_assert_msg((status_caps("privileges.dropped") &
	               (BIT(CAP_SYS_ADMIN) | BIT(CAP_DAC_OVERRIDE) | BIT(CAP_PERFMON))) ==
	                  (BIT(CAP_SYS_ADMIN) | BIT(CAP_DAC_OVERRIDE) | BIT(CAP_PERFMON)),
	              "privileges.dropped");
	ck_assert_ptr_nonnull(strstr(it_log(&d), "capabilities kept: "));
}
END_TEST

START_TEST(without_the_device_gate_only_chown)
{
	uint64_t eff;

	if (!privileged())
		return;
	start("[Bpf]\nDeviceGate=no\nAttachGate=off\n");
	eff = proc_caps(d.pid, "Eff");
	ck_assert_msg(eff == BIT(CAP_CHOWN), "CapEff %016" PRIx64, eff);
	ck_assert_msg(status_caps("privileges.capabilities") == BIT(CAP_CHOWN), "status");
}
END_TEST

/* A VMM of another uid registers and allocates, its exit is noticed and its VM reclaimed,
 * and a SIGHUP gives the socket another group: all without the capabilities given up. */
START_TEST(serves_without_them)
{
	struct group *g = getgrnam("daemon");
	struct timespec t0, now;
	struct stat st;
	int p[2], vm;
	char c;
	pid_t child;

	if (!privileged())
		return;
	start("[Daemon]\nSocketMode=0666\n[Bpf]\nDeviceGate=no\n");
	ck_assert_int_eq(pipe(p), 0);
	child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0) {
		int c2;

		close(p[0]);
		if (setgid(65534) < 0 || setuid(65534) < 0)
			_exit(2);
		c2 = it_connect(&d);
		if (c2 < 0 || it_code(c2, "vm.register", "{\"vm\":\"nobody-vm\"}") != 0 ||
		    it_code(c2, "pasid.alloc",
		            "{\"vm\":\"nobody-vm\",\"type\":\"shared\",\"count\":3}") != 0)
			_exit(3);
		if (write(p[1], "r", 1) != 1)
			_exit(4);
		pause();
		_exit(0);
	}
	close(p[1]);
	ck_assert_int_eq(read(p[0], &c, 1), 1);
	close(p[0]);
	vm = it_code(fd, "vm.show", "{\"vm\":\"nobody-vm\"}");
	ck_assert_int_eq(vm, 0);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		if (it_code(fd, "vm.show", "{\"vm\":\"nobody-vm\"}") == 1003)
			break;
		usleep(20000);
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while (now.tv_sec - t0.tv_sec < 30);
	ck_assert_int_eq(it_code(fd, "vm.show", "{\"vm\":\"nobody-vm\"}"), 1003);
	if (!g)
		return;
	ck_assert_int_eq(it_write_file(&d, "pasidd.conf",
	                               "[Daemon]\nSocketMode=0660\nSocketGroup=daemon\n"
	                               "[Bpf]\nDeviceGate=no\n",
	                               conf, sizeof(conf)),
	                 0);
	ck_assert_int_eq(it_code(fd, "config.reload", NULL), 0);
	ck_assert_int_eq(stat(d.sock, &st), 0);
	ck_assert_int_eq(st.st_gid, g->gr_gid);
	ck_assert_int_eq(st.st_mode & 0777, 0660);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("privileges");
	TCase *tc = ck_case(s, "privileges", NULL, teardown, 60);

	tcase_add_test(tc, gives_up_what_sim_does_not_need);
	tcase_add_test(tc, without_the_device_gate_only_chown);
	tcase_add_test(tc, serves_without_them);
	return ck_main(s, NULL);
}
