/* Work queues that shared mappings name: the interned entries mappings point at, with how many
 * point at each, and what a valid name is. */
#include "ns_internal.h"

#include <stdlib.h>
#include <string.h>

/* A decimal number without leading zeros at s; its end, or NULL. */
static const char *
number(const char *s)
{
	const char *p = s;

	while (*p >= '0' && *p <= '9')
		p++;
	if (p == s || (*s == '0' && p - s > 1) || p - s > 10)
		return NULL;
	return p;
}

bool
ns_wq_ref_valid(const char *ref)
{
	const char *n, *e, *m;

	if (!ref || strnlen(ref, NS_WQ_REF_MAX + 1) > NS_WQ_REF_MAX ||
	    (strncmp(ref, "dsa", 3) && strncmp(ref, "iax", 3)))
		return false;
	n = ref + 3;
	if (!(e = number(n)) || strncmp(e, "/wq", 3))
		return false;
	/* wqN.M belongs to device N: the same digits again. */
	if (strncmp(e + 3, n, (size_t)(e - n)) || e[3 + (e - n)] != '.')
		return false;
	m = e + 3 + (e - n) + 1;
	return (e = number(m)) && !*e;
}

/* Index of the first entry whose ref sorts at or after ref. */
static unsigned
lower_bound(const struct ns *ns, const char *ref)
{
	unsigned lo = 0, hi = ns->nwqs;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;

		if (strcmp(ns->wqs[mid]->ref, ref) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct ns_wq *
ns_wq_find(const struct ns *ns, const char *ref)
{
	unsigned i = lower_bound(ns, ref);

	return i < ns->nwqs && !strcmp(ns->wqs[i]->ref, ref) ? ns->wqs[i] : NULL;
}

struct ns_wq *
ns_wq_get(struct ns *ns, const char *ref)
{
	unsigned i = lower_bound(ns, ref);
	struct ns_wq *wq;

	if (i < ns->nwqs && !strcmp(ns->wqs[i]->ref, ref))
		return ns->wqs[i];
	if (ns->nwqs == ns->wqs_cap) {
		unsigned cap = ns->wqs_cap ? 2 * ns->wqs_cap : 8;
		struct ns_wq **n = realloc(ns->wqs, cap * sizeof(*n));

		if (!n)
			return NULL;
		ns->wqs = n;
		ns->wqs_cap = cap;
	}
	if (!(wq = calloc(1, sizeof(*wq))))
		return NULL;
	strcpy(wq->ref, ref);
	memmove(&ns->wqs[i + 1], &ns->wqs[i], (ns->nwqs - i) * sizeof(*ns->wqs));
	ns->wqs[i] = wq;
	ns->nwqs++;
	return wq;
}

void
ns_wqs_free(struct ns *ns)
{
	for (unsigned i = 0; i < ns->nwqs; i++)
		free(ns->wqs[i]);
	free(ns->wqs);
	ns->wqs = NULL;
	ns->nwqs = ns->wqs_cap = 0;
}
