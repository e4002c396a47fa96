/**
 * Follows a recorded schedule (the choices at decision points), then continues with the default
 * choice (no switch) once the schedule is used up. Runs exactly one execution.
 *
 * Strict mode (replaying a token) fails loudly if a recorded thread is not enabled: the model or
 * the harness changed since the token was made. Tolerant mode (used by shrinking) takes the
 * default choice instead; the entry `DEFAULT` (-1) also asks for the default choice.
 */
import type { ExecResult } from '../engine/runtime.js';
import type { DecisionPoint, Scheduler } from '../engine/scheduler.js';
import { defaultChoice, isEnabledIn } from '../engine/scheduler.js';

export const DEFAULT = -1;

export class ReplayDivergence extends Error {
  override name = 'ReplayDivergence';
}

export class ReplayScheduler implements Scheduler {
  readonly name = 'replay';
  complete = false;

  constructor(
    private readonly choices: readonly number[],
    private readonly tolerant = false,
  ) {}

  begin(): boolean {
    if (this.complete) return false;
    this.complete = true;
    return true;
  }

  choose(p: DecisionPoint): number {
    const c = this.choices[p.depth];
    if (c === undefined || c === DEFAULT) return defaultChoice(p);
    if (isEnabledIn(p, c)) return c;
    if (this.tolerant) return defaultChoice(p);
    const en = Array.from(p.enabled.subarray(0, p.n)).join(',');
    throw new ReplayDivergence(`schedule diverged at decision ${p.depth}: thread ${c} is not enabled (enabled: ${en})`);
  }

  end(r: ExecResult): boolean {
    return !r.pruned;
  }

  tag(): { strategy: string; seed: string } {
    return { strategy: 'replay', seed: '0' };
  }
}
