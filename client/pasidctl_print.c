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

/* The attachments of one mapping object: "DEVICE pt=N dev=N[ lost]", comma-separated; NULL
 * with err filled when they cannot be read. malloc'd. */
static char *
attachments_cell(struct json_object *mapping, struct pasid_error *err)
{
	struct pasid_attachment *a;
	size_t n, len = 0;
	char *cell = NULL;
	FILE *f;

	if (pasid_parse_attachments(mapping, &a, &n, err) < 0)
		return NULL;
	f = open_memstream(&cell, &len);
	if (!f) {
		pasid_attachments_free(a);
		fputs("pasidctl: out of memory\n", stderr);
		exit(CTL_EXIT_FAILURE);
	}
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s%s pt=%" PRIu32 " dev=%" PRIu32 "%s", i ? ", " : "", a[i].device,
		        a[i].pt_id, a[i].dev_id, a[i].lost ? " lost" : "");
	fclose(f);
	pasid_attachments_free(a);
	return cell;
}

/* Mapping i of result: an element of its "mappings", or result itself (a lookup). */
static struct json_object *
mapping_object(struct json_object *result, size_t i)
{
	struct json_object *arr;

	if (json_object_object_get_ex(result, "mappings", &arr))
		return json_object_array_get_idx(arr, i);
	return i == 0 ? result : NULL;
}

/* The WQ of each mapping of result ("" for none), or all "" without result; NULL with err
 * filled when one cannot be read. *any says whether some mapping has one. malloc'd. */
static char (*wq_cells(struct json_object *result, size_t n, bool *any,
                       struct pasid_error *err))[PASID_WQ_NAME_MAX + 1]
{
	char(*wq)[PASID_WQ_NAME_MAX + 1] = calloc(n ? n : 1, sizeof(*wq));

	*any = false;
	if (!wq) {
		fputs("pasidctl: out of memory\n", stderr);
		exit(CTL_EXIT_FAILURE);
	}
	for (size_t i = 0; result && i < n; i++) {
		if (pasid_parse_mapping_wq(mapping_object(result, i), wq[i], sizeof(wq[i]), err) <
		    0) {
			free(wq);
			return NULL;
		}
		*any = *any || wq[i][0];
	}
	return wq;
}

int
ctl_print_mappings(struct ctl *ctl, const struct pasid_mapping *maps, size_t n, bool with_vm,
                   bool with_attached, struct json_object *result)
{
	static const char *const head[] = {"VM",     "GPASID", "HPASID",  "TYPE",
	                                   "DEVICE", "WQ",     "ATTACHED"};
	char(*wq)[PASID_WQ_NAME_MAX + 1], **att = calloc(n ? n : 1, sizeof(*att));
	/* The columns shown, by their index in head: VM only in listings of several VMs, WQ
	 * only when a mapping was allocated against one (a host without idxd never sees it). */
	bool show[] = {with_vm, true, true, true, true, false, with_attached && result};
	const char *cols[CTL_TABLE_MAX_COLS];
	struct pasid_error err;
	struct ctl_table t;
	size_t ncols = 0;
	int rc = 0;

	if (!att) {
		fputs("pasidctl: out of memory\n", stderr);
		return CTL_EXIT_FAILURE;
	}
	/* Every cell read before anything is printed: a malformed answer prints no table. */
	wq = wq_cells(result, n, &show[5], &err);
	if (!wq)
		rc = ctl_error(ctl, &err);
	for (size_t i = 0; show[6] && i < n && rc == 0; i++) {
		att[i] = attachments_cell(mapping_object(result, i), &err);
		if (!att[i])
			rc = ctl_error(ctl, &err);
	}
	if (rc == 0) {
		for (size_t k = 0; k < sizeof(show) / sizeof(show[0]); k++) {
			if (show[k])
				cols[ncols++] = head[k];
		}
		ctl_table_init(&t, ncols, cols);
		for (size_t i = 0; i < n; i++) {
			char g[16], h[16];
			const char *row[] = {
			    maps[i].vm,     g,     h,     pasid_type_name(maps[i].type),
			    maps[i].device, wq[i], att[i]};

			snprintf(g, sizeof(g), "%" PRIu32, maps[i].gpasid);
			snprintf(h, sizeof(h), "%" PRIu32, maps[i].hpasid);
			ncols = 0;
			for (size_t k = 0; k < sizeof(show) / sizeof(show[0]); k++) {
				if (show[k])
					cols[ncols++] = row[k];
			}
			ctl_table_add(&t, cols);
		}
		ctl_table_print(&t);
	}
	for (size_t i = 0; i < n; i++)
		free(att[i]);
	free(att);
	free(wq);
	return rc;
}
