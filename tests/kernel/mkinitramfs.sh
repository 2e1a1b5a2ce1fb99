#!/bin/sh
# Usage: mkinitramfs.sh <cmake build dir> <out.cpio.gz>
# The guest's initramfs: kt_init as /init, pasidd (the build of the tree under test) and the
# VMM stand-in in /bin, and every shared library they load, the dynamic loader included
# (collected with ldd, so the guest runs the very binaries the host built). Libraries found
# outside the system's directories (libpasid from the build tree) go to /lib/x86_64-linux-gnu.
set -eu
B=$(cd "$1" && pwd); OUT=$2
R=$(mktemp -d /tmp/pasidd-kt-root.XXXXXX)
trap 'rm -rf "$R"' EXIT
mkdir -p "$R/bin" "$R/dev" "$R/proc" "$R/sys" "$R/run" "$R/tmp" "$R/etc" "$R/lib/x86_64-linux-gnu"
strip -o "$R/init" "$B/tests/kt_init"
strip -o "$R/bin/pasidd" "$B/daemon/pasidd"
strip -o "$R/bin/vmm_standin" "$B/tests/vmm_standin"
echo "root:x:0:0:root:/:/bin/sh" >"$R/etc/passwd"
echo "root:x:0:" >"$R/etc/group"
for bin in "$B/tests/kt_init" "$B/daemon/pasidd" "$B/tests/vmm_standin"; do
  ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}'
done | sort -u | while read -r lib; do
  case $lib in
  /lib/* | /lib64/* | /usr/lib/*) dst=$lib ;;
  *) dst=/lib/x86_64-linux-gnu/$(basename "$lib") ;;
  esac
  mkdir -p "$R$(dirname "$dst")"
  cp -L "$lib" "$R$dst"
done
(cd "$R" && find . | sort | cpio -o -H newc --quiet | gzip -6) >"$OUT"
