/**
 * The contract between the runtime (which runs threads) and a strategy (which picks them).
 *
 * The runtime asks the scheduler only at decision points: scheduling points where at least two
 * threads are enabled. Forced moves (one enabled thread) are taken without asking and are not part
 * of the recorded schedule, so a schedule is exactly the list of choices at decision points.
 */
import type { Yield } from '../../kernel/sched.js';
import type { ExecResult } from './runtime.js';

/**
 * A decision point. The runtime owns one instance and mutates it in place (no allocation per
 * decision); a scheduler must not keep a reference to `enabled` beyond the call.
 */
export interface DecisionPoint {
  /** Enabled thread ids in ascending order; only the first `n` entries are valid. */
  readonly enabled: Int32Array;
  n: number;
  /** Number of threads in the execution (tids are 1..threads). */
  threads: number;
  /** Thread that ran the previous scheduling step, 0 before the first one. */
  current: number;
  /** Is `current` among the enabled threads? Switching away from it is then a preemption. */
  currentEnabled: boolean;
  /** Scheduling steps (resumes) taken so far in this execution, forced ones included. */
  step: number;
  /** Decision points passed so far in this execution (index of this decision in the schedule). */
  depth: number;
  /** Preemptions taken so far in this execution. */
  preemptions: number;
  /**
   * Where each thread is parked, by tid - 1: its yield, or null while it is in user space (its
   * next move starts a step). Read-only view of the runtime's own array.
   */
  pending: readonly (Yield | null)[];
}

export interface Scheduler {
  /** Strategy name as it appears in replay tokens: `dfs`, `pct`, `random`, `replay`. */
  readonly name: string;
  /** True once the strategy has nothing left to explore (DFS exhausted its tree). */
  readonly complete: boolean;
  /** Prepare the next execution; false when there is none (then `complete` says why). */
  begin(): boolean;
  /** Pick one of `p.enabled[0..n)`; return -1 to abandon the execution (sharding prunes). */
  choose(p: DecisionPoint): number;
  /** The execution ended (also after -1). Return false if it must not be counted. */
  end(r: ExecResult): boolean;
  /**
   * When true, `choose` is also called at forced moves (p.n === 1), which are not decisions and
   * are not recorded; it must then return p.enabled[0], or -1 to abandon the execution. Used by
   * sleep sets, which must see every move.
   */
  readonly seesForcedMoves?: boolean;
  /**
   * Called at quiescent points (every thread in user space, some with steps left) when the
   * harness has a fingerprint: `key()` computes (at some cost) a key combining the world's
   * fingerprint and every thread's step index; `p` is the last decision point (its `current`,
   * `preemptions` and `depth` are up to date; `depth` counts the decisions made so far). Return
   * false to abandon the execution because this state has been explored already.
   */
  quiescent?(key: () => number, p: DecisionPoint): boolean;
  /** Quiescent states recorded by state caching so far (undefined: no caching). */
  readonly cachedStates?: number;
  /** Strategy and seed of the execution just run, for its replay token. */
  tag(): { strategy: string; seed: string };
}

/**
 * The choice every strategy makes when it has no reason to switch: keep running the current
 * thread if it can run, else the lowest enabled thread id. Replays past the end of a recorded
 * schedule continue with it, so trailing default choices need not be recorded.
 */
export function defaultChoice(p: DecisionPoint): number {
  return p.currentEnabled ? p.current : (p.enabled[0] as number);
}

export function isEnabledIn(p: DecisionPoint, tid: number): boolean {
  const e = p.enabled;
  for (let i = 0; i < p.n; i++) if (e[i] === tid) return true;
  return false;
}
