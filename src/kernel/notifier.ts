/**
 * Blocking notifier chains (kernel/notifier.c): a list of `notifier_block`s guarded by an rwsem,
 * written by register/unregister and read while the chain is called. Callbacks may sleep.
 *
 * Every block has priority 0 here, so a new block goes after the ones already registered and the
 * chain calls them in registration order. Registering a block that is already on the chain is a
 * caller bug the kernel does not refuse (it corrupts its list); the model keeps one entry.
 */
import { ENOENT } from '../util/errno.js';
import type { LockDomain } from './locks.js';
import { RwSem } from './locks.js';
import type { KGen } from './sched.js';

/** struct notifier_block: `notifier_call(nb, action, data)` as a kernel path. */
export interface NotifierBlock<D = unknown> {
  readonly name: string;
  notifier_call(action: number, data: D): KGen<void>;
}

/** struct blocking_notifier_head */
export class BlockingNotifierHead<D = unknown> {
  /** The chain, head first (`nh->head` is `chain[0]`, NULL when empty). */
  readonly chain: NotifierBlock<D>[] = [];
  readonly rwsem: RwSem;
  constructor(name: string, locks: LockDomain) {
    this.rwsem = new RwSem(`${name}.rwsem`, locks);
  }

  /** `nh->head != NULL` */
  get head(): NotifierBlock<D> | null {
    return this.chain[0] ?? null;
  }
}

/** blocking_notifier_chain_register(): always 0. */
export function* blocking_notifier_chain_register<D>(nh: BlockingNotifierHead<D>, nb: NotifierBlock<D>): KGen<number> {
  yield* nh.rwsem.down_write();
  if (!nh.chain.includes(nb)) nh.chain.push(nb);
  yield* nh.rwsem.up_write();
  return 0;
}

/** blocking_notifier_chain_unregister(): -ENOENT when `nb` is not on the chain. */
export function* blocking_notifier_chain_unregister<D>(nh: BlockingNotifierHead<D>, nb: NotifierBlock<D>): KGen<number> {
  yield* nh.rwsem.down_write();
  const i = nh.chain.indexOf(nb);
  if (i >= 0) nh.chain.splice(i, 1);
  yield* nh.rwsem.up_write();
  return i >= 0 ? 0 : -ENOENT;
}

/** blocking_notifier_call_chain(): call every block under the rwsem held for read. */
export function* blocking_notifier_call_chain<D>(nh: BlockingNotifierHead<D>, action: number, data: D): KGen<void> {
  yield* nh.rwsem.down_read();
  for (const nb of [...nh.chain]) yield* nb.notifier_call(action, data);
  yield* nh.rwsem.up_read();
}
