/**
 * Toy harnesses for the explorer's own tests, benchmark and docs. They use the real kernel lock
 * primitives (src/kernel/locks.ts), so they also exercise the scheduling-point contract.
 */
import type { KGen } from '../../kernel/sched.js';
import { point } from '../../kernel/sched.js';
import { LockDomain, Mutex, RwSem } from '../../kernel/locks.js';
import { Workqueue } from '../../kernel/workqueue.js';
import type { Harness, ThreadSpec } from '../harness.js';

// ---------------------------------------------------------------------------------------------
// Lost update: `x++` as read, yield, write, on `threads` threads; optionally under a mutex.

export interface CounterWorld {
  readonly dom: LockDomain;
  readonly lock: Mutex;
  x: number;
}

function counterWorld(): CounterWorld {
  const dom = new LockDomain();
  return { dom, lock: new Mutex('counter_lock', dom), x: 0 };
}

function* incrUnlocked(w: CounterWorld): KGen<void> {
  const v = w.x;
  yield point('read x', 'x');
  w.x = v + 1;
  yield point('write x', 'x');
}

function* incrLocked(w: CounterWorld): KGen<void> {
  yield* w.lock.lock();
  const v = w.x;
  yield point('read x', 'x');
  w.x = v + 1;
  yield* w.lock.unlock();
}

export function counterHarness(o: { locked: boolean; threads?: number; stepsPerThread?: number }): Harness<CounterWorld> {
  const threads = o.threads ?? 2;
  const steps = o.stepsPerThread ?? 1;
  const incr = o.locked ? incrLocked : incrUnlocked;
  const specs: ThreadSpec<CounterWorld>[] = [];
  for (let t = 0; t < threads; t++) specs.push({ name: `inc${t}`, steps: Array.from({ length: steps }, () => incr), stepNames: Array.from({ length: steps }, () => 'x++') });
  return {
    name: o.locked ? 'toy-counter-locked' : 'toy-counter-racy',
    setup: counterWorld,
    lockDomain: (w) => w.dom,
    threads: () => specs,
    invariants: [
      {
        name: 'no_lost_update',
        level: 'end',
        check: (w) => (w.x === threads * steps ? null : `x = ${w.x}, expected ${threads * steps}`),
      },
    ],
    stateKey: (w) => String(w.x),
  };
}

// ---------------------------------------------------------------------------------------------
// ABBA: T1 takes a then b, T2 takes b then a.

export interface AbbaWorld {
  readonly dom: LockDomain;
  readonly a: Mutex;
  readonly b: Mutex;
}

function* lockTwo(first: Mutex, second: Mutex): KGen<void> {
  yield* first.lock();
  yield* second.lock();
  yield* second.unlock();
  yield* first.unlock();
}

export function abbaHarness(o: { sameOrder: boolean }): Harness<AbbaWorld> {
  return {
    name: o.sameOrder ? 'toy-ab-ab' : 'toy-ab-ba',
    setup: () => {
      const dom = new LockDomain();
      return { dom, a: new Mutex('a', dom), b: new Mutex('b', dom) };
    },
    lockDomain: (w) => w.dom,
    threads: () => [
      { name: 'ab', steps: [(w: AbbaWorld) => lockTwo(w.a, w.b)] },
      { name: o.sameOrder ? 'ab2' : 'ba', steps: [(w: AbbaWorld) => (o.sameOrder ? lockTwo(w.a, w.b) : lockTwo(w.b, w.a))] },
    ],
    invariants: [],
  };
}

// ---------------------------------------------------------------------------------------------
// The mlock gap (spec §8.1 item 4, bug 24): re-accounting at detach either as two separate locked
// updates (uncharge N, then charge M back) or as one net delta, while a user mlock() checks
// `locked + n <= limit` and charges.

export interface AcctWorld {
  readonly dom: LockDomain;
  /** mmap_lock (write) stands for the lock protecting locked_vm. */
  readonly mm: Mutex;
  locked: number;
  readonly limit: number;
}

const N = 4; // IOMMU-pinned pages uncharged at detach
const M = 2; // externally pinned pages that stay charged
const MLOCK = 3;

function* reaccountSplit(w: AcctWorld): KGen<void> {
  yield* w.mm.lock();
  w.locked -= N;
  yield* w.mm.unlock();
  yield* w.mm.lock();
  w.locked += M; // re-charges cannot fail
  yield* w.mm.unlock();
}

function* reaccountNet(w: AcctWorld): KGen<void> {
  yield* w.mm.lock();
  w.locked += M - N;
  yield* w.mm.unlock();
}

function* mlock(w: AcctWorld): KGen<number> {
  yield* w.mm.lock();
  let err = 0;
  if (w.locked + MLOCK <= w.limit) w.locked += MLOCK;
  else err = -12; // -ENOMEM
  yield* w.mm.unlock();
  return err;
}

export function mlockGapHarness(o: { split: boolean }): Harness<AcctWorld> {
  return {
    name: o.split ? 'toy-mlock-gap-split' : 'toy-mlock-gap-net',
    setup: () => {
      const dom = new LockDomain();
      return { dom, mm: new Mutex('mmap_lock', dom), locked: N, limit: N };
    },
    lockDomain: (w) => w.dom,
    threads: () => [
      { name: 'detach', steps: [o.split ? reaccountSplit : reaccountNet] },
      { name: 'user', steps: [mlock] },
    ],
    invariants: [
      {
        name: 'locked_vm_within_limit',
        level: 'step',
        check: (w) => (w.locked <= w.limit ? null : `locked_vm ${w.locked} > limit ${w.limit}`),
      },
    ],
  };
}

// ---------------------------------------------------------------------------------------------
// Independent threads: `threads` threads, each one step with `points` explicit points and no
// shared state. Every interleaving is distinct, so unbounded DFS runs the multinomial count.

export function independentHarness(threads: number, points: number): Harness<{ dom: LockDomain }> {
  function* body(): KGen<void> {
    for (let i = 0; i < points; i++) yield point(`p${i}`);
  }
  const specs = Array.from({ length: threads }, (_, t) => ({ name: `t${t}`, steps: [body] }));
  return {
    name: `toy-independent-${threads}x${points}`,
    setup: () => ({ dom: new LockDomain() }),
    lockDomain: (w) => w.dom,
    threads: () => specs,
    invariants: [],
  };
}

// ---------------------------------------------------------------------------------------------
// Deferred accounting (spec §8.3 bug 4): in 4.10, vfio_lock_acct() took mmap_sem with a trylock
// and, when it failed, left the locked_vm update to a kworker; the limit check at MAP read a
// locked_vm that did not yet include deferred charges. 4.11 takes mmap_sem for write and checks
// under it. Two MAPs of 3 pages against a limit of 4, while a page fault holds mmap_sem for read.

export interface DeferWorld {
  readonly dom: LockDomain;
  readonly mmap_sem: RwSem;
  readonly wq: Workqueue;
  locked: number;
  readonly limit: number;
}

function* lockAcctDeferred(w: DeferWorld, npage: number): KGen<void> {
  if (yield* w.mmap_sem.down_write_trylock()) {
    w.locked += npage;
    yield* w.mmap_sem.up_write();
    return;
  }
  yield* w.wq.queue_work({
    name: `vfio_lock_acct_bg(${npage})`,
    *run() {
      yield* w.mmap_sem.down_write();
      w.locked += npage;
      yield* w.mmap_sem.up_write();
    },
  });
}

function* mapDeferred(w: DeferWorld): KGen<number> {
  // vfio_pin_pages_remote: limit check against locked_vm read without mmap_sem
  if (w.locked + 3 > w.limit) return -12;
  yield point('pin 3 pages');
  yield* lockAcctDeferred(w, 3);
  return 0;
}

function* mapSync(w: DeferWorld): KGen<number> {
  yield* w.mmap_sem.down_write();
  let ret = 0;
  if (w.locked + 3 > w.limit) ret = -12;
  else w.locked += 3;
  yield* w.mmap_sem.up_write();
  return ret;
}

function* pageFault(w: DeferWorld): KGen<void> {
  yield* w.mmap_sem.down_read();
  yield point('handle_mm_fault');
  yield* w.mmap_sem.up_read();
}

export function deferredAcctHarness(o: { deferred: boolean }): Harness<DeferWorld> {
  const map = o.deferred ? mapDeferred : mapSync;
  return {
    name: o.deferred ? 'toy-lock-acct-4.10' : 'toy-lock-acct-4.11',
    setup: () => {
      const dom = new LockDomain();
      return { dom, mmap_sem: new RwSem('mmap_sem', dom), wq: new Workqueue('events'), locked: 0, limit: 4 };
    },
    lockDomain: (w) => w.dom,
    threads: () => [
      { name: 'qemu0', steps: [map], stepNames: ['MAP_DMA'] },
      { name: 'qemu1', steps: [map], stepNames: ['MAP_DMA'] },
      { name: 'fault', steps: [pageFault] },
      { name: 'kworker', steps: [(w: DeferWorld) => w.wq.worker()], daemon: true },
    ],
    invariants: [
      { name: 'locked_vm_within_limit', level: 'end', check: (w) => (w.locked <= w.limit ? null : `locked_vm ${w.locked} > limit ${w.limit}`) },
      { name: 'work_drained', level: 'end', check: (w) => (w.wq.pending.length === 0 && w.wq.running === null ? null : 'work left on the queue') },
    ],
  };
}

/** The default export for worker-thread tests: loaded by module path + export name. */
export const lockedCounter3 = counterHarness({ locked: true, threads: 3 });
export function racyCounterFactory(): Harness<CounterWorld> {
  return counterHarness({ locked: false, threads: 2 });
}
