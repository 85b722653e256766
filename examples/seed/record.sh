#!/usr/bin/env bash
# Records examples/seed/seed-traffic.pcap: real Node HTTP traffic from frontend (10.0.0.1)
# to backend (10.0.0.2:8080) between two network namespaces, captured with tcpdump.
# Needs root, iproute2, tcpdump. Removes what it creates, even on failure.
set -euo pipefail
cd "$(dirname "$0")"
out=${1:-seed-traffic.pcap}
fe=l7bpf-seed-fe-$$
be=l7bpf-seed-be-$$
cleanup() {
  [ -n "${dump:-}" ] && kill "$dump" 2>/dev/null || true
  [ -n "${server:-}" ] && kill "$server" 2>/dev/null || true
  ip netns del "$fe" 2>/dev/null || true
  ip netns del "$be" 2>/dev/null || true
}
trap cleanup EXIT
ip netns add "$fe"
ip netns add "$be"
ip link add veth-fe netns "$fe" type veth peer name veth-be netns "$be"
ip -n "$fe" addr add 10.0.0.1/24 dev veth-fe
ip -n "$be" addr add 10.0.0.2/24 dev veth-be
ip -n "$fe" link set veth-fe up
ip -n "$be" link set veth-be up
ip -n "$fe" link set lo up
ip -n "$be" link set lo up

ip netns exec "$be" node -e '
  require("http").createServer((req, res) => {
    let n = 0;
    req.on("data", (c) => (n += c.length));
    req.on("end", () => {
      const body = JSON.stringify({ method: req.method, url: req.url, received: n });
      res.writeHead(req.url === "/api/v1/products" ? 200 : 200, { "content-type": "application/json" });
      res.end(body);
    });
  }).listen(8080, "10.0.0.2");
' &
server=$!
ip netns exec "$be" tcpdump -i veth-be -U -s 0 -w "$out" 'tcp port 8080' 2>/dev/null &
dump=$!
sleep 1.5
ip netns exec "$fe" node -e '
  const http = require("http");
  const call = (method, path, body) => new Promise((resolve, reject) => {
    const req = http.request({ host: "10.0.0.2", port: 8080, method, path, agent: false,
      headers: { host: "backend:8080", "user-agent": "frontend/1.0", ...(body ? { "content-type": "application/json" } : {}) } },
      (res) => { res.resume(); res.on("end", () => resolve(res.statusCode)); });
    req.on("error", reject);
    req.setTimeout(3000, () => req.destroy(new Error("timeout")));
    req.end(body);
  });
  (async () => {
    for (const [m, p, b] of [["GET", "/api/v1/users"], ["POST", "/api/v1/users", "{\"name\":\"eve\"}"], ["GET", "/api/v1/products"]]) {
      console.log(m, p, await call(m, p, b));
    }
  })().catch((e) => { console.error(e); process.exit(1); });
'
sleep 1
kill "$dump"; wait "$dump" 2>/dev/null || true
dump=
echo "wrote $out ($(stat -c %s "$out") bytes)"
