#include "paging.h"
#include "pasidd.h"
#include "render.h"
#include "rpc.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Entries a page may look at beyond the ones it returns. */
#define PAGE_SLACK 4096

/* "VM/G": the VM name cannot contain '/', G is decimal. */
int
page_cursor_parse(const char *s, struct page_cursor *cur)
{
	const char *slash = strrchr(s, '/');
	char *end;
	unsigned long long g;
	size_t n;

	if (!slash || slash == s)
		return -EINVAL;
	n = (size_t)(slash - s);
	if (n > NS_VM_NAME_MAX)
		return -EINVAL;
	memcpy(cur->vm, s, n);
	cur->vm[n] = '\0';
	if (!ns_vm_name_valid(cur->vm) || slash[1] < '0' || slash[1] > '9')
		return -EINVAL;
	errno = 0;
	g = strtoull(slash + 1, &end, 10);
	if (errno || *end || g > UINT32_MAX)
		return -EINVAL;
	cur->g = (uint32_t)g;
	cur->given = true;
	return 0;
}

static void
cursor_set(struct page *p, const char *vm, uint32_t g)
{
	snprintf(p->next, sizeof(p->next), "%s/%" PRIu32, vm, g);
}

void
page_start(struct page *p, int64_t limit, unsigned def, const struct page_cursor *after)
{
	memset(p, 0, sizeof(*p));
	p->limit = limit < 0 ? def : (unsigned)limit;
	p->after = *after;
}

struct walk {
	struct rpc_call *c;
	struct page *p;
	struct ns_mapping **out; /* the page, rendered at the end */
	int type;
	const struct ns_wq *wq; /* NULL: any */
	unsigned n;             /* entries returned */
	unsigned budget;        /* entries that may still be looked at */
};

/* Adds vm's matching mappings above `after`. False when the page ended inside the VM (the
 * cursor is set then). */
static bool
walk_vm(struct walk *w, const struct ns_vm *vm, uint32_t after)
{
	const struct ns *ns = &w->c->d->ns;

	for (struct ns_mapping *m = ns_vm_next(ns, vm, after); m;
	     m = ns_vm_next(ns, vm, m->gpasid)) {
		if (w->n == w->p->limit || w->budget == 0) {
			cursor_set(w->p, vm->name, after);
			return false;
		}
		w->budget--;
		after = m->gpasid;
		if ((w->type < 0 || m->type == (enum ns_type)w->type) && (!w->wq || m->wq == w->wq))
			w->out[w->n++] = m;
	}
	return true;
}

static void walk_all(struct walk *w);

struct json_object *
page_mappings(struct rpc_call *c, const struct ns_vm *only, int type, const char *wq, bool with_vm,
              struct page *p)
{
	struct walk w = {.c = c,
	                 .p = p,
	                 .out = malloc(p->limit * sizeof(*w.out)),
	                 .type = type,
	                 .wq = wq && *wq ? ns_wq_find(&c->d->ns, wq) : NULL,
	                 .budget = p->limit + PAGE_SLACK};
	struct json_object *arr;

	p->next[0] = '\0';
	if (!w.out)
		return NULL;
	if (wq && *wq && !w.wq)
		; /* no mapping was ever handed out for it: nothing to walk */
	else if (only)
		walk_vm(&w, only,
		        p->after.given && !strcmp(p->after.vm, only->name) ? p->after.g : 0);
	else
		walk_all(&w);
	arr = render_mapping_list(w.out, w.n, with_vm);
	free(w.out);
	return arr;
}

/* Every VM the peer may use, from the cursor's on. */
static void
walk_all(struct walk *w)
{
	const struct ns *ns = &w->c->d->ns;
	struct page *p = w->p;

	for (unsigned i = p->after.given ? ns_vm_lower_bound(ns, p->after.vm) : 0; i < ns->nvms;
	     i++) {
		const struct ns_vm *vm = ns->vms[i];
		bool same = p->after.given && !strcmp(vm->name, p->after.vm);

		if (!rpc_may_use(w->c, vm)) {
			if (w->budget-- == 0) {
				/* Past all of it: the next page starts with the VM after. */
				cursor_set(p, vm->name, UINT32_MAX);
				return;
			}
			continue;
		}
		if (!walk_vm(w, vm, same ? p->after.g : 0))
			return;
	}
}

struct json_object *
page_vms(struct rpc_call *c, struct page *p)
{
	const struct ns *ns = &c->d->ns;
	struct json_object *arr = json_object_new_array();
	unsigned n = 0, budget = p->limit + PAGE_SLACK;
	const char *last = NULL;

	p->next[0] = '\0';
	for (unsigned i = p->after.given ? ns_vm_lower_bound(ns, p->after.vm) : 0; i < ns->nvms;
	     i++) {
		const struct ns_vm *vm = ns->vms[i];

		if (p->after.given && !strcmp(vm->name, p->after.vm))
			continue; /* the cursor's own VM was on the page before */
		if (n == p->limit || budget == 0) {
			if (last)
				cursor_set(p, last, 0);
			break;
		}
		budget--;
		last = vm->name;
		if (rpc_may_use(c, vm)) {
			json_object_array_add(arr, render_vm(vm));
			n++;
		}
	}
	return arr;
}

void
page_add_next(struct json_object *result, const struct page *p)
{
	if (p->next[0])
		json_object_object_add(result, "next", json_object_new_string(p->next));
}
