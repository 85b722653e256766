#!/usr/bin/env bash
# The kernel matrix's guests (test/matrix): Debian's packaged kernels, unpacked into a cache
# directory and never installed as this machine's kernel, each with a small initramfs that
# mounts this machine's root read-only over virtio-9p and runs a job (test/helpers/vm.ts).
#
#   bash scripts/kernels.sh            fetch what is missing (root, Debian: apt-get)
#   L7BPF_KERNELS=<dir>                where (default /var/cache/l7bpf/kernels)
#
# Per kernel <dir>/<name>/ holds vmlinuz, initramfs.gz and release (the package's kernel
# release). 6.1 is Debian 12's kernel (bookworm), 6.12 Debian 12's backport of Debian 13's.
# Which build is the newest on the mirror changes: the release file records the one tested.
set -euo pipefail
DIR=${L7BPF_KERNELS:-/var/cache/l7bpf/kernels}
# name, apt suite to take linux-image-amd64 from (default: the newest of bookworm and its
# security updates; backports only when asked for)
MATRIX=("6.1 default" "6.12 bookworm-backports")

INIT=$(dirname "$0")/guest-init.sh
# ready: unpacked, and the initramfs holds this checkout's guest-init.sh
have_all() {
  local k
  for k in "${MATRIX[@]}"; do
    [ -s "$DIR/${k%% *}/initramfs.gz" ] && cmp -s "$INIT" "$DIR/${k%% *}/init.sh" || return 1
  done
}
have_all && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "kernels: need root and apt-get to fetch the matrix kernels into $DIR" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
/bin/busybox cpio --help >/dev/null 2>&1 || need+=(busybox-static)
command -v xz >/dev/null || need+=(xz-utils)
if [ ${#need[@]} -gt 0 ]; then
  echo "kernels: installing ${need[*]}" >&2
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# the backports suite, for this lookup only (the machine's own sources stay as they are)
LISTS=$DIR/apt
mkdir -p "$LISTS/lists/partial"
cat > "$LISTS/sources.list" <<EOF
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm-backports main
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian-security bookworm-security main
EOF
APT=(-o "Dir::Etc::sourcelist=$LISTS/sources.list" -o Dir::Etc::sourceparts=- -o "Dir::State::Lists=$LISTS/lists" -o Debug::NoLocking=1)
updated=

# modules the initramfs loads before it can mount the root: virtio pci and 9p, with what they
# depend on (the rest, veth and tc among them, the guest loads from the unpacked tree)
initramfs() { # <unpacked package> <release> <out>
  local root=$1 rel=$2 out=$3 w m order=() dep
  w=$(mktemp -d)
  mkdir -p "$w/bin" "$w/lib" "$w/proc" "$w/sys" "$w/dev" "$w/newroot"
  cp /bin/busybox "$w/bin/busybox"
  /bin/busybox depmod -b "$root" "$rel"
  dep=$root/lib/modules/$rel/modules.dep
  add() {
    local x
    for x in "${order[@]:-}"; do [ "$x" = "$1" ] && return 0; done
    for x in $(grep -E "^$1:" "$dep" | cut -d: -f2); do add "$x"; done
    order+=("$1")
  }
  for m in virtio_pci 9pnet_virtio 9p; do
    m=$(grep -oE "^[^:]*/$m\.ko(\.xz)?" "$dep" || true)  # absent when built in
    [ -n "$m" ] && add "$m"
  done
  : > "$w/modules"
  for m in "${order[@]}"; do
    local b; b=$(basename "${m%.xz}")
    case $m in *.xz) xz -dc "$root/lib/modules/$rel/$m" > "$w/lib/$b" ;; *) cp "$root/lib/modules/$rel/$m" "$w/lib/$b" ;; esac
    echo "$b" >> "$w/modules"
  done
  cp "$INIT" "$w/init"
  chmod +x "$w/init"
  (cd "$w" && find . | /bin/busybox cpio -o -H newc 2>/dev/null | gzip -1) > "$out"
  rm -rf "$w"
}

for k in "${MATRIX[@]}"; do
  name=${k%% *} suite=${k#* }
  if [ -s "$DIR/$name/release" ] && [ -d "$DIR/$name/root" ]; then
    rel=$(cat "$DIR/$name/release")
    initramfs "$DIR/$name/root" "$rel" "$DIR/$name/initramfs.gz"
    cp "$INIT" "$DIR/$name/init.sh"
    continue
  fi
  [ -n "$updated" ] || { apt-get "${APT[@]}" update -qq; updated=1; }
  target=()
  [ "$suite" = default ] || target=(-t "$suite")
  pkg=$(apt-cache "${APT[@]}" depends "${target[@]}" linux-image-amd64 | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
  [ -n "$pkg" ] || { echo "kernels: no linux-image-amd64 in $suite" >&2; exit 1; }
  rel=${pkg#linux-image-}
  echo "kernels: $name = $pkg ($suite)" >&2
  tmp=$(mktemp -d)
  (cd "$tmp" && apt-get "${APT[@]}" -o APT::Sandbox::User=root download -qq "$pkg")
  rm -rf "$DIR/$name" && mkdir -p "$DIR/$name"
  dpkg -x "$tmp"/*.deb "$DIR/$name/root"
  rm -rf "$tmp"
  cp "$DIR/$name/root/boot/vmlinuz-$rel" "$DIR/$name/vmlinuz"
  echo "$rel" > "$DIR/$name/release"
  initramfs "$DIR/$name/root" "$rel" "$DIR/$name/initramfs.gz"
  cp "$INIT" "$DIR/$name/init.sh"
done
