/* pasidctl: output. Results as JSON or aligned tables, and errors: the daemon's, or a local
 * one in the daemon's shape with --json. */
#include "pasidctl.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
ctl_print_json_error(int code, const char *message, struct json_object *data)
{
	struct json_object *e = json_object_new_object();

	json_object_object_add(e, "code", json_object_new_int(code));
	json_object_object_add(e, "message", json_object_new_string(message));
	json_object_object_add(e, "data", data);
	ctl_print_json(e);
	json_object_put(e);
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
		ctl_print_json_error(CTL_JSON_E_CLIENT, err->message, data);
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

bool
ctl_text(struct ctl *ctl, int rc, const struct pasid_error *err, int *status)
{
	struct json_object *res = pasid_last_result(ctl->client);

	*status = 0;
	/* --json prints what the daemon answered whether or not libpasid could read it, as
	 * pasidctl always has: a script gets the daemon's own words. */
	if (ctl->json && (res || rc == 0)) {
		ctl_print_json(res);
		return false;
	}
	if (rc < 0) {
		*status = ctl_error(ctl, err);
		return false;
	}
	return true;
}

void
ctl_print_json(struct json_object *obj)
{
	puts(json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
	                                             JSON_C_TO_STRING_NOSLASHESCAPE));
}

void
ctl_table_init(struct ctl_table *t, size_t ncols, const char *const *head)
{
	if (ncols > CTL_TABLE_MAX_COLS)
		abort();
	t->ncols = ncols;
	t->nrows = 0;
	t->cells = NULL;
	ctl_table_add(t, head);
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

static void
table_free(struct ctl_table *t)
{
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	t->cells = NULL;
	t->nrows = 0;
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
	table_free(t);
}

void
ctl_print_mappings(const struct pasid_mapping *maps, size_t n, bool with_vm)
{
	static const char *const head[] = {"VM", "GPASID", "HPASID", "TYPE", "DEVICE"};
	struct ctl_table t;
	size_t skip = with_vm ? 0 : 1;

	ctl_table_init(&t, 5 - skip, head + skip);
	for (size_t i = 0; i < n; i++) {
		char g[16], h[16];
		const char *row[] = {maps[i].vm, g, h, pasid_type_name(maps[i].type),
		                     maps[i].device};

		snprintf(g, sizeof(g), "%" PRIu32, maps[i].gpasid);
		snprintf(h, sizeof(h), "%" PRIu32, maps[i].hpasid);
		ctl_table_add(&t, row + skip);
	}
	ctl_table_print(&t);
}
