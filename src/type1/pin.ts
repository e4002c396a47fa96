/**
 * Pinning for the IOMMU path: vaddr_get_pfns, vfio_pin_pages_remote, vfio_unpin_pages_remote
 * (drivers/vfio/vfio_iommu_type1.c, 6.1).
 *
 * The kernel pins one physically contiguous run per vfio_pin_pages_remote() call. The model
 * returns a *batch* of runs that the kernel would pin in consecutive calls with identical
 * outcomes (same vma, same reservedness, no vfio_pfn inside, limit not crossed), so a scattered
 * 1 TiB buffer costs one call, not 2^19. Where the outcome of a single run could differ (a
 * vfio_pfn inside, the limit crossed inside the batch), the batch is cut so that the next call
 * sees exactly the state the kernel's next call would.
 * Scheduling points: mmap_lock read around GUP, mmap_lock write in vfio_lock_acct.
 */
import { EFAULT, ENODEV, ENOMEM } from '../util/errno.js';
import type { Kernel } from '../kernel/kernel.js';
import type { KGen } from '../kernel/sched.js';
import { point } from '../kernel/sched.js';
import type { GupBatch, Mm } from '../host/mm.js';
import type { Runs } from '../host/run.js';
import { runsPages, sliceRuns } from '../host/run.js';
import { IOMMU_WRITE } from '../uapi/vfio.js';
import { lockCap, vfio_lock_acct } from './acct.js';
import { ZERO_PFN } from '../host/physmem.js';
import type { VfioDma } from './vfio_iommu.js';

/** A pinned batch: Runs whose `start` is the first *vaddr* page. */
export type PinBatch = GupBatch;

/**
 * vaddr_get_pfns(mm, vaddr, npages, prot): pin_user_pages_remote(FOLL_LONGTERM), falling back to
 * the VM_PFNMAP lookup (follow_fault_pfn) which accepts only reserved pfns. Takes page references
 * for non-reserved pages (the zero page is released at once when it counts as reserved, 6.0+).
 * Called with mmap_lock held for read.
 */
export function vaddr_get_pfns(k: Kernel, mm: Mm, vaddr: number, npages: number, prot: number): GupBatch | number {
  const write = (prot & IOMMU_WRITE) !== 0;
  if (k.failNth('pin_user_pages_remote')) return -ENOMEM;
  const g = mm.gup(vaddr, npages, write);
  if (typeof g !== 'number') {
    // GUP takes a reference on every page; 6.0+ drops it at once for the (reserved) zero page,
    // earlier kernels kept it and never put it (873aefb376bb).
    if (!g.reserved || (k.profile.zeroPageLeak && g.pfn === ZERO_PFN)) k.phys.getRuns(g);
    return g;
  }
  const f = mm.followPfn(vaddr, npages, write);
  if (typeof f === 'number') return f;
  if (!f.reserved) return -EFAULT;
  return f;
}

/**
 * How many page-aligned IOVAs in [a, b) have a vfio_pfn: vfio_find_vpfn(dma, iova) at each page
 * of the range. The lookup is by exact IOVA, so a vfio_pfn made by an unaligned vendor pin
 * (keyed iova + offset) is never found by the IOMMU path.
 */
export function countVpfns(dma: VfioDma, a: number, b: number): number {
  if (dma.pfn_list.size === 0) return 0;
  // a page-aligned vfio_pfn is keyed by its IOVA page: count keys, without visiting the vfio_pfns
  return dma.pfn_list.countKeysIn(a, b);
}

/** The pfn at vaddr page `v` would continue `b`'s last run (same reservedness)? */
function continues(k: Kernel, mm: Mm, b: GupBatch, prot: number): boolean {
  const lastStart = b.pfn + (b.count - 1) * b.stride;
  const v = b.start + b.len * b.count;
  const write = (prot & IOMMU_WRITE) !== 0;
  const g = mm.gup(v, 1, write);
  const n = typeof g === 'number' ? mm.followPfn(v, 1, write) : g;
  if (typeof n === 'number') return false;
  return n.pfn === lastStart + b.len && n.reserved === b.reserved && n.pfn !== b.pfn;
}

function releaseBatch(k: Kernel, b: GupBatch): void {
  if (!b.reserved) k.phys.putRuns(b);
}

/**
 * vfio_pin_pages_remote(dma, vaddr, npage, &pfn_base, limit): pin from `vaddr` in current->mm,
 * charge the new pages to the dma's mm, return the batch or a negative errno.
 */
export function* vfio_pin_pages_remote(k: Kernel, dma: VfioDma, vaddr: number, npage: number, limit: number): KGen<PinBatch | number> {
  const mm = k.current.mm;
  if (!mm) return -ENODEV;
  const iova0 = vaddr - dma.vaddr + dma.iova;

  yield* mm.mmap_lock.down_read();
  if (k.locks.interleaving) yield point('pin_user_pages_remote');
  let b = vaddr_get_pfns(k, mm, vaddr, npage, dma.prot);
  if (typeof b === 'number') {
    yield* mm.mmap_lock.up_read();
    return b;
  }
  const disable = k.params.disable_hugepages;
  if (disable && b.len > 1) {
    // one page per call: keep just the first page
    const keep = sliceRuns(b, b.start, b.start + 1)[0]!;
    const rest = sliceRuns(b, b.start + 1, b.start + runsPages(b));
    for (const r of rest) releaseBatch(k, { ...r, reserved: b.reserved });
    b = { ...keep, reserved: b.reserved };
  } else {
    // Extend a single run while the next pages stay physically contiguous (as the kernel's loop
    // does across vmas and GUP batches); cut a multi-run batch before a last run that would.
    for (;;) {
      const got = runsPages(b);
      if (got >= npage || !continues(k, mm, b, dma.prot)) break;
      if (b.count > 1) {
        const last = sliceRuns(b, b.start + (b.count - 1) * b.len, b.start + got);
        for (const r of last) releaseBatch(k, { ...r, reserved: b.reserved });
        b = { ...b, count: b.count - 1 };
        break;
      }
      const more = vaddr_get_pfns(k, mm, b.start + got, npage - got, dma.prot);
      if (typeof more === 'number') break;
      // take the first run of `more`, give back the rest
      const first = sliceRuns(more, more.start, more.start + more.len)[0]!;
      const rest = sliceRuns(more, more.start + more.len, more.start + runsPages(more));
      for (const r of rest) releaseBatch(k, { ...r, reserved: more.reserved });
      b = { start: b.start, pfn: b.pfn, len: got + first.len, count: 1, stride: got + first.len, reserved: b.reserved };
    }
  }
  yield* mm.mmap_lock.up_read();

  // Charge: non-reserved pages that have no vfio_pfn (those were charged when pinned externally).
  let lock_acct = 0;
  if (!b.reserved) {
    const pages = runsPages(b);
    const vp = countVpfns(dma, iova0, iova0 + pages);
    lock_acct = pages - vp;
    if (!lockCap(k, dma) && mm.locked_vm + lock_acct > limit) {
      // Find where the kernel's per-page check fails: whole runs that fit succeed in their own calls.
      const allowed = Math.max(0, limit - mm.locked_vm);
      let okRuns = 0;
      if (vp === 0) okRuns = Math.floor(allowed / b.len);
      else {
        let acc = 0;
        for (let r = 0; r < b.count; r++) {
          const a = iova0 + r * b.len;
          const c = b.len - countVpfns(dma, a, a + b.len);
          if (acc + c > allowed) break;
          acc += c;
          okRuns++;
        }
      }
      okRuns = Math.min(okRuns, b.count - 1);
      if (okRuns === 0) {
        releaseBatch(k, b);
        k.klog.pr_warn(`vfio_pin_pages_remote: RLIMIT_MEMLOCK (${BigInt(limit) << 12n}) exceeded`);
        return -ENOMEM;
      }
      const tail = sliceRuns(b, b.start + okRuns * b.len, b.start + runsPages(b));
      for (const r of tail) releaseBatch(k, { ...r, reserved: b.reserved });
      b = { ...b, count: okRuns };
      lock_acct = runsPages(b) - countVpfns(dma, iova0, iova0 + runsPages(b));
    }
  }

  const ret = yield* vfio_lock_acct(k, dma, lock_acct, false);
  if (ret) {
    releaseBatch(k, b);
    return ret;
  }
  return b;
}

/**
 * vfio_unpin_pages_remote(dma, iova, pfn, npage, do_accounting): drop the IOMMU-path references
 * of a batch mapped at `iova`; pages still pinned externally stay charged. Returns `unlocked`.
 */
export function* vfio_unpin_pages_remote(k: Kernel, dma: VfioDma, iova: number, r: Runs, do_accounting: boolean): KGen<number> {
  if (k.phys.isInvalidReserved(r.pfn)) return 0;
  const pages = runsPages(r);
  k.phys.putRuns(r);
  const unlocked = pages;
  const locked = countVpfns(dma, iova, iova + pages);
  if (do_accounting) yield* vfio_lock_acct(k, dma, locked - unlocked, true);
  return unlocked;
}
