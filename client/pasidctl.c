/* pasidctl: command-line client of pasidd. Entry point, shared helpers, `status` and `call`. */
#include "pasidctl.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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
    "  device assign VM BDF [--shared]      assign a PCI function to VM\n"
    "  device release VM BDF                take a PCI function back from VM\n"
    "  pasid alloc --vm VM --type shared|local [--device BDF] [--gpasid N] [--count N]\n"
    "  pasid free --vm VM --gpasid N\n"
    "  pasid lookup HPASID [--device BDF] | pasid lookup --vm VM --gpasid N\n"
    "  pasid list [--vm VM] [--type shared|local]\n"
    "  quota get [CGROUP]                   show cgroup PASID quotas\n"
    "  quota set CGROUP MAX                 set a cgroup's PASID limit (MAX or max)\n"
    "  call METHOD [JSON-PARAMS] [--fd N]...  call any method, print its result\n"
    "\n"
    "Options:\n"
    "  -s, --socket PATH  daemon socket (default: $PASIDD_SOCKET or " PASIDD_DEFAULT_SOCKET ")\n"
    "  -j, --json         print the result, or an error, as JSON on stdout\n"
    "  -V, --version      print the version and exit\n"
    "  -h, --help         print this help (also after any command) and exit\n"
    "\n"
    "See pasidctl(8).\n";

static const char status_usage[] = "Usage: pasidctl status\n"
                                   "\n"
                                   "Shows the daemon's version, backend, PASID ranges and usage.\n";

static const char call_usage[] =
    "Usage: pasidctl call METHOD [JSON-PARAMS] [--fd N]...\n"
    "\n"
    "Calls any method with JSON-PARAMS (a JSON object) and prints the result as JSON.\n"
    "  --fd N  pass open descriptor N along with the request (SCM_RIGHTS); repeatable\n";

/* With --json: {"code", "message", "data"} on stdout, shaped like the daemon's errors. data is
 * taken over. */
static void
print_json_error(int code, const char *message, struct json_object *data)
{
	struct json_object *e = json_object_new_object();

	json_object_object_add(e, "code", json_object_new_int(code));
	json_object_object_add(e, "message", json_object_new_string(message));
	json_object_object_add(e, "data", data);
	ctl_print_json(e);
	json_object_put(e);
}

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
		print_json_error(CTL_JSON_E_USAGE, msg, data);
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
		return -1;
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
ctl_dispatch(struct ctl *ctl, const struct ctl_cmd *cmds, const char *usage, int argc, char **argv)
{
	char names[128];

	command_names(cmds, names, sizeof(names));
	if (argc < 2)
		return ctl_usage_error(ctl, usage, "no command given (%s)", names);
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		fputs(usage, stdout);
		return 0;
	}
	for (const struct ctl_cmd *c = cmds; c->name; c++) {
		if (strcmp(c->name, argv[1]) == 0) {
			size_t len = strlen(ctl->cmd);

			snprintf(ctl->cmd + len, sizeof(ctl->cmd) - len, " %s", c->name);
			optind = 0; /* glibc: start a fresh scan of a new argv */
			return c->run(ctl, argc - 1, argv + 1);
		}
	}
	return ctl_usage_error(ctl, usage, "unknown command '%s' (%s)", argv[1], names);
}

int
ctl_error(struct ctl *ctl, const struct pasid_error *err)
{
	struct json_object *e = ctl->client ? pasid_error_object(ctl->client) : NULL;
	const char *sep = " (";
	int status = CTL_EXIT_FAILURE;

	if (err->code > 1000 && err->code <= PASID_E_OUT_OF_RANGE)
		status = 10 + err->code - 1000;
	else if (err->code >= -32768 && err->code <= -32000)
		status = CTL_EXIT_PROTOCOL;
	if (ctl->json) {
		struct json_object *data;

		/* The daemon's own object, data and all; a local failure in the same shape. */
		if (e) {
			ctl_print_json(e);
			return status;
		}
		data = json_object_new_object();
		json_object_object_add(data, "reason", json_object_new_string("client_error"));
		json_object_object_add(data, "errno", json_object_new_int(-err->code));
		print_json_error(CTL_JSON_E_CLIENT, err->message, data);
		return status;
	}
	fprintf(stderr, "pasidctl: %s", err->message);
	if (err->reason[0]) {
		fprintf(stderr, "%s%s", sep, err->reason);
		sep = ", ";
	}
	if (err->param[0]) {
		fprintf(stderr, "%sparam %s", sep, err->param);
		sep = ", ";
	}
	fputs(sep[0] == ',' ? ")\n" : "\n", stderr);
	return status;
}

/* libpasid says what is wrong with the socket; pasidctl adds how to choose another. */
static int
connect_error(struct ctl *ctl, const struct pasid_error *err)
{
	const char *path = ctl->socket ? ctl->socket : pasid_default_socket();
	const char *env = getenv("PASIDD_SOCKET");
	const char *from = ctl->socket ? "--socket" : env && *env ? "PASIDD_SOCKET" : "default";
	char alt[4096];
	struct stat st;

	if (ctl->json) {
		struct json_object *data = json_object_new_object();

		json_object_object_add(data, "reason", json_object_new_string("connect_failed"));
		json_object_object_add(data, "socket", json_object_new_string(path));
		json_object_object_add(data, "from", json_object_new_string(from));
		json_object_object_add(data, "errno", json_object_new_int(-err->code));
		print_json_error(CTL_JSON_E_CONNECT, err->message, data);
		return CTL_EXIT_CONNECT;
	}
	fprintf(stderr, "pasidctl: %s\n", err->message);
	/* Permission is about this socket, not about choosing another. */
	if (err->code == -EACCES)
		return CTL_EXIT_CONNECT;
	fprintf(stderr, "pasidctl: choose the socket with --socket PATH or $PASIDD_SOCKET (%s)\n",
	        ctl->socket                          ? "this one came from --socket"
	        : strcmp(from, "PASIDD_SOCKET") == 0 ? "this one came from $PASIDD_SOCKET"
	                                             : "this one is the default");
	snprintf(alt, sizeof(alt), "%s%spasidd.sock", path,
	         path[0] && path[strlen(path) - 1] == '/' ? "" : "/");
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode) && stat(alt, &st) == 0 &&
	    S_ISSOCK(st.st_mode))
		fprintf(stderr, "pasidctl: did you mean --socket %s?\n", alt);
	return CTL_EXIT_CONNECT;
}

/* 0 once connected, else the exit status of the failure (reported). */
static int
ctl_connect(struct ctl *ctl)
{
	struct pasid_error err;

	if (ctl->client || pasid_connect(ctl->socket, &ctl->client, &err) == 0)
		return 0;
	return connect_error(ctl, &err);
}

int
ctl_call_fds(struct ctl *ctl, const char *method, struct json_object *params, const int *fds,
             size_t nfds, struct json_object **result)
{
	struct pasid_error err;
	int rc;

	*result = NULL;
	if ((rc = ctl_connect(ctl))) {
		json_object_put(params);
		return rc;
	}
	rc = pasid_call_fds(ctl->client, method, params, fds, nfds, result, &err);
	json_object_put(params);
	if (rc < 0)
		return ctl_error(ctl, &err);
	return 0;
}

int
ctl_call(struct ctl *ctl, const char *method, struct json_object *params,
         struct json_object **result)
{
	return ctl_call_fds(ctl, method, params, NULL, 0, result);
}

int
ctl_call_pages(struct ctl *ctl, const char *method, struct json_object *params, const char *member,
               struct json_object **result)
{
	struct pasid_error err;
	int rc;

	*result = NULL;
	if ((rc = ctl_connect(ctl))) {
		json_object_put(params);
		return rc;
	}
	rc = pasid_call_pages(ctl->client, method, params, member, result, &err);
	json_object_put(params);
	if (rc < 0)
		return ctl_error(ctl, &err);
	return 0;
}

bool
ctl_json_done(struct ctl *ctl, struct json_object *res)
{
	if (!ctl->json)
		return false;
	ctl_print_json(res);
	json_object_put(res);
	return true;
}

void
ctl_print_json(struct json_object *obj)
{
	puts(json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
	                                             JSON_C_TO_STRING_NOSLASHESCAPE));
}

void
ctl_table_init(struct ctl_table *t, size_t ncols)
{
	if (ncols > CTL_TABLE_MAX_COLS)
		abort();
	t->ncols = ncols;
	t->nrows = 0;
	t->cells = NULL;
}

void
ctl_table_add(struct ctl_table *t, const char *const *cols)
{
	char **cells = realloc(t->cells, (t->nrows + 1) * t->ncols * sizeof(char *));

	if (!cells) {
		fputs("pasidctl: out of memory\n", stderr);
		exit(CTL_EXIT_FAILURE);
	}
	t->cells = cells;
	for (size_t i = 0; i < t->ncols; i++) {
		char *s = strdup(cols[i] && *cols[i] ? cols[i] : "-");

		if (!s) {
			fputs("pasidctl: out of memory\n", stderr);
			exit(CTL_EXIT_FAILURE);
		}
		t->cells[t->nrows * t->ncols + i] = s;
	}
	t->nrows++;
}

void
ctl_table_print(struct ctl_table *t)
{
	size_t width[CTL_TABLE_MAX_COLS] = {0};

	for (size_t r = 0; r < t->nrows; r++) {
		for (size_t i = 0; i < t->ncols; i++) {
			size_t len = strlen(t->cells[r * t->ncols + i]);

			if (len > width[i])
				width[i] = len;
		}
	}
	for (size_t r = 0; r < t->nrows; r++) {
		for (size_t i = 0; i < t->ncols; i++) {
			const char *s = t->cells[r * t->ncols + i];

			/* The last column is not padded: no trailing blanks. */
			if (i + 1 < t->ncols)
				printf("%-*s  ", (int)width[i], s);
			else
				printf("%s\n", s);
		}
	}
}

void
ctl_table_free(struct ctl_table *t)
{
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	t->cells = NULL;
	t->nrows = 0;
}

void
ctl_print_mappings(const struct pasid_mapping *maps, size_t n, bool with_vm)
{
	static const char *const head[] = {"VM", "GPASID", "HPASID", "TYPE", "DEVICE"};
	struct ctl_table t;
	size_t skip = with_vm ? 0 : 1;

	ctl_table_init(&t, 5 - skip);
	ctl_table_add(&t, head + skip);
	for (size_t i = 0; i < n; i++) {
		char g[16], h[16];
		const char *row[] = {maps[i].vm, g, h, pasid_type_name(maps[i].type),
		                     maps[i].device};

		snprintf(g, sizeof(g), "%" PRIu32, maps[i].gpasid);
		snprintf(h, sizeof(h), "%" PRIu32, maps[i].hpasid);
		ctl_table_add(&t, row + skip);
	}
	ctl_table_print(&t);
	ctl_table_free(&t);
}

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

static int
cmd_status(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {CTL_COMMON_OPTIONS};
	struct json_object *res;
	struct pasid_status *st;
	struct pasid_error err;
	int rc;

	optind = 0;
	while (ctl_getopt(ctl, argc, argv, "", opts, status_usage, &rc) != -1)
		;
	if (rc >= 0)
		return rc;
	if (optind < argc)
		return ctl_usage_error(ctl, status_usage, "unexpected argument '%s'", argv[optind]);
	rc = ctl_call(ctl, "daemon.status", NULL, &res);
	if (rc)
		return rc;
	if (ctl_json_done(ctl, res))
		return 0;
	rc = pasid_parse_status(res, &st, &err);
	json_object_put(res);
	if (rc < 0)
		return ctl_error(ctl, &err);
	printf("version:      %s\n", st->version);
	printf("uptime:       %" PRIu64 "s", st->uptime_s);
	print_duration(st->uptime_s);
	printf("\nbackend:      %s, %u PASID bits, caps:", st->backend, st->pasid_bits);
	for (size_t i = 0; i < st->n_caps; i++)
		printf("%s%s", i ? ", " : " ", st->caps[i]);
	printf("%s\n", st->n_caps ? "" : " none");
	printf("local range:  %" PRIu32 "-%" PRIu32 ", %" PRIu64 " used\n", st->local.first,
	       st->local.last, st->used_local);
	printf("shared range: %" PRIu32 "-%" PRIu32 ", %" PRIu64 " used, %" PRIu64 " free\n",
	       st->shared.first, st->shared.last, st->used_shared, st->free_shared);
	printf("vms:          %" PRIu64 "\n", st->vms);
	printf("connections:  %" PRIu64 "\n", st->connections);
	pasid_status_free(st);
	return 0;
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
	struct json_object *params = NULL, *res;
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
	rc = ctl_call_fds(ctl, argv[optind], params, fds, nfds, &res);
	if (rc)
		return rc;
	ctl_print_json(res);
	json_object_put(res);
	return 0;
}

static const struct ctl_cmd commands[] = {
    {"status", cmd_status}, {"vm", ctl_vm},     {"device", ctl_device}, {"pasid", ctl_pasid},
    {"quota", ctl_quota},   {"call", cmd_call}, {NULL, NULL},
};

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
	char names[128];
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
	command_names(commands, names, sizeof(names));
	if (optind >= argc)
		return ctl_usage_error(&ctl, main_usage, "no command given (%s)", names);
	if (strcmp(argv[optind], "help") == 0) {
		fputs(main_usage, stdout);
		return 0;
	}
	for (const struct ctl_cmd *c = commands; c->name; c++) {
		if (strcmp(c->name, argv[optind]) == 0) {
			char **sub = argv + optind;

			argc -= optind;
			optind = 0;
			snprintf(ctl.cmd, sizeof(ctl.cmd), "%s", c->name);
			rc = c->run(&ctl, argc, sub);
			pasid_close(ctl.client);
			return rc;
		}
	}
	return ctl_usage_error(&ctl, main_usage, "unknown command '%s' (%s)", argv[optind], names);
}
