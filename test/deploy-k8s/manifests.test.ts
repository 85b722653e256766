// deploy/kubernetes, checked offline (no cluster, no container runtime): every manifest
// against the Kubernetes API's OpenAPI schemas (kubernetes-models' validators, plus a strict
// pass for unknown fields from @kubernetes/client-node's models, as `kubectl apply`'s strict
// field validation would reject them), the references between the files (the ConfigMap's
// settings through the agent's own --config reader, ports against its defaults, the hubble-peer
// Service against the DaemonSet, the CRDs against what the agent watches), read-only RBAC, and
// the image build file through dockerfile-utils' linter. docs/deploy.md, "Kubernetes".
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { validate as lintDockerfile, ValidationSeverity } from 'dockerfile-utils';
// the generated models alone (the package's index also loads its API clients: seconds)
import * as k8s from '@kubernetes/client-node/dist/gen/models/ObjectSerializer.js';
import { AGENT_DEFAULTS, mergeConfig, type AgentCliOptions } from '../../src/cli/agent.ts';
import { CCNP, CNP } from '../../src/agent/kubernetes/kinds.ts';
import { ANSWER_MODES } from '../../src/net/answers.ts';
import { parseDurationNs, parseSize } from '../../src/observe/units.ts';

const DIR = 'deploy/kubernetes';
const DOCKERFILE = join(DIR, 'Dockerfile');
/** applied on its own (kubectl apply -f), never by the kustomization: it would replace Cilium's CRDs */
const CRDS = 'crds.yaml';
const CLUSTER_SCOPED = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'CustomResourceDefinition']);
const READ_ONLY_VERBS = new Set(['get', 'list', 'watch']);

type Obj = Record<string, any>; // manifests are untyped YAML; the schemas type them
interface Doc { file: string; index: number; obj: Obj }

function loadManifests(): Doc[] {
  const files = readdirSync(DIR).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml').sort();
  return files.flatMap((file) => {
    const docs = parseAllDocuments(readFileSync(join(DIR, file), 'utf8'));
    return docs.map((d, index) => {
      assert.deepEqual(d.errors.map(String), [], `${file} document ${index + 1} is not valid YAML`);
      return { file, index, obj: d.toJS() as Obj };
    });
  });
}

/** kubernetes-models' class for an apiVersion/kind; throws for a kind it does not know. */
async function modelOf(obj: Obj): Promise<new (data: Obj) => { validate(): void }> {
  const [group, version] = String(obj.apiVersion).includes('/') ? String(obj.apiVersion).split('/') : ['', String(obj.apiVersion)];
  const path = `kubernetes-models/${group ? `${group}/` : ''}${version}/${obj.kind}`;
  try {
    const mod = (await import(path)) as Record<string, unknown>;
    const cls = mod[String(obj.kind)];
    if (typeof cls === 'function') return cls as new (data: Obj) => { validate(): void };
  } catch { /* no such module: reported below */ }
  throw new Error(`${obj.apiVersion} ${obj.kind}: no Kubernetes API schema for this kind`);
}

async function schemaErrors(obj: Obj): Promise<string | null> {
  const Model = await modelOf(obj);
  try {
    new Model(obj).validate();
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

interface AttributeType { baseName: string; type: string }
const models = k8s as unknown as Record<string, { getAttributeTypeMap?: () => AttributeType[] } | undefined>;

/** Paths of fields the API does not define (the OpenAPI schemas allow them; the API server's
 * strict field validation, kubectl's default, rejects them): client-node's model type maps. */
function unknownFields(value: unknown, type: string, path: string): string[] {
  if (value === null || typeof value !== 'object') return []; // scalars: the schema's part
  const array = /^Array<(.+)>$/.exec(type);
  if (array) return Array.isArray(value) ? value.flatMap((v, i) => unknownFields(v, array[1]!, `${path}[${i}]`)) : [];
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) return Object.entries(value).flatMap(([k, v]) => unknownFields(v, map[1]!, `${path}.${k}`));
  const attrs = models[type]?.getAttributeTypeMap?.();
  if (!attrs || Array.isArray(value)) return [];
  const known = new Map(attrs.map((a) => [a.baseName, a.type]));
  return Object.entries(value).flatMap(([k, v]) => {
    const t = known.get(k);
    return t === undefined ? [`${path}.${k}`] : unknownFields(v, t, `${path}.${k}`);
  });
}

function strictErrors(obj: Obj): string[] {
  const version = String(obj.apiVersion).split('/').pop()!;
  const type = `${version[0]!.toUpperCase()}${version.slice(1)}${obj.kind}`;
  assert.ok(models[type]?.getAttributeTypeMap, `${obj.apiVersion} ${obj.kind}: no model ${type} in @kubernetes/client-node`);
  return unknownFields(obj, type, obj.kind);
}

const docs = loadManifests();
const named = (kind: string) => docs.map((d) => d.obj).filter((o) => o.kind === kind);
const one = (kind: string): Obj => {
  const all = named(kind);
  assert.equal(all.length, 1, `expected one ${kind} in ${DIR}, found ${all.length}`);
  return all[0]!;
};
const daemonSet = one('DaemonSet');
const pod = daemonSet.spec.template.spec as Obj;
const agent = (pod.containers as Obj[]).find((c) => c.name === 'agent')!;
const portOf = (name: string): Obj => (agent.ports as Obj[]).find((p) => p.name === name)!;
const listenPort = (address: string): number => Number(address.slice(address.lastIndexOf(':') + 1));
const METRICS_PORT = listenPort(AGENT_DEFAULTS.metrics); // 9962
const HUBBLE_PORT = listenPort(AGENT_DEFAULTS.hubbleListen); // 4244

/** agent.yaml as `l7bpf agent --config` reads it (unknown settings throw). */
function agentSettings(text: string): AgentCliOptions {
  const dir = mkdtempSync(join(tmpdir(), 'l7bpf-k8s-'));
  try {
    writeFileSync(join(dir, 'agent.yaml'), text);
    return mergeConfig({ config: join(dir, 'agent.yaml') });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('deploy/kubernetes manifests: Kubernetes API schemas (offline)', () => {
  it('every document has a schema for its apiVersion/kind and validates against it', async () => {
    assert.deepEqual(docs.map((d) => `${d.obj.apiVersion} ${d.obj.kind}`).sort(), [
      'apiextensions.k8s.io/v1 CustomResourceDefinition', 'apiextensions.k8s.io/v1 CustomResourceDefinition',
      'apps/v1 DaemonSet', 'rbac.authorization.k8s.io/v1 ClusterRole', 'rbac.authorization.k8s.io/v1 ClusterRoleBinding',
      'v1 ConfigMap', 'v1 Namespace', 'v1 Service', 'v1 ServiceAccount',
    ]);
    for (const d of docs) {
      assert.equal(await schemaErrors(d.obj), null, `${d.file} document ${d.index + 1} (${d.obj.kind})`);
      assert.deepEqual(strictErrors(d.obj), [], `${d.file} document ${d.index + 1} (${d.obj.kind}): fields the API does not define`);
    }
  });

  it('the validators fail on broken copies', async () => {
    const badType = structuredClone(daemonSet);
    badType.spec.template.spec.containers[0].ports[0].containerPort = '9962';
    assert.match((await schemaErrors(badType)) ?? 'passed', /containerPort must be integer/);
    const badQuantity = structuredClone(daemonSet);
    badQuantity.spec.template.spec.containers[0].resources.limits.memory = 'a lot';
    assert.match((await schemaErrors(badQuantity)) ?? 'passed', /memory must match format "quantity"/);
    const typo = structuredClone(daemonSet);
    typo.spec.template.spec.containers[0].volumeMounts[0].mountPropogation = 'HostToContainer';
    assert.deepEqual(strictErrors(typo), ['DaemonSet.spec.template.spec.containers[0].volumeMounts[0].mountPropogation']);
    const noPlural = structuredClone(named('CustomResourceDefinition')[0]!);
    delete noPlural.spec.names.plural;
    assert.match((await schemaErrors(noPlural)) ?? 'passed', /plural/);
    const crdTypo = structuredClone(named('CustomResourceDefinition')[0]!);
    crdTypo.spec.versions[0].schema.openAPIV3Schema.properties.spec['x-kubernetes-preserve-unknown-field'] = true;
    assert.deepEqual(strictErrors(crdTypo), ['CustomResourceDefinition.spec.versions[0].schema.openAPIV3Schema.properties.spec.x-kubernetes-preserve-unknown-field']);
    await assert.rejects(modelOf({ apiVersion: 'apps/v1', kind: 'DeamonSet' }), /no Kubernetes API schema/);
    await assert.rejects(modelOf({ apiVersion: 'cilium.io/v2', kind: 'CiliumNetworkPolicy' }), /no Kubernetes API schema/);
  });
});

describe('deploy/kubernetes manifests: references between them', () => {
  const namespace = one('Namespace').metadata.name as string;

  it('every namespaced object, binding subject and the kustomization use the one namespace', () => {
    for (const o of docs.map((d) => d.obj).filter((o) => !CLUSTER_SCOPED.has(o.kind))) {
      assert.equal(o.metadata.namespace, namespace, `${o.kind} ${o.metadata.name}`);
    }
    for (const s of one('ClusterRoleBinding').subjects as Obj[]) assert.equal(s.namespace, namespace);
    assert.equal(parse(readFileSync(join(DIR, 'kustomization.yaml'), 'utf8')).namespace, namespace);
    assert.equal(one('Namespace').metadata.labels['pod-security.kubernetes.io/enforce'], 'privileged', 'hostNetwork, hostPath and added capabilities need the privileged Pod Security level');
  });

  it('the DaemonSet runs as the ServiceAccount that the ClusterRoleBinding binds to the ClusterRole', () => {
    const sa = one('ServiceAccount').metadata.name;
    const binding = one('ClusterRoleBinding');
    assert.equal(pod.serviceAccountName, sa);
    assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: sa, namespace }]);
    assert.deepEqual(binding.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: one('ClusterRole').metadata.name });
  });

  it('RBAC is read-only, on exactly the kinds the agent watches', () => {
    const rules = one('ClusterRole').rules as Obj[];
    for (const r of rules) {
      const writes = (r.verbs as string[]).filter((v) => !READ_ONLY_VERBS.has(v));
      assert.deepEqual(writes, [], `verbs beyond get/list/watch on ${r.resources}`);
    }
    const granted = rules.flatMap((r) => (r.apiGroups as string[]).flatMap((g) => (r.resources as string[]).map((res) => `${g}/${res}`))).sort();
    assert.deepEqual(granted, ['/nodes', '/pods', '/services', 'cilium.io/ciliumclusterwidenetworkpolicies', 'cilium.io/ciliumnetworkpolicies']);
    assert.ok(!granted.some((g) => g.includes('*')), 'no wildcards');
  });

  it('volumes: every mount has its volume, every volume is mounted, the ConfigMap exists and holds --config', () => {
    const volumes = new Map((pod.volumes as Obj[]).map((v) => [v.name as string, v]));
    const mounts = agent.volumeMounts as Obj[];
    assert.deepEqual(mounts.map((m) => m.name).sort(), [...volumes.keys()].sort());
    const cmVolume = (pod.volumes as Obj[]).find((v) => v.configMap)!;
    const cm = named('ConfigMap').find((c) => c.metadata.name === cmVolume.configMap.name);
    assert.ok(cm, `ConfigMap ${cmVolume.configMap.name} is mounted but not defined`);
    const mountPath = mounts.find((m) => m.name === cmVolume.name)!.mountPath as string;
    const args = agent.args as string[];
    const config = args[args.indexOf('--config') + 1]!;
    assert.ok(config.startsWith(`${mountPath}/`) && config.slice(mountPath.length + 1) in cm.data, `--config ${config} is not a key of ConfigMap ${cm.metadata.name} mounted at ${mountPath}`);
  });

  it('the agent: its settings, ports and probes agree with its defaults', () => {
    const cm = named('ConfigMap').find((c) => c.metadata.name === (pod.volumes as Obj[]).find((v) => v.configMap)!.configMap.name)!;
    const settings = agentSettings(cm.data['agent.yaml'] as string);
    assert.ok((ANSWER_MODES as readonly string[]).includes(settings.denyAnswer!), `denyAnswer ${settings.denyAnswer}`);
    assert.notEqual(parseDurationNs(settings.debounce!), null, `debounce ${settings.debounce}`);
    assert.ok(parseSize(String(settings.historySize)) > 0, `historySize ${settings.historySize}`);
    assert.equal(settings.kubernetes, undefined, 'the source is the DaemonSet\'s --kubernetes');
    assert.equal(listenPort(settings.metrics!), METRICS_PORT);
    assert.equal(listenPort(settings.hubbleListen!), HUBBLE_PORT);
    assert.deepEqual([portOf('metrics').containerPort, portOf('hubble').containerPort], [METRICS_PORT, HUBBLE_PORT]);
    for (const p of agent.ports as Obj[]) assert.equal(p.hostPort, p.containerPort, 'with hostNetwork, hostPort = containerPort');
    for (const [probe, path] of [['startupProbe', '/healthz'], ['livenessProbe', '/healthz'], ['readinessProbe', '/readyz']] as const) {
      assert.deepEqual({ path: agent[probe].httpGet.path, port: agent[probe].httpGet.port }, { path, port: 'metrics' }, probe);
    }
    // the Hubble socket lands in the state hostPath (/var/run is /run, on the host and in the image)
    const socketDir = (settings.hubbleSocket as string).replace(/^\/var\/run\//, '/run/').replace(/\/[^/]+$/, '');
    assert.ok((agent.volumeMounts as Obj[]).some((m) => m.mountPath === socketDir), `no mount at ${socketDir} for the Hubble socket`);
  });

  it('the agent: node name from the downward API, host network, not privileged, the four capabilities', () => {
    const nodeName = (agent.env as Obj[]).find((e) => e.name === 'NODE_NAME')!;
    assert.equal(nodeName.valueFrom.fieldRef.fieldPath, 'spec.nodeName');
    const args = agent.args as string[];
    assert.deepEqual(args.slice(0, 2), ['agent', '--kubernetes']);
    assert.equal(args[args.indexOf('--node-name') + 1], '$(NODE_NAME)');
    assert.equal(pod.hostNetwork, true);
    assert.equal(pod.dnsPolicy, 'ClusterFirstWithHostNet');
    assert.notEqual(pod.hostPID, true);
    const sc = agent.securityContext as Obj;
    assert.equal(sc.privileged, false);
    assert.deepEqual(sc.capabilities, { drop: ['ALL'], add: ['BPF', 'NET_ADMIN', 'PERFMON', 'SYS_RESOURCE'] });
    for (const m of agent.volumeMounts as Obj[]) assert.notEqual(m.mountPropagation, 'Bidirectional', 'Bidirectional propagation needs a privileged container');
    const hostPaths = Object.fromEntries((pod.volumes as Obj[]).filter((v) => v.hostPath).map((v) => [v.hostPath.path, (agent.volumeMounts as Obj[]).find((m) => m.name === v.name)]));
    assert.equal(hostPaths['/sys/fs/bpf']?.mountPath, '/sys/fs/bpf');
    assert.equal(hostPaths['/sys/fs/cgroup']?.readOnly, true);
    assert.equal(hostPaths['/run/l7bpf']?.mountPath, '/run/l7bpf');
    assert.deepEqual(pod.tolerations, [{ operator: 'Exists' }]);
    assert.equal(daemonSet.spec.updateStrategy.type, 'RollingUpdate');
    for (const [k, v] of Object.entries(daemonSet.spec.selector.matchLabels as Obj)) assert.equal(daemonSet.spec.template.metadata.labels[k], v);
    assert.ok(agent.resources.requests.cpu && agent.resources.requests.memory && agent.resources.limits.memory);
  });

  it('the hubble-peer Service selects the agent pods and reaches their Hubble port, node-local, as Cilium\'s', () => {
    const service = one('Service');
    assert.equal(service.metadata.name, 'hubble-peer', 'the name Hubble Relay\'s --peer-service is given for Cilium too');
    assert.deepEqual(service.spec.selector, daemonSet.spec.selector.matchLabels, 'selects exactly the DaemonSet\'s pods');
    for (const [k, v] of Object.entries(service.spec.selector as Obj)) assert.equal(daemonSet.spec.template.metadata.labels[k], v);
    const [port, ...more] = service.spec.ports as Obj[];
    assert.deepEqual(more, [], 'one port');
    const hubble = portOf('hubble');
    assert.ok(port!.targetPort === hubble.containerPort || port!.targetPort === hubble.name, `targetPort ${port!.targetPort} is the agent's Hubble port ${hubble.containerPort}`);
    assert.deepEqual([port!.port, port!.protocol], [80, 'TCP'], 'plaintext: port 80, as Cilium\'s chart without Hubble TLS');
    assert.equal(service.spec.internalTrafficPolicy, 'Local', 'Relay asks the agent on its own node');
    assert.equal(service.spec.type, 'ClusterIP');
  });

  it('the CRDs define what the agent watches and RBAC grants, with the spec left to the agent', () => {
    const crds = named('CustomResourceDefinition');
    for (const [kind, scope, shortName] of [[CNP, 'Namespaced', 'cnp'], [CCNP, 'Cluster', 'ccnp']] as const) {
      const crd = crds.find((c) => c.spec.names.kind === kind.kind);
      assert.ok(crd, `no CRD for ${kind.kind}`);
      const [version, ...others] = crd.spec.versions as Obj[];
      assert.deepEqual(others, [], `${kind.kind}: one version`);
      assert.equal(`/apis/${crd.spec.group}/${version!.name}/${crd.spec.names.plural}`, kind.path, `${kind.kind}: the path the agent lists and watches`);
      assert.equal(crd.metadata.name, `${crd.spec.names.plural}.${crd.spec.group}`);
      assert.deepEqual([crd.spec.scope, version!.served, version!.storage], [scope, true, true]);
      assert.ok((crd.spec.names.shortNames as string[]).includes(shortName));
      const props = version!.schema.openAPIV3Schema.properties as Obj;
      assert.equal(props.spec['x-kubernetes-preserve-unknown-fields'], true, 'spec is the agent\'s to check');
      assert.equal(props.specs.items['x-kubernetes-preserve-unknown-fields'], true);
    }
    const granted = (one('ClusterRole').rules as Obj[]).filter((r) => r.apiGroups.includes('cilium.io')).flatMap((r) => r.resources as string[]);
    assert.deepEqual(crds.map((c) => c.spec.names.plural).sort(), [...granted].sort(), 'RBAC grants the resources the CRDs define');
    assert.ok(docs.filter((d) => d.obj.kind === 'CustomResourceDefinition').every((d) => d.file === CRDS), `CRDs only in ${CRDS}`);
  });

  it('kustomization.yaml lists every manifest but the CRDs and names the DaemonSet\'s image', () => {
    const kustomization = parse(readFileSync(join(DIR, 'kustomization.yaml'), 'utf8')) as Obj;
    assert.deepEqual([kustomization.apiVersion, kustomization.kind], ['kustomize.config.k8s.io/v1beta1', 'Kustomization']);
    assert.deepEqual([...kustomization.resources].sort(), [...new Set(docs.map((d) => d.file))].filter((f) => f !== CRDS).sort());
    const image = String(agent.image).replace(/:[^:/]+$/, '');
    assert.ok((kustomization.images as Obj[]).some((i) => i.name === image), `no images: entry for ${image}`);
  });
});

describe('deploy/kubernetes/Dockerfile', () => {
  const text = readFileSync(DOCKERFILE, 'utf8');
  // every optional check at error level: a warning fails too
  const strict = {
    deprecatedMaintainer: ValidationSeverity.ERROR, directiveCasing: ValidationSeverity.ERROR, emptyContinuationLine: ValidationSeverity.ERROR,
    instructionCasing: ValidationSeverity.ERROR, instructionCmdMultiple: ValidationSeverity.ERROR, instructionEntrypointMultiple: ValidationSeverity.ERROR,
    instructionHealthcheckMultiple: ValidationSeverity.ERROR, instructionJSONInSingleQuotes: ValidationSeverity.ERROR, instructionWorkdirRelative: ValidationSeverity.ERROR,
  };
  const lint = (content: string) => lintDockerfile(content, strict).map((d) => `${DOCKERFILE}:${d.range.start.line + 1}: ${d.message}`);

  it('lints clean with dockerfile-utils, which fails a broken one', () => {
    assert.deepEqual(lint(text), []);
    const broken = lint('FROM debian:trixie-slim\nCOPY only-one-argument\nEXPOSE metrics\nworkdir relative\n');
    assert.equal(broken.length, 4, broken.join('\n'));
  });

  it('apt-get: no recommends, lists removed in the same layer; bases pinned to a release', () => {
    for (const run of text.split(/\n(?=[A-Z]+ )/).filter((i) => i.startsWith('RUN ') && i.includes('apt-get install'))) {
      assert.match(run, /apt-get install -y --no-install-recommends /);
      assert.match(run, /apt-get update/);
      assert.match(run, /rm -rf \/var\/lib\/apt\/lists\/\*/);
    }
    for (const [, image] of text.matchAll(/^FROM (\S+)/gm)) {
      if (!image!.includes(':')) continue; // an earlier stage
      assert.match(image!, /^debian:trixie-slim$/, 'Debian trixie (its nodejs is 20)');
    }
  });

  it('the image carries what the bundle loads at run time (packages it does not bundle, bpf-templates)', (t) => {
    const bundle = process.env.L7BPF_CLI_BUNDLE ?? 'dist/l7bpf.mjs';
    if (!existsSync(bundle)) return t.skip(`no bundle at ${bundle} (node scripts/build.mjs)`);
    const code = ['l7bpf.mjs', 'l7bpf-replay-worker.mjs'].map((f) => readFileSync(join(bundle, '..', f), 'utf8')).join('\n');
    const builtins = new Set(builtinModules);
    const specifiers = [...code.matchAll(/^import\s[^'"\n]*?from\s*"([^"]+)"|\brequire\d*\("([^"]+)"\)/gm)].map((m) => m[1] ?? m[2]!);
    const packages = new Set(specifiers.filter((s) => !s.startsWith('node:') && !s.startsWith('.') && !builtins.has(s))
      .map((s) => s.split('/').slice(0, s.startsWith('@') ? 2 : 1).join('/')));
    assert.deepEqual([...packages].sort(), ['koffi', 'undici'], 'the packages the bundle loads from node_modules (update the Dockerfile when this changes)');
    const copied = new Set([...text.matchAll(/node_modules\/(@[\w.-]+(?:\/[\w.-]+)?|[\w.-]+)/g)].map((m) => m[1]!));
    const needed = closure([...packages]);
    const missing = needed.filter((p) => !copied.has(p) && !copied.has(p.split('/')[0]!));
    assert.deepEqual(missing, [], 'packages the bundle needs that the image does not copy');
    assert.match(text, /cp -r dist bpf-templates \/out\//, 'bpf-templates beside dist (codegen/emit TEMPLATES_DIR: ../bpf-templates from the bundle)');
    assert.match(text, /node \/out\/dist\/l7bpf\.mjs --version/, 'the build stage starts the bundle from what it carries');
  });
});

/** The packages and their installed (optional) dependencies, transitively. */
function closure(names: string[]): string[] {
  const seen = new Set<string>();
  const visit = (name: string) => {
    const manifest = join('node_modules', name, 'package.json');
    if (seen.has(name) || !existsSync(manifest)) return;
    seen.add(name);
    const pkg = JSON.parse(readFileSync(manifest, 'utf8')) as { dependencies?: Obj; optionalDependencies?: Obj };
    for (const dep of Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies })) visit(dep);
  };
  names.forEach(visit);
  return [...seen].sort();
}
