/**
 * VFIO_IOMMU_DIRTY_PAGES (vfio_iommu_type1_dirty_pages, 6.1) and the bitmap helpers
 * (verify_bitmap_size, vfio_iova_dirty_bitmap, vfio_dma_populate_bitmap).
 * Dirty bitmaps are IntervalSets of pages relative to each dma, not bit arrays.
 */
import { EACCES, EINVAL } from '../util/errno.js';
import type { Kernel } from '../kernel/kernel.js';
import type { KGen } from '../kernel/sched.js';
import { IntervalSet } from '../util/intervals.js';
import { U64_MAX } from '../util/units.js';
import { DIRTY_BITMAP_PAGES_MAX, DIRTY_BITMAP_SIZE_MAX, SIZEOF, VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP, VFIO_IOMMU_DIRTY_PAGES_FLAG_START, VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP } from '../uapi/vfio.js';
import { vfio_find_dma, vfio_find_dma_first_node } from './dma_list.js';
import { minPgsize } from './map.js';
import type { UserBitmap } from './unmap.js';
import { update_user_bitmap } from './unmap.js';
import type { VfioDma, VfioIommu } from './vfio_iommu.js';

/** DIRTY_BITMAP_BYTES(n): bytes for n bits, rounded up to u64 words. */
export function dirtyBitmapBytes(nbits: bigint): bigint {
  return ((nbits + 63n) / 64n) * 8n;
}

/** verify_bitmap_size(npages, bitmap_size) */
export function verify_bitmap_size(npages: bigint, bitmapSize: bigint): number {
  if (!npages || !bitmapSize || bitmapSize > DIRTY_BITMAP_SIZE_MAX || bitmapSize < dirtyBitmapBytes(npages)) return -EINVAL;
  return 0;
}

/** __ffs for a u64 (bit index of the lowest set bit; 0 for 0, as the model's choice for UB). */
export function ffs64(x: bigint): bigint {
  if (!x) return 0n;
  let n = 0n;
  while (!((x >> n) & 1n)) n++;
  return n;
}

/** vfio_dma_populate_bitmap(): pinned pages are always reported dirty. */
export function vfio_dma_populate_bitmap(dma: VfioDma): void {
  if (!dma.bitmap) return;
  for (const v of dma.pfn_list.values()) dma.bitmap.add(v.iovaPage - dma.iova, v.iovaPage - dma.iova + 1);
}

export interface DirtyPagesArgs {
  argsz: number;
  flags: number;
  /** GET_BITMAP payload (vfio_iommu_type1_dirty_bitmap_get) */
  iova?: bigint;
  size?: bigint;
  bitmap?: UserBitmap;
}

function popcount(x: number): number {
  let n = 0;
  for (let v = x >>> 0; v; v &= v - 1) n++;
  return n;
}

/** vfio_dma_bitmap_alloc()'s limit: `npages = dma->size / pgsize > DIRTY_BITMAP_PAGES_MAX` is -EINVAL (dma size in 4K pages). */
export function tooManyBitmapPages(iommu: VfioIommu, dmaPages: number): boolean {
  return BigInt(dmaPages) * 4096n / minPgsize(iommu) > BigInt(DIRTY_BITMAP_PAGES_MAX);
}

/** vfio_iommu_type1_dirty_pages() */
export function* vfio_iommu_type1_dirty_pages(_k: Kernel, iommu: VfioIommu, a: DirtyPagesArgs): KGen<number> {
  if (!iommu.v2) return -EACCES;
  const minsz = SIZEOF.vfio_iommu_type1_dirty_bitmap;
  const mask = VFIO_IOMMU_DIRTY_PAGES_FLAG_START | VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP | VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP;
  if (a.argsz < minsz || a.flags & ~mask) return -EINVAL;
  // only one flag should be set at a time
  if (popcount(a.flags) !== 1) return -EINVAL;
  if (a.flags & VFIO_IOMMU_DIRTY_PAGES_FLAG_START) {
    yield* iommu.lock.lock();
    let ret = 0;
    if (!iommu.dirty_page_tracking) {
      // vfio_dma_bitmap_alloc_all(): a dma with more than DIRTY_BITMAP_PAGES_MAX pages of the
      // smallest IOMMU page size gets no bitmap: -EINVAL, the bitmaps made so far are freed and
      // tracking stays off (found by vfiolab fuzz on 6.1.192: START after a 2^63-byte mdev-only map)
      if (iommu.dma_list.some((dma) => tooManyBitmapPages(iommu, dma.size))) ret = -EINVAL;
      else {
        for (const dma of iommu.dma_list) {
          dma.bitmap = new IntervalSet();
          vfio_dma_populate_bitmap(dma);
        }
        iommu.dirty_page_tracking = true;
      }
    }
    yield* iommu.lock.unlock();
    return ret;
  }
  if (a.flags & VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP) {
    yield* iommu.lock.lock();
    if (iommu.dirty_page_tracking) {
      iommu.dirty_page_tracking = false;
      for (const dma of iommu.dma_list) dma.bitmap = null;
    }
    yield* iommu.lock.unlock();
    return 0;
  }
  // GET_BITMAP
  const data_size = a.argsz - minsz;
  if (!data_size || data_size < SIZEOF.vfio_iommu_type1_dirty_bitmap_get) return -EINVAL;
  const iova = a.iova ?? 0n;
  const size = a.size ?? 0n;
  const bm = a.bitmap;
  if (((iova + size) & U64_MAX) < iova) return -EINVAL;
  if (!bm?.accessible) return -EINVAL;
  const pgshift = ffs64(bm.pgsize);
  const v = verify_bitmap_size(size >> pgshift, bm.size);
  if (v) return v;
  yield* iommu.lock.lock();
  const ret = get_bitmap_locked(iommu, iova, size, bm);
  yield* iommu.lock.unlock();
  return ret;
}

function get_bitmap_locked(iommu: VfioIommu, iova: bigint, size: bigint, bm: UserBitmap): number {
  const pgsize = minPgsize(iommu);
  if (bm.pgsize !== pgsize) return -EINVAL;
  if (iova & (pgsize - 1n)) return -EINVAL;
  if (!size || size & (pgsize - 1n)) return -EINVAL;
  if (!iommu.dirty_page_tracking) return -EINVAL;
  // vfio_iova_dirty_bitmap(): no bisected dma at either end
  const iovaP = Number(iova >> 12n);
  const nP = Number(size >> 12n);
  const a = vfio_find_dma(iommu, iovaP, 1);
  if (a && a.iova !== iovaP) return -EINVAL;
  const b = vfio_find_dma(iommu, iovaP + nP - 1, 1);
  if (b && b.iova + b.size !== iovaP + nP) return -EINVAL;
  for (let dma = vfio_find_dma_first_node(iommu, iovaP, nP); dma; dma = iommu.dma_list.next(dma)) {
    if (dma.iova >= iovaP + nP) break;
    update_user_bitmap(iommu, dma, iovaP, bm);
    // re-populate: pinned pages stay dirty, the rest is cleared
    dma.bitmap?.clear();
    vfio_dma_populate_bitmap(dma);
  }
  return 0;
}
