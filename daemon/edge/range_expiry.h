/* Reservations that expire (range.reserve's expires_s): a one-shot timer on the event loop set
 * for the earliest expiry, which removes every reservation due as a change of its own (journaled
 * REC_UNRESERVE, like range.unreserve) and sets itself again. Time is the host's CLOCK_BOOTTIME:
 * the state lives under /run and does not survive a reboot, and this clock, unlike
 * CLOCK_MONOTONIC, keeps counting while the host is suspended, so a reservation of an hour ends
 * an hour of wall time later. Stored absolute, it means the same after a restart of pasidd; one
 * found expired at start-up is removed before pasidd serves. */
#ifndef PASIDD_RANGE_EXPIRY_H
#define PASIDD_RANGE_EXPIRY_H

#include <stdint.h>

struct pasidd;

/* The longest expires_s: 30 days. */
#define RANGE_EXPIRES_MAX 2592000

/* CLOCK_BOOTTIME in nanoseconds. */
uint64_t range_now(void);
/* Removes the reservations expired now and sets the timer for the next expiry (none: no
 * timer). 0, or a negative errno (no memory for the timer or the changes). */
int range_expiry_arm(struct pasidd *d);
/* Sets the timer for the earliest expiry without removing anything (a request's transaction
 * may be open): after a reservation was made. */
int range_expiry_schedule(struct pasidd *d);
/* Frees the timer (pasidd_close). */
void range_expiry_stop(struct pasidd *d);

#endif
