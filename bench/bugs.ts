/**
 * Issue 5 speed figure: time to the first counterexample for every catalogued bug (on its buggy
 * kernel): median of 5 explorations with one harness (the first of them also builds the world and
 * takes its snapshot). Executions per second: bench/explore-rate.ts.
 *   npx tsx bench/bugs.ts
 */
import { readdirSync } from 'node:fs';
import { loadScenario } from '../src/scenario/load.js';
import { scenarioHarness } from '../src/scenario/harness.js';
import { explore } from '../src/explore/index.js';
import type { ProfileSwitches } from '../src/kernel/profile.js';

const dir = 'scenarios/bugs';
const rows: string[] = [];
const times: number[] = [];
for (const f of readdirSync(dir).filter((x) => x.endsWith('.yaml')).sort()) {
  const sc = loadScenario(`${dir}/${f}`);
  const b = sc.explore.buggy;
  const buggyExpect = b ? b.expect : sc.explore.expect !== 'none' ? sc.explore.expect : undefined;
  let ttf = '';
  if (buggyExpect) {
    const h = scenarioHarness(sc, b ? { profile: b.profile, switches: b.switches as Partial<ProfileSwitches> | undefined } : {});
    const runs: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      const r = explore(h, { strategy: sc.explore.strategy ?? 'dfs', preemptionBound: sc.explore.preemption_bound ?? 2 });
      runs.push(performance.now() - t);
      if (!Object.keys(r.failures).length) throw new Error(`${f}: no counterexample`);
    }
    runs.sort((x, y) => x - y);
    times.push(runs[2]!);
    ttf = `${runs[2]!.toFixed(1)} ms`;
  }
  rows.push(`| ${f} | ${ttf} |`);
}
times.sort((x, y) => x - y);
console.log(`time to first counterexample, median over ${times.length} bugs: ${times[Math.floor(times.length / 2)]!.toFixed(1)} ms (target < 1 s)\n`);
console.log('| bug scenario | first counterexample (median of 5) |');
console.log('|---|---|');
for (const r of rows) console.log(r);
