/**
 * Workqueues and completions: deferred work run by a kworker thread, and one-shot events.
 *
 * Both are built on `wait` yields (see sched.ts): a thread sleeps until a condition holds, and the
 * explorer resumes it only then. A kworker is a thread whose single step is `wq.worker()`; mark it
 * `daemon` in the explorer harness, since it sleeps forever once the queue is empty.
 *
 * State and invariants:
 *   - Workqueue.pending: items queued and not yet started, FIFO; an item is in it at most once
 *     (queue_work on a pending item returns false, as in the kernel);
 *   - queued counts items ever queued, completed counts items that finished; completed <= queued;
 *     flush waits for completed to reach the queued count it saw;
 *   - Completion.done: completions not yet consumed; `all` once complete_all() ran.
 * Neither takes a lock: callers hold whatever protects the data the work touches.
 */
import type { KGen } from './sched.js';
import { point } from './sched.js';

export interface WorkItem {
  readonly name: string;
  run(): KGen<void>;
}

export class Workqueue {
  readonly pending: WorkItem[] = [];
  queued = 0;
  completed = 0;
  /** Item the worker is running, null when idle. */
  running: WorkItem | null = null;

  constructor(readonly name: string) {}

  /** queue_work(): false if `item` is already pending. Yields after queueing (the worker may run). */
  *queue_work(item: WorkItem): KGen<boolean> {
    if (this.pending.includes(item)) {
      yield point(`queue_work(${this.name}, ${item.name}) already pending`);
      return false;
    }
    this.pending.push(item);
    this.queued++;
    yield point(`queue_work(${this.name}, ${item.name})`);
    return true;
  }

  /** The kworker loop: run pending items one at a time, forever. */
  *worker(): KGen<void> {
    for (;;) {
      yield { k: 'wait', ready: () => this.pending.length > 0, label: `worker_thread(${this.name}) idle` };
      const item = this.pending.shift() as WorkItem;
      this.running = item;
      yield* item.run();
      this.running = null;
      this.completed++;
    }
  }

  /** flush_workqueue(): sleep until every item queued before the call has finished. */
  *flush(): KGen<void> {
    const target = this.queued;
    yield { k: 'wait', ready: () => this.completed >= target, label: `flush_workqueue(${this.name})` };
  }

  /**
   * Run every pending item on the calling thread, for straight-through runners (runSync), which
   * have no kworker: call it where the kernel would have let the worker run.
   */
  *runPending(): KGen<void> {
    for (let item = this.pending.shift(); item !== undefined; item = this.pending.shift()) {
      this.running = item;
      yield* item.run();
      this.running = null;
      this.completed++;
    }
  }
}

/** `struct completion` */
export class Completion {
  done = 0;
  all = false;

  constructor(readonly name: string) {}

  /** complete(): wake one waiter (or let the next wait return at once). */
  *complete(): KGen<void> {
    this.done++;
    yield point(`complete(${this.name})`);
  }

  /** complete_all(): every wait, now and later, returns at once. */
  *complete_all(): KGen<void> {
    this.all = true;
    yield point(`complete_all(${this.name})`);
  }

  /** wait_for_completion(): sleep until completed, then consume one completion. */
  *wait_for_completion(): KGen<void> {
    yield { k: 'wait', ready: () => this.all || this.done > 0, label: `wait_for_completion(${this.name})` };
    if (!this.all) this.done--;
  }

  /** try_wait_for_completion(): consume a completion if there is one, without sleeping. */
  try_wait_for_completion(): boolean {
    if (this.all) return true;
    if (this.done === 0) return false;
    this.done--;
    return true;
  }
}
