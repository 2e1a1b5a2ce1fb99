/* Issue 8, item 4: pasid.list, vm.list and vm.show are paged. A walk returns every entry
 * that exists throughout it exactly once, in (VM, gPASID) order, whatever changes between
 * its pages; limits and cursors are checked; a refused page changes nothing. */
#include <check.h>

#include "ck_main.h"
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

static struct it_daemon d;
static int fd = -1;

static void
setup(void)
{
	ck_assert_msg(it_setup(&d, &fd, NULL) == 0, "pasidd did not start (log in %s)", d.log);
}

static void
teardown(void)
{
	it_teardown(&d, &fd);
}

/* Walks method with a limit; checks order and that every page but the last is full or ended
 * by its budget; returns all entries (kept) and the number of pages. */
static struct json_object *
walk(const char *method, const char *member, const char *first_params, int limit, int *pages)
{
	struct json_object *all = it_keep(json_object_new_array());
	struct json_object *params = json_tokener_parse(first_params);
	char prev[128] = "";

	*pages = 0;
	json_object_object_add(params, "limit", json_object_new_int(limit));
	for (;;) {
		struct json_object *r =
		    IT_OK(it_call(fd, method, json_object_to_json_string(params)));
		struct json_object *page = it_get(r, member), *next = it_get(r, "next");

		ck_assert_ptr_nonnull(page);
		ck_assert_int_le(json_object_array_length(page), limit);
		(*pages)++;
		for (size_t i = 0; i < json_object_array_length(page); i++) {
			struct json_object *e = json_object_array_get_idx(page, i);
			char key[128];

			if (json_object_object_get_ex(e, "gpasid", NULL))
				snprintf(key, sizeof(key), "%-64s %08lld",
				         json_object_object_get_ex(e, "vm", NULL) ? it_str(e, "vm")
				                                                  : "",
				         (long long)it_int(e, "gpasid"));
			else
				snprintf(key, sizeof(key), "%s", it_str(e, "vm"));
			ck_assert_msg(strcmp(prev, key) < 0, "out of order: '%s' after '%s'", key,
			              prev);
			snprintf(prev, sizeof(prev), "%s", key);
			json_object_array_add(all, json_object_get(e));
		}
		if (!next)
			break;
		json_object_object_add(params, "after", json_object_get(next));
	}
	json_object_put(params);
	return all;
}

START_TEST(walks_return_everything_once_in_order)
{
	struct json_object *all;
	int pages;

	/* Three VMs; an identity VM has gPASIDs in the local and the shared range. */
	IT_OK(it_call(fd, "vm.register", "{\"vm\":\"b\"}"));
	IT_OK(it_call(fd, "vm.register", "{\"vm\":\"a\",\"mode\":\"identity\"}"));
	IT_OK(it_call(fd, "vm.register", "{\"vm\":\"c\"}"));
	IT_OK(it_call(fd, "pasid.alloc", "{\"vm\":\"b\",\"type\":\"shared\",\"count\":50}"));
	IT_OK(it_call(fd, "pasid.alloc", "{\"vm\":\"a\",\"type\":\"shared\",\"count\":30}"));
	IT_OK(it_call(fd, "device.assign", "{\"vm\":\"a\",\"device\":\"0000:00:02.0\"}"));
	IT_OK(it_call(fd, "pasid.alloc",
	              "{\"vm\":\"a\",\"type\":\"local\",\"device\":\"0000:00:02.0\",\"count\":5}"));
	all = walk("pasid.list", "mappings", "{}", 7, &pages);
	ck_assert_int_eq(json_object_array_length(all), 85);
	ck_assert_int_ge(pages, 13);
	/* The local gPASIDs of identity VM a (1-5) come before its shared ones (4096...). */
	ck_assert_int_eq(it_int(all, "0.gpasid"), 1);
	ck_assert_str_eq(it_str(all, "0.type"), "local");
	ck_assert_int_eq(it_int(all, "5.gpasid"), 4146);
	ck_assert_str_eq(it_str(all, "5.vm"), "a");
	all = walk("pasid.list", "mappings", "{\"type\":\"local\"}", 2, &pages);
	ck_assert_int_eq(json_object_array_length(all), 5);
	all = walk("pasid.list", "mappings", "{\"vm\":\"b\"}", 16, &pages);
	ck_assert_int_eq(json_object_array_length(all), 50);
	ck_assert_int_eq(pages, 4);
	all = walk("vm.show", "mappings", "{\"vm\":\"a\"}", 4, &pages);
	ck_assert_int_eq(json_object_array_length(all), 35);
	all = walk("vm.list", "vms", "{}", 2, &pages);
	ck_assert_int_eq(json_object_array_length(all), 3);
	ck_assert_str_eq(it_str(all, "0.vm"), "a");
	ck_assert_str_eq(it_str(all, "2.vm"), "c");
	/* Without a limit: the default page of 1024 holds them all and says nothing more. */
	ck_assert_ptr_null(it_get(IT_OK(it_call(fd, "pasid.list", NULL)), "next"));
	ck_assert_int_eq(
	    json_object_array_length(it_get(IT_OK(it_call(fd, "pasid.list", NULL)), "mappings")),
	    85);
}
END_TEST

/* Mappings that exist for the whole walk come back exactly once, while others come and go
 * between its pages and VMs are registered and unregistered around the cursor. */
START_TEST(stable_under_concurrent_changes)
{
	struct json_object *params = json_tokener_parse("{\"limit\":50}");
	int other = it_connect(&d), seen[4096] = {0}, pages = 0, churn = 1;

	IT_OK(it_call(fd, "vm.register", "{\"vm\":\"m\"}"));
	IT_OK(it_call(fd, "pasid.alloc", "{\"vm\":\"m\",\"type\":\"shared\",\"count\":1000}"));
	for (;;) {
		struct json_object *r =
		    IT_OK(it_call(fd, "pasid.list", json_object_to_json_string(params)));
		struct json_object *page = it_get(r, "mappings"), *next = it_get(r, "next");

		for (size_t i = 0; i < json_object_array_length(page); i++) {
			struct json_object *e = json_object_array_get_idx(page, i);

			if (!strcmp(it_str(e, "vm"), "m") && it_int(e, "gpasid") <= 1000) {
				ck_assert_msg(!seen[it_int(e, "gpasid")], "gPASID %lld twice",
				              (long long)it_int(e, "gpasid"));
				seen[it_int(e, "gpasid")] = 1;
			}
		}
		if (!next)
			break;
		json_object_object_add(params, "after", json_object_get(next));
		pages++;
		/* Between pages: mappings come and go after and before the cursor, and VMs
		 * sorting before and after "m" appear and disappear. */
		IT_OK(it_callf(other, "pasid.alloc",
		               "{\"vm\":\"m\",\"type\":\"shared\",\"gpasid\":%d}", 1000 + churn));
		if (churn > 1)
			IT_OK(it_callf(other, "pasid.free", "{\"vm\":\"m\",\"gpasid\":%d}",
			               1000 + churn - 1));
		IT_OK(it_callf(other, "vm.register", "{\"vm\":\"%c%d\"}", churn % 2 ? 'a' : 'z',
		               churn));
		IT_OK(it_callf(other, "pasid.alloc", "{\"vm\":\"%c%d\",\"type\":\"shared\"}",
		               churn % 2 ? 'a' : 'z', churn));
		if (churn > 2)
			IT_OK(it_callf(other, "vm.unregister", "{\"vm\":\"%c%d\"}",
			               churn % 2 ? 'a' : 'z', churn - 2));
		churn++;
	}
	json_object_put(params);
	for (int g = 1; g <= 1000; g++)
		ck_assert_msg(seen[g], "gPASID %d, there throughout, was never returned", g);
	ck_assert_int_ge(pages, 19);
	close(other);
}
END_TEST

START_TEST(limits_and_cursors)
{
	const char *before;

	IT_OK(it_call(fd, "vm.register", "{\"vm\":\"v\"}"));
	IT_OK(it_call(fd, "vm.register", "{\"vm\":\"w\"}"));
	IT_OK(it_call(fd, "pasid.alloc", "{\"vm\":\"v\",\"type\":\"shared\",\"count\":3}"));
	before = it_snapshot(fd);
	IT_ERR(it_call(fd, "pasid.list", "{\"limit\":0}"), -32602, "limit");
	IT_ERR(it_call(fd, "pasid.list", "{\"limit\":4097}"), -32602, "limit");
	IT_ERR(it_call(fd, "vm.list", "{\"limit\":1025}"), -32602, "limit");
	IT_ERR(it_call(fd, "vm.show", "{\"vm\":\"v\",\"limit\":-1}"), -32602, "limit");
	IT_ERR(it_call(fd, "pasid.list", "{\"limit\":\"10\"}"), -32602, "limit");
	IT_ERR(it_call(fd, "pasid.list", "{\"after\":1}"), -32602, "after");
	IT_ERR(it_call(fd, "pasid.list", "{\"after\":\"\"}"), -32602, "after");
	IT_ERR(it_call(fd, "pasid.list", "{\"after\":\"v\"}"), -32602, "after");
	IT_ERR(it_call(fd, "pasid.list", "{\"after\":\"v/x\"}"), -32602, "after");
	IT_ERR(it_call(fd, "pasid.list", "{\"after\":\"v/99999999999\"}"), -32602, "after");
	IT_ERR(it_call(fd, "pasid.list", "{\"after\":\"a b/1\"}"), -32602, "after");
	/* A cursor of one VM's listing does not continue another's. */
	IT_ERR(it_call(fd, "pasid.list", "{\"vm\":\"w\",\"after\":\"v/1\"}"), -32602, "after");
	IT_ERR(it_call(fd, "vm.show", "{\"vm\":\"w\",\"after\":\"v/1\"}"), -32602, "after");
	ck_assert_str_eq(it_snapshot(fd), before);
	/* The maximum is accepted; a cursor of a VM that has gone continues after it. */
	IT_OK(it_call(fd, "pasid.list", "{\"limit\":4096}"));
	IT_OK(it_call(fd, "vm.list", "{\"limit\":1024}"));
	ck_assert_int_eq(json_object_array_length(it_get(
	                     IT_OK(it_call(fd, "pasid.list", "{\"after\":\"u/7\"}")), "mappings")),
	                 3);
	ck_assert_int_eq(json_object_array_length(
	                     it_get(IT_OK(it_call(fd, "vm.list", "{\"after\":\"v/0\"}")), "vms")),
	                 1);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("paging");
	TCase *tc = tcase_create("paging");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, walks_return_everything_once_in_order);
	tcase_add_test(tc, stable_under_concurrent_changes);
	tcase_add_test(tc, limits_and_cursors);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	return ck_run(suite());
}
