/**
 * Seeded pseudo-random numbers for the strategies (never Math.random: a run must be reproducible
 * from its seed). xoshiro128** seeded through splitmix32; 32-bit state words, fast in V8.
 */

/** splitmix32 step: a good 32-bit mixer, used to derive seeds and to seed xoshiro. */
export function mix32(x: number): number {
  x = (x + 0x9e3779b9) | 0;
  x = Math.imul(x ^ (x >>> 16), 0x21f0aaad);
  x = Math.imul(x ^ (x >>> 15), 0x735a2d97);
  return (x ^ (x >>> 15)) >>> 0;
}

/** Seed of execution `index` of a run started with `base`: independent of how runs are sharded. */
export function deriveSeed(base: number, index: number): number {
  return mix32(mix32(base >>> 0) ^ mix32((index + 0x632be5ab) | 0));
}

export class Prng {
  private a = 0;
  private b = 0;
  private c = 0;
  private d = 0;

  constructor(seed = 0) {
    this.reseed(seed);
  }

  reseed(seed: number): void {
    let s = seed >>> 0;
    this.a = s = mix32(s);
    this.b = s = mix32(s);
    this.c = s = mix32(s);
    this.d = mix32(s) | 1;
  }

  /** Next 32-bit unsigned value. */
  next(): number {
    const r = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return r;
  }

  /** Uniform integer in [0, n), n >= 1 (bias below 2^-32 * n, irrelevant here). */
  int(n: number): number {
    return Math.floor((this.next() / 0x1_0000_0000) * n);
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/**
 * The generator of a seeded strategy, reseeded for each of the executions a shard runs: shard
 * i of n runs executions i, i + n, i + 2n, ... and execution j always gets `deriveSeed(seed, j)`,
 * so a run's executions are the same however it is sharded.
 */
export class ExecutionRng extends Prng {
  private index: number;
  /** Seed of the current execution (what replay tokens record). */
  execSeed = 0;

  constructor(
    readonly baseSeed: number,
    private readonly shard: { readonly index: number; readonly count: number },
  ) {
    super(0);
    this.index = shard.index - shard.count;
  }

  /** Move to this shard's next execution. */
  nextExecution(): void {
    this.index += this.shard.count;
    this.execSeed = deriveSeed(this.baseSeed, this.index);
    this.reseed(this.execSeed);
  }
}
