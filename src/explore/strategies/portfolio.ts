/**
 * Portfolio: round-robins several strategies within one budget, `slice` executions at a time
 * (default DFS with a preemption bound, PCT, random). DFS is good at shallow bugs and proves their
 * absence up to the bound; PCT and random reach deep schedules DFS would take too long to get to.
 *
 * The portfolio is complete when every member is, or when an unbounded DFS member is (it has then
 * run every schedule there is).
 */
import type { Yield } from '../../kernel/sched.js';
import type { ExecResult } from '../engine/runtime.js';
import type { DecisionPoint, Scheduler } from '../engine/scheduler.js';
import type { Shard } from '../parallel/shard.js';
import { DfsScheduler } from './dfs.js';
import { PctScheduler } from './pct.js';
import { RandomScheduler } from './random.js';

export interface PortfolioOptions {
  readonly seed?: number;
  readonly preemptionBound?: number;
  readonly pctDepth?: number;
  readonly shard?: Shard;
  /** Independence relation for the DFS member's sleep sets. */
  readonly independent?: (a: Yield, b: Yield) => boolean;
  /** State caching of the DFS member (default true). */
  readonly stateCaching?: boolean;
  /** Executions given to a member before moving to the next; default 64. */
  readonly slice?: number;
  /** Members to use instead of the default trio. */
  readonly members?: readonly Scheduler[];
}

export class PortfolioScheduler implements Scheduler {
  readonly name = 'portfolio';
  readonly members: readonly Scheduler[];
  private readonly slice: number;
  private active = 0;
  private used = 0;

  constructor(o: PortfolioOptions = {}) {
    const shard = o.shard;
    const seed = o.seed ?? 0;
    this.members = o.members ?? [
      new DfsScheduler({
        preemptionBound: o.preemptionBound ?? 2,
        ...(shard ? { shard } : {}),
        ...(o.independent ? { independent: o.independent } : {}),
        ...(o.stateCaching !== undefined ? { stateCaching: o.stateCaching } : {}),
      }),
      new PctScheduler({ seed, depth: o.pctDepth ?? 3, ...(shard ? { shard } : {}) }),
      new RandomScheduler({ seed: seed ^ 0x5eed, ...(shard ? { shard } : {}) }),
    ];
    if (this.members.length === 0) throw new Error('portfolio needs at least one member');
    this.slice = Math.max(1, o.slice ?? 64);
  }

  /** The active member decides; only the DFS member with sleep sets looks at forced moves. */
  get seesForcedMoves(): boolean {
    return (this.members[this.active] as Scheduler).seesForcedMoves === true;
  }

  /** State caching of the active member (DFS), if any. */
  get quiescent(): ((key: () => number, p: DecisionPoint) => boolean) | undefined {
    return (this.members[this.active] as Scheduler).quiescent;
  }

  get cachedStates(): number | undefined {
    let n: number | undefined;
    for (const m of this.members) if (m.cachedStates !== undefined) n = (n ?? 0) + m.cachedStates;
    return n;
  }

  get complete(): boolean {
    return this.members.every((m) => m.complete) || this.members.some((m) => m instanceof DfsScheduler && m.complete && m.preemptionBound === Infinity);
  }

  begin(): boolean {
    if (this.complete) return false;
    const n = this.members.length;
    for (let tries = 0; tries <= n; tries++) {
      const m = this.members[this.active] as Scheduler;
      if (this.used < this.slice && !m.complete && m.begin()) {
        this.used++;
        return true;
      }
      this.active = (this.active + 1) % n;
      this.used = 0;
    }
    return false;
  }

  choose(p: DecisionPoint): number {
    return (this.members[this.active] as Scheduler).choose(p);
  }

  end(r: ExecResult): boolean {
    return (this.members[this.active] as Scheduler).end(r);
  }

  tag(): { strategy: string; seed: string } {
    return (this.members[this.active] as Scheduler).tag();
  }
}
