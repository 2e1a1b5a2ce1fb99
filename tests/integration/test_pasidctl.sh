#!/usr/bin/env bash
# pasidctl against a real pasidd (sim backend) on a private socket: every command in text and
# --json form, and the exit status of each kind of failure.
set -euo pipefail

: "${PASIDD:?set PASIDD to the pasidd binary}"
: "${PASIDCTL:?set PASIDCTL to the pasidctl binary}"

tmp=$(mktemp -d /tmp/pasidctl-test.XXXXXX)
sock=$tmp/s.sock
pids=()
passed=0
failed=0
skipped=0

cleanup() {
	local p
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	for p in "${pids[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	# The cgroups of the quota section, deepest first.
	if [[ -n ${cgtop:-} && -d $cgtop ]]; then
		find "$cgtop" -depth -type d -exec rmdir {} + 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

ok() {
	passed=$((passed + 1))
	echo "ok - $1"
}

not_ok() {
	failed=$((failed + 1))
	echo "not ok - $1"
	[[ -s $tmp/err ]] && sed 's/^/#   stderr: /' "$tmp/err" | head -5
	[[ -s $tmp/out ]] && sed 's/^/#   stdout: /' "$tmp/out" | head -10
	return 0
}

# run ARGS...: pasidctl on the test socket; sets rc, keeps stdout and stderr in files.
run() {
	set +e
	"$PASIDCTL" --socket "$sock" "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	set -e
}

# t NAME WANT ARGS...: runs pasidctl and checks its exit status.
t() {
	local name=$1 want=$2
	shift 2
	run "$@"
	if [[ $rc -eq $want ]]; then ok "$name"; else not_ok "$name (exit $rc, want $want)"; fi
}

# has NAME TEXT: the last stdout contains TEXT (a fixed string).
has() {
	if grep -qF -- "$2" "$tmp/out"; then ok "$1"; else not_ok "$1 (no '$2' in output)"; fi
}

# err_has NAME TEXT: the last stderr contains TEXT.
err_has() {
	if grep -qF -- "$2" "$tmp/err"; then ok "$1"; else not_ok "$1 (no '$2' on stderr)"; fi
}

# json NAME EXPR: the last stdout is exactly one JSON document d, and the Python EXPR holds.
json() {
	if python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if eval(sys.argv[2]) else 1)' "$tmp/out" "$2" 2>>"$tmp/err"; then
		ok "$1"
	else
		not_ok "$1 (JSON check failed: $2)"
	fi
}

# The owners of the test VMs: a VM lives as long as its owner process.
sleep 1000 &
owner=$!
pids+=("$owner")

# Admin rights for this user without being root: the daemon's admin group is our group.
printf '[Daemon]\nAdminGroup=%s\n' "$(id -gn)" >"$tmp/pasidd.conf"
"$PASIDD" --foreground --backend sim --config "$tmp/pasidd.conf" --socket "$sock" \
	--state-dir "$tmp/state" --shared-range 4096-4127 >"$tmp/pasidd.log" 2>&1 &
daemon=$!
pids+=("$daemon")
for _ in $(seq 100); do
	[[ -S $sock ]] && break
	kill -0 "$daemon" 2>/dev/null || break
	sleep 0.1
done
if [[ ! -S $sock ]]; then
	echo "pasidd did not come up:"
	cat "$tmp/pasidd.log"
	exit 1
fi

echo "# usage and help"
t "no command is a usage error" 2
err_has "usage goes to stderr" "Usage: pasidctl"
t "--help" 0 --help
has "--help prints the usage" "Usage: pasidctl"
t "-h" 0 -h
t "--version" 0 --version
has "--version prints the version" "pasidctl "
for cmd in "status" "vm" "vm list" "vm show" "vm register" "vm unregister" "device" \
	"device assign" "device release" "pasid" "pasid alloc" "pasid free" "pasid lookup" \
	"pasid list" "quota" "quota get" "quota set" "call"; do
	# shellcheck disable=SC2086 # split the command words on purpose
	t "$cmd --help" 0 $cmd --help
	has "$cmd --help prints usage" "Usage: pasidctl"
	if [[ -s $tmp/err ]]; then not_ok "$cmd --help writes nothing to stderr"; fi
done
t "help after options" 0 pasid alloc --vm x -h
t "unknown command" 2 frobnicate
t "unknown vm command" 2 vm frobnicate
t "vm without a command" 2 vm
t "unknown option" 2 vm list --frob
t "missing option value" 2 pasid alloc --vm
t "register without a VM" 2 vm register
t "bad --mode" 2 vm register x --mode fancy
t "bad --type" 2 pasid alloc --vm x --type weird
t "alloc without --type" 2 pasid alloc --vm x
t "lookup without arguments" 2 pasid lookup
t "lookup with both forms" 2 pasid lookup 4096 --vm x --gpasid 1
t "gpasid not a number" 2 pasid free --vm x --gpasid twelve
t "call with bad JSON" 2 call daemon.status '{"a":'
t "call with trailing garbage" 2 call daemon.status '{} x'
t "too many arguments" 2 vm show a b

echo "# connecting"
set +e
"$PASIDCTL" --socket "$tmp/none.sock" status >"$tmp/out" 2>"$tmp/err"
rc=$?
set -e
if [[ $rc -eq 3 ]]; then ok "no daemon exits 3"; else not_ok "no daemon exits 3 (got $rc)"; fi
err_has "no daemon names the socket" "$tmp/none.sock"
set +e
PASIDD_SOCKET=$sock "$PASIDCTL" status >"$tmp/out" 2>"$tmp/err"
rc=$?
set -e
if [[ $rc -eq 0 ]]; then ok "PASIDD_SOCKET is used"; else not_ok "PASIDD_SOCKET is used ($rc)"; fi
t "--socket after the command" 0 status --socket "$sock"

echo "# status"
t "status" 0 status
has "status names the backend" "backend:      sim"
has "status shows the shared range" "shared range: 4096-4127"
t "status --json" 0 --json status
json "status JSON" 'd["backend"]["name"] == "sim" and d["ranges"]["shared"] == [4096, 4127] and d["ranges"]["local"] == [1, 4095] and d["free"]["shared"] == 32 and d["version"]'
t "--json after the command" 0 status --json
json "status JSON (late --json)" '"uptime_s" in d'

echo "# vm"
t "vm register" 0 vm register vm1 --pid "$owner"
has "register prints the VM" "vm:       vm1"
has "register prints the mode" "mode:     translated"
has "register prints the owner" "pid:      $owner"
uuid=123e4567-e89b-12d3-a456-426614174000
t "vm register --json" 0 --json vm register vm2 --pid "$owner" --mode identity \
	--uuid "${uuid^^}"
json "register JSON" "d['vm'] == 'vm2' and d['uuid'] == '$uuid' and d['mode'] == 'identity' and d['pid'] == $owner and 'cgroup' in d"
t "register again is idempotent" 0 --json vm register vm1 --pid "$owner"
json "register again returns the VM" "d['vm'] == 'vm1' and d['mode'] == 'translated'"
t "register with another mode conflicts" 14 vm register vm2 --pid "$owner" --mode translated
err_has "conflict message" "pasidctl: "
err_has "conflict reason" "conflict"
t "bad VM name" 4 vm register 'bad/name' --pid "$owner"
err_has "bad VM name names the param" "param vm"
t "vm show unknown" 13 vm show nosuch
err_has "not found reason" "not_found"

echo "# device"
t "device assign" 0 device assign vm1 0000:00:01.0
has "assign output" "assigned 0000:00:01.0 to vm1 (exclusive)"
t "device assign --shared --json" 0 --json device assign vm2 0000:6A:01.0 --shared
json "assign JSON" "d == {'vm': 'vm2', 'device': '0000:6a:01.0', 'shared': True}"
t "assign again is idempotent" 0 device assign vm1 0000:00:01.0
t "exclusive device of another VM" 14 device assign vm2 0000:00:01.0
t "bad BDF" 4 device assign vm1 0000:00:20.0
err_has "bad BDF names the param" "param device"
t "assign to unknown VM" 13 device assign nosuch 0000:00:02.0

echo "# pasid alloc"
t "alloc shared" 0 pasid alloc --vm vm1 --type shared
has "alloc table header" "GPASID  HPASID  TYPE"
has "alloc shows the hPASID" "4096"
t "alloc local --count --json" 0 --json pasid alloc --vm vm1 --type local \
	--device 0000:00:01.0 --count 3
json "alloc count JSON" 'len(d["mappings"]) == 3 and all(m["type"] == "local" and m["device"] == "0000:00:01.0" and m["gpasid"] == m["hpasid"] for m in d["mappings"])'
t "alloc --gpasid --json" 0 --json pasid alloc --vm vm1 --type shared --gpasid 100
json "alloc one JSON" 'd["gpasid"] == 100 and d["type"] == "shared" and 4096 <= d["hpasid"] <= 4127 and "device" not in d'
t "alloc --count 1 is a list" 0 --json pasid alloc --vm vm2 --type shared --count 1
json "count 1 JSON" 'len(d["mappings"]) == 1 and d["mappings"][0]["gpasid"] == d["mappings"][0]["hpasid"]'
t "gpasid taken" 14 pasid alloc --vm vm1 --type shared --gpasid 100
t "local on a shared device" 14 pasid alloc --vm vm2 --type local --device 0000:6a:01.0
t "local without a device" 4 pasid alloc --vm vm1 --type local
t "unknown VM" 13 pasid alloc --vm nosuch --type shared
t "gpasid out of range" 18 pasid alloc --vm vm1 --type shared --gpasid 5000
err_has "out_of_range reason" "out_of_range"
t "exhausted" 11 pasid alloc --vm vm1 --type shared --count 100
err_has "exhausted reason" "exhausted"
t "exhausted allocates nothing" 0 --json status
json "used count unchanged" 'd["used"]["shared"] == 3 and d["used"]["local"] == 3'

echo "# pasid lookup and list"
t "lookup hPASID" 0 pasid lookup 4096
has "lookup shows the VM" "vm1"
has "lookup header" "VM   GPASID  HPASID"
t "lookup hPASID --json" 0 --json pasid lookup 4096
json "lookup JSON" 'd == {"vm": "vm1", "gpasid": 1, "hpasid": 4096, "type": "shared"}'
t "lookup local hPASID with --device" 0 --json pasid lookup 2 --device 0000:00:01.0
json "lookup local JSON" 'd["device"] == "0000:00:01.0" and d["type"] == "local"'
t "lookup by VM and gPASID" 0 --json pasid lookup --vm vm1 --gpasid 100
json "lookup by gPASID JSON" 'd["vm"] == "vm1" and d["gpasid"] == 100'
t "lookup unknown hPASID" 13 pasid lookup 4120
t "lookup unknown gPASID" 13 pasid lookup --vm vm1 --gpasid 77
t "pasid list" 0 pasid list
has "list header" "VM   GPASID  HPASID  TYPE    DEVICE"
has "list shows local rows" "local   0000:00:01.0"
t "pasid list --json" 0 --json pasid list
json "list JSON sorted" 'len(d) == 6 and [(m["vm"], m["gpasid"]) for m in d] == sorted((m["vm"], m["gpasid"]) for m in d)'
t "pasid list --vm --type" 0 --json pasid list --vm vm1 --type local
json "list filtered" 'len(d) == 3 and {m["type"] for m in d} == {"local"} and {m["vm"] for m in d} == {"vm1"}'
t "pasid list unknown VM" 13 pasid list --vm nosuch

echo "# vm list and show"
t "vm list" 0 vm list
has "vm list header" "VM   UUID"
has "vm list shows the identity VM" "identity"
has "vm list shows the shared device" "0000:6a:01.0(shared)"
t "vm list --json" 0 --json vm list
json "vm list JSON" '[v["vm"] for v in d] == ["vm1", "vm2"] and d[0]["pasids"] == 5 and d[1]["devices"] == [{"device": "0000:6a:01.0", "shared": True}]'
t "vm show" 0 vm show vm1
has "show lists devices" "0000:00:01.0 (exclusive)"
has "show lists mappings" "GPASID  HPASID  TYPE"
t "vm show --json" 0 --json vm show vm1
json "vm show JSON" 'd["vm"] == "vm1" and [m["gpasid"] for m in d["mappings"]] == sorted(m["gpasid"] for m in d["mappings"]) and len(d["mappings"]) == 5'

echo "# quota"
t "quota set" 0 quota set /pasidctl-test/a 5
has "quota set output" "/pasidctl-test/a: max 5, current 0"
t "quota set --json, canonical path" 0 --json quota set /pasidctl-test//a/b/ max
json "quota set JSON" 'd == {"cgroup": "/pasidctl-test/a/b", "max": "max", "current": 0}'
t "quota get one" 0 quota get /pasidctl-test/a
has "quota get header" "CGROUP            MAX  CURRENT  DENIED"
has "quota get row" "/pasidctl-test/a  5    0        0"
t "quota get of an unknown cgroup" 0 --json quota get /pasidctl-test/none
json "unknown cgroup JSON" 'd == [{"cgroup": "/pasidctl-test/none", "max": "max", "current": 0, "denied": 0}]'
t "vm show for the cgroup" 0 --json vm show vm1
cg=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["cgroup"] or "/")' "$tmp/out")
t "quota get all" 0 --json quota get
json "quota get all JSON" 'd[0]["cgroup"] == "/" and d[0]["current"] == 6 and {"cgroup": "/pasidctl-test/a", "max": 5, "current": 0, "denied": 0} in d and all(set(e) == {"cgroup", "max", "current", "denied"} for e in d)'
t "limit the VMs' cgroup" 0 quota set "$cg" 6
t "alloc over the quota" 12 pasid alloc --vm vm1 --type shared
err_has "quota_exceeded reason" "quota_exceeded"
err_has "quota error names the cgroup" "cgroup $cg"
t "count over the quota" 12 pasid alloc --vm vm1 --type shared --count 2
t "denied counted" 0 --json quota get "$cg"
json "denied JSON" 'd[0]["denied"] == 2 and d[0]["current"] == 6 and d[0]["max"] == 6'
t "quota get text" 0 quota get "$cg"
has "quota get text row" "6    6        2"
t "lift the limit" 0 quota set "$cg" max
t "quota set without MAX" 2 quota set /a
t "quota set with a bad MAX" 2 quota set /a lots
t "quota set with a negative MAX" 2 quota set /a -5
t "quota get with two cgroups" 2 quota get /a /b
t "quota set of a relative path" 4 quota set rel 5
err_has "relative path names the param" "param cgroup"
t "quota get of a relative path" 4 quota get rel

echo "# release and free"
t "release a device in use" 14 device release vm1 0000:00:01.0
for g in 2 3 4; do
	t "free local gPASID $g" 0 pasid free --vm vm1 --gpasid "$g"
done
has "free output" "freed gPASID 4 of vm1"
t "device release" 0 device release vm1 0000:00:01.0
has "release output" "released 0000:00:01.0 from vm1"
t "release again" 13 device release vm1 0000:00:01.0
t "pasid free --json" 0 --json pasid free --vm vm1 --gpasid 100
json "free JSON is {}" 'd == {}'
t "free again" 13 pasid free --vm vm1 --gpasid 100
t "device release --json" 0 --json device release vm2 0000:6a:01.0
json "release JSON is {}" 'd == {}'

echo "# call"
t "call" 0 call daemon.status
json "call prints the result" 'd["backend"]["name"] == "sim"'
t "call with params" 0 call pasid.list '{"vm":"vm1"}'
json "call with params result" 'len(d) == 1 and d[0]["hpasid"] == 4096'
t "call rpc.discover" 0 call rpc.discover
json "rpc.discover is OpenRPC" 'd["openrpc"].startswith("1.") and any(m["name"] == "pasid.alloc" for m in d["methods"])'
t "call unknown method" 4 call no.such.method
t "call positional params" 4 call pasid.list '[1]'
t "call unknown param" 4 call pasid.list '{"colour":"red"}'
err_has "unknown param is named" "param colour"

echo "# permission"
if [[ $(id -u) -eq 0 ]] && command -v setpriv >/dev/null; then
	chmod 0777 "$tmp"
	chmod 0666 "$sock"
	set +e
	setpriv --reuid=65534 --regid=65534 --clear-groups "$PASIDCTL" --socket "$sock" \
		pasid lookup 4096 >"$tmp/out" 2>"$tmp/err"
	rc=$?
	set -e
	if [[ $rc -eq 15 ]]; then ok "non-admin lookup by hPASID exits 15"; else
		not_ok "non-admin lookup by hPASID exits 15 (got $rc)"
	fi
	err_has "permission reason" "permission_denied"
	set +e
	setpriv --reuid=65534 --regid=65534 --clear-groups "$PASIDCTL" --socket "$sock" \
		quota set /pasidctl-test/a 1 >"$tmp/out" 2>"$tmp/err"
	rc=$?
	setpriv --reuid=65534 --regid=65534 --clear-groups "$PASIDCTL" --socket "$sock" \
		quota get /pasidctl-test/a >/dev/null 2>&1
	rc2=$?
	set -e
	if [[ $rc -eq 15 ]]; then ok "non-admin quota set exits 15"; else
		not_ok "non-admin quota set exits 15 (got $rc)"
	fi
	if [[ $rc2 -eq 0 ]]; then ok "non-admin quota get works"; else
		not_ok "non-admin quota get works (got $rc2)"
	fi
else
	skipped=$((skipped + 1))
	echo "skip - permission test needs root and setpriv"
fi

echo "# unregister"
t "vm unregister" 0 vm unregister vm2
has "unregister output" "unregistered vm2, 1 PASID freed"
t "vm unregister --json" 0 --json vm unregister vm1
json "unregister JSON" 'd == {"vm": "vm1", "freed": 1}'
t "unregister again" 13 vm unregister vm1
t "vm list empty" 0 --json vm list
json "no VMs left" 'd == []'

echo "# owner exit"
sleep 1000 &
short=$!
pids+=("$short")
t "register with a short-lived owner" 0 vm register vm3 --pid "$short"
kill "$short"
wait "$short" 2>/dev/null || true
gone=no
for _ in $(seq 50); do
	run vm show vm3
	if [[ $rc -eq 13 ]]; then
		gone=yes
		break
	fi
	sleep 0.1
done
if [[ $gone == yes ]]; then ok "VM goes when its owner exits"; else
	not_ok "VM goes when its owner exits (vm show exit $rc)"
fi

echo "# quota with nested cgroups"
cgmnt=$(awk '$9 == "cgroup2" && $4 == "/" { print $5; exit }' /proc/self/mountinfo)
if [[ $(id -u) -eq 0 && -n $cgmnt ]] && cgtop=$(mktemp -d "$cgmnt/pasidctl-test.XXXXXX"); then
	top=${cgtop#"$cgmnt"}
	mkdir -p "$cgtop/vms/a"
	sleep 1000 &
	outer=$!
	pids+=("$outer")
	echo "$outer" >"$cgtop/vms/cgroup.procs"
	sleep 1000 &
	inner=$!
	pids+=("$inner")
	echo "$inner" >"$cgtop/vms/a/cgroup.procs"
	t "register in the outer cgroup" 0 --json vm register outer --pid "$outer"
	json "outer cgroup" "d['cgroup'] == '$top/vms'"
	t "register in the inner cgroup" 0 --json vm register inner --pid "$inner"
	json "inner cgroup" "d['cgroup'] == '$top/vms/a'"
	t "limit the outer cgroup" 0 quota set "$top/vms" 5
	t "limit the inner cgroup" 0 quota set "$top/vms/a" 4
	t "alloc inner" 0 pasid alloc --vm inner --type shared --count 2
	t "alloc outer" 0 pasid alloc --vm outer --type shared --count 2
	t "inner over the outer max" 12 pasid alloc --vm inner --type shared --count 2
	err_has "the outer cgroup refuses" "cgroup $top/vms holds 4"
	t "quota get of the subtree" 0 quota get
	sed 's/^/#   /' "$tmp/out"
	has "outer row" "$top/vms    5    4        1"
	has "inner row" "$top/vms/a  4    2        0"
	t "quota get --json of the subtree" 0 --json quota get
	json "nested JSON" "{'cgroup': '$top/vms', 'max': 5, 'current': 4, 'denied': 1} in d and {'cgroup': '$top/vms/a', 'max': 4, 'current': 2, 'denied': 0} in d and {'cgroup': '$top', 'max': 'max', 'current': 4, 'denied': 0} in d"
	t "unregister inner" 0 vm unregister inner
	t "quota after unregister" 0 --json quota get "$top/vms"
	json "outer keeps its own" "d == [{'cgroup': '$top/vms', 'max': 5, 'current': 2, 'denied': 1}]"
	t "unregister outer" 0 vm unregister outer
else
	skipped=$((skipped + 1))
	echo "skip - nested cgroup quotas need root and a cgroup2 mount"
fi

echo "# manual pages"
if command -v mandoc >/dev/null && [[ -n ${SRC_DIR:-} ]]; then
	# As man(1) shows them on a terminal, blanks and line breaks squeezed.
	mandoc -T utf8 "$SRC_DIR/man/pasidd.8" | col -b | tr -s ' \n\t' ' ' >"$tmp/out"
	has "pasidd(8): -d, then the default" "(-d, default /run/pasidd)"
	mandoc -T utf8 "$SRC_DIR/man/pasidctl.8" | col -b | tr -s ' \n\t' ' ' >"$tmp/out"
	has "pasidctl(8): only max is quoted" "(‘max’ for none)"
else
	skipped=$((skipped + 1))
	echo "skip - manual page checks need mandoc and SRC_DIR"
fi

if ! kill -0 "$daemon" 2>/dev/null; then
	not_ok "pasidd still running at the end"
	cat "$tmp/pasidd.log"
fi

echo "$passed passed, $failed failed, $skipped skipped"
[[ $failed -eq 0 ]]
