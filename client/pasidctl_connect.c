/* pasidctl: connecting to the daemon, once a command's arguments are known to be good (a usage
 * error needs no daemon), and saying how to choose another socket when that fails. */
#include "pasidctl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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
		ctl_print_json_error(CTL_JSON_E_CONNECT, err->message, data);
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

int
ctl_connect(struct ctl *ctl)
{
	struct pasid_error err;

	if (ctl->client || pasid_connect(ctl->socket, &ctl->client, &err) == 0)
		return -1;
	return connect_error(ctl, &err);
}

int
ctl_plain_command(struct ctl *ctl, int argc, char **argv, const char *usage, const char *names)
{
	int rc = ctl_common_options(ctl, argc, argv, usage);

	if (rc < 0)
		rc = ctl_check_args(ctl, usage, names, argc - optind, argv + optind);
	if (rc < 0)
		rc = ctl_connect(ctl);
	return rc;
}
