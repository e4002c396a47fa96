/**
 * The exploration loop: run executions under a strategy until it is exhausted, the budget is spent
 * or (by default) a failure is found, and build the report. Single-threaded; see
 * parallel/pool.ts for the worker-thread version.
 *
 * Wall time is read only here, to stop and to report progress, never inside the model.
 */
import { performance } from 'node:perf_hooks';
import type { Yield } from '../kernel/sched.js';
import type { Harness } from './harness.js';
import { Runtime } from './engine/runtime.js';
import type { Scheduler } from './engine/scheduler.js';
import { failureKey } from './outcome.js';
import type { Shard } from './parallel/shard.js';
import { shardExecutions, WHOLE } from './parallel/shard.js';
import type { ProgressStats } from './progress.js';
import type { Counterexample, ExploreReport } from './report/report.js';
import { bestPerKey, compareCounterexamples, emptyOutcomes } from './report/report.js';
import { encodeToken } from './report/token.js';
import { DfsScheduler } from './strategies/dfs.js';
import { PctScheduler } from './strategies/pct.js';
import { PortfolioScheduler } from './strategies/portfolio.js';
import { RandomScheduler } from './strategies/random.js';

export type StrategyName = 'dfs' | 'pct' | 'random' | 'portfolio';
export const STRATEGY_NAMES: readonly StrategyName[] = ['dfs', 'pct', 'random', 'portfolio'];

export interface Budget {
  /**
   * Default: unlimited (DFS stops by itself; other strategies need maxMs or this). For the whole
   * run: a shard runs its part (`shardExecutions`).
   */
  readonly maxExecutions?: number;
  /** Default: 10 000 ms. */
  readonly maxMs?: number;
}

export interface StrategyOptions {
  /** Independence relation for sleep sets (explore() takes it from Harness.independent). */
  readonly independent?: (a: Yield, b: Yield) => boolean;
  /** Default `portfolio`. */
  readonly strategy?: StrategyName;
  /** Base seed of PCT and random; default 0. */
  readonly seed?: number;
  /** DFS preemption bound; default 2. */
  readonly preemptionBound?: number;
  /** PCT bug depth; default 3. */
  readonly pctDepth?: number;
  /** DFS decision depth at which work is cut into shard items; default 4. */
  readonly splitDepth?: number;
  /** DFS caches quiescent states when the harness has a fingerprint; default true. */
  readonly stateCaching?: boolean;
  readonly shard?: Shard;
}

export interface ExploreOptions extends StrategyOptions {
  readonly budget?: Budget;
  /** Stop at the first failing execution; default true. */
  readonly stopOnFailure?: boolean;
  /** Scheduling steps per execution before `step_limit`; default 100 000. */
  readonly maxSteps?: number;
  /** Called about every `progressIntervalMs` (default 250) and once at the end. */
  readonly onProgress?: (s: ProgressStats) => void;
  readonly progressIntervalMs?: number;
  /** Polled with the clock; true stops the run (used to stop sibling workers on a failure). */
  readonly shouldStop?: () => boolean;
  /** Use this scheduler instead of building one from the strategy options. */
  readonly scheduler?: Scheduler;
}

export const DEFAULT_MAX_MS = 10_000;

export function makeScheduler(o: StrategyOptions): Scheduler {
  const shard = o.shard ? { shard: o.shard } : {};
  switch (o.strategy ?? 'portfolio') {
    case 'dfs':
      return new DfsScheduler({
        preemptionBound: o.preemptionBound ?? 2,
        ...(o.splitDepth !== undefined ? { splitDepth: o.splitDepth } : {}),
        ...(o.independent !== undefined ? { independent: o.independent } : {}),
        ...(o.stateCaching !== undefined ? { stateCaching: o.stateCaching } : {}),
        ...shard,
      });
    case 'pct':
      return new PctScheduler({ seed: o.seed ?? 0, depth: o.pctDepth ?? 3, ...shard });
    case 'random':
      return new RandomScheduler({ seed: o.seed ?? 0, ...shard });
    case 'portfolio':
      return new PortfolioScheduler({
        seed: o.seed ?? 0,
        preemptionBound: o.preemptionBound ?? 2,
        pctDepth: o.pctDepth ?? 3,
        ...(o.independent !== undefined ? { independent: o.independent } : {}),
        ...(o.stateCaching !== undefined ? { stateCaching: o.stateCaching } : {}),
        ...shard,
      });
  }
}

export function explore<W>(harness: Harness<W>, opts: ExploreOptions = {}): ExploreReport {
  const independent = opts.independent ?? harness.independent?.bind(harness);
  const sched = opts.scheduler ?? makeScheduler(independent !== undefined ? { ...opts, independent } : opts);
  const rt = new Runtime(harness, opts.maxSteps !== undefined ? { maxSteps: opts.maxSteps } : {});
  // the budget is for the whole run: a shard runs its part of it
  const maxExecutions = shardExecutions(opts.budget?.maxExecutions ?? Infinity, opts.shard ?? WHOLE);
  const maxMs = opts.budget?.maxMs ?? DEFAULT_MAX_MS;
  const stopOnFailure = opts.stopOnFailure ?? true;
  const onProgress = opts.onProgress;
  const interval = opts.progressIntervalMs ?? 250;
  const stateKey = harness.stateKey?.bind(harness);
  const shouldStop = opts.shouldStop;

  const outcomes = emptyOutcomes();
  const failures: Record<string, number> = {};
  const best = new Map<string, Counterexample>();
  const schedules = new Set<number>();
  const states = stateKey ? new Set<string>() : null;
  let executions = 0;
  let abandoned = 0;
  let maxDecisions = 0;
  let maxSteps = 0;
  // The clock is read every `stride` executions: adaptively, so that fast harnesses do not pay
  // for the clock on every execution and slow ones (ms per execution) do not overrun the budget.
  let stride = 1;
  let untilCheck = 0;
  const t0 = performance.now();
  let lastCheck = t0;
  let nextProgress = t0 + interval;

  const stats = (now: number): ProgressStats => ({
    harness: harness.name,
    strategy: sched.name,
    executions,
    elapsedMs: now - t0,
    outcomes: { ...outcomes },
    distinctSchedules: schedules.size,
    maxDecisions,
  });

  while (executions < maxExecutions) {
    if (untilCheck-- === 0) {
      const now = performance.now();
      if (now - lastCheck < 1 && stride < 256) stride *= 2;
      else if (now - lastCheck > 20 && stride > 1) stride >>= 1;
      lastCheck = now;
      untilCheck = stride - 1;
      if (now - t0 >= maxMs) break;
      if (shouldStop !== undefined && shouldStop()) break;
      if (onProgress !== undefined && now >= nextProgress) {
        onProgress(stats(now));
        nextProgress = now + interval;
      }
    }
    if (!sched.begin()) break;
    const r = rt.run(sched);
    if (!sched.end(r)) {
      abandoned++;
      continue;
    }
    executions++;
    const o = r.outcome;
    outcomes[o.kind]++;
    schedules.add(r.hash);
    if (r.decisions > maxDecisions) maxDecisions = r.decisions;
    if (r.steps > maxSteps) maxSteps = r.steps;
    if (states !== null && stateKey !== undefined) states.add(stateKey(r.world as W));
    if (o.kind !== 'ok') {
      const key = failureKey(o);
      failures[key] = (failures[key] ?? 0) + 1;
      const prev = best.get(key);
      if (prev === undefined || r.preemptions < prev.preemptions || (r.preemptions === prev.preemptions && r.lastDeviation + 1 <= prev.choices.length)) {
        const choices = r.schedule();
        const t = sched.tag();
        const c: Counterexample = { key, outcome: o, token: encodeToken({ strategy: t.strategy, seed: t.seed, choices }), choices, preemptions: r.preemptions, steps: r.steps };
        if (prev === undefined || compareCounterexamples(c, prev) < 0) best.set(key, c);
      }
      if (stopOnFailure) break;
    }
  }
  const end = performance.now();
  if (onProgress !== undefined) onProgress(stats(end));
  return {
    v: 1,
    harness: harness.name,
    strategy: sched.name,
    shard: opts.shard ?? null,
    executions,
    abandoned,
    complete: sched.complete,
    elapsedMs: end - t0,
    outcomes,
    failures,
    counterexamples: bestPerKey(best.values()),
    coverage: {
      distinctSchedules: schedules.size,
      distinctStates: states === null ? null : states.size,
      quiescentStates: sched.cachedStates ?? null,
      maxDecisions,
      maxSteps,
    },
  };
}
