#!/usr/bin/env bash
# Run a command inside a Debian root made by .ci/debian_root.sh, with /proc, /dev, /sys and the
# repository (at /src) bind-mounted, and the host's DNS, pip configuration and CA bundle copied in.
#   .ci/in_root.sh DIR COMMAND...      .ci/in_root.sh --unmount DIR
set -euo pipefail
if [ "$1" = --unmount ]; then
  for m in src dev/pts dev sys proc; do mountpoint -q "$2/$m" && umount -l "$2/$m"; done
  exit 0
fi
root=$1; shift
repo=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$root/src"
for m in proc sys dev dev/pts; do
  mountpoint -q "$root/$m" || mount --bind "/$m" "$root/$m"
done
mountpoint -q "$root/src" && umount -l "$root/src"
mount --bind "$repo" "$root/src"
cp /etc/resolv.conf "$root/etc/resolv.conf"
[ -f /etc/pip.conf ] && cp /etc/pip.conf "$root/etc/pip.conf"
mkdir -p "$root/etc/ssl/certs"
cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
trap '"$repo/.ci/in_root.sh" --unmount "$root"' EXIT
env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
  PIP_DEFAULT_TIMEOUT=180 PIP_DISABLE_PIP_VERSION_CHECK=1 CI="${CI:-}" \
  chroot "$root" bash -c 'cd /src && "$@"' bash "$@"
