/* How every Check program runs its suite and turns the outcome into an exit status. */
#ifndef PASIDD_CK_MAIN_H
#define PASIDD_CK_MAIN_H

#include <check.h>
#include <stdlib.h>

static inline int
ck_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
