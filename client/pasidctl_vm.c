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
    "  unregister VM              free everything VM holds and forget it\n";

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
                                   "  release VM BDF             take BDF back from VM\n";

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

/* Options: only the common ones; then the arguments named in args ("VM BDF"), no more, no
 * fewer. Returns -1 to go on, else the exit status. */
static int
plain_options(struct ctl *ctl, int argc, char **argv, const char *usage, const char *args)
{
	static const struct option opts[] = {CTL_COMMON_OPTIONS};
	int rc;

	while (ctl_getopt(ctl, argc, argv, "", opts, usage, &rc) != -1)
		;
	if (rc >= 0)
		return rc;
	return ctl_check_args(ctl, usage, args, argc - optind, argv + optind);
}

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

static int
vm_list(struct ctl *ctl, int argc, char **argv)
{
	static const char *const head[] = {"VM", "UUID", "MODE", "PID", "PASIDS", "DEVICES"};
	struct json_object *res;
	struct pasid_error err;
	struct pasid_vm *vms;
	struct ctl_table t;
	size_t n;
	int rc;

	rc = plain_options(ctl, argc, argv, vm_list_usage, "");
	if (rc >= 0)
		return rc;
	rc = ctl_call_pages(ctl, "vm.list", NULL, "vms", &res);
	if (rc)
		return rc;
	if (ctl_json_done(ctl, res))
		return 0;
	rc = pasid_parse_vms(res, &vms, &n, &err);
	json_object_put(res);
	if (rc < 0)
		return ctl_error(ctl, &err);
	ctl_table_init(&t, 6);
	ctl_table_add(&t, head);
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
	ctl_table_free(&t);
	pasid_vm_list_free(vms, n);
	return 0;
}

static void
print_vm(const struct pasid_vm *vm, bool details)
{
	printf("vm:       %s\n", vm->vm);
	printf("uuid:     %s\n", vm->uuid);
	printf("mode:     %s\n", pasid_mode_name(vm->mode));
	printf("pid:      %d\n", (int)vm->pid);
	printf("cgroup:   %s\n", vm->cgroup[0] ? vm->cgroup : "-");
	if (!details)
		return;
	printf("pasids:   %" PRIu32 "\n", vm->pasids);
	printf("devices: ");
	for (size_t i = 0; i < vm->n_devices; i++)
		printf("%s%s (%s)\n", i ? "          " : " ", vm->devices[i].device,
		       vm->devices[i].shared ? "shared" : "exclusive");
	if (!vm->n_devices)
		printf(" -\n");
	if (vm->n_mappings) {
		printf("\n");
		ctl_print_mappings(vm->mappings, vm->n_mappings, false);
	}
}

/* Prints the result of a call that returns one VM. */
static int
show_vm_result(struct ctl *ctl, struct json_object *res, bool details)
{
	struct pasid_error err;
	struct pasid_vm *vm;
	int rc;

	if (ctl_json_done(ctl, res))
		return 0;
	rc = pasid_parse_vm(res, &vm, &err);
	json_object_put(res);
	if (rc < 0)
		return ctl_error(ctl, &err);
	print_vm(vm, details);
	pasid_vm_free(vm);
	return 0;
}

static struct json_object *
vm_params(const char *vm)
{
	struct json_object *p = json_object_new_object();

	json_object_object_add(p, "vm", json_object_new_string(vm));
	return p;
}

static int
vm_show(struct ctl *ctl, int argc, char **argv)
{
	struct json_object *res;
	int rc;

	rc = plain_options(ctl, argc, argv, vm_show_usage, "VM");
	if (rc >= 0)
		return rc;
	rc = ctl_call_pages(ctl, "vm.show", vm_params(argv[optind]), "mappings", &res);
	if (rc)
		return rc;
	return show_vm_result(ctl, res, true);
}

static int
vm_register(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {{"uuid", required_argument, NULL, 'u'},
	                                     {"mode", required_argument, NULL, 'm'},
	                                     {"pid", required_argument, NULL, 'p'},
	                                     CTL_COMMON_OPTIONS};
	const char *uuid = NULL, *mode = NULL;
	struct json_object *p, *res;
	int64_t pid = -1;
	int o, rc;

	while ((o = ctl_getopt(ctl, argc, argv, "u:m:p:", opts, vm_register_usage, &rc)) != -1) {
		switch (o) {
		case 'u':
			uuid = optarg;
			break;
		case 'm':
			if (strcmp(optarg, "identity") != 0 && strcmp(optarg, "translated") != 0)
				return ctl_usage_error(ctl, vm_register_usage,
				                       "--mode must be identity or translated");
			mode = optarg;
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
	p = vm_params(argv[optind]);
	if (uuid)
		json_object_object_add(p, "uuid", json_object_new_string(uuid));
	if (mode)
		json_object_object_add(p, "mode", json_object_new_string(mode));
	if (pid > 0)
		json_object_object_add(p, "pid", json_object_new_int64(pid));
	rc = ctl_call(ctl, "vm.register", p, &res);
	if (rc)
		return rc;
	return show_vm_result(ctl, res, false);
}

static int
vm_unregister(struct ctl *ctl, int argc, char **argv)
{
	struct json_object *res, *freed;
	int rc;

	rc = plain_options(ctl, argc, argv, vm_unregister_usage, "VM");
	if (rc >= 0)
		return rc;
	rc = ctl_call(ctl, "vm.unregister", vm_params(argv[optind]), &res);
	if (rc)
		return rc;
	if (ctl->json) {
		ctl_print_json(res);
	} else if (json_object_object_get_ex(res, "freed", &freed) &&
	           json_object_is_type(freed, json_type_int)) {
		int64_t n = json_object_get_int64(freed);

		printf("unregistered %s, %" PRId64 " PASID%s freed\n", argv[optind], n,
		       n == 1 ? "" : "s");
	} else {
		printf("unregistered %s\n", argv[optind]);
	}
	json_object_put(res);
	return 0;
}

static const struct ctl_cmd vm_cmds[] = {
    {"list", vm_list}, {"show", vm_show}, {"register", vm_register}, {"unregister", vm_unregister},
    {NULL, NULL},
};

int
ctl_vm(struct ctl *ctl, int argc, char **argv)
{
	return ctl_dispatch(ctl, vm_cmds, vm_usage, argc, argv);
}

static struct json_object *
device_params(const char *vm, const char *device)
{
	struct json_object *p = vm_params(vm);

	json_object_object_add(p, "device", json_object_new_string(device));
	return p;
}

static int
device_assign(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {{"shared", no_argument, NULL, 'S'},
	                                     CTL_COMMON_OPTIONS};
	struct json_object *p, *res;
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
		rc = ctl_check_bdf(ctl, device_assign_usage, "BDF", argv[optind + 1]);
	if (rc >= 0)
		return rc;
	p = device_params(argv[optind], argv[optind + 1]);
	if (shared)
		json_object_object_add(p, "shared", json_object_new_boolean(true));
	rc = ctl_call(ctl, "device.assign", p, &res);
	if (rc)
		return rc;
	if (ctl_json_done(ctl, res))
		return 0;
	rc = pasid_parse_device(res, &dev, &err);
	json_object_put(res);
	if (rc < 0)
		return ctl_error(ctl, &err);
	printf("assigned %s to %s (%s)\n", dev.device, argv[optind],
	       dev.shared ? "shared" : "exclusive");
	return 0;
}

static int
device_release(struct ctl *ctl, int argc, char **argv)
{
	struct json_object *res;
	int rc;

	rc = plain_options(ctl, argc, argv, device_release_usage, "VM BDF");
	if (rc < 0)
		rc = ctl_check_bdf(ctl, device_release_usage, "BDF", argv[optind + 1]);
	if (rc >= 0)
		return rc;
	rc = ctl_call(ctl, "device.release", device_params(argv[optind], argv[optind + 1]), &res);
	if (rc)
		return rc;
	if (ctl->json)
		ctl_print_json(res);
	else
		printf("released %s from %s\n", argv[optind + 1], argv[optind]);
	json_object_put(res);
	return 0;
}

static const struct ctl_cmd device_cmds[] = {
    {"assign", device_assign},
    {"release", device_release},
    {NULL, NULL},
};

int
ctl_device(struct ctl *ctl, int argc, char **argv)
{
	return ctl_dispatch(ctl, device_cmds, device_usage, argc, argv);
}
