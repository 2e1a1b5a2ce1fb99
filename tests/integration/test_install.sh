#!/usr/bin/env bash
# Installing: the tree `cmake --install` makes under DESTDIR for two prefixes (everything
# under the prefix, units where systemd looks and naming the installed binary, the sample
# configuration kept once an administrator changed it), the installed units verified, the
# sample configuration accepted by pasidd -n as shipped and with every default uncommented,
# and pasidctl's bash completion for partial command lines against a running daemon.
# ctest parts: tree config completion
set -uo pipefail
: "${PASIDD:?}" "${PASIDCTL:?}" "${BUILD_DIR:?}" "${SRC_DIR:?}"
parts=("$@")
((${#parts[@]})) || parts=(tree config completion)
pass=0 fail=0 skip=0 why=
ok() { echo "ok - $1"; pass=$((pass + 1)); }
bad() { echo "not ok - $1"; fail=$((fail + 1)); }
skipped() { echo "skip - $1"; skip=$((skip + 1)); why=$1; }
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }
tmp=$(mktemp -d /tmp/pasidd-inst.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; rm -rf "$tmp"; }
trap cleanup EXIT

tree() {
	local root=$tmp/root usr=$tmp/usr unit
	if ! DESTDIR=$root cmake --install "$BUILD_DIR" --prefix /usr/local >"$tmp/install.log" 2>&1; then
		bad "cmake --install failed: $(tail -3 "$tmp/install.log")"
		return
	fi
	for f in sbin/pasidd bin/pasidctl include/libpasid.h lib/pkgconfig/libpasid.pc \
		share/man/man8/pasidd.8 share/man/man8/pasidctl.8 share/man/man5/pasidd.conf.5 \
		share/man/man3/libpasid.3 share/pasidd/openrpc.json share/doc/pasidd/pasidd.conf.example share/doc/pasidd/wq-setup.conf \
		share/bash-completion/completions/pasidctl lib/sysusers.d/pasidd.conf \
		lib/systemd/catalog/pasidd.catalog lib/systemd/system/pasidd.service lib/systemd/system/pasidd.socket; do
		check "prefix /usr/local: $f" "[ -e '$root/usr/local/$f' ]"
	done
	check "prefix /usr/local: libpasid.so.0" "ls '$root'/usr/local/lib/libpasid.so.0* >/dev/null 2>&1"
	# Nothing outside the prefix but the configuration pasidd reads by default.
	check "prefix /usr/local: nothing else outside it" \
		"[ \"\$(cd '$root' && find . -type f ! -path './usr/local/*' | sort)\" = ./etc/pasidd/pasidd.conf ]"
	unit=$root/usr/local/lib/systemd/system/pasidd.service
	check "the unit starts the installed binary" "grep -qx 'ExecStart=/usr/local/sbin/pasidd --foreground' '$unit'"
	check "the configuration is the sample" "cmp -s '$root/etc/pasidd/pasidd.conf' '$SRC_DIR/systemd/pasidd.conf.example'"
	# An administrator's configuration survives the next install.
	echo "# mine" >"$root/etc/pasidd/pasidd.conf"
	DESTDIR=$root cmake --install "$BUILD_DIR" --prefix /usr/local >/dev/null 2>&1
	check "a changed configuration is kept" "[ \"\$(cat '$root/etc/pasidd/pasidd.conf')\" = '# mine' ]"

	# The distribution's prefix: units and sysusers where systemd.pc says (merged /usr).
	DESTDIR=$usr cmake --install "$BUILD_DIR" --prefix /usr >/dev/null 2>&1
	unit=$(cd "$usr" && find . -name pasidd.service)
	check "prefix /usr: the unit under usr/lib/systemd/system or lib/systemd/system ($unit)" \
		"[[ '$unit' == ./usr/lib/systemd/system/pasidd.service || '$unit' == ./lib/systemd/system/pasidd.service ]]"
	check "prefix /usr: the unit starts /usr/sbin/pasidd" "grep -qx 'ExecStart=/usr/sbin/pasidd --foreground' '$usr/$unit'"
	check "prefix /usr: sysusers" "[ -e '$usr/usr/lib/sysusers.d/pasidd.conf' ]"
	check "prefix /usr: the journal catalog" "[ -e '$usr/usr/lib/systemd/catalog/pasidd.catalog' ]"
	if command -v journalctl >/dev/null; then
		# The catalog parses: journalctl builds a database of it (under a root of its own)
		# that lists the entries, the vm.reclaim one among them.
		mkdir -p "$tmp/cat/usr/lib/systemd/catalog" "$tmp/cat/var/lib/systemd/catalog"
		cp "$usr/usr/lib/systemd/catalog/pasidd.catalog" "$tmp/cat/usr/lib/systemd/catalog/"
		journalctl --root="$tmp/cat" --update-catalog >/dev/null 2>&1
		check "journalctl reads the catalog" \
			"journalctl --root='$tmp/cat' --list-catalog 2>/dev/null | grep -q '^4dd6b103cc3e4b598d688d1863b4839b pasidd: VM'"
	else
		skipped "journalctl is not installed"
	fi

	if command -v systemd-analyze >/dev/null; then
		local out
		# verify wants ExecStart= to exist: the installed binary, under DESTDIR here.
		mkdir -p "$tmp/verify"
		sed "s|^ExecStart=/usr/local/sbin/pasidd|ExecStart=$root/usr/local/sbin/pasidd|" \
			"$root/usr/local/lib/systemd/system/pasidd.service" >"$tmp/verify/pasidd.service"
		cp "$root/usr/local/lib/systemd/system/pasidd.socket" "$tmp/verify/"
		out=$(cd "$tmp/verify" && systemd-analyze verify --man=no ./pasidd.socket ./pasidd.service 2>&1)
		check "systemd-analyze verify of the installed units is clean${out:+: $out}" "[ -z \"\$out\" ]"
	else
		skipped "systemd-analyze is not installed"
	fi
}

config() {
	local all=$tmp/all.conf out
	mkdir -p "$tmp/state"
	out=$("$PASIDD" -n --config "$SRC_DIR/systemd/pasidd.conf.example" --state-dir "$tmp/state" 2>&1)
	check "pasidd -n takes the sample as shipped" "[[ \$'$out' == *'configuration OK'* ]]"
	# Every setting uncommented, with the default it shows: the defaults are what they say.
	sed -E 's/^#([A-Za-z]+=)/\1/; s/^#(\[WorkQueue\])/\1/' "$SRC_DIR/systemd/pasidd.conf.example" |
		grep -v '^Max=/machine.slice' >"$all"
	out=$("$PASIDD" -n --config "$all" --state-dir "$tmp/state" 2>&1)
	check "pasidd -n takes every default uncommented${out:+ ($out)}" "[[ \$'$out' == *'configuration OK'* ]]"
	check "... and says it read the WQ section" "[[ \$'$out' == *'work queue dsa0/wq0.1 shared user size 32'* ]]"
}

# complete WORDS...: the candidates bash completion offers for the last word.
complete_words() {
	bash -c '
		source "$1"; shift
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
		_pasidctl
		((${#COMPREPLY[@]} == 0)) || printf "%s\n" "${COMPREPLY[@]}"' _ "$SRC_DIR/client/pasidctl.bash" "$@" | sort | tr '\n' ' '
}

completion() {
	local sock=$tmp/c.sock holder got
	"$PASIDD" --foreground --backend sim --socket "$sock" --state-dir "$tmp/cstate" \
		--config /dev/null >"$tmp/c.log" 2>&1 &
	pids+=($!)
	for _ in $(seq 100); do [[ -S $sock ]] && break; sleep 0.1; done
	sleep 600 &
	holder=$!
	pids+=("$holder")
	"$PASIDCTL" --socket "$sock" vm register alpha --pid "$holder" >/dev/null
	"$PASIDCTL" --socket "$sock" vm register beta --pid "$holder" >/dev/null
	got=$(complete_words "$PASIDCTL" "")
	check "commands: $got" "[[ '$got' == *'status '*'vm '*'wq '* ]] || [[ '$got' == *call*pasid*status*vm*wq* ]]"
	got=$(complete_words "$PASIDCTL" v)
	check "a partial command: $got" "[ '$got' = 'vm ' ]"
	got=$(complete_words "$PASIDCTL" vm s)
	check "a partial subcommand: $got" "[ '$got' = 'show ' ]"
	got=$(complete_words "$PASIDCTL" --socket "$sock" vm show "")
	check "VM names from the daemon: $got" "[ '$got' = 'alpha beta ' ]"
	got=$(complete_words "$PASIDCTL" --socket "$sock" pasid alloc --vm a)
	check "VM names after --vm: $got" "[ '$got' = 'alpha ' ]"
	got=$(complete_words "$PASIDCTL" --socket "$sock" pasid alloc --type "")
	check "types: $got" "[ '$got' = 'local shared ' ]"
	got=$(complete_words "$PASIDCTL" --socket "$sock" call pasid.l)
	check "method names from rpc.discover: $got" "[ '$got' = 'pasid.list pasid.lookup ' ]"
	got=$(complete_words "$PASIDCTL" --socket "$sock" pasid list --)
	check "options: $got" "[[ '$got' == *--type*--vm*--wq* ]]"
	got=$(complete_words "$PASIDCTL" wa)
	check "watch: $got" "[ '$got' = 'watch ' ]"
	got=$(complete_words "$PASIDCTL" --socket "$sock" watch --vm alpha --)
	check "watch's options: $got" "[ '$got' = '--help --json --kinds --vm ' ]"
	got=$(complete_words "$PASIDCTL" --socket "$sock" watch --kinds vm.register,pasid.a)
	check "event kinds after a comma: $got" "[ '$got' = 'vm.register,pasid.alloc vm.register,pasid.attach ' ]"
	got=$(complete_words "$PASIDCTL" --socket "$sock" watch --vm b)
	check "VM names after watch --vm: $got" "[ '$got' = 'beta ' ]"
	"$PASIDCTL" --socket "$sock" range reserve 9000-9009 --name mig >/dev/null
	got=$(complete_words "$PASIDCTL" --socket "$sock" range "")
	check "range subcommands: $got" "[ '$got' = 'list reserve unreserve ' ]"
	got=$(complete_words "$PASIDCTL" --socket "$sock" range unreserve "")
	check "reservation names from the daemon: $got" "[ '$got' = 'mig ' ]"
	got=$(complete_words "$PASIDCTL" --socket "$sock" pasid alloc --reservation m)
	check "reservation names after --reservation: $got" "[ '$got' = 'mig ' ]"
	got=$(complete_words "$PASIDCTL" --socket "$tmp/nothing.sock" vm show "")
	check "no daemon: no VM names, no noise" "[ -z '$got' ]"
}

for part in "${parts[@]}"; do
	case $part in
	tree | config | completion) "$part" ;;
	*)
		echo "usage: $0 [tree|config|completion]..." >&2
		exit 2
		;;
	esac
done
echo "$pass passed, $fail failed, $skip skipped"
if ((fail == 0 && pass == 0)); then
	echo "test_install: skipped: ${why:-nothing ran}" >&2
	exit 77
fi
[ "$fail" -eq 0 ]
