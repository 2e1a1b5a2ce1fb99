/* pasidctl: the `vm` and `device` command groups. */
#include "pasidctl.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const char vm_usage[] =
    "Usage: pasidctl vm COMMAND ...\n"
    "\n"
    "  list                       list VMs with their owners, PASID counts and devices\n"
    "  show VM                    show one VM with its devices and mappings\n"
    "  register VM --pid PID [--uuid UUID] [--mode identity|translated]\n"
    "                             create VM owned by process PID (admin only)\n"
    "  unregister VM              free everything VM holds and forget it\n"
    "  export VM                  write VM's migration document to standard output\n"
    "  import FILE|- [--dry-run] [--as NAME] [--device SRC=DST]... [--wq SRC=DST]...\n"
    "         [--pid PID]         recreate a migrated VM here (pasidd(8), MIGRATION)\n";

static const char vm_list_usage[] = "Usage: pasidctl vm list\n"
                                    "\n"
                                    "Lists the VMs the caller may see, sorted by name.\n";

static const char vm_show_usage[] = "Usage: pasidctl vm show VM\n"
                                    "\n"
                                    "Shows VM with its owner, devices and PASID mappings.\n";

static const char vm_register_usage[] =
    "Usage: pasidctl vm register VM --pid PID [--uuid UUID] [--mode identity|translated]\n"
    "\n"
    "Registers VM for the process PID, its owner: a VM lives as long as its owner process,\n"
    "and when that exits the VM goes with all its PASIDs. So --pid is required: pasidctl\n"
    "itself exits at once. Give the VMM's pid, or --pid $$ for this shell. Admin only; a\n"
    "VMM registers its own VMs through libpasid(3). `pasidctl call vm.register PARAMS`\n"
    "sends the request as given, unchecked.\n"
    "  --pid PID    the owner process\n"
    "  --uuid UUID  the VM's UUID (default: generated)\n"
    "  --mode MODE  translated (default) or identity (gPASID = hPASID)\n";

static const char vm_unregister_usage[] =
    "Usage: pasidctl vm unregister VM\n"
    "\n"
    "Detaches and frees every PASID of VM, releases its devices and forgets it.\n";

static const char device_usage[] = "Usage: pasidctl device COMMAND ...\n"
                                   "\n"
                                   "  assign VM BDF [--shared]   assign PCI function BDF to VM\n"
                                   "  release VM BDF             take BDF back from VM\n"
                                   "  detach VM BDF              detach BDF's requester ID\n";

static const char device_assign_usage[] =
    "Usage: pasidctl device assign VM BDF [--shared]\n"
    "\n"
    "Assigns the PCI function BDF (DDDD:BB:DD.F) to VM: exclusively, or with --shared as\n"
    "a shared device (SIOV or shared work queue parent) that several VMs may use.\n";

static const char device_release_usage[] =
    "Usage: pasidctl device release VM BDF\n"
    "\n"
    "Takes the PCI function BDF (DDDD:BB:DD.F) back from VM; refused while local PASIDs\n"
    "of VM use it.\n";

static const char device_detach_usage[] =
    "Usage: pasidctl device detach VM BDF\n"
    "\n"
    "Detaches the requester ID of the PCI function BDF (DDDD:BB:DD.F), which pasidd\n"
    "attached for VM's monitor (device.attach), from its page table; the device stays\n"
    "assigned. Refused while PASIDs of VM are attached on it (pasid detach them first).\n";

static void
print_devices(const struct pasid_vm *vm, char *buf, size_t size)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < vm->n_devices && off < size; i++)
		off += (size_t)snprintf(buf + off, size - off, "%s%s%s", i ? "," : "",
		                        vm->devices[i].device,
		                        vm->devices[i].shared ? "(shared)" : "");
}

static void
print_vms(const struct pasid_vm *vms, size_t n)
{
	static const char *const head[] = {"VM", "UUID", "MODE", "PID", "PASIDS", "DEVICES"};
	struct ctl_table t;

	ctl_table_init(&t, 6, head);
	for (size_t i = 0; i < n; i++) {
		char pid[16], pasids[16], devs[1024];
		const char *row[] = {vms[i].vm, vms[i].uuid, pasid_mode_name(vms[i].mode),
		                     pid,       pasids,      devs};

		snprintf(pid, sizeof(pid), "%d", (int)vms[i].pid);
		snprintf(pasids, sizeof(pasids), "%" PRIu32, vms[i].pasids);
		print_devices(&vms[i], devs, sizeof(devs));
		ctl_table_add(&t, row);
	}
	ctl_table_print(&t);
}

static int
vm_list(struct ctl *ctl, int argc, char **argv)
{
	struct pasid_error err;
	struct pasid_vm *vms;
	size_t n;
	int rc;

	rc = ctl_plain_command(ctl, argc, argv, vm_list_usage, "");
	if (rc >= 0)
		return rc;
	if (ctl_text(ctl, pasid_vm_list(ctl->client, &vms, &n, &err), &err, &rc))
		print_vms(vms, n);
	pasid_vm_list_free(vms, n);
	return rc;
}

/* The owner process as vm.show describes it (not in struct pasid_vm, whose size is ABI). */
static void
print_owner(struct json_object *result)
{
	struct json_object *owner, *cmdline, *unit;

	if (!json_object_object_get_ex(result, "owner", &owner) ||
	    !json_object_is_type(owner, json_type_object))
		return;
	json_object_object_get_ex(owner, "cmdline", &cmdline);
	json_object_object_get_ex(owner, "unit", &unit);
	if (json_object_is_type(cmdline, json_type_string))
		printf("command:  %s\n", json_object_get_string(cmdline));
	if (json_object_is_type(unit, json_type_string))
		printf("unit:     %s\n", json_object_get_string(unit));
}

/* ", RID attached to page table N (dev_id M)" when the daemon's result says device's
 * requester ID is attached (device.attach), with ", lost" when pasidd lost its descriptors;
 * "" otherwise. struct pasid_device keeps its layout: read from the result as it came. */
static void
device_rid(struct json_object *result, const char *device, char *out, size_t len)
{
	struct json_object *devs, *att, *pt, *id, *lost;

	out[0] = '\0';
	if (!json_object_object_get_ex(result, "devices", &devs) ||
	    !json_object_is_type(devs, json_type_array))
		return;
	for (size_t i = 0; i < json_object_array_length(devs); i++) {
		struct json_object *d = json_object_array_get_idx(devs, i), *name;

		if (!json_object_object_get_ex(d, "device", &name) ||
		    strcmp(json_object_get_string(name), device) ||
		    !json_object_object_get_ex(d, "attached", &att) ||
		    !json_object_object_get_ex(att, "pt_id", &pt) ||
		    !json_object_object_get_ex(att, "dev_id", &id))
			continue;
		snprintf(out, len,
		         ", RID attached to page table %" PRId64 " (dev_id %" PRId64 ")%s",
		         json_object_get_int64(pt), json_object_get_int64(id),
		         json_object_object_get_ex(att, "lost", &lost) ? ", lost" : "");
		return;
	}
}

/* The VM, and with details its devices and its mappings, whose attachments are read from
 * result (the daemon's vm.show result). 0 or an exit status. */
static int
print_vm(struct ctl *ctl, const struct pasid_vm *vm, bool details, struct json_object *result)
{
	printf("vm:       %s\n", vm->vm);
	printf("uuid:     %s\n", vm->uuid);
	printf("mode:     %s\n", pasid_mode_name(vm->mode));
	printf("pid:      %d\n", (int)vm->pid);
	printf("cgroup:   %s\n", vm->cgroup[0] ? vm->cgroup : "-");
	if (!details)
		return 0;
	print_owner(result);
	printf("pasids:   %" PRIu32 "\n", vm->pasids);
	printf("devices: ");
	for (size_t i = 0; i < vm->n_devices; i++) {
		char rid[96];

		device_rid(result, vm->devices[i].device, rid, sizeof(rid));
		printf("%s%s (%s%s)\n", i ? "          " : " ", vm->devices[i].device,
		       vm->devices[i].shared ? "shared" : "exclusive", rid);
	}
	if (!vm->n_devices)
		printf(" -\n");
	if (!vm->n_mappings)
		return 0;
	printf("\n");
	return ctl_print_mappings(ctl, vm->mappings, vm->n_mappings, false, true, result);
}

static int
vm_show(struct ctl *ctl, int argc, char **argv)
{
	struct pasid_error err;
	struct pasid_vm *vm;
	int rc;

	rc = ctl_plain_command(ctl, argc, argv, vm_show_usage, "VM");
	if (rc >= 0)
		return rc;
	if (ctl_text(ctl, pasid_vm_show(ctl->client, argv[optind], &vm, &err), &err, &rc))
		rc = print_vm(ctl, vm, true, pasid_last_result(ctl->client));
	pasid_vm_free(vm);
	return rc;
}

/* The mode named s, as libpasid names the modes; PASID_MODE_DEFAULT if it names none. */
static enum pasid_mode
parse_mode(const char *s)
{
	for (enum pasid_mode m = PASID_MODE_TRANSLATED; m <= PASID_MODE_IDENTITY; m++) {
		if (strcmp(s, pasid_mode_name(m)) == 0)
			return m;
	}
	return PASID_MODE_DEFAULT;
}

static int
vm_register(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {{"uuid", required_argument, NULL, 'u'},
	                                     {"mode", required_argument, NULL, 'm'},
	                                     {"pid", required_argument, NULL, 'p'},
	                                     CTL_COMMON_OPTIONS};
	enum pasid_mode mode = PASID_MODE_DEFAULT;
	const char *uuid = NULL;
	struct pasid_error err;
	struct pasid_vm *vm;
	int64_t pid = -1;
	int o, rc;

	while ((o = ctl_getopt(ctl, argc, argv, "u:m:p:", opts, vm_register_usage, &rc)) != -1) {
		switch (o) {
		case 'u':
			uuid = optarg;
			break;
		case 'm':
			mode = parse_mode(optarg);
			if (mode == PASID_MODE_DEFAULT)
				return ctl_usage_error(ctl, vm_register_usage,
				                       "--mode must be identity or translated");
			break;
		case 'p':
			if (ctl_parse_num(optarg, 1, INT32_MAX, &pid) < 0)
				return ctl_usage_error(ctl, vm_register_usage,
				                       "--pid: bad PID '%s'", optarg);
			break;
		}
	}
	if (rc >= 0)
		return rc;
	rc = ctl_check_args(ctl, vm_register_usage, "VM", argc - optind, argv + optind);
	if (rc >= 0)
		return rc;
	/* Without --pid the owner would be pasidctl, and the VM would go as soon as it was
	 * made. `pasidctl call vm.register` still does exactly what it is told. */
	if (pid < 0)
		return ctl_usage_error(
		    ctl, vm_register_usage,
		    "--pid is required: a VM lives as long as its owner process, and pasidctl "
		    "exits at once; give the VMM's pid with --pid PID (--pid $$ for this shell)");
	rc = ctl_connect(ctl);
	if (rc >= 0)
		return rc;
	if (ctl_text(
	        ctl,
	        pasid_vm_register(ctl->client, argv[optind], uuid, mode, (pid_t)pid, &vm, &err),
	        &err, &rc))
		rc = print_vm(ctl, vm, false, NULL);
	pasid_vm_free(vm);
	return rc;
}

static int
vm_unregister(struct ctl *ctl, int argc, char **argv)
{
	struct pasid_error err;
	uint32_t freed;
	int rc;

	rc = ctl_plain_command(ctl, argc, argv, vm_unregister_usage, "VM");
	if (rc >= 0)
		return rc;
	if (ctl_text(ctl, pasid_vm_unregister(ctl->client, argv[optind], &freed, &err), &err, &rc))
		printf("unregistered %s, %" PRIu32 " PASID%s freed\n", argv[optind], freed,
		       freed == 1 ? "" : "s");
	return rc;
}

static const struct ctl_cmd vm_cmds[] = {
    {"list", vm_list, NULL},
    {"show", vm_show, NULL},
    {"register", vm_register, NULL},
    {"unregister", vm_unregister, NULL},
    {"export", ctl_vm_export, NULL},
    {"import", ctl_vm_import, NULL},
    {NULL, NULL, NULL},
};

const struct ctl_group ctl_vm_group = {vm_cmds, vm_usage};

static int
device_assign(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {{"shared", no_argument, NULL, 'S'},
	                                     CTL_COMMON_OPTIONS};
	struct pasid_device dev;
	struct pasid_error err;
	bool shared = false;
	int o, rc;

	while ((o = ctl_getopt(ctl, argc, argv, "", opts, device_assign_usage, &rc)) != -1) {
		if (o == 'S')
			shared = true;
	}
	if (rc >= 0)
		return rc;
	rc = ctl_check_args(ctl, device_assign_usage, "VM BDF", argc - optind, argv + optind);
	if (rc < 0)
		rc = ctl_connect(ctl);
	if (rc >= 0)
		return rc;
	if (ctl_text(ctl,
	             pasid_device_assign(ctl->client, argv[optind], argv[optind + 1], shared, &dev,
	                                 &err),
	             &err, &rc))
		printf("assigned %s to %s (%s)\n", dev.device, argv[optind],
		       dev.shared ? "shared" : "exclusive");
	return rc;
}

static int
device_release(struct ctl *ctl, int argc, char **argv)
{
	struct pasid_error err;
	int rc;

	rc = ctl_plain_command(ctl, argc, argv, device_release_usage, "VM BDF");
	if (rc >= 0)
		return rc;
	if (ctl_text(ctl, pasid_device_release(ctl->client, argv[optind], argv[optind + 1], &err),
	             &err, &rc))
		printf("released %s from %s\n", argv[optind + 1], argv[optind]);
	return rc;
}

static int
device_detach(struct ctl *ctl, int argc, char **argv)
{
	struct pasid_error err;
	int rc;

	rc = ctl_plain_command(ctl, argc, argv, device_detach_usage, "VM BDF");
	if (rc >= 0)
		return rc;
	if (ctl_text(ctl, pasid_device_detach(ctl->client, argv[optind], argv[optind + 1], &err),
	             &err, &rc))
		printf("detached the requester ID of %s of %s\n", argv[optind + 1], argv[optind]);
	return rc;
}

static const struct ctl_cmd device_cmds[] = {
    {"assign", device_assign, NULL},
    {"release", device_release, NULL},
    {"detach", device_detach, NULL},
    {NULL, NULL, NULL},
};

const struct ctl_group ctl_device_group = {device_cmds, device_usage};
