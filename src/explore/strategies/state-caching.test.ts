import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import type { KGen } from '../../kernel/sched.js';
import { point } from '../../kernel/sched.js';
import { LockDomain, Mutex } from '../../kernel/locks.js';
import { explore } from '../explore.js';
import { fingerprintOf } from '../fingerprint.js';
import type { Harness } from '../harness.js';
import { mergeReports } from '../report/report.js';

type Op = { v: 'a' | 'b'; k: 'inc' | 'dbl' | 'set3' | 'lockedInc' };
interface VarWorld {
  dom: LockDomain;
  m: Mutex;
  vars: { a: number; b: number };
}

/** One syscall per op, so threads pass through user space (quiescent points) between ops. */
function stepOf(op: Op) {
  return function* (w: VarWorld): KGen<number> {
    if (op.k === 'lockedInc') yield* w.m.lock();
    const x = w.vars[op.v];
    yield point(`${op.k} ${op.v}`, op.v);
    w.vars[op.v] = op.k === 'inc' || op.k === 'lockedInc' ? x + 1 : op.k === 'dbl' ? 2 * x : 3;
    if (op.k === 'lockedInc') yield* w.m.unlock();
    return w.vars[op.v];
  };
}

function programHarness(threads: Op[][], finals: Set<string>): Harness<VarWorld> {
  const specs = threads.map((ops, i) => ({ name: `t${i}`, steps: ops.map(stepOf) }));
  return {
    name: 'toy-steps',
    setup: () => {
      const dom = new LockDomain();
      return { dom, m: new Mutex('m', dom), vars: { a: 1, b: 1 } };
    },
    lockDomain: (w) => w.dom,
    threads: () => specs,
    invariants: [
      { name: 'a_is_not_6', level: 'step', check: (w) => (w.vars.a === 6 ? 'a = 6' : null) },
      { name: 'collect', level: 'end', check: (w) => (finals.add(`${w.vars.a},${w.vars.b}`), null) },
    ],
    fingerprint: (w) => fingerprintOf(w.vars),
  };
}

const opArb = fc.record({ v: fc.constantFrom('a', 'b'), k: fc.constantFrom('inc', 'dbl', 'set3', 'lockedInc') }) as fc.Arbitrary<Op>;
/** Small enough to search exhaustively: unbounded only with two threads. */
const caseArb = fc.oneof(
  fc.tuple(fc.array(fc.array(opArb, { minLength: 1, maxLength: 2 }), { minLength: 2, maxLength: 2 }), fc.constant(Infinity)),
  fc.tuple(fc.array(fc.array(opArb, { minLength: 1, maxLength: 2 }), { minLength: 2, maxLength: 3 }), fc.constantFrom(1, 2)),
);

function run(threads: Op[][], o: { preemptionBound: number; stateCaching: boolean; shards?: number }) {
  const finals = new Set<string>();
  const h = programHarness(threads, finals);
  const n = o.shards ?? 1;
  const parts = Array.from({ length: n }, (_, index) =>
    explore(h, { strategy: 'dfs', preemptionBound: o.preemptionBound, stateCaching: o.stateCaching, stopOnFailure: false, splitDepth: 2, ...(n > 1 ? { shard: { index, count: n } } : {}) }),
  );
  const r = mergeReports(parts);
  expect(r.complete).toBe(true);
  return { finals: [...finals].sort(), failures: Object.keys(r.failures).sort(), executions: r.executions };
}

describe('state caching at quiescent points', () => {
  test.prop([caseArb], { numRuns: 60 })(
    'reaches the same final states and failures as the uncached search, in no more executions',
    ([threads, preemptionBound]) => {
      const plain = run(threads, { preemptionBound, stateCaching: false });
      const cached = run(threads, { preemptionBound, stateCaching: true });
      expect(cached.finals).toEqual(plain.finals);
      expect(cached.failures).toEqual(plain.failures);
      expect(cached.executions).toBeLessThanOrEqual(plain.executions);
      const sharded = run(threads, { preemptionBound, stateCaching: true, shards: 3 });
      expect(sharded.finals).toEqual(plain.finals);
      expect(sharded.failures).toEqual(plain.failures);
    },
  );

  it('collapses sequences of syscalls: 3 threads x 2 steps', () => {
    const ops: Op[] = [
      { v: 'a', k: 'inc' },
      { v: 'b', k: 'dbl' },
    ];
    const threads = [ops, ops, ops];
    const plain = run(threads, { preemptionBound: Infinity, stateCaching: false });
    const cached = run(threads, { preemptionBound: Infinity, stateCaching: true });
    expect(plain.executions).toBe(34650); // 12! / (4!)^3
    expect(cached.finals).toEqual(plain.finals);
    expect(cached.executions * 2).toBeLessThan(plain.executions); // 12 522: all three threads must be in user space at once
  });
});
