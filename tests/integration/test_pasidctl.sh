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

# usage NAME ARGS...: pasidctl exits 2 with a short usage error: one line that says what is
# wrong, the command's synopsis and where to find more, on stderr only (not the whole help).
usage() {
	local name=$1 lines
	shift
	run "$@"
	lines=$(wc -l <"$tmp/err")
	if [[ $rc -ne 2 ]]; then
		not_ok "$name (exit $rc, want 2)"
	elif ! head -1 "$tmp/err" | grep -q '^pasidctl: .'; then
		not_ok "$name (first line is not 'pasidctl: why')"
	elif ! grep -q '^Usage: pasidctl' "$tmp/err"; then
		not_ok "$name (no synopsis)"
	elif ! tail -1 "$tmp/err" | grep -q "^Try 'pasidctl.* --help' for more information\.$"; then
		not_ok "$name (no pointer to --help)"
	elif ((lines > 4)); then
		not_ok "$name ($lines lines on stderr, want at most 4)"
	elif [[ -s $tmp/out ]]; then
		not_ok "$name (wrote to stdout)"
	else
		ok "$name"
	fi
}

# err_is NAME TEXT: the first line of the last stderr is exactly TEXT.
err_is() {
	local first
	first=$(head -1 "$tmp/err")
	if [[ $first == "$2" ]]; then ok "$1"; else not_ok "$1 (first line '$first', want '$2')"; fi
}

# no_err NAME: the last stderr is empty.
no_err() {
	if [[ -s $tmp/err ]]; then not_ok "$1 (stderr not empty)"; else ok "$1"; fi
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
	"device assign" "device release" "device detach" "pasid" "pasid alloc" "pasid free" "pasid lookup" \
	"pasid list" "pasid attach" "pasid detach" "quota" "quota get" "quota set" "range" \
	"range reserve" "range unreserve" "range list" "watch" "call"; do
	# shellcheck disable=SC2086 # split the command words on purpose
	t "$cmd --help" 0 $cmd --help
	has "$cmd --help prints usage" "Usage: pasidctl"
	if [[ -s $tmp/err ]]; then not_ok "$cmd --help writes nothing to stderr"; fi
done
t "help after options" 0 pasid alloc --vm x -h
usage "no command" # with the --socket that run() passes
err_is "no command says so" "pasidctl: no command given (status, vm, device, pasid, quota, wq, range, metrics, watch, call)"
usage "unknown command" frobnicate
err_is "unknown command lists the commands" \
	"pasidctl: unknown command 'frobnicate' (status, vm, device, pasid, quota, wq, range, metrics, watch, call)"
has_synopsis() {
	if grep -qxF -- "$2" "$tmp/err"; then ok "$1"; else not_ok "$1 (no line '$2')"; fi
}
"$PASIDCTL" --help >"$tmp/help" 2>&1 || true
for c in "vm export VM" "vm import FILE|-" "device detach VM BDF" "range list" "watch [--vm VM]"; do
	if grep -qF -- "  $c" "$tmp/help"; then ok "--help names '$c'"; else not_ok "--help names '$c'"; fi
done
has_synopsis "unknown command prints the synopsis" \
	"Usage: pasidctl [--socket PATH] [--json] COMMAND [ARGS...]"
err_has "unknown command points to --help" "Try 'pasidctl --help' for more information."
usage "unknown vm command" vm frobnicate
err_is "unknown vm command lists vm's commands" \
	"pasidctl: vm: unknown command 'frobnicate' (list, show, register, unregister, export, import)"
err_has "unknown vm command points to vm --help" "Try 'pasidctl vm --help' for more information."
usage "vm without a command" vm
usage "unknown option" vm list --frob
err_is "unknown option is named" "pasidctl: vm list: unknown option '--frob'"
usage "missing option value" pasid alloc --vm
err_is "missing value is named" "pasidctl: pasid alloc: option '--vm' needs a value"
usage "register without a VM" vm register
err_is "register without a VM says so" "pasidctl: vm register: missing VM"
usage "bad --mode" vm register x --mode fancy
usage "bad --type" pasid alloc --vm x --type weird
usage "alloc without --type" pasid alloc --vm x
err_is "alloc without --type says what is required" \
	"pasidctl: pasid alloc: --vm and --type are required"
err_has "alloc usage error prints alloc's synopsis" \
	"Usage: pasidctl pasid alloc --vm VM --type shared|local [--device BDF]"
err_has "alloc usage error points to alloc --help" \
	"Try 'pasidctl pasid alloc --help' for more information."
usage "lookup without arguments" pasid lookup
usage "lookup with both forms" pasid lookup 4096 --vm x --gpasid 1
usage "gpasid not a number" pasid free --vm x --gpasid twelve
usage "call with bad JSON" call daemon.status '{"a":'
usage "call with trailing garbage" call daemon.status '{} x'
usage "too many arguments" vm show a b
err_is "the extra argument is named" "pasidctl: vm show: unexpected argument 'b'"
usage "device release without arguments" device release
err_is "the missing arguments are named" "pasidctl: device release: missing VM and BDF"
usage "quota set without MAX" quota set /a
err_is "quota set names MAX" "pasidctl: quota set: missing MAX"

echo "# BDFs are checked field by field"
usage "device out of range" device assign vm1 0000:00:20.0
err_is "device out of range is named" \
	"pasidctl: device assign: BDF '0000:00:20.0': device 20 is out of range 00-1f"
usage "function out of range" device release vm1 0000:00:01.8
err_is "function out of range is named" \
	"pasidctl: device release: BDF '0000:00:01.8': function 8 is out of range 0-7"
usage "BDF without a domain" device assign vm1 00:01.0
err_has "BDF without a domain gets the format" \
	"BDF '00:01.0' is not a PCI address DDDD:BB:DD.F (domain:bus:device.function in hexadecimal"
usage "BDF not hexadecimal" device assign vm1 0000:0g:01.0
err_has "the field not hexadecimal is named" "the bus '0g' is not hexadecimal"
usage "BDF with a short field" device assign vm1 0000:00:1.0
err_has "the short field is named" "write the device with 2 digits (00-1f)"
usage "domain out of range" device assign vm1 10000:00:01.0
err_has "domain out of range is named" "domain 10000 is out of range 0000-ffff"
usage "bad --device of alloc" pasid alloc --vm vm1 --type local --device 0000:00:01.9
err_is "bad --device is named" \
	"pasidctl: pasid alloc: --device '0000:00:01.9': function 9 is out of range 0-7"
usage "bad --device of lookup" pasid lookup 5 --device 0000:100:01.0
err_has "bus out of range is named" "bus 100 is out of range 00-ff"

echo "# connecting"
# runs ARGS...: pasidctl without the test socket.
runs() {
	set +e
	"$PASIDCTL" "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	set -e
}
runs --socket "$tmp/none.sock" status
if [[ $rc -eq 3 ]]; then ok "no daemon exits 3"; else not_ok "no daemon exits 3 (got $rc)"; fi
err_has "no daemon names the socket" "$tmp/none.sock"
err_is "no daemon: pasidd does not seem to be running" \
	"pasidctl: cannot connect to $tmp/none.sock: no such socket; pasidd does not seem to be running, or it listens on another socket"
err_has "no daemon: how to choose the socket" \
	"pasidctl: choose the socket with --socket PATH or \$PASIDD_SOCKET (this one came from --socket)"
set +e
PASIDD_SOCKET=$tmp/none.sock "$PASIDCTL" status >"$tmp/out" 2>"$tmp/err"
rc=$?
set -e
if [[ $rc -eq 3 ]]; then ok "no daemon at \$PASIDD_SOCKET exits 3"; else
	not_ok "no daemon at \$PASIDD_SOCKET exits 3 (got $rc)"
fi
err_has "no daemon at \$PASIDD_SOCKET says where the socket came from" \
	"(this one came from \$PASIDD_SOCKET)"
runs --socket "$tmp" status
if [[ $rc -eq 3 ]]; then ok "a directory exits 3"; else not_ok "a directory exits 3 (got $rc)"; fi
err_is "a directory is not a socket" \
	"pasidctl: cannot connect to $tmp: it is a directory, not a socket"
mkdir "$tmp/rundir"
ln -s "$sock" "$tmp/rundir/pasidd.sock"
runs --socket "$tmp/rundir" status
err_has "a directory with the socket in it" "pasidctl: did you mean --socket $tmp/rundir/pasidd.sock?"
# A socket file that nobody listens on, as a killed daemon leaves it.
python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$tmp/stale.sock"
runs --socket "$tmp/stale.sock" status
if [[ $rc -eq 3 ]]; then ok "a stale socket exits 3"; else not_ok "a stale socket exits 3 (got $rc)"; fi
err_is "a stale socket is named as such" \
	"pasidctl: cannot connect to $tmp/stale.sock: connection refused; the socket is stale, pasidd is not running"
runs --json --socket "$tmp/none.sock" status
if [[ $rc -eq 3 ]]; then ok "no daemon with --json exits 3"; else
	not_ok "no daemon with --json exits 3 (got $rc)"
fi
json "no daemon with --json is an error object" "d == {'code': 2001, 'message': 'cannot connect to $tmp/none.sock: no such socket; pasidd does not seem to be running, or it listens on another socket', 'data': {'reason': 'connect_failed', 'socket': '$tmp/none.sock', 'from': '--socket', 'errno': 2}}"
no_err "no daemon with --json writes nothing to stderr"
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
t "--json error" 13 --json vm show nosuch
json "--json error is the daemon's error object" 'd["code"] == 1003 and d["data"]["reason"] == "not_found" and "nosuch" in d["message"] and set(d) == {"code", "message", "data"}'
no_err "--json error writes nothing to stderr"
t "--json protocol error" 4 --json call pasid.list '{"colour":"red"}'
json "--json protocol error object" 'd == {"code": -32602, "message": "unknown parameter '"'colour'"'", "data": {"param": "colour"}}'
t "--json usage error" 2 --json pasid alloc --vm x
json "--json usage error object" 'd == {"code": 2000, "message": "pasid alloc: --vm and --type are required", "data": {"reason": "usage", "command": "pasid alloc"}}'
no_err "--json usage error writes nothing to stderr"
t "--json after the usage error" 2 vm register x --mode fancy --json
json "late --json usage error object" 'd["code"] == 2000 and d["data"]["command"] == "vm register" and "--mode" in d["message"]'

echo "# vm register needs --pid"
t "register without --pid" 2 vm register vmx
err_is "register without --pid says why" \
	"pasidctl: vm register: --pid is required: a VM lives as long as its owner process, and pasidctl exits at once; give the VMM's pid with --pid PID (--pid \$\$ for this shell)"
err_has "register without --pid gives the synopsis" \
	"Usage: pasidctl vm register VM --pid PID [--uuid UUID] [--mode identity|translated]"
t "register without --pid registers nothing" 13 vm show vmx
t "register --json without --pid" 2 --json vm register vmx --mode identity
json "register without --pid JSON" 'd["code"] == 2000 and "--pid is required" in d["message"]'

echo "# device"
t "device assign" 0 device assign vm1 0000:00:01.0
has "assign output" "assigned 0000:00:01.0 to vm1 (exclusive)"
t "device assign --shared --json" 0 --json device assign vm2 0000:6A:01.0 --shared
json "assign JSON" "d == {'vm': 'vm2', 'device': '0000:6a:01.0', 'shared': True}"
t "assign again is idempotent" 0 device assign vm1 0000:00:01.0
t "exclusive device of another VM" 14 device assign vm2 0000:00:01.0
t "bad BDF through call is the daemon's to refuse" 4 call device.assign \
	'{"vm":"vm1","device":"0000:00:20.0"}'
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
json "list JSON sorted" 'list(d) == ["mappings"] and len(d["mappings"]) == 6 and [(m["vm"], m["gpasid"]) for m in d["mappings"]] == sorted((m["vm"], m["gpasid"]) for m in d["mappings"])'
t "pasid list --vm --type" 0 --json pasid list --vm vm1 --type local
json "list filtered" 'len(d["mappings"]) == 3 and {m["type"] for m in d["mappings"]} == {"local"} and {m["vm"] for m in d["mappings"]} == {"vm1"}'
t "pasid list unknown VM" 13 pasid list --vm nosuch

echo "# vm list and show"
t "vm list" 0 vm list
has "vm list header" "VM   UUID"
has "vm list shows the identity VM" "identity"
has "vm list shows the shared device" "0000:6a:01.0(shared)"
t "vm list --json" 0 --json vm list
json "vm list JSON" '[v["vm"] for v in d["vms"]] == ["vm1", "vm2"] and d["vms"][0]["pasids"] == 5 and d["vms"][1]["devices"] == [{"device": "0000:6a:01.0", "shared": True}]'
t "vm show" 0 vm show vm1
has "show lists devices" "0000:00:01.0 (exclusive)"
has "show lists mappings" "GPASID  HPASID  TYPE"
t "vm show --json" 0 --json vm show vm1
json "vm show JSON" 'd["vm"] == "vm1" and [m["gpasid"] for m in d["mappings"]] == sorted(m["gpasid"] for m in d["mappings"]) and len(d["mappings"]) == 5'

echo "# pasid attach and detach"
# The VMM's iommufd and VFIO cdev are descriptors pasidctl inherits; the sim backend only
# needs them open.
t "attach with inherited descriptors" 0 pasid attach vm1 2 0000:00:01.0 --pt-id 7 --dev-id 3 \
	--iommufd 3 --device-fd 4 3</dev/null 4</dev/null
has "attach output" "attached gPASID 2 of vm1 on 0000:00:01.0 to page table 7 (dev_id 3)"
t "attach --json" 0 --json pasid attach vm1 1 0000:00:01.0 --pt-id 8 --dev-id 3 \
	--iommufd 3 --device-fd 4 3</dev/null 4</dev/null
json "attach JSON is {}" 'd == {}'
t "attach twice conflicts" 14 pasid attach vm1 2 0000:00:01.0 --pt-id 9 --dev-id 3 \
	--iommufd 3 --device-fd 4 3</dev/null 4</dev/null
err_has "attach twice names the gPASID" "param gpasid"
t "attach on a device the VM does not hold" 14 pasid attach vm1 3 0000:6a:01.0 --pt-id 7 \
	--dev-id 3 --iommufd 3 --device-fd 4 3</dev/null 4</dev/null
err_has "device not held names the device" "param device"
t "attach of an unknown gPASID" 13 --json pasid attach vm1 77 0000:00:01.0 --pt-id 7 \
	--dev-id 3 --iommufd 3 --device-fd 4 3</dev/null 4</dev/null
json "unknown gPASID JSON" 'd["code"] == 1003 and d["data"]["param"] == "gpasid"'
usage "attach with a descriptor not open" pasid attach vm1 3 0000:00:01.0 --pt-id 7 \
	--dev-id 3 --iommufd 3 --device-fd 9 3</dev/null
err_is "the closed descriptor is named" \
	"pasidctl: pasid attach: --device-fd: '9' is not a descriptor open in pasidctl (hand it down, as in --device-fd 3 3<&\"\$FD\")"
usage "attach without descriptors" pasid attach vm1 3 0000:00:01.0 --pt-id 7 --dev-id 3
err_is "attach says what is required" \
	"pasidctl: pasid attach: --pt-id, --dev-id, --iommufd and --device-fd are required"
usage "attach without DEVICE" pasid attach vm1 3 --pt-id 7 --dev-id 3 --iommufd 0 \
	--device-fd 0
err_is "attach names the missing DEVICE" "pasidctl: pasid attach: missing DEVICE"
usage "attach with a bad --pt-id" pasid attach vm1 3 0000:00:01.0 --pt-id -1 --dev-id 3 \
	--iommufd 0 --device-fd 0
usage "detach with a bad DEVICE" pasid detach vm1 3 0000:00:1.0
t "status counts the attachments" 0 --json status
json "two attached" 'd["attached"] == 2'
t "status text counts the attachments" 0 status
has "status text attached" "attached:     2"
t "vm show shows the attachments" 0 vm show vm1
has "vm show ATTACHED column" "DEVICE        ATTACHED"
has "vm show attachment" "0000:00:01.0  0000:00:01.0 pt=7 dev=3"
has "vm show attachment of the shared mapping" "shared  -             0000:00:01.0 pt=8 dev=3"
t "vm show --json" 0 --json vm show vm1
json "vm show JSON attachments" '[m.get("attached") for m in d["mappings"]] == [[{"device": "0000:00:01.0", "pt_id": 8, "dev_id": 3}], [{"device": "0000:00:01.0", "pt_id": 7, "dev_id": 3}], None, None, None]'
t "pasid list shows the attachments" 0 pasid list --vm vm1
has "list ATTACHED column" "VM   GPASID  HPASID  TYPE    DEVICE        ATTACHED"
has "list attachment" "local   0000:00:01.0  0000:00:01.0 pt=7 dev=3"
t "pasid list --json" 0 --json pasid list --type local
json "list JSON attachments" '[m.get("attached") for m in d["mappings"]] == [[{"device": "0000:00:01.0", "pt_id": 7, "dev_id": 3}], None, None]'
t "lookup shows the attachment" 0 pasid lookup --vm vm1 --gpasid 2
has "lookup attachment" "0000:00:01.0 pt=7 dev=3"
t "detach" 0 pasid detach vm1 2 0000:00:01.0
has "detach output" "detached gPASID 2 of vm1 from 0000:00:01.0"
t "detach --json" 0 --json pasid detach vm1 1 0000:00:01.0
json "detach JSON is {}" 'd == {}'
t "detach again" 13 pasid detach vm1 2 0000:00:01.0
err_has "detach again names the device" "param device"
t "nothing attached" 0 --json vm show vm1
json "no attachments left" 'all("attached" not in m for m in d["mappings"]) and len(d["mappings"]) == 5'
t "status counts none" 0 --json status
json "none attached" 'd["attached"] == 0'

echo "# device detach (device.attach is the VMM's: through call with its descriptors)"
t "device.attach through call" 0 call device.attach \
	'{"vm":"vm1","device":"0000:00:01.0","pt_id":5,"dev_id":3,"fds":2}' --fd 3 --fd 4 \
	3</dev/null 4</dev/null
t "vm show text has the RID attachment" 0 vm show vm1
has "vm show RID line" "0000:00:01.0 (exclusive, RID attached to page table 5 (dev_id 3))"
t "vm show has the RID attachment" 0 --json vm show vm1
json "device attached" '[x.get("attached") for x in d["devices"] if x["device"] == "0000:00:01.0"] == [{"pt_id": 5, "dev_id": 3}]'
t "device detach" 0 device detach vm1 0000:00:01.0
has "device detach output" "detached the requester ID of 0000:00:01.0 of vm1"
t "device detach again" 13 device detach vm1 0000:00:01.0
err_has "device detach again names the device" "param device"
t "device detach --json of a device not held" 13 --json device detach vm1 0000:00:09.0
json "device detach error JSON" 'd["code"] == 1003 and d["data"]["param"] == "device"'
usage "device detach without BDF" device detach vm1

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
t "alloc over the quota --json" 12 --json pasid alloc --vm vm1 --type shared
json "quota error JSON has the details" "d['code'] == 1002 and d['data'] == {'reason': 'quota_exceeded', 'cgroup': '$cg', 'max': 6, 'current': 6}"
t "count over the quota" 12 pasid alloc --vm vm1 --type shared --count 2
t "denied counted" 0 --json quota get "$cg"
json "denied JSON" 'd[0]["denied"] == 3 and d[0]["current"] == 6 and d[0]["max"] == 6'
t "quota get text" 0 quota get "$cg"
has "quota get text row" "6    6        3"
t "status with quotas" 0 status
# The fullest limited cgroup first: the VMs' (full, with its refusals), then /pasidctl-test/a.
python3 - "$tmp/out" "$cg" <<'PY' && ok "status shows the quota headroom, fullest first" || not_ok "status quota lines: $(grep quota: "$tmp/out")"
import sys
lines = [l for l in open(sys.argv[1]) if l.startswith("quota:")]
assert lines[0] == "quota:        %s 6/6 (100%%), 0 left, 3 denied\n" % sys.argv[2], lines
assert lines[1] == "quota:        /pasidctl-test/a 0/5 (0%), 5 left\n", lines
PY
has "status shows the capabilities kept" "privileges:  "
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
json "call with params result" 'len(d["mappings"]) == 1 and d["mappings"][0]["hpasid"] == 4096'
t "call rpc.discover" 0 call rpc.discover
json "rpc.discover is OpenRPC" 'd["openrpc"].startswith("1.") and any(m["name"] == "pasid.alloc" for m in d["methods"])'
t "call unknown method" 4 call no.such.method
t "call positional params" 4 call pasid.list '[1]'
t "call unknown param" 4 call pasid.list '{"colour":"red"}'
err_has "unknown param is named" "param colour"

echo "# permission"
if [[ $(id -u) -eq 0 ]] && command -v setpriv >/dev/null; then
	chmod 0777 "$tmp"
	# The socket as pasidd made it (0660): nobody is not in its group.
	group=$(stat -c %G "$sock")
	set +e
	setpriv --reuid=65534 --regid=65534 --clear-groups "$PASIDCTL" --socket "$sock" \
		status >"$tmp/out" 2>"$tmp/err"
	rc=$?
	set -e
	if [[ $rc -eq 3 ]]; then ok "permission denied exits 3"; else
		not_ok "permission denied exits 3 (got $rc)"
	fi
	err_is "permission denied names the socket's group" \
		"pasidctl: cannot connect to $sock: permission denied; only root and members of the socket's group '$group' may connect, and this process is not in it"
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
json "no VMs left" 'd == {"vms": []}'

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
# call is the raw way in: it does not ask for a pid, and the VM is pasidctl's, gone with it.
t "call vm.register without a pid" 0 call vm.register '{"vm":"vmraw"}'
json "call vm.register registers for pasidctl" "d['vm'] == 'vmraw' and d['pid'] != $owner"
gone=no
for _ in $(seq 50); do
	run vm show vmraw
	if [[ $rc -eq 13 ]]; then
		gone=yes
		break
	fi
	sleep 0.1
done
if [[ $gone == yes ]]; then ok "a VM of pasidctl's own goes with it"; else
	not_ok "a VM of pasidctl's own goes with it (vm show exit $rc)"
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

# ---------------------------------------------------------------------------------------
# WQ: idxd work queues (wq list, wq configure, pasid alloc/list --wq, status). The usage
# errors need no daemon support and always run; the rest runs against a second pasidd that
# reads a fixture sysfs tree ([Idxd] SysfsRoot=), and only once that daemon answers wq.list
# with an array: until the daemon side of work queues lands they are skipped.
echo "# WQ: usage"
for cmd in "wq" "wq list" "wq configure"; do
	# shellcheck disable=SC2086 # split the command words on purpose
	t "WQ: $cmd --help" 0 $cmd --help
	has "WQ: $cmd --help prints usage" "Usage: pasidctl"
done
usage "WQ: configure without --mode and --type" wq configure dsa0/wq0.1
err_has "WQ: configure says what is required" "--mode and --type are required"
usage "WQ: configure without WQ" wq configure --mode shared --type user
usage "WQ: configure of a malformed WQ" wq configure dsa0 --mode shared --type user
err_has "WQ: the malformed WQ is named" "'dsa0' is not a work queue"
usage "WQ: configure with a bad mode" wq configure dsa0/wq0.1 --mode swq --type user
usage "WQ: configure with a bad type" wq configure dsa0/wq0.1 --mode shared --type mdev
usage "WQ: configure with a bad size" wq configure dsa0/wq0.1 --mode shared --type user \
	--size lots
usage "WQ: configure with a negative group" wq configure dsa0/wq0.1 --mode shared \
	--type user --group -1
usage "WQ: configure with a bad --block-on-fault" wq configure dsa0/wq0.1 --mode shared \
	--type user --block-on-fault 1
usage "WQ: wq list takes no argument" wq list dsa0
usage "WQ: alloc --wq with --type local" pasid alloc --vm vm1 --wq dsa0/wq0.1 --type local
usage "WQ: alloc --wq with --device" pasid alloc --vm vm1 --wq dsa0/wq0.1 \
	--device 0000:6a:01.0
usage "WQ: alloc with a malformed --wq" pasid alloc --vm vm1 --wq wq0.1
usage "WQ: list with a malformed --wq" pasid list --wq dsa0/wq0
t "WQ: --json usage error" 2 --json wq configure dsa0/wq0.1
json "WQ: --json usage error object" "d['code'] == 2000 and d['data']['command'] == 'wq configure'"

# fx_link ROOT FROM TO: the relative link ROOT/FROM -> ROOT/TO, as sysfs makes them.
fx_link() {
	local up slashes=${2//[^\/]/}
	up=$(printf '../%.0s' $(seq ${#slashes}))
	ln -sfn "$up$3" "$1/$2"
}

# fx_file DIR NAME MODE VALUE
fx_file() {
	printf '%s\n' "$4" >"$1/$2"
	chmod "$3" "$1/$2"
}

# fx_device ROOT DEV BDF PASID_ENABLED STATE: an idxd device as tests/idxd_fixture.h lays
# it out.
fx_device() {
	local root=$1 dev=$2 bdf=$3 pci rel d
	pci="devices/pci${bdf:0:7}/$bdf"
	rel="$pci/$dev"
	mkdir -p "$root/$rel" "$root/bus/pci/devices" "$root/bus/dsa/devices"
	fx_link "$root" "bus/pci/devices/$bdf" "$pci"
	fx_link "$root" "$pci/subsystem" "bus/pci"
	fx_link "$root" "$rel/subsystem" "bus/dsa"
	fx_link "$root" "bus/dsa/devices/$dev" "$rel"
	d=$root/$rel
	fx_file "$d" pasid_enabled 0444 "$4"
	fx_file "$d" state 0444 "$5"
	fx_file "$d" max_work_queues 0444 8
	fx_file "$d" max_work_queues_size 0444 128
	fx_file "$d" op_cap 0444 \
		"00000000,00000000,00000000,00000000,00000000,00000000,00000000,00ff03ff"
	fx_file "$d" configurable 0444 1
	fx_file "$d" version 0444 0x100
	fx_file "$d" gen_cap 0444 0x40915f0107
	fx_file "$d" cdev_major 0444 239
	fx_file "$d" clients 0444 0
}

# fx_wq ROOT DEV BDF WQ MODE TYPE LABEL STATE DRIVER SIZE PRIORITY THRESHOLD GROUP MINOR
# (MINOR -1: no char device)
fx_wq() {
	local root=$1 dev=$2 bdf=$3 wq=$4 rel d cdev
	rel="devices/pci${bdf:0:7}/$bdf/$dev/$wq"
	d=$root/$rel
	mkdir -p "$d"
	fx_file "$d" mode 0644 "$5"
	fx_file "$d" type 0644 "$6"
	fx_file "$d" name 0644 "$7"
	fx_file "$d" state 0444 "$8"
	fx_file "$d" driver_name 0644 "$9"
	fx_file "$d" size 0644 "${10}"
	fx_file "$d" priority 0644 "${11}"
	fx_file "$d" threshold 0644 "${12}"
	fx_file "$d" block_on_fault 0644 0
	fx_file "$d" group_id 0644 "${13}"
	fx_file "$d" clients 0444 0
	fx_file "$d" occupancy 0444 0
	fx_file "$d" max_batch_size 0644 1024
	fx_file "$d" max_transfer_size 0644 2097152
	fx_link "$root" "$rel/subsystem" "bus/dsa"
	fx_link "$root" "bus/dsa/devices/$wq" "$rel"
	if [[ ${14} -ge 0 ]]; then
		fx_file "$d" cdev_minor 0444 "${14}"
		cdev="${dev:0:3}!$wq"
		mkdir -p "$d/$cdev"
		fx_file "$d/$cdev" dev 0444 "239:${14}"
		fx_link "$root" "bus/dsa/devices/$cdev" "$rel/$cdev"
	fi
}

# A directory of its own for this daemon's socket, state and sysfs tree: pasidd refuses them
# under $tmp, which the permission cases opened to others.
wqtmp=$(mktemp -d /tmp/pasidctl-wq.XXXXXX)
trap 'cleanup; rm -rf "$wqtmp"' EXIT
sysfs=$wqtmp/sysfs
fx_device "$sysfs" dsa0 0000:6a:01.0 1 enabled
fx_wq "$sysfs" dsa0 0000:6a:01.0 wq0.0 dedicated kernel dmaengine enabled dmaengine 16 10 0 0 -1
fx_wq "$sysfs" dsa0 0000:6a:01.0 wq0.1 shared user app1 enabled user 16 10 15 0 1
fx_device "$sysfs" iax1 0000:6a:02.0 1 enabled
fx_wq "$sysfs" iax1 0000:6a:02.0 wq1.0 dedicated none "" disabled "" 0 0 0 -1 -1

# wq_configure: the wq.configure cases, while a PASID is allocated against dsa0/wq0.1.
wq_configure() {
	wrun t "WQ: configure a WQ in use conflicts" 14 wq configure dsa0/wq0.1 --mode shared \
		--type user --threshold 8
	wrun t "WQ: configure an unknown WQ" 13 wq configure dsa9/wq9.0 --mode shared --type user
	# Type none: configured and left disabled, so that the fixture needs no driver to bind;
	# the size stays, so that its enabled device is not disabled for it.
	wrun t "WQ: configure the idle IAA WQ" 0 --json wq configure iax1/wq1.0 --mode dedicated \
		--type none --priority 5 --name wqtest
	json "WQ: read back after configuring" "d['changed'] == True and d['wq'] == 'iax1/wq1.0' and d['mode'] == 'dedicated' and d['type'] == 'none' and d['priority'] == 5 and d['label'] == 'wqtest'"
	has_file "$sysfs/bus/dsa/devices/wq1.0/priority" 5 "WQ: the priority reached sysfs"
	has_file "$sysfs/bus/dsa/devices/wq1.0/name" wqtest "WQ: the label reached sysfs"
	wrun t "WQ: configure again" 0 wq configure iax1/wq1.0 --mode dedicated --type none \
		--priority 5 --name wqtest
	has "WQ: the text read back" "priority:       5"
	has "WQ: the label read back" "label:          wqtest"
}

# has_file FILE VALUE NAME: FILE holds VALUE.
has_file() {
	if [[ $(cat "$1") == "$2" ]]; then ok "$3"; else not_ok "$3 ($1: $(cat "$1"))"; fi
}

echo "# WQ: against a daemon with idxd devices"
wqsock=$wqtmp/wq.sock
printf '[Daemon]\nAdminGroup=%s\n[Idxd]\nSysfsRoot=%s\n' "$(id -gn)" "$sysfs" \
	>"$tmp/pasidd-wq.conf"
"$PASIDD" --foreground --backend sim --config "$tmp/pasidd-wq.conf" --socket "$wqsock" \
	--state-dir "$wqtmp/state" --shared-range 8192-8223 >"$tmp/pasidd-wq.log" 2>&1 &
wqdaemon=$!
pids+=("$wqdaemon")
for _ in $(seq 100); do
	[[ -S $wqsock ]] && break
	kill -0 "$wqdaemon" 2>/dev/null || break
	sleep 0.1
done
# wrun ARGS...: run() against the idxd daemon.
wrun() {
	local saved=$sock
	sock=$wqsock
	"$@"
	sock=$saved
}
wq_ready=false
if [[ -S $wqsock ]]; then
	wrun run --json call wq.list
	if [[ $rc -eq 0 ]] && python3 -c 'import json,sys; sys.exit(0 if isinstance(json.load(open(sys.argv[1])), list) else 1)' "$tmp/out" 2>/dev/null; then
		wq_ready=true
	fi
else
	not_ok "WQ: pasidd with [Idxd] SysfsRoot= did not come up"
	sed 's/^/#   /' "$tmp/pasidd-wq.log" | head -10
fi
if $wq_ready; then
	wrun t "WQ: wq list" 0 wq list
	sed 's/^/#   /' "$tmp/out"
	has "WQ: table header" "WQ          DEVICE        MODE       TYPE    STATE"
	has "WQ: the shared WQ" "dsa0/wq0.1  0000:6a:01.0  shared     user    enabled   16    yes    0"
	has "WQ: the dedicated WQ" "dsa0/wq0.0  0000:6a:01.0  dedicated  kernel  enabled   16"
	has "WQ: the IAA WQ" "iax1/wq1.0  0000:6a:02.0  dedicated  none    disabled"
	wrun t "WQ: wq list --json" 0 --json wq list
	json "WQ: the daemon's array" "sorted(w['wq'] for w in d) == ['dsa0/wq0.0', 'dsa0/wq0.1', 'iax1/wq1.0']"
	json "WQ: members of the shared WQ" "[w for w in d if w['wq'] == 'dsa0/wq0.1'][0]['bdf'] == '0000:6a:01.0' and [w for w in d if w['wq'] == 'dsa0/wq0.1'][0]['char_device'] == '/dev/dsa/wq0.1' and [w for w in d if w['wq'] == 'dsa0/wq0.1'][0]['label'] == 'app1'"
	wrun t "WQ: status" 0 status
	has "WQ: status says idxd is present" "idxd:         present"

	wrun t "WQ: register a VM" 0 vm register wqvm --pid "$owner"
	wrun t "WQ: assign the WQ's device shared" 0 device assign wqvm 0000:6a:01.0 --shared
	wrun t "WQ: alloc against the shared WQ" 0 pasid alloc --vm wqvm --wq dsa0/wq0.1
	has "WQ: the new mapping shows its WQ" "dsa0/wq0.1"
	has "WQ: alloc's table has a WQ column" "WQ"
	wrun t "WQ: alloc --json" 0 --json pasid alloc --vm wqvm --wq dsa0/wq0.1 --type shared
	json "WQ: the mapping names its WQ" "d['wq'] == 'dsa0/wq0.1' and d['type'] == 'shared'"
	wrun t "WQ: alloc without a WQ" 0 pasid alloc --vm wqvm --type shared
	wrun t "WQ: pasid list --wq" 0 --json pasid list --wq dsa0/wq0.1
	json "WQ: only the WQ's mappings" "len(d['mappings']) == 2 and all(m['wq'] == 'dsa0/wq0.1' for m in d['mappings'])"
	wrun t "WQ: pasid list shows a WQ column" 0 pasid list --vm wqvm
	has "WQ: list header" "VM    GPASID  HPASID  TYPE    DEVICE  WQ          ATTACHED"
	wrun t "WQ: vm show shows a WQ column" 0 vm show wqvm
	has "WQ: vm show names the WQ" "dsa0/wq0.1"
	wrun t "WQ: wq list counts them" 0 wq list
	has "WQ: PASIDS and VMS of the shared WQ" "2       wqvm:2"
	# wq.configure came after wq.list on the daemon side: skipped on its own until it is there.
	wrun run --json call wq.configure '{}'
	if [[ $rc -eq 4 ]] && grep -q -- '-32601' "$tmp/out"; then
		skipped=$((skipped + 1))
		echo "skip - WQ: the daemon has no wq.configure yet"
	else
		wq_configure
	fi

	# The shared WQ goes away under its PASIDs: listed as missing, warned of by status.
	rm -rf "$sysfs/devices/pci0000:6a/0000:6a:01.0/dsa0/wq0.1" \
		"$sysfs/bus/dsa/devices/wq0.1" "$sysfs/bus/dsa/devices/dsa!wq0.1"
	wrun t "WQ: wq list with a vanished WQ" 0 wq list
	sed 's/^/#   /' "$tmp/out"
	has "WQ: the vanished WQ is missing" "dsa0/wq0.1  -             -          -       missing"
	wrun t "WQ: status with a vanished WQ" 0 status
	has "WQ: status warns of it" "warning:      dsa0/wq0.1: "
	wrun t "WQ: unregister the VM" 0 vm unregister wqvm
else
	skipped=$((skipped + 1))
	echo "skip - WQ: the daemon does not answer wq.list with an array yet (daemon side of work queues)"
fi

echo "# vm export / vm import (issue 14)"
sleep 1000 &
mig_owner=$!
pids+=("$mig_owner")
t "vm register for export" 0 vm register mig1 --pid "$mig_owner"
t "pasid alloc for export" 0 pasid alloc --vm mig1 --type shared --count 3
t "vm export" 0 vm export mig1
cp "$tmp/out" "$tmp/mig1.json"
json "vm export writes the document" 'd["format"] == "pasidd-vm" and d["version"] == 1 and d["vm"] == "mig1" and [m["gpasid"] for m in d["mappings"]] == [1, 2, 3] and "hpasid" not in d["mappings"][0]'
t "vm import --dry-run: the name is taken here" 1 vm import "$tmp/mig1.json" --dry-run
has "vm import --dry-run prints the conflicts" "taken"
has "vm import --dry-run has the table's head" "GPASID"
t "vm import --dry-run --as: no conflicts" 0 vm import "$tmp/mig1.json" --dry-run --as mig2
has "vm import --dry-run says so" "no conflicts: the VM can be imported"
t "vm import refused: exit 14 (conflict)" 14 vm import "$tmp/mig1.json" --pid "$mig_owner"
has "vm import refused prints the conflicts" "VM name 'mig1' is taken on this host"
run vm import - --as mig2 --pid "$mig_owner" <"$tmp/mig1.json"
if [[ $rc -eq 0 ]] && grep -qF "imported mig2: 3 PASID(s)" "$tmp/out"; then ok "vm import from stdin"; else not_ok "vm import from stdin (exit $rc)"; fi
t "vm import --json --dry-run with conflicts exits 1" 1 --json vm import "$tmp/mig1.json" --dry-run
json "vm import --json --dry-run prints the result" 'd["ok"] is False and d["conflicts"][0]["what"] == "taken"'
usage "vm import without a file" vm import
usage "vm import of something else" vm import /dev/null
usage "vm import --device without =" vm import "$tmp/mig1.json" --device 0000:00:04.0
usage "vm import --device with a bad address" vm import "$tmp/mig1.json" --device 0000:00:04.0=zz
usage "vm export without a VM" vm export
t "vm export of no such VM: exit 13" 13 vm export nosuch
t "vm unregister the copy" 0 vm unregister mig2
echo "# watch"
usage "watch with an empty --kinds" watch --kinds ""
usage "watch with an argument" watch extra
err_is "watch names the extra argument" "pasidctl: watch: unexpected argument 'extra'"
t "watch with an unknown kind" 4 watch --kinds pasid.alloc,nope
err_has "the unknown kind is named" "unknown kind 'nope'"
# subscribers N: waits until N watchers are subscribed (daemon.metrics counts them); up to
# 20 s, for sanitizer builds on a loaded machine.
subscribers() {
	local i
	for ((i = 0; i < 400; i++)); do
		# Not piped into grep -q: under pipefail, pasidctl killed by SIGPIPE once grep has
		# its line would fail the pipeline (it did, with the slower sanitizer build).
		"$PASIDCTL" --socket "$sock" metrics >"$tmp/subs" 2>/dev/null || true
		grep -qx "pasidd_event_subscribers $1" "$tmp/subs" && return 0
		sleep 0.05
	done
	grep -E "event_subscribers" "$tmp/subs" | sed 's/^/#   /'
	return 1
}
# lines FILE N: waits until FILE has N lines (up to 20 s).
lines() {
	local i
	for ((i = 0; i < 400; i++)); do
		[[ $(wc -l <"$1") -ge $2 ]] && return 0
		sleep 0.05
	done
	return 1
}
"$PASIDCTL" --socket "$sock" watch >"$tmp/watch.txt" 2>"$tmp/watch.err" &
wpid=$!
"$PASIDCTL" --socket "$sock" watch --json --vm watchvm --kinds pasid.alloc,vm.unregister \
	>"$tmp/watchj.txt" 2>&1 &
wjpid=$!
pids+=("$wpid" "$wjpid")
if subscribers 2; then ok "watch: both watchers subscribed"; else not_ok "watch: both watchers subscribed"; fi
t "watch: register" 0 vm register watchvm --pid "$owner"
t "watch: alloc 4" 0 pasid alloc --vm watchvm --type shared --count 4
t "watch: a refused free" 13 pasid free --vm watchvm --gpasid 999
t "watch: unregister" 0 vm unregister watchvm
if lines "$tmp/watch.txt" 3 && lines "$tmp/watchj.txt" 2; then ok "watch: the events came"; else not_ok "watch: the events came"; fi
kill -INT "$wpid"
set +e
wait "$wpid"
wrc=$?
set -e
if [[ $wrc -eq 0 ]]; then ok "watch: SIGINT exits 0"; else not_ok "watch: SIGINT exits 0 (got $wrc)"; fi
sed 's/^/#   /' "$tmp/watch.txt"
cp "$tmp/watch.txt" "$tmp/out"
if [[ $(grep -c watchvm "$tmp/out") -eq 3 ]]; then ok "watch: 3 events of watchvm, none for the refused free"; else
	not_ok "watch: 3 events of watchvm, none for the refused free"
fi
if grep -Eq '^[0-9-]+T[0-9:.]+Z vm\.register watchvm seq=[0-9]+ uuid=[0-9a-f-]{36} owner_pid=' "$tmp/out"; then
	ok "watch: a line is time, kind, VM, fields"
else
	not_ok "watch: a line is time, kind, VM, fields"
fi
has "watch: the allocation's line" "pasid.alloc watchvm"
if grep -q 'pasid.alloc watchvm .*gpasid=1-4 .*count=4 ' "$tmp/out"; then ok "watch: alloc's fields"; else not_ok "watch: alloc's fields"; fi
if grep -q 'vm.unregister watchvm .* count=4 ' "$tmp/out"; then ok "watch: unregister's count"; else not_ok "watch: unregister's count"; fi
kill -INT "$wjpid"
wait "$wjpid" || true
if python3 -c '
import json, sys
evs = [json.loads(l) for l in open(sys.argv[1])]
assert [e["kind"] for e in evs] == ["pasid.alloc", "vm.unregister"], evs
assert all(e["vm"] == "watchvm" and isinstance(e["seq"], int) for e in evs), evs
assert evs[0]["count"] == 4 and evs[0]["gpasid"] == "1-4", evs
assert evs[0]["seq"] < evs[1]["seq"]
' "$tmp/watchj.txt"; then ok "watch --json --vm --kinds: the params, filtered"; else
	not_ok "watch --json --vm --kinds: the params, filtered"
	sed 's/^/#   /' "$tmp/watchj.txt"
fi
echo "# range"
t "a VM for the reservations" 0 vm register ctl-res --pid "$owner"
t "range reserve" 0 range reserve 4120-4123 --why "ahead of an import" --expires 600 --name mig
has "range reserve output" "reserved 4120-4123 as mig, expires in 600 s"
t "range reserve, default name" 0 range reserve 4124-4124
has "range reserve default name" "reserved 4124-4124 as 4124-4124"
t "range list" 0 range list
has "range list header" "FIRST  LAST  NAME       SOURCE   USED  EXPIRES  BY"
has "range list why" "ahead of an import"
t "range list --json" 0 --json range list
json "range list JSON" 'len(d) == 2 and d[0]["name"] == "mig" and d[0]["source"] == "runtime" and d[0]["used"] == 0 and 0 < d[0]["expires"] <= 600 and d[1]["why"] == ""'
t "range reserve over another" 14 range reserve 4123-4124
err_has "range reserve overlap says which" "overlaps reservation mig (4120-4123)"
t "range reserve --json over another" 14 --json range reserve 4123-4124
json "overlap JSON names the reservation" 'd["code"] == 1004 and d["data"]["reservation"] == "mig"'
usage "range reserve without a range" range reserve
usage "range reserve with a bad range" range reserve 12
usage "range reserve with a bad --expires" range reserve 1-2 --expires 0
t "range reserve beyond the width" 18 range reserve 1-2000000
t "pasid alloc --reservation" 0 --json pasid alloc --vm ctl-res --type shared --reservation mig --count 2
json "alloc from the reservation" '[m["hpasid"] for m in d["mappings"]] == [4120, 4121]'
t "range list counts them" 0 --json range list
json "used" 'd[0]["used"] == 2'
t "range unreserve by name" 0 range unreserve mig
has "range unreserve output" "unreserved mig"
t "range reserve over live mappings" 14 --json range reserve 4120-4122
json "the first live mapping is named" 'd["data"]["hpasid"] == 4120 and d["data"]["vm"] == "ctl-res"'
t "range unreserve by range" 0 range unreserve 4124-4124
t "range unreserve of nothing" 13 range unreserve mig
t "range list, empty" 0 --json range list
json "no reservations left" 'd == []'
t "free the reservation's PASIDs" 0 vm unregister ctl-res

echo "# manual pages"
if command -v mandoc >/dev/null && [[ -n ${SRC_DIR:-} ]]; then
	# As man(1) shows them on a terminal, blanks and line breaks squeezed.
	{
		mandoc -T utf8 "$SRC_DIR/man/pasidd.8" | col -b | tr -s ' \n\t' ' '
		echo
	} >"$tmp/out"
	has "pasidd(8): -d, then the default" "(-d, by default /run/pasidd)"
	{
		mandoc -T utf8 "$SRC_DIR/man/pasidctl.8" | col -b | tr -s ' \n\t' ' '
		echo
	} >"$tmp/out"
	has "pasidctl(8): only max is quoted" "(‘max’ for none)"
	has "pasidctl(8): the JSON error codes" "2000 usage"
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
