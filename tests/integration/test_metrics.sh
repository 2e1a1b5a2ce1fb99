#!/usr/bin/env bash
# daemon.metrics through the real daemon and pasidctl: the exposition parsed by the Prometheus
# project's own parser (python3-prometheus-client), each family present with the figures the
# requests made (VMs, PASIDs per range and per WQ-less use, requests by method and outcome, the
# latency histogram, a cgroup's limit), label values that no peer chose, and --textfile writing
# DIR/pasidd.prom whole.
set -uo pipefail
: "${PASIDD:?}" "${PASIDCTL:?}"
pass=0 fail=0
ok() { echo "ok - $1"; pass=$((pass + 1)); }
bad() { echo "not ok - $1"; fail=$((fail + 1)); }
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }
tmp=$(mktemp -d /tmp/pasidd-metrics.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; rm -rf "$tmp"; }
trap cleanup EXIT

# A python3 with the parser: the system's (a pyenv shim may come first in PATH).
py=
for p in /usr/bin/python3 python3; do
	if "$p" -c 'import prometheus_client.parser' 2>/dev/null; then
		py=$p
		break
	fi
done
if [[ -z $py ]]; then
	echo "test_metrics: the Prometheus parser is missing (apt install python3-prometheus-client)" >&2
	exit 1
fi

sock=$tmp/s.sock
"$PASIDD" --foreground --backend sim --socket "$sock" --state-dir "$tmp/state" \
	--config /dev/null >"$tmp/log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [[ -S $sock ]] && break; sleep 0.1; done
ctl() { "$PASIDCTL" --socket "$sock" "$@"; }
sleep 600 &
holder=$!
pids+=("$holder")
ctl vm register m1 --pid "$holder" >/dev/null
ctl vm register m2 --pid "$holder" >/dev/null
ctl pasid alloc --vm m1 --type shared --count 3 >/dev/null
ctl device assign m2 0000:01:00.0 >/dev/null
ctl pasid alloc --vm m2 --type local --device 0000:01:00.0 >/dev/null
ctl vm show nosuch >/dev/null 2>&1
ctl quota set /pasidd-metrics.slice 7 >/dev/null
# A method no table has, and a line that is no JSON: counted, never as a label of their own.
ctl call 'evil"\method' >/dev/null 2>&1
python3 - "$sock" <<'PY' >/dev/null 2>&1 || true
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(b"{not json\n"); s.recv(4096)
PY

ctl metrics >"$tmp/m.txt"
check "pasidctl metrics exits 0 with text" "[ -s '$tmp/m.txt' ]"
"$py" - "$tmp/m.txt" >"$tmp/parsed" 2>"$tmp/parse.err" <<'PY'
import sys
from prometheus_client.parser import text_string_to_metric_families
for fam in text_string_to_metric_families(open(sys.argv[1]).read()):
    for s in fam.samples:
        labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
        print(f"{fam.type} {s.name}{{{labels}}} {s.value}")
PY
check "the Prometheus parser reads it$(sed 's/^/: /' "$tmp/parse.err" | head -1)" "[ -s '$tmp/parsed' ] && [ ! -s '$tmp/parse.err' ]"
has() { check "$1" "grep -qxF '$2' '$tmp/parsed'"; }
has "VMs" "gauge pasidd_vms{} 2.0"
has "shared PASIDs used" "gauge pasidd_pasids_used{range=shared} 3.0"
has "local PASIDs used" "gauge pasidd_pasids_used{range=local} 1.0"
has "the shared range's size" "gauge pasidd_range_size{range=shared} 520192.0"
has "vm.register answered twice" "counter pasidd_requests_total{method=vm.register,outcome=ok} 2.0"
has "vm.show refused as not_found" "counter pasidd_requests_total{method=vm.show,outcome=not_found} 1.0"
has "an unknown method under (none)" "counter pasidd_requests_total{method=(none),outcome=method_not_found} 1.0"
has "a parse error under (none)" "counter pasidd_requests_total{method=(none),outcome=parse_error} 1.0"
check "no label a peer chose" "! grep -q 'evil' '$tmp/m.txt'"
has "the cgroup's limit" "gauge pasidd_cgroup_pasids_max{cgroup=/pasidd-metrics.slice} 7.0"
check "the latency histogram ends in +Inf with every request" \
	"grep -q '^histogram pasidd_request_duration_seconds_bucket{le=+Inf} ' '$tmp/parsed' && grep -q '^histogram pasidd_request_duration_seconds_count{} ' '$tmp/parsed'"
check "journal commits counted" "grep -Eq '^counter pasidd_journal_commits_total\{outcome=ok\} [1-9]' '$tmp/parsed'"
check "the commit sync histogram" "grep -Eq '^histogram pasidd_journal_sync_seconds_count\{\} [1-9]' '$tmp/parsed'"
has "no kernel attach in the sim run" "counter pasidd_kernel_calls_total{op=attach,outcome=ok} 0.0"
check "whether each BPF program runs" "[ \$(grep -Ec '^gauge pasidd_bpf_active\\{program=(attach_gate|observer|device_gate)\\} [01]\\.0$' '$tmp/parsed') -eq 3 ]"
check "each BPF program's lost reports" "[ \$(grep -c '^counter pasidd_bpf_lost_reports_total{program=' '$tmp/parsed') -eq 3 ]"
has "no device attached" "gauge pasidd_device_attachments{} 0.0"
check "a build_info with the backend" "grep -q '^gauge pasidd_build_info{backend=sim,version=' '$tmp/parsed'"

mkdir "$tmp/tf"
ctl metrics --textfile "$tmp/tf"
check "--textfile writes DIR/pasidd.prom and nothing else" \
	"[ \"\$(ls -A '$tmp/tf')\" = pasidd.prom ] && grep -q '^pasidd_vms 2$' '$tmp/tf/pasidd.prom'"
rc=0
ctl metrics --textfile "$tmp/nosuchdir" 2>"$tmp/tf.err" || rc=$?
check "--textfile into a missing directory fails (exit $rc), saying so" \
	"[ $rc -eq 1 ] && grep -q 'cannot write $tmp/nosuchdir/pasidd.prom' '$tmp/tf.err'"
ctl --json metrics >"$tmp/m.json"
check "--json gives the string" "[ \"\$(head -c1 '$tmp/m.json')\" = '\"' ]"

# The owner of m1 and m2 exits: both VMs and their 4 PASIDs are reclaimed, and counted.
kill "$holder"
for _ in $(seq 100); do
	[[ $(ctl vm list 2>/dev/null) != *m1* ]] && break
	sleep 0.1
done
ctl metrics >"$tmp/m2.txt"
check "owner reclaims counted" "grep -qx 'pasidd_owner_reclaims_total 2' '$tmp/m2.txt'"
check "the PASIDs they returned" "grep -qx 'pasidd_owner_reclaimed_pasids_total 4' '$tmp/m2.txt'"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
