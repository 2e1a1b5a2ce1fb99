/* pasidctl metrics: daemon.metrics printed, or written for node_exporter's textfile
 * collector. */
#include "pasidctl.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char ctl_metrics_usage[] =
    "Usage: pasidctl metrics [--textfile DIR]\n"
    "\n"
    "Prints the daemon's figures in the Prometheus text exposition format (the\n"
    "result of daemon.metrics). With --textfile, writes them to DIR/pasidd.prom\n"
    "instead, atomically (a file beside it, then rename), for node_exporter's\n"
    "textfile collector: run it from a timer.\n"
    "\n"
    "Options:\n"
    "      --textfile DIR  write DIR/pasidd.prom rather than print\n";

/* DIR/pasidd.prom replaced whole: a scraper never reads half of it. */
static int
write_textfile(const char *dir, const char *text)
{
	char tmp[4096], path[4096];
	size_t len = strlen(text);
	int fd, e = 0;

	if ((size_t)snprintf(path, sizeof(path), "%s/pasidd.prom", dir) >= sizeof(path) ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s/.pasidd.prom.%d", dir, (int)getpid()) >=
	        sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	for (size_t off = 0; off < len && !e;) {
		ssize_t n = write(fd, text + off, len - off);

		if (n < 0 && errno != EINTR)
			e = -errno;
		else if (n > 0)
			off += (size_t)n;
	}
	if (!e && fsync(fd) < 0)
		e = -errno;
	if (close(fd) < 0 && !e)
		e = -errno;
	if (!e && rename(tmp, path) < 0)
		e = -errno;
	if (e)
		unlink(tmp);
	return e;
}

int
ctl_cmd_metrics(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {{"textfile", required_argument, NULL, 't'},
	                                     CTL_COMMON_OPTIONS};
	struct json_object *result = NULL;
	struct pasid_error err;
	const char *dir = NULL;
	int o, rc;

	optind = 0;
	while ((o = ctl_getopt(ctl, argc, argv, "", opts, ctl_metrics_usage, &rc)) != -1)
		if (o == 't')
			dir = optarg;
	if (rc >= 0)
		return rc;
	if (argc - optind > 0)
		return ctl_usage_error(ctl, ctl_metrics_usage, "unexpected argument '%s'",
		                       argv[optind]);
	if ((rc = ctl_connect(ctl)) >= 0)
		return rc;
	rc = pasid_call(ctl->client, "daemon.metrics", NULL, &result, &err);
	if (rc == 0 && !json_object_is_type(result, json_type_string)) {
		json_object_put(result);
		fprintf(stderr, "pasidctl: metrics: the daemon's answer is not a string\n");
		return 1;
	}
	if (rc == 0 && dir) {
		int e = write_textfile(dir, json_object_get_string(result));

		json_object_put(result);
		if (e < 0) {
			fprintf(stderr, "pasidctl: metrics: cannot write %s/pasidd.prom: %s\n", dir,
			        strerror(-e));
			return 1;
		}
		return 0;
	}
	if (ctl_text(ctl, rc, &err, &rc))
		fputs(json_object_get_string(result), stdout);
	json_object_put(result);
	return rc;
}
