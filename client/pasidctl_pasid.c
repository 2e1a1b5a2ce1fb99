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

static int
parse_type(struct ctl *ctl, const char *s, const char *usage, const char **type)
{
	if (strcmp(s, "shared") != 0 && strcmp(s, "local") != 0)
		return ctl_usage_error(ctl, usage, "--type must be shared or local");
	*type = s;
	return -1;
}

static int
parse_pasid(struct ctl *ctl, const char *s, const char *what, const char *usage, int64_t *out)
{
	if (ctl_parse_num(s, 0, PASID_ARG_MAX, out) < 0)
		return ctl_usage_error(ctl, usage, "%s: '%s' is not a PASID", what, s);
	return -1;
}

/* Prints the result of a call that returns mappings (one object, a list or
 * {"mappings": [...]}). */
static int
show_mappings(struct ctl *ctl, struct json_object *res, bool with_vm)
{
	struct pasid_mapping one, *maps = &one;
	struct pasid_error err;
	size_t n = 1;
	int rc;

	if (ctl_json_done(ctl, res))
		return 0;
	if (json_object_is_type(res, json_type_object) &&
	    !json_object_object_get_ex(res, "mappings", NULL))
		rc = pasid_parse_mapping(res, &one, &err);
	else
		rc = pasid_parse_mappings(res, &maps, &n, &err);
	json_object_put(res);
	if (rc < 0)
		return ctl_error(ctl, &err);
	ctl_print_mappings(maps, n, with_vm);
	if (maps != &one)
		pasid_mappings_free(maps);
	return 0;
}

static int
pasid_alloc_cmd(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"vm", required_argument, NULL, 'v'},     {"type", required_argument, NULL, 't'},
	    {"device", required_argument, NULL, 'd'}, {"gpasid", required_argument, NULL, 'g'},
	    {"count", required_argument, NULL, 'c'},  CTL_COMMON_OPTIONS};
	const char *vm = NULL, *type = NULL, *device = NULL;
	int64_t gpasid = -1, count = -1;
	struct json_object *p, *res;
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
	if (!vm || !type)
		return ctl_usage_error(ctl, alloc_usage, "--vm and --type are required");
	p = json_object_new_object();
	json_object_object_add(p, "vm", json_object_new_string(vm));
	json_object_object_add(p, "type", json_object_new_string(type));
	if (device)
		json_object_object_add(p, "device", json_object_new_string(device));
	if (gpasid >= 0)
		json_object_object_add(p, "gpasid", json_object_new_int64(gpasid));
	if (count >= 0)
		json_object_object_add(p, "count", json_object_new_int64(count));
	rc = ctl_call(ctl, "pasid.alloc", p, &res);
	if (rc)
		return rc;
	return show_mappings(ctl, res, false);
}

static int
pasid_free_cmd(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {{"vm", required_argument, NULL, 'v'},
	                                     {"gpasid", required_argument, NULL, 'g'},
	                                     CTL_COMMON_OPTIONS};
	const char *vm = NULL;
	int64_t gpasid = -1;
	struct json_object *p, *res;
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
	p = json_object_new_object();
	json_object_object_add(p, "vm", json_object_new_string(vm));
	json_object_object_add(p, "gpasid", json_object_new_int64(gpasid));
	rc = ctl_call(ctl, "pasid.free", p, &res);
	if (rc)
		return rc;
	if (ctl->json)
		ctl_print_json(res);
	else
		printf("freed gPASID %" PRId64 " of %s\n", gpasid, vm);
	json_object_put(res);
	return 0;
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
	struct json_object *p, *res;
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
	p = json_object_new_object();
	if (hpasid >= 0) {
		json_object_object_add(p, "hpasid", json_object_new_int64(hpasid));
		if (device)
			json_object_object_add(p, "device", json_object_new_string(device));
	} else {
		json_object_object_add(p, "vm", json_object_new_string(vm));
		json_object_object_add(p, "gpasid", json_object_new_int64(gpasid));
	}
	rc = ctl_call(ctl, "pasid.lookup", p, &res);
	if (rc)
		return rc;
	return show_mappings(ctl, res, true);
}

static int
pasid_list_cmd(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {{"vm", required_argument, NULL, 'v'},
	                                     {"type", required_argument, NULL, 't'},
	                                     CTL_COMMON_OPTIONS};
	const char *vm = NULL, *type = NULL;
	struct json_object *p, *res;
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
	p = json_object_new_object();
	if (vm)
		json_object_object_add(p, "vm", json_object_new_string(vm));
	if (type)
		json_object_object_add(p, "type", json_object_new_string(type));
	rc = ctl_call_pages(ctl, "pasid.list", p, "mappings", &res);
	if (rc)
		return rc;
	return show_mappings(ctl, res, true);
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
