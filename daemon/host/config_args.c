/* pasidd's command line: the options, --help, and the options that stand for keys of the
 * file (they win over it, so they are applied after it is read). */
#include "config.h"
#include "config_keys.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
usage(FILE *f)
{
	fprintf(f,
	        "usage: pasidd [options]\n"
	        "Owns the host PASID namespace and serves it over a JSON-RPC Unix socket.\n\n"
	        "  -c, --config FILE          configuration file (default %s)\n"
	        "  -s, --socket PATH          control socket (default %s)\n"
	        "  -d, --state-dir DIR        state directory (default %s)\n"
	        "  -b, --backend NAME         kernel backend: sim, iommufd or auto (default)\n"
	        "      --local-range F-L      RID-local and guest PASID range (default 1-4095)\n"
	        "      --shared-range F-L     shared-WQ hPASID range (default 4096-524287)\n"
	        "      --pasid-bits N         PASID width, 1-20 (default 20)\n"
	        "  -f, --foreground           stay in the foreground, log to stderr\n"
	        "      --log-level LEVEL      err, warning, notice, info (default) or debug\n"
	        "  -n, --check-config         check the configuration, and the state directory\n"
	        "                             against it, without starting; then exit\n"
	        "      --salvage              make a damaged state directory servable again,\n"
	        "                             keeping what can be kept (see pasidd(8)); then exit\n"
	        "  -V, --version              print the version and exit\n"
	        "  -h, --help                 print this help and exit\n\n"
	        "The state and socket directories must be writable by root only. Exit status:\n"
	        "0 ok, 1 failed to start or to run, 2 usage, configuration or unsafe directory.\n",
	        PASIDD_DEFAULT_CONFIG, PASIDD_DEFAULT_SOCKET, PASIDD_DEFAULT_STATEDIR);
}

enum { OPT_LOCAL = 256, OPT_SHARED, OPT_BITS, OPT_SALVAGE, OPT_LOG_LEVEL };

static const struct option long_opts[] = {
    {"config", required_argument, NULL, 'c'},
    {"socket", required_argument, NULL, 's'},
    {"state-dir", required_argument, NULL, 'd'},
    {"backend", required_argument, NULL, 'b'},
    {"local-range", required_argument, NULL, OPT_LOCAL},
    {"shared-range", required_argument, NULL, OPT_SHARED},
    {"pasid-bits", required_argument, NULL, OPT_BITS},
    {"foreground", no_argument, NULL, 'f'},
    {"check-config", no_argument, NULL, 'n'},
    {"salvage", no_argument, NULL, OPT_SALVAGE},
    {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
    {"version", no_argument, NULL, 'V'},
    {"help", no_argument, NULL, 'h'},
    {0},
};

/* The options that set a key of the file. */
static const struct key_option {
	int opt;
	const char *sect, *key;
} key_options[] = {
    {'s', "Daemon", "Socket"},
    {'d', "Daemon", "StateDirectory"},
    {'b', "Daemon", "Backend"},
    {OPT_LOCAL, "Namespace", "LocalRange"},
    {OPT_SHARED, "Namespace", "SharedRange"},
    {OPT_BITS, "Namespace", "PasidBits"},
    {OPT_LOG_LEVEL, "Daemon", "LogLevel"},
};

/* What the command line says besides the flags it sets in cfg. */
struct cmdline {
	const char *file; /* --config */
	/* Options win over the file, so they are remembered and applied after it. */
	struct {
		const struct key_option *k;
		const char *val;
	} over[16];
	unsigned nover;
};

static const struct key_option *
key_option(int opt)
{
	for (size_t i = 0; i < sizeof(key_options) / sizeof(key_options[0]); i++)
		if (key_options[i].opt == opt)
			return &key_options[i];
	return NULL;
}

/* Reads the options into cl and cfg's flags: 0, 1 when --help/--version was served, or
 * -EINVAL with a message. */
static int
read_options(struct pasidd_config *cfg, int argc, char **argv, struct cmdline *cl, char *err,
             size_t errlen)
{
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":c:s:d:b:fnVh", long_opts, NULL)) != -1) {
		const struct key_option *k = key_option(c);

		if (k) {
			if (cl->nover < sizeof(cl->over) / sizeof(cl->over[0])) {
				cl->over[cl->nover].k = k;
				cl->over[cl->nover++].val = optarg;
			}
			continue;
		}
		switch (c) {
		case 'c':
			cl->file = optarg;
			break;
		case 'f':
			cfg->foreground = true;
			break;
		case 'n':
			cfg->check_only = true;
			break;
		case OPT_SALVAGE:
			cfg->salvage = true;
			break;
		case 'V':
			printf("pasidd %s\n", PASIDD_VERSION);
			return 1;
		case 'h':
			usage(stdout);
			return 1;
		case ':':
			snprintf(err, errlen, "option %s needs a value (see --help)",
			         argv[optind - 1]);
			return -EINVAL;
		default:
			snprintf(err, errlen, "unknown option %s (see --help)", argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		snprintf(err, errlen, "unexpected argument '%s' (see --help)", argv[optind]);
		return -EINVAL;
	}
	if (cfg->salvage && cfg->check_only) {
		snprintf(err, errlen,
		         "--salvage and --check-config do not go together (see --help)");
		return -EINVAL;
	}
	return 0;
}

int
config_from_args(struct pasidd_config *cfg, int argc, char **argv, char *err, size_t errlen)
{
	struct cmdline cl = {0};
	char why[200];
	int r = read_options(cfg, argc, argv, &cl, err, errlen);

	if (r != 0)
		return r;
	if (cl.file && config_set_str(&cfg->config_file, cl.file) < 0)
		return -ENOMEM;
	if (config_load_file(cfg, cl.file ? cl.file : PASIDD_DEFAULT_CONFIG, cl.file != NULL, err,
	                     errlen) < 0)
		return -EINVAL;
	for (unsigned i = 0; i < cl.nover; i++) {
		cfg->cur_where = "command line";
		r = config_assign(cfg, cl.over[i].k->sect, cl.over[i].k->key, cl.over[i].val, why,
		                  sizeof(why));
		cfg->cur_where = NULL;
		if (r < 0) {
			snprintf(err, errlen, "command line: %s", why);
			return -EINVAL;
		}
	}
	return config_finish(cfg, err, errlen);
}
