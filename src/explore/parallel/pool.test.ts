import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { explore } from '../explore.js';
import { lockedCounter3 } from '../testing/toys.js';
import { exploreParallel, loadHarness } from './pool.js';
import { shardExecutions } from './shard.js';

const toys = fileURLToPath(new URL('../testing/toys.ts', import.meta.url));

describe('worker threads', () => {
  it('loads a harness by module path and export name (object or factory)', async () => {
    expect((await loadHarness({ module: toys, export: 'lockedCounter3' })).name).toBe('toy-counter-locked');
    expect((await loadHarness({ module: toys, export: 'racyCounterFactory' })).name).toBe('toy-counter-racy');
    await expect(loadHarness({ module: toys, export: 'nope' })).rejects.toThrow(/not a Harness/);
  });

  it('splits DFS over workers and merges to the unsharded result', async () => {
    const whole = explore(lockedCounter3, { strategy: 'dfs', preemptionBound: 2 });
    const seen: number[] = [];
    const par = await exploreParallel(
      { module: toys, export: 'lockedCounter3' },
      { strategy: 'dfs', preemptionBound: 2, workers: 3, onProgress: (s) => seen.push(s.executions) },
    );
    expect(par.executions).toBe(whole.executions);
    expect(par.outcomes).toEqual(whole.outcomes);
    expect(par.complete).toBe(true);
    expect(seen.at(-1)).toBe(whole.executions);
  });

  it('splits maxExecutions between workers: the same executions as one thread', async () => {
    const one = explore(lockedCounter3, { strategy: 'random', seed: 3, budget: { maxExecutions: 101 } });
    const par = await exploreParallel({ module: toys, export: 'lockedCounter3' }, { strategy: 'random', seed: 3, workers: 3, budget: { maxExecutions: 101 } });
    expect(par.executions).toBe(101);
    expect(par.outcomes).toEqual(one.outcomes);
    expect([0, 1, 2].map((index) => shardExecutions(101, { index, count: 3 }))).toEqual([34, 34, 33]);
  });

  it('reports a worker that cannot load its harness', async () => {
    await expect(exploreParallel({ module: toys, export: 'nope' }, { strategy: 'dfs', workers: 2 })).rejects.toThrow(/worker [01]\/2: .*not a Harness/);
  });

  it('finds a bug in parallel and stops the siblings', async () => {
    const par = await exploreParallel({ module: toys, export: 'racyCounterFactory' }, { strategy: 'random', workers: 2, budget: { maxMs: 20_000 } });
    expect(par.counterexamples[0]?.key).toBe('invariant:no_lost_update');
    expect(par.elapsedMs).toBeLessThan(20_000);
  });
});
