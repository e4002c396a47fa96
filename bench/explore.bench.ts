/**
 * Explorer throughput: executions per second on small toy harnesses (target >= 100 000/s for
 * two threads of a few steps). ops/s x executions-per-op = executions/s; the executions per op
 * are in each bench name.
 */
import { bench, describe } from 'vitest';
import { explore } from '../src/explore/explore.js';
import { mapVsMlockHarness } from '../src/explore/testing/model-harness.js';
import { counterHarness, independentHarness } from '../src/explore/testing/toys.js';

const locked2x2 = counterHarness({ locked: true, threads: 2, stepsPerThread: 2 });
const racy2 = counterHarness({ locked: false, threads: 2, stepsPerThread: 3 });
const indep = independentHarness(2, 4);

const model = mapVsMlockHarness({ dmaPages: 4, mlockPages: 3, limitPages: 6 });
const dfsModel = explore(model, { strategy: 'dfs', preemptionBound: 3 }).executions;

const dfsAll = explore(locked2x2, { strategy: 'dfs', preemptionBound: Infinity }).executions;
const dfsIndep = explore(indep, { strategy: 'dfs', preemptionBound: Infinity }).executions;

describe('explorer executions/s', () => {
  bench(`dfs unbounded, 2 threads x 2 locked increments (${dfsAll} executions/op)`, () => {
    explore(locked2x2, { strategy: 'dfs', preemptionBound: Infinity });
  });
  bench(`dfs unbounded, 2 independent threads x 4 points (${dfsIndep} executions/op)`, () => {
    explore(indep, { strategy: 'dfs', preemptionBound: Infinity });
  });
  bench(`dfs bound 3, real model: MAP+UNMAP vs mlock+munlock (${dfsModel} executions/op)`, () => {
    explore(model, { strategy: 'dfs', preemptionBound: 3 });
  });
  bench('random, 2 threads x 3 racy increments (10000 executions/op)', () => {
    explore(racy2, { strategy: 'random', seed: 1, stopOnFailure: false, budget: { maxExecutions: 10_000 } });
  });
  bench('pct d=3, 2 threads x 3 racy increments (10000 executions/op)', () => {
    explore(racy2, { strategy: 'pct', seed: 1, stopOnFailure: false, budget: { maxExecutions: 10_000 } });
  });
});
