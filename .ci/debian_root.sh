#!/usr/bin/env bash
# Make, or reuse, a Debian root holding Debian's QGIS, for running the project's tests on another QGIS.
#   .ci/debian_root.sh SUITE DIR      e.g. trixie (QGIS 3.40 LTR) or sid (the newest 3.x Debian ships)
# A root is reused when DIR/.s2sr-ready exists; a half-made one is removed and made again.
# Runs as root (debootstrap and chroot need it), as CI does.
set -euo pipefail
suite=$1
root=$2
packages="qgis python3-qgis qgis-providers python3-venv python3-pip python3-scipy xvfb xauth make zip unzip git ca-certificates"
apt_opts=""
# Debian unstable's Release file, as served here, is past its Valid-Until date.
[ "$suite" = sid ] && apt_opts="-o Acquire::Check-Valid-Until=false"

if [ -f "$root/.s2sr-ready" ]; then
  echo "debian_root: reusing $root ($suite)"
  exit 0
fi
command -v debootstrap >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap)
"$(dirname "$0")/in_root.sh" --unmount "$root" 2>/dev/null || true
rm -rf "$root"
mkdir -p "$(dirname "$root")"
debootstrap --variant=minbase "$suite" "$root" http://deb.debian.org/debian
"$(dirname "$0")/in_root.sh" "$root" bash -c "
  set -e
  apt-get $apt_opts update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $packages
  apt-get clean"
touch "$root/.s2sr-ready"
echo "debian_root: made $root ($suite)"
