/* pasidctl: the `pasid` command group. */
#include "pasidctl.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* Bounds here only catch what is not a number; the daemon judges the range. */
#define PASID_ARG_MAX INT32_MAX

static const char pasid_usage[] =
    "Usage: pasidctl pasid COMMAND ...\n"
    "\n"
    "  alloc --vm VM --type shared|local [--device BDF] [--gpasid N] [--count N]\n"
    "  free --vm VM --gpasid N\n"
    "  lookup HPASID [--device BDF]\n"
    "  lookup --vm VM --gpasid N\n"
    "  list [--vm VM] [--type shared|local]\n";

static const char alloc_usage[] =
    "Usage: pasidctl pasid alloc --vm VM --type shared|local [--device BDF] [--gpasid N]\n"
    "                            [--count N]\n"
    "\n"
    "Allocates PASIDs for VM and prints the new mappings.\n"
    "  --vm VM       the VM\n"
    "  --type TYPE   shared (host-unique hPASID) or local (RID-local, needs --device)\n"
    "  --device BDF  the exclusively assigned device of a local PASID (DDDD:BB:DD.F)\n"
    "  --gpasid N    the guest PASID wanted, the first of them with --count\n"
    "                (default: the lowest free ones)\n"
    "  --count N     allocate N PASIDs (1-4096), all or none; a translated VM's guest\n"
    "                range and a device's local range hold 4095 each by default\n";

static const char free_usage[] = "Usage: pasidctl pasid free --vm VM --gpasid N\n"
                                 "\n"
                                 "Detaches and frees the mapping of guest PASID N of VM.\n";

static const char lookup_usage[] =
    "Usage: pasidctl pasid lookup HPASID [--device BDF]\n"
    "       pasidctl pasid lookup --vm VM --gpasid N\n"
    "\n"
    "Finds the mapping of a host PASID (admin only) or of a VM's guest PASID.\n"
    "  --device BDF  which device's mapping of a local HPASID (default: lowest BDF)\n";

static const char list_usage[] = "Usage: pasidctl pasid list [--vm VM] [--type shared|local]\n"
                                 "\n"
                                 "Lists mappings, sorted by VM and guest PASID.\n";

/* --type: one of the types as libpasid names them. */
static int
parse_type(struct ctl *ctl, const char *s, const char *usage, enum pasid_type *type)
{
	for (enum pasid_type t = PASID_TYPE_SHARED; t <= PASID_TYPE_LOCAL; t++) {
		if (strcmp(s, pasid_type_name(t)) == 0) {
			*type = t;
			return -1;
		}
	}
	return ctl_usage_error(ctl, usage, "--type must be shared or local");
}

static int
parse_pasid(struct ctl *ctl, const char *s, const char *what, const char *usage, int64_t *out)
{
	if (ctl_parse_num(s, 0, PASID_ARG_MAX, out) < 0)
		return ctl_usage_error(ctl, usage, "%s: '%s' is not a PASID", what, s);
	return -1;
}

/* One mapping, or with count >= 0 that many, printed. */
static int
alloc(struct ctl *ctl, const char *vm, enum pasid_type type, const char *device, uint32_t gpasid,
      int64_t count)
{
	struct pasid_mapping one, *maps = NULL;
	struct pasid_error err;
	size_t n = 0;
	int rc;

	if (count >= 0) {
		rc = pasid_alloc_count(ctl->client, vm, type, device, gpasid, (uint32_t)count,
		                       &maps, &n, &err);
	} else {
		rc = pasid_alloc(ctl->client, vm, type, device, gpasid, &one, &err);
		n = 1;
	}
	if (ctl_text(ctl, rc, &err, &rc))
		ctl_print_mappings(maps ? maps : &one, n, false);
	pasid_mappings_free(maps);
	return rc;
}

static int
pasid_alloc_cmd(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"vm", required_argument, NULL, 'v'},     {"type", required_argument, NULL, 't'},
	    {"device", required_argument, NULL, 'd'}, {"gpasid", required_argument, NULL, 'g'},
	    {"count", required_argument, NULL, 'c'},  CTL_COMMON_OPTIONS};
	const char *vm = NULL, *device = NULL;
	enum pasid_type type = PASID_TYPE_ANY;
	int64_t gpasid = -1, count = -1;
	int o, rc;

	while ((o = ctl_getopt(ctl, argc, argv, "", opts, alloc_usage, &rc)) != -1) {
		int r = -1;

		switch (o) {
		case 'v':
			vm = optarg;
			break;
		case 't':
			r = parse_type(ctl, optarg, alloc_usage, &type);
			break;
		case 'd':
			r = ctl_check_bdf(ctl, alloc_usage, "--device", optarg);
			device = optarg;
			break;
		case 'g':
			r = parse_pasid(ctl, optarg, "--gpasid", alloc_usage, &gpasid);
			break;
		case 'c':
			if (ctl_parse_num(optarg, 0, PASID_ARG_MAX, &count) < 0)
				r = ctl_usage_error(ctl, alloc_usage,
				                    "--count: '%s' is not a number", optarg);
			break;
		}
		if (r >= 0)
			return r;
	}
	if (rc >= 0)
		return rc;
	if (optind < argc)
		return ctl_usage_error(ctl, alloc_usage, "unexpected argument '%s'", argv[optind]);
	if (!vm || type == PASID_TYPE_ANY)
		return ctl_usage_error(ctl, alloc_usage, "--vm and --type are required");
	rc = ctl_connect(ctl);
	if (rc >= 0)
		return rc;
	return alloc(ctl, vm, type, device, gpasid < 0 ? PASID_ANY : (uint32_t)gpasid, count);
}

static int
pasid_free_cmd(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {{"vm", required_argument, NULL, 'v'},
	                                     {"gpasid", required_argument, NULL, 'g'},
	                                     CTL_COMMON_OPTIONS};
	const char *vm = NULL;
	int64_t gpasid = -1;
	struct pasid_error err;
	int o, rc;

	while ((o = ctl_getopt(ctl, argc, argv, "", opts, free_usage, &rc)) != -1) {
		int r = -1;

		if (o == 'v')
			vm = optarg;
		else if (o == 'g')
			r = parse_pasid(ctl, optarg, "--gpasid", free_usage, &gpasid);
		if (r >= 0)
			return r;
	}
	if (rc >= 0)
		return rc;
	if (optind < argc)
		return ctl_usage_error(ctl, free_usage, "unexpected argument '%s'", argv[optind]);
	if (!vm || gpasid < 0)
		return ctl_usage_error(ctl, free_usage, "--vm and --gpasid are required");
	rc = ctl_connect(ctl);
	if (rc >= 0)
		return rc;
	if (ctl_text(ctl, pasid_free(ctl->client, vm, (uint32_t)gpasid, &err), &err, &rc))
		printf("freed gPASID %" PRId64 " of %s\n", gpasid, vm);
	return rc;
}

static int
pasid_lookup_cmd(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {{"vm", required_argument, NULL, 'v'},
	                                     {"gpasid", required_argument, NULL, 'g'},
	                                     {"device", required_argument, NULL, 'd'},
	                                     CTL_COMMON_OPTIONS};
	const char *vm = NULL, *device = NULL;
	int64_t gpasid = -1, hpasid = -1;
	struct pasid_mapping m;
	struct pasid_error err;
	int o, rc;

	while ((o = ctl_getopt(ctl, argc, argv, "", opts, lookup_usage, &rc)) != -1) {
		int r = -1;

		if (o == 'v')
			vm = optarg;
		else if (o == 'g')
			r = parse_pasid(ctl, optarg, "--gpasid", lookup_usage, &gpasid);
		else if (o == 'd')
			r = ctl_check_bdf(ctl, lookup_usage, "--device", device = optarg);
		if (r >= 0)
			return r;
	}
	if (rc >= 0)
		return rc;
	if (argc - optind > 1)
		return ctl_usage_error(ctl, lookup_usage, "unexpected argument '%s'",
		                       argv[optind + 1]);
	if (argc - optind == 1) {
		rc = parse_pasid(ctl, argv[optind], "HPASID", lookup_usage, &hpasid);
		if (rc >= 0)
			return rc;
		if (vm || gpasid >= 0)
			return ctl_usage_error(ctl, lookup_usage,
			                       "give either HPASID or --vm and --gpasid");
	} else if (!vm || gpasid < 0) {
		return ctl_usage_error(ctl, lookup_usage,
		                       "give either HPASID or --vm and --gpasid");
	} else if (device) {
		return ctl_usage_error(ctl, lookup_usage, "--device goes with HPASID only");
	}
	rc = ctl_connect(ctl);
	if (rc >= 0)
		return rc;
	if (hpasid >= 0)
		rc = pasid_lookup_hpasid(ctl->client, (uint32_t)hpasid, device, &m, &err);
	else
		rc = pasid_lookup(ctl->client, vm, (uint32_t)gpasid, &m, &err);
	if (ctl_text(ctl, rc, &err, &rc))
		ctl_print_mappings(&m, 1, true);
	return rc;
}

static int
pasid_list_cmd(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {{"vm", required_argument, NULL, 'v'},
	                                     {"type", required_argument, NULL, 't'},
	                                     CTL_COMMON_OPTIONS};
	enum pasid_type type = PASID_TYPE_ANY;
	struct pasid_mapping *maps;
	struct pasid_error err;
	const char *vm = NULL;
	size_t n;
	int o, rc;

	while ((o = ctl_getopt(ctl, argc, argv, "", opts, list_usage, &rc)) != -1) {
		int r = -1;

		if (o == 'v')
			vm = optarg;
		else if (o == 't')
			r = parse_type(ctl, optarg, list_usage, &type);
		if (r >= 0)
			return r;
	}
	if (rc >= 0)
		return rc;
	if (optind < argc)
		return ctl_usage_error(ctl, list_usage, "unexpected argument '%s'", argv[optind]);
	rc = ctl_connect(ctl);
	if (rc >= 0)
		return rc;
	if (ctl_text(ctl, pasid_list(ctl->client, vm, type, &maps, &n, &err), &err, &rc))
		ctl_print_mappings(maps, n, true);
	pasid_mappings_free(maps);
	return rc;
}

static const struct ctl_cmd pasid_cmds[] = {
    {"alloc", pasid_alloc_cmd},
    {"free", pasid_free_cmd},
    {"lookup", pasid_lookup_cmd},
    {"list", pasid_list_cmd},
    {NULL, NULL},
};

int
ctl_pasid(struct ctl *ctl, int argc, char **argv)
{
	return ctl_dispatch(ctl, pasid_cmds, pasid_usage, argc, argv);
}
