/* pasidctl: command-line client of pasidd. Entry point, shared helpers, `status` and `call`. */
#include "pasidctl.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
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
    "  vm register VM [--uuid U] [--mode identity|translated] [--pid PID]\n"
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
    "  -j, --json         print the daemon's JSON result instead of text\n"
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

int
ctl_usage_error(const char *usage, const char *fmt, ...)
{
	va_list ap;

	fputs("pasidctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n", stderr);
	fputs(usage, stderr);
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
			*rc = ctl_usage_error(usage, "option '%s' needs a value", argv[optind - 1]);
			return -1;
		case '?':
			if (optopt)
				*rc = ctl_usage_error(usage, "unknown option '-%c'", optopt);
			else
				*rc =
				    ctl_usage_error(usage, "unknown option '%s'", argv[optind - 1]);
			return -1;
		default:
			return o;
		}
	}
}

int
ctl_dispatch(struct ctl *ctl, const struct ctl_cmd *cmds, const char *usage, int argc, char **argv)
{
	if (argc < 2)
		return ctl_usage_error(usage, "%s: which command?", argv[0]);
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		fputs(usage, stdout);
		return 0;
	}
	for (const struct ctl_cmd *c = cmds; c->name; c++) {
		if (strcmp(c->name, argv[1]) == 0) {
			optind = 0; /* glibc: start a fresh scan of a new argv */
			return c->run(ctl, argc - 1, argv + 1);
		}
	}
	return ctl_usage_error(usage, "unknown %s command '%s'", argv[0], argv[1]);
}

int
ctl_error(const struct pasid_error *err)
{
	const char *sep = " (";

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
	if (err->code > 1000 && err->code <= PASID_E_OUT_OF_RANGE)
		return 10 + err->code - 1000;
	if (err->code >= -32768 && err->code <= -32000)
		return CTL_EXIT_PROTOCOL;
	return CTL_EXIT_FAILURE;
}

int
ctl_call_fds(struct ctl *ctl, const char *method, struct json_object *params, const int *fds,
             size_t nfds, struct json_object **result)
{
	struct pasid_error err;
	int rc;

	*result = NULL;
	if (!ctl->client && pasid_connect(ctl->socket, &ctl->client, &err) < 0) {
		json_object_put(params);
		fprintf(stderr, "pasidctl: %s\n", err.message);
		return CTL_EXIT_CONNECT;
	}
	rc = pasid_call_fds(ctl->client, method, params, fds, nfds, result, &err);
	json_object_put(params);
	if (rc < 0)
		return ctl_error(&err);
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
	if (!ctl->client && pasid_connect(ctl->socket, &ctl->client, &err) < 0) {
		json_object_put(params);
		fprintf(stderr, "pasidctl: %s\n", err.message);
		return CTL_EXIT_CONNECT;
	}
	rc = pasid_call_pages(ctl->client, method, params, member, result, &err);
	json_object_put(params);
	if (rc < 0)
		return ctl_error(&err);
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
		return ctl_usage_error(status_usage, "status takes no arguments");
	rc = ctl_call(ctl, "daemon.status", NULL, &res);
	if (rc)
		return rc;
	if (ctl_json_done(ctl, res))
		return 0;
	rc = pasid_parse_status(res, &st, &err);
	json_object_put(res);
	if (rc < 0)
		return ctl_error(&err);
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
			return ctl_usage_error(call_usage, "--fd: '%s' is not an open descriptor",
			                       optarg);
		if (nfds == sizeof(fds) / sizeof(fds[0]))
			return ctl_usage_error(call_usage, "too many --fd options");
		fds[nfds++] = (int)n;
	}
	if (rc >= 0)
		return rc;
	if (argc - optind < 1 || argc - optind > 2)
		return ctl_usage_error(call_usage,
		                       argc - optind < 1 ? "which method?" : "too many arguments");
	if (argc - optind == 2 && !(params = parse_json_arg(argv[optind + 1])))
		return ctl_usage_error(call_usage, "JSON-PARAMS is not valid JSON: %s",
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

int
main(int argc, char **argv)
{
	static const struct option opts[] = {{"version", no_argument, NULL, 'V'},
	                                     CTL_COMMON_OPTIONS};
	struct ctl ctl = {0};
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
	if (optind >= argc)
		return ctl_usage_error(main_usage, "which command?");
	if (strcmp(argv[optind], "help") == 0) {
		fputs(main_usage, stdout);
		return 0;
	}
	for (const struct ctl_cmd *c = commands; c->name; c++) {
		if (strcmp(c->name, argv[optind]) == 0) {
			char **sub = argv + optind;

			argc -= optind;
			optind = 0;
			rc = c->run(&ctl, argc, sub);
			pasid_close(ctl.client);
			return rc;
		}
	}
	return ctl_usage_error(main_usage, "unknown command '%s'", argv[optind]);
}
