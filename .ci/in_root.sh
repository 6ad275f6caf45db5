#!/usr/bin/env bash
# Run a command inside a Debian root made by .ci/debian_root.sh, in this repository: the repository and
# the ../shared beside it are bind-mounted at their own paths (so several checkouts can use one root at
# once), with /proc, /sys and /dev, and the host's DNS, pip configuration and CA bundle copied in.
#   .ci/in_root.sh DIR COMMAND...      .ci/in_root.sh --unmount DIR   (unmounts everything it mounted)
set -euo pipefail
if [ "$1" = --unmount ]; then
  grep -o " $2/[^ ]*" /proc/mounts | sort -r | while read -r m; do umount -l "$m" || true; done
  exit 0
fi
root=$1; shift
repo=$(cd "$(dirname "$0")/.." && pwd)
shared=$(cd "$repo/.." && pwd)/shared
for m in proc sys dev dev/pts; do
  mountpoint -q "$root/$m" || mount --bind "/$m" "$root/$m"
done
# ../shared stays mounted (other checkouts may be reading it); this checkout is unmounted on exit
for m in "$shared" "$repo"; do
  [ -d "$m" ] || continue
  mkdir -p "$root$m"
  mountpoint -q "$root$m" || mount --bind "$m" "$root$m"
done
trap 'umount -l "$root$repo" 2>/dev/null || true' EXIT
cp /etc/resolv.conf "$root/etc/resolv.conf"
[ -f /etc/pip.conf ] && cp /etc/pip.conf "$root/etc/pip.conf"
mkdir -p "$root/etc/ssl/certs"
cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
  PIP_DEFAULT_TIMEOUT=180 PIP_DISABLE_PIP_VERSION_CHECK=1 CI="${CI:-}" \
  chroot "$root" bash -c 'cd "$0" && "$@"' "$repo" "$@"
