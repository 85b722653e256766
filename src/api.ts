// l7bpf as a library: the pipeline's entry points, the same calls the CLI makes.
//   compile(policy files, out dir)   policies -> PolicyIR -> policy.h + l7bpf.o + manifest.json
//   verify(dir)                      load the object without attaching it (root)
//   deploy / undeploy / status       attach to endpoints' veths, swap, detach (root)
//   decide(policies, flow, request)  the oracle: what the policy says about one request
//   replayCapture(capture, ...)      a capture through the simulator (and an object): summary, rows, flows
//   savedPolicies / checkObjectMatches  the policies an object was compiled from
// Replay's building blocks (captures, the engine, the oracle as its judge) are exported too.
import { loadPolicies } from './policy/index.ts';
import { savePolicySources } from './replay/object.ts';
import { lower } from '../codegen/ir/lower.ts';
import { emitObject, DEFAULT_LIMITS, type EmitResult, type Limits } from '../codegen/emit/index.ts';
import { auditOverridden } from './check/audit.ts';
import type { Diagnostic } from './source/diagnostics.ts';

export { loadPolicies, parsePolicies, readPolicyFiles, PolicyError, formatDiagnostic, type Policy } from './policy/index.ts';
export { loadInventory, parseInventory, type Inventory } from './endpoints/index.ts';
export { decide, parseRequestHead, type Verdict } from './verdict/index.ts';
export { lower } from '../codegen/ir/lower.ts';
export { emitObject, DEFAULT_LIMITS, type EmitResult, type Limits, type Manifest } from '../codegen/emit/index.ts';
export { verifyDir as verify, type VerifyReport } from './deploy/verify.ts';
export { deploy, DeployError, type DeployRequest, type DeployResult, type DeployEnv } from './deploy/deploy.ts';
export { undeploy, type UndeployResult } from './deploy/undeploy.ts';
export { allStatus, deploymentStatus, type DeploymentStatus } from './deploy/status.ts';
export { openLibbpf, KernelFeatureError, VerifierError, LoadError } from './loader/index.ts';
export { readCapture, ReplayEngine } from '../sim/index.ts';
export { oracleJudge } from './replay/judge.ts';
export { replayCapture, type ReplayCaptureOptions, type ReplayRun } from './replay/run.ts';
export { savePolicySources, savedPolicies, checkObjectMatches } from './replay/object.ts';

export interface CompileOptions {
  /** bytes of request head inspected (default: the oracle's head limit) */
  readonly inspectWindow?: number;
  /** the test build: rate limits on skb->tstamp (replay --kernel drives them with capture times) */
  readonly testClock?: boolean;
}

/** Policy files -> the object, its header and manifest.json in `out`, and the policy sources
 * beside them; `warnings`: audited policies an enforced one overrides (src/check/audit.ts). */
export function compile(policyFiles: readonly string[], out: string, opts: CompileOptions = {}): EmitResult & { readonly warnings: readonly Diagnostic[] } {
  const limits: Limits = { ...DEFAULT_LIMITS, ...(opts.inspectWindow ? { inspectWindow: opts.inspectWindow } : {}), ...(opts.testClock ? { testClock: true } : {}) };
  const policies = loadPolicies(policyFiles);
  const r = emitObject(lower(policies), out, limits);
  savePolicySources(policyFiles, out);
  return { ...r, warnings: auditOverridden(policies) };
}
