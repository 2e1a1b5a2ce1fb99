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

	ctl_table_init(&t, 4, head);
	for (size_t i = 0; i < n; i++) {
		char max[24], cur[24], denied[24];
		const char *row[] = {q[i].cgroup, max, cur, denied};

		format_max(q[i].max, max, sizeof(max));
		snprintf(cur, sizeof(cur), "%" PRIu64, q[i].current);
		snprintf(denied, sizeof(denied), "%" PRIu64, q[i].denied);
		ctl_table_add(&t, row);
	}
	ctl_table_print(&t);
}

static int
quota_get(struct ctl *ctl, int argc, char **argv)
{
	struct pasid_error err;
	struct pasid_quota *q;
	size_t n;
	int rc;

	rc = ctl_common_options(ctl, argc, argv, get_usage);
	if (rc >= 0)
		return rc;
	if (argc - optind > 1)
		return ctl_usage_error(ctl, get_usage, "unexpected argument '%s'",
		                       argv[optind + 1]);
	rc = ctl_connect(ctl);
	if (rc >= 0)
		return rc;
	if (ctl_text(ctl,
	             pasid_quota_get(ctl->client, argc - optind == 1 ? argv[optind] : NULL, &q, &n,
	                             &err),
	             &err, &rc))
		print_quotas(q, n);
	pasid_quotas_free(q, n);
	return rc;
}

static int
quota_set(struct ctl *ctl, int argc, char **argv)
{
	struct pasid_error err;
	struct pasid_quota *q;
	uint64_t max;
	int64_t n;
	int rc;

	rc = ctl_common_options(ctl, argc, argv, set_usage);
	if (rc >= 0)
		return rc;
	rc = ctl_check_args(ctl, set_usage, "CGROUP MAX", argc - optind, argv + optind);
	if (rc >= 0)
		return rc;
	if (strcmp(argv[optind + 1], "max") == 0)
		max = PASID_QUOTA_NO_LIMIT;
	else if (ctl_parse_num(argv[optind + 1], 0, INT64_MAX, &n) == 0)
		max = (uint64_t)n;
	else
		return ctl_usage_error(ctl, set_usage, "MAX must be a number or max, not '%s'",
		                       argv[optind + 1]);
	rc = ctl_connect(ctl);
	if (rc >= 0)
		return rc;
	if (ctl_text(ctl, pasid_quota_set(ctl->client, argv[optind], max, &q, &err), &err, &rc)) {
		char buf[24];

		format_max(q->max, buf, sizeof(buf));
		printf("%s: max %s, current %" PRIu64 "\n", q->cgroup, buf, q->current);
	}
	pasid_quotas_free(q, 1);
	return rc;
}

static const struct ctl_cmd quota_cmds[] = {
    {"get", quota_get, NULL},
    {"set", quota_set, NULL},
    {NULL, NULL, NULL},
};

const struct ctl_group ctl_quota_group = {quota_cmds, quota_usage};
