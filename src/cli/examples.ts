// The Examples sections of `--help` (the seed scenario's files, so they run from a checkout).

const SEED = 'examples/seed';

const BY_COMMAND = {
  check: [
    `l7bpf check ${SEED}/corrected-policy.yaml`,
    `l7bpf check --output json --endpoints ${SEED}/endpoints.yaml policies/*.yaml`,
  ],
  explain: [
    `l7bpf explain --policy ${SEED}/corrected-policy.yaml --endpoints ${SEED}/endpoints.yaml \\\n    --from frontend-1 --to backend-1:8080 --method POST --path /api/v1/users`,
    `l7bpf explain ... --header 'X-Tenant: blue' --output json   # exit 1 when denied`,
    `l7bpf explain --policy P --endpoints cluster.json --from client --to svc:shop/web:80 --node-name node-a   # kubectl get pods,nodes,services -A -o json`,
  ],
  replay: [
    `l7bpf replay ${SEED}/seed-traffic.pcap --policy ${SEED}/corrected-policy.yaml --endpoints ${SEED}/endpoints.yaml`,
    `l7bpf replay CAPTURE --policy P --endpoints INV --output jsonpb > flows.json   # hubble observe --input-file flows.json`,
    `l7bpf replay CAPTURE --policy P --endpoints INV --fail-on-deny   # CI: exit 1 when anything is denied`,
  ],
  compile: [
    `l7bpf compile --policy ${SEED}/corrected-policy.yaml -o build/seed`,
    `l7bpf compile --policy a.yaml --policy b.yaml --inspection-limit 16384 -o build/ab`,
  ],
  deploy: [
    `sudo l7bpf deploy build/seed --endpoints ${SEED}/endpoints.yaml --iface-of default/backend-1=lxc12ab`,
    `sudo l7bpf deploy build/seed --endpoints INV --name shop --deny-answer reset`,
    `sudo ip netns exec NODE l7bpf deploy build/seed --endpoints INV --node-name node-a   # pins in the host bpffs; status/undeploy from anywhere`,
  ],
  agent: [
    `sudo l7bpf agent --dir /etc/l7bpf --node-name node-a          # policies/*.yaml, endpoints.yaml; edit and it swaps`,
    `sudo l7bpf agent --kubernetes --config /etc/l7bpf/agent.yaml    # in the DaemonSet (deploy/kubernetes)`,
    `curl -s localhost:9962/readyz; curl -s localhost:9962/metrics`,
  ],
  observe: [
    `sudo l7bpf observe --follow --verdict denied`,
    `sudo l7bpf observe --name shop --output text`,
    `sudo l7bpf observe --since 10m --verdict DROPPED --to-pod default/backend --http-path '^/api/'`,
  ],
} as const;

function section(lines: readonly string[]): string {
  return `\nExamples:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`;
}

export function examples(command: keyof typeof BY_COMMAND): string {
  return section(BY_COMMAND[command]);
}

/** The main help's: one line per step of the usual path, and where exit codes are. */
export const EXAMPLES = section([
  `l7bpf check ${SEED}/corrected-policy.yaml`,
  `l7bpf explain --policy ${SEED}/corrected-policy.yaml --endpoints ${SEED}/endpoints.yaml --from frontend-1 --to backend-1:8080 --method GET --path /api/v1/users`,
  `l7bpf replay ${SEED}/seed-traffic.pcap --policy ${SEED}/corrected-policy.yaml --endpoints ${SEED}/endpoints.yaml`,
  `l7bpf compile --policy ${SEED}/corrected-policy.yaml -o build/seed && sudo l7bpf deploy build/seed --endpoints ${SEED}/endpoints.yaml`,
  'l7bpf <command> --help',
]) + '\nExit codes: 0 ok, 1 denied / failed check / disagreement / failed operation, 2 bad input.\n';
