/**
 * Kernel locks of the model: `struct mutex`, `struct rw_semaphore` (incl. `mmap_lock`).
 *
 * Each lock belongs to one `LockDomain` (one per model instance), which knows the current thread
 * and which locks every thread holds, so that the explorer can check "no lock held on return to
 * user" and report deadlocks with the lock names.
 *
 * Two ways to run, chosen by `LockDomain.interleaving` (see sched.ts):
 *   - interleaving (the explorer drives the domain): acquisition is two-phase, `lock()` yields an
 *     `acquire` point and takes the lock when resumed; the runner only resumes it when
 *     `canAcquire` is true. Releases and trylocks yield a `point` as well;
 *   - straight through (runSync, `Sys.call`): nothing else can run, so every operation takes
 *     effect when called and returns a finished iterator (one shared object, no generator); a lock
 *     that cannot be taken can never be released and throws `SelfDeadlock`, with the message
 *     runSync gives when it finds the same `acquire` point disabled.
 * Misuse (unlocking a lock that the thread does not hold, taking a mutex twice) is a model bug
 * and throws `LockMisuse`.
 */
import type { Acquirable, KGen, LockMode, ThreadRef, Yield } from './sched.js';
import { done, Finished, point } from './sched.js';
import { SelfDeadlock } from './run-sync.js';

export class LockMisuse extends Error {
  override name = 'LockMisuse';
}

export class LockDomain {
  /** The thread whose generator is running now; set by the runner before every resume. */
  current: ThreadRef = { tid: 0, name: 'init' };
  /**
   * Is an interleaving runner (the explorer's runtime) driving this domain? Only then do lock
   * operations and the kernel paths' scheduling points yield; otherwise (runSync, `Sys.call`) they
   * take effect at once. Set by the runtime for the executions it drives, false otherwise.
   */
  interleaving = false;
  /**
   * tid -> names of locks held, in acquisition order: what the explorer reports at a deadlock and
   * in traces, so kept only while `interleaving`. Straight through, a syscall returns with every
   * lock released (the owner fields say so) and nobody reads the list; not keeping it made a
   * vendor pin+unpin about 15 % faster. `interleaving` changes only between executions, when no lock is held.
   */
  readonly held = new Map<number, string[]>();

  noteAcquire(tid: number, name: string): void {
    const l = this.held.get(tid);
    if (l) l.push(name);
    else this.held.set(tid, [name]);
  }
  noteRelease(tid: number, name: string): void {
    const l = this.held.get(tid);
    if (l !== undefined && l[l.length - 1] === name) {
      // the common case, releasing the lock taken last: no search, no splice (the list stays,
      // empty, for the thread's next lock: no allocation per lock operation)
      l.pop();
      return;
    }
    const i = l ? l.lastIndexOf(name) : -1;
    if (!l || i < 0) throw new LockMisuse(`thread ${tid} releases ${name} which it does not hold`);
    l.splice(i, 1);
  }
  heldBy(tid: number): readonly string[] {
    return this.held.get(tid) ?? [];
  }

  /**
   * A lock taken while no thread runs (`current` is still the initial tid 0): a path that takes
   * effect when called (a lock operation, `andThen`, a tail call) was called outside a runner, e.g.
   * `runSync(dom, t, m.lock())`, which takes the lock before runSync makes `t` current. Pass
   * runSync and `Sys.call` a generator.
   */
  noRunner(lock: string): LockMisuse {
    return new LockMisuse(`${lock} taken with no thread running: a path that takes effect when called was called outside a runner`);
  }

  /** A lock the current thread cannot take while nothing else runs: it never will (runSync's error). */
  selfDeadlock(at: Yield): SelfDeadlock {
    return new SelfDeadlock(`${this.current.name} blocks forever at ${at.label}`);
  }
}

/**
 * The LockMisuse a lock operation throws, built here rather than in the (hot) lock operations,
 * whose bytecode size decides whether V8 inlines them into the kernel paths that call them.
 */
function misuse(dom: LockDomain, lock: string, what: 'unlock' | 'take' | 'up_read' | 'up_write' | 'read' | 'write', owner: number | null = null): LockMisuse {
  const who = dom.current.name;
  switch (what) {
    case 'unlock':
      return new LockMisuse(`${who} unlocks ${lock} owned by ${String(owner)}`);
    case 'take':
      return new LockMisuse(`${who} takes ${lock} held by ${String(owner)}`);
    case 'up_read':
    case 'up_write':
      return new LockMisuse(`${who} ${what}(${lock}) without holding it`);
    case 'read':
      return new LockMisuse(`${lock}: read while write-held`);
    case 'write':
      return new LockMisuse(`${lock}: write while held`);
  }
}

const DONE_VOID: KGen<void> = done(undefined);
const DONE_TRUE: KGen<boolean> = done(true);
const DONE_FALSE: KGen<boolean> = done(false);

/** What a lock operation does when resumed after its scheduling point (interleaving mode). */
const TAKE = 0;
const TRY = 1;
const TAKE_READ = 2;
const TAKE_WRITE = 3;
const TRY_READ = 4;
const TRY_WRITE = 5;
const NOTHING = 6;

/**
 * A lock operation in interleaving mode: yields its scheduling point once, then, when resumed,
 * acts (`then`) and finishes with the result. It is its own iterator result (`yield*` reads `done`
 * and `value` as soon as `next` returns, and the runner copies the yielded point out before it
 * resumes), so an operation costs one small object instead of a generator. Equivalent to
 * `function* () { yield y; return lock.after(then); }`.
 */
class LockStep<T> implements KGen<T> {
  done = false;
  value: Yield | T;
  private started = false;
  constructor(
    private readonly lock: { after(then: number): unknown },
    y: Yield,
    private readonly then: number,
  ) {
    this.value = y;
  }
  next(): IteratorResult<Yield, T> {
    if (!this.started) this.started = true;
    else if (!this.done) {
      this.done = true;
      this.value = this.lock.after(this.then) as T;
    }
    return this as IteratorResult<Yield, T>;
  }
  return(v: T): IteratorResult<Yield, T> {
    this.done = true;
    return { done: true, value: v };
  }
  throw(e: unknown): never {
    this.done = true;
    throw e;
  }
  [Symbol.iterator](): LockStep<T> {
    return this;
  }
}

/**
 * A release while interleaving: note it in the domain, and yield its point. Out of line: the
 * release operations are inlined on hot paths, where they never take this branch.
 */
function releasedY(dom: LockDomain, lock: Mutex | RwSem, tid: number, y: Yield): KGen<void> {
  dom.noteRelease(tid, lock.name);
  return new LockStep<void>(lock, y, NOTHING);
}

/** `struct mutex`: one owner, not recursive. */
export class Mutex implements Acquirable {
  owner: number | null = null;
  /** The scheduling points this lock yields, built once (no allocation per lock operation). */
  private readonly y: { readonly lock: Yield; readonly trylock: Yield; readonly unlock: Yield };
  constructor(
    readonly name: string,
    private readonly dom: LockDomain,
  ) {
    // frozen: never written, so a world snapshot (src/explore/snapshot.ts) need not record them
    this.y = Object.freeze({
      lock: Object.freeze({ k: 'acquire', lock: this, mode: 'w', label: `mutex_lock(${name})` }),
      trylock: Object.freeze(point(`mutex_trylock(${name})`)),
      unlock: Object.freeze(point(`mutex_unlock(${name})`)),
    });
  }

  canAcquire(): boolean {
    return this.owner === null;
  }

  /** mutex_lock() */
  lock(): KGen<void> {
    if (this.dom.interleaving) return new LockStep<void>(this, this.y.lock, TAKE);
    if (this.owner !== null) throw this.dom.selfDeadlock(this.y.lock);
    this.take();
    return DONE_VOID;
  }
  /** The action of a `LockStep` once resumed. */
  after(then: number): unknown {
    if (then === TAKE) this.take();
    else if (then === TRY) return this.tryTake();
    return undefined;
  }

  /**
   * mutex_lock(); v = yield* body(w, x, y, z); mutex_unlock(); v: a critical section around a
   * path, as one path. Straight through it takes the lock, runs `body` and, if that finishes
   * without yielding, unlocks: no generator. Otherwise (interleaving, or a body that yields) it
   * yields exactly what the three steps written as a generator would. `body` is a module-level
   * function and its inputs are passed along (no closure per call; see `andThen`).
   */
  locked<T, W = undefined, X = undefined, Y = undefined, Z = undefined>(body: (w: W, x: X, y: Y, z: Z) => KGen<T>, w?: W, x?: X, y?: Y, z?: Z): KGen<T> {
    if (this.dom.interleaving) return this.lockedY(body, w as W, x as X, y as Y, z as Z);
    if (this.owner !== null) throw this.dom.selfDeadlock(this.y.lock);
    this.take();
    const p = body(w as W, x as X, y as Y, z as Z);
    if (p instanceof Finished) {
      this.unlock();
      return p;
    }
    const r = p.next();
    if (r.done !== true) return this.lockedRestY(p, r.value);
    this.unlock();
    return done(r.value);
  }
  private *lockedY<T, W, X, Y, Z>(body: (w: W, x: X, y: Y, z: Z) => KGen<T>, w: W, x: X, y: Y, z: Z): KGen<T> {
    yield* this.lock();
    // called only now: a body that is not a generator does its first work when called
    const v = yield* body(w, x, y, z);
    yield* this.unlock();
    return v;
  }
  private *lockedRestY<T>(p: KGen<T>, first: Yield): KGen<T> {
    yield first;
    const v = yield* p;
    yield* this.unlock();
    return v;
  }

  /** mutex_trylock(): 1 on success, 0 if held. */
  trylock(): KGen<boolean> {
    if (this.dom.interleaving) return new LockStep<boolean>(this, this.y.trylock, TRY);
    return this.tryTake() ? DONE_TRUE : DONE_FALSE;
  }
  private tryTake(): boolean {
    if (this.owner !== null) return false;
    this.take();
    return true;
  }

  /** mutex_unlock() */
  unlock(): KGen<void> {
    const tid = this.dom.current.tid;
    if (this.owner !== tid) throw misuse(this.dom, this.name, 'unlock', this.owner);
    this.owner = null;
    if (this.dom.interleaving) return releasedY(this.dom, this, tid, this.y.unlock);
    return DONE_VOID;
  }

  isHeldByCurrent(): boolean {
    return this.owner === this.dom.current.tid;
  }

  private take(): void {
    const tid = this.dom.current.tid;
    if (tid === 0) throw this.dom.noRunner(this.name);
    if (this.owner !== null) throw misuse(this.dom, this.name, 'take', this.owner);
    this.owner = tid;
    if (this.dom.interleaving) this.dom.noteAcquire(tid, this.name);
  }
}

/** `struct rw_semaphore`: many readers or one writer (no writer preference modelled). */
export class RwSem implements Acquirable {
  writer: number | null = null;
  /**
   * Readers: the threads holding it for read, in the order they first took it, and how many
   * times each holds it (two arrays, not a Map: a Map that empties on every up_read reallocates
   * its table each time, which dominated the mmap_lock cost of a vendor pin).
   */
  readonly readerTids: number[] = [];
  readonly readerCounts: number[] = [];
  /** The scheduling points this semaphore yields, built once. */
  private readonly y: Readonly<Record<'down_read' | 'down_write' | 'down_read_trylock' | 'down_write_trylock' | 'up_read' | 'up_write', Yield>>;
  constructor(
    readonly name: string,
    private readonly dom: LockDomain,
  ) {
    this.y = Object.freeze({
      down_read: Object.freeze({ k: 'acquire', lock: this, mode: 'r', label: `down_read(${name})` }),
      down_write: Object.freeze({ k: 'acquire', lock: this, mode: 'w', label: `down_write(${name})` }),
      down_read_trylock: Object.freeze(point(`down_read_trylock(${name})`)),
      down_write_trylock: Object.freeze(point(`down_write_trylock(${name})`)),
      up_read: Object.freeze(point(`up_read(${name})`)),
      up_write: Object.freeze(point(`up_write(${name})`)),
    });
  }

  canAcquire(_tid: number, mode: LockMode): boolean {
    return mode === 'r' ? this.writer === null : this.writer === null && this.readerTids.length === 0;
  }

  /** down_read() */
  down_read(): KGen<void> {
    if (this.dom.interleaving) return new LockStep<void>(this, this.y.down_read, TAKE_READ);
    if (this.writer !== null) throw this.dom.selfDeadlock(this.y.down_read);
    this.takeRead();
    return DONE_VOID;
  }
  /** down_write() / down_write_killable() (kills are not modelled: never returns -EINTR) */
  down_write(): KGen<void> {
    if (this.dom.interleaving) return new LockStep<void>(this, this.y.down_write, TAKE_WRITE);
    if (this.writer !== null || this.readerTids.length > 0) throw this.dom.selfDeadlock(this.y.down_write);
    this.takeWrite();
    return DONE_VOID;
  }
  /**
   * down_write(); body(w, x, y, z); up_write(): a write-side critical section as one path.
   * Interleaving, it yields exactly what the three steps yield; straight through it needs no
   * generator at all. On hot paths `body` is a module-level function and its inputs are passed as
   * `w, x, y, z` (a closure would be allocated on every call; see `andThen`).
   */
  write_locked<T, W = undefined, X = undefined, Y = undefined, Z = undefined>(body: (w: W, x: X, y: Y, z: Z) => T, w?: W, x?: X, y?: Y, z?: Z): KGen<T> {
    if (this.dom.interleaving) return this.sectionY(true, body, w as W, x as X, y as Y, z as Z);
    this.down_write();
    const r = body(w as W, x as X, y as Y, z as Z);
    this.up_write();
    return done(r);
  }
  /** down_read(); body(w, x, y, z); up_read(): the read-side critical section, as `write_locked`. */
  read_locked<T, W = undefined, X = undefined, Y = undefined, Z = undefined>(body: (w: W, x: X, y: Y, z: Z) => T, w?: W, x?: X, y?: Y, z?: Z): KGen<T> {
    if (this.dom.interleaving) return this.sectionY(false, body, w as W, x as X, y as Y, z as Z);
    this.down_read();
    const r = body(w as W, x as X, y as Y, z as Z);
    this.up_read();
    return done(r);
  }
  /**
   * write_locked / read_locked when interleaving, as the generator they stand for. (Only this half
   * is shared: one straight-through function for both modes measured 10-15 % slower on a vendor
   * pin+unpin.)
   */
  private *sectionY<T, W, X, Y, Z>(write: boolean, body: (w: W, x: X, y: Y, z: Z) => T, w: W, x: X, y: Y, z: Z): KGen<T> {
    yield* write ? this.down_write() : this.down_read();
    const r = body(w, x, y, z);
    yield* write ? this.up_write() : this.up_read();
    return r;
  }
  /** The action of a `LockStep` once resumed. */
  after(then: number): unknown {
    switch (then) {
      case TAKE_READ:
        this.takeRead();
        return undefined;
      case TAKE_WRITE:
        this.takeWrite();
        return undefined;
      case TRY_READ:
        return this.tryTake(false);
      case TRY_WRITE:
        return this.tryTake(true);
      default:
        return undefined;
    }
  }
  /** down_read_trylock(): true if taken. */
  down_read_trylock(): KGen<boolean> {
    if (this.dom.interleaving) return new LockStep<boolean>(this, this.y.down_read_trylock, TRY_READ);
    return this.tryTake(false) ? DONE_TRUE : DONE_FALSE;
  }
  /** down_write_trylock(): true if taken. */
  down_write_trylock(): KGen<boolean> {
    if (this.dom.interleaving) return new LockStep<boolean>(this, this.y.down_write_trylock, TRY_WRITE);
    return this.tryTake(true) ? DONE_TRUE : DONE_FALSE;
  }
  private tryTake(write: boolean): boolean {
    if (!this.canAcquire(this.dom.current.tid, write ? 'w' : 'r')) return false;
    if (write) this.takeWrite();
    else this.takeRead();
    return true;
  }
  up_read(): KGen<void> {
    const tid = this.dom.current.tid;
    const tids = this.readerTids;
    // the usual case, the one reader leaving, first; the rest out of line (hot paths inline this)
    if (tids.length === 1 && tids[0] === tid && this.readerCounts[0] === 1) {
      tids.pop();
      this.readerCounts.pop();
    } else this.dropReader(tid);
    if (this.dom.interleaving) return releasedY(this.dom, this, tid, this.y.up_read);
    return DONE_VOID;
  }
  /** up_read() by `tid` when it is not the one reader holding the lock once. */
  private dropReader(tid: number): void {
    const tids = this.readerTids;
    const i = tids.indexOf(tid);
    if (i < 0) throw misuse(this.dom, this.name, 'up_read');
    const n = this.readerCounts[i] as number;
    if (n > 1) this.readerCounts[i] = n - 1;
    else {
      tids.splice(i, 1);
      this.readerCounts.splice(i, 1);
    }
  }

  up_write(): KGen<void> {
    const tid = this.dom.current.tid;
    if (this.writer !== tid) throw misuse(this.dom, this.name, 'up_write');
    this.writer = null;
    if (this.dom.interleaving) return releasedY(this.dom, this, tid, this.y.up_write);
    return DONE_VOID;
  }

  private takeRead(): void {
    const tid = this.dom.current.tid;
    if (tid === 0) throw this.dom.noRunner(this.name);
    if (this.writer !== null) throw misuse(this.dom, this.name, 'read');
    const i = this.readerTids.indexOf(tid);
    if (i < 0) {
      this.readerTids.push(tid);
      this.readerCounts.push(1);
    } else this.readerCounts[i] = (this.readerCounts[i] as number) + 1;
    if (this.dom.interleaving) this.dom.noteAcquire(tid, this.name);
  }
  private takeWrite(): void {
    const tid = this.dom.current.tid;
    if (tid === 0) throw this.dom.noRunner(this.name);
    if (this.writer !== null || this.readerTids.length > 0) throw misuse(this.dom, this.name, 'write');
    this.writer = tid;
    if (this.dom.interleaving) this.dom.noteAcquire(tid, this.name);
  }
}
