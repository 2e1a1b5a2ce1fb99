/* pasidctl: the `range` command group (hPASID reservations). */
#include "pasidctl.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* Bounds here only catch what is not a number; the daemon judges the width. */
#define RANGE_ARG_MAX UINT32_MAX

static const char range_usage[] =
    "Usage: pasidctl range COMMAND ...\n"
    "\n"
    "  reserve FIRST-LAST [--why TEXT] [--expires SECONDS] [--name NAME]\n"
    "                      keep host PASIDs FIRST-LAST from being handed out (admin only)\n"
    "  unreserve NAME|FIRST-LAST\n"
    "                      remove a reservation (admin only)\n"
    "  list                list the reservations\n";

static const char reserve_usage[] =
    "Usage: pasidctl range reserve FIRST-LAST [--why TEXT] [--expires SECONDS] [--name NAME]\n"
    "\n"
    "Reserves the host PASIDs FIRST to LAST: pasidd hands none of them out, except to an\n"
    "allocation that names the reservation (pasidctl pasid alloc --reservation NAME).\n"
    "Refused over live mappings (the first one is named) and over another reservation.\n"
    "It survives restarts of pasidd. Admin only.\n"
    "  --why TEXT         why, shown to administrators by `pasidctl range list`\n"
    "  --expires SECONDS  remove it by itself after SECONDS (1-2592000)\n"
    "  --name NAME        its name (default FIRST-LAST)\n";

static const char unreserve_usage[] =
    "Usage: pasidctl range unreserve NAME|FIRST-LAST\n"
    "\n"
    "Removes the reservation named NAME, or the one of exactly FIRST-LAST. The PASIDs handed\n"
    "out of it stay allocated. Admin only.\n";

static const char list_usage[] =
    "Usage: pasidctl range list\n"
    "\n"
    "Lists the reservations: their range, name, source (config: a Reserve= line of\n"
    "pasidd.conf; runtime: pasidctl range reserve), how many live mappings were handed out\n"
    "of them (USED), the seconds until they expire, and for administrators why and who\n"
    "reserved them.\n";

/* "FIRST-LAST": 0 with both, -1 when s is not that. */
static int
parse_range(const char *s, uint32_t *first, uint32_t *last)
{
	const char *dash = strchr(s, '-');
	char a[16];
	int64_t f, l;

	if (!dash || dash == s || (size_t)(dash - s) >= sizeof(a))
		return -1;
	memcpy(a, s, (size_t)(dash - s));
	a[dash - s] = '\0';
	if (ctl_parse_num(a, 0, RANGE_ARG_MAX, &f) < 0 ||
	    ctl_parse_num(dash + 1, 0, RANGE_ARG_MAX, &l) < 0)
		return -1;
	*first = (uint32_t)f;
	*last = (uint32_t)l;
	return 0;
}

static int
range_reserve(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {{"why", required_argument, NULL, 'w'},
	                                     {"expires", required_argument, NULL, 'e'},
	                                     {"name", required_argument, NULL, 'n'},
	                                     CTL_COMMON_OPTIONS};
	const char *why = NULL, *name = NULL;
	struct pasid_reservation *r = NULL;
	struct pasid_error err;
	uint32_t first, last;
	int64_t expires = 0;
	int o, rc;

	while ((o = ctl_getopt(ctl, argc, argv, "", opts, reserve_usage, &rc)) != -1) {
		if (o == 'w')
			why = optarg;
		else if (o == 'n')
			name = optarg;
		else if (o == 'e' && ctl_parse_num(optarg, 1, 2592000, &expires) < 0)
			return ctl_usage_error(ctl, reserve_usage,
			                       "--expires must be 1-2592000 seconds, not '%s'",
			                       optarg);
	}
	if (rc >= 0)
		return rc;
	rc = ctl_check_args(ctl, reserve_usage, "FIRST-LAST", argc - optind, argv + optind);
	if (rc >= 0)
		return rc;
	if (parse_range(argv[optind], &first, &last) < 0)
		return ctl_usage_error(ctl, reserve_usage,
		                       "FIRST-LAST must be two numbers, not '%s'", argv[optind]);
	rc = ctl_connect(ctl);
	if (rc >= 0)
		return rc;
	if (ctl_text(ctl,
	             pasid_range_reserve(ctl->client, first, last, why, (uint32_t)expires, name, &r,
	                                 &err),
	             &err, &rc)) {
		printf("reserved %" PRIu32 "-%" PRIu32 " as %s", r->first, r->last, r->name);
		if (r->expires_s >= 0)
			printf(", expires in %" PRId64 " s", r->expires_s);
		printf("\n");
	}
	pasid_reservations_free(r, r ? 1 : 0);
	return rc;
}

static int
range_unreserve(struct ctl *ctl, int argc, char **argv)
{
	struct pasid_error err;
	uint32_t first, last;
	bool by_range;
	int rc = ctl_plain_command(ctl, argc, argv, unreserve_usage, "NAME|FIRST-LAST");

	if (rc >= 0)
		return rc;
	/* A name never looks like two numbers with a dash: names start with a letter or digit,
	 * but "10-20" is the default name of 10-20 itself, so both readings agree. */
	by_range = parse_range(argv[optind], &first, &last) == 0;
	rc = by_range ? pasid_range_unreserve_range(ctl->client, first, last, &err)
	              : pasid_range_unreserve(ctl->client, argv[optind], &err);
	if (ctl_text(ctl, rc, &err, &rc))
		printf("unreserved %s\n", argv[optind]);
	return rc;
}

static void
print_reservations(const struct pasid_reservation *r, size_t n)
{
	static const char *const head[] = {"FIRST", "LAST",    "NAME", "SOURCE",
	                                   "USED",  "EXPIRES", "BY",   "WHY"};
	struct ctl_table t;

	ctl_table_init(&t, 8, head);
	for (size_t i = 0; i < n; i++) {
		char first[16], last[16], used[16], exp[24], by[32];
		const char *row[] = {first, last, r[i].name, r[i].config ? "config" : "runtime",
		                     used,  exp,  by,        r[i].why};

		snprintf(first, sizeof(first), "%" PRIu32, r[i].first);
		snprintf(last, sizeof(last), "%" PRIu32, r[i].last);
		snprintf(used, sizeof(used), "%" PRIu32, r[i].used);
		if (r[i].expires_s >= 0)
			snprintf(exp, sizeof(exp), "%" PRId64 "s", r[i].expires_s);
		else
			snprintf(exp, sizeof(exp), "-");
		if (r[i].has_by)
			snprintf(by, sizeof(by), "uid %" PRIu32 " pid %" PRId32, r[i].by_uid,
			         r[i].by_pid);
		else
			snprintf(by, sizeof(by), "-");
		ctl_table_add(&t, row);
	}
	ctl_table_print(&t);
}

static int
range_list(struct ctl *ctl, int argc, char **argv)
{
	struct pasid_reservation *r = NULL;
	struct pasid_error err;
	size_t n = 0;
	int rc = ctl_plain_command(ctl, argc, argv, list_usage, "");

	if (rc >= 0)
		return rc;
	if (ctl_text(ctl, pasid_range_list(ctl->client, &r, &n, &err), &err, &rc))
		print_reservations(r, n);
	pasid_reservations_free(r, n);
	return rc;
}

static const struct ctl_cmd range_cmds[] = {
    {"reserve", range_reserve, NULL},
    {"unreserve", range_unreserve, NULL},
    {"list", range_list, NULL},
    {NULL, NULL, NULL},
};

const struct ctl_group ctl_range_group = {range_cmds, range_usage};
