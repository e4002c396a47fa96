/**
 * Uniform random walk: at every decision point, any enabled thread with equal probability.
 * Execution j of a run with seed s uses `deriveSeed(s, j)`; shard i of n runs j = i, i + n, ...
 */
import type { ExecResult } from '../engine/runtime.js';
import type { DecisionPoint, Scheduler } from '../engine/scheduler.js';
import type { Shard } from '../parallel/shard.js';
import { WHOLE } from '../parallel/shard.js';
import { ExecutionRng } from '../prng.js';

export interface RandomOptions {
  readonly seed?: number;
  readonly shard?: Shard;
}

export class RandomScheduler implements Scheduler {
  readonly name = 'random';
  readonly complete = false;
  private readonly rng: ExecutionRng;

  constructor(o: RandomOptions = {}) {
    this.rng = new ExecutionRng(o.seed ?? 0, o.shard ?? WHOLE);
  }

  begin(): boolean {
    this.rng.nextExecution();
    return true;
  }

  choose(p: DecisionPoint): number {
    return p.enabled[this.rng.int(p.n)] as number;
  }

  end(r: ExecResult): boolean {
    return !r.pruned;
  }

  tag(): { strategy: string; seed: string } {
    return { strategy: 'random', seed: this.rng.execSeed.toString(16) };
  }
}
