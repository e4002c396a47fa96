/**
 * Exhaustive depth-first exploration with a preemption bound (stateless: every execution replays
 * its prefix from a fresh world).
 *
 * State (one frame per decision point of the current execution, index = depth):
 *   - `opts[d]`: the threads enabled there, the "no switch" choice first (the current thread when
 *     it is enabled, else the lowest tid), then the others in ascending tid order;
 *   - `cnt[d]`: how many of `opts[d]` are valid; `cur[d]`: index of the option being explored;
 *   - `pre[d]`: preemptions taken before decision d; `curEn[d]`: was the current thread enabled
 *     (then every option but the first costs one preemption).
 * Invariant: frames [0, len) describe the prefix the next execution replays; options [0, cur[d])
 * of frame d have been fully explored (or pruned by the bound).
 *
 * Preemption bounding (CHESS): only schedules with at most `preemptionBound` switches away from a
 * thread that could have continued are explored. Switching when the current thread blocks or
 * finishes is free. Most concurrency bugs need one or two preemptions; the bound makes the number
 * of executions polynomial in the number of scheduling points instead of exponential.
 *
 * Sharding: the node reached after `splitDepth` decisions (or the end of an execution that makes
 * fewer decisions) is a work item; items are numbered in DFS order, identically in every shard,
 * and shard i explores the items whose number is owned by i (`shardOf`). Executions that enter an
 * item of another shard are abandoned at its root and not counted.
 */
import type { ExecResult } from '../engine/runtime.js';
import type { DecisionPoint, Scheduler } from '../engine/scheduler.js';
import type { Shard } from '../parallel/shard.js';
import { shardOf, WHOLE } from '../parallel/shard.js';

export interface DfsOptions {
  /** Max preemptions per execution; default 2. `Infinity` explores every interleaving. */
  readonly preemptionBound?: number;
  readonly shard?: Shard;
  /** Decision depth at which the tree is cut into shard work items; default 4. */
  readonly splitDepth?: number;
}

export class NondeterminismError extends Error {
  override name = 'NondeterminismError';
}

export class DfsScheduler implements Scheduler {
  readonly name = 'dfs';
  complete = false;
  readonly preemptionBound: number;
  private readonly shard: Shard;
  private readonly splitDepth: number;
  private opts: Int32Array[] = [];
  private cnt: number[] = [];
  private cur: number[] = [];
  private pre: number[] = [];
  private curEn: boolean[] = [];
  private len = 0;
  private executions = 0;
  // sharding state
  private ordinal = -1;
  private owned = true;
  private itemFresh = true;
  private itemReached = false;

  constructor(o: DfsOptions = {}) {
    this.preemptionBound = o.preemptionBound ?? 2;
    this.shard = o.shard ?? WHOLE;
    this.splitDepth = o.splitDepth ?? 4;
  }

  begin(): boolean {
    this.itemReached = false;
    return !this.complete;
  }

  choose(p: DecisionPoint): number {
    const d = p.depth;
    if (this.shard.count > 1 && d === this.splitDepth && !this.reachItem()) return -1;
    if (d < this.len) {
      if (this.cnt[d] !== p.n) {
        throw new NondeterminismError(`decision ${d}: ${p.n} threads enabled on replay, ${String(this.cnt[d])} before; the model is not deterministic`);
      }
      return (this.opts[d] as Int32Array)[this.cur[d] as number] as number;
    }
    let o = this.opts[d];
    if (o === undefined || o.length < p.n) {
      o = new Int32Array(Math.max(p.n, 4));
      this.opts[d] = o;
    }
    let k = 0;
    if (p.currentEnabled) o[k++] = p.current;
    for (let i = 0; i < p.n; i++) {
      const t = p.enabled[i] as number;
      if (t !== p.current || !p.currentEnabled) o[k++] = t;
    }
    this.cnt[d] = p.n;
    this.cur[d] = 0;
    this.pre[d] = p.preemptions;
    this.curEn[d] = p.currentEnabled;
    this.len = d + 1;
    return o[0] as number;
  }

  end(r: ExecResult): boolean {
    this.executions++;
    let counted = !r.pruned;
    if (this.shard.count > 1 && !this.itemReached && !r.pruned) counted = this.reachItem();
    this.backtrack();
    return counted;
  }

  tag(): { strategy: string; seed: string } {
    return { strategy: 'dfs', seed: String(this.preemptionBound === Infinity ? 'inf' : this.preemptionBound) };
  }

  /** Number the item just reached (if it is new) and say whether this shard owns it. */
  private reachItem(): boolean {
    this.itemReached = true;
    if (this.itemFresh) {
      this.ordinal++;
      this.itemFresh = false;
      this.owned = shardOf(this.ordinal, this.shard.count) === this.shard.index;
    }
    return this.owned;
  }

  private backtrack(): void {
    for (let d = this.len - 1; d >= 0; d--) {
      const j = (this.cur[d] as number) + 1;
      if (j < (this.cnt[d] as number) && (this.pre[d] as number) + (this.curEn[d] === true ? 1 : 0) <= this.preemptionBound) {
        this.cur[d] = j;
        this.len = d + 1;
        if (d < this.splitDepth) this.itemFresh = true;
        return;
      }
    }
    this.len = 0;
    this.complete = true;
  }
}
