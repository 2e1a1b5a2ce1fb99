/* Expiry of reservations (range_expiry.h). */
#include "range_expiry.h"
#include "log.h"
#include "pasidd.h"

#include <errno.h>
#include <stdbool.h>
#include <event2/event.h>
#include <time.h>

uint64_t
range_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void
fire(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	range_expiry_arm(arg);
}

/* Sets the timer for the earliest expiry (none: no timer); retry: in a second at the latest. */
static int
schedule(struct pasidd *d, uint64_t now, bool retry)
{
	uint64_t next = ns_resv_next_expiry(&d->ns), wait;
	struct timeval tv;

	if (!d->resv_timer && !(d->resv_timer = evtimer_new(d->base, fire, d)))
		return -ENOMEM;
	if (retry && (!next || next > now + 1000000000u))
		next = now + 1000000000u;
	if (!next) {
		evtimer_del(d->resv_timer);
		return 0;
	}
	wait = next > now ? next - now : 0;
	/* Rounded up: firing a little early would find nothing due and set the timer again.
	 * The loop's timers run on CLOCK_MONOTONIC, which stops in a suspend: then it fires
	 * late, and removes what is due by then. */
	tv.tv_sec = (time_t)(wait / 1000000000u);
	tv.tv_usec = (suseconds_t)((wait % 1000000000u + 999) / 1000);
	if (tv.tv_usec >= 1000000) {
		tv.tv_sec++;
		tv.tv_usec -= 1000000;
	}
	return evtimer_add(d->resv_timer, &tv) < 0 ? -ENOMEM : 0;
}

int
range_expiry_arm(struct pasidd *d)
{
	struct ns_err err;
	uint64_t now = range_now();
	int n, r;

	/* Each removal is a transaction of its own, committed by the journal's timer, as an
	 * owner's exit is. */
	n = ns_resv_expire(&d->ns, now, &err);
	if (n < 0)
		log_err("cannot remove an expired reservation: %s; trying again in a second",
		        err.message);
	else if (n > 0)
		log_info("%d reservation(s) expired and removed", n);
	r = schedule(d, now, n < 0);
	return n < 0 ? n : r;
}

int
range_expiry_schedule(struct pasidd *d)
{
	return schedule(d, range_now(), false);
}

void
range_expiry_stop(struct pasidd *d)
{
	if (d->resv_timer)
		event_free(d->resv_timer);
	d->resv_timer = NULL;
}
