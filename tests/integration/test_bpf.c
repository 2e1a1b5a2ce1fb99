/* Issue 12: the attach gate and the observer never stand between pasidd and its work. Where
 * the kernel refuses them (this development host: BPF_PROG_LOAD of tracing and LSM programs
 * is refused; CI hosts without BPF LSM in lsm=), daemon.status.bpf says which step failed and
 * why, the log says it once, and pasidd serves as usual; where they run, status says what they
 * do and counts their reports. [Bpf] AttachGate=off leaves the gate out and says so. The
 * programs at work are tested in the kernel harness (tests/kernel/). */
#include <check.h>

#include "ck_main.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define BPFPROG_LINE 128

static struct it_daemon d;
static int fd = -1;

static void
teardown(void)
{
	it_teardown(&d, &fd);
}

static void
start(const char *conf_text)
{
	char conf[256];

	ck_assert_int_eq(it_prepare(&d), 0);
	ck_assert_int_eq(it_write_file(&d, "bpf.conf", conf_text, conf, sizeof(conf)), 0);
	ck_assert_int_eq(it_restart(&d, "--config", conf, NULL), 0);
	fd = it_connect(&d);
	ck_assert_int_ge(fd, 0);
}

static bool
built_without_bpf(const char *why)
{
	return strstr(why, "built without BPF programs") != NULL;
}

/* A program that does not run says which step failed and why (an errno's text), or that the
 * build has none; one that runs says what it does and counts. Either way the log agrees. */
static void
check_program(struct json_object *status, const char *name, const char *logname)
{
	char path[64];
	const char *state, *why, *log;

	snprintf(path, sizeof(path), "bpf.%s.state", name);
	state = it_str(status, path);
	snprintf(path, sizeof(path), "bpf.%s.why", name);
	why = it_str(status, path);
	ck_assert_ptr_nonnull(state);
	ck_assert_msg(why && why[0], "%s has no why", name);
	log = it_log(&d);
	ck_assert_ptr_nonnull(log);
	if (strcmp(state, "active") == 0) {
		snprintf(path, sizeof(path), "bpf.%s.reports", name);
		ck_assert_int_ge(it_int(status, path), 0);
		ck_assert_ptr_nonnull(strstr(log, why));
		return;
	}
	ck_assert_str_eq(state, "unavailable");
	if (built_without_bpf(why))
		return;
	ck_assert_msg(strncmp(why, "opening ", 8) == 0 || strncmp(why, "loading ", 8) == 0 ||
	                  strncmp(why, "attaching ", 10) == 0 || strncmp(why, "reading ", 8) == 0 ||
	                  strncmp(why, "the kernel has no ", 18) == 0,
	              "%s: the failing step is not named: %s", name, why);
	ck_assert_msg(strchr(why, ':'), "%s: no reason after the step: %s", name, why);
	snprintf(path, sizeof(path), "%s not running: ", logname);
	ck_assert_msg(strstr(log, path) && strstr(log, why), "the log does not say %s%s:\n%s", path,
	              why, log);
	/* Nothing counted for what does not run. */
	snprintf(path, sizeof(path), "bpf.%s.reports", name);
	ck_assert_ptr_null(it_get(status, path));
}

/* pasidd serves whatever became of its programs. */
static void
serves(void)
{
	IT_OK(it_call(fd, "vm.register", "{\"vm\":\"vm1\"}"));
	IT_OK(it_call(fd, "pasid.alloc", "{\"vm\":\"vm1\",\"type\":\"shared\"}"));
	IT_OK(it_call(fd, "vm.unregister", "{\"vm\":\"vm1\"}"));
}

/* pasidctl status shows one line per program, with its state and why. */
static void
pasidctl_shows(struct json_object *status, const char *name)
{
	char cmd[512], out[8192], want[BPFPROG_LINE];
	char path[64];
	size_t n;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "'%s' --socket '%s' status 2>&1", getenv("PASIDCTL"), d.sock);
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	ck_assert_int_eq(pclose(p), 0);
	snprintf(path, sizeof(path), "bpf.%s.state", name);
	snprintf(want, sizeof(want), "bpf:          %s %s (", name, it_str(status, path));
	ck_assert_msg(strstr(out, want), "no '%s' in pasidctl status: %s", want, out);
}

START_TEST(programs_say_why_and_pasidd_serves)
{
	struct json_object *st;

	start("[Bpf]\nAttachGate=enforce\n");
	st = IT_OK(it_call(fd, "daemon.status", NULL));
	check_program(st, "attach_gate", "attach gate");
	check_program(st, "observer", "observer");
	pasidctl_shows(st, "attach_gate");
	pasidctl_shows(st, "observer");
	serves();
}
END_TEST

START_TEST(gate_off_says_so)
{
	struct json_object *st;
	const char *why;

	start("[Bpf]\nAttachGate=off\n");
	st = IT_OK(it_call(fd, "daemon.status", NULL));
	ck_assert_str_eq(it_str(st, "bpf.attach_gate.state"), "unavailable");
	why = it_str(st, "bpf.attach_gate.why");
	ck_assert_ptr_nonnull(why);
	if (!built_without_bpf(why))
		ck_assert_str_eq(why, "off in the configuration ([Bpf] AttachGate=off)");
	/* The observer does not depend on the gate. */
	check_program(st, "observer", "observer");
	serves();
}
END_TEST

START_TEST(every_mode_starts)
{
	static const char *const modes[] = {"audit", "strict"};

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		char conf[64];
		struct json_object *st;

		snprintf(conf, sizeof(conf), "[Bpf]\nAttachGate=%s\n", modes[i]);
		start(conf);
		st = IT_OK(it_call(fd, "daemon.status", NULL));
		check_program(st, "attach_gate", "attach gate");
		if (strcmp(it_str(st, "bpf.attach_gate.state"), "active") == 0)
			ck_assert_ptr_nonnull(strstr(it_str(st, "bpf.attach_gate.why"), modes[i]));
		serves();
		teardown();
	}
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("bpf");
	TCase *tc = ck_case(s, "bpf", NULL, teardown, 120);

	tcase_add_test(tc, programs_say_why_and_pasidd_serves);
	tcase_add_test(tc, gate_off_says_so);
	tcase_add_test(tc, every_mode_starts);
	return ck_main(s, NULL);
}
