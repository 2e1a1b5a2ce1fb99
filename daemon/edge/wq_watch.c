/* Work queues in use, watched (wq_watch.h). What was wrong at the last check is kept per WQ,
 * so that a problem is logged once when it starts, again when it changes, and its end too. */
#include "wq_watch.h"
#include "idxd.h"
#include "log.h"
#include "pasidd.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct seen {
	char ref[NS_WQ_REF_MAX + 1];
	char *problem; /* NULL: fine at the last check */
};

struct wq_watch {
	struct pasidd *d;
	struct event *timer;
	struct seen *seen;
	size_t nseen, cap;
};

static struct seen *
seen_of(struct wq_watch *w, const char *ref)
{
	for (size_t i = 0; i < w->nseen; i++)
		if (!strcmp(w->seen[i].ref, ref))
			return &w->seen[i];
	if (w->nseen == w->cap) {
		size_t cap = w->cap ? 2 * w->cap : 8;
		struct seen *n = realloc(w->seen, cap * sizeof(*n));

		if (!n)
			return NULL;
		w->seen = n;
		w->cap = cap;
	}
	w->seen[w->nseen] = (struct seen){.problem = NULL};
	strcpy(w->seen[w->nseen].ref, ref);
	return &w->seen[w->nseen++];
}

/* What is wrong with the WQ for the guests that use it, into why; false when nothing. */
static bool
problem_of(const struct pasidd *d, const char *ref, char *why, size_t len)
{
	int err;

	switch (idxd_wq_check(d->cfg.idxd_sysfs_root, ref, &err, why, len)) {
	case IDXD_WQ_USABLE:
		return false;
	case IDXD_NO_DRIVER:
		snprintf(why, len, "the idxd driver is gone (no %s/bus/dsa)",
		         d->cfg.idxd_sysfs_root);
		return true;
	case IDXD_WQ_MISSING:
		snprintf(why, len, "work queue %s is gone", ref);
		return true;
	default:
		return true;
	}
}

/* One check of every WQ in use; adds a warning to arr (when not NULL) for each problem. */
static void
check(struct wq_watch *w, struct json_object *arr)
{
	const struct ns *ns = &w->d->ns;
	char why[IDXD_WHY_LEN + 128];

	for (unsigned i = 0; i < ns->nwqs; i++) {
		const struct ns_wq *wq = ns->wqs[i];
		struct seen *s = seen_of(w, wq->ref);
		bool bad = wq->nmaps && problem_of(w->d, wq->ref, why, sizeof(why));

		if (!s)
			continue; /* out of memory: checked again next time */
		if (bad && (!s->problem || strcmp(s->problem, why))) {
			log_warn("work queue %s, which %u shared PASID(s) were handed out for: %s",
			         wq->ref, wq->nmaps, why);
			free(s->problem);
			s->problem = strdup(why);
		} else if (!bad && s->problem) {
			if (wq->nmaps)
				log_info("work queue %s is usable again for its %u shared PASID(s)",
				         wq->ref, wq->nmaps);
			free(s->problem);
			s->problem = NULL;
		}
		if (bad && arr) {
			struct json_object *o = json_object_new_object();

			json_object_object_add(o, "kind", json_object_new_string("wq"));
			json_object_object_add(o, "wq", json_object_new_string(wq->ref));
			json_object_object_add(o, "problem", json_object_new_string(why));
			json_object_object_add(o, "pasids", json_object_new_int64(wq->nmaps));
			json_object_array_add(arr, o);
		}
	}
}

static void
tick(evutil_socket_t fd, short what, void *ctx)
{
	(void)fd;
	(void)what;
	check(ctx, NULL);
}

int
wq_watch_open(struct pasidd *d, struct wq_watch **out)
{
	struct wq_watch *w = calloc(1, sizeof(*w));
	struct timeval tv = {.tv_sec = WQ_WATCH_INTERVAL_S};

	*out = NULL;
	if (!w)
		return -ENOMEM;
	w->d = d;
	w->timer = event_new(d->base, -1, EV_PERSIST, tick, w);
	if (!w->timer || event_add(w->timer, &tv) < 0) {
		wq_watch_free(w);
		return -ENOMEM;
	}
	check(w, NULL);
	*out = w;
	return 0;
}

void
wq_watch_free(struct wq_watch *w)
{
	if (!w)
		return;
	if (w->timer)
		event_free(w->timer);
	for (size_t i = 0; i < w->nseen; i++)
		free(w->seen[i].problem);
	free(w->seen);
	free(w);
}

struct json_object *
wq_watch_warnings(struct wq_watch *w)
{
	struct json_object *arr = json_object_new_array();

	if (w)
		check(w, arr);
	return arr;
}
