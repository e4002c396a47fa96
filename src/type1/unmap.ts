/**
 * VFIO_IOMMU_UNMAP_DMA: vfio_dma_do_unmap and update_user_bitmap (vfio_iommu_type1.c, 6.1).
 *
 * The walk removes whole vfio_dmas in IOVA order. A dma with external pins is not removed:
 * `iommu->lock` is dropped, every registered device's `dma_unmap(iova, size)` is called with the
 * dma's whole range ([4.10-5.18]: the DMA-unmap notifier chain is called instead), and the walk
 * starts again. Finding the same dma still pinned more than 10
 * times in a row is `BUG_ON(++retries > 10)`.
 */
import { EBUSY, EINVAL } from '../util/errno.js';
import type { Kernel } from '../kernel/kernel.js';
import type { KGen } from '../kernel/sched.js';
import { point } from '../kernel/sched.js';
import { U64_MAX } from '../util/units.js';
import { VFIO_DMA_UNMAP_FLAG_ALL, VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP, VFIO_DMA_UNMAP_FLAG_VADDR, VFIO_IOMMU_NOTIFY_DMA_UNMAP } from '../uapi/vfio.js';
import { blocking_notifier_call_chain } from '../kernel/notifier.js';
import { vfio_find_dma, vfio_find_dma_first_node } from './dma_list.js';
import { minPgsize, vfio_remove_dma } from './map.js';
import type { VfioDma, VfioIommu } from './vfio_iommu.js';

/** A user-space dirty bitmap: the bits that were set, as page ranges relative to its base iova. */
export interface UserBitmap {
  pgsize: bigint;
  size: bigint;
  /** The `data` pointer is valid user memory (access_ok). */
  accessible: boolean;
  /** Output: set bits as [first, last+1) page indexes. */
  dirty: [number, number][];
}

export interface DmaUnmapArgs {
  flags: number;
  iova: bigint;
  size: bigint;
  bitmap?: UserBitmap;
}

/** update_user_bitmap(): OR the dma's bits into the user bitmap at the dma's offset. */
export function update_user_bitmap(iommu: VfioIommu, dma: VfioDma, baseIova: number, bm: UserBitmap): void {
  if (!dma.bitmap) return;
  // mark all pages dirty if an IOMMU-backed device cannot report dirty pages
  if (iommu.num_non_pinned_groups && dma.iommu_mapped) dma.bitmap.add(0, dma.size);
  const off = dma.iova - baseIova;
  for (const r of dma.bitmap.ranges(off)) bm.dirty.push(r);
}

/** vfio_dma_do_unmap(iommu, unmap, bitmap): returns 0 or -errno; sets unmap.size (bytes). */
export function* vfio_dma_do_unmap(k: Kernel, iommu: VfioIommu, unmap: DmaUnmapArgs, out: { size: bigint }): KGen<number> {
  const unmap_all = (unmap.flags & VFIO_DMA_UNMAP_FLAG_ALL) !== 0;
  const invalidate_vaddr = (unmap.flags & VFIO_DMA_UNMAP_FLAG_VADDR) !== 0;
  const get_bitmap = (unmap.flags & VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP) !== 0;
  let unmapped = 0;
  let ret = -EINVAL;
  let retries = 0;
  let dma_last: VfioDma | null = null;

  yield* iommu.lock.lock();
  unlock: {
    // Cannot update vaddr if mdev is present.
    if (invalidate_vaddr && k.profile.vaddrBusyWithMdev && iommu.emulated_iommu_groups.length > 0) {
      ret = -EBUSY;
      break unlock;
    }
    const pgsize = minPgsize(iommu);
    const iova = unmap.iova;
    let size = unmap.size;
    if (iova & (pgsize - 1n)) break unlock;
    if (unmap_all) {
      if (iova || size) break unlock;
      size = U64_MAX;
    } else if (!size || size & (pgsize - 1n) || ((iova + size - 1n) & U64_MAX) < iova) break unlock;
    if (get_bitmap && (!iommu.dirty_page_tracking || unmap.bitmap?.pgsize !== pgsize)) break unlock;

    const iovaP = Number(iova >> 12n);
    // pages; for UNMAP_ALL the range is everything from 0 (2^52 pages)
    const sizeP = unmap_all ? 2 ** 52 : Number(size >> 12n);
    const lastP = Number((iova + size - 1n) >> 12n);
    // The walk (vfio_find_dma_first_node, `dma->iova >= iova + size`) uses the exclusive end in
    // u64: a range that ends at the last byte below 2^64 wraps it to 0 and finds nothing, so such an
    // unmap succeeds with size 0 (measured on 6.1.192: [0x1000, 2^64) leaves the mappings alone).
    const endWraps = !unmap_all && ((iova + size) & U64_MAX) === 0n;

    for (;;) {
      // again:
      if (iommu.v2 && !unmap_all) {
        const a = vfio_find_dma(iommu, iovaP, 1);
        if (a && a.iova !== iovaP) break unlock;
        const b = vfio_find_dma(iommu, lastP, 1);
        if (b && b.iova + b.size !== iovaP + sizeP) break unlock;
      }
      ret = 0;
      let n = endWraps ? undefined : vfio_find_dma_first_node(iommu, iovaP, sizeP);
      const first_n = n;
      let restart = false;
      while (n) {
        const dma = n;
        if (dma.iova >= iovaP + sizeP) break;
        if (!iommu.v2 && iovaP > dma.iova) break;
        // Task with same address space who mapped this iova range is allowed to unmap it
        if (k.profile.unmapStopsAtForeignMm && dma.task.mm !== k.current.mm) break;
        if (invalidate_vaddr) {
          if (dma.vaddr_invalid) {
            for (let d = first_n; d && d !== dma; d = iommu.dma_list.next(d)) {
              d.vaddr_invalid = false;
              iommu.vaddr_invalid_count--;
            }
            ret = -EINVAL;
            unmapped = 0;
            break;
          }
          dma.vaddr_invalid = true;
          iommu.vaddr_invalid_count++;
          unmapped += dma.size;
          n = iommu.dma_list.next(dma);
          continue;
        }
        if (dma.pfn_list.size > 0) {
          if (dma_last === dma) {
            k.klog.BUG_ON(++retries > 10, 'drivers/vfio/vfio_iommu_type1.c', 'vfio_dma_do_unmap', '++retries > 10');
          } else {
            dma_last = dma;
            retries = 0;
          }
          const dIova = dma.iova;
          const dSize = dma.size;
          yield* iommu.lock.unlock();
          yield* vfio_notify_dma_unmap(k, iommu, dIova, dSize);
          yield* iommu.lock.lock();
          restart = true;
          break;
        }
        if (get_bitmap && unmap.bitmap) update_user_bitmap(iommu, dma, iovaP, unmap.bitmap);
        unmapped += dma.size;
        n = iommu.dma_list.next(dma);
        yield* vfio_remove_dma(k, iommu, dma);
        if (k.locks.interleaving) yield point('vfio_dma_do_unmap:removed');
      }
      if (!restart) break;
    }
  }
  yield* iommu.lock.unlock();
  out.size = BigInt(unmapped) << 12n;
  return ret;
}

/**
 * vfio_notify_dma_unmap(): call dma_unmap of every registered device under device_list_lock.
 * [4.10-5.18] blocking_notifier_call_chain(&iommu->notifier, VFIO_IOMMU_NOTIFY_DMA_UNMAP, {iova, size}).
 */
export function* vfio_notify_dma_unmap(k: Kernel, iommu: VfioIommu, iova: number, npages: number): KGen<void> {
  if (k.profile.dmaUnmapNotifier && iommu.notifier) {
    yield* blocking_notifier_call_chain(iommu.notifier, VFIO_IOMMU_NOTIFY_DMA_UNMAP, { iovaPage: iova, npages });
    return;
  }
  yield* iommu.device_list_lock.lock();
  for (const d of [...iommu.device_list]) yield* d.dma_unmap(iova, npages);
  yield* iommu.device_list_lock.unlock();
}
