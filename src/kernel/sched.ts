/**
 * Scheduling points: the contract between kernel paths and whoever runs them.
 *
 * Every kernel path in the model is a generator function (`KGen<T>`). Where the real kernel could
 * be preempted or block in a way that matters to another thread (lock acquire, before taking it;
 * lock release, after dropping it; refcount and accounting steps; callbacks into drivers) it has
 * a scheduling point. The same path is
 *   - interleaved with other threads by the concurrency explorer (src/explore/), which sets
 *     `LockDomain.interleaving` for the executions it drives: then every scheduling point is
 *     yielded as a `Yield`;
 *   - run straight through by `runSync` (src/kernel/run-sync.ts) for the scenario runner and the
 *     API (`Sys.call`), with `interleaving` false: nothing else can run, so a point changes nothing
 *     and is not yielded at all. Lock operations take effect when called and return a finished
 *     iterator (`done`), and paths guard their other points with the flag
 *     (`if (k.locks.interleaving) yield point(...)`), so a straight-through call allocates no
 *     generator for a lock and no `Yield` for a point.
 * Points are yielded only when an interleaving runner drives the lock domain. Whether a given
 * point is skipped in straight-through mode must not change any result: the only thing runSync
 * does at a point is check that it is enabled, and a point is always enabled. `wait` yields are
 * the exception: they are yielded in both modes (runSync checks that the condition holds now,
 * else reports `SelfDeadlock`). src/scenario/modes.test.ts runs every scenario both ways.
 *
 * A path is any `KGen<T>`: usually a generator, but on the hottest paths (a vendor pin+unpin) a
 * plain function may return one instead: a generator costs about 90 ns and a few hundred bytes
 * straight through, where a finished path costs nothing. The pieces: a tail call returning
 * another path (vfio_pin_pages), a lock's critical section (`RwSem.write_locked`,
 * `Mutex.locked`), a continuation after a path (`andThen`, `andThenPath`) and a loop of paths
 * (`eachPath`), all below or in locks.ts. They take a module-level function and pass it its
 * inputs (up to four), because a closure allocated per call costs about as much as the generator
 * it replaces. They run part of their work when called, not when first resumed, and interleaving
 * they yield exactly what the generator they stand for would (src/kernel/locks.test.ts).
 *
 * Hot call sites also call the continuation themselves when the path has already finished:
 *     const p = vfio_lock_acct(k, dma, 1, false);
 *     return p instanceof Finished ? done(charged_page(p.value, k, dma, pfn)) : andThen(p, charged_page, k, dma, pfn);
 * which means the same as the `andThen` alone. The call inside `andThen` is shared by all its
 * users, so V8 sees many targets there and makes a real call; the one written at the site has a
 * single target, which V8 inlines into its caller. On the vendor pin and unpin paths this is worth
 * about 20 % of a pin+unpin pair (BENCHMARKS.md, "Direct continuations"). It is used only where
 * it measured faster: calling the body of a lock's critical section the same way inlined so much
 * that V8's budget ran out in worse places, and the figures dropped and varied from run to run.
 *
 * Rules for kernel paths:
 *   - never block in JS: to take a lock, `yield* lock.lock()` (see locks.ts), which, when
 *     interleaving, yields an `acquire` point; the runner resumes the generator only once the
 *     lock can be granted, and the generator then takes it;
 *   - call a lock operation, or any path that is not a generator function, only as the operand of
 *     `yield*` or `return` inside a path (it may take effect at the call, so the runner must have
 *     made its thread current already); what is handed to runSync or `Sys.call` is a generator or
 *     a function returning a path, which they call once the thread is current (an explorer
 *     step function is called with its thread current, so it may return any path;
 *     a lock taken with no thread running throws `LockMisuse`);
 *   - `current` (the thread the path runs on) is `k.current`, set by the runner before each resume;
 *   - no Math.random / Date.now: the model is deterministic, which is what makes replay possible.
 */

/** A thread of execution as the scheduler sees it (a user thread issuing syscalls, or a kworker). */
export interface ThreadRef {
  /** Small integer id, unique within one execution; also the lock-owner id. */
  readonly tid: number;
  readonly name: string;
}

/** Anything a thread can wait for at an `acquire` point. */
export interface Acquirable {
  readonly name: string;
  /** Could `tid` take this lock in `mode` right now? */
  canAcquire(tid: number, mode: LockMode): boolean;
}

export type LockMode = 'w' | 'r';

export type Yield =
  /** About to take `lock`; resume only when `lock.canAcquire(tid, mode)`. */
  | { readonly k: 'acquire'; readonly lock: Acquirable; readonly mode: LockMode; readonly label: string }
  /** Any other interleaving point: after a release, a refcount or accounting step, a callback. */
  | { readonly k: 'point'; readonly label: string; readonly obj?: string }
  /** Sleep until `ready()` holds (e.g. waiting for a workqueue item, a completion). */
  | { readonly k: 'wait'; readonly ready: () => boolean; readonly label: string };

export type KGen<T> = Generator<Yield, T, undefined>;

/**
 * A kernel path that has already finished with `value`: `yield* done(v)` yields nothing and
 * evaluates to `v`. What lock operations return when they take effect at once (straight-through
 * mode), and what dispatchers (the ioctl switches, `Sys.sys_ioctl`) return for an immediate errno;
 * otherwise a dispatcher returns the kernel path it picks, so it adds no generator frame that every
 * scheduling point below would travel through. The object is its own iterator result
 * (`{ done: true, value }`) and holds no state: 0, -errno, booleans and undefined have one
 * shared (frozen) instance each (`done(-0)` is `done(0)`), other values cost one allocation. One
 * class, so every `yield*` site sees the same `next`.
 */
export function done<T>(value: T): KGen<T> {
  if (typeof value === 'number') {
    // the results of most paths (0 and -errno) share one instance each: finishing costs nothing.
    // (An index that is not an integer in range finds nothing; -0 finds 0's, which is taken.)
    if (value <= 1 && value >= -MAX_ERRNO) {
      const f = SMALL[value + MAX_ERRNO];
      if (f !== undefined && f.value === value) return f as unknown as KGen<T>;
    }
  } else if (value === undefined) return VOID as unknown as KGen<T>;
  else if (typeof value === 'boolean') return (value ? TRUE : FALSE) as unknown as KGen<T>;
  return new Finished(value);
}

/** A finished path (see `done`); exported for the lock combinators, which test for it. */
export class Finished<T> implements KGen<T>, IteratorReturnResult<T> {
  readonly done = true as const;
  constructor(readonly value: T) {}
  next(): IteratorReturnResult<T> {
    return this;
  }
  return(v: T): IteratorReturnResult<T> {
    return { done: true, value: v };
  }
  throw(e: unknown): never {
    throw e;
  }
  [Symbol.iterator](): Finished<T> {
    return this;
  }
}

const MAX_ERRNO = 4095;
const SMALL: readonly Finished<number>[] = Array.from({ length: MAX_ERRNO + 2 }, (_, i) => Object.freeze(new Finished(i - MAX_ERRNO)));
const VOID = Object.freeze(new Finished(undefined));
const TRUE = Object.freeze(new Finished(true));
const FALSE = Object.freeze(new Finished(false));

/**
 * `const v = yield* path; return fn(v, w, x, y, z)` as a path of its own, without a generator when
 * `path` finishes without yielding (straight through, usually). It runs `path` up to its first
 * yield when called, so, like every path, it is only used as the operand of `yield*` or `return`;
 * interleaving, it yields exactly what `path` yields and calls `fn` in the same resume as the
 * generator would. On the hot paths `fn` is a module-level function and what it needs is passed
 * as `w, x, y, z`: a closure would be allocated on every call (and cost as much as a generator).
 */
export function andThen<A, B, W = undefined, X = undefined, Y = undefined, Z = undefined>(path: KGen<A>, fn: (a: A, w: W, x: X, y: Y, z: Z) => B, w?: W, x?: X, y?: Y, z?: Z): KGen<B> {
  // a finished path (the usual case straight through) is read without calling `next`, a call
  // that every kind of path reaches here and so is slow to dispatch
  if (path instanceof Finished) return done(fn(path.value, w as W, x as X, y as Y, z as Z));
  const r = path.next();
  if (r.done === true) return done(fn(r.value, w as W, x as X, y as Y, z as Z));
  return andThenY(path, r.value, fn, w as W, x as X, y as Y, z as Z);
}
function* andThenY<A, B, W, X, Y, Z>(path: KGen<A>, first: Yield, fn: (a: A, w: W, x: X, y: Y, z: Z) => B, w: W, x: X, y: Y, z: Z): KGen<B> {
  yield first;
  return fn(yield* path, w, x, y, z);
}

/**
 * `const v = yield* path; return yield* fn(v, w, x, y, z)`: as `andThen`, for a continuation that is
 * itself a path (it may take locks or call other paths).
 */
export function andThenPath<A, B, W = undefined, X = undefined, Y = undefined, Z = undefined>(path: KGen<A>, fn: (a: A, w: W, x: X, y: Y, z: Z) => KGen<B>, w?: W, x?: X, y?: Y, z?: Z): KGen<B> {
  if (path instanceof Finished) return fn(path.value, w as W, x as X, y as Y, z as Z);
  const r = path.next();
  if (r.done === true) return fn(r.value, w as W, x as X, y as Y, z as Z);
  return andThenPathY(path, r.value, fn, w as W, x as X, y as Y, z as Z);
}
function* andThenPathY<A, B, W, X, Y, Z>(path: KGen<A>, first: Yield, fn: (a: A, w: W, x: X, y: Y, z: Z) => KGen<B>, w: W, x: X, y: Y, z: Z): KGen<B> {
  yield first;
  return yield* fn(yield* path, w, x, y, z);
}

/**
 * `for (let i = from; i < to; i++) if (!(yield* step(i, w, x, y, z))) return i; return to;` as a
 * path: the index where `step` said stop, or `to`. Straight through (every step finishes without
 * yielding) it is a plain loop and allocates nothing; the first step that yields hands the rest of
 * the loop to a generator, which yields exactly what the loop written as a generator would. Like
 * `andThen`, it runs up to that first yield when called, and `step` is a module-level function.
 */
export function eachPath<W = undefined, X = undefined, Y = undefined, Z = undefined>(
  from: number,
  to: number,
  step: (i: number, w: W, x: X, y: Y, z: Z) => KGen<boolean>,
  w?: W,
  x?: X,
  y?: Y,
  z?: Z,
): KGen<number> {
  for (let i = from; i < to; i++) {
    const p = step(i, w as W, x as X, y as Y, z as Z);
    let more: boolean;
    if (p instanceof Finished) more = p.value;
    else {
      const r = p.next();
      if (r.done !== true) return eachPathY(i, to, step, p, r.value, w as W, x as X, y as Y, z as Z);
      more = r.value;
    }
    if (!more) return done(i);
  }
  return done(to);
}
function* eachPathY<W, X, Y, Z>(i: number, to: number, step: (i: number, w: W, x: X, y: Y, z: Z) => KGen<boolean>, p: KGen<boolean>, first: Yield, w: W, x: X, y: Y, z: Z): KGen<number> {
  yield first;
  if (!(yield* p)) return i;
  for (i++; i < to; i++) if (!(yield* step(i, w, x, y, z))) return i;
  return to;
}

/** A scheduling point that is not a lock operation. */
export function point(label: string, obj?: string): Yield {
  return obj === undefined ? { k: 'point', label } : { k: 'point', label, obj };
}

/** Is the thread parked at `y` able to run now? */
export function isEnabled(y: Yield, tid: number): boolean {
  switch (y.k) {
    case 'acquire':
      return y.lock.canAcquire(tid, y.mode);
    case 'point':
      return true;
    case 'wait':
      return y.ready();
  }
}
