#!/usr/bin/env bash
# The seed scenario: frontend calls backend:8080; only GET /api/v1/users should be allowed.
# Checks both policies, explains three requests under each, and replays a real capture.
set -euo pipefail
cd "$(dirname "$0")/../.."
l7bpf() { node --import tsx src/cli/main.ts "$@"; }
dir=examples/seed
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "l7bpf check (the seed's policy as written, and the corrected one)"
l7bpf check $dir/seed-policy.yaml $dir/corrected-policy.yaml --endpoints $dir/endpoints.yaml || true

for policy in seed-policy corrected-policy; do
  for req in "GET /api/v1/users" "POST /api/v1/users" "GET /api/v1/products"; do
    set -- $req
    say "explain $policy: frontend-1 -> backend-1:8080 $req"
    # exit 1 when denied (2 would be bad input)
    l7bpf explain --policy $dir/$policy.yaml --endpoints $dir/endpoints.yaml \
      --from frontend-1 --to backend-1:8080 --method "$1" --path "$2" || [ $? = 1 ]
  done
done

say "explain seed-policy: backend-1 -> frontend-1:8080 POST /admin (what the seed's policy really restricts)"
l7bpf explain --policy $dir/seed-policy.yaml --endpoints $dir/endpoints.yaml \
  --from backend-1 --to frontend-1:8080 --method POST --path /admin || [ $? = 1 ]

for policy in seed-policy corrected-policy; do
  say "replay $dir/seed-traffic.pcap (recorded with tcpdump) under $policy"
  l7bpf replay $dir/seed-traffic.pcap --policy $dir/$policy.yaml --endpoints $dir/endpoints.yaml
done

say "replay with --expect (what CI runs on a policy change)"
l7bpf replay $dir/seed-traffic.pcap --policy $dir/corrected-policy.yaml --endpoints $dir/endpoints.yaml \
  --expect $dir/expected-verdicts.txt && echo "verdicts as expected"

if [ "$(id -u)" = 0 ] && command -v clang >/dev/null && [ -f /usr/include/bpf/libbpf.h ]; then
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
  say "compile the corrected policy into a BPF object, and verify it in the kernel"
  l7bpf compile --policy $dir/corrected-policy.yaml -o "$out"
  l7bpf verify "$out"
  say "replay the capture through the kernel object (BPF_PROG_TEST_RUN) beside the simulator"
  l7bpf replay $dir/seed-traffic.pcap --kernel "$out" --endpoints $dir/endpoints.yaml | tail -1
else
  say "kernel path skipped (needs root, clang and libbpf-dev: run npm run demo as root)"
fi
