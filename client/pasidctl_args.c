/* pasidctl: command lines. Options and arguments read and checked, usage errors that say what
 * is wrong, and the dispatch of a group's subcommands. */
#include "pasidctl.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
ctl_usage_error(struct ctl *ctl, const char *usage, const char *fmt, ...)
{
	const char *sep = ctl->cmd[0] ? ": " : "", *end;
	char why[512], msg[600];
	size_t len;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	snprintf(msg, sizeof(msg), "%s%s%s", ctl->cmd, sep, why);
	if (ctl->json) {
		struct json_object *data = json_object_new_object();

		json_object_object_add(data, "reason", json_object_new_string("usage"));
		json_object_object_add(data, "command", json_object_new_string(ctl->cmd));
		ctl_print_json_error(CTL_JSON_E_USAGE, msg, data);
		return CTL_EXIT_USAGE;
	}
	/* The one line that matters and the synopsis, not the whole help: the user has to
	 * find the reason in it. */
	end = strstr(usage, "\n\n");
	len = end ? (size_t)(end - usage) : strcspn(usage, "\n");
	fprintf(stderr, "pasidctl: %s\n%.*s\nTry 'pasidctl%s%s --help' for more information.\n",
	        msg, (int)len, usage, ctl->cmd[0] ? " " : "", ctl->cmd);
	return CTL_EXIT_USAGE;
}

int
ctl_parse_num(const char *s, int64_t min, int64_t max, int64_t *out)
{
	int base = 10;
	char *end;
	long long v;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		base = 16;
	/* strtoll would take leading blanks and signs the user never meant. */
	if (!(s[0] >= '0' && s[0] <= '9') && !(s[0] == '-' && min < 0))
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, base);
	if (errno || *end || end == s || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

/* Each argument that names calls BDF checked as a PCI address. */
static int
check_bdfs(struct ctl *ctl, const char *usage, const char *names, char **args)
{
	const char *w = names + strspn(names, " ");

	for (int i = 0; *w; i++, w += strcspn(w, " "), w += strspn(w, " ")) {
		int rc;

		if (strcspn(w, " ") != 3 || strncmp(w, "BDF", 3) != 0)
			continue;
		rc = ctl_check_bdf(ctl, usage, "BDF", args[i]);
		if (rc >= 0)
			return rc;
	}
	return -1;
}

int
ctl_check_args(struct ctl *ctl, const char *usage, const char *names, int n, char **args)
{
	const char *missing = NULL, *w = names + strspn(names, " ");
	int want = 0;

	for (; *w; w += strcspn(w, " "), w += strspn(w, " ")) {
		if (want++ == n)
			missing = w;
	}
	if (n > want)
		return ctl_usage_error(ctl, usage, "unexpected argument '%s'", args[want]);
	if (!missing)
		return check_bdfs(ctl, usage, names, args);
	/* "missing BDF", "missing VM and BDF" */
	if (strchr(missing, ' '))
		return ctl_usage_error(ctl, usage, "missing %.*s and %s",
		                       (int)strcspn(missing, " "), missing,
		                       strrchr(missing, ' ') + 1);
	return ctl_usage_error(ctl, usage, "missing %s", missing);
}

/* Each field of a BDF: its name, its digits and its largest value. */
static const struct {
	const char *name;
	int digits;
	unsigned max;
	const char *range;
} bdf_fields[] = {
    {"domain", 4, 0xffff, "0000-ffff"},
    {"bus", 2, 0xff, "00-ff"},
    {"device", 2, 0x1f, "00-1f"},
    {"function", 1, 7, "0-7"},
};

int
ctl_check_bdf(struct ctl *ctl, const char *usage, const char *what, const char *s)
{
	const char *c1 = strchr(s, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
	const char *dot = c2 ? strchr(c2 + 1, '.') : NULL;
	const char *start[4], *end[4];

	/* The shape first: without it there are no fields to speak of. */
	if (!dot || c1 == s || c2 == c1 + 1 || dot == c2 + 1 || !dot[1] || strpbrk(dot + 1, ":."))
		return ctl_usage_error(ctl, usage,
		                       "%s '%s' is not a PCI address DDDD:BB:DD.F (domain:bus:"
		                       "device.function in hexadecimal, such as 0000:6a:01.0)",
		                       what, s);
	start[0] = s, end[0] = c1;
	start[1] = c1 + 1, end[1] = c2;
	start[2] = c2 + 1, end[2] = dot;
	start[3] = dot + 1, end[3] = dot + 1 + strlen(dot + 1);
	/* Then the first field at fault, as the daemon would refuse it: exactly 4, 2, 2 and 1
	 * hexadecimal digits, the device up to 1f and the function up to 7. */
	for (int i = 0; i < 4; i++) {
		int len = (int)(end[i] - start[i]);
		unsigned long v = 0;
		char field[16];

		for (int k = 0; k < len; k++) {
			if (!isxdigit((unsigned char)start[i][k]))
				return ctl_usage_error(ctl, usage,
				                       "%s '%s': the %s '%.*s' is not hexadecimal",
				                       what, s, bdf_fields[i].name, len, start[i]);
		}
		/* A field too long to convert is too long anyway: it gets the digits message. */
		snprintf(field, sizeof(field), "%.*s", len, start[i]);
		if (len < (int)sizeof(field))
			v = strtoul(field, NULL, 16);
		if (v > bdf_fields[i].max)
			return ctl_usage_error(ctl, usage, "%s '%s': %s %s is out of range %s",
			                       what, s, bdf_fields[i].name, field,
			                       bdf_fields[i].range);
		if (len != bdf_fields[i].digits)
			return ctl_usage_error(ctl, usage,
			                       "%s '%s': write the %s with %d digit%s (%s), as in "
			                       "DDDD:BB:DD.F",
			                       what, s, bdf_fields[i].name, bdf_fields[i].digits,
			                       bdf_fields[i].digits == 1 ? "" : "s",
			                       bdf_fields[i].range);
	}
	return -1;
}

int
ctl_check_wq(struct ctl *ctl, const char *usage, const char *what, const char *s)
{
	const char *p = s;
	size_t n;

	/* DEVICE/wqN.M: a device's letters and number, "/wq", its number, '.', the WQ's. */
	n = strspn(p, "abcdefghijklmnopqrstuvwxyz");
	p += n;
	if (n && isdigit((unsigned char)*p)) {
		p += strspn(p, "0123456789");
		if (strncmp(p, "/wq", 3) == 0 && isdigit((unsigned char)p[3])) {
			p += 3 + strspn(p + 3, "0123456789");
			if (*p == '.' && isdigit((unsigned char)p[1])) {
				p += 1 + strspn(p + 1, "0123456789");
				if (!*p && strlen(s) <= PASID_WQ_NAME_MAX)
					return -1;
			}
		}
	}
	return ctl_usage_error(ctl, usage,
	                       "%s '%s' is not a work queue DEVICE/wqN.M (such as dsa0/wq0.1; "
	                       "`pasidctl wq list` lists them)",
	                       what, s);
}

int
ctl_getopt(struct ctl *ctl, int argc, char **argv, const char *shortopts,
           const struct option *longopts, const char *usage, int *rc)
{
	char opts[64];
	int o;

	/* ':' first (after a '+', which must lead): report missing arguments ourselves. */
	if (shortopts[0] == '+')
		snprintf(opts, sizeof(opts), "+:hjs:%s", shortopts + 1);
	else
		snprintf(opts, sizeof(opts), ":hjs:%s", shortopts);
	*rc = -1;
	opterr = 0;
	for (;;) {
		o = getopt_long(argc, argv, opts, longopts, NULL);
		switch (o) {
		case 'h':
			fputs(usage, stdout);
			*rc = 0;
			return -1;
		case 'j':
			ctl->json = true;
			continue;
		case 's':
			ctl->socket = optarg;
			continue;
		case ':':
			*rc = ctl_usage_error(ctl, usage, "option '%s' needs a value",
			                      argv[optind - 1]);
			return -1;
		case '?':
			if (optopt)
				*rc = ctl_usage_error(ctl, usage, "unknown option '-%c'", optopt);
			else
				*rc = ctl_usage_error(ctl, usage, "unknown option '%s'",
				                      argv[optind - 1]);
			return -1;
		default:
			return o;
		}
	}
}

int
ctl_common_options(struct ctl *ctl, int argc, char **argv, const char *usage)
{
	static const struct option opts[] = {CTL_COMMON_OPTIONS};
	int rc;

	while (ctl_getopt(ctl, argc, argv, "", opts, usage, &rc) != -1)
		;
	return rc;
}

/* "list, show, register, unregister": the commands a usage error offers. */
static void
command_names(const struct ctl_cmd *cmds, char *buf, size_t size)
{
	size_t off = 0;

	buf[0] = '\0';
	for (const struct ctl_cmd *c = cmds; c->name && off < size; c++)
		off += (size_t)snprintf(buf + off, size - off, "%s%s", off ? ", " : "", c->name);
}

int
ctl_dispatch(struct ctl *ctl, const struct ctl_group *g, int argc, char **argv)
{
	char names[128];

	command_names(g->cmds, names, sizeof(names));
	if (argc < 2)
		return ctl_usage_error(ctl, g->usage, "no command given (%s)", names);
	/* A group is given its options here; the top level's -h and --help went to getopt
	 * before the command, and after a "--" they are no option. */
	if (strcmp(argv[1], "help") == 0 ||
	    (ctl->cmd[0] && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0))) {
		fputs(g->usage, stdout);
		return 0;
	}
	for (const struct ctl_cmd *c = g->cmds; c->name; c++) {
		if (strcmp(c->name, argv[1]) == 0) {
			size_t len = strlen(ctl->cmd);

			snprintf(ctl->cmd + len, sizeof(ctl->cmd) - len, "%s%s", len ? " " : "",
			         c->name);
			optind = 0; /* glibc: start a fresh scan of a new argv */
			if (c->run)
				return c->run(ctl, argc - 1, argv + 1);
			return ctl_dispatch(ctl, c->group, argc - 1, argv + 1);
		}
	}
	return ctl_usage_error(ctl, g->usage, "unknown command '%s' (%s)", argv[1], names);
}
