#include "bench_common.h"
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

double
bench_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* One request, its answer read in bulk (it_recvline reads a byte at a time, which would
 * measure the client). */
static char *
roundtrip(int fd, struct it_reader *rd, const char *req)
{
	if (it_sendline(fd, req) < 0)
		return NULL;
	return it_reader_line(rd, 60000);
}

int
bench_fill_identity(int fd, int mappings, int per_vm)
{
	int vms = (mappings + per_vm - 1) / per_vm;
	struct it_reader rd;
	char req[256];

	it_reader_init(&rd, fd);
	for (int v = 0, left = mappings; v < vms; v++) {
		char *r;

		snprintf(req, sizeof(req),
		         "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"vm.register\",\"params\":{"
		         "\"vm\":\"vm%d\",\"mode\":\"identity\"}}",
		         v);
		free(roundtrip(fd, &rd, req));
		for (int k = 0; k < per_vm && left > 0;) {
			int c = left < 4096 ? left : 4096;

			if (k + c > per_vm)
				c = per_vm - k;
			snprintf(
			    req, sizeof(req),
			    "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"pasid.alloc\",\"params\":{"
			    "\"vm\":\"vm%d\",\"type\":\"shared\",\"count\":%d}}",
			    v, c);
			r = roundtrip(fd, &rd, req);
			if (!r || strstr(r, "\"error\"")) {
				fprintf(stderr, "fill failed: %s\n", r ? r : "(no answer)");
				exit(1);
			}
			free(r);
			k += c;
			left -= c;
		}
	}
	it_reader_free(&rd);
	return vms;
}
