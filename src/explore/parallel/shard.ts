/**
 * Deterministic sharding: `--shard i/n` runs the i-th of n disjoint parts of an exploration.
 * Every shard makes the same decisions about what belongs to whom without talking to the others,
 * so shards can run in worker threads, CI matrix jobs or Kubernetes indexed Jobs alike.
 */

/** Shard `index` (0-based) of `count`. */
export interface Shard {
  readonly index: number;
  readonly count: number;
}

export const WHOLE: Shard = Object.freeze({ index: 0, count: 1 });

/** Which shard owns work item `ordinal` (the ordinal-th DFS subtree, the ordinal-th seed). */
export function shardOf(ordinal: number, count: number): number {
  return ordinal % count;
}

/** Parse `i/n` (0-based i, as in `--shard 0/4`). */
export function parseShard(text: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  if (m === null) throw new Error(`bad shard "${text}": expected i/n with 0 <= i < n, e.g. 0/4`);
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (!(count >= 1) || !(index < count)) throw new Error(`bad shard "${text}": expected i/n with 0 <= i < n`);
  return { index, count };
}

/**
 * A shard's part of a run of `maxExecutions` executions: the parts add up to the whole, and for
 * PCT and random, where shard i runs executions i, i + n, ..., they are exactly executions
 * 0 .. maxExecutions - 1 of the unsharded run.
 */
export function shardExecutions(maxExecutions: number, s: Shard): number {
  if (!Number.isFinite(maxExecutions)) return maxExecutions;
  return Math.floor(maxExecutions / s.count) + (s.index < maxExecutions % s.count ? 1 : 0);
}

export function formatShard(s: Shard): string {
  return `${s.index}/${s.count}`;
}
