import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import type { KGen } from '../../kernel/sched.js';
import { point } from '../../kernel/sched.js';
import { LockDomain } from '../../kernel/locks.js';
import { explore } from '../explore.js';
import type { Harness } from '../harness.js';
import { independentByObject } from '../harness.js';
import { mergeReports } from '../report/report.js';
import { counterHarness, independentHarness, mlockGapHarness } from '../testing/toys.js';
import { DfsScheduler } from './dfs.js';

type Op = { v: 'a' | 'b' | 'c'; k: 'inc' | 'dbl' | 'set3' };
interface VarWorld {
  dom: LockDomain;
  vars: Record<'a' | 'b' | 'c', number>;
}

/** Threads of single-variable updates, each after a point naming the variable it touches. */
function programHarness(threads: Op[][]): Harness<VarWorld> {
  const body = (ops: Op[]) =>
    function* run(w: VarWorld): KGen<void> {
      for (const op of ops) {
        yield point(`${op.k} ${op.v}`, op.v);
        const x = w.vars[op.v];
        w.vars[op.v] = op.k === 'inc' ? x + 1 : op.k === 'dbl' ? 2 * x : 3;
      }
    };
  const specs = threads.map((ops, i) => ({ name: `t${i}`, steps: [body(ops)] }));
  return {
    name: 'toy-program',
    setup: () => ({ dom: new LockDomain(), vars: { a: 1, b: 1, c: 1 } }),
    lockDomain: (w) => w.dom,
    threads: () => specs,
    invariants: [],
    stateKey: (w) => `${w.vars.a},${w.vars.b},${w.vars.c}`,
    independent: independentByObject,
  };
}

function finalStates(h: Harness<VarWorld>, reduce: boolean): { states: Set<string>; executions: number } {
  const states = new Set<string>();
  const hh: Harness<VarWorld> = {
    ...h,
    invariants: [{ name: 'collect', level: 'end', check: (w) => (states.add(h.stateKey?.(w) ?? ''), null) }],
  };
  const r = explore(hh, { scheduler: new DfsScheduler({ preemptionBound: Infinity, ...(reduce ? { independent: independentByObject } : {}) }) });
  expect(r.complete).toBe(true);
  return { states, executions: r.executions };
}

const opArb = fc.record({ v: fc.constantFrom('a', 'b', 'c'), k: fc.constantFrom('inc', 'dbl', 'set3') }) as fc.Arbitrary<Op>;

describe('sleep sets', () => {
  test.prop([fc.array(fc.array(opArb, { minLength: 1, maxLength: 3 }), { minLength: 2, maxLength: 3 })], { numRuns: 60 })(
    'reach exactly the final states of the unreduced search, with no more executions',
    (threads) => {
      const h = programHarness(threads);
      const full = finalStates(h, false);
      const reduced = finalStates(h, true);
      expect([...reduced.states].sort()).toEqual([...full.states].sort());
      expect(reduced.executions).toBeLessThanOrEqual(full.executions);
    },
  );

  it('cut independent threads down to few executions', () => {
    const h = { ...independentHarness(3, 3), independent: () => true };
    const full = explore(independentHarness(3, 3), { strategy: 'dfs', preemptionBound: Infinity });
    const reduced = explore(h, { strategy: 'dfs', preemptionBound: Infinity });
    expect(full.executions).toBe(34650); // 12! / (4!)^3
    expect(reduced.complete).toBe(true);
    expect(reduced.executions).toBeLessThan(full.executions / 100); // step starts stay dependent
    expect(reduced.abandoned).toBeGreaterThan(0); // sleep-set blocked
    expect(full.abandoned).toBe(0);
  });

  it('are used only with an unbounded preemption bound', () => {
    expect(new DfsScheduler({ preemptionBound: 2, independent: () => true }).reducing).toBe(false);
    expect(new DfsScheduler({ preemptionBound: Infinity, independent: () => true }).reducing).toBe(true);
  });

  it('keep finding the toy bugs and keep shards partitioning the search', () => {
    for (const h of [counterHarness({ locked: false, threads: 3 }), mlockGapHarness({ split: true })] as Harness<unknown>[]) {
      const r = explore({ ...h, independent: independentByObject }, { strategy: 'dfs', preemptionBound: Infinity });
      expect(r.counterexamples.length, h.name).toBe(1);
    }
    const h = programHarness([
      [{ v: 'a', k: 'inc' }, { v: 'b', k: 'dbl' }],
      [{ v: 'b', k: 'inc' }, { v: 'c', k: 'set3' }],
      [{ v: 'a', k: 'dbl' }],
    ]);
    const whole = explore(h, { strategy: 'dfs', preemptionBound: Infinity, stopOnFailure: false });
    for (const count of [2, 3]) {
      const parts = Array.from({ length: count }, (_, index) => explore(h, { strategy: 'dfs', preemptionBound: Infinity, splitDepth: 2, shard: { index, count } }));
      expect(mergeReports(parts).executions).toBe(whole.executions);
      expect(mergeReports(parts).coverage.distinctStates).toBeGreaterThanOrEqual(whole.coverage.distinctStates ?? 0);
    }
  });
});
