// Stream integrity (docs/datapath.md, "What the datapath trusts": judge what the server reads): real attackers in pod
// namespaces try to make the bytes the datapath inspects differ from the bytes the server's
// TCP hands to its HTTP parser, so that a denied request reaches the server. The server logs
// every request its parser (llhttp) processes; each test asserts that the denied request
// never appears in that log. Every attack first runs in a control world, the same topology
// with no datapath, where it must get the denied request logged: a topology or an attack
// script that does not work cannot make a test pass.
//
// Ingress: frontend -> backend:8080, examples/seed/corrected-policy.yaml on the backend.
// Egress: egress-fe -> egress-be:8080, fixtures/egress-users-policy.yaml on the client.
// Both allow only GET /api/v1/users.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compilePolicies, e2eSkip, FIXTURES, inventoryYaml, lastJsonLine, Topology, waitForLine } from '../helpers/netns.ts';

function pythonSkip(): string | false {
  if (spawnSync('python3', ['-c', 'import socket; socket.AF_PACKET']).status === 0) return false;
  if (process.env.CI === 'true') throw new Error('e2e tests must run under CI: python3 with AF_PACKET not found');
  return 'python3 (with AF_PACKET) not found';
}

const skip = e2eSkip() || pythonSkip();
if (skip) console.log(`# skipping e2e attacks: ${skip}`);

const POLICIES = ['examples/seed/corrected-policy.yaml', join(FIXTURES, 'egress-users-policy.yaml')];
const ATTACKER = join(FIXTURES, 'attacker.py');
const PODS = [
  { name: 'frontend', v4: '10.0.0.1', v6: 'fd00::1' },
  { name: 'backend', v4: '10.0.0.2', v6: 'fd00::2' },
  { name: 'egress-fe', v4: '10.0.0.3', v6: 'fd00::3' },
  { name: 'egress-be', v4: '10.0.0.4', v6: 'fd00::4' },
];
const LABELS = { frontend: { app: 'frontend' }, backend: { app: 'backend' }, 'egress-fe': { app: 'egress-frontend' }, 'egress-be': { app: 'egress-backend' } };
const PATHS = { ingress: { client: 'frontend', server: 'backend' }, egress: { client: 'egress-fe', server: 'egress-be' } } as const;
type Dir = keyof typeof PATHS;
type Fam = 4 | 6;
const ALL: ReadonlyArray<readonly [Dir, Fam]> = [['ingress', 4], ['ingress', 6], ['egress', 4], ['egress', 6]];

/** What fixtures/attacker.py prints. */
interface Shot {
  readonly lport: number;
  readonly received: string;
  readonly error: string | null;
  readonly ms: number;
}

interface World {
  readonly name: 'control' | 'datapath';
  readonly t: Topology;
  readonly log: (server: string) => string;
}

interface Outcome {
  readonly tag: string;
  readonly shot: Shot;
  /** server log lines of this shot's denied request */
  readonly logged: readonly string[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let shots = 0;

/** Runs the attacker in the path's client pod, then reads the server's log for its tag. */
async function shoot(w: World, dir: Dir, fam: Fam, spec: Record<string, unknown>): Promise<Outcome> {
  const tag = `${w.name[0]}${dir[0]}${fam}n${(shots++).toString(36)}`;
  const { client, server } = PATHS[dir];
  const host = fam === 4 ? w.t.pod(server).v4 : w.t.pod(server).v6;
  const child = w.t.spawnIn(w.t.pod(client).netns, 'python3', [ATTACKER, JSON.stringify({ host, port: 8080, tag, timeout: 1, ...spec })]);
  const shot = await lastJsonLine<Shot>(child, 10_000);
  await sleep(100); // the server logs before it answers; this only covers a reset-then-log race
  const file = w.log(server);
  const lines = existsSync(file) ? readFileSync(file, 'utf8').split('\n') : [];
  return { tag, shot, logged: lines.filter((l) => l.startsWith('GET /admin?') && l.endsWith(`t=${tag}`)) };
}

const seen = (s: Shot) => `${s.error ?? 'an answer'} after ${s.ms.toFixed(1)} ms${s.received ? `, read ${JSON.stringify(s.received.slice(0, 120))}` : ''}`;

describe('e2e: stream integrity attacks (issue 10)', { skip: skip || undefined, timeout: 180_000 }, () => {
  let dir: string;
  let control: World;
  let datapath: World;

  async function world(name: World['name']): Promise<World> {
    const t = Topology.create(PODS);
    const log = (server: string) => join(dir, `${name}-${server}.log`);
    for (const server of ['backend', 'egress-be']) {
      writeFileSync(log(server), '');
      const child = t.spawnIn(t.pod(server).netns, process.execPath, [join(FIXTURES, 'logging-server.mjs'), '8080', log(server)]);
      await waitForLine(child, 'ready', 10_000);
    }
    return { name, t, log };
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'l7bpf-e2e-attacks-'));
    control = await world('control');
    datapath = await world('datapath');
    writeFileSync(join(dir, 'inventory.yaml'), inventoryYaml(datapath.t, LABELS));
    await compilePolicies(POLICIES, join(dir, 'obj'));
    // resets: the attacks are about which bytes are judged (answers: answers.test.ts)
    datapath.t.cli(['deploy', join(dir, 'obj'), '--endpoints', join(dir, 'inventory.yaml'), '--name', 'attacks', '--deny-answer', 'reset']);
  });

  after(() => {
    control?.t.destroy();
    datapath?.t.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /**
   * The attack on every path, in the control world and through the datapath at once; fails
   * with one line per path where the control did not reach the server or the attack did.
   */
  async function campaign(spec: Record<string, unknown>, paths = ALL): Promise<void> {
    const results = await Promise.all(paths.map(async ([d, fam]) => {
      const [ctl, real] = await Promise.all([shoot(control, d, fam, spec), shoot(datapath, d, fam, spec)]);
      return { where: `${d} IPv${fam}`, ctl, real };
    }));
    const problems: string[] = [];
    for (const { where, ctl, real } of results) {
      if (ctl.logged.length === 0) {
        problems.push(`${where}: control: without the datapath the server never logged GET /admin?t=${ctl.tag} (client saw ${seen(ctl.shot)}); the attack does not work here, so this test proves nothing`);
      }
      if (real.logged.length > 0) {
        problems.push(`${where}: the server's parser processed "${real.logged.join('", "')}" although the policy denies it (client saw ${seen(real.shot)})`);
      }
    }
    if (problems.length) assert.fail(problems.join('\n'));
  }

  it('an allowed request still gets 200 on both paths and families (control of the topology)', async () => {
    const res = await Promise.all(ALL.flatMap(([d, fam]) => [control, datapath].map(async (w) => {
      const { client, server } = PATHS[d];
      const host = fam === 4 ? w.t.pod(server).v4 : w.t.pod(server).v6;
      const [r] = await w.t.client<Array<{ status?: number; error?: string }>>(client, { op: 'each', host, port: 8080, timeoutMs: 2000, requests: [{ method: 'GET', path: '/api/v1/users' }] });
      return `${w.name} ${d} IPv${fam}: ${r?.status ?? r?.error}`;
    })));
    assert.deepEqual(res, ALL.flatMap(([d, fam]) => [`control ${d} IPv${fam}: 200`, `datapath ${d} IPv${fam}: 200`]));
  });

  it('urgent data (MSG_OOB, no privileges) cannot hide a request in a body the server does not read', async () => {
    await campaign({ mode: 'urgent' });
  });

  it('control of the injector: a valid inserted segment is what the server reads, the socket\'s copy is a duplicate', async () => {
    const users = (w: World, server: string) => readFileSync(w.log(server), 'utf8').split('\n').filter((l) => l === 'GET /api/v1/users').length;
    const counts = () => [control, datapath].map((w) => [users(w, 'backend'), users(w, 'egress-be')]);
    const n0 = counts();
    const res = await Promise.all(ALL.flatMap(([d, fam]) => [control, datapath].map((w) => shoot(w, d, fam, { mode: 'insert', variant: 'valid' }))));
    const n1 = counts();
    assert.deepEqual(res.filter((r) => r.logged.length > 0).map((r) => r.logged), [], 'the socket\'s (denied) copy reached a server');
    // two allowed requests (IPv4, IPv6) per server and world: raw frames reach the server's TCP
    assert.deepEqual(n1.map((a, i) => a.map((n, j) => n - (n0[i]?.[j] ?? 0))), [[2, 2], [2, 2]], 'allowed requests logged per world and server');
  });

  const INSERTIONS: ReadonlyArray<readonly [string, string]> = [
    ['noack', 'no ACK flag'],
    ['ackahead', 'an ACK of data the server never sent'],
    ['ackold', 'an ACK 2^30 in the past'],
    ['badsum', 'a bad TCP checksum'],
    ['rst', 'RST|ACK with payload (one byte before the next sequence)'],
    ['paws', 'an old timestamp (PAWS)'],
    ['ttl', 'TTL / hop limit 1 (the node does not forward it)'],
  ];
  for (const [variant, what] of INSERTIONS) {
    it(`an inserted segment the server discards does not advance the stream: ${what}`, async () => {
      await campaign({ mode: 'insert', variant });
    });
  }

  it('an inserted segment the server discards does not advance the stream: a bad IPv4 header checksum', async () => {
    await campaign({ mode: 'insert', variant: 'badipsum' }, ALL.filter(([, fam]) => fam === 4));
  });

  it('a second SYN on an established flow moves nothing (RFC 5961)', async () => {
    await campaign({ mode: 'syn' });
  });

  it("a SYN spoofed from the server's address cannot flip the flow's direction", async () => {
    await campaign({ mode: 'spoof' });
  });

  for (const d of ['egress', 'ingress'] as const) {
    it(`${d}: a denied client sees its reset within 10 ms`, async (ctx) => {
      const problems: string[] = [];
      for (const fam of [4, 6] as const) {
        const ctl = await shoot(control, d, fam, { mode: 'reset' });
        if (ctl.logged.length === 0) problems.push(`IPv${fam}: control: the denied request never reached the server without the datapath (client saw ${seen(ctl.shot)})`);
        const real = await shoot(datapath, d, fam, { mode: 'reset' });
        ctx.diagnostic(`IPv${fam}: ${seen(real.shot)}`);
        if (real.logged.length > 0) problems.push(`IPv${fam}: the server processed "${real.logged.join('", "')}" (client saw ${seen(real.shot)})`);
        if (real.shot.error !== 'ECONNRESET' || real.shot.ms >= 10) problems.push(`IPv${fam}: want ECONNRESET within 10 ms, client saw ${seen(real.shot)}`);
      }
      if (problems.length) assert.fail(problems.join('\n'));
    });
  }
});
