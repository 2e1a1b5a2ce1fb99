#!/bin/sh
# Runs the trixie-backports QEMU 11.1 that fetch.sh unpacked into $KT_CACHE/q11root
# on Debian 12: through trixie's own dynamic loader and libraries (it needs
# glibc >= 2.38), in a private mount namespace whose tmpfs hides the host's QEMU
# 7.2 modules, which 11.1 would otherwise probe and abort on. Needs root (unshare -m).
R=${KT_CACHE:-/var/cache/pasidd-kernel}/q11root
L=$R/usr/lib/x86_64-linux-gnu
exec unshare -m sh -c 'mount -t tmpfs none /usr/lib/x86_64-linux-gnu/qemu 2>/dev/null; exec "$@"' sh \
  "$L/ld-linux-x86-64.so.2" --library-path "$L:$R/lib/x86_64-linux-gnu" \
  "$R/usr/bin/qemu-system-x86_64" -L "$R/usr/share/qemu" -L "$R/usr/share/seabios" "$@"
