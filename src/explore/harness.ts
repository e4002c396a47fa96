/**
 * Harness: what the concurrency explorer explores.
 *
 * A harness builds a fresh model world (`setup`), names the lock domain of that world, the threads
 * that run on it and the invariants that must hold. The explorer is a stateless model checker: it
 * calls `setup()` again for every execution and replays a schedule from the start, so `setup` must
 * be cheap and deterministic (no Math.random, no Date.now, no I/O).
 *
 * Vocabulary
 *   - thread: a user thread issuing a list of syscalls, or a kworker; it has a fixed list of steps;
 *   - step: one kernel entry run on that thread, a generator `(w) => KGen<unknown>` that yields at
 *     every scheduling point (see src/kernel/sched.ts); between two steps the thread is in user space;
 *   - scheduling step: one resume of one thread, from the point where it was parked to the next
 *     point it parks at (or to the return of its step).
 */
import type { KGen, ThreadRef, Yield } from '../kernel/sched.js';
import type { LockDomain } from '../kernel/locks.js';

/** One syscall or kernel call run on a thread. */
export type Step<W> = (w: W) => KGen<unknown>;

export interface ThreadSpec<W> {
  /** Shown in traces and deadlock reports, e.g. `qemu`, `vendor`, `kworker`. */
  readonly name: string;
  readonly steps: readonly Step<W>[];
  /** Optional names of the steps, for traces; defaults to the function name or `step<i>`. */
  readonly stepNames?: readonly string[];
  /**
   * A daemon (a kworker waiting for work) may stay blocked forever: once every non-daemon thread
   * has finished and every daemon is blocked, the execution ends normally instead of deadlocking.
   */
  readonly daemon?: boolean;
  /**
   * The model's handle for this thread (e.g. from `Kernel.newThread`), set as
   * `lockDomain.current` before each resume and used as the lock-owner id. Default:
   * `{ tid: index + 1, name }`. The explorer's own thread ids (in schedules, tokens and traces)
   * are always index + 1, whatever the model's tids.
   */
  readonly thread?: ThreadRef;
}

/**
 * When an invariant is checked:
 *   - `step`: after every scheduling step (the state may be in the middle of a kernel path);
 *   - `quiescent`: after a scheduling step that leaves every thread in user space (between steps)
 *     or finished: no kernel path is in flight;
 *   - `end`: once, after all threads have finished.
 */
export type InvariantLevel = 'step' | 'quiescent' | 'end';

export interface Invariant<W> {
  /** snake_case or kebab-case, e.g. `locked_vm_within_limit`; it names the failure. */
  readonly name: string;
  readonly level: InvariantLevel;
  /** null when the invariant holds, else a message saying what is wrong. */
  check(w: W): string | null;
}

export interface Harness<W> {
  readonly name: string;
  setup(): W;
  lockDomain(w: W): LockDomain;
  threads(w: W): readonly ThreadSpec<W>[];
  readonly invariants: readonly Invariant<W>[];
  /**
   * Optional canonical key of a finished world, used only to count distinct final states for
   * coverage. Called once per execution when present.
   */
  stateKey?(w: W): string;
  /**
   * Optional fingerprint of the world for state caching in DFS, taken at quiescent points (every
   * thread in user space, so no kernel path holds local state): two worlds with equal
   * fingerprints must behave the same from there on, under every schedule. `fingerprintOf(w)`
   * (fingerprint.ts) hashes everything reachable; mind what it cannot see. Without it, no caching.
   */
  fingerprint?(w: W): number;
  /**
   * Optional independence relation for partial-order reduction (sleep sets in unbounded DFS).
   * Given the yields two threads are parked at, return true only if their next scheduling steps
   * commute from every state where both are parked there: running them in either order gives the
   * same state, neither enables or disables the other, and at most one of them changes state that
   * a `step` or `quiescent` invariant reads. When in doubt return false; absent, every pair is
   * dependent and no reduction is done. Step starts (a thread in user space) are always dependent.
   */
  independent?(a: Yield, b: Yield): boolean;
}

/** Name of the built-in invariant checked whenever a step returns to user space. */
export const NO_LOCK_HELD_ON_RETURN = 'no_lock_held_on_return';

/**
 * An independence relation for models whose explicit points name, in `obj`, the only shared
 * object the code after the point touches (until the next yield): two such points on different
 * objects are independent. Lock operations and waits are always dependent. Use it only if every
 * point with an `obj` in the model keeps that promise.
 */
export function independentByObject(a: Yield, b: Yield): boolean {
  return a.k === 'point' && b.k === 'point' && a.obj !== undefined && b.obj !== undefined && a.obj !== b.obj;
}
