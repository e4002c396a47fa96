/**
 * Issue 5 speed figure: explorer executions per second on the bug catalogue's scenarios (the
 * seed's v9 findings first), on their fixed kernel, where no counterexample stops the run.
 *
 *   npm run build && npx tsx bench/explore-rate.ts [--ms 2000] [--src]
 *
 * Runs the compiled model in dist/ (what `vfiolab explore` runs; `--src` takes the TypeScript
 * sources through tsx instead, about 15 % slower). For each scenario with threads, after a warm-up:
 *   - random: the random strategy for `--ms` of wall time, executions per second of CPU time of
 *     this process (the machine's other load distorts it less than wall time);
 *   - dfs: exhaustive DFS at the scenario's preemption bound, repeated for `--ms`, same unit;
 *   - fresh setup: the random strategy with `snapshot: false`, i.e. the scenario's setup steps
 *     run again for every execution (how the explorer worked before world snapshots).
 */
import { readdirSync } from 'node:fs';
import { existsSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';

type Mod = Record<string, unknown>;
const args = process.argv.slice(2);
const ms = Number(args[args.indexOf('--ms') + 1] ?? 0) || 2000;
const fromSrc = args.includes('--src') || !existsSync('dist/explore/index.js');
const base = fromSrc ? '../src' : '../dist';
const ext = fromSrc ? 'ts' : 'js';
const { loadScenario } = (await import(`${base}/scenario/load.${ext}`)) as Mod as { loadScenario: (f: string) => { threads: unknown[]; explore: { preemption_bound?: number } } };
const { scenarioHarness } = (await import(`${base}/scenario/harness.${ext}`)) as Mod as { scenarioHarness: (sc: unknown, o?: { snapshot?: boolean }) => unknown };
const { explore } = (await import(`${base}/explore/index.${ext}`)) as Mod as {
  explore: (h: unknown, o: Record<string, unknown>) => { executions: number; complete: boolean; coverage: { maxSteps: number } };
};

/** Executions per CPU second of `run` (which returns executions done) repeated for `ms`. */
function rate(run: () => number): number {
  run();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < ms) n += run();
  const c = process.cpuUsage(c0);
  return n / ((c.user + c.system) / 1e6);
}

const k = (x: number): string => `${(x / 1000).toFixed(x < 10_000 ? 1 : 0)}k/s`;
const SEED = ['v9-mlock-gap.yaml', 'v9-freed-domain-list-add.yaml', 'v9-pin-without-pin-pages.yaml', 'v9-refcounted-pins-at-detach.yaml'];
const dir = 'scenarios/bugs';
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.yaml') && !f.endsWith('-buggy.yaml'))
  .sort((a, b) => Number(SEED.includes(b)) - Number(SEED.includes(a)) || a.localeCompare(b));

console.log(`explorer executions/s — ${new Date().toISOString().slice(0, 16)} UTC, ${fromSrc ? 'src via tsx' : 'dist'}, Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model.trim() ?? '?'}, load ${loadavg().map((x) => x.toFixed(1)).join(' ')}, ${ms} ms per figure, CPU time\n`);
console.log('| scenario | steps/execution | random | dfs (executions/run) | random, fresh setup |');
console.log('|---|---|---|---|---|');
for (const f of files) {
  const sc = loadScenario(`${dir}/${f}`);
  if (sc.threads.length === 0) continue;
  const h = scenarioHarness(sc);
  const bound = sc.explore.preemption_bound ?? 2;
  const dfs = explore(h, { strategy: 'dfs', preemptionBound: bound });
  const random = rate(() => explore(h, { strategy: 'random', seed: 1, stopOnFailure: false, budget: { maxExecutions: 20_000 } }).executions);
  const dfsRate = rate(() => explore(h, { strategy: 'dfs', preemptionBound: bound }).executions);
  const fresh = scenarioHarness(sc, { snapshot: false });
  const freshRate = rate(() => explore(fresh, { strategy: 'random', seed: 1, stopOnFailure: false, budget: { maxExecutions: 2_000 } }).executions);
  const seed = SEED.includes(f) ? ' (seed)' : '';
  console.log(`| ${f}${seed} | ${dfs.coverage.maxSteps} | ${k(random)} | ${k(dfsRate)} (${dfs.executions}${dfs.complete ? '' : '+'}) | ${k(freshRate)} |`);
}
