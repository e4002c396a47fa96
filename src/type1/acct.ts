/**
 * Locked-memory accounting: vfio_lock_acct / mm_lock_acct and __account_locked_vm (mm/util.c),
 * plus is_invalid_reserved_pfn and put_pfn. Linux 6.1 (with the 6.2 "track locked_vm per dma"
 * change that 6.1 stable carries): the charge goes to `dma->mm`, the limit is `dma->task`'s
 * RLIMIT_MEMLOCK, and `dma->lock_cap` (CAP_IPC_LOCK at MAP time) bypasses it.
 */
import { EINTR, ENOMEM, ESRCH } from '../util/errno.js';
import type { Kernel } from '../kernel/kernel.js';
import type { KGen } from '../kernel/sched.js';
import { andThen, done, Finished } from '../kernel/sched.js';
import type { Mm } from '../host/mm.js';
import type { Task } from '../host/task.js';
import type { VfioDma } from './vfio_iommu.js';

/** __account_locked_vm(mm, pages, inc, task, bypass_rlim), called with mmap_lock held for write. */
export function __account_locked_vm(k: Kernel, mm: Mm, pages: number, inc: boolean, task: Task, bypass: boolean): number {
  if (inc) {
    if (!bypass) {
      const limit = task.process.memlockPages();
      if (mm.locked_vm + pages > limit) return -ENOMEM;
    }
    mm.locked_vm += pages;
  } else {
    k.klog.WARN_ON(pages > mm.locked_vm, 'account_locked_vm:underflow', '__account_locked_vm');
    mm.locked_vm = mm.locked_vm > pages ? mm.locked_vm - pages : 0;
  }
  return 0;
}

/**
 * mm_lock_acct(task, mm, lock_cap, npage): take mmap_lock for write and account. Not a generator
 * of its own (it runs on every charge of a vendor pin): its one critical section is `write_locked`
 * around a module-level body (no closure allocated per call).
 */
export function mm_lock_acct(k: Kernel, task: Task, mm: Mm, lock_cap: boolean, npage: number): KGen<number> {
  // mmap_write_lock_killable(): -EINTR when a fatal signal is pending
  if (k.failNth('mmap_write_lock_killable')) return done(-EINTR);
  return mm.mmap_lock.write_locked(lock_cap ? account_bypass : account_limited, k, task, mm, npage);
}

/** The body of mm_lock_acct's critical section, lock_cap false: __account_locked_vm checks the limit. */
function account_limited(k: Kernel, task: Task, mm: Mm, npage: number): number {
  return __account_locked_vm(k, mm, Math.abs(npage), npage > 0, task, false);
}
/** The body with lock_cap true: __account_locked_vm bypasses RLIMIT_MEMLOCK. */
function account_bypass(k: Kernel, task: Task, mm: Mm, npage: number): number {
  return __account_locked_vm(k, mm, Math.abs(npage), npage > 0, task, true);
}

/** CAP_IPC_LOCK as the profile evaluates it: dma->lock_cap (MAP-time snapshot) or the caller's now. */
export function lockCap(k: Kernel, dma: VfioDma): boolean {
  return k.profile.lockCapSnapshot ? dma.lock_cap : k.current.process.capable('CAP_IPC_LOCK');
}

/**
 * 4.10's vfio_lock_acct(task, npage): never fails, never checks the limit; down_write_trylock()
 * and, if mmap_sem is contended, defer the update to the system workqueue (vfio_lock_acct_bg).
 */
function* vfio_lock_acct_deferred(k: Kernel, dma: VfioDma, npage: number): KGen<number> {
  const mm = dma.mm;
  if (!mm.alive) return 0; // process exited: nothing to do
  if (yield* mm.mmap_lock.down_write_trylock()) {
    mm.locked_vm += npage;
    dma.locked_vm += npage;
    yield* mm.mmap_lock.up_write();
    return 0;
  }
  yield* k.system_wq.queue_work({
    name: `vfio_lock_acct_bg(${npage})`,
    *run() {
      yield* mm.mmap_lock.down_write();
      mm.locked_vm += npage;
      dma.locked_vm += npage;
      yield* mm.mmap_lock.up_write();
    },
  });
  return 0;
}

const ZERO = done(0);

/**
 * vfio_lock_acct(dma, npage, async). On every charge and uncharge of a vendor pin, so not a
 * generator of its own: `andThen` continues after mm_lock_acct.
 */
export function vfio_lock_acct(k: Kernel, dma: VfioDma, npage: number, async: boolean): KGen<number> {
  if (!npage) return ZERO;
  if (k.profile.lockAcctDeferred) return vfio_lock_acct_deferred(k, dma, npage);
  const mm = dma.mm;
  if (async && !mm.alive) return done(-ESRCH); // mmget_not_zero failed: process exited
  const p = mm_lock_acct(k, dma.task, mm, lockCap(k, dma), npage);
  return p instanceof Finished ? done(charged(p.value, dma, npage)) : andThen(p, charged, dma, npage);
}

/** vfio_lock_acct() after mm_lock_acct(): the dma's own count follows a successful charge. */
function charged(ret: number, dma: VfioDma, npage: number): number {
  if (!ret) dma.locked_vm += npage;
  return ret;
}

/** put_pfn(pfn, prot): drop the reference on a non-reserved page; 1 if it was one. */
export function put_pfn(k: Kernel, pfn: number): 0 | 1 {
  if (k.phys.isInvalidReserved(pfn)) return 0;
  k.phys.putPage(pfn);
  return 1;
}
