/**
 * VFIO_IOMMU_MAP_DMA and the removal of a vfio_dma (drivers/vfio/vfio_iommu_type1.c, 6.1):
 * vfio_dma_do_map, vfio_pin_map_dma, vfio_iommu_map, vfio_unmap_unpin, vfio_remove_dma.
 * Check order and errnos follow the kernel; on any failure the dma is removed again, so MAP_DMA
 * is all-or-nothing (locked_vm, pins and IOMMU page tables as before).
 */
import { EEXIST, EINVAL, ENOENT, ENOMEM, ENOSPC } from '../util/errno.js';
import type { Kernel } from '../kernel/kernel.js';
import type { KGen } from '../kernel/sched.js';
import { point } from '../kernel/sched.js';
import type { Runs } from '../host/run.js';
import { runsPages } from '../host/run.js';
import { DIRTY_BITMAP_PAGES_MAX, IOMMU_READ, IOMMU_WRITE, VFIO_DMA_MAP_FLAG_READ, VFIO_DMA_MAP_FLAG_VADDR, VFIO_DMA_MAP_FLAG_WRITE } from '../uapi/vfio.js';
import { U64_MAX } from '../util/units.js';
import { vfio_lock_acct } from './acct.js';
import { vfio_find_dma, vfio_link_dma, vfio_unlink_dma } from './dma_list.js';
import { vfio_pin_pages_remote, vfio_unpin_pages_remote } from './pin.js';
import { IntervalSet } from '../util/intervals.js';
import type { VfioIommu } from './vfio_iommu.js';
import { VfioDma } from './vfio_iommu.js';

export interface DmaMapArgs {
  flags: number;
  vaddr: bigint;
  iova: bigint;
  size: bigint;
}

/** 1 << __ffs(pgsize_bitmap), in bytes */
export function minPgsize(iommu: VfioIommu): bigint {
  const b = iommu.pgsize_bitmap;
  return b & -b;
}

/** vfio_iommu_iova_dma_valid(): [start, end] (bytes, inclusive) inside one iova_list range. */
export function vfio_iommu_iova_dma_valid(iommu: VfioIommu, start: bigint, end: bigint): boolean {
  if (iommu.iova_list.length === 0) return true;
  return iommu.iova_list.some((n) => start >= n.start && end <= n.end);
}

/** vfio_iommu_map(): map one batch at `iova` into every domain, unwinding on failure. */
export function vfio_iommu_map(k: Kernel, iommu: VfioIommu, iova: number, b: Runs, prot: number): number {
  const r: Runs = { start: iova, pfn: b.pfn, len: b.len, count: b.count, stride: b.stride };
  for (let i = 0; i < iommu.domain_list.length; i++) {
    const ret = k.failNth('iommu_map') ? -ENOMEM : iommu.domain_list[i]!.domain.iommu_map(r, prot);
    if (ret) {
      for (let j = i - 1; j >= 0; j--) iommu.domain_list[j]!.domain.iommu_unmap(iova, runsPages(b));
      return ret;
    }
  }
  return 0;
}

/** vfio_pin_map_dma(): pin and map `npages` of a freshly linked dma, growing dma.size. */
export function* vfio_pin_map_dma(k: Kernel, iommu: VfioIommu, dma: VfioDma, npages: number): KGen<number> {
  let size = npages;
  const limit = k.current.process.memlockPages();
  let ret = 0;
  while (size) {
    const b = yield* vfio_pin_pages_remote(k, dma, dma.vaddr + dma.size, size, limit);
    if (typeof b === 'number') {
      k.klog.WARN_ON(b === 0, 'vfio_pin_map_dma:zero_pinned', 'vfio_pin_map_dma');
      ret = b;
      break;
    }
    ret = vfio_iommu_map(k, iommu, dma.iova + dma.size, b, dma.prot);
    if (ret) {
      yield* vfio_unpin_pages_remote(k, dma, dma.iova + dma.size, b, true);
      break;
    }
    const n = runsPages(b);
    size -= n;
    dma.size += n;
    if (k.locks.interleaving) yield point('vfio_pin_map_dma:chunk', `dma@${dma.iova}`);
  }
  dma.iommu_mapped = true;
  if (ret) yield* vfio_remove_dma(k, iommu, dma);
  return ret;
}

/**
 * vfio_unmap_unpin(iommu, dma, do_accounting): unmap the dma from every domain, reading the
 * physical runs back from the first domain, and drop the IOMMU-path pins.
 */
export function* vfio_unmap_unpin(k: Kernel, iommu: VfioIommu, dma: VfioDma, do_accounting: boolean): KGen<number> {
  if (!dma.size) return 0;
  if (iommu.domain_list.length === 0) return 0;
  const first = iommu.domain_list[0]!.domain;
  for (let i = 1; i < iommu.domain_list.length; i++) iommu.domain_list[i]!.domain.iommu_unmap(dma.iova, dma.size);
  let iova = dma.iova;
  const end = dma.iova + dma.size;
  let unlocked = 0;
  while (iova < end) {
    const r = first.lookupRuns(iova, end - iova);
    if (!r) {
      // WARN_ON(!phys): a hole in what should be a fully mapped dma; skip to the next mapped page
      k.klog.WARN_ON(true, 'vfio_unmap_unpin:no_phys', 'vfio_unmap_unpin');
      let next = iova + 1;
      while (next < end && first.iova_to_pfn(next) < 0) next++;
      iova = next;
      continue;
    }
    const n = runsPages(r);
    first.iommu_unmap(iova, n);
    first.counters.unmap_calls += r.count - 1;
    unlocked += yield* vfio_unpin_pages_remote(k, dma, iova, r, false);
    iova += n;
  }
  dma.iommu_mapped = false;
  if (do_accounting) {
    yield* vfio_lock_acct(k, dma, -unlocked, true);
    return 0;
  }
  return unlocked;
}

/** vfio_remove_dma() */
export function* vfio_remove_dma(k: Kernel, iommu: VfioIommu, dma: VfioDma): KGen<void> {
  if (dma.pfn_list.size > 0) {
    // the vfio_pfns are freed with the dma without releasing their pages: those stay pinned
    if (k.profile.warnOnRemoveWithPins) k.klog.WARN_ON(true, 'vfio_remove_dma:pfn_list_not_empty', 'vfio_remove_dma');
    k.leakedPins += dma.pfn_list.size;
    let held = 0;
    for (const v of dma.pfn_list.values()) if (!k.phys.isInvalidReserved(v.pfn)) held++;
    k.leakedPinPages += held;
    // charged only if they were pinned while no IOMMU domain existed (re-accounted that way)
    if (iommu.domain_list.length === 0) k.leakedCharge.set(dma.mm, (k.leakedCharge.get(dma.mm) ?? 0) + held);
  }
  yield* vfio_unmap_unpin(k, iommu, dma, true);
  vfio_unlink_dma(iommu, dma);
  dma.bitmap = null;
  if (dma.vaddr_invalid) iommu.vaddr_invalid_count--;
  dma.freed = true;
  iommu.dma_avail++;
}

/** vfio_dma_do_map() */
export function* vfio_dma_do_map(k: Kernel, iommu: VfioIommu, map: DmaMapArgs): KGen<number> {
  const set_vaddr = (map.flags & VFIO_DMA_MAP_FLAG_VADDR) !== 0;
  // "Verify that none of our __u64 fields overflow": unsigned long / size_t are 64-bit here.
  let prot = 0;
  if (map.flags & VFIO_DMA_MAP_FLAG_WRITE) prot |= IOMMU_WRITE;
  if (map.flags & VFIO_DMA_MAP_FLAG_READ) prot |= IOMMU_READ;
  if ((prot && set_vaddr) || (!prot && !set_vaddr)) return -EINVAL;

  yield* iommu.lock.lock();
  const ret = yield* do_map_locked(k, iommu, map, prot, set_vaddr);
  yield* iommu.lock.unlock();
  return ret;
}

function* do_map_locked(k: Kernel, iommu: VfioIommu, map: DmaMapArgs, prot: number, set_vaddr: boolean): KGen<number> {
  const pgsize = minPgsize(iommu);
  const { iova, vaddr, size } = map;
  if (!size || (size | iova | vaddr) & (pgsize - 1n)) return -EINVAL;
  // Don't allow IOVA or virtual address wrap (u64 arithmetic)
  if (((iova + size - 1n) & U64_MAX) < iova || ((vaddr + size - 1n) & U64_MAX) < vaddr) return -EINVAL;
  const iovaP = Number(iova >> 12n);
  const vaddrP = Number(vaddr >> 12n);
  const npages = Number(size >> 12n);

  const found = vfio_find_dma(iommu, iovaP, npages);
  if (set_vaddr) {
    if (!found) return -ENOENT;
    if (!found.vaddr_invalid || found.iova !== iovaP || found.size !== npages) return -EINVAL;
    // vfio_change_dma_owner(): a different mm takes over the charge (6.2 / 6.1 stable)
    const cur = k.current;
    if (cur.mm && cur.mm !== found.mm) {
      const ret = yield* change_owner(k, found);
      if (ret) return ret;
    }
    found.vaddr = vaddrP;
    found.vaddr_invalid = false;
    iommu.vaddr_invalid_count--;
    return 0;
  }
  if (found) return -EEXIST;
  if (!iommu.dma_avail) return -ENOSPC;
  if (!vfio_iommu_iova_dma_valid(iommu, iova, iova + size - 1n)) return -EINVAL;
  if (k.failNth('kzalloc(vfio_dma)')) return -ENOMEM;

  iommu.dma_avail--;
  const cur = k.current;
  const leader = cur.group_leader;
  const mm = cur.mm;
  if (!mm) return -ENOMEM;
  const dma = new VfioDma(iovaP, vaddrP, prot, leader, cur.process.capable('CAP_IPC_LOCK'), mm);
  vfio_link_dma(iommu, dma);
  let ret = 0;
  if (iommu.domain_list.length === 0) dma.size = npages;
  else ret = yield* vfio_pin_map_dma(k, iommu, dma, npages);
  if (!ret && iommu.dirty_page_tracking) {
    // vfio_dma_bitmap_alloc(): more than DIRTY_BITMAP_PAGES_MAX bits -> -EINVAL; the new dma goes
    if (BigInt(dma.size) * 4096n / minPgsize(iommu) > BigInt(DIRTY_BITMAP_PAGES_MAX)) {
      ret = -EINVAL;
      yield* vfio_remove_dma(k, iommu, dma);
    } else dma.bitmap = new IntervalSet();
  }
  return ret;
}

/** vfio_change_dma_owner(): charge the new mm, uncharge the old one, switch task/mm/lock_cap. */
function* change_owner(k: Kernel, dma: VfioDma): KGen<number> {
  const task = k.current.group_leader;
  const newMm = k.current.mm!;
  const lock_cap = k.current.process.capable('CAP_IPC_LOCK');
  const npage = dma.locked_vm;
  if (npage) {
    yield* newMm.mmap_lock.down_write();
    const limit = task.process.memlockPages();
    const over = !lock_cap && newMm.locked_vm + npage > limit;
    if (!over) newMm.locked_vm += npage;
    yield* newMm.mmap_lock.up_write();
    if (over) return -ENOMEM;
    if (dma.mm.alive) {
      yield* dma.mm.mmap_lock.down_write();
      dma.mm.locked_vm = Math.max(0, dma.mm.locked_vm - npage);
      yield* dma.mm.mmap_lock.up_write();
    }
  }
  dma.task = task;
  dma.mm = newMm;
  dma.lock_cap = lock_cap;
  return 0;
}
