/**
 * PCT, probabilistic concurrency testing (Burckhardt et al., ASPLOS 2010), seeded.
 *
 * Per execution: every thread gets a distinct random priority in [d, d + threads); d - 1 change
 * points are drawn among decision points 1..k-1 (k = the most decision points an execution has had
 * so far); the highest-priority enabled thread runs; at a change point, the thread that ran last
 * drops to priority i (the i-th change point, 1-based), below every initial priority. Steps where
 * only one thread can run are not counted: a priority change there has the same effect as one at
 * the next real choice, and counting only choices keeps k, and so the odds, small. A bug of depth
 * d is found with probability at least 1 / (threads * k^(d-1)) per execution.
 *
 * Execution j of a run with seed s uses seed `deriveSeed(s, j)`; shard i of n runs executions
 * j = i, i + n, i + 2n, ..., so the union of the shards is the unsharded run.
 */
import type { ExecResult } from '../engine/runtime.js';
import type { DecisionPoint, Scheduler } from '../engine/scheduler.js';
import type { Shard } from '../parallel/shard.js';
import { WHOLE } from '../parallel/shard.js';
import { ExecutionRng } from '../prng.js';

export interface PctOptions {
  readonly seed?: number;
  /** Bug depth d; default 3. */
  readonly depth?: number;
  readonly shard?: Shard;
}

export class PctScheduler implements Scheduler {
  readonly name = 'pct';
  readonly complete = false;
  readonly depth: number;
  private readonly rng: ExecutionRng;
  /** Most decision points seen in one execution (at least 2). */
  private k = 2;
  /** prio[tid]: invariant: the values of live threads are distinct. */
  private prio: number[] = [];
  private prioReady = false;
  private cps: number[] = [];
  private cpNext = 0;

  constructor(o: PctOptions = {}) {
    this.depth = Math.max(1, o.depth ?? 3);
    this.rng = new ExecutionRng(o.seed ?? 0, o.shard ?? WHOLE);
  }

  begin(): boolean {
    this.rng.nextExecution();
    this.prioReady = false;
    const cps: number[] = [];
    for (let i = 0; i < this.depth - 1 && i < this.k - 1; i++) {
      let c: number;
      do c = 1 + this.rng.int(this.k - 1);
      while (cps.includes(c));
      cps.push(c);
    }
    cps.sort((a, b) => a - b);
    this.cps = cps;
    this.cpNext = 0;
    return true;
  }

  choose(p: DecisionPoint): number {
    if (!this.prioReady) this.initPriorities(p.threads);
    while (this.cpNext < this.cps.length && p.depth >= (this.cps[this.cpNext] as number)) {
      this.cpNext++;
      if (p.current > 0) this.prio[p.current] = this.cpNext;
    }
    let best = p.enabled[0] as number;
    let bp = this.prio[best] as number;
    for (let i = 1; i < p.n; i++) {
      const t = p.enabled[i] as number;
      const q = this.prio[t] as number;
      if (q > bp) {
        best = t;
        bp = q;
      }
    }
    return best;
  }

  end(r: ExecResult): boolean {
    if (r.decisions > this.k) this.k = r.decisions;
    return !r.pruned;
  }

  tag(): { strategy: string; seed: string } {
    return { strategy: 'pct', seed: this.rng.execSeed.toString(16) };
  }

  private initPriorities(threads: number): void {
    // Fisher-Yates over [d, d + threads) for tids 1..threads.
    const prio = this.prio;
    prio.length = threads + 1;
    prio[0] = 0;
    for (let t = 1; t <= threads; t++) prio[t] = this.depth + t - 1;
    for (let t = threads; t > 1; t--) {
      const j = 1 + this.rng.int(t);
      const x = prio[t] as number;
      prio[t] = prio[j] as number;
      prio[j] = x;
    }
    this.prioReady = true;
  }
}
