/* pasidctl: shared plumbing of the command groups. Every command that has a typed call in
 * libpasid uses it: it checks its arguments (pasidctl_args.c), connects (ctl_connect()), makes
 * the typed call, and passes what it returned to ctl_text(), which prints the daemon's result
 * for --json or the error, or tells the command to print its text (pasidctl_print.c). */
#ifndef PASIDCTL_H
#define PASIDCTL_H

#include <getopt.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "libpasid.h"

/* Exit status (pasidctl(8) EXIT STATUS); daemon errors 1001..1008 exit 11..18. */
#define CTL_EXIT_FAILURE  1
#define CTL_EXIT_USAGE    2
#define CTL_EXIT_CONNECT  3
#define CTL_EXIT_PROTOCOL 4

/* With --json, a failure that no daemon answer describes is printed as an error object of
 * the daemon's shape with one of these codes, which the daemon never sends (pasidctl(8)). */
#define CTL_JSON_E_USAGE   2000 /* reason "usage", exit 2 */
#define CTL_JSON_E_CONNECT 2001 /* reason "connect_failed", exit 3 */
#define CTL_JSON_E_CLIENT  2002 /* reason "client_error", exit 1 */

/* Every command also takes these, so that they may follow the command too. */
#define CTL_COMMON_OPTIONS                                                                         \
	{"help", no_argument, NULL, 'h'}, {"json", no_argument, NULL, 'j'},                        \
	    {"socket", required_argument, NULL, 's'},                                              \
	{                                                                                          \
		NULL, 0, NULL, 0                                                                   \
	}

struct ctl {
	const char *socket;
	bool json;
	struct pasid_client *client;
	char cmd[32]; /* the command being run, such as "pasid alloc", for messages */
};

struct ctl_group;

/* A command: one that runs, or a group of subcommands. */
struct ctl_cmd {
	const char *name;
	int (*run)(struct ctl *ctl, int argc, char **argv);
	const struct ctl_group *group; /* when run is NULL */
};

/* Commands that share a first word ("vm", "pasid"), and their usage. */
struct ctl_group {
	const struct ctl_cmd *cmds; /* ends with a NULL name */
	const char *usage;
};

extern const struct ctl_group ctl_vm_group, ctl_device_group, ctl_pasid_group, ctl_quota_group,
    ctl_wq_group;
extern const struct ctl_group ctl_range_group;

/* Command lines (pasidctl_args.c). */

/* Runs the command of group g named by argv[1] (argv[0] is the group's own name) with
 * argv + 1, after appending its name to ctl->cmd; says what the commands are if there is
 * none or no such one. */
int ctl_dispatch(struct ctl *ctl, const struct ctl_group *g, int argc, char **argv);
/* getopt_long() that handles --help, --json and --socket itself. Returns the next
 * command-specific option, or -1 at the end of options with *rc = -1, or -1 with *rc the exit
 * status when the command must stop (0 after --help, 2 after a bad option). */
int ctl_getopt(struct ctl *ctl, int argc, char **argv, const char *shortopts,
               const struct option *longopts, const char *usage, int *rc);
/* For a command with only the common options: reads them. -1 to go on, with the arguments at
 * argv[optind], else the exit status. */
int ctl_common_options(struct ctl *ctl, int argc, char **argv, const char *usage);
/* Prints "pasidctl: <command>: <why>", the synopsis from usage (the lines before its first blank
 * line) and where to find more to stderr, or with --json the error object to stdout; returns 2. */
int ctl_usage_error(struct ctl *ctl, const char *usage, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A number for an option: decimal or 0x-prefixed hex within [min, max]. */
int ctl_parse_num(const char *s, int64_t min, int64_t max, int64_t *out);
/* Checks that the n arguments in args are the ones named by the one or two words of names
 * ("VM BDF"), and that one named BDF is a PCI address (ctl_check_bdf()): -1 if so, else the
 * exit status of a usage error that says which are missing or extra, or what is wrong. */
int ctl_check_args(struct ctl *ctl, const char *usage, const char *names, int n, char **args);
/* Checks that s is a PCI address DDDD:BB:DD.F as the daemon reads it. Returns -1 if so, else
 * the exit status of a usage error that names the field at fault; what is "BDF" or the
 * option that gave s. */
int ctl_check_bdf(struct ctl *ctl, const char *usage, const char *what, const char *s);

/* Checks that s names a work queue as the daemon does, DEVICE/wqN.M ("dsa0/wq0.1"): -1 if so,
 * else the exit status of a usage error; what is "WQ" or the option that gave s. */
int ctl_check_wq(struct ctl *ctl, const char *usage, const char *what, const char *s);

/* pasidctl vm export / vm import (pasidctl_migrate.c). */
extern const char ctl_vm_export_usage[], ctl_vm_import_usage[];
int ctl_vm_export(struct ctl *ctl, int argc, char **argv);
int ctl_vm_import(struct ctl *ctl, int argc, char **argv);

/* pasidctl metrics (pasidctl_metrics.c). */
extern const char ctl_metrics_usage[];
int ctl_cmd_metrics(struct ctl *ctl, int argc, char **argv);

/* pasidctl watch (pasidctl_watch.c). */
extern const char ctl_watch_usage[];
int ctl_cmd_watch(struct ctl *ctl, int argc, char **argv);

/* The daemon (pasidctl_connect.c). */

/* Connects ctl->client unless it is connected: -1 if so, else the exit status of the failure,
 * which it reported with how to choose another socket. */
int ctl_connect(struct ctl *ctl);
/* For a command with only the common options and the arguments that names lists ("VM BDF",
 * as ctl_check_args() checks them): reads them and connects. -1 to go on, with the arguments
 * at argv[optind], else the exit status. */
int ctl_plain_command(struct ctl *ctl, int argc, char **argv, const char *usage, const char *names);

/* Output (pasidctl_print.c). */

/* Takes what a typed call returned (rc, err) and says whether the caller prints its text:
 * false when --json printed the daemon's result as it came (pasid_last_result(), also one that
 * libpasid could not decode) or the failure was reported; *status is then the exit status.
 * True (and *status 0) when the call succeeded without --json. */
bool ctl_text(struct ctl *ctl, int rc, const struct pasid_error *err, int *status);
/* Prints an error from libpasid and returns its exit status: the daemon's error object as it
 * came with --json, else one line on stderr. */
int ctl_error(struct ctl *ctl, const struct pasid_error *err);
/* With --json: {"code", "message", "data"} on stdout, shaped like the daemon's errors. data is
 * taken over. */
void ctl_print_json_error(int code, const char *message, struct json_object *data);
void ctl_print_json(struct json_object *obj);

/* An aligned text table. */
#define CTL_TABLE_MAX_COLS 10

struct ctl_table {
	size_t ncols;
	size_t nrows;
	char **cells; /* nrows * ncols */
};

/* A table of ncols columns whose first row is head. */
void ctl_table_init(struct ctl_table *t, size_t ncols, const char *const *head);
/* Adds a row of ncols strings, copied; NULL or "" shows as "-". */
void ctl_table_add(struct ctl_table *t, const char *const *cols);
/* Prints the rows, each column as wide as its widest cell, and releases them. */
void ctl_table_print(struct ctl_table *t);
/* Prints a table of mappings: [VM] GPASID HPASID TYPE DEVICE, and with result (the daemon's
 * result that maps were decoded from: a listing, or one mapping) WQ when any mapping was
 * allocated against one, and with with_attached ATTACHED, where each is attached. 0, or the
 * exit status of a result whose WQs or attachments libpasid cannot read. */
int ctl_print_mappings(struct ctl *ctl, const struct pasid_mapping *maps, size_t n, bool with_vm,
                       bool with_attached, struct json_object *result);

#endif
