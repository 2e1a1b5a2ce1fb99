/* libpasid: calls. A response taken (by a blocking call or from the non-blocking path) and its
 * outcome kept for pasid_error_object() and pasid_last_result(); the blocking calls, which wait
 * for their own response; and a paged listing walked to its end. */
#include "call.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <time.h>

#include "connection.h"
#include "decode.h"
#include "errors.h"

void
lp_forget_outcome(struct pasid_client *c)
{
	json_object_put(c->last_error);
	c->last_error = NULL;
	json_object_put(c->last_result);
	c->last_result = NULL;
}

struct json_object *
pasid_error_object(const struct pasid_client *c)
{
	return c->last_error;
}

struct json_object *
pasid_last_result(const struct pasid_client *c)
{
	return c->last_result;
}

/* Hands a response to its caller, keeps its outcome and frees the request. */
static int
take(struct pasid_client *c, struct request *r, struct json_object **result,
     struct pasid_error *err)
{
	int rc = r->rc;

	if (rc == 0)
		lp_clear_error(err);
	else
		lp_copy_error(err, &r->error);
	lp_forget_outcome(c);
	c->last_error = r->error_obj;
	r->error_obj = NULL;
	/* The caller's result and the kept one are the same object, not a copy. */
	c->last_result = json_object_get(r->result);
	if (result) {
		*result = r->result;
		r->result = NULL;
	}
	lp_request_free(r);
	return rc;
}

int
pasid_response_next(struct pasid_client *c, int64_t *id, struct json_object **result,
                    struct pasid_error *err)
{
	struct request *r;

	if (result)
		*result = NULL;
	lp_forget_outcome(c);
	r = lp_ready_take(c, NULL);
	if (!r)
		return lp_fail(err, -EAGAIN, "no response ready");
	*id = r->id;
	return take(c, r, result, err);
}

int
pasid_response_take(struct pasid_client *c, int64_t id, struct json_object **result,
                    struct pasid_error *err)
{
	struct request *r;

	if (result)
		*result = NULL;
	lp_forget_outcome(c);
	r = lp_ready_take(c, &id);
	if (r)
		return take(c, r, result, err);
	if (lp_waiting(c, id))
		return lp_fail(err, -EINPROGRESS, "response not yet received");
	return lp_fail(err, -ENOENT, "no request %lld outstanding", (long long)id);
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
pasid_call_fds(struct pasid_client *c, const char *method, struct json_object *params,
               const int *fds, size_t nfds, struct json_object **result, struct pasid_error *err)
{
	int64_t deadline = c->timeout_ms >= 0 ? now_ms() + c->timeout_ms : -1;
	int64_t id;

	if (result)
		*result = NULL;
	lp_forget_outcome(c);
	id = pasid_queue(c, method, params, fds, nfds, err);
	if (id < 0)
		return (int)id;
	for (;;) {
		struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
		int rc, wait = -1;

		rc = pasid_response_take(c, id, result, err);
		if (rc != -EINPROGRESS)
			return rc;
		if (pasid_want_write(c)) {
			if (pasid_flush(c, NULL) < 0 && c->dead)
				continue;
			if (pasid_want_write(c))
				pfd.events |= POLLOUT;
		}
		if (deadline >= 0) {
			int64_t left = deadline - now_ms();

			wait = left > 0 ? (int)left : 0;
		}
		rc = poll(&pfd, 1, wait);
		if (rc < 0 && errno != EINTR) {
			rc = -errno;
			lp_abandon(c, id);
			return lp_fail(err, rc, "poll: %s", strerror(-rc));
		}
		if (rc == 0) {
			lp_abandon(c, id);
			return lp_fail(err, -ETIMEDOUT, "no answer from pasidd to %s", method);
		}
		if (rc > 0 && (pfd.revents & POLLNVAL))
			lp_fail_connection(c, -EBADF, "poll");
		else if (rc > 0 && (pfd.revents & (POLLIN | POLLHUP | POLLERR)))
			pasid_receive(c, NULL);
	}
}

int
pasid_call(struct pasid_client *c, const char *method, struct json_object *params,
           struct json_object **result, struct pasid_error *err)
{
	return pasid_call_fds(c, method, params, NULL, 0, result, err);
}

/* Appends the entries of page to those of the walk so far, in all. */
static void
append_page(struct json_object *all, struct json_object *page, const char *name)
{
	struct json_object *more = lp_member(page, name, json_type_array);

	for (size_t i = 0; i < json_object_array_length(more); i++)
		json_object_array_add(all, json_object_get(json_object_array_get_idx(more, i)));
}

int
pasid_call_pages(struct pasid_client *c, const char *method, struct json_object *params,
                 const char *member, struct json_object **result, struct pasid_error *err)
{
	struct json_object *first = NULL, *copy = NULL, *page, *next;
	int rc;

	*result = NULL;
	/* The caller's params stay as they were: the walk adds "after" to a copy. */
	if (params && json_object_deep_copy(params, &copy, NULL) < 0) {
		lp_forget_outcome(c);
		return lp_nomem(err);
	}
	params = copy;
	for (;;) {
		rc = pasid_call(c, method, params, &page, err);
		if (rc < 0)
			break;
		if (!lp_member(page, member, json_type_array)) {
			json_object_put(page);
			rc = lp_bad_reply(err, member);
			break;
		}
		if (first)
			append_page(lp_member(first, member, json_type_array), page, member);
		else
			first = json_object_get(page);
		next = lp_member(page, "next", json_type_string);
		if (!next)
			break;
		if (!params && !(params = json_object_new_object())) {
			json_object_put(page);
			rc = lp_nomem(err);
			break;
		}
		json_object_object_add(params, "after", json_object_get(next));
		json_object_put(page);
	}
	json_object_put(params);
	/* The walk's outcome is the whole listing, or nothing if it did not reach the end. */
	json_object_put(c->last_result);
	c->last_result = NULL;
	if (rc < 0) {
		json_object_put(first);
		return rc;
	}
	json_object_put(page);
	json_object_object_del(first, "next");
	c->last_result = json_object_get(first);
	*result = first;
	return 0;
}
