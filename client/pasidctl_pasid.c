/* pasidctl: the `pasid` command group. */
#include "pasidctl.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* Bounds here only catch what is not a number; the daemon judges the range. */
#define PASID_ARG_MAX INT32_MAX

static const char pasid_usage[] =
    "Usage: pasidctl pasid COMMAND ...\n"
    "\n"
    "  alloc --vm VM --type shared|local [--device BDF] [--gpasid N] [--count N]\n"
    "        [--reservation NAME]\n"
    "  alloc --vm VM --wq WQ [--gpasid N] [--count N]\n"
    "  free --vm VM --gpasid N\n"
    "  lookup HPASID [--device BDF]\n"
    "  lookup --vm VM --gpasid N\n"
    "  list [--vm VM] [--type shared|local] [--wq WQ]\n"
    "  attach VM GPASID DEVICE --pt-id N --dev-id N --iommufd FD --device-fd FD\n"
    "  detach VM GPASID DEVICE\n";

static const char alloc_usage[] =
    "Usage: pasidctl pasid alloc --vm VM --type shared|local [--device BDF] [--gpasid N]\n"
    "                            [--count N] [--wq WQ] [--reservation NAME]\n"
    "\n"
    "Allocates PASIDs for VM and prints the new mappings.\n"
    "  --vm VM       the VM\n"
    "  --type TYPE   shared (host-unique hPASID) or local (RID-local, needs --device)\n"
    "  --device BDF  the exclusively assigned device of a local PASID (DDDD:BB:DD.F)\n"
    "  --wq WQ       shared PASIDs for the shared work queue WQ (such as dsa0/wq0.1,\n"
    "                see `pasidctl wq list`); --type may then be left out\n"
    "  --gpasid N    the guest PASID wanted, the first of them with --count\n"
    "                (default: the lowest free ones)\n"
    "  --count N     allocate N PASIDs (1-4096), all or none; a translated VM's guest\n"
    "                range and a device's local range hold 4095 each by default\n"
    "  --reservation NAME\n"
    "                take the host PASIDs from the reservation NAME (see `pasidctl range\n"
    "                list`; admin only); without it none is ever taken from one\n";

static const char free_usage[] = "Usage: pasidctl pasid free --vm VM --gpasid N\n"
                                 "\n"
                                 "Detaches and frees the mapping of guest PASID N of VM.\n";

static const char lookup_usage[] =
    "Usage: pasidctl pasid lookup HPASID [--device BDF]\n"
    "       pasidctl pasid lookup --vm VM --gpasid N\n"
    "\n"
    "Finds the mapping of a host PASID (admin only) or of a VM's guest PASID.\n"
    "  --device BDF  which device's mapping of a local HPASID (default: lowest BDF)\n";

static const char list_usage[] =
    "Usage: pasidctl pasid list [--vm VM] [--type shared|local] [--wq WQ]\n"
    "\n"
    "Lists mappings, sorted by VM and guest PASID; with --wq only those allocated against\n"
    "the work queue WQ (such as dsa0/wq0.1). A WQ column shows where any mapping has one.\n";

static const char attach_usage[] =
    "Usage: pasidctl pasid attach VM GPASID DEVICE --pt-id N --dev-id N --iommufd FD\n"
    "                             --device-fd FD\n"
    "\n"
    "Attaches the host PASID of VM's guest PASID GPASID on DEVICE (DDDD:BB:DD.F) to a\n"
    "page table of a VMM's iommufd. The VMM's descriptors go to pasidd with the\n"
    "request, so pasidctl must inherit them: FD is a descriptor number open in\n"
    "pasidctl, such as 3 and 4 in a shell's\n"
    "  pasidctl pasid attach ... --iommufd 3 --device-fd 4 3<&\"$IOMMU\" 4<&\"$CDEV\"\n"
    "\n"
    "  --pt-id N       the page table (HWPT) in the iommufd to attach to\n"
    "  --dev-id N      the device's id in the iommufd (VFIO_DEVICE_BIND_IOMMUFD)\n"
    "  --iommufd FD    the VMM's iommufd (/dev/iommu)\n"
    "  --device-fd FD  the VMM's VFIO device cdev, bound to that iommufd\n";

static const char detach_usage[] =
    "Usage: pasidctl pasid detach VM GPASID DEVICE\n"
    "\n"
    "Detaches the host PASID of VM's guest PASID GPASID from DEVICE (DDDD:BB:DD.F); the\n"
    "mapping stays allocated.\n";

/* What the options gave: NULL, PASID_TYPE_ANY or -1 where one was not given. */
struct pasid_args {
	const char *vm;
	enum pasid_type type;
	const char *device;
	int64_t gpasid;
	int64_t count;
	const char *wq;
	const char *reservation;
};

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

/* One option of opts into a. -1 to go on, else the exit status of a usage error. */
static int
pasid_option(struct ctl *ctl, int o, const char *usage, struct pasid_args *a)
{
	switch (o) {
	case 'v':
		a->vm = optarg;
		return -1;
	case 't':
		return parse_type(ctl, optarg, usage, &a->type);
	case 'd':
		a->device = optarg;
		return ctl_check_bdf(ctl, usage, "--device", optarg);
	case 'g':
		return parse_pasid(ctl, optarg, "--gpasid", usage, &a->gpasid);
	case 'c':
		if (ctl_parse_num(optarg, 0, PASID_ARG_MAX, &a->count) < 0)
			return ctl_usage_error(ctl, usage, "--count: '%s' is not a number", optarg);
		return -1;
	case 'w':
		a->wq = optarg;
		return ctl_check_wq(ctl, usage, "--wq", optarg);
	case 'r':
		a->reservation = optarg;
		return -1;
	default:
		return -1;
	}
}

/* Reads the options that opts lists into a, then allows at most `positional` arguments.
 * Returns -1 to go on, else the exit status. */
static int
pasid_options(struct ctl *ctl, int argc, char **argv, const struct option *opts, const char *usage,
              int positional, struct pasid_args *a)
{
	int o, rc;

	*a = (struct pasid_args){.type = PASID_TYPE_ANY, .gpasid = -1, .count = -1};
	while ((o = ctl_getopt(ctl, argc, argv, "", opts, usage, &rc)) != -1) {
		int r = pasid_option(ctl, o, usage, a);

		if (r >= 0)
			return r;
	}
	if (rc >= 0)
		return rc;
	if (argc - optind > positional)
		return ctl_usage_error(ctl, usage, "unexpected argument '%s'",
		                       argv[optind + positional]);
	return -1;
}

/* One mapping, or with count >= 0 that many, printed. */
static int
alloc(struct ctl *ctl, const struct pasid_args *a)
{
	uint32_t gpasid = a->gpasid < 0 ? PASID_ANY : (uint32_t)a->gpasid;
	struct pasid_mapping one, *maps = NULL;
	struct pasid_error err;
	size_t n = 1;
	int rc;

	if (a->reservation)
		rc = pasid_alloc_reserved(ctl->client, a->vm, a->type, a->device, a->reservation,
		                          gpasid, a->count >= 0 ? (uint32_t)a->count : 0, &one,
		                          &maps, &n, &err);
	else if (a->wq && a->count >= 0)
		rc = pasid_alloc_wq_count(ctl->client, a->vm, a->wq, gpasid, (uint32_t)a->count,
		                          &maps, &n, &err);
	else if (a->wq)
		rc = pasid_alloc_wq(ctl->client, a->vm, a->wq, gpasid, &one, &err);
	else if (a->count >= 0)
		rc = pasid_alloc_count(ctl->client, a->vm, a->type, a->device, gpasid,
		                       (uint32_t)a->count, &maps, &n, &err);
	else
		rc = pasid_alloc(ctl->client, a->vm, a->type, a->device, gpasid, &one, &err);
	if (ctl_text(ctl, rc, &err, &rc))
		rc = ctl_print_mappings(ctl, maps ? maps : &one, n, false, false,
		                        pasid_last_result(ctl->client));
	pasid_mappings_free(maps);
	return rc;
}

static int
pasid_alloc_cmd(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"vm", required_argument, NULL, 'v'},          {"type", required_argument, NULL, 't'},
	    {"device", required_argument, NULL, 'd'},      {"gpasid", required_argument, NULL, 'g'},
	    {"count", required_argument, NULL, 'c'},       {"wq", required_argument, NULL, 'w'},
	    {"reservation", required_argument, NULL, 'r'}, CTL_COMMON_OPTIONS};
	struct pasid_args a;
	int rc;

	rc = pasid_options(ctl, argc, argv, opts, alloc_usage, 0, &a);
	if (rc < 0 && a.reservation && a.wq)
		rc = ctl_usage_error(ctl, alloc_usage, "--reservation and --wq do not go together");
	if (rc < 0 && a.reservation && a.count == 0)
		rc = ctl_usage_error(ctl, alloc_usage, "--count must be 1-4096");
	/* A PASID for a shared WQ is a shared one: --type may say so, need not. */
	if (rc < 0 && a.wq && a.type == PASID_TYPE_ANY)
		a.type = PASID_TYPE_SHARED;
	if (rc < 0 && a.wq && (a.type != PASID_TYPE_SHARED || a.device))
		rc = ctl_usage_error(ctl, alloc_usage,
		                     "--wq allocates a shared PASID: no --type local, no --device");
	if (rc < 0 && (!a.vm || a.type == PASID_TYPE_ANY))
		rc = ctl_usage_error(ctl, alloc_usage, "--vm and --type are required");
	if (rc < 0)
		rc = ctl_connect(ctl);
	return rc >= 0 ? rc : alloc(ctl, &a);
}

static int
pasid_free_cmd(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {{"vm", required_argument, NULL, 'v'},
	                                     {"gpasid", required_argument, NULL, 'g'},
	                                     CTL_COMMON_OPTIONS};
	struct pasid_error err;
	struct pasid_args a;
	int rc;

	rc = pasid_options(ctl, argc, argv, opts, free_usage, 0, &a);
	if (rc < 0 && (!a.vm || a.gpasid < 0))
		rc = ctl_usage_error(ctl, free_usage, "--vm and --gpasid are required");
	if (rc < 0)
		rc = ctl_connect(ctl);
	if (rc >= 0)
		return rc;
	if (ctl_text(ctl, pasid_free(ctl->client, a.vm, (uint32_t)a.gpasid, &err), &err, &rc))
		printf("freed gPASID %" PRId64 " of %s\n", a.gpasid, a.vm);
	return rc;
}

/* HPASID alone (with --device) or --vm and --gpasid: -1 if so, else the exit status. */
static int
lookup_args(struct ctl *ctl, int argc, char **argv, struct pasid_args *a, int64_t *hpasid)
{
	bool by_vm = a->vm || a->gpasid >= 0;

	if (argc - optind == 1) {
		int rc = parse_pasid(ctl, argv[optind], "HPASID", lookup_usage, hpasid);

		if (rc >= 0 || !by_vm)
			return rc;
	} else if (a->vm && a->gpasid >= 0) {
		if (!a->device)
			return -1;
		return ctl_usage_error(ctl, lookup_usage, "--device goes with HPASID only");
	}
	return ctl_usage_error(ctl, lookup_usage, "give either HPASID or --vm and --gpasid");
}

static int
pasid_lookup_cmd(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {{"vm", required_argument, NULL, 'v'},
	                                     {"gpasid", required_argument, NULL, 'g'},
	                                     {"device", required_argument, NULL, 'd'},
	                                     CTL_COMMON_OPTIONS};
	struct pasid_mapping m;
	struct pasid_error err;
	struct pasid_args a;
	int64_t hpasid = -1;
	int rc;

	rc = pasid_options(ctl, argc, argv, opts, lookup_usage, 1, &a);
	if (rc < 0)
		rc = lookup_args(ctl, argc, argv, &a, &hpasid);
	if (rc < 0)
		rc = ctl_connect(ctl);
	if (rc >= 0)
		return rc;
	if (hpasid >= 0)
		rc = pasid_lookup_hpasid(ctl->client, (uint32_t)hpasid, a.device, &m, &err);
	else
		rc = pasid_lookup(ctl->client, a.vm, (uint32_t)a.gpasid, &m, &err);
	if (ctl_text(ctl, rc, &err, &rc))
		rc = ctl_print_mappings(ctl, &m, 1, true, true, pasid_last_result(ctl->client));
	return rc;
}

static int
pasid_list_cmd(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {{"vm", required_argument, NULL, 'v'},
	                                     {"type", required_argument, NULL, 't'},
	                                     {"wq", required_argument, NULL, 'w'},
	                                     CTL_COMMON_OPTIONS};
	struct pasid_mapping *maps;
	struct pasid_error err;
	struct pasid_args a;
	size_t n;
	int rc;

	rc = pasid_options(ctl, argc, argv, opts, list_usage, 0, &a);
	if (rc < 0)
		rc = ctl_connect(ctl);
	if (rc >= 0)
		return rc;
	/* pasid_list_wq() without a WQ is pasid_list(): one call for both. */
	if (ctl_text(ctl, pasid_list_wq(ctl->client, a.vm, a.type, a.wq, &maps, &n, &err), &err,
	             &rc))
		rc = ctl_print_mappings(ctl, maps, n, true, true, pasid_last_result(ctl->client));
	pasid_mappings_free(maps);
	return rc;
}

/* VM GPASID DEVICE, as ctl_check_args() and the PASID and BDF checks take them: -1 if they
 * are good, else the exit status. */
static int
attach_args(struct ctl *ctl, int argc, char **argv, const char *usage, int64_t *gpasid)
{
	int rc = ctl_check_args(ctl, usage, "VM GPASID DEVICE", argc - optind, argv + optind);

	if (rc < 0)
		rc = parse_pasid(ctl, argv[optind + 1], "GPASID", usage, gpasid);
	if (rc < 0)
		rc = ctl_check_bdf(ctl, usage, "DEVICE", argv[optind + 2]);
	return rc;
}

/* --iommufd and --device-fd: a descriptor that pasidctl inherited open. */
static int
parse_fd(struct ctl *ctl, const char *opt, const char *s, int *fd)
{
	int64_t n;

	if (ctl_parse_num(s, 0, INT32_MAX, &n) < 0 || fcntl((int)n, F_GETFD) < 0)
		return ctl_usage_error(ctl, attach_usage,
		                       "%s: '%s' is not a descriptor open in pasidctl (hand it "
		                       "down, as in %s 3 3<&\"$FD\")",
		                       opt, s, opt);
	*fd = (int)n;
	return -1;
}

/* What attach's options gave: -1 where one was not given. */
struct attach_opts {
	int64_t pt_id, dev_id;
	int iommufd, devfd;
};

static int
attach_option(struct ctl *ctl, int o, struct attach_opts *a)
{
	int64_t *id = o == 'P' ? &a->pt_id : &a->dev_id;

	switch (o) {
	case 'P':
	case 'D':
		if (ctl_parse_num(optarg, 0, UINT32_MAX, id) < 0)
			return ctl_usage_error(ctl, attach_usage,
			                       "%s: '%s' is not an object id (0-4294967295)",
			                       o == 'P' ? "--pt-id" : "--dev-id", optarg);
		return -1;
	case 'I':
		return parse_fd(ctl, "--iommufd", optarg, &a->iommufd);
	case 'F':
		return parse_fd(ctl, "--device-fd", optarg, &a->devfd);
	default:
		return -1;
	}
}

static int
pasid_attach_cmd(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {{"pt-id", required_argument, NULL, 'P'},
	                                     {"dev-id", required_argument, NULL, 'D'},
	                                     {"iommufd", required_argument, NULL, 'I'},
	                                     {"device-fd", required_argument, NULL, 'F'},
	                                     CTL_COMMON_OPTIONS};
	struct attach_opts a = {-1, -1, -1, -1};
	struct pasid_error err;
	int64_t gpasid = -1;
	int o, rc;

	while ((o = ctl_getopt(ctl, argc, argv, "", opts, attach_usage, &rc)) != -1) {
		int r = attach_option(ctl, o, &a);

		if (r >= 0)
			return r;
	}
	if (rc >= 0)
		return rc;
	rc = attach_args(ctl, argc, argv, attach_usage, &gpasid);
	if (rc < 0 && (a.pt_id < 0 || a.dev_id < 0 || a.iommufd < 0 || a.devfd < 0))
		rc = ctl_usage_error(ctl, attach_usage,
		                     "--pt-id, --dev-id, --iommufd and --device-fd are required");
	if (rc < 0)
		rc = ctl_connect(ctl);
	if (rc >= 0)
		return rc;
	if (ctl_text(ctl,
	             pasid_attach(ctl->client, argv[optind], (uint32_t)gpasid, argv[optind + 2],
	                          (uint32_t)a.pt_id, (uint32_t)a.dev_id, a.iommufd, a.devfd, &err),
	             &err, &rc))
		printf("attached gPASID %" PRId64 " of %s on %s to page table %" PRId64
		       " (dev_id %" PRId64 ")\n",
		       gpasid, argv[optind], argv[optind + 2], a.pt_id, a.dev_id);
	return rc;
}

static int
pasid_detach_cmd(struct ctl *ctl, int argc, char **argv)
{
	struct pasid_error err;
	int64_t gpasid = -1;
	int rc;

	rc = ctl_common_options(ctl, argc, argv, detach_usage);
	if (rc < 0)
		rc = attach_args(ctl, argc, argv, detach_usage, &gpasid);
	if (rc < 0)
		rc = ctl_connect(ctl);
	if (rc >= 0)
		return rc;
	if (ctl_text(
	        ctl,
	        pasid_detach(ctl->client, argv[optind], (uint32_t)gpasid, argv[optind + 2], &err),
	        &err, &rc))
		printf("detached gPASID %" PRId64 " of %s from %s\n", gpasid, argv[optind],
		       argv[optind + 2]);
	return rc;
}

static const struct ctl_cmd pasid_cmds[] = {
    {"alloc", pasid_alloc_cmd, NULL},
    {"free", pasid_free_cmd, NULL},
    {"lookup", pasid_lookup_cmd, NULL},
    {"list", pasid_list_cmd, NULL},
    {"attach", pasid_attach_cmd, NULL},
    {"detach", pasid_detach_cmd, NULL},
    {NULL, NULL, NULL},
};

const struct ctl_group ctl_pasid_group = {pasid_cmds, pasid_usage};
