import { describe, expect, it } from 'vitest';
import type { LockDomain } from '../../kernel/locks.js';
import { explore } from '../explore.js';
import type { Harness } from '../harness.js';
import { Runtime } from '../engine/runtime.js';
import { counterHarness, independentHarness, mlockGapHarness } from '../testing/toys.js';
import { DfsScheduler, NondeterminismError } from './dfs.js';
import { PctScheduler } from './pct.js';
import { RandomScheduler } from './random.js';

describe('dfs', () => {
  it('finds the lost update, and proves the locked counter correct exhaustively', () => {
    const racy = explore(counterHarness({ locked: false }), { strategy: 'dfs' });
    expect(racy.counterexamples[0]?.key).toBe('invariant:no_lost_update');
    for (const bound of [0, 1, 2, Infinity]) {
      const ok = explore(counterHarness({ locked: true, threads: 3 }), { strategy: 'dfs', preemptionBound: bound });
      expect(ok.complete).toBe(true);
      expect(ok.outcomes.ok).toBe(ok.executions);
      expect(ok.coverage.distinctStates).toBe(1);
    }
  });

  it('finds the mlock gap of split re-accounting; the single net delta passes exhaustively', () => {
    const split = explore(mlockGapHarness({ split: true }), { strategy: 'dfs', preemptionBound: 1 });
    const c = split.counterexamples[0];
    expect(c?.key).toBe('invariant:locked_vm_within_limit');
    expect(c?.preemptions).toBe(1);
    const net = explore(mlockGapHarness({ split: false }), { strategy: 'dfs', preemptionBound: Infinity });
    expect(net.complete).toBe(true);
    expect(net.outcomes.ok).toBe(net.executions);
  });

  it('explores more with a larger preemption bound, and bound 0 runs only non-preemptive schedules', () => {
    const h = independentHarness(2, 3);
    const counts = [0, 1, 2, 3, Infinity].map((b) => explore(h, { strategy: 'dfs', preemptionBound: b }).executions);
    // bound 0: the only choice is which thread runs first (2 schedules)
    expect(counts[0]).toBe(2);
    for (let i = 1; i < counts.length; i++) expect(counts[i]).toBeGreaterThanOrEqual(counts[i - 1] as number);
    expect(counts[4]).toBe(70);
  });

  it('detects a nondeterministic model', () => {
    const base = independentHarness(3, 1);
    let executions = 0;
    const flaky: Harness<{ dom: LockDomain }> = {
      ...base,
      // the third thread only exists in the first execution
      threads: (w) => base.threads(w).slice(0, executions++ === 0 ? 3 : 2),
    };
    expect(() => explore(flaky, { scheduler: new DfsScheduler({ preemptionBound: Infinity }) })).toThrow(NondeterminismError);
  });
});

describe('pct and random', () => {
  it('find the lost update and the mlock gap with a fixed seed', () => {
    for (const strategy of ['pct', 'random'] as const) {
      for (const h of [counterHarness({ locked: false, threads: 3 }), mlockGapHarness({ split: true })]) {
        const r = explore(h as Harness<unknown>, { strategy, seed: 7, budget: { maxExecutions: 500 } });
        expect(r.counterexamples.length, `${strategy} on ${h.name}`).toBe(1);
      }
    }
  });

  it('find nothing on the correct versions', () => {
    for (const strategy of ['pct', 'random'] as const) {
      const r = explore(counterHarness({ locked: true, threads: 3 }), { strategy, seed: 1, budget: { maxExecutions: 300 } });
      expect(r.outcomes.ok).toBe(300);
    }
  });

  it('are deterministic in their seed and independent of sharding', () => {
    const h = counterHarness({ locked: true, threads: 3, stepsPerThread: 2 });
    const makers = [(o: object) => new PctScheduler({ seed: 5, depth: 3, ...o }), (o: object) => new RandomScheduler({ seed: 5, ...o })];
    for (const make of makers) {
      const whole = explore(h, { scheduler: make({}), budget: { maxExecutions: 60 } });
      const again = explore(h, { scheduler: make({}), budget: { maxExecutions: 60 } });
      expect(again.coverage).toEqual(whole.coverage);
      const s0 = explore(h, { scheduler: make({ shard: { index: 0, count: 2 } }), budget: { maxExecutions: 30 } });
      const s1 = explore(h, { scheduler: make({ shard: { index: 1, count: 2 } }), budget: { maxExecutions: 30 } });
      expect(s0.executions + s1.executions).toBe(whole.executions);
      // same executions in a different split: identical multiset of schedules
      expect(s0.coverage.distinctSchedules + s1.coverage.distinctSchedules).toBeGreaterThanOrEqual(whole.coverage.distinctSchedules);
    }
  });

  it('pct with depth 1 never preempts; depth 2 does', () => {
    const h = independentHarness(3, 2);
    const preemptions = (depth: number): number[] => {
      const s = new PctScheduler({ seed: 3, depth });
      const rt = new Runtime(h);
      const out: number[] = [];
      for (let i = 0; i < 40; i++) {
        s.begin();
        const r = rt.run(s);
        s.end(r);
        out.push(r.preemptions);
      }
      return out;
    };
    expect(Math.max(...preemptions(1))).toBe(0);
    expect(Math.max(...preemptions(2))).toBe(1);
  });
});
