/**
 * dma_list operations: vfio_find_dma, vfio_find_dma_first_node, vfio_link_dma, vfio_unlink_dma
 * (drivers/vfio/vfio_iommu_type1.c). The kernel keeps an rb-tree; the model keeps a sorted array
 * with binary search. Callers hold `iommu->lock`.
 */
import type { VfioDma, VfioIommu } from './vfio_iommu.js';

/** 2^64 bytes in pages: an end that reaches it is 0 in the kernel's u64 arithmetic. */
const WRAP_PAGES = 2 ** 52;

/**
 * Number of entries the kernel's lookups can see. A dma that ends exactly at 2^64 (possible in an
 * mdev-only container, which has no iova_list) has `dma->iova + dma->size == 0` in u64, so every
 * search (vfio_find_dma, vfio_find_dma_first_node) steps past it: it can be neither found, nor
 * unmapped, nor even overlap-checked against; only the release of the container removes it
 * (measured on 6.1.192 and 6.12). Such dmas sort last.
 */
function visibleLength(list: readonly VfioDma[]): number {
  let n = list.length;
  while (n > 0 && list[n - 1]!.iova + list[n - 1]!.size >= WRAP_PAGES) n--;
  return n;
}

/** Index of the first dma whose end is > page (the only candidate to contain `page` or follow it). */
function lowerIndex(list: readonly VfioDma[], page: number): number {
  let lo = 0;
  let hi = visibleLength(list);
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid]!.iova + list[mid]!.size <= page) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * vfio_find_dma(iommu, start, size): a dma overlapping [start, start+n) pages. With n = 0 the
 * kernel's test matches a dma that contains `start` but does not begin at it.
 */
export function vfio_find_dma(iommu: VfioIommu, start: number, n: number): VfioDma | undefined {
  const list = iommu.dma_list;
  // `start + size <= dma->iova` is always true when start + size wraps to 0: the search finds nothing
  if (start + n >= WRAP_PAGES) return undefined;
  const i = lowerIndex(list, n === 0 ? start + 1 : start);
  const d = i < visibleLength(list) ? list[i] : undefined;
  if (!d) return undefined;
  if (n === 0) return d.iova < start && start < d.iova + d.size ? d : undefined;
  return d.iova < start + n ? d : undefined;
}

/** vfio_find_dma_first_node(): the lowest dma overlapping [start, start+n), as an index. */
export function vfio_find_dma_first_index(iommu: VfioIommu, start: number, n: number): number {
  const list = iommu.dma_list;
  const i = lowerIndex(list, start);
  const d = i < visibleLength(list) ? list[i] : undefined;
  return d && d.iova < start + n ? i : -1;
}

/** vfio_link_dma(): insert (possibly zero-sized) keeping the order. */
export function vfio_link_dma(iommu: VfioIommu, dma: VfioDma): void {
  const list = iommu.dma_list;
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid]!.iova <= dma.iova) lo = mid + 1;
    else hi = mid;
  }
  if (lo === list.length) list.push(dma);
  else list.splice(lo, 0, dma);
}

/** vfio_unlink_dma() */
export function vfio_unlink_dma(iommu: VfioIommu, dma: VfioDma): void {
  const list = iommu.dma_list;
  if (list[0] === dma) {
    list.shift();
    return;
  }
  if (list[list.length - 1] === dma) {
    list.pop();
    return;
  }
  const i = list.indexOf(dma, Math.max(0, lowerIndex(list, dma.iova) - 1));
  if (i >= 0) list.splice(i, 1);
}
