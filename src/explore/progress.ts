/**
 * Live statistics of an exploration, and the one-line `\r` status the CLI prints.
 */
import type { OutcomeKind } from './outcome.js';

export interface ProgressStats {
  readonly harness: string;
  readonly strategy: string;
  readonly executions: number;
  readonly elapsedMs: number;
  readonly outcomes: Readonly<Record<OutcomeKind, number>>;
  readonly distinctSchedules: number;
  readonly maxDecisions: number;
}

export function execsPerSecond(s: { executions: number; elapsedMs: number }): number {
  return s.elapsedMs > 0 ? (s.executions * 1000) / s.elapsedMs : 0;
}

/** Compact number: 1234 -> 1.2k, 2500000 -> 2.5M. */
export function compact(n: number): string {
  if (n < 1000) return String(Math.round(n));
  if (n < 1e6) return `${(n / 1e3).toFixed(n < 1e4 ? 1 : 0)}k`;
  return `${(n / 1e6).toFixed(n < 1e7 ? 1 : 0)}M`;
}

/**
 * One status line starting with `\r` and padded to `width` so that it overwrites the previous one:
 *   `\r[dfs] 12.3k execs  45.1k/s  sched 12.3k  depth 9  fail 0  deadlock 0  3.2s`
 */
export function progressLine(s: ProgressStats, width = 79): string {
  const o = s.outcomes;
  const fails = o.invariant + o.kernel_bug + o.kernel_hang + o.model_error + o.step_limit;
  const text =
    `[${s.strategy}] ${compact(s.executions)} execs  ${compact(execsPerSecond(s))}/s  ` +
    `sched ${compact(s.distinctSchedules)}  depth ${s.maxDecisions}  fail ${compact(fails)}  deadlock ${compact(o.deadlock)}  ` +
    `${(s.elapsedMs / 1000).toFixed(1)}s`;
  return `\r${text.length < width ? text.padEnd(width) : text}`;
}
