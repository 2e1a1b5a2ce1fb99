/* pasidctl: the `wq` command group, the work queues of the host's idxd devices (DSA, IAA). */
#include "pasidctl.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char wq_usage[] =
    "Usage: pasidctl wq COMMAND ...\n"
    "\n"
    "  list                 list the work queues of idxd devices (DSA, IAA)\n"
    "  configure WQ --mode shared|dedicated --type user|kernel|none [--size N]\n"
    "           [--priority N] [--group N] [--threshold N] [--name LABEL]\n"
    "           [--block-on-fault yes|no]\n"
    "                       configure a work queue (admin only)\n";

static const char list_usage[] =
    "Usage: pasidctl wq list\n"
    "\n"
    "Lists the work queues of the host's idxd devices (DSA, IAA): WQ (device/wq),\n"
    "DEVICE (its PCI address), MODE, TYPE, STATE, SIZE, PASID (whether the device has\n"
    "PASIDs enabled, which a shared WQ needs), PASIDS (the shared PASIDs pasidd handed\n"
    "out against it) and VMS (those PASIDs by VM, vm:count; an administrator sees every\n"
    "VM, others only their own). A WQ that mappings still name but the host no longer has\n"
    "is missing; one that could not be read is listed with why below the table.\n";

static const char configure_usage[] =
    "Usage: pasidctl wq configure WQ --mode M --type T [--size N] [--priority N] [--group N]\n"
    "                             [--threshold N] [--name LABEL] [--block-on-fault yes|no]\n"
    "\n"
    "Brings the work queue WQ (such as dsa0/wq0.1) to this configuration and enables it,\n"
    "as accel-config load-config and enable-wq would (type none: left disabled), then\n"
    "prints it as read back. Options left out leave the WQ's setting as it is. Refused\n"
    "while PASIDs handed out for the WQ exist. Admin only.\n"
    "  --mode M               shared (PASIDs from many clients) or dedicated (one client)\n"
    "  --type T               user (a char device for user space), kernel or none\n"
    "  --size N               its entries of the device's work queue space\n"
    "  --priority N           its priority among the device's WQs\n"
    "  --group N              its group among the device's groups\n"
    "  --threshold N          entries a shared WQ accepts before it refuses (<= size)\n"
    "  --name LABEL           its label (the kernel's `name` attribute)\n"
    "  --block-on-fault B     yes or no: block on a page fault rather than report it\n";

/* "vm1:3,vm2:1": the per-VM breakdown of a WQ's PASIDs. */
static void
format_vms(const struct pasid_wq *w, char *buf, size_t size)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < w->n_vms && off < size; i++)
		off += (size_t)snprintf(buf + off, size - off, "%s%s:%" PRIu32, i ? "," : "",
		                        w->vms[i].vm, w->vms[i].pasids);
}

/* What a table cell says of a WQ's state: the kernel's, missing, or unreadable. */
static const char *
state_cell(const struct pasid_wq *w)
{
	if (w->error && w->state == PASID_WQ_STATE_UNKNOWN)
		return "unreadable";
	return pasid_wq_state_name(w->state);
}

/* Whether the daemon reported what the kernel has of w: a WQ that is there and was read. */
static bool
wq_read(const struct pasid_wq *w)
{
	return !w->error && w->state != PASID_WQ_STATE_MISSING;
}

static void
print_wqs(const struct pasid_wq *w, size_t n)
{
	static const char *const head[] = {"WQ",   "DEVICE", "MODE",   "TYPE", "STATE",
	                                   "SIZE", "PASID",  "PASIDS", "VMS"};
	struct ctl_table t;

	if (!n) {
		printf("no work queues (no idxd devices that pasidd can see)\n");
		return;
	}
	ctl_table_init(&t, 9, head);
	for (size_t i = 0; i < n; i++) {
		bool read = wq_read(&w[i]);
		char size[16], pasids[16], vms[1024];
		const char *row[] = {w[i].wq,
		                     w[i].bdf,
		                     pasid_wq_mode_name(w[i].mode),
		                     pasid_wq_type_name(w[i].type),
		                     state_cell(&w[i]),
		                     read ? size : NULL,
		                     read ? (w[i].pasid_enabled ? "yes" : "no") : NULL,
		                     pasids,
		                     vms};

		snprintf(size, sizeof(size), "%" PRIu32, w[i].size);
		snprintf(pasids, sizeof(pasids), "%" PRIu32, w[i].pasids);
		format_vms(&w[i], vms, sizeof(vms));
		ctl_table_add(&t, row);
	}
	ctl_table_print(&t);
	/* Below the table: an error message is too long for a column. */
	for (size_t i = 0; i < n; i++) {
		if (w[i].error)
			printf("%s: %s\n", w[i].wq, w[i].error);
	}
}

static int
wq_list(struct ctl *ctl, int argc, char **argv)
{
	struct pasid_error err;
	struct pasid_wq *w;
	size_t n;
	int rc;

	rc = ctl_plain_command(ctl, argc, argv, list_usage, "");
	if (rc >= 0)
		return rc;
	if (ctl_text(ctl, pasid_wq_list(ctl->client, &w, &n, &err), &err, &rc))
		print_wqs(w, n);
	pasid_wqs_free(w, n);
	return rc;
}

/* One WQ as wq.configure read it back. */
static void
print_wq(const struct pasid_wq *w, bool changed)
{
	char vms[1024];

	printf("wq:             %s%s\n", w->wq, changed ? "" : " (unchanged)");
	if (w->error)
		printf("error:          %s\n", w->error);
	if (wq_read(w)) {
		printf("device:         %s (%s, %s, %s, PASIDs %s)\n", w->device, w->bdf, w->kind,
		       w->device_state, w->pasid_enabled ? "enabled" : "disabled");
		printf("mode:           %s\n", pasid_wq_mode_name(w->mode));
		printf("type:           %s\n", pasid_wq_type_name(w->type));
	}
	printf("state:          %s\n", state_cell(w));
	if (wq_read(w)) {
		printf("size:           %" PRIu32 "\n", w->size);
		printf("priority:       %" PRIu32 "\n", w->priority);
		printf("threshold:      %" PRIu32 "\n", w->threshold);
		if (w->group_id >= 0)
			printf("group:          %" PRId32 "\n", w->group_id);
		else
			printf("group:          -\n");
		printf("block on fault: %s\n", w->block_on_fault ? "yes" : "no");
		printf("label:          %s\n", w->label[0] ? w->label : "-");
		printf("driver:         %s\n", w->driver_name[0] ? w->driver_name : "-");
		printf("char device:    %s (%" PRIu32 " clients)\n",
		       w->char_device[0] ? w->char_device : "-", w->clients);
	}
	format_vms(w, vms, sizeof(vms));
	printf("pasids:         %" PRIu32 "%s%s%s\n", w->pasids, vms[0] ? " (" : "", vms,
	       vms[0] ? ")" : "");
}

/* --block-on-fault: yes or no. */
static int
parse_yes_no(struct ctl *ctl, const char *s, bool *out)
{
	if (strcmp(s, "yes") == 0 || strcmp(s, "no") == 0) {
		*out = s[0] == 'y';
		return -1;
	}
	return ctl_usage_error(ctl, configure_usage, "--block-on-fault must be yes or no, not '%s'",
	                       s);
}

/* A number option of configure into *out; the daemon judges its range. */
static int
parse_u32(struct ctl *ctl, const char *opt, const char *s, int64_t *out)
{
	if (ctl_parse_num(s, 0, UINT32_MAX, out) < 0)
		return ctl_usage_error(ctl, configure_usage, "%s: '%s' is not a number", opt, s);
	return -1;
}

/* One option of configure into cfg. -1 to go on, else the exit status of a usage error. */
static int
configure_option(struct ctl *ctl, int o, struct pasid_wq_config *cfg)
{
	int64_t v = 0;
	int rc = -1;

	switch (o) {
	case 'm':
		cfg->mode = strcmp(optarg, "shared") == 0      ? PASID_WQ_MODE_SHARED
		            : strcmp(optarg, "dedicated") == 0 ? PASID_WQ_MODE_DEDICATED
		                                               : PASID_WQ_MODE_UNKNOWN;
		if (cfg->mode == PASID_WQ_MODE_UNKNOWN)
			return ctl_usage_error(ctl, configure_usage,
			                       "--mode must be shared or dedicated");
		return -1;
	case 't':
		for (enum pasid_wq_type t = PASID_WQ_TYPE_NONE; t <= PASID_WQ_TYPE_KERNEL; t++) {
			if (strcmp(optarg, pasid_wq_type_name(t)) == 0) {
				cfg->type = t;
				return -1;
			}
		}
		return ctl_usage_error(ctl, configure_usage, "--type must be user, kernel or none");
	case 'z':
		cfg->set |= PASID_WQ_SET_SIZE;
		rc = parse_u32(ctl, "--size", optarg, &v);
		cfg->size = (uint32_t)v;
		return rc;
	case 'p':
		cfg->set |= PASID_WQ_SET_PRIORITY;
		rc = parse_u32(ctl, "--priority", optarg, &v);
		cfg->priority = (uint32_t)v;
		return rc;
	case 'g':
		cfg->set |= PASID_WQ_SET_GROUP;
		if (ctl_parse_num(optarg, 0, INT32_MAX, &v) < 0)
			return ctl_usage_error(ctl, configure_usage, "--group: '%s' is not a group",
			                       optarg);
		cfg->group = (int32_t)v;
		return -1;
	case 'T':
		cfg->set |= PASID_WQ_SET_THRESHOLD;
		rc = parse_u32(ctl, "--threshold", optarg, &v);
		cfg->threshold = (uint32_t)v;
		return rc;
	case 'n':
		cfg->set |= PASID_WQ_SET_NAME;
		cfg->name = optarg;
		return -1;
	case 'b':
		cfg->set |= PASID_WQ_SET_BLOCK_ON_FAULT;
		return parse_yes_no(ctl, optarg, &cfg->block_on_fault);
	default:
		return -1;
	}
}

/* Member key of the daemon's error data if it is a string, else NULL. */
static const char *
data_str(struct json_object *data, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(data, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* A sysfs write the kernel refused: the daemon's error data says which attribute and why,
 * and which attributes were written before it (sysfs has no transaction: they stay so). */
static void
print_kernel_error(struct ctl *ctl)
{
	struct json_object *data;
	const char *attr, *op, *msg, *written;

	if (ctl->json || !json_object_object_get_ex(pasid_error_object(ctl->client), "data", &data))
		return;
	attr = data_str(data, "attribute");
	op = data_str(data, "op");
	msg = data_str(data, "message");
	written = data_str(data, "written");
	if (attr && *attr)
		fprintf(stderr, "pasidctl: the kernel refused the %s of the WQ's %s%s%s\n",
		        op ? op : "write", attr, msg ? ": " : "", msg ? msg : "");
	if (written && *written)
		fprintf(stderr, "pasidctl: written before it, and left so: %s\n", written);
}

static int
wq_configure(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {{"mode", required_argument, NULL, 'm'},
	                                     {"type", required_argument, NULL, 't'},
	                                     {"size", required_argument, NULL, 'z'},
	                                     {"priority", required_argument, NULL, 'p'},
	                                     {"group", required_argument, NULL, 'g'},
	                                     {"threshold", required_argument, NULL, 'T'},
	                                     {"name", required_argument, NULL, 'n'},
	                                     {"block-on-fault", required_argument, NULL, 'b'},
	                                     CTL_COMMON_OPTIONS};
	struct pasid_wq_config cfg = {0};
	struct pasid_error err;
	struct pasid_wq *w;
	bool changed;
	int o, rc, called;

	while ((o = ctl_getopt(ctl, argc, argv, "", opts, configure_usage, &rc)) != -1) {
		int r = configure_option(ctl, o, &cfg);

		if (r >= 0)
			return r;
	}
	if (rc >= 0)
		return rc;
	rc = ctl_check_args(ctl, configure_usage, "WQ", argc - optind, argv + optind);
	if (rc < 0)
		rc = ctl_check_wq(ctl, configure_usage, "WQ", argv[optind]);
	/* Both, always: the daemon sets a WQ whole, and a default here could silently turn a
	 * user WQ into a kernel one. */
	if (rc < 0 && (cfg.mode == PASID_WQ_MODE_UNKNOWN || cfg.type == PASID_WQ_TYPE_UNKNOWN))
		rc = ctl_usage_error(ctl, configure_usage, "--mode and --type are required");
	if (rc < 0)
		rc = ctl_connect(ctl);
	if (rc >= 0)
		return rc;
	cfg.wq = argv[optind];
	called = pasid_wq_configure(ctl->client, &cfg, &w, &changed, &err);
	if (ctl_text(ctl, called, &err, &rc))
		print_wq(w, changed);
	else if (called == -EREMOTEIO && err.code == PASID_E_KERNEL)
		print_kernel_error(ctl);
	pasid_wqs_free(w, w ? 1 : 0);
	return rc;
}

static const struct ctl_cmd wq_cmds[] = {
    {"list", wq_list, NULL},
    {"configure", wq_configure, NULL},
    {NULL, NULL, NULL},
};

const struct ctl_group ctl_wq_group = {wq_cmds, wq_usage};
