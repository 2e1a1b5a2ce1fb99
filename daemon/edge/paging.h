/* Paged listings (pasid.list, vm.list, vm.show): at most `limit` entries per answer and an
 * opaque `next` cursor to pass back as `after`. Entries are walked in a fixed order, VM name
 * then gPASID, and a cursor names the last position looked at, so a walk returns every entry
 * that exists throughout it exactly once, whatever changes in between. A page also ends after
 * a bounded amount of work (entries filtered out, VMs the peer may not see), so that one
 * listing never holds up the other peers: a page may then be short, even empty, with `next`. */
#ifndef PASIDD_PAGING_H
#define PASIDD_PAGING_H

#include <stdbool.h>
#include <stdint.h>
#include <json-c/json.h>

#include "namespace.h"

struct rpc_call;

/* Where a page starts: the position an earlier page's `next` names. */
struct page_cursor {
	bool given;                  /* false: the first page */
	char vm[NS_VM_NAME_MAX + 1]; /* its VM */
	uint32_t g;                  /* and the last gPASID looked at in it */
};

struct page {
	unsigned limit;
	struct page_cursor after;
	char next[NS_VM_NAME_MAX + 16]; /* the cursor of the following page, "" for none */
};

/* Reads a cursor ("VM/G"). 0, or -EINVAL for text that no page ever gave as its `next`. */
int page_cursor_parse(const char *s, struct page_cursor *cur);
/* A page of `limit` entries (-1: def) from `after` on. */
void page_start(struct page *p, int64_t limit, unsigned def, const struct page_cursor *after);
/* The mappings of `only` (NULL: every VM the peer may use) of the given type (-1: any) and
 * work queue (NULL or "": any) from the cursor on, rendered with their VM when `with_vm`. Sets
 * p->next. NULL on ENOMEM. */
struct json_object *page_mappings(struct rpc_call *c, const struct ns_vm *only, int type,
                                  const char *wq, bool with_vm, struct page *p);
/* The VMs the peer may use, as vm.list entries, from the cursor on. Sets p->next. */
struct json_object *page_vms(struct rpc_call *c, struct page *p);
/* Adds "next" to a result when the page has a following one. */
void page_add_next(struct json_object *result, const struct page *p);

#endif
