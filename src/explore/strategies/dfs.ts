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
 * Sleep sets (Godefroid), when an independence relation is given and the bound is unbounded:
 * `sleepAt[d]` is the set of threads whose next move need not be tried at decision d, because an
 * equivalent execution (the same moves with independent neighbours swapped) has been or will be
 * explored from an earlier sibling. Entering the child of option c at d, the sleep set becomes
 * { t in sleepAt[d] + options tried before c at d : t's move is independent of c's }; every later
 * move (forced ones included) removes the threads it is dependent with. An option asleep at a
 * decision is not tried; an execution whose only enabled threads are all asleep is abandoned
 * (sleep-set blocked: equivalent to one already explored) and not counted.
 *
 * State caching, when the harness has a fingerprint and sleep sets are off: at every quiescent
 * point (all threads in user space) the runtime passes a key of the world's fingerprint and the
 * threads' step indexes. A quiescent state holds no kernel-path locals, so its future depends on
 * the key alone (given a faithful fingerprint); if it was reached before, its subtree was explored
 * then (DFS finishes a subtree before leaving it) and the execution is abandoned. With a bound,
 * the key also carries the current thread, and a state is pruned only if the earlier visit had
 * used no more preemptions (so it had at least as much of the bound left). States on the prefix
 * an execution replays were recorded by the execution that first went there and are not checked;
 * with sharding, states above the split depth are not cached (their subtrees may belong to
 * another shard).
 *
 * Sharding: the node reached after `splitDepth` decisions (or the end of an execution that makes
 * fewer decisions) is a work item; items are numbered in DFS order, identically in every shard,
 * and shard i explores the items whose number is owned by i (`shardOf`). Executions that enter an
 * item of another shard are abandoned at its root and not counted.
 */
import type { Yield } from '../../kernel/sched.js';
import type { ExecResult } from '../engine/runtime.js';
import { mixKey } from '../engine/runtime.js';
import type { DecisionPoint, Scheduler } from '../engine/scheduler.js';
import type { Shard } from '../parallel/shard.js';
import { shardOf, WHOLE } from '../parallel/shard.js';

export interface DfsOptions {
  /** Max preemptions per execution; default 2. `Infinity` explores every interleaving. */
  readonly preemptionBound?: number;
  readonly shard?: Shard;
  /** Decision depth at which the tree is cut into shard work items; default 4. */
  readonly splitDepth?: number;
  /**
   * Independence of the moves of two parked threads (Harness.independent). Sleep sets are used
   * only with it and an unbounded preemption bound: combined with a bound, a pruned schedule's
   * equivalent may lie beyond the bound.
   */
  readonly independent?: (a: Yield, b: Yield) => boolean;
  /** Cache quiescent states when the harness has a fingerprint (default true; off with sleep sets). */
  readonly stateCaching?: boolean;
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
  private nEn: number[] = [];
  private len = 0;
  // sleep sets (null when not reducing)
  private readonly independent: ((a: Yield, b: Yield) => boolean) | null;
  private sleepAt: number[][] = [];
  /** Sleep set of the current execution at its current point. */
  private sleep: number[] = [];
  private sleepNext: number[] = [];
  // state caching: key -> fewest preemptions it was reached with
  private readonly visited = new Map<number, number>();
  /** Decisions before the first one this execution makes differently from the previous one. */
  private divergeDepth = -1;
  readonly quiescent?: (key: () => number, p: DecisionPoint) => boolean;
  /** Quiescent states recorded (coverage); undefined while the harness has given none. */
  cachedStates?: number;
  // sharding state
  private ordinal = -1;
  private owned = true;
  private itemFresh = true;
  private itemReached = false;

  constructor(o: DfsOptions = {}) {
    this.preemptionBound = o.preemptionBound ?? 2;
    this.shard = o.shard ?? WHOLE;
    this.splitDepth = o.splitDepth ?? 4;
    this.independent = o.independent !== undefined && this.preemptionBound === Infinity ? o.independent : null;
    if (this.independent === null && o.stateCaching !== false) this.quiescent = (key, p) => this.seen(key, p);
  }

  /** Is this quiescent state new (or worth exploring again)? Records it. */
  private seen(key: () => number, p: DecisionPoint): boolean {
    if (p.depth <= this.divergeDepth) return true;
    if (this.shard.count > 1 && p.depth <= this.splitDepth) return true;
    const bounded = this.preemptionBound !== Infinity;
    const k = bounded ? mixKey(key(), p.current) : key();
    const prev = this.visited.get(k);
    if (prev !== undefined && (!bounded || prev <= p.preemptions)) return false;
    if (prev === undefined) this.cachedStates = (this.cachedStates ?? 0) + 1;
    this.visited.set(k, prev === undefined ? p.preemptions : Math.min(prev, p.preemptions));
    return true;
  }

  /** Does this scheduler use sleep sets? */
  get reducing(): boolean {
    return this.independent !== null;
  }

  get seesForcedMoves(): boolean {
    return this.independent !== null;
  }

  begin(): boolean {
    this.itemReached = false;
    this.sleep.length = 0;
    return !this.complete;
  }

  choose(p: DecisionPoint): number {
    if (p.n === 1) return this.forced(p);
    const d = p.depth;
    if (this.shard.count > 1 && d === this.splitDepth && !this.reachItem()) return -1;
    let c: number;
    if (d < this.len) {
      if (this.nEn[d] !== p.n) {
        throw new NondeterminismError(`decision ${d}: ${p.n} threads enabled on replay, ${String(this.nEn[d])} before; the model is not deterministic`);
      }
      c = (this.opts[d] as Int32Array)[this.cur[d] as number] as number;
    } else {
      c = this.newFrame(p, d);
      if (c < 0) return -1; // every enabled thread is asleep
    }
    if (this.independent !== null) this.enterChild(p, d, c);
    return c;
  }

  private newFrame(p: DecisionPoint, d: number): number {
    let o = this.opts[d];
    if (o === undefined || o.length < p.n) {
      o = new Int32Array(Math.max(p.n, 4));
      this.opts[d] = o;
    }
    const asleep = this.sleep;
    let k = 0;
    if (p.currentEnabled && !asleep.includes(p.current)) o[k++] = p.current;
    for (let i = 0; i < p.n; i++) {
      const t = p.enabled[i] as number;
      if ((t !== p.current || !p.currentEnabled) && !asleep.includes(t)) o[k++] = t;
    }
    if (k === 0) return -1;
    if (this.independent !== null) {
      const s = this.sleepAt[d];
      if (s === undefined) this.sleepAt[d] = asleep.slice();
      else {
        s.length = 0;
        for (const t of asleep) s.push(t);
      }
    }
    this.nEn[d] = p.n;
    this.cnt[d] = k;
    this.cur[d] = 0;
    this.pre[d] = p.preemptions;
    this.curEn[d] = p.currentEnabled;
    this.len = d + 1;
    return o[0] as number;
  }

  /** Sleep set after choosing option `c` at decision `d`. */
  private enterChild(p: DecisionPoint, d: number, c: number): void {
    const indep = this.independent as (a: Yield, b: Yield) => boolean;
    const mc = p.pending[c - 1] ?? null;
    const next = this.sleepNext;
    next.length = 0;
    if (mc !== null) {
      const keep = (t: number): void => {
        const mt = p.pending[t - 1] ?? null;
        if (mt !== null && indep(mt, mc) && !next.includes(t)) next.push(t);
      };
      for (const t of this.sleepAt[d] as number[]) keep(t);
      const o = this.opts[d] as Int32Array;
      const upto = this.cur[d] as number;
      for (let j = 0; j < upto; j++) keep(o[j] as number);
    }
    this.sleepNext = this.sleep;
    this.sleep = next;
  }

  /** A move without a choice: blocked if the thread is asleep, else wake what it depends on. */
  private forced(p: DecisionPoint): number {
    const u = p.enabled[0] as number;
    const s = this.sleep;
    if (s.length === 0) return u;
    if (s.includes(u)) return -1;
    const indep = this.independent as (a: Yield, b: Yield) => boolean;
    const mu = p.pending[u - 1] ?? null;
    let k = 0;
    for (const t of s) {
      const mt = p.pending[t - 1] ?? null;
      if (mu !== null && mt !== null && indep(mt, mu)) s[k++] = t;
    }
    s.length = k;
    return u;
  }

  end(r: ExecResult): boolean {
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
        this.divergeDepth = d;
        if (d < this.splitDepth) this.itemFresh = true;
        return;
      }
    }
    this.len = 0;
    this.complete = true;
  }
}
