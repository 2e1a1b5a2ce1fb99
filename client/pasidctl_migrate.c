/* pasidctl: `vm export` and `vm import`, the two halves of a live migration (pasidd(8),
 * MIGRATION). */
#include "pasidctl.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char ctl_vm_export_usage[] =
    "Usage: pasidctl vm export VM\n"
    "\n"
    "Writes VM's migration document (JSON, one line) to standard output: its name, UUID,\n"
    "mode, the PASID width the guest was given, its devices and its mappings by gPASID.\n"
    "Give it to `pasidctl vm import` on the destination host.\n";

const char ctl_vm_import_usage[] =
    "Usage: pasidctl vm import FILE|- [--dry-run] [--as NAME] [--device SRC=DST]...\n"
    "                          [--wq SRC=DST]... [--pid PID] [--reservation NAME]\n"
    "\n"
    "Recreates the VM of a migration document (FILE, or - for standard input) on this\n"
    "host with the same gPASIDs. With --dry-run, lists every conflict and changes nothing\n"
    "(exit status 1 when there is one). Otherwise the import is all or nothing; a refused\n"
    "one lists its conflicts too.\n"
    "  --dry-run         only report what stands in the way\n"
    "  --as NAME         the VM's name here (default: the document's)\n"
    "  --device SRC=DST  the document's device SRC is DST on this host (repeatable)\n"
    "  --wq SRC=DST      the document's work queue SRC is DST here (repeatable)\n"
    "  --pid PID         the owner process, the destination VMM (admin only; default: the\n"
    "                    caller, which for pasidctl exits at once: give --pid)\n"
    "  --reservation NAME  identity and local PASIDs may come from this reservation,\n"
    "                    made ahead with `pasidctl range reserve` (admin only)\n";

int
ctl_vm_export(struct ctl *ctl, int argc, char **argv)
{
	struct json_object *doc = NULL;
	struct pasid_error err;
	int rc;

	rc = ctl_plain_command(ctl, argc, argv, ctl_vm_export_usage, "VM");
	if (rc >= 0)
		return rc;
	if (ctl_text(ctl, pasid_vm_export(ctl->client, argv[optind], &doc, &err), &err, &rc))
		puts(json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN |
		                                             JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(doc);
	return rc;
}

/* The whole of FILE, or of standard input for "-"; NULL with errno. */
static char *
slurp(const char *path)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "re") : stdin;
	size_t len = 0, cap = 65536;
	char *buf = f ? malloc(cap) : NULL;

	while (buf) {
		size_t n = fread(buf + len, 1, cap - len - 1, f);

		len += n;
		if (len + 1 < cap) {
			if (ferror(f)) {
				free(buf);
				buf = NULL;
			}
			break;
		}
		char *b = realloc(buf, cap *= 2);

		if (!b) {
			free(buf);
			buf = NULL;
			errno = ENOMEM;
		}
		buf = b;
	}
	if (buf)
		buf[len] = '\0';
	if (f && f != stdin)
		fclose(f);
	return buf;
}

/* SRC=DST into map, each checked as `check` does. -1, or an exit status. */
static int
add_pair(struct ctl *ctl, struct json_object *map, const char *opt, const char *arg, bool bdf)
{
	const char *eq = strchr(arg, '=');
	char src[64];
	int rc;

	if (!eq || eq == arg || (size_t)(eq - arg) >= sizeof(src))
		return ctl_usage_error(ctl, ctl_vm_import_usage, "%s must be SRC=DST, not '%s'",
		                       opt, arg);
	snprintf(src, sizeof(src), "%.*s", (int)(eq - arg), arg);
	rc = bdf ? ctl_check_bdf(ctl, ctl_vm_import_usage, opt, src)
	         : ctl_check_wq(ctl, ctl_vm_import_usage, opt, src);
	if (rc < 0)
		rc = bdf ? ctl_check_bdf(ctl, ctl_vm_import_usage, opt, eq + 1)
		         : ctl_check_wq(ctl, ctl_vm_import_usage, opt, eq + 1);
	if (rc >= 0)
		return rc;
	if (json_object_object_get_ex(map, src, NULL))
		return ctl_usage_error(ctl, ctl_vm_import_usage, "%s %s is given twice", opt, src);
	json_object_object_add(map, src, json_object_new_string(eq + 1));
	return -1;
}

/* GPASID DEVICE WHAT WHY, one row per conflict. */
static void
print_conflicts(struct json_object *list)
{
	static const char *const head[] = {"GPASID", "DEVICE", "WHAT", "WHY"};
	struct ctl_table t;

	ctl_table_init(&t, 4, head);
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		struct json_object *c = json_object_array_get_idx(list, i), *v;
		const char *row[4] = {NULL, NULL, NULL, NULL};

		if (json_object_object_get_ex(c, "gpasid", &v))
			row[0] = json_object_get_string(v);
		if (json_object_object_get_ex(c, "device", &v))
			row[1] = json_object_get_string(v);
		if (json_object_object_get_ex(c, "what", &v))
			row[2] = json_object_get_string(v);
		if (json_object_object_get_ex(c, "why", &v))
			row[3] = json_object_get_string(v);
		ctl_table_add(&t, row);
	}
	ctl_table_print(&t);
}

static int
run_import(struct ctl *ctl, struct json_object *doc, struct pasid_import_opts *o)
{
	struct json_object *res = NULL, *list, *e, *v;
	struct pasid_error err;
	int rc, r = pasid_vm_import(ctl->client, doc, o, &res, &err);

	if (!ctl_text(ctl, r, &err, &rc)) {
		/* A refusal names every conflict in data.conflicts. */
		e = r < 0 && !ctl->json ? pasid_error_object(ctl->client) : NULL;
		if (e && json_object_object_get_ex(e, "data", &v) &&
		    json_object_object_get_ex(v, "conflicts", &list))
			print_conflicts(list);
		/* --json printed the result: a dry run with conflicts still exits 1. */
		if (rc == 0 && o->dry_run && res && json_object_object_get_ex(res, "ok", &v) &&
		    !json_object_get_boolean(v))
			rc = CTL_EXIT_FAILURE;
		json_object_put(res);
		return rc;
	}
	if (o->dry_run) {
		json_object_object_get_ex(res, "conflicts", &list);
		if (json_object_array_length(list) == 0) {
			printf("no conflicts: the VM can be imported\n");
		} else {
			print_conflicts(list);
			rc = CTL_EXIT_FAILURE;
		}
	} else {
		json_object_object_get_ex(res, "vm", &v);
		printf("imported %s", json_object_get_string(v));
		if (json_object_object_get_ex(res, "pasids", &v))
			printf(": %s PASID(s)", json_object_get_string(v));
		if (json_object_object_get_ex(res, "pid", &v))
			printf(", owner pid %s", json_object_get_string(v));
		printf("\n");
	}
	json_object_put(res);
	return rc;
}

int
ctl_vm_import(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {{"dry-run", no_argument, NULL, 'n'},
	                                     {"as", required_argument, NULL, 'a'},
	                                     {"device", required_argument, NULL, 'd'},
	                                     {"wq", required_argument, NULL, 'w'},
	                                     {"pid", required_argument, NULL, 'p'},
	                                     {"reservation", required_argument, NULL, 'r'},
	                                     CTL_COMMON_OPTIONS};
	struct json_object *devices = json_object_new_object(), *wqs = json_object_new_object();
	struct pasid_import_opts o = {0};
	struct json_object *doc = NULL;
	enum json_tokener_error jerr;
	char *text = NULL;
	int64_t pid;
	int c, rc;

	while ((c = ctl_getopt(ctl, argc, argv, "", opts, ctl_vm_import_usage, &rc)) != -1) {
		switch (c) {
		case 'n':
			o.dry_run = true;
			break;
		case 'a':
			o.vm = optarg;
			break;
		case 'd':
		case 'w':
			rc = add_pair(ctl, c == 'd' ? devices : wqs, c == 'd' ? "--device" : "--wq",
			              optarg, c == 'd');
			if (rc >= 0)
				goto out;
			break;
		case 'p':
			if (ctl_parse_num(optarg, 1, INT32_MAX, &pid) < 0) {
				rc = ctl_usage_error(ctl, ctl_vm_import_usage,
				                     "--pid: bad PID '%s'", optarg);
				goto out;
			}
			o.pid = (pid_t)pid;
			break;
		case 'r':
			o.reservation = optarg;
			break;
		}
	}
	if (rc >= 0)
		goto out;
	rc = ctl_check_args(ctl, ctl_vm_import_usage, "FILE", argc - optind, argv + optind);
	if (rc >= 0)
		goto out;
	if (!(text = slurp(argv[optind]))) {
		fprintf(stderr, "pasidctl: vm import: cannot read %s: %s\n", argv[optind],
		        strerror(errno));
		rc = CTL_EXIT_FAILURE;
		goto out;
	}
	doc = json_tokener_parse_verbose(text, &jerr);
	if (!json_object_is_type(doc, json_type_object)) {
		rc = ctl_usage_error(
		    ctl, ctl_vm_import_usage, "%s is not a migration document (a JSON object)%s%s",
		    argv[optind], doc ? "" : ": ", doc ? "" : json_tokener_error_desc(jerr));
		goto out;
	}
	o.devices = json_object_object_length(devices) ? devices : NULL;
	o.wqs = json_object_object_length(wqs) ? wqs : NULL;
	rc = ctl_connect(ctl);
	if (rc < 0)
		rc = run_import(ctl, doc, &o);
out:
	free(text);
	json_object_put(doc);
	json_object_put(devices);
	json_object_put(wqs);
	return rc;
}
