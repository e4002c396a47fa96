/**
 * Runs a kernel path straight through on one thread: the synchronous driver used by the scenario
 * runner and the library API. A lock that cannot be taken here can never be released (nothing
 * else runs), so it is reported as a self-deadlock, not waited for.
 */
import type { LockDomain } from './locks.js';
import type { KGen, ThreadRef } from './sched.js';
import { isEnabled } from './sched.js';

export class SelfDeadlock extends Error {
  override name = 'SelfDeadlock';
}

export function runSync<T>(dom: LockDomain, thread: ThreadRef, gen: KGen<T>): T {
  const saved = dom.current;
  dom.current = thread;
  try {
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
