#!/bin/sh
# Usage: run.sh [cmake build dir, default build]
# The kernel stage of tests/run-all.sh: pasidd tested inside real Linux kernels under QEMU
# (tests/kernel/README.md). Fetches the sources and QEMU 11.1 (fetch.sh), builds the 7.3 and
# 6.12 kernels or takes them from the cache (build.sh), makes the initramfs from the build of
# the tree under test (mkinitramfs.sh), and boots
#   7.3  under QEMU 11.1: VT-d in scalable mode with 20-bit PASIDs, the edu device, and a
#        vfio-user device with a PASID capability served by vfu_server.py;
#   6.12 under Debian 12's QEMU 7.2: VT-d in scalable mode, the edu device.
# Prints each part's wall time and each guest's PASIDD-KT lines; the whole console log of a
# guest that failed. Exit status 1 on any FAIL, a missing result line or a guest that did not
# finish within KT_BOOT_TIMEOUT seconds (default 300). KT_SHOW_LOG=1 prints the whole console
# log of a guest that passed too.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
B=$(cd "${1:-build}" && pwd)
export KT_CACHE=${KT_CACHE:-/var/cache/pasidd-kernel}
TMO=${KT_BOOT_TIMEOUT:-300}
GUESTS=${KT_GUESTS:-7.3 6.12} # which guests to boot (for working on one)
W=$(mktemp -d /tmp/pasidd-kt.XXXXXX)
VFU_PID=
trap '[ -z "$VFU_PID" ] || kill "$VFU_PID" 2>/dev/null; rm -rf "$W"' EXIT
times= built= summary=

# timed NAME COMMAND...: runs it, notes its wall time.
timed() {
  name=$1; shift
  t0=$(date +%s.%N)
  "$@"
  t=$(echo "$(date +%s.%N) - $t0" | bc)
  times="$times$(printf '%-24s %7.1f s' "$name" "$t")
"
}

timed fetch "$HERE/fetch.sh"
for v in $GUESTS; do
  timed "kernel $v" sh -c "\"$HERE/build.sh\" $v >\"$W/k$v\" 2>\"$W/k$v.err\"" ||
    { cat "$W/k$v.err"; exit 1; }
  cat "$W/k$v.err"
  case $(tail -1 "$W/k$v.err") in *": cached "*) built="$built $v:cached" ;; *) built="$built $v:built" ;; esac
done
timed initramfs "$HERE/mkinitramfs.sh" "$B" "$W/initrd.gz"

# guest NAME LOG QEMU ARGS...: boots one guest (with $smp vCPUs), its console in LOG; 0 when
# it passed.
guest() {
  name=$1 log=$2; shift 2
  rc=0
  t0=$(date +%s.%N)
  timeout --kill-after=10 "$TMO" "$@" -accel tcg -M q35 -cpu max -smp "$smp" -m 512M \
    -nographic -no-reboot -nodefaults -serial stdio -initrd "$W/initrd.gz" </dev/null >"$log" 2>&1 || rc=$?
  t=$(echo "$(date +%s.%N) - $t0" | bc)
  times="$times$(printf '%-24s %7.1f s' "boot $name" "$t")
"
  echo "== guest $name: $(printf '%.1f' "$t") s"
  grep -a 'PASIDD-KT' "$log" || true
  res=$(grep -a '^PASIDD-KT-RESULT:' "$log" | tail -1 | sed 's/^PASIDD-KT-RESULT: //')
  summary="$summary${summary:+, }$name ${res:-no result} ($(printf '%.0f' "$t") s)"
  if [ $rc = 124 ] || [ $rc = 137 ]; then
    echo "guest $name: did not finish within $TMO s"
  elif ! grep -aq '^PASIDD-KT-RESULT: pass=[1-9][0-9]* fail=0' "$log"; then
    :
  else
    [ "${KT_SHOW_LOG:-0}" = 0 ] || cat "$log"
    return 0
  fi
  echo "== guest $name: FAILED; its whole console log:"
  cat "$log"
  return 1
}

fails=0
case " $GUESTS " in *" 7.3 "*)
SOCK=$W/vfu.sock
python3 "$HERE/vfu_server.py" "$SOCK" 2>"$W/vfu.log" &
VFU_PID=$!
for i in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.1; done
# 2 vCPUs: the race of the attach gate (kt_init's run_73_race) needs its two threads to run
# at once (KT_SMP changes it); KT_RACE=SECS and KT_RACE_MAX=N bound it (default 2 s,
# 400000 attaches; kt_init stops it at 256 slips too).
smp=${KT_SMP:-2}
guest 7.3 "$W/73.log" "$HERE/qemu11.sh" -kernel "$(tail -1 "$W/k7.3")" \
  -device intel-iommu,scalable-mode=on,pasid-bits=20,caching-mode=on,intremap=on \
  -device edu,addr=03.0 \
  -device "{\"driver\":\"vfio-user-pci\",\"addr\":\"04.0\",\"socket\":{\"type\":\"unix\",\"path\":\"$SOCK\"}}" \
  -append "console=ttyS0 panic=-1 intel_iommu=on,sm_on lsm=bpf kt_mode=7.3 kt_race=${KT_RACE:-2} kt_race_max=${KT_RACE_MAX:-400000}" || fails=$((fails + 1))
kill "$VFU_PID" 2>/dev/null || true
wait "$VFU_PID" 2>/dev/null || true
VFU_PID=
cat "$W/vfu.log"
;; esac

case " $GUESTS " in *" 6.12 "*)
smp=1
guest 6.12 "$W/612.log" qemu-system-x86_64 -kernel "$(tail -1 "$W/k6.12")" \
  -device intel-iommu,x-scalable-mode=on,x-pasid-mode=on,intremap=on \
  -device edu,addr=03.0 \
  -append "console=ttyS0 panic=-1 intel_iommu=on,sm_on kt_mode=6.12" || fails=$((fails + 1))
;; esac

echo "== kernel tests: times"
printf '%s' "$times"
echo "== kernel tests: summary: $summary; kernels${built}"
[ $fails = 0 ] && echo "== kernel tests: both guests passed" || { echo "== kernel tests: $fails guest(s) FAILED"; exit 1; }
