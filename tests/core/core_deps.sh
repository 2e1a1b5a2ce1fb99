#!/usr/bin/env bash
# The core (daemon/core) is a library without JSON, event loop or libsystemd, and knows no
# wire format: nothing of theirs in its sources, and nothing of theirs among the symbols its
# archive needs from elsewhere. (tests/core/test_core_alone also links it with nothing else.)
set -u
src=${1:?daemon/core directory}
lib=${2:?libpasidd_core.a}
bad=0
if grep -nE '#include *[<"](json-c/|event2/|systemd/|pasid-proto\.h)' "$src"/*.[ch]; then
	echo "not ok - the core includes a JSON, event-loop, libsystemd or wire header (above)"
	bad=1
else
	echo "ok - no JSON, event-loop, libsystemd or wire header in the core"
fi
undef=$(nm -u "$lib" | awk '{print $NF}' | grep -E '^(json_|event_|evbuffer_|evutil_|evtimer_|sd_|proto_)' | sort -u)
if [ -n "$undef" ]; then
	echo "not ok - the core needs these symbols from outside: $undef"
	bad=1
else
	echo "ok - the core needs no JSON, event-loop, libsystemd or protocol symbol"
fi
exit $bad
