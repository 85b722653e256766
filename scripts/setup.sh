#!/usr/bin/env bash
# Idempotent set-up shared by `npm test` and `npm run demo`: system packages when root
# and missing, then node_modules when absent or older than the lockfile.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v clang >/dev/null || need+=(clang llvm)
[ -f /usr/include/bpf/libbpf.h ] || need+=(libbpf-dev)
command -v tcpdump >/dev/null || need+=(tcpdump)
command -v ip >/dev/null || need+=(iproute2)
# HTTP/2: nghttp and h2load (e2e, bench), nghttpx (the proxy the bench compares with)
command -v nghttp >/dev/null || need+=(nghttp2-client)
command -v nghttpx >/dev/null || need+=(nghttp2-proxy)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing ${need[*]}" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "setup: missing ${need[*]} (not root: kernel parts will be skipped)" >&2
  fi
fi
# the kernel matrix's guests (test/matrix): qemu and Debian's 6.1 and 6.12 kernels
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  bash scripts/kernels.sh
fi
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund >&2
fi
