// End-to-end topology (docs/deploy.md, tests): a "node" network namespace with forwarding on, and per pod
// a namespace whose eth0 (/32, /128) is one end of a veth pair; the other end lives in the
// node with a host route and a static neighbor entry; the pod routes everything via the
// link-local gateway 169.254.1.1 / fe80::1, statically resolved to the host end's MAC.
// Everything is named l7bpf-e2e-<pid>-<run>-*, removed in destroy(), and swept at the next
// start when the owning process is gone. Used by test/e2e and bench/e2e.ts.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { clangAvailable } from '../../codegen/emit/index.ts';
import { cliArgv } from './cli.ts';

export const PREFIX = 'l7bpf-e2e-';
export const REPO = resolve(import.meta.dirname, '../..');
/** test/e2e/fixtures: the servers, clients, attackers and policies the netns tests run */
export const FIXTURES = join(import.meta.dirname, '../e2e/fixtures');

export interface PodSpec {
  readonly name: string;
  readonly v4: string;
  readonly v6?: string;
}

export interface Pod extends PodSpec {
  readonly netns: string;
  readonly hostIf: string;
  readonly hostMac: string;
  readonly podMac: string;
}

/** Why e2e tests cannot run here, or false. Under CI=true this throws (never skip in CI). */
export function e2eSkip(): string | false {
  let reason: string | null = null;
  if (process.getuid?.() !== 0) reason = 'e2e tests need root';
  else if (!clangAvailable()) reason = 'clang not found';
  else if (spawnSync('ip', ['-V']).status !== 0) reason = 'iproute2 not found';
  else if (spawnSync('nsenter', ['--version']).status !== 0) reason = 'nsenter not found';
  if (reason && process.env.CI === 'true') throw new Error(`e2e tests must run under CI: ${reason}`);
  return reason ?? false;
}

export function run(cmd: string, args: readonly string[], opts: { allowFail?: boolean; input?: string; env?: NodeJS.ProcessEnv } = {}): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 60_000, input: opts.input, env: opts.env ?? process.env });
  if (r.status !== 0 && !opts.allowFail) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr || r.error?.message}`);
  return r.stdout;
}

const ip = (...args: string[]) => run('ip', args);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes namespaces, pins and state dirs left by e2e runs whose process is gone. */
export function sweepStale(): void {
  const stale = (name: string) => {
    const pid = Number(/^l7bpf-e2e-(\d+)-/.exec(name)?.[1] ?? NaN);
    return Number.isInteger(pid) && !alive(pid);
  };
  for (const line of run('ip', ['netns', 'list'], { allowFail: true }).split('\n')) {
    const name = line.split(' ')[0] ?? '';
    if (name.startsWith(PREFIX) && stale(name)) run('ip', ['netns', 'del', name], { allowFail: true });
  }
  for (const dir of ['/sys/fs/bpf', '/tmp']) {
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir)) if (f.startsWith(PREFIX) && stale(f)) rmSync(join(dir, f), { recursive: true, force: true });
  }
}

const mac = (kind: number, i: number, run: number) => `02:${kind.toString(16).padStart(2, '0')}:${(run >> 8).toString(16).padStart(2, '0')}:${(run & 255).toString(16).padStart(2, '0')}:00:${i.toString(16).padStart(2, '0')}`;

export class Topology {
  readonly id: string;
  readonly node: string;
  readonly pods = new Map<string, Pod>();
  /** bpffs pin root and state dir of this run (env for the CLI) */
  readonly pinRoot: string;
  readonly stateDir: string;
  private readonly children = new Set<ChildProcess>();
  private readonly runNo = randomBytes(2).readUInt16LE(0);

  private constructor() {
    this.id = `${PREFIX}${process.pid}-${this.runNo.toString(16)}`;
    this.node = `${this.id}-node`;
    this.pinRoot = `/sys/fs/bpf/${this.id}`;
    this.stateDir = `/tmp/${this.id}-state`;
  }

  /** Builds the topology; on any failure removes what it made and rethrows. */
  static create(pods: readonly PodSpec[]): Topology {
    sweepStale();
    const t = new Topology();
    try {
      t.build(pods);
      return t;
    } catch (e) {
      t.destroy();
      throw e;
    }
  }

  private build(pods: readonly PodSpec[]): void {
    ip('netns', 'add', this.node);
    ip('-n', this.node, 'link', 'set', 'lo', 'up');
    run('ip', ['netns', 'exec', this.node, 'sysctl', '-qw', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1']);
    pods.forEach((p, i) => this.addPod(p, i));
    mkdirSync(this.stateDir, { recursive: true });
  }

  private addPod(p: PodSpec, i: number): void {
    const netns = `${this.id}-${p.name}`;
    const hostIf = `lxc${i}${p.name}`.slice(0, 15);
    const pod: Pod = { ...p, netns, hostIf, hostMac: mac(0xaa, i, this.runNo), podMac: mac(0xbb, i, this.runNo) };
    ip('netns', 'add', netns);
    run('ip', ['netns', 'exec', netns, 'sysctl', '-qw', 'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0']);
    ip('link', 'add', hostIf, 'netns', this.node, 'address', pod.hostMac, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', netns, 'address', pod.podMac);
    ip('-n', netns, 'link', 'set', 'lo', 'up');
    ip('-n', netns, 'addr', 'add', `${p.v4}/32`, 'dev', 'eth0');
    if (p.v6) ip('-n', netns, 'addr', 'add', `${p.v6}/128`, 'dev', 'eth0', 'nodad');
    ip('-n', netns, 'link', 'set', 'eth0', 'up');
    ip('-n', this.node, 'link', 'set', hostIf, 'up');
    ip('-n', this.node, 'route', 'add', `${p.v4}/32`, 'dev', hostIf);
    ip('-n', this.node, 'neigh', 'add', p.v4, 'lladdr', pod.podMac, 'dev', hostIf, 'nud', 'permanent');
    ip('-n', netns, 'route', 'add', '169.254.1.1', 'dev', 'eth0', 'scope', 'link');
    ip('-n', netns, 'neigh', 'add', '169.254.1.1', 'lladdr', pod.hostMac, 'dev', 'eth0', 'nud', 'permanent');
    ip('-n', netns, 'route', 'add', 'default', 'via', '169.254.1.1', 'dev', 'eth0');
    if (p.v6) {
      ip('-n', this.node, '-6', 'route', 'add', `${p.v6}/128`, 'dev', hostIf);
      ip('-n', this.node, '-6', 'neigh', 'add', p.v6, 'lladdr', pod.podMac, 'dev', hostIf, 'nud', 'permanent');
      ip('-n', netns, '-6', 'neigh', 'add', 'fe80::1', 'lladdr', pod.hostMac, 'dev', 'eth0', 'nud', 'permanent');
      ip('-n', netns, '-6', 'route', 'add', 'default', 'via', 'fe80::1', 'dev', 'eth0');
    }
    this.pods.set(p.name, pod);
  }

  pod(name: string): Pod {
    const p = this.pods.get(name);
    if (!p) throw new Error(`no pod ${name} in the topology`);
    return p;
  }

  /** Environment of CLI runs: this run's pins and state. */
  env(): NodeJS.ProcessEnv {
    return { ...process.env, L7BPF_PIN_ROOT: this.pinRoot, L7BPF_STATE_DIR: this.stateDir };
  }

  /**
   * Runs the l7bpf CLI in the node's network namespace. nsenter (not `ip netns exec`) keeps
   * the mount namespace, so /sys/fs/bpf pins stay visible to the next command.
   */
  cli(args: readonly string[], allowFail = false): { code: number; stdout: string; stderr: string } {
    const r = spawnSync('nsenter', [`--net=/run/netns/${this.node}`, '--', process.execPath, ...cliArgv(), ...args], {
      encoding: 'utf8', cwd: REPO, env: this.env(), timeout: 60_000,
    });
    const out = { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
    if (out.code !== 0 && !allowFail) throw new Error(`l7bpf ${args.join(' ')} exited ${out.code}:\n${out.stderr}${out.stdout}`);
    return out;
  }

  /** A background process in a namespace; killed by destroy() at the latest. */
  spawnIn(netns: string, cmd: string, args: readonly string[]): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', netns, cmd, ...args], { cwd: REPO, env: this.env(), stdio: ['ignore', 'pipe', 'pipe'] });
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return child;
  }

  /** Same as spawnIn but with nsenter (keeps /sys/fs/bpf), for long-running CLI commands. */
  spawnCli(args: readonly string[]): ChildProcess {
    const child = spawn('nsenter', [`--net=/run/netns/${this.node}`, '--', process.execPath, ...cliArgv(), ...args], { cwd: REPO, env: this.env(), stdio: ['ignore', 'pipe', 'pipe'] });
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return child;
  }

  /** Starts the test HTTP server in a pod; resolves when it listens. */
  async server(podName: string, port = 8080): Promise<ChildProcess> {
    const child = this.spawnIn(this.pod(podName).netns, process.execPath, [join(FIXTURES, 'http-server.mjs'), String(port)]);
    await waitForLine(child, 'ready', 10_000);
    return child;
  }

  /** Runs the test client in a pod (see fixtures/http-client.mjs); returns its JSON result. */
  client<T>(podName: string, spec: Record<string, unknown>): Promise<T> {
    const child = this.spawnIn(this.pod(podName).netns, process.execPath, [join(FIXTURES, 'http-client.mjs'), JSON.stringify(spec)]);
    return lastJsonLine<T>(child, 60_000);
  }

  destroy(): void {
    for (const c of this.children) c.kill('SIGKILL');
    for (const p of this.pods.values()) run('ip', ['netns', 'del', p.netns], { allowFail: true });
    run('ip', ['netns', 'del', this.node], { allowFail: true });
    rmSync(this.pinRoot, { recursive: true, force: true });
    rmSync(this.stateDir, { recursive: true, force: true });
  }
}

export function waitForLine(child: ChildProcess, text: string, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    let err = '';
    const t = setTimeout(() => reject(new Error(`no "${text}" within ${ms} ms: ${err}`)), ms);
    child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout?.on('data', (d: Buffer) => {
      seen += d.toString();
      if (seen.includes(text)) {
        clearTimeout(t);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`exited ${code} before "${text}": ${err}`));
    });
  });
}

export function lastJsonLine<T>(child: ChildProcess, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const t = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`no result within ${ms} ms`));
    }, ms);
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    child.once('exit', (code) => {
      clearTimeout(t);
      const line = out.trim().split('\n').at(-1) ?? '';
      if (code !== 0) reject(new Error(`client exited ${code}: ${err}`));
      else resolve(JSON.parse(line) as T);
    });
  });
}

/** An inventory YAML for the pods (host-side veth as `iface`). */
export function inventoryYaml(t: Topology, labels: Readonly<Record<string, Readonly<Record<string, string>>>>): string {
  const lines = ['endpoints:'];
  for (const p of t.pods.values()) {
    const l = labels[p.name] ?? {};
    lines.push(`  - name: ${p.name}`, '    namespace: default', `    labels: {${Object.entries(l).map(([k, v]) => `${k}: ${v}`).join(', ')}}`);
    lines.push(`    ips: [${[p.v4, ...(p.v6 ? [p.v6] : [])].join(', ')}]`, `    iface: ${p.hostIf}`);
  }
  return lines.join('\n') + '\n';
}

/**
 * Compiles policy files into `out` in-process (lower + emit, as `l7bpf compile` does).
 * L7BPF_E2E_TEMPLATES points at another bpf-templates copy (debugging datapath changes).
 */
export async function compilePolicies(files: readonly string[], out: string): Promise<void> {
  const { loadPolicies } = await import('../../src/policy/index.ts');
  const { lower } = await import('../../codegen/ir/lower.ts');
  const { emitObject, DEFAULT_LIMITS, TEMPLATES_DIR } = await import('../../codegen/emit/index.ts');
  emitObject(lower(loadPolicies(files)), out, DEFAULT_LIMITS, process.env.L7BPF_E2E_TEMPLATES ?? TEMPLATES_DIR);
}

/** tcpdump on an interface of a namespace into `file`; stop() flushes and waits. */
export async function capture(t: Topology, netns: string, iface: string, file: string, filter = 'tcp port 8080'): Promise<{ stop(): Promise<void> }> {
  const child = t.spawnIn(netns, 'tcpdump', ['-i', iface, '--immediate-mode', '-U', '-s', '0', '-w', file, filter]);
  await new Promise<void>((resolve, reject) => {
    let err = '';
    const timer = setTimeout(() => reject(new Error(`tcpdump did not start: ${err}`)), 10_000);
    child.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('listening on')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  return {
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGINT');
      }),
  };
}
