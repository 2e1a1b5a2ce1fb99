#!/bin/sh
# Usage: build.sh <7.3|6.12>
# Builds a minimal bzImage from Debian's linux-source-<series> (fetched by
# fetch.sh into $KT_CACHE/debs) with tinyconfig + the fragments of this
# directory, and keeps it in $KT_CACHE/<deb version>-<fragments sha256>/ so a
# second run on the same machine skips the build (the key changes when either
# the source package or a fragment changes). Prints the bzImage path on the
# last line of stdout; everything else goes to stderr.
set -eu
SERIES=$1
HERE=$(cd "$(dirname "$0")" && pwd)
KT_CACHE=${KT_CACHE:-/var/cache/pasidd-kernel}
JOBS=${KT_JOBS:-$(nproc)}
log() { echo "kernel-build[$SERIES]: $*" >&2; }

case $SERIES in
7.3) FRAGS="$HERE/base.fragment $HERE/only-7.3.fragment" ;;
6.12) FRAGS="$HERE/base.fragment" ;;
*) echo "usage: build.sh <7.3|6.12>" >&2; exit 2 ;;
esac

DEB=$(ls "$KT_CACHE"/debs/linux-source-"$SERIES"_*_all.deb 2>/dev/null | sort -V | tail -1)
[ -n "$DEB" ] || { log "no linux-source-$SERIES deb in $KT_CACHE/debs (run fetch.sh)"; exit 1; }
VER=$(dpkg-deb -f "$DEB" Version)
SUM=$(cat $FRAGS | sha256sum | cut -c1-12)
OUT="$KT_CACHE/$VER-$SUM"
if [ -s "$OUT/bzImage" ] && [ -s "$OUT/config" ]; then
  log "cached $OUT/bzImage"
  echo "$OUT/bzImage"
  exit 0
fi

T0=$(date +%s)
SRC="$KT_CACHE/src/$VER"
if [ ! -f "$SRC/.unpacked" ]; then
  rm -rf "$SRC" && mkdir -p "$SRC"
  dpkg-deb --fsys-tarfile "$DEB" | tar -xO --wildcards './usr/src/linux-source-*.tar.xz' |
    tar -xJ -C "$SRC" --strip-components=1
  touch "$SRC/.unpacked"
  log "unpacked $VER in $(($(date +%s) - T0)) s"
fi

B="$KT_CACHE/build/$SERIES"
rm -rf "$B" && mkdir -p "$B"
cat $FRAGS >"$B/fragment"
make -C "$SRC" O="$B" tinyconfig >/dev/null
(cd "$B" && "$SRC/scripts/kconfig/merge_config.sh" -m .config fragment >/dev/null)
make -C "$SRC" O="$B" olddefconfig >/dev/null
# A fragment line that does not survive olddefconfig (an unmet dependency, a
# renamed option) would otherwise silently give a kernel without the feature.
missing=0
for opt in $(grep -o '^CONFIG_[A-Z0-9_]*' "$B/fragment"); do
  grep -q "^$opt=y" "$B/.config" || { log "config option did not stick: $opt"; missing=1; }
done
[ $missing = 0 ]
T1=$(date +%s)
if ! make -C "$SRC" O="$B" -j"$JOBS" bzImage >"$B/build.log" 2>&1; then
  tail -40 "$B/build.log" >&2
  exit 1
fi
T2=$(date +%s)
mkdir -p "$OUT.tmp"
cp "$B/arch/x86/boot/bzImage" "$OUT.tmp/bzImage"
cp "$B/.config" "$OUT.tmp/config"
echo "deb=$(basename "$DEB") make_bzImage_s=$((T2 - T1)) total_s=$((T2 - T0)) jobs=$JOBS" >"$OUT.tmp/build-info"
rm -rf "$OUT" && mv "$OUT.tmp" "$OUT"
# The build tree (up to 1.2 GB with BTF) and the unpacked source (1.1 GB) are not
# worth keeping: the key above is what makes the next run cheap, and unpacking
# again takes ~10 s. KT_KEEP_BUILD=1 keeps them (for incremental work).
[ "${KT_KEEP_BUILD:-0}" = 1 ] || rm -rf "$B" "$SRC"
log "built $OUT/bzImage: make bzImage $((T2 - T1)) s, total $((T2 - T0)) s"
echo "$OUT/bzImage"
