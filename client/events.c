/* libpasid: the event stream. events.subscribe (a blocking call), and the notifications that
 * connection.c keeps as it reads them, taken one at a time. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "connection.h"
#include "errors.h"

int
pasid_events_subscribe(struct pasid_client *c, const char *vm, const char *const *kinds,
                       struct pasid_error *err)
{
	struct json_object *params = json_object_new_object(), *list;
	int rc;

	if (!params)
		return lp_nomem(err);
	if (vm)
		json_object_object_add(params, "vm", json_object_new_string(vm));
	if (kinds) {
		list = json_object_new_array();
		for (size_t i = 0; kinds[i]; i++)
			json_object_array_add(list, json_object_new_string(kinds[i]));
		json_object_object_add(params, "kinds", list);
	}
	rc = pasid_call(c, "events.subscribe", params, NULL, err);
	json_object_put(params);
	return rc;
}

static int64_t
mono_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

int
pasid_event_next(struct pasid_client *c, struct json_object **event, int timeout_ms,
                 struct pasid_error *err)
{
	int64_t until = timeout_ms < 0 ? -1 : mono_ms() + timeout_ms;

	*event = NULL;
	for (;;) {
		struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
		struct note *n = c->notes_head;
		int wait, rc;

		if (n) {
			c->notes_head = n->next;
			if (!c->notes_head)
				c->notes_tail = &c->notes_head;
			*event = n->params;
			free(n);
			lp_clear_error(err);
			return 1;
		}
		if (c->dead) {
			lp_copy_error(err, &c->dead_err);
			return c->dead;
		}
		wait = until < 0 ? -1 : (int)(until - mono_ms() > 0 ? until - mono_ms() : 0);
		rc = poll(&pfd, 1, wait);
		if (rc < 0)
			return lp_fail(err, -errno, "poll: %s", strerror(errno));
		if (rc == 0) {
			lp_clear_error(err);
			return 0;
		}
		if ((rc = pasid_receive(c, err)) < 0 && !c->notes_head)
			return rc;
	}
}
