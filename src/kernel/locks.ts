/**
 * Kernel locks of the model: `struct mutex`, `struct rw_semaphore` (incl. `mmap_lock`).
 *
 * Each lock belongs to one `LockDomain` (one per model instance), which knows the current thread
 * and which locks every thread holds, so that the explorer can check "no lock held on return to
 * user" and report deadlocks with the lock names.
 *
 * Acquisition is two-phase (see sched.ts): `lock()` yields an `acquire` point and takes the lock
 * when resumed; the runner only resumes it when `canAcquire` is true. Misuse (unlocking a lock
 * that the thread does not hold, taking a mutex twice) is a model bug and throws `LockMisuse`.
 */
import type { Acquirable, KGen, LockMode, ThreadRef, Yield } from './sched.js';
import { point } from './sched.js';

export class LockMisuse extends Error {
  override name = 'LockMisuse';
}

export class LockDomain {
  /** The thread whose generator is running now; set by the runner before every resume. */
  current: ThreadRef = { tid: 0, name: 'init' };
  /** tid -> names of locks held, in acquisition order. */
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
  *lock(): KGen<void> {
    yield this.y.lock;
    this.take();
  }

  /** mutex_trylock(): 1 on success, 0 if held. */
  *trylock(): KGen<boolean> {
    yield this.y.trylock;
    if (this.owner !== null) return false;
    this.take();
    return true;
  }

  /** mutex_unlock() */
  *unlock(): KGen<void> {
    const tid = this.dom.current.tid;
    if (this.owner !== tid) throw new LockMisuse(`${this.dom.current.name} unlocks ${this.name} owned by ${String(this.owner)}`);
    this.owner = null;
    this.dom.noteRelease(tid, this.name);
    yield this.y.unlock;
  }

  isHeldByCurrent(): boolean {
    return this.owner === this.dom.current.tid;
  }

  private take(): void {
    const tid = this.dom.current.tid;
    if (this.owner !== null) throw new LockMisuse(`${this.dom.current.name} takes ${this.name} held by ${String(this.owner)}`);
    this.owner = tid;
    this.dom.noteAcquire(tid, this.name);
  }
}

/** `struct rw_semaphore`: many readers or one writer (no writer preference modelled). */
export class RwSem implements Acquirable {
  writer: number | null = null;
  readonly readers = new Map<number, number>();
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
    return mode === 'r' ? this.writer === null : this.writer === null && this.readers.size === 0;
  }

  /** down_read() */
  *down_read(): KGen<void> {
    yield this.y.down_read;
    this.takeRead();
  }
  /** down_write() / down_write_killable() (kills are not modelled: never returns -EINTR) */
  *down_write(): KGen<void> {
    yield this.y.down_write;
    this.takeWrite();
  }
  /** down_read_trylock(): true if taken. */
  *down_read_trylock(): KGen<boolean> {
    yield this.y.down_read_trylock;
    if (!this.canAcquire(this.dom.current.tid, 'r')) return false;
    this.takeRead();
    return true;
  }
  /** down_write_trylock(): true if taken. */
  *down_write_trylock(): KGen<boolean> {
    yield this.y.down_write_trylock;
    if (!this.canAcquire(this.dom.current.tid, 'w')) return false;
    this.takeWrite();
    return true;
  }
  *up_read(): KGen<void> {
    const tid = this.dom.current.tid;
    const n = this.readers.get(tid) ?? 0;
    if (n === 0) throw new LockMisuse(`${this.dom.current.name} up_read(${this.name}) without holding it`);
    if (n === 1) this.readers.delete(tid);
    else this.readers.set(tid, n - 1);
    this.dom.noteRelease(tid, this.name);
    yield this.y.up_read;
  }
  *up_write(): KGen<void> {
    const tid = this.dom.current.tid;
    if (this.writer !== tid) throw new LockMisuse(`${this.dom.current.name} up_write(${this.name}) without holding it`);
    this.writer = null;
    this.dom.noteRelease(tid, this.name);
    yield this.y.up_write;
  }

  private takeRead(): void {
    const tid = this.dom.current.tid;
    if (this.writer !== null) throw new LockMisuse(`${this.name}: read while write-held`);
    this.readers.set(tid, (this.readers.get(tid) ?? 0) + 1);
    this.dom.noteAcquire(tid, this.name);
  }
  private takeWrite(): void {
    const tid = this.dom.current.tid;
    if (this.writer !== null || this.readers.size > 0) throw new LockMisuse(`${this.name}: write while held`);
    this.writer = tid;
    this.dom.noteAcquire(tid, this.name);
  }
}
