/* pasidctl: the `quota` command group. */
#include "pasidctl.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const char quota_usage[] =
    "Usage: pasidctl quota COMMAND ...\n"
    "\n"
    "  get [CGROUP]        show the PASID quotas of cgroups\n"
    "  set CGROUP MAX      set the runtime PASID limit of CGROUP (admin only)\n";

static const char get_usage[] =
    "Usage: pasidctl quota get [CGROUP]\n"
    "\n"
    "Shows the PASID quota of CGROUP, or of every cgroup that holds PASIDs, has a limit or\n"
    "has refused an allocation: the limit in force (MAX, \"max\" for none), the PASIDs held\n"
    "by the cgroup and its descendants (CURRENT) and the allocations it refused (DENIED).\n";

static const char set_usage[] =
    "Usage: pasidctl quota set CGROUP MAX\n"
    "\n"
    "Sets the runtime PASID limit of the cgroup v2 CGROUP (such as /machine.slice) to MAX,\n"
    "or removes it with MAX \"max\". The limit survives daemon restarts; the smallest of it,\n"
    "the configured one and the cgroup's user.pasid.max xattr applies. Admin only.\n";

static void
format_max(uint64_t max, char *buf, size_t len)
{
	if (max == PASID_QUOTA_NO_LIMIT)
		snprintf(buf, len, "max");
	else
		snprintf(buf, len, "%" PRIu64, max);
}

static void
print_quotas(const struct pasid_quota *q, size_t n)
{
	static const char *const head[] = {"CGROUP", "MAX", "CURRENT", "DENIED"};
	struct ctl_table t;

	ctl_table_init(&t, 4);
	ctl_table_add(&t, head);
	for (size_t i = 0; i < n; i++) {
		char max[24], cur[24], denied[24];
		const char *row[] = {q[i].cgroup, max, cur, denied};

		format_max(q[i].max, max, sizeof(max));
		snprintf(cur, sizeof(cur), "%" PRIu64, q[i].current);
		snprintf(denied, sizeof(denied), "%" PRIu64, q[i].denied);
		ctl_table_add(&t, row);
	}
	ctl_table_print(&t);
	ctl_table_free(&t);
}

/* Parses the result into quotas and prints them as a table, or the JSON as it came. */
static int
show(struct ctl *ctl, struct json_object *res, bool table)
{
	struct pasid_quota *q;
	struct pasid_error err;
	size_t n;
	int rc;

	if (ctl_json_done(ctl, res))
		return 0;
	rc = pasid_parse_quotas(res, &q, &n, &err);
	json_object_put(res);
	if (rc < 0)
		return ctl_error(ctl, &err);
	if (table) {
		print_quotas(q, n);
	} else {
		char max[24];

		format_max(q[0].max, max, sizeof(max));
		printf("%s: max %s, current %" PRIu64 "\n", q[0].cgroup, max, q[0].current);
	}
	pasid_quotas_free(q, n);
	return 0;
}

static int
quota_get(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {CTL_COMMON_OPTIONS};
	struct json_object *p, *res;
	int rc;

	while (ctl_getopt(ctl, argc, argv, "", opts, get_usage, &rc) != -1)
		;
	if (rc >= 0)
		return rc;
	if (argc - optind > 1)
		return ctl_usage_error(ctl, get_usage, "unexpected argument '%s'",
		                       argv[optind + 1]);
	p = json_object_new_object();
	if (argc - optind == 1)
		json_object_object_add(p, "cgroup", json_object_new_string(argv[optind]));
	rc = ctl_call(ctl, "quota.get", p, &res);
	if (rc)
		return rc;
	return show(ctl, res, true);
}

static int
quota_set(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {CTL_COMMON_OPTIONS};
	struct json_object *p, *res, *max;
	int64_t n;
	int rc;

	while (ctl_getopt(ctl, argc, argv, "", opts, set_usage, &rc) != -1)
		;
	if (rc >= 0)
		return rc;
	rc = ctl_check_args(ctl, set_usage, "CGROUP MAX", argc - optind, argv + optind);
	if (rc >= 0)
		return rc;
	if (strcmp(argv[optind + 1], "max") == 0)
		max = json_object_new_string("max");
	else if (ctl_parse_num(argv[optind + 1], 0, INT64_MAX, &n) == 0)
		max = json_object_new_int64(n);
	else
		return ctl_usage_error(ctl, set_usage, "MAX must be a number or max, not '%s'",
		                       argv[optind + 1]);
	p = json_object_new_object();
	json_object_object_add(p, "cgroup", json_object_new_string(argv[optind]));
	json_object_object_add(p, "max", max);
	rc = ctl_call(ctl, "quota.set", p, &res);
	if (rc)
		return rc;
	return show(ctl, res, false);
}

static const struct ctl_cmd quota_cmds[] = {
    {"get", quota_get},
    {"set", quota_set},
    {NULL, NULL},
};

int
ctl_quota(struct ctl *ctl, int argc, char **argv)
{
	return ctl_dispatch(ctl, quota_cmds, quota_usage, argc, argv);
}
