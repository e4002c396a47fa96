/**
 * Runs a kernel path straight through on one thread: the synchronous driver used by the scenario
 * runner and the library API. A lock that cannot be taken here can never be released (nothing
 * else runs), so it is reported as a self-deadlock, not waited for.
 *
 * Usually the lock domain is not interleaving (see sched.ts): locks then take effect without
 * yielding (and throw the same SelfDeadlock themselves), and what reaches this loop is `wait`
 * yields and unguarded points. With the domain interleaving it resumes every point, as a
 * single-thread explorer would (src/scenario/modes.test.ts compares the two).
 */
import type { LockDomain } from './locks.js';
import type { KGen, ThreadRef } from './sched.js';
import { isEnabled } from './sched.js';

export class SelfDeadlock extends Error {
  override name = 'SelfDeadlock';
}

/**
 * `path` is a generator (it runs nothing until resumed) or a function returning any path, called
 * once `thread` is current: the form for paths that take effect when called (see sched.ts).
 */
export function runSync<T>(dom: LockDomain, thread: ThreadRef, path: KGen<T> | (() => KGen<T>)): T {
  const saved = dom.current;
  dom.current = thread;
  try {
    const gen = typeof path === 'function' ? path() : path;
    for (;;) {
      const r = gen.next();
      if (r.done === true) return r.value;
      const y = r.value;
      if (!isEnabled(y, thread.tid)) {
        throw new SelfDeadlock(`${thread.name} blocks forever at ${y.label}`);
      }
    }
  } finally {
    dom.current = saved;
  }
}
