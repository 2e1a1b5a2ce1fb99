/* pasidctl: command-line client of pasidd, built on libpasid's public API. Entry point, the
 * command table, `status` and `call`. */
#include "pasidctl.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#ifndef PASIDD_VERSION
#define PASIDD_VERSION "unknown"
#endif

static const char main_usage[] =
    "Usage: pasidctl [--socket PATH] [--json] COMMAND [ARGS...]\n"
    "\n"
    "Commands:\n"
    "  status                               show the daemon's state\n"
    "  vm list                              list VMs\n"
    "  vm show VM                           show a VM with its devices and PASIDs\n"
    "  vm register VM --pid PID [--uuid U] [--mode identity|translated]\n"
    "  vm unregister VM                     free everything VM holds and forget it\n"
    "  vm export VM                         print VM's migration document (vm.export)\n"
    "  vm import FILE|- [--dry-run] [--as NAME] [--device SRC=DST]... [--wq SRC=DST]...\n"
    "            [--pid PID] [--reservation NAME]\n"
    "                                       recreate a VM from a migration document\n"
    "  device assign VM BDF [--shared]      assign a PCI function to VM\n"
    "  device release VM BDF                take a PCI function back from VM\n"
    "  device detach VM BDF                 detach its requester ID (device.attach)\n"
    "  pasid alloc --vm VM --type shared|local [--device BDF] [--gpasid N] [--count N]\n"
    "              [--reservation NAME]\n"
    "  pasid alloc --vm VM --wq WQ [--gpasid N] [--count N]\n"
    "                                       a shared PASID for a shared work queue\n"
    "  pasid free --vm VM --gpasid N\n"
    "  pasid lookup HPASID [--device BDF] | pasid lookup --vm VM --gpasid N\n"
    "  pasid list [--vm VM] [--type shared|local] [--wq WQ]\n"
    "  pasid attach VM GPASID DEVICE --pt-id N --dev-id N --iommufd FD --device-fd FD\n"
    "                                       attach a PASID to a page table of the VMM's iommufd\n"
    "  pasid detach VM GPASID DEVICE        detach it from the device\n"
    "  quota get [CGROUP]                   show cgroup PASID quotas\n"
    "  quota set CGROUP MAX                 set a cgroup's PASID limit (MAX or max)\n"
    "  wq list                              list idxd work queues and their PASIDs\n"
    "  wq configure WQ --mode M --type T [--size N] [--priority N] [--group N]\n"
    "               [--threshold N] [--name LABEL] [--block-on-fault yes|no]\n"
    "                                       configure a work queue (admin only)\n"
    "  range reserve FIRST-LAST [--why TEXT] [--expires SECONDS] [--name N]\n"
    "                                       keep host PASIDs from being handed out (admin)\n"
    "  range unreserve NAME|FIRST-LAST      remove a reservation (admin only)\n"
    "  range list                           list the reservations\n"
    "  metrics [--textfile DIR]             the daemon's figures for Prometheus\n"
    "  watch [--vm VM] [--kinds K1,K2]      print the daemon's events as they happen\n"
    "  call METHOD [JSON-PARAMS] [--fd N]...  call any method, print its result\n"
    "\n"
    "Options:\n"
    "  -s, --socket PATH  daemon socket (default: $PASIDD_SOCKET or " PASIDD_DEFAULT_SOCKET ")\n"
    "  -j, --json         print the result, or an error, as JSON on stdout\n"
    "  -V, --version      print the version and exit\n"
    "  -h, --help         print this help (also after any command) and exit\n"
    "\n"
    "See pasidctl(8).\n";

static const char status_usage[] =
    "Usage: pasidctl status\n"
    "\n"
    "Shows the daemon's version, backend (and why auto chose it, what it cannot\n"
    "do here), PASID ranges and usage, how many PASIDs are attached to device\n"
    "page tables, whether pasidd sees idxd devices (DSA, IAA), and warnings such as\n"
    "work queues in use that vanished or were reconfigured.\n";

static const char call_usage[] =
    "Usage: pasidctl call METHOD [JSON-PARAMS] [--fd N]...\n"
    "\n"
    "Calls any method with JSON-PARAMS (a JSON object) and prints the result as JSON.\n"
    "  --fd N  pass open descriptor N along with the request (SCM_RIGHTS); repeatable\n";

static void
print_duration(uint64_t s)
{
	if (s >= 86400)
		printf(" (%" PRIu64 "d %" PRIu64 "h)", s / 86400, s % 86400 / 3600);
	else if (s >= 3600)
		printf(" (%" PRIu64 "h %" PRIu64 "m)", s / 3600, s % 3600 / 60);
	else if (s >= 60)
		printf(" (%" PRIu64 "m %" PRIu64 "s)", s / 60, s % 60);
}

/* How the backend was chosen (auto falling back says why) and what it cannot do: members of
 * daemon.status that struct pasid_status, whose size is ABI, has no room for. */
static void
print_backend_more(struct json_object *result)
{
	struct json_object *be, *v;

	if (!json_object_object_get_ex(result, "backend", &be))
		return;
	if (json_object_object_get_ex(be, "requested", &v) &&
	    json_object_is_type(v, json_type_string))
		printf("requested:    %s", json_object_get_string(v));
	else
		return;
	if (json_object_object_get_ex(be, "why", &v) && json_object_is_type(v, json_type_string))
		printf(" (%s)", json_object_get_string(v));
	putchar('\n');
	if (!json_object_object_get_ex(be, "unsupported", &v) ||
	    !json_object_is_type(v, json_type_object))
		return;
	json_object_object_foreach(v, what, text)
	{
		printf("unsupported:  %s: %s\n", what,
		       json_object_is_type(text, json_type_string) ? json_object_get_string(text)
		                                                   : "");
	}
}

/* Whether pasidd sees idxd devices, and the warnings of daemon.status: members that struct
 * pasid_status has no room for, and that a daemon before work queues does not send. */
static void
print_idxd(struct json_object *result)
{
	struct json_object *idxd, *warnings, *v;

	if (json_object_object_get_ex(result, "idxd", &idxd) &&
	    json_object_is_type(idxd, json_type_object)) {
		bool present =
		    json_object_object_get_ex(idxd, "present", &v) && json_object_get_boolean(v);
		bool require =
		    json_object_object_get_ex(idxd, "require_wq", &v) && json_object_get_boolean(v);

		printf("idxd:         %s", present ? "present" : "absent");
		if (json_object_object_get_ex(idxd, "why", &v) &&
		    json_object_is_type(v, json_type_string))
			printf(" (%s)", json_object_get_string(v));
		if (json_object_object_get_ex(idxd, "sysfs_root", &v) &&
		    json_object_is_type(v, json_type_string))
			printf(", sysfs %s", json_object_get_string(v));
		printf("%s\n", require ? ", shared PASIDs need a WQ" : "");
	}
	if (!json_object_object_get_ex(result, "warnings", &warnings) ||
	    !json_object_is_type(warnings, json_type_array))
		return;
	for (size_t i = 0; i < json_object_array_length(warnings); i++) {
		struct json_object *w = json_object_array_get_idx(warnings, i), *kind, *what,
		                   *problem, *pasids;

		json_object_object_get_ex(w, "kind", &kind);
		json_object_object_get_ex(w, "problem", &problem);
		json_object_object_get_ex(w, "pasids", &pasids);
		/* A warning names its object by its kind's member ("wq"), else by its kind. */
		if (!json_object_is_type(kind, json_type_string) ||
		    !json_object_object_get_ex(w, json_object_get_string(kind), &what) ||
		    !json_object_is_type(what, json_type_string))
			what = kind;
		printf("warning:      %s: %s",
		       json_object_is_type(what, json_type_string) ? json_object_get_string(what)
		                                                   : "?",
		       json_object_is_type(problem, json_type_string)
		           ? json_object_get_string(problem)
		           : "?");
		if (json_object_is_type(pasids, json_type_int))
			printf(" (%" PRId64 " PASID%s)", json_object_get_int64(pasids),
			       json_object_get_int64(pasids) == 1 ? "" : "s");
		putchar('\n');
	}
}

static int64_t
member_int(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_int)
	           ? json_object_get_int64(v)
	           : -1;
}

/* The journal's health: its size beside the snapshot's, compactions, what start-up replayed
 * and dropped (a torn tail). */
static void
print_journal(struct json_object *result)
{
	struct json_object *j;
	int64_t dropped;

	if (!json_object_object_get_ex(result, "journal", &j) ||
	    !json_object_is_type(j, json_type_object))
		return;
	dropped = member_int(j, "dropped_bytes");
	printf("journal:      %" PRId64 " bytes (snapshot %" PRId64 "), generation %" PRId64
	       ", %" PRId64 " records replayed at start%s\n",
	       member_int(j, "bytes"), member_int(j, "snapshot_bytes"), member_int(j, "generation"),
	       member_int(j, "replayed_records"), dropped > 0 ? ", a torn tail dropped" : "");
}

/* One line per BPF program of daemon.status.bpf (a daemon before them sends none):
 * "bpf:          NAME STATE (WHY)[, N reports, M alarms]". */
static void
print_bpf(struct json_object *result)
{
	struct json_object *bpf;

	if (!json_object_object_get_ex(result, "bpf", &bpf) ||
	    !json_object_is_type(bpf, json_type_object))
		return;
	json_object_object_foreach(bpf, name, prog)
	{
		struct json_object *state, *why, *reports, *alarms;

		json_object_object_get_ex(prog, "state", &state);
		json_object_object_get_ex(prog, "why", &why);
		printf("bpf:          %s %s", name,
		       json_object_is_type(state, json_type_string) ? json_object_get_string(state)
		                                                    : "?");
		if (json_object_is_type(why, json_type_string))
			printf(" (%s)", json_object_get_string(why));
		if (json_object_object_get_ex(prog, "reports", &reports) &&
		    json_object_object_get_ex(prog, "alarms", &alarms))
			printf(", %" PRId64 " reports, %" PRId64 " alarms",
			       json_object_get_int64(reports), json_object_get_int64(alarms));
		putchar('\n');
	}
}

/* The capabilities the daemon kept, with how many it gave up (a daemon before issue 13's
 * least privilege sends none). */
static void
print_privileges(struct json_object *result)
{
	struct json_object *p, *caps, *dropped;

	if (!json_object_object_get_ex(result, "privileges", &p) ||
	    !json_object_object_get_ex(p, "capabilities", &caps) ||
	    !json_object_is_type(caps, json_type_array))
		return;
	printf("privileges:  ");
	for (size_t i = 0; i < json_object_array_length(caps); i++)
		printf("%s%s", i ? ", " : " ",
		       json_object_get_string(json_object_array_get_idx(caps, i)));
	if (!json_object_array_length(caps))
		printf(" no capabilities");
	if (json_object_object_get_ex(p, "dropped", &dropped) &&
	    json_object_is_type(dropped, json_type_array) && json_object_array_length(dropped))
		printf(" (%zu others given up)", json_object_array_length(dropped));
	putchar('\n');
}

/* Fuller first: the share of its max in use, then the fewer left. */
static int
by_fill(const void *a, const void *b)
{
	const struct pasid_quota *x = a, *y = b;
	double fx = (double)x->current / (double)x->max, fy = (double)y->current / (double)y->max;

	if (fx != fy)
		return fx > fy ? -1 : 1;
	return (x->max - x->current) < (y->max - y->current)   ? -1
	       : (x->max - x->current) > (y->max - y->current) ? 1
	                                                       : strcmp(x->cgroup, y->cgroup);
}

/* The headroom of the fullest limited cgroups (at most QUOTA_LINES): where the next
 * quota_exceeded will come from. Those the caller may see; nothing when none is limited. */
#define QUOTA_LINES 3
static void
print_quota_headroom(struct pasid_client *c)
{
	struct pasid_quota *q = NULL;
	struct pasid_error err;
	size_t n = 0, limited = 0;

	if (pasid_quota_get(c, NULL, &q, &n, &err) < 0)
		return;
	for (size_t i = 0; i < n; i++)
		if (q[i].max != PASID_QUOTA_NO_LIMIT && q[i].max > 0)
			q[limited++] = q[i];
		else
			free(q[i].cgroup);
	qsort(q, limited, sizeof(*q), by_fill);
	for (size_t i = 0; i < limited && i < QUOTA_LINES; i++) {
		printf("quota:        %s %" PRIu64 "/%" PRIu64 " (%.0f%%), %" PRIu64 " left",
		       q[i].cgroup, q[i].current, q[i].max,
		       100.0 * (double)q[i].current / (double)q[i].max,
		       q[i].current < q[i].max ? q[i].max - q[i].current : 0);
		if (q[i].denied)
			printf(", %" PRIu64 " denied", q[i].denied);
		putchar('\n');
	}
	if (limited > QUOTA_LINES)
		printf("quota:        %zu more limited cgroup(s): pasidctl quota get\n",
		       limited - QUOTA_LINES);
	pasid_quotas_free(q, limited);
}

/* result: the daemon's status as it came, for what struct pasid_status has no member for. */
static void
print_status(const struct pasid_status *st, struct json_object *result)
{
	struct json_object *attached;

	printf("version:      %s\n", st->version);
	printf("uptime:       %" PRIu64 "s", st->uptime_s);
	print_duration(st->uptime_s);
	printf("\nbackend:      %s, %u PASID bits, caps:", st->backend, st->pasid_bits);
	for (size_t i = 0; i < st->n_caps; i++)
		printf("%s%s", i ? ", " : " ", st->caps[i]);
	printf("%s\n", st->n_caps ? "" : " none");
	print_backend_more(result);
	/* Local PASIDs are per device, so the local range has no fill level of its own. */
	printf("local range:  %" PRIu32 "-%" PRIu32 ", %" PRIu64 " used\n", st->local.first,
	       st->local.last, st->used_local);
	printf("shared range: %" PRIu32 "-%" PRIu32 ", %" PRIu64 " used, %" PRIu64
	       " free (%.1f%% full)\n",
	       st->shared.first, st->shared.last, st->used_shared, st->free_shared,
	       st->used_shared + st->free_shared
	           ? 100.0 * (double)st->used_shared / (double)(st->used_shared + st->free_shared)
	           : 0.0);
	/* Not in struct pasid_status, whose size is ABI; a daemon before attachments has none. */
	if (json_object_object_get_ex(result, "attached", &attached) &&
	    json_object_is_type(attached, json_type_int))
		printf("attached:     %" PRId64 "\n", json_object_get_int64(attached));
	printf("vms:          %" PRIu64 "\n", st->vms);
	printf("connections:  %" PRIu64 "\n", st->connections);
	print_journal(result);
	print_idxd(result);
	print_bpf(result);
	print_privileges(result);
}

static int
cmd_status(struct ctl *ctl, int argc, char **argv)
{
	struct pasid_status *st;
	struct pasid_error err;
	int rc;

	rc = ctl_plain_command(ctl, argc, argv, status_usage, "");
	if (rc >= 0)
		return rc;
	if (ctl_text(ctl, pasid_daemon_status(ctl->client, &st, &err), &err, &rc)) {
		print_status(st, pasid_last_result(ctl->client));
		print_quota_headroom(ctl->client);
	}
	pasid_status_free(st);
	return rc;
}

/* One JSON value and nothing after it but white space, or NULL. */
static struct json_object *
parse_json_arg(const char *s)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *obj;
	size_t len = strlen(s), used;

	if (!tok)
		return NULL;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	obj = json_tokener_parse_ex(tok, s, (int)len);
	used = tok->char_offset;
	/* A number at the very end is complete only once the parser sees what follows it. */
	if (!obj && json_tokener_get_error(tok) == json_tokener_continue) {
		obj = json_tokener_parse_ex(tok, " ", 1);
		used = len;
	}
	if (json_tokener_get_error(tok) != json_tokener_success)
		obj = NULL;
	json_tokener_free(tok);
	if (obj && strspn(s + used, " \t\r\n") != len - used) {
		json_object_put(obj);
		return NULL;
	}
	return obj;
}

static int
cmd_call(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {{"fd", required_argument, NULL, 'f'},
	                                     CTL_COMMON_OPTIONS};
	struct json_object *params = NULL;
	struct pasid_error err;
	int fds[16];
	size_t nfds = 0;
	int64_t n;
	int o, rc;

	optind = 0;
	while ((o = ctl_getopt(ctl, argc, argv, "f:", opts, call_usage, &rc)) != -1) {
		if (o != 'f')
			continue;
		if (ctl_parse_num(optarg, 0, INT32_MAX, &n) < 0 || fcntl((int)n, F_GETFD) < 0)
			return ctl_usage_error(ctl, call_usage,
			                       "--fd: '%s' is not an open descriptor", optarg);
		if (nfds == sizeof(fds) / sizeof(fds[0]))
			return ctl_usage_error(ctl, call_usage, "too many --fd options");
		fds[nfds++] = (int)n;
	}
	if (rc >= 0)
		return rc;
	if (argc - optind < 1 || argc - optind > 2)
		return ctl_usage_error(ctl, call_usage,
		                       argc - optind < 1 ? "missing METHOD"
		                                         : "unexpected argument after JSON-PARAMS");
	if (argc - optind == 2 && !(params = parse_json_arg(argv[optind + 1])))
		return ctl_usage_error(ctl, call_usage, "JSON-PARAMS is not valid JSON: %s",
		                       argv[optind + 1]);
	rc = ctl_connect(ctl);
	if (rc < 0) {
		rc = pasid_call_fds(ctl->client, argv[optind], params, fds, nfds, NULL, &err);
		/* The result as JSON, with or without --json: no typed call reads it. */
		if (ctl_text(ctl, rc, &err, &rc))
			ctl_print_json(pasid_last_result(ctl->client));
	}
	json_object_put(params);
	return rc;
}

static const struct ctl_cmd commands[] = {
    {"status", cmd_status, NULL},
    {"vm", NULL, &ctl_vm_group},
    {"device", NULL, &ctl_device_group},
    {"pasid", NULL, &ctl_pasid_group},
    {"quota", NULL, &ctl_quota_group},
    {"wq", NULL, &ctl_wq_group},
    {"range", NULL, &ctl_range_group},
    {"metrics", ctl_cmd_metrics, NULL},
    {"watch", ctl_cmd_watch, NULL},
    {"call", cmd_call, NULL},
    {NULL, NULL, NULL},
};
static const struct ctl_group main_group = {commands, main_usage};

/* --json anywhere on the line, so that a usage error found before getopt reaches it is
 * printed as JSON too. */
static bool
wants_json(int argc, char **argv)
{
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (strcmp(argv[i], "--json") == 0 || strcmp(argv[i], "-j") == 0)
			return true;
	}
	return false;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {{"version", no_argument, NULL, 'V'},
	                                     CTL_COMMON_OPTIONS};
	struct ctl ctl = {.json = wants_json(argc, argv)};
	int o, rc;

	/* '+': global options stop at the command; the command parses the rest. */
	while ((o = ctl_getopt(&ctl, argc, argv, "+V", opts, main_usage, &rc)) != -1) {
		if (o == 'V') {
			printf("pasidctl %s\n", PASIDD_VERSION);
			return 0;
		}
	}
	if (rc >= 0)
		return rc;
	/* The command at argv[optind]: what precedes it stands for the program's name. */
	rc = ctl_dispatch(&ctl, &main_group, argc - optind + 1, argv + optind - 1);
	pasid_close(ctl.client);
	return rc;
}
