/* pasidctl watch: the daemon's events printed as they happen (events.subscribe), one line
 * each, until the daemon hangs up or the user interrupts. */
#include "pasidctl.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char ctl_watch_usage[] =
    "Usage: pasidctl watch [--vm VM] [--kinds KIND[,KIND...]] [--json]\n"
    "\n"
    "Prints the daemon's events as they happen, one line each: the time, the kind,\n"
    "the VM and the other fields (count, gpasid, hpasid, device, peer_pid, ...).\n"
    "Each change of the state is one event, sent once it is durable; a user who is\n"
    "not an administrator sees only the VMs of their uid. With --json, each event's\n"
    "params as the daemon sent them, one object per line. Runs until the daemon\n"
    "closes the connection or SIGINT, then exits 0. A watcher that falls too far\n"
    "behind is dropped by the daemon, told how many events it lost (kind lost).\n"
    "\n"
    "Kinds: vm.register vm.owner vm.unregister vm.reclaim device.assign\n"
    "device.release pasid.alloc pasid.free pasid.attach pasid.detach quota.set\n"
    "config.reload daemon.start wq.configure\n"
    "\n"
    "Options:\n"
    "      --vm VM               only the events of VM (it need not exist yet)\n"
    "      --kinds K1,K2         only events of these kinds\n";

static volatile sig_atomic_t interrupted;

static void
on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* "2026-11-26T13:17:00.123456Z pasid.alloc vm1 count=8 gpasid=1-8 ..." */
static void
print_event(struct json_object *e)
{
	struct json_object *v;
	const char *vm = json_object_object_get_ex(e, "vm", &v) ? json_object_get_string(v) : "-";

	printf("%s %s %s",
	       json_object_object_get_ex(e, "time", &v) ? json_object_get_string(v) : "-",
	       json_object_object_get_ex(e, "kind", &v) ? json_object_get_string(v) : "-", vm);
	json_object_object_foreach(e, key, val)
	{
		if (!strcmp(key, "time") || !strcmp(key, "kind") || !strcmp(key, "vm") ||
		    !strcmp(key, "message"))
			continue;
		printf(" %s=%s", key, json_object_get_string(val));
	}
	putchar('\n');
}

/* "a,b,c" into a NULL-terminated array pointing into s (changed). */
static const char **
split_kinds(char *s)
{
	size_t n = 1;
	const char **list;

	for (const char *p = s; *p; p++)
		n += *p == ',';
	if (!(list = calloc(n + 1, sizeof(*list))))
		return NULL;
	n = 0;
	for (char *tok = strtok(s, ","); tok; tok = strtok(NULL, ","))
		list[n++] = tok;
	return list;
}

int
ctl_cmd_watch(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {{"vm", required_argument, NULL, 'v'},
	                                     {"kinds", required_argument, NULL, 'k'},
	                                     CTL_COMMON_OPTIONS};
	struct sigaction sa = {.sa_handler = on_signal};
	const char *vm = NULL, **kinds = NULL;
	struct pasid_error err;
	char *kind_arg = NULL;
	int o, rc;

	optind = 0;
	while ((o = ctl_getopt(ctl, argc, argv, "", opts, ctl_watch_usage, &rc)) != -1) {
		if (o == 'v')
			vm = optarg;
		else if (o == 'k')
			kind_arg = optarg;
	}
	if (rc >= 0)
		return rc;
	if (argc - optind > 0)
		return ctl_usage_error(ctl, ctl_watch_usage, "unexpected argument '%s'",
		                       argv[optind]);
	if (kind_arg && (!kind_arg[0] || !(kinds = split_kinds(kind_arg)) || !kinds[0])) {
		free(kinds);
		return ctl_usage_error(ctl, ctl_watch_usage, "--kinds needs a list of kinds");
	}
	if ((rc = ctl_connect(ctl)) >= 0) {
		free(kinds);
		return rc;
	}
	rc = pasid_events_subscribe(ctl->client, vm, kinds, &err);
	free(kinds);
	if (rc < 0)
		return ctl_error(ctl, &err);
	/* Without SA_RESTART: the wait for the next event ends with EINTR. */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	setvbuf(stdout, NULL, _IOLBF, 0);
	while (!interrupted) {
		struct json_object *e = NULL, *v;

		rc = pasid_event_next(ctl->client, &e, -1, &err);
		if (rc == -EINTR)
			continue;
		if (rc == -ECONNRESET)
			return 0; /* the daemon hung up: the stream is over */
		if (rc < 0)
			return ctl_error(ctl, &err);
		if (ctl->json) {
			fputs(json_object_to_json_string_ext(e, JSON_C_TO_STRING_PLAIN), stdout);
			putchar('\n');
		} else {
			print_event(e);
		}
		if (json_object_object_get_ex(e, "kind", &v) &&
		    !strcmp(json_object_get_string(v), "lost") &&
		    json_object_object_get_ex(e, "lost", &v))
			fprintf(stderr,
			        "pasidctl: watch: fell behind: the daemon dropped %s event(s) and "
			        "ends the stream\n",
			        json_object_get_string(v));
		json_object_put(e);
	}
	return 0;
}
