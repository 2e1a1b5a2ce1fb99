#!/usr/bin/env bash
# The systemd story: socket activation, sd_notify readiness, and the unit files.
set -uo pipefail
: "${PASIDD:?}" "${BUILD_DIR:?}"
pass=0 fail=0
ok() { echo "ok - $1"; pass=$((pass + 1)); }
bad() { echo "not ok - $1"; fail=$((fail + 1)); }
tmp=$(mktemp -d /tmp/pasidd-sd.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; rm -rf "$tmp"; }
trap cleanup EXIT

call() { # socket, request line -> response line
	python3 - "$1" "$2" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(10)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\n")
buf = b""
while not buf.endswith(b"\n"):
    chunk = s.recv(65536)
    if not chunk:
        break
    buf += chunk
print(buf.decode().strip())
PY
}

# 1. Readiness: READY=1 and STATUS= arrive on our own NOTIFY_SOCKET once the socket serves.
python3 - "$tmp/notify" >"$tmp/notify.log" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(30)
while True:
    msg = s.recv(4096).decode()
    print(msg.replace("\n", "|"), flush=True)
    if "READY=1" in msg:
        break
PY
pids+=($!)
for _ in $(seq 100); do [ -S "$tmp/notify" ] && break; sleep 0.05; done
NOTIFY_SOCKET="$tmp/notify" "$PASIDD" --foreground --backend sim --config /dev/null \
	--socket "$tmp/own.sock" --state-dir "$tmp/state1" 2>"$tmp/d1.log" &
pids+=($!)
wait "${pids[0]}"
if grep -q "READY=1" "$tmp/notify.log" && grep -q "STATUS=serving $tmp/own.sock (backend sim)" "$tmp/notify.log"; then
	ok "sd_notify READY=1 and STATUS="
else
	bad "sd_notify: $(cat "$tmp/notify.log")"
fi
r=$(call "$tmp/own.sock" '{"jsonrpc":"2.0","id":1,"method":"daemon.status"}')
[[ "$r" == *'"name":"sim"'* ]] && ok "serves its own socket once ready" || bad "own socket: $r"
mode=$(stat -c %a "$tmp/own.sock")
[ "$mode" = 660 ] && ok "own socket has mode 0660" || bad "own socket mode $mode"

# 2. Socket activation: the daemon serves the socket it is given, and does not create one.
if command -v systemd-socket-activate >/dev/null; then
	systemd-socket-activate -l "$tmp/act.sock" "$PASIDD" --foreground --backend sim \
		--config /dev/null --socket "$tmp/unused.sock" --state-dir "$tmp/state2" \
		2>"$tmp/d2.log" &
	pids+=($!)
	for _ in $(seq 100); do [ -S "$tmp/act.sock" ] && break; sleep 0.05; done
	r=$(call "$tmp/act.sock" '{"jsonrpc":"2.0","id":7,"method":"vm.list"}')
	[ "$r" = '{"jsonrpc":"2.0","id":7,"result":{"vms":[]}}' ] && ok "serves the activated socket" ||
		bad "activated socket: $r ($(cat "$tmp/d2.log"))"
	[ ! -e "$tmp/unused.sock" ] && ok "creates no socket of its own when activated" ||
		bad "created $tmp/unused.sock"
else
	bad "systemd-socket-activate is missing"
fi

# 3. The unit files: systemd-analyze verify is clean with the binary in place.
if command -v systemd-analyze >/dev/null; then
	mkdir -p "$tmp/units"
	sed "s|^ExecStart=[^ ]*|ExecStart=$PASIDD|" "$BUILD_DIR/systemd/pasidd.service" >"$tmp/units/pasidd.service"
	cp "$SRC_DIR/systemd/pasidd.socket" "$tmp/units/"
	out=$(cd "$tmp/units" && systemd-analyze verify --man=no ./pasidd.socket ./pasidd.service 2>&1)
	[ -z "$out" ] && ok "systemd-analyze verify is clean" || bad "verify: $out"
	score=$(systemd-analyze security --offline=true "$tmp/units/pasidd.service" 2>/dev/null |
		sed -n 's/.*Overall exposure level for pasidd.service: \([0-9.]*\).*/\1/p')
	[ -n "$score" ] && ok "systemd-analyze security: exposure $score" || bad "security gave no score"
	grep -q "^ExecStart=.*/sbin/pasidd --foreground" "$BUILD_DIR/systemd/pasidd.service" &&
		ok "the service starts the installed sbin/pasidd" || bad "ExecStart does not name sbin/pasidd"
else
	bad "systemd-analyze is missing"
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
