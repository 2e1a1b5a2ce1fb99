/* How every Check program runs its suite and turns the outcome into an exit status:
 *
 *   0   every test that ran passed, and each of them asserted something;
 *   1   a test failed, passed without a single assertion having run, or none was selected;
 *   77  nothing could run on this host: ctest shows the entry as skipped (SKIP_RETURN_CODE),
 *       and one line on stderr says why.
 *
 * A whole program that cannot run here (not root, no private mount namespace, ...) says so
 * with ck_skip() before it builds its suite. Test cases that need what only some hosts have
 * carry a Check tag that names the need, written as a literal in tcase_set_tags(tc, "root"),
 * and pass ck_main() a table of such needs: tests/CMakeLists.txt reads the tags from the
 * source and gives each its own ctest entry (name/tag, run with CK_INCLUDE_TAGS=tag), and
 * runs the untagged rest under the program's name (with CK_EXCLUDE_TAGS). Run by hand with
 * no tags selected, a program leaves out the cases whose need this host lacks and says so.
 *
 * Check reports a passing test at the place of its last passing assertion (each ck_assert
 * marks its line), and a test that asserted nothing at its START_TEST line: ck_main()
 * counts such a pass as a failure, so that no test passes by returning early. */
#ifndef PASIDD_CK_MAIN_H
#define PASIDD_CK_MAIN_H

#include <check.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* What the cases tagged `tag` need: lacking() is NULL when this host has it, else why not. */
struct ck_need {
	const char *tag;
	const char *(*lacking)(void);
};

/* A new test case of s, with a checked fixture (setup and teardown may be NULL) and a
 * timeout in seconds (0: Check's default). */
static inline TCase *
ck_case(Suite *s, const char *name, SFun setup, SFun teardown, double timeout)
{
	TCase *tc = tcase_create(name);

	if (setup || teardown)
		tcase_add_checked_fixture(tc, setup, teardown);
	if (timeout > 0)
		tcase_set_timeout(tc, timeout);
	suite_add_tcase(s, tc);
	return tc;
}

/* Ends the program as skipped (77), with one line on stderr: "<program>: skipped: why". */
static inline void ck_skip(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static inline void
ck_skip(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: skipped: ", program_invocation_short_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(77);
}

/* The common needs. */
static inline const char *
ck_lacking_root(void)
{
	return geteuid() == 0 ? NULL : "needs root";
}

/* For what a daemon under a tool (PASIDD_WRAPPER: valgrind) does not do as it ships. */
static inline const char *
ck_lacking_unwrapped(void)
{
	const char *w = getenv("PASIDD_WRAPPER");

	return w && *w ? "not run with the daemon under PASIDD_WRAPPER" : NULL;
}

/* Whether the space-separated list holds tag. */
static inline bool
ck_tag_in(const char *list, const char *tag)
{
	size_t n = strlen(tag);

	for (const char *p = list; p && *p; p += strcspn(p, " ")) {
		p += strspn(p, " ");
		if (!strncmp(p, tag, n) && (p[n] == ' ' || p[n] == '\0'))
			return true;
	}
	return false;
}

/* Whether line `lno` of file starts with START_TEST; -1 when the file cannot be read. */
static inline int
ck_at_start_test(const char *file, int lno)
{
	char line[512];
	int n = 0, at = 0;
	FILE *f = fopen(file, "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strchr(line, '\n') && ++n == lno) {
			at = !strncmp(line, "START_TEST(", 11);
			break;
		}
	fclose(f);
	return at;
}

/* The passing tests that asserted nothing, each said on stderr; their number. */
static inline int
ck_unasserted(SRunner *sr)
{
	TestResult **r = srunner_results(sr);
	int n = srunner_ntests_run(sr), silent = 0;

	for (int i = 0; i < n; i++) {
		int at;

		if (tr_rtype(r[i]) != CK_PASS)
			continue;
		at = ck_at_start_test(tr_lfile(r[i]), tr_lno(r[i]));
		if (at < 0)
			fprintf(stderr,
			        "%s: cannot read %s to see that its passing tests asserted\n",
			        program_invocation_short_name, tr_lfile(r[i]));
		if (at > 0) {
			fprintf(stderr,
			        "%s:%d: %s: a test passed without a single assertion having run\n",
			        tr_lfile(r[i]), tr_lno(r[i]), tr_tcname(r[i]));
			silent++;
		}
	}
	free(r);
	return silent;
}

/* Runs the suite (see the top of this file); needs ends with {NULL, NULL}, or is NULL. */
static inline int
ck_main(Suite *s, const struct ck_need *needs)
{
	const char *include = getenv("CK_INCLUDE_TAGS"), *why = NULL;
	char exclude[512];
	int lacking = 0, ran, failed, silent;
	SRunner *sr;

	if (include && !*include)
		include = NULL;
	snprintf(exclude, sizeof(exclude), "%s",
	         getenv("CK_EXCLUDE_TAGS") ? getenv("CK_EXCLUDE_TAGS") : "");
	/* The needs of the cases that would run, and only those (a check may have effects). */
	for (const struct ck_need *n = needs; n && n->tag; n++) {
		if ((include && !ck_tag_in(include, n->tag)) || ck_tag_in(exclude, n->tag) ||
		    !(why = n->lacking()))
			continue;
		lacking++;
		fprintf(stderr, "%s: the cases tagged %s do not run here: %s\n",
		        program_invocation_short_name, n->tag, why);
		snprintf(exclude + strlen(exclude), sizeof(exclude) - strlen(exclude), "%s%s",
		         exclude[0] ? " " : "", n->tag);
	}
	sr = srunner_create(s);
	srunner_run_tagged(sr, NULL, NULL, include, exclude[0] ? exclude : NULL, CK_NORMAL);
	ran = srunner_ntests_run(sr);
	failed = srunner_ntests_failed(sr);
	silent = ck_unasserted(sr);
	srunner_free(sr);
	if (ran == 0 && lacking)
		return 77;
	if (ran == 0)
		fprintf(stderr, "%s: no test was selected to run\n", program_invocation_short_name);
	return failed || silent || ran == 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* A suite whose cases need nothing in particular. */
static inline int
ck_run(Suite *s)
{
	return ck_main(s, NULL);
}

#endif
