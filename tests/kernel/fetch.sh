#!/bin/sh
# Usage: fetch.sh
# Fetches, with a private apt configuration in $KT_CACHE/apt (nothing under
# /etc/apt is written), into $KT_CACHE (default /var/cache/pasidd-kernel):
#   debs/linux-source-7.3_*.deb    trixie-backports
#   debs/linux-source-6.12_*.deb   bookworm-security / bookworm
#   q11root/                       trixie-backports' qemu-system-x86 11.1 (it has
#                                  vfio-user-pci) unpacked with the trixie libraries
#                                  it needs, loader included; run by qemu11.sh
# The mirrors are read from the machine's own apt sources, so no host is named
# here. What is there already is kept (KT_REFRESH=1 fetches again).
set -eu
KT_CACHE=${KT_CACHE:-/var/cache/pasidd-kernel}
W=$KT_CACHE
log() { echo "kernel-fetch: $*" >&2; }

have() { ls "$W"/debs/linux-source-7.3_*_all.deb "$W"/debs/linux-source-6.12_*_all.deb >/dev/null 2>&1 &&
         [ -f "$W/q11root/.done" ]; }
if [ "${KT_REFRESH:-0}" != 1 ] && have; then
  log "cached ($(cd "$W/debs" && ls linux-source-*.deb | tr '\n' ' '))"
  exit 0
fi

# The machine's mirrors: deb822 (debian.sources) or one-line sources.list.
sources() {
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] && awk '/^URIs:/ {u=$2} /^Suites:/ {s=$0} /^$/ {if (u) print u, s; u=""; s=""}
                         END {if (u) print u, s}' "$f"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] && awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i !~ /^\[/ && $i !~ /\]$/) { print $i, "Suites:", $(i+1); break } }' "$f"
  done
}
M=$(sources | awk '$0 !~ /-security/ && $1 ~ /debian\/?$/ {print $1; exit}')
S=$(sources | awk '$0 ~ /-security/ {print $1; exit}')
[ -n "$M" ] || { log "no Debian mirror in the machine's apt sources"; exit 1; }
M=${M%/}
[ -n "$S" ] || S=${M%/debian}/debian-security
S=${S%/}
K=/usr/share/keyrings/debian-archive-keyring.gpg

mkdir -p "$W/apt/lists/partial" "$W/apt/cache/archives/partial" "$W/apt/etc" "$W/debs"
cat >"$W/apt/sources.list" <<EOS
deb [signed-by=$K] $M trixie main
deb [signed-by=$K] $M trixie-backports main
deb [signed-by=$K] $S trixie-security main
deb [signed-by=$K] $M bookworm main
deb [signed-by=$K] $S bookworm-security main
EOS
cat >"$W/apt/apt.conf" <<EOS
Dir::State "$W/apt"; Dir::State::Lists "$W/apt/lists"; Dir::State::status "$W/apt/status";
Dir::Cache "$W/apt/cache"; Dir::Etc::SourceList "$W/apt/sources.list";
Dir::Etc::SourceParts "$W/apt/etc"; Dir::Etc::Preferences "$W/apt/etc/preferences";
Dir::Etc::PreferencesParts "$W/apt/etc"; APT::Architecture "amd64";
APT::Sandbox::User "root";
EOS
: >"$W/apt/status"
export APT_CONFIG="$W/apt/apt.conf"
T0=$(date +%s)
apt-get update -qq >&2

# The newest version of a package in one suite.
newest() { apt-cache madison "$1" | awk -v s="$2" '$0 ~ " "s"/main" {print $3}' | sort -V | tail -1; }

D=$W/debs.tmp
rm -rf "$D" && mkdir -p "$D"
V73=$(newest linux-source-7.3 trixie-backports)
V612=$(newest linux-source-6.12 bookworm-security)
[ -n "$V612" ] || V612=$(newest linux-source-6.12 bookworm)
QV=$(newest qemu-system-x86 trixie-backports)
[ -n "$V73" ] && [ -n "$V612" ] && [ -n "$QV" ] ||
  { log "not found: linux-source-7.3='$V73' linux-source-6.12='$V612' qemu 11='$QV'"; exit 1; }
(cd "$D" && apt-get download -qq "linux-source-7.3=$V73" "linux-source-6.12=$V612" \
   "qemu-system-x86=$QV" "qemu-system-data=$QV") >&2

# QEMU 11.1 needs glibc >= 2.38: the trixie libraries it links, with their own
# dependencies, unpacked next to it (not installed). The system pieces that a
# library merely declares (shells, dpkg, systemd...) are left out.
LIBS=$(dpkg-deb -f "$D"/qemu-system-x86_*.deb Depends | tr ',' '\n' |
       sed 's/[(|].*//; s/ //g' | grep -E '^lib|^zlib|^seabios' | sort -u)
PKGS=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
        --no-replaces --no-enhances --no-pre-depends $LIBS libc6 seabios ipxe-qemu 2>/dev/null |
       grep -v '^ ' | grep -v '<' | sort -u |
       grep -vE '^(debconf|perl-base|dpkg|fuse3|adduser|passwd|libpam.*|login|init-system-helpers|base-files|debianutils|coreutils|tar|gzip|bash|mawk|sed|grep|util-linux|mount|systemd.*|sensible-utils|media-types|tzdata|netbase|debconf-2.0|install-info|libdebconfclient0|cdebconf)$')
(cd "$D" && apt-get download -qq $PKGS) >&2
rm -rf "$W/q11root" && mkdir -p "$W/q11root"
for f in "$D"/*.deb; do
  case $(basename "$f") in linux-source-*) continue ;; esac
  dpkg-deb -x "$f" "$W/q11root"
done
touch "$W/q11root/.done"
mkdir -p "$W/debs"
rm -f "$W"/debs/linux-source-*.deb
mv "$D"/linux-source-*.deb "$W/debs/"
rm -rf "$D"
log "fetched linux-source-7.3 $V73, linux-source-6.12 $V612, qemu 11 $QV (+$(echo $PKGS | wc -w) packages) in $(($(date +%s) - T0)) s"
