/**
 * The two ways lock operations run (sched.ts): interleaving (every operation yields its
 * scheduling point) and straight through (they take effect when called, yielding nothing), and
 * the path helpers that save generator levels (`write_locked`, `andThen`), which must yield exactly
 * what the generator they replace would.
 */
import { describe, expect, it } from 'vitest';
import { LockDomain, LockMisuse, Mutex, RwSem } from './locks.js';
import { runSync, SelfDeadlock } from './run-sync.js';
import type { KGen, Yield } from './sched.js';
import { andThen, andThenPath, done, eachPath, point } from './sched.js';
import fc from 'fast-check';

const T1 = { tid: 1, name: 't1' };
const T2 = { tid: 2, name: 't2' };

/** Drive `g` to the end as thread `t`; returns the labels of the yields and the result. */
function drive<T>(dom: LockDomain, t: typeof T1, g: KGen<T>): { ys: string[]; value: T } {
  dom.current = t;
  const ys: string[] = [];
  for (;;) {
    const r = g.next();
    if (r.done === true) return { ys, value: r.value };
    ys.push(`${r.value.k}:${r.value.label}`);
  }
}

/** `op` as a path of its own: a generator, which runs nothing until the runner resumes it. */
function* path<T>(op: () => KGen<T>): KGen<T> {
  return yield* op();
}

function setup(interleaving: boolean) {
  const dom = new LockDomain();
  dom.interleaving = interleaving;
  return { dom, m: new Mutex('m', dom), s: new RwSem('s', dom) };
}

describe('lock operations', () => {
  it('interleaving: acquire before taking, point after releasing', () => {
    const { dom, m, s } = setup(true);
    dom.current = T1;
    const g = m.lock();
    expect(m.owner).toBeNull(); // not taken until resumed past the acquire point
    expect(drive(dom, T1, g).ys).toEqual(['acquire:mutex_lock(m)']);
    expect(m.owner).toBe(1);
    expect(drive(dom, T1, m.unlock()).ys).toEqual(['point:mutex_unlock(m)']);
    expect(drive(dom, T1, s.down_read()).ys).toEqual(['acquire:down_read(s)']);
    expect(drive(dom, T1, s.up_read()).ys).toEqual(['point:up_read(s)']);
    expect(drive(dom, T1, s.down_write_trylock())).toEqual({ ys: ['point:down_write_trylock(s)'], value: true });
    expect(drive(dom, T1, s.up_write()).ys).toEqual(['point:up_write(s)']);
    expect(dom.heldBy(1)).toEqual([]);
  });

  it('straight through: the same state changes, no yield, one shared iterator', () => {
    const { dom, m, s } = setup(false);
    dom.current = T1;
    const g = m.lock();
    expect(m.owner).toBe(1); // taken by the call itself
    expect(drive(dom, T1, g).ys).toEqual([]);
    expect(m.unlock()).toBe(s.down_read()); // the shared finished iterator
    expect(s.readerTids).toEqual([1]);
    expect(drive(dom, T1, s.down_read_trylock())).toEqual({ ys: [], value: true });
    expect(s.readerCounts).toEqual([2]);
    expect(drive(dom, T1, s.down_write_trylock())).toEqual({ ys: [], value: false });
    expect(dom.heldBy(1)).toEqual([]); // the held list is the explorer's, kept only while interleaving
    drive(dom, T1, s.up_read());
    drive(dom, T1, s.up_read());
    expect(s.readerTids).toEqual([]);
    expect(dom.heldBy(1)).toEqual([]);
  });

  it('straight through: a lock that cannot be taken is the SelfDeadlock runSync reports', () => {
    for (const interleaving of [false, true]) {
      const { dom, m, s } = setup(interleaving);
      runSync(dom, T1, path(() => m.lock()));
      expect(() => runSync(dom, T1, path(() => m.lock()))).toThrow(new SelfDeadlock('t1 blocks forever at mutex_lock(m)'));
      runSync(dom, T2, path(() => s.down_read()));
      expect(() => runSync(dom, T1, path(() => s.down_write()))).toThrow(new SelfDeadlock('t1 blocks forever at down_write(s)'));
    }
  });

  it('a lock taken with no thread running (a lock operation handed to runSync) is LockMisuse', () => {
    const { dom, m } = setup(false);
    expect(() => runSync(dom, T1, m.lock())).toThrow(/taken with no thread running/);
  });

  it('misuse throws LockMisuse in both modes', () => {
    for (const interleaving of [false, true]) {
      const { dom, m, s } = setup(interleaving);
      expect(() => runSync(dom, T1, path(() => m.unlock()))).toThrow(LockMisuse);
      expect(() => runSync(dom, T1, path(() => s.up_read()))).toThrow(LockMisuse);
    }
  });

  it('readers of several threads keep their first-taken order', () => {
    const { dom, s } = setup(false);
    runSync(dom, T1, path(() => s.down_read()));
    runSync(dom, T2, path(() => s.down_read()));
    runSync(dom, T1, path(() => s.down_read()));
    expect([s.readerTids, s.readerCounts]).toEqual([
      [1, 2],
      [2, 1],
    ]);
    runSync(dom, T1, path(() => s.up_read()));
    runSync(dom, T1, path(() => s.up_read()));
    expect([s.readerTids, s.readerCounts]).toEqual([[2], [1]]);
    expect(s.canAcquire(1, 'w')).toBe(false);
  });
});

describe('write_locked and andThen yield what the generators they replace yield', () => {
  function* asGenerator(s: RwSem, body: () => number): KGen<number> {
    yield* s.down_write();
    const r = body();
    yield* s.up_write();
    return r;
  }

  it('read_locked', () => {
    function* asGen(s: RwSem, body: () => number): KGen<number> {
      yield* s.down_read();
      const r = body();
      yield* s.up_read();
      return r;
    }
    for (const interleaving of [false, true]) {
      const a = setup(interleaving);
      const b = setup(interleaving);
      a.dom.current = T1;
      const ra = drive(a.dom, T1, a.s.read_locked(() => a.s.readerTids.length));
      const rb = drive(b.dom, T1, asGen(b.s, () => b.s.readerTids.length));
      expect(ra).toEqual(rb);
      expect(ra.value).toBe(1);
      expect(a.s.readerTids).toEqual([]);
    }
  });

  it('write_locked', () => {
    for (const interleaving of [false, true]) {
      const a = setup(interleaving);
      const b = setup(interleaving);
      a.dom.current = T1; // write_locked may take the lock when called: the thread must be current
      let n = 0;
      const ra = drive(a.dom, T1, a.s.write_locked(() => (a.s.writer === 1 ? ++n : -1)));
      const rb = drive(b.dom, T1, asGenerator(b.s, () => (b.s.writer === 1 ? ++n : -1)));
      expect(ra.ys).toEqual(rb.ys);
      expect([ra.value, rb.value]).toEqual([1, 2]); // the body ran under the lock both times
      expect(ra.ys.length).toBe(interleaving ? 2 : 0);
    }
  });

  it('andThen over a path that yields, and over one that does not', () => {
    function* steps(log: string[]): KGen<number> {
      log.push('a');
      yield point('p1');
      log.push('b');
      yield point('p2');
      return 7;
    }
    function* reference(log: string[]): KGen<string> {
      const v = yield* steps(log);
      log.push('fn');
      return `v=${v}`;
    }
    const dom = new LockDomain();
    const l1: string[] = [];
    const l2: string[] = [];
    const steps1: string[][] = [];
    const steps2: string[][] = [];
    const g1 = andThen(steps(l1), (v) => {
      l1.push('fn');
      return `v=${v}`;
    });
    const g2 = reference(l2);
    // resume both step by step: the same yields, the same side effects between them
    for (;;) {
      const r1 = g1.next();
      const r2 = g2.next();
      steps1.push([...l1, r1.done === true ? `return ${r1.value}` : (r1.value as Yield).label]);
      steps2.push([...l2, r2.done === true ? `return ${r2.value}` : (r2.value as Yield).label]);
      if (r1.done === true || r2.done === true) break;
    }
    expect(steps1).toEqual(steps2);
    expect(steps1.at(-1)).toEqual(['a', 'b', 'fn', 'return v=7']);
    expect(drive(dom, T1, andThen(done(3), (v) => v * 2))).toEqual({ ys: [], value: 6 });
  });

  it('andThenPath: the continuation is a path that yields too', () => {
    function* first(log: string[]): KGen<number> {
      log.push('a');
      yield point('p1');
      return 2;
    }
    function* second(log: string[], v: number): KGen<number> {
      log.push(`b${v}`);
      yield point('p2');
      log.push('c');
      return v * 10;
    }
    function* reference(log: string[]): KGen<number> {
      return yield* second(log, yield* first(log));
    }
    const l1: string[] = [];
    const l2: string[] = [];
    const g1 = andThenPath(first(l1), (v) => second(l1, v));
    const g2 = reference(l2);
    const s1: string[] = [];
    const s2: string[] = [];
    for (;;) {
      const r1 = g1.next();
      const r2 = g2.next();
      s1.push(`${l1.join('')}:${r1.done === true ? `return ${r1.value}` : (r1.value as Yield).label}`);
      s2.push(`${l2.join('')}:${r2.done === true ? `return ${r2.value}` : (r2.value as Yield).label}`);
      if (r1.done === true || r2.done === true) break;
    }
    expect(s1).toEqual(s2);
    expect(s1).toEqual(['a:p1', 'ab2:p2', 'ab2c:return 20']);
    expect(drive(new LockDomain(), T1, andThenPath(done(4), (v) => done(v + 1)))).toEqual({ ys: [], value: 5 });
  });

  it('pass their extra arguments to a module-level continuation or body, finished or yielding', () => {
    const join = (v: number, w: string, x: number, y: boolean, z: string): string => `${v}:${w}:${x}:${y}:${z}`;
    const toPath = (v: number, w: string, x: number, y: boolean, z: string): KGen<string> => done(join(v, w, x, y, z));
    function* yields(): KGen<number> {
      yield point('p');
      return 1;
    }
    const dom = new LockDomain();
    expect(drive(dom, T1, andThen(done(0), join, 'w', 2, true, 'z')).value).toBe('0:w:2:true:z');
    expect(drive(dom, T1, andThen(yields(), join, 'w', 2, false, 'z'))).toEqual({ ys: ['point:p'], value: '1:w:2:false:z' });
    expect(drive(dom, T1, andThenPath(done(0), toPath, 'w', 3, true, 'z')).value).toBe('0:w:3:true:z');
    expect(drive(dom, T1, andThenPath(yields(), toPath, 'w', 3, true, 'z'))).toEqual({ ys: ['point:p'], value: '1:w:3:true:z' });
    for (const interleaving of [false, true]) {
      const a = setup(interleaving);
      a.dom.current = T1;
      const body = (w: number, x: string, y: number, z: boolean): string => `${w}${x}${y}${z}:${a.s.writer}:${a.s.readerTids.length}`;
      expect(drive(a.dom, T1, a.s.write_locked(body, 1, 'x', 2, true)).value).toBe('1x2true:1:0');
      expect(drive(a.dom, T1, a.s.read_locked(body, 3, 'y', 4, false)).value).toBe('3y4false:null:1');
    }
  });
});

describe('Mutex.locked and eachPath yield what the generators they replace yield', () => {
  /** Resume `g` to the end, recording each yield label with the log at that moment. */
  function trace(g: KGen<unknown>, log: string[]): string[] {
    const out: string[] = [];
    for (;;) {
      const r = g.next();
      out.push(`${log.join('')}:${r.done === true ? `return ${String(r.value)}` : (r.value as Yield).label}`);
      if (r.done === true) return out;
    }
  }

  it('Mutex.locked, around a body that yields and one that does not, in both modes', () => {
    function* yieldingBody(log: string[], m: Mutex): KGen<number> {
      log.push(m.owner === 1 ? 'L' : '-');
      yield point('inside');
      return 5;
    }
    const finishedBody = (log: string[], m: Mutex): KGen<number> => {
      log.push(m.owner === 1 ? 'L' : '-');
      return done(6);
    };
    for (const interleaving of [false, true]) {
      for (const body of [yieldingBody, finishedBody]) {
        const a = setup(interleaving);
        const b = setup(interleaving);
        a.dom.current = T1;
        b.dom.current = T1;
        const la: string[] = [];
        const lb: string[] = [];
        const ta = trace(a.m.locked(body, la, a.m), la);
        const tb = trace(
          (function* (): KGen<number> {
            yield* b.m.lock();
            const v = yield* body(lb, b.m);
            yield* b.m.unlock();
            return v;
          })(),
          lb,
        );
        expect(ta).toEqual(tb);
        expect(la).toEqual(['L']); // the body ran with the lock held
        expect(a.m.owner).toBeNull();
      }
    }
  });

  it('eachPath stops where a step says stop, with the yields of the loop as a generator', () => {
    // step i: yields when i is in `yieldAt`, stops (false) at `stopAt`
    function step(i: number, log: string[], yieldAt: readonly number[], stopAt: number): KGen<boolean> {
      if (yieldAt.includes(i))
        return (function* (): KGen<boolean> {
          log.push(`y${i}`);
          yield point(`p${i}`);
          return i !== stopAt;
        })();
      log.push(`s${i}`);
      return done(i !== stopAt);
    }
    function* reference(log: string[], yieldAt: readonly number[], stopAt: number, n: number): KGen<number> {
      for (let i = 0; i < n; i++) if (!(yield* step(i, log, yieldAt, stopAt))) return i;
      return n;
    }
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 6 }), fc.subarray([0, 1, 2, 3, 4, 5]), fc.integer({ min: -1, max: 6 }), (n, yieldAt, stopAt) => {
        const la: string[] = [];
        const lb: string[] = [];
        expect(trace(eachPath(0, n, step, la, yieldAt, stopAt), la)).toEqual(trace(reference(lb, yieldAt, stopAt, n), lb));
      }),
    );
  });
});

describe('done', () => {
  it('shares one instance for 0, -errno, booleans and undefined, and keeps every other value exact', () => {
    expect(done(0)).toBe(done(0));
    expect(done(-12)).toBe(done(-12));
    expect(done(1)).toBe(done(1));
    expect(done(true)).toBe(done(true));
    expect(done(undefined)).toBe(done(undefined));
    expect(Object.is(done(-0).next().value, 0)).toBe(true); // -0 shares 0's instance
    for (const v of [0, 1, 2, -1, -4095, -4096, 0.5, -1.5, -4094.5, NaN, Infinity, -Infinity, 2 ** 40, true, false, undefined, null, 'x', 7n]) {
      const r = done(v).next();
      expect(r.done).toBe(true);
      expect(Object.is(r.value, v)).toBe(true);
    }
    const o = { a: 1 };
    expect(done(o).next().value).toBe(o);
    expect(done(o)).not.toBe(done(o));
  });
});
