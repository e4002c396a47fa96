/**
 * Running one given schedule: replay of a token, and the building block of shrinking and traces.
 */
import type { Harness } from './harness.js';
import type { TraceEvent, Tracer } from './engine/runtime.js';
import { Runtime } from './engine/runtime.js';
import type { Outcome } from './outcome.js';
import { decodeToken, encodeToken } from './report/token.js';
import { ReplayScheduler } from './strategies/replay.js';

export interface ScheduleRun {
  readonly harness: string;
  readonly threads: readonly { readonly tid: number; readonly name: string; readonly daemon: boolean }[];
  readonly outcome: Outcome;
  /** The canonical schedule actually followed (tolerant runs may differ from the input). */
  readonly choices: readonly number[];
  readonly preemptions: number;
  readonly steps: number;
  readonly decisions: number;
  /** Every scheduling step, when traced. */
  readonly events: readonly TraceEvent[] | null;
}

export interface RunScheduleOptions {
  /** Take the default choice where the schedule names a thread that is not enabled. */
  readonly tolerant?: boolean;
  readonly trace?: boolean;
  readonly maxSteps?: number;
}

export function runSchedule<W>(harness: Harness<W>, choices: readonly number[], o: RunScheduleOptions = {}): ScheduleRun {
  const rt = new Runtime(harness, o.maxSteps !== undefined ? { maxSteps: o.maxSteps } : {});
  const sched = new ReplayScheduler(choices, o.tolerant ?? false);
  sched.begin();
  const events: TraceEvent[] | null = o.trace === true ? [] : null;
  const tracer: Tracer | undefined = events === null ? undefined : { event: (e) => void events.push(e) };
  const r = rt.run(sched, tracer);
  const threads = harness.threads(r.world as W).map((t, i) => ({ tid: i + 1, name: t.name, daemon: t.daemon === true }));
  return {
    harness: harness.name,
    threads,
    outcome: r.outcome,
    choices: r.schedule(),
    preemptions: r.preemptions,
    steps: r.steps,
    decisions: r.decisions,
    events,
  };
}

export interface Replayed extends ScheduleRun {
  /** The token, re-encoded from its fields. */
  readonly token: string;
}

/** Reproduce the execution a token names, exactly (throws ReplayDivergence if it cannot). */
export function replay<W>(harness: Harness<W>, token: string, o: { trace?: boolean; maxSteps?: number } = {}): Replayed {
  const t = decodeToken(token);
  const run = runSchedule(harness, t.choices, { ...o, tolerant: false });
  return { ...run, token: encodeToken(t) };
}
