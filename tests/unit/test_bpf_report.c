/* The BPF programs' reports as pasidd reads them (host/bpf_report.c): records checked and
 * put into words, the observer's reports judged against the table, and the reasons a program
 * does not run (host/bpf_why.c). Pure, so it runs with or without BPF in the build. */
#include "bpf_report.h"
#include "bpf_probe.h"
#include "bpf_why.h"

#include "ck_main.h"

#include <errno.h>
#include <string.h>

/* A table holding PASID 7 on 0000:3a:00.0 only, which keeps what it is told was attached
 * around pasidd as ns_foreign_take/release would: once per (device, PASID). */
struct fake {
	int asked;
	int fail; /* take's answer when not 0 */
	size_t nkept;
	struct {
		char dev[16];
		uint32_t pasid;
	} kept[4];
};

static bool
fake_holds(void *ctx, const char *dev, uint32_t pasid)
{
	struct fake *f = ctx;

	f->asked++;
	return strcmp(dev, "0000:3a:00.0") == 0 && pasid == 7;
}

static size_t
fake_find(const struct fake *f, const char *dev, uint32_t pasid)
{
	size_t i = 0;

	while (i < f->nkept && (f->kept[i].pasid != pasid || strcmp(f->kept[i].dev, dev)))
		i++;
	return i;
}

static int
fake_take(void *ctx, const char *dev, uint32_t pasid)
{
	struct fake *f = ctx;

	if (f->fail)
		return f->fail;
	if (fake_find(f, dev, pasid) < f->nkept)
		return 0;
	ck_assert_uint_lt(f->nkept, 4);
	snprintf(f->kept[f->nkept].dev, sizeof(f->kept[0].dev), "%s", dev);
	f->kept[f->nkept++].pasid = pasid;
	return 1;
}

static int
fake_release(void *ctx, const char *dev, uint32_t pasid)
{
	struct fake *f = ctx;
	size_t i = fake_find(f, dev, pasid);

	if (i == f->nkept)
		return 0;
	f->kept[i] = f->kept[--f->nkept];
	return 1;
}

static struct bpf_report_table
fake_table(struct fake *f)
{
	return (struct bpf_report_table){
	    .holds = fake_holds, .take = fake_take, .release = fake_release, .ctx = f};
}

static struct ob_report
observed(uint32_t kind, const char *dev, uint32_t pasid, int ret, uint32_t tgid)
{
	struct ob_report r;

	memset(&r, 0, sizeof(r));
	r.kind = kind;
	snprintf(r.dev, sizeof(r.dev), "%s", dev);
	r.pasid = pasid;
	r.ret = ret;
	r.pid = tgid + 1;
	r.tgid = tgid;
	r.uid = 107;
	snprintf(r.comm, sizeof(r.comm), "%s", tgid == 100 ? "pasidd" : "qemu");
	return r;
}

START_TEST(records_of_the_wrong_size_are_refused)
{
	struct ag_report g;
	struct ob_report o;
	char raw[sizeof(struct ob_report) + 8];

	memset(raw, 'x', sizeof(raw));
	ck_assert_int_eq(bpf_report_gate_read(raw, sizeof(g) - 1, &g), -EINVAL);
	ck_assert_int_eq(bpf_report_gate_read(raw, sizeof(g) + 4, &g), -EINVAL);
	ck_assert_int_eq(bpf_report_gate_read(NULL, sizeof(g), &g), -EINVAL);
	ck_assert_int_eq(bpf_report_observer_read(raw, sizeof(o) + 8, &o), -EINVAL);
	/* The right size: the strings end inside the record even if the program's did not. */
	ck_assert_int_eq(bpf_report_gate_read(raw, sizeof(g), &g), 0);
	ck_assert_uint_eq(strlen(g.comm), sizeof(g.comm) - 1);
	ck_assert_int_eq(bpf_report_observer_read(raw, sizeof(o), &o), 0);
	ck_assert_uint_eq(strlen(o.dev), sizeof(o.dev) - 1);
	ck_assert_uint_eq(strlen(o.comm), sizeof(o.comm) - 1);
}
END_TEST

START_TEST(gate_decisions_in_words)
{
	struct ag_report r = {.pid = 42,
	                      .tgid = 41,
	                      .uid = 107,
	                      .cmd = AG_CMD_ATTACH_PT,
	                      .flags = AG_FLAG_PASID,
	                      .verdict = AG_REFUSED,
	                      .mode = AG_MODE_ENFORCE};
	char line[BPF_REPORT_LINE_LEN];

	snprintf(r.comm, sizeof(r.comm), "qemu-system-x86");
	bpf_report_gate_format(&r, line, sizeof(line));
	ck_assert_str_eq(line, "attach gate: refused VFIO_DEVICE_ATTACH_IOMMUFD_PT (flags 0x1, a "
	                       "PASID) by pid 42 (tgid 41, uid 107, comm qemu-system-x86): only "
	                       "pasidd attaches PASIDs");
	r.cmd = AG_CMD_DETACH_PT;
	r.verdict = AG_ALLOWED;
	r.mode = AG_MODE_AUDIT;
	bpf_report_gate_format(&r, line, sizeof(line));
	ck_assert_str_eq(line, "attach gate: audited, allowed VFIO_DEVICE_DETACH_IOMMUFD_PT (flags "
	                       "0x1, a PASID) by pid 42 (tgid 41, uid 107, comm qemu-system-x86)");
	/* Strict mode never reads the argument. */
	r.flags = ~0u;
	r.verdict = AG_REFUSED;
	r.cmd = AG_CMD_ATTACH_PT;
	bpf_report_gate_format(&r, line, sizeof(line));
	ck_assert_ptr_nonnull(strstr(line, "(flags not read)"));
	ck_assert_ptr_nonnull(strstr(line, ": only pasidd attaches devices to iommufd (strict)"));
	/* Too small a buffer cuts, never overruns. */
	bpf_report_gate_format(&r, line, 10);
	ck_assert_uint_eq(strlen(line), 9);
}
END_TEST

START_TEST(pasidds_own_attach_matching_the_table)
{
	struct ob_report r = observed(OB_ATTACH, "0000:3a:00.0", 7, 0, 100);
	char why[BPF_REPORT_LINE_LEN + 128];
	struct fake f = {0};
	const struct bpf_report_table tbl = fake_table(&f);

	ck_assert_int_eq(bpf_report_judge(&r, 100, &tbl, why, sizeof(why)), BPF_JUDGE_OURS);
	ck_assert_int_eq(f.asked, 1);
	ck_assert_str_eq(why, "observer: iommu_attach_device_pasid(0000:3a:00.0, PASID 7) = 0 by "
	                      "pid 101 (tgid 100, uid 107, comm pasidd)");
	r.kind = OB_REPLACE;
	ck_assert_int_eq(bpf_report_judge(&r, 100, &tbl, why, sizeof(why)), BPF_JUDGE_OURS);
	/* Detached: the table has dropped it already, nothing to ask. */
	r.kind = OB_DETACH;
	r.pasid = 8;
	f.asked = 0;
	ck_assert_int_eq(bpf_report_judge(&r, 100, &tbl, why, sizeof(why)), BPF_JUDGE_OURS);
	ck_assert_int_eq(f.asked, 0);
}
END_TEST

START_TEST(attach_by_another_process_is_an_alarm)
{
	struct ob_report r = observed(OB_ATTACH, "0000:3a:00.0", 7, 0, 200);
	char why[BPF_REPORT_LINE_LEN + 128];
	struct fake f = {0};
	const struct bpf_report_table tbl = fake_table(&f);

	/* Even on a PASID the table holds: pasidd did not make this call. */
	ck_assert_int_eq(bpf_report_judge(&r, 100, &tbl, why, sizeof(why)), BPF_JUDGE_ALARM);
	ck_assert_ptr_nonnull(strstr(why, "not pasidd (tgid 100): a PASID attached around pasidd"));
	ck_assert_ptr_nonnull(strstr(why, "comm qemu"));
	r.kind = OB_DETACH;
	ck_assert_int_eq(bpf_report_judge(&r, 100, &tbl, why, sizeof(why)), BPF_JUDGE_ALARM);
	ck_assert_ptr_nonnull(strstr(why, "a PASID detached around pasidd"));
	/* What the kernel refused changed nothing. */
	r = observed(OB_ATTACH, "0000:3a:00.0", 9, -EBUSY, 200);
	ck_assert_int_eq(bpf_report_judge(&r, 100, &tbl, why, sizeof(why)), BPF_JUDGE_FAILED);
	ck_assert_ptr_nonnull(strstr(why, "= -16 by"));
}
END_TEST

/* Another process's attach is kept out of pasidd's allocation until a detach is seen, by
 * anyone; what failed or was pasidd's own keeps nothing. */
START_TEST(attached_around_pasidd_is_kept_until_detached)
{
	struct ob_report r = observed(OB_ATTACH, "0000:3a:00.0", 4100, 0, 200);
	char why[BPF_REPORT_LINE_LEN + 128];
	struct fake f = {0};
	const struct bpf_report_table tbl = fake_table(&f);

	ck_assert_int_eq(bpf_report_judge(&r, 100, &tbl, why, sizeof(why)), BPF_JUDGE_ALARM);
	ck_assert_uint_eq(f.nkept, 1);
	ck_assert_str_eq(f.kept[0].dev, "0000:3a:00.0");
	ck_assert_uint_eq(f.kept[0].pasid, 4100);
	ck_assert_msg(strstr(why, "a PASID attached around pasidd; kept out of pasidd's "
	                          "allocation until it is detached"),
	              "%s", why);
	ck_assert_int_eq(f.asked, 0);
	/* A replace of the same one keeps it once; on another device it is kept there too. */
	r.kind = OB_REPLACE;
	ck_assert_int_eq(bpf_report_judge(&r, 100, &tbl, why, sizeof(why)), BPF_JUDGE_ALARM);
	ck_assert_ptr_null(strstr(why, "kept out"));
	r = observed(OB_ATTACH, "0000:3b:00.0", 4100, 0, 201);
	ck_assert_int_eq(bpf_report_judge(&r, 100, &tbl, why, sizeof(why)), BPF_JUDGE_ALARM);
	ck_assert_uint_eq(f.nkept, 2);
	/* Refused by the kernel, or pasidd's own: nothing kept. */
	r = observed(OB_ATTACH, "0000:3a:00.0", 4101, -EBUSY, 200);
	ck_assert_int_eq(bpf_report_judge(&r, 100, &tbl, why, sizeof(why)), BPF_JUDGE_FAILED);
	r = observed(OB_ATTACH, "0000:3a:00.0", 7, 0, 100);
	ck_assert_int_eq(bpf_report_judge(&r, 100, &tbl, why, sizeof(why)), BPF_JUDGE_OURS);
	ck_assert_uint_eq(f.nkept, 2);
	/* A failed detach releases nothing; a detach by the attacher releases its device only. */
	r = observed(OB_DETACH, "0000:3a:00.0", 4100, -ENOENT, 200);
	ck_assert_int_eq(bpf_report_judge(&r, 100, &tbl, why, sizeof(why)), BPF_JUDGE_FAILED);
	ck_assert_uint_eq(f.nkept, 2);
	r = observed(OB_DETACH, "0000:3a:00.0", 4100, 0, 200);
	ck_assert_int_eq(bpf_report_judge(&r, 100, &tbl, why, sizeof(why)), BPF_JUDGE_ALARM);
	ck_assert_msg(strstr(why, "a PASID detached around pasidd; it is no longer kept out of "
	                          "pasidd's allocation"),
	              "%s", why);
	ck_assert_uint_eq(f.nkept, 1);
	ck_assert_str_eq(f.kept[0].dev, "0000:3b:00.0");
	/* Detached again: there was nothing left to release, and the line says nothing of it. */
	ck_assert_int_eq(bpf_report_judge(&r, 100, &tbl, why, sizeof(why)), BPF_JUDGE_ALARM);
	ck_assert_ptr_null(strstr(why, "kept out"));
	/* A detach by pasidd (who replaced and then detached it) releases it too. */
	r = observed(OB_DETACH, "0000:3b:00.0", 4100, 0, 100);
	ck_assert_int_eq(bpf_report_judge(&r, 100, &tbl, why, sizeof(why)), BPF_JUDGE_OURS);
	ck_assert_ptr_nonnull(strstr(why, "no longer kept out"));
	ck_assert_uint_eq(f.nkept, 0);
	ck_assert_int_eq(f.asked, 1);
	/* When the table cannot keep it, the alarm says so. */
	f.fail = -ENOMEM;
	r = observed(OB_ATTACH, "0000:3a:00.0", 4102, 0, 200);
	ck_assert_int_eq(bpf_report_judge(&r, 100, &tbl, why, sizeof(why)), BPF_JUDGE_ALARM);
	ck_assert_msg(strstr(why, "; could not be kept out of pasidd's allocation: Cannot "
	                          "allocate memory"),
	              "%s", why);
	/* A table without take/release (NULL) judges the same and keeps nothing. */
	{
		const struct bpf_report_table bare = {.holds = fake_holds, .ctx = &f};

		r = observed(OB_ATTACH, "0000:3a:00.0", 4103, 0, 200);
		ck_assert_int_eq(bpf_report_judge(&r, 100, &bare, why, sizeof(why)),
		                 BPF_JUDGE_ALARM);
		r.kind = OB_DETACH;
		ck_assert_int_eq(bpf_report_judge(&r, 100, &bare, why, sizeof(why)),
		                 BPF_JUDGE_ALARM);
	}
	/* A small buffer still ends in NUL, and the table is kept all the same. */
	f.fail = 0;
	r = observed(OB_ATTACH, "0000:3c:00.0", 4104, 0, 200);
	ck_assert_int_eq(bpf_report_judge(&r, 100, &tbl, why, 20), BPF_JUDGE_ALARM);
	ck_assert_uint_eq(strlen(why), 19);
	ck_assert_uint_eq(f.nkept, 1);
}
END_TEST

START_TEST(attach_the_table_does_not_hold_is_unheld)
{
	struct ob_report r = observed(OB_ATTACH, "0000:3a:00.0", 8, 0, 100);
	char why[BPF_REPORT_LINE_LEN + 128];
	struct fake f = {0};
	const struct bpf_report_table tbl = fake_table(&f);

	ck_assert_int_eq(bpf_report_judge(&r, 100, &tbl, why, sizeof(why)), BPF_JUDGE_UNHELD);
	ck_assert_ptr_nonnull(
	    strstr(why, ": pasidd's table does not hold PASID 8 on 0000:3a:00.0"));
	r = observed(OB_REPLACE, "iommufd_mock0", 7, 0, 100);
	ck_assert_int_eq(bpf_report_judge(&r, 100, &tbl, why, sizeof(why)), BPF_JUDGE_UNHELD);
}
END_TEST

/* An attach of pasidd's undone in the same read is no alarm; one left is. */
START_TEST(undone_attaches_are_cancelled)
{
	static struct bpf_pending p;
	struct ob_report a8 = observed(OB_ATTACH, "0000:3a:00.0", 8, 0, 100);
	struct ob_report a9 = observed(OB_ATTACH, "0000:3a:00.0", 9, 0, 100);
	struct ob_report d8 = observed(OB_DETACH, "0000:3a:00.0", 8, 0, 100);
	struct ob_report other = observed(OB_DETACH, "0000:3b:00.0", 8, 0, 100);

	ck_assert_int_eq(bpf_pending_add(&p, &a8, "a8"), 0);
	ck_assert_int_eq(bpf_pending_add(&p, &a9, "a9"), 0);
	ck_assert(!bpf_pending_cancel(&p, &other)); /* another device */
	ck_assert(bpf_pending_cancel(&p, &d8));
	ck_assert(!bpf_pending_cancel(&p, &d8)); /* once */
	ck_assert_uint_eq(p.n, 1);
	ck_assert_str_eq(p.e[0].why, "a9");
	ck_assert_uint_eq(p.e[0].pasid, 9);
	/* Full: the caller raises the alarm at once instead. */
	for (size_t i = p.n; i < BPF_PENDING_MAX; i++)
		ck_assert_int_eq(bpf_pending_add(&p, &a8, "x"), 0);
	ck_assert_int_eq(bpf_pending_add(&p, &a8, "x"), -ENOSPC);
}
END_TEST

START_TEST(kernel_pasids_and_odd_reports)
{
	struct ob_report r = observed(OB_GLOBAL_ALLOC, "0000:00:04.0", 1, 0, 5);
	char why[BPF_REPORT_LINE_LEN + 128];
	struct fake f = {0};
	const struct bpf_report_table tbl = fake_table(&f);

	ck_assert_int_eq(bpf_report_judge(&r, 100, &tbl, why, sizeof(why)), BPF_JUDGE_KERNEL);
	ck_assert_ptr_nonnull(strstr(why, "iommu_alloc_global_pasid(0000:00:04.0, PASID 1)"));
	r = observed(OB_GLOBAL_FREE, "", 1, 0, 5);
	ck_assert_int_eq(bpf_report_judge(&r, 100, &tbl, why, sizeof(why)), BPF_JUDGE_KERNEL);
	ck_assert_ptr_nonnull(strstr(why, "((no device), PASID 1)"));
	r.kind = 99;
	ck_assert_int_eq(bpf_report_judge(&r, 100, &tbl, why, sizeof(why)), BPF_JUDGE_ALARM);
	ck_assert_ptr_nonnull(strstr(why, "unknown report kind 99"));
	/* A buffer too small for the first part still ends in NUL and judges the same. */
	r = observed(OB_ATTACH, "0000:3a:00.0", 7, 0, 200);
	ck_assert_int_eq(bpf_report_judge(&r, 100, &tbl, why, 20), BPF_JUDGE_ALARM);
	ck_assert_uint_eq(strlen(why), 19);
	ck_assert_int_eq(f.asked, 0);
}
END_TEST

START_TEST(why_a_program_does_not_run)
{
	struct bpfprog_state st = {.active = true};

	bpf_why_failed(&st, BPF_WHY_LSM, "attaching lsm.s/file_ioctl", -EOPNOTSUPP);
	ck_assert(!st.active);
	ck_assert_str_eq(st.why, "attaching lsm.s/file_ioctl: Operation not supported (kernel "
	                         "without BPF LSM active: CONFIG_BPF_LSM=y and boot with "
	                         "lsm=...,bpf)");
	bpf_why_failed(&st, BPF_WHY_TRACING, "attaching fexit/iommu_attach_device_pasid", 524);
	ck_assert_ptr_nonnull(strstr(st.why, "fexit/iommu_attach_device_pasid: Operation not "
	                                     "supported (ENOTSUPP, 524) (kernel without BPF "
	                                     "trampolines"));
	bpf_why_failed(&st, BPF_WHY_TRACING, "loading", ESRCH);
	ck_assert_str_eq(st.why, "loading: No such process (the kernel function or hook is not in "
	                         "the kernel's BTF)");
	bpf_why_failed(&st, BPF_WHY_TRACING, "loading", EPERM);
	ck_assert_ptr_nonnull(strstr(st.why, "loading: Operation not permitted ("));
	/* Which of the two depends on the capabilities the test runs with. */
	ck_assert(strstr(st.why, "needs CAP_BPF and CAP_PERFMON)") ||
	          strstr(st.why, "although pasidd has CAP_BPF and CAP_PERFMON"));
	bpf_why_failed(&st, BPF_WHY_LSM, "loading", ENOSYS);
	ck_assert_str_eq(st.why, "loading: Function not implemented (kernel without the bpf() "
	                         "system call: CONFIG_BPF_SYSCALL)");
	bpf_why_failed(&st, BPF_WHY_LSM, "opening", EBADMSG);
	ck_assert_str_eq(st.why, "opening: Bad message");
}
END_TEST

/* Whatever this host allows, the probe answers one of its documented results. */
START_TEST(probe_answers)
{
	for (int t = BPF_PROBE_LSM; t <= BPF_PROBE_FEXIT; t++) {
		int r = bpf_probe_type_refused((enum bpf_probe_type)t);

		ck_assert_msg(r == 0 || r == -ENOSYS || r == -EPERM || r == -EACCES, "%d", r);
	}
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("bpf_report");
	TCase *tc = ck_case(s, "records", NULL, NULL, 0);

	tcase_add_test(tc, records_of_the_wrong_size_are_refused);
	tcase_add_test(tc, gate_decisions_in_words);
	tc = ck_case(s, "reconcile", NULL, NULL, 0);
	tcase_add_test(tc, pasidds_own_attach_matching_the_table);
	tcase_add_test(tc, attach_by_another_process_is_an_alarm);
	tcase_add_test(tc, attached_around_pasidd_is_kept_until_detached);
	tcase_add_test(tc, attach_the_table_does_not_hold_is_unheld);
	tcase_add_test(tc, undone_attaches_are_cancelled);
	tcase_add_test(tc, kernel_pasids_and_odd_reports);
	tc = ck_case(s, "why", NULL, NULL, 0);
	tcase_add_test(tc, why_a_program_does_not_run);
	tcase_add_test(tc, probe_answers);
	return ck_main(s, NULL);
}
