// Long fuzz campaign for the simulator's reader/decoder/replay: npx tsx bench/fuzz-sim.ts [cases=100000] [seed=1]
import { fuzzCampaign } from '../sim/builder/mutate.ts';

const cases = Number(process.argv[2] ?? 100_000);
const seed = Number(process.argv[3] ?? 1);
const t = performance.now();
const r = fuzzCampaign(cases, seed);
const s = (performance.now() - t) / 1000;
console.log(`fuzz-sim: ${r.cases} cases (seed ${seed}), ${r.packets} packets replayed, ${s.toFixed(1)} s, slowest input ${r.maxMs.toFixed(1)} ms, no crash`);
