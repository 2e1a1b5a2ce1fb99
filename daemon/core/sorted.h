/* Binary search in an array sorted by a key. */
#ifndef PASIDD_SORTED_H
#define PASIDD_SORTED_H

#include <stdbool.h>
#include <stddef.h>

/* The index of the element that cmp(key, element) says equals key, or where key would be
 * inserted to keep the order, with *found telling which. */
static inline size_t
sorted_slot(const void *arr, size_t n, size_t size, const void *key,
            int (*cmp)(const void *key, const void *elem), bool *found)
{
	size_t lo = 0, hi = n;

	*found = false;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = cmp(key, (const char *)arr + mid * size);

		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c > 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

#endif
