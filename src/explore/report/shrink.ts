/**
 * Shrinking a failing schedule: find a schedule that fails the same way (same `failureKey`) with
 * fewer preemptions, or as many and a shorter canonical schedule.
 *
 * Greedy to a fixpoint over three kinds of candidates, cheapest-to-read results first:
 *   1. a prefix of the schedule (the rest runs with default choices, i.e. without switching);
 *   2. one choice replaced by the default choice (`DEFAULT`), the rest followed where possible;
 *   3. one choice deleted, the later ones moved up by one.
 * Candidates run in tolerant replay: a choice naming a thread that is not enabled becomes the
 * default choice. The schedule kept is the one the run actually followed, in canonical form, so
 * the result always replays strictly.
 */
import type { Harness } from '../harness.js';
import type { Outcome } from '../outcome.js';
import { failureKey } from '../outcome.js';
import { runSchedule } from '../replay.js';
import { DEFAULT } from '../strategies/replay.js';
import { encodeToken } from './token.js';

export interface ShrinkResult {
  readonly choices: readonly number[];
  readonly token: string;
  readonly outcome: Outcome;
  readonly preemptions: number;
  /** Schedules tried. */
  readonly attempts: number;
  /** Preemptions and schedule length before shrinking. */
  readonly from: { readonly preemptions: number; readonly length: number };
}

export interface ShrinkOptions {
  /** Stop after this many candidate runs; default 2000. */
  readonly maxAttempts?: number;
  readonly maxSteps?: number;
  /** Strategy and seed recorded in the resulting token; default `shrink`, `0`. */
  readonly strategy?: string;
  readonly seed?: string;
}

export function shrink<W>(harness: Harness<W>, choices: readonly number[], o: ShrinkOptions = {}): ShrinkResult {
  const maxAttempts = o.maxAttempts ?? 2000;
  const run = (c: readonly number[]) => runSchedule(harness, c, { tolerant: true, ...(o.maxSteps !== undefined ? { maxSteps: o.maxSteps } : {}) });
  const start = run(choices);
  if (start.outcome.kind === 'ok') throw new Error('shrink: the schedule does not fail');
  const key = failureKey(start.outcome);
  let best = start;
  let attempts = 1;

  const better = (c: typeof start): boolean =>
    c.outcome.kind !== 'ok' &&
    failureKey(c.outcome) === key &&
    (c.preemptions < best.preemptions || (c.preemptions === best.preemptions && c.choices.length < best.choices.length));

  function* candidates(s: readonly number[]): Generator<readonly number[]> {
    for (let len = 0; len < s.length; len++) yield s.slice(0, len);
    for (let i = 0; i < s.length; i++) {
      const c = s.slice();
      c[i] = DEFAULT;
      yield c;
    }
    for (let i = 0; i < s.length; i++) yield [...s.slice(0, i), ...s.slice(i + 1)];
  }

  let improved = true;
  while (improved && attempts < maxAttempts) {
    improved = false;
    for (const c of candidates(best.choices)) {
      if (attempts >= maxAttempts) break;
      attempts++;
      const r = run(c);
      if (better(r)) {
        best = r;
        improved = true;
        break;
      }
    }
  }
  return {
    choices: best.choices,
    token: encodeToken({ strategy: o.strategy ?? 'shrink', seed: o.seed ?? '0', choices: best.choices }),
    outcome: best.outcome,
    preemptions: best.preemptions,
    attempts,
    from: { preemptions: start.preemptions, length: start.choices.length },
  };
}
