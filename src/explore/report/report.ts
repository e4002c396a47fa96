/**
 * Exploration reports: what one run (or one shard of a run) found, and how shard reports merge.
 *
 * A report keeps, per failure key, the best counterexample by a stable order (fewest preemptions,
 * then shortest schedule, then token text), not the first one found: the best one does not depend
 * on how the work was split, so merging shard reports of an exhaustive run gives the same
 * counterexamples as the unsharded run.
 */
import type { Outcome, OutcomeKind } from '../outcome.js';
import { OUTCOME_KINDS } from '../outcome.js';
import type { Shard } from '../parallel/shard.js';

export interface Counterexample {
  /** `failureKey(outcome)`. */
  readonly key: string;
  readonly outcome: Outcome;
  readonly token: string;
  /** Canonical schedule (choices up to the last non-default one). */
  readonly choices: readonly number[];
  readonly preemptions: number;
  readonly steps: number;
}

export interface ExploreReport {
  readonly v: 1;
  readonly harness: string;
  readonly strategy: string;
  /** null for an unsharded run or a merged report. */
  readonly shard: Shard | null;
  /** Executions run and counted (abandoned shard prefixes are not counted). */
  readonly executions: number;
  /**
   * Executions abandoned by the strategy and not counted: the roots of other shards' subtrees,
   * sleep-set blocked schedules, and schedules that reached an already explored quiescent state.
   */
  readonly abandoned: number;
  /** True when the strategy ran out of schedules (exhaustive DFS) rather than out of budget. */
  readonly complete: boolean;
  readonly elapsedMs: number;
  readonly outcomes: Readonly<Record<OutcomeKind, number>>;
  /** Failing executions per failure key. */
  readonly failures: Readonly<Record<string, number>>;
  /** Best counterexample per failure key, in stable order (`compareCounterexamples`). */
  readonly counterexamples: readonly Counterexample[];
  readonly coverage: {
    /** Distinct schedules (hash of the choices); summed over shards when merged. */
    readonly distinctSchedules: number;
    /** Distinct final states (harness.stateKey), null without stateKey; summed when merged. */
    readonly distinctStates: number | null;
    /** Distinct quiescent states recorded by DFS state caching, null without; summed when merged. */
    readonly quiescentStates: number | null;
    readonly maxDecisions: number;
    readonly maxSteps: number;
  };
}

export function compareCounterexamples(a: Counterexample, b: Counterexample): number {
  return a.preemptions - b.preemptions || a.choices.length - b.choices.length || cmp(a.token, b.token) || cmp(a.key, b.key);
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function emptyOutcomes(): Record<OutcomeKind, number> {
  const o = {} as Record<OutcomeKind, number>;
  for (const k of OUTCOME_KINDS) o[k] = 0;
  return o;
}

/** The first counterexample of a report in the stable order, if any. */
export function firstCounterexample(r: ExploreReport): Counterexample | undefined {
  return r.counterexamples[0];
}

/** Keep the best counterexample per key; returns them sorted. */
export function bestPerKey(list: Iterable<Counterexample>): Counterexample[] {
  const best = new Map<string, Counterexample>();
  for (const c of list) {
    const b = best.get(c.key);
    if (b === undefined || compareCounterexamples(c, b) < 0) best.set(c.key, c);
  }
  return [...best.values()].sort(compareCounterexamples);
}

/** Combine the reports of the shards of one run (or of several runs of one harness). */
export function mergeReports(reports: readonly ExploreReport[]): ExploreReport {
  const first = reports[0];
  if (first === undefined) throw new Error('mergeReports: no reports');
  const outcomes = emptyOutcomes();
  const failures: Record<string, number> = {};
  let executions = 0;
  let elapsedMs = 0;
  let distinctSchedules = 0;
  let distinctStates: number | null = null;
  let quiescentStates: number | null = null;
  let abandoned = 0;
  let maxDecisions = 0;
  let maxSteps = 0;
  const strategies = new Set<string>();
  for (const r of reports) {
    if (r.harness !== first.harness) throw new Error(`mergeReports: harness ${r.harness} vs ${first.harness}`);
    strategies.add(r.strategy);
    executions += r.executions;
    elapsedMs = Math.max(elapsedMs, r.elapsedMs);
    for (const k of Object.keys(outcomes) as OutcomeKind[]) outcomes[k] += r.outcomes[k] ?? 0; // reports from before a kind existed lack it
    for (const [k, n] of Object.entries(r.failures)) failures[k] = (failures[k] ?? 0) + n;
    distinctSchedules += r.coverage.distinctSchedules;
    if (r.coverage.distinctStates !== null) distinctStates = (distinctStates ?? 0) + r.coverage.distinctStates;
    if (r.coverage.quiescentStates !== null) quiescentStates = (quiescentStates ?? 0) + r.coverage.quiescentStates;
    abandoned += r.abandoned;
    maxDecisions = Math.max(maxDecisions, r.coverage.maxDecisions);
    maxSteps = Math.max(maxSteps, r.coverage.maxSteps);
  }
  return {
    v: 1,
    harness: first.harness,
    strategy: [...strategies].sort().join('+'),
    shard: null,
    executions,
    abandoned,
    complete: reports.every((r) => r.complete),
    elapsedMs,
    outcomes,
    failures,
    counterexamples: bestPerKey(reports.flatMap((r) => r.counterexamples)),
    coverage: { distinctSchedules, distinctStates, quiescentStates, maxDecisions, maxSteps },
  };
}

/**
 * An ExploreReport read back from JSON (a shard's output file), checked enough to merge safely:
 * version, harness, counts and counterexample tokens. Throws a message naming what is wrong.
 */
export function parseReport(x: unknown, source = 'report'): ExploreReport {
  const bad = (what: string): never => {
    throw new Error(`${source}: not a v1 explore report (${what})`);
  };
  if (typeof x !== 'object' || x === null) return bad('not an object');
  const r = x as Partial<Record<keyof ExploreReport, unknown>>;
  if (r.v !== 1) bad(`v is ${JSON.stringify(r.v)}`);
  if (typeof r.harness !== 'string') bad('no harness');
  if (typeof r.strategy !== 'string') bad('no strategy');
  if (typeof r.executions !== 'number' || !Number.isInteger(r.executions) || r.executions < 0) bad('bad executions');
  if (typeof r.complete !== 'boolean') bad('no complete');
  if (typeof r.outcomes !== 'object' || r.outcomes === null) bad('no outcomes');
  for (const [k, n] of Object.entries(r.outcomes as object)) if (typeof n !== 'number') bad(`outcomes.${k}`);
  if (typeof r.failures !== 'object' || r.failures === null) bad('no failures');
  if (!Array.isArray(r.counterexamples)) bad('no counterexamples');
  for (const c of r.counterexamples as unknown[]) {
    const ce = c as Partial<Counterexample> | null;
    if (typeof ce?.key !== 'string' || typeof ce.token !== 'string' || !ce.token.startsWith('v1:') || !Array.isArray(ce.choices)) bad('bad counterexample');
  }
  const cov = r.coverage as Partial<ExploreReport['coverage']> | undefined;
  if (typeof cov?.distinctSchedules !== 'number') bad('no coverage');
  // fields added after v1 reports were first written default to "not measured"
  return {
    ...(x as ExploreReport),
    abandoned: typeof r.abandoned === 'number' ? r.abandoned : 0,
    outcomes: { ...emptyOutcomes(), ...(r.outcomes as Record<OutcomeKind, number>) },
    coverage: { ...(cov as ExploreReport['coverage']), quiescentStates: typeof cov?.quiescentStates === 'number' ? cov.quiescentStates : null },
  };
}
