/**
 * Uniform random walk: at every decision point, any enabled thread with equal probability.
 * Execution j of a run with seed s uses `deriveSeed(s, j)`; shard i of n runs j = i, i + n, ...
 */
import type { ExecResult } from '../engine/runtime.js';
import type { DecisionPoint, Scheduler } from '../engine/scheduler.js';
import type { Shard } from '../parallel/shard.js';
import { WHOLE } from '../parallel/shard.js';
import { deriveSeed, Prng } from '../prng.js';

export interface RandomOptions {
  readonly seed?: number;
  readonly shard?: Shard;
}

export class RandomScheduler implements Scheduler {
  readonly name = 'random';
  readonly complete = false;
  readonly seed: number;
  private readonly shard: Shard;
  private readonly rng = new Prng();
  private index: number;
  private execSeed = 0;

  constructor(o: RandomOptions = {}) {
    this.seed = o.seed ?? 0;
    this.shard = o.shard ?? WHOLE;
    this.index = this.shard.index - this.shard.count;
  }

  begin(): boolean {
    this.index += this.shard.count;
    this.execSeed = deriveSeed(this.seed, this.index);
    this.rng.reseed(this.execSeed);
    return true;
  }

  choose(p: DecisionPoint): number {
    return p.enabled[this.rng.int(p.n)] as number;
  }

  end(r: ExecResult): boolean {
    return !r.pruned;
  }

  tag(): { strategy: string; seed: string } {
    return { strategy: 'random', seed: this.execSeed.toString(16) };
  }
}
