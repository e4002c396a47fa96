/**
 * A deterministic digest of what the scenario runner and the explorer make of the whole corpus:
 * for every scenario file, the runner's result, then (for files with threads, on the fixed kernel
 * and on the buggy one if the file names it) an exhaustive-or-bounded DFS exploration report
 * without its timing and the JSONL traces of its first counterexamples. Run it in two checkouts
 * and compare the outputs to show that a change left both untouched:
 *   npx tsx bench/explore-digest.ts > a.txt   (in each checkout)   cmp a.txt b.txt
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { loadScenario } from '../src/scenario/load.js';
import { scenarioHarness } from '../src/scenario/harness.js';
import { runScenario } from '../src/scenario/exec.js';
import type { ProfileSwitches } from '../src/kernel/profile.js';
import { explore, renderJsonl, replay } from '../src/explore/index.js';

function walk(d: string): string[] {
  const out: string[] = [];
  for (const f of readdirSync(d).sort()) {
    const p = join(d, f);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (f.endsWith('.yaml')) out.push(p);
  }
  return out;
}

const big = (_k: string, x: unknown): unknown => (typeof x === 'bigint' ? `${x}n` : x);
for (const f of walk('scenarios')) {
  let sc;
  try {
    sc = loadScenario(f);
  } catch (e) {
    console.log(f, 'LOAD', (e as Error).message);
    continue;
  }
  console.log(f, 'RUN', JSON.stringify(runScenario(sc), big));
  if (!sc.threads.length) continue;
  const b = sc.explore.buggy;
  const variants: [string, { profile?: string; switches?: Partial<ProfileSwitches> }][] = [['fixed', {}]];
  if (b) variants.push(['buggy', { profile: b.profile, switches: b.switches as Partial<ProfileSwitches> | undefined }]);
  for (const [name, o] of variants) {
    const h = scenarioHarness(sc, o);
    const rep = explore(h, { strategy: 'dfs', preemptionBound: 2, stopOnFailure: false, budget: { maxExecutions: 20_000, maxMs: 1e9 } });
    const { elapsedMs: _elapsed, ...rest } = rep;
    console.log(f, name, 'EXPLORE', JSON.stringify(rest));
    for (const c of rep.counterexamples.slice(0, 3)) console.log(f, name, 'TRACE', renderJsonl(replay(h, c.token, { trace: true })));
  }
}
