import { describe, expect, it } from 'vitest';
import type { KGen } from '../../kernel/sched.js';
import { point } from '../../kernel/sched.js';
import { KernelHang } from '../../kernel/klog.js';
import { LockDomain, Mutex } from '../../kernel/locks.js';
import { explore } from '../explore.js';
import type { Harness, Invariant, ThreadSpec } from '../harness.js';
import { replay } from '../replay.js';
import { renderHuman } from '../report/trace.js';
import { abbaHarness, independentHarness } from '../testing/toys.js';

interface W {
  dom: LockDomain;
  m: Mutex;
  n: number;
  queue: number;
}

function world(): W {
  const dom = new LockDomain();
  return { dom, m: new Mutex('m', dom), n: 0, queue: 0 };
}

function harness(threads: ThreadSpec<W>[], invariants: Invariant<W>[] = []): Harness<W> {
  return { name: 'rt', setup: world, lockDomain: (w) => w.dom, threads: () => threads, invariants };
}

class KernelBug extends Error {
  override name = 'KernelBug';
}

describe('runtime', () => {
  it('runs every interleaving of independent threads (multinomial count)', () => {
    // each thread: 3 points + return = 4 scheduling steps; C(8,4) = 70 interleavings
    const r = explore(independentHarness(2, 3), { strategy: 'dfs', preemptionBound: Infinity });
    expect(r.complete).toBe(true);
    expect(r.executions).toBe(70);
    expect(r.coverage.distinctSchedules).toBe(70);
    // 3 threads, 1 point each: 6!/(2!2!2!) = 90
    expect(explore(independentHarness(3, 1), { strategy: 'dfs', preemptionBound: Infinity }).executions).toBe(90);
  });

  it('reports an ABBA deadlock naming the locks waited on and held', () => {
    const r = explore(abbaHarness({ sameOrder: false }), { strategy: 'dfs' });
    const c = r.counterexamples[0];
    expect(c?.outcome.kind).toBe('deadlock');
    if (c?.outcome.kind !== 'deadlock') return;
    expect(c.outcome.threads.map((t) => [t.name, t.waitsFor, t.holds])).toEqual([
      ['ab', 'b', ['a']],
      ['ba', 'a', ['b']],
    ]);
    const ok = explore(abbaHarness({ sameOrder: true }), { strategy: 'dfs', preemptionBound: Infinity });
    expect(ok.complete).toBe(true);
    expect(ok.outcomes.ok).toBe(ok.executions);
  });

  it('turns a thrown KernelBug into kernel_bug and any other error into model_error', () => {
    const bug = harness([
      {
        name: 't',
        steps: [
          function* unmap(): KGen<void> {
            yield point('retry');
            throw new KernelBug('BUG_ON(++retries > 10)');
          },
        ],
      },
    ]);
    const r = explore(bug, { strategy: 'dfs' });
    expect(r.counterexamples[0]?.outcome).toEqual({ kind: 'kernel_bug', message: 'BUG_ON(++retries > 10)', thread: 't' });
    const hang = harness([
      {
        name: 't',
        steps: [
          function* remove(): KGen<void> {
            yield point('mdev_remove');
            throw new KernelHang('vfio_unregister_group_dev', 'device still open');
          },
        ],
      },
    ]);
    expect(explore(hang, { strategy: 'dfs' }).counterexamples[0]?.outcome).toEqual({
      kind: 'kernel_hang',
      message: 'task hung in vfio_unregister_group_dev: device still open',
      thread: 't',
    });
    const trace = renderHuman(replay(bug, r.counterexamples[0]?.token ?? '', { trace: true }));
    expect(trace).toContain('✗ BUG_ON(++retries > 10)');
    const err = harness([
      {
        name: 't',
        steps: [
          function* (w: W): KGen<void> {
            yield* w.m.unlock(); // LockMisuse
          },
        ],
      },
    ]);
    const e = explore(err, { strategy: 'dfs' }).counterexamples[0];
    expect(e?.outcome.kind).toBe('model_error');
    expect(e?.outcome.kind === 'model_error' && e.outcome.message).toMatch(/^LockMisuse: /);
  });

  it('checks no_lock_held_on_return after every step', () => {
    const h = harness([
      {
        name: 'leaky',
        steps: [
          function* map_dma(w: W): KGen<void> {
            yield* w.m.lock();
          },
        ],
      },
    ]);
    const o = explore(h, { strategy: 'dfs' }).counterexamples[0]?.outcome;
    expect(o).toMatchObject({ kind: 'invariant', invariant: 'no_lock_held_on_return', thread: 'leaky' });
    expect(o?.kind === 'invariant' && o.message).toBe('leaky returned from map_dma holding m');
  });

  it('checks quiescent invariants only when no kernel path is in flight, end invariants at the end', () => {
    function* twoPhase(w: W): KGen<void> {
      w.n++; // transiently odd inside the path
      yield point('mid');
      w.n++;
    }
    const seen: string[] = [];
    const h = harness(
      [
        { name: 'a', steps: [twoPhase] },
        { name: 'b', steps: [twoPhase] },
      ],
      [
        { name: 'even_when_quiescent', level: 'quiescent', check: (w) => (w.n % 2 === 0 ? null : `n = ${w.n}`) },
        { name: 'end_seen', level: 'end', check: (w) => (seen.push(String(w.n)), null) },
      ],
    );
    const r = explore(h, { strategy: 'dfs', preemptionBound: Infinity });
    expect(r.outcomes.ok).toBe(r.executions);
    expect(seen.length).toBe(r.executions);
    expect(new Set(seen)).toEqual(new Set(['4']));
    const strict = harness([{ name: 'a', steps: [twoPhase] }], [{ name: 'even', level: 'step', check: (w) => (w.n % 2 === 0 ? null : 'odd') }]);
    expect(explore(strict, { strategy: 'dfs' }).counterexamples[0]?.outcome).toMatchObject({ kind: 'invariant', invariant: 'even', level: 'step' });
  });

  it('ends normally when only blocked daemons remain, and deadlocks when a non-daemon waits forever', () => {
    function* producer(w: W): KGen<void> {
      w.queue++;
      yield point('queue_work');
    }
    function* kworker(w: W): KGen<void> {
      for (;;) {
        yield { k: 'wait', ready: () => w.queue > 0, label: 'worker_thread: wait for work' };
        w.queue--;
        w.n++;
      }
    }
    const h = harness([
      { name: 'user', steps: [producer, producer] },
      { name: 'kworker', steps: [kworker], daemon: true },
    ]);
    const r = explore(h, { strategy: 'dfs', preemptionBound: Infinity });
    expect(r.complete).toBe(true);
    expect(r.outcomes.ok).toBe(r.executions);
    const stuck = harness([{ name: 'waiter', steps: [kworker] }]);
    expect(explore(stuck, { strategy: 'dfs' }).counterexamples[0]?.outcome).toMatchObject({
      kind: 'deadlock',
      threads: [{ name: 'waiter', at: 'worker_thread: wait for work', waitsFor: null, holds: [] }],
    });
  });

  it("runs threads under the model's own ThreadRefs when given", () => {
    const owners: (number | null)[] = [];
    const h = harness([
      {
        name: 'qemu',
        thread: { tid: 42, name: 'qemu[1000]' },
        steps: [
          function* (w: W): KGen<void> {
            yield* w.m.lock();
            owners.push(w.m.owner);
            yield* w.m.unlock();
          },
        ],
      },
      { name: 'leaky', thread: { tid: 7, name: 'vendor' }, steps: [(w: W) => w.m.lock()] },
    ]);
    const r = explore(h, { strategy: 'dfs', stopOnFailure: false });
    expect(new Set(owners)).toEqual(new Set([42]));
    expect(r.counterexamples[0]?.outcome).toMatchObject({ invariant: 'no_lock_held_on_return', message: 'vendor returned from step0 holding m' });
  });

  it('reports a harness whose setup throws as a model error', () => {
    const broken: Harness<W> = {
      ...harness([]),
      setup: () => {
        throw new Error('no such profile');
      },
    };
    const r = explore(broken, { strategy: 'dfs' });
    expect(r.executions).toBe(1);
    expect(r.counterexamples[0]?.outcome).toEqual({ kind: 'model_error', message: 'harness setup failed: no such profile', thread: null });
  });

  it('reports a wait condition that throws as a model error', () => {
    const h = harness([
      {
        name: 'sleeper',
        steps: [
          function* (): KGen<void> {
            yield {
              k: 'wait',
              label: 'wait_event(broken)',
              ready: () => {
                throw new TypeError('no such field');
              },
            };
          },
        ],
      },
    ]);
    expect(explore(h, { strategy: 'dfs' }).counterexamples[0]?.outcome).toEqual({
      kind: 'model_error',
      message: 'wait_event(broken): TypeError: no such field',
      thread: 'sleeper',
    });
  });

  it('stops a livelock at maxSteps', () => {
    const spin = harness([
      {
        name: 'spin',
        steps: [
          function* (): KGen<void> {
            for (;;) yield point('cpu_relax');
          },
        ],
      },
    ]);
    const r = explore(spin, { strategy: 'dfs', maxSteps: 50 });
    expect(r.counterexamples[0]?.outcome).toEqual({ kind: 'step_limit', message: 'no end after 50 scheduling steps' });
  });
});
