/**
 * dma_list operations: vfio_find_dma, vfio_find_dma_first_node, vfio_link_dma, vfio_unlink_dma
 * (drivers/vfio/vfio_iommu_type1.c), and the list itself, `DmaList`.
 *
 * The kernel keeps `iommu->dma_list` in an rb-tree; the model keeps a treap (src/util/treap.ts)
 * ordered by iova, with priorities hashed from the iova, so the same set of dmas always has the
 * same shape (the explorer's fingerprint sees equal sets as equal). Callers walk it the way the
 * kernel walks its rb-tree: `first()`/`next(dma)`/`prev(dma)` (rb_first, rb_next, rb_prev) or
 * `for ... of` (ascending iova). Callers hold `iommu->lock`.
 *
 * The lookups answer as a bisection of the list sorted by iova would: the lowest dma whose end is
 * above the page. That is what the kernel's searches find whenever the dmas do not overlap; the
 * shape-dependent answers the kernel gives once overlapping dmas ending at 2^64 are on the list
 * (see `visible` below) are not modelled. Ends are ascending along the list unless a dma ending at
 * 2^64 sorts before one that does not (mdev-only: a MAP inside the wrapped dma, which MAP cannot
 * see); there the answer for pages above the latter's end can differ from the one the sorted array
 * of earlier versions gave (neither is the kernel's, whose answer depends on its rb-tree's shape).
 */
import { mixPriority, Treap } from '../util/treap.js';
import type { VfioDma, VfioIommu } from './vfio_iommu.js';

/** 2^64 bytes in pages: an end that reaches it is 0 in the kernel's u64 arithmetic. */
const WRAP_PAGES = 2 ** 52;

/**
 * struct rb_root_cached dma_list: the vfio_dmas of a container in ascending iova. Two dmas can
 * share an iova only when the first ends at 2^64 (invisible to the overlap check, see `visible`);
 * the one linked later sorts after it (allocation generation), as it did in the sorted array.
 */
export class DmaList extends Treap<VfioDma> {
  protected compare(a: VfioDma, b: VfioDma): number {
    return a.iova - b.iova || a.gen - b.gen;
  }

  protected priority(d: VfioDma): number {
    return mixPriority(d.iova);
  }
}

const wraps = (d: VfioDma) => d.iova + d.size >= WRAP_PAGES;

/**
 * Can the kernel's lookups see `d`, the lowest dma ending above some page? A dma that ends exactly
 * at 2^64 (possible in an mdev-only container, which has no iova_list) has
 * `dma->iova + dma->size == 0` in u64, so every search (vfio_find_dma, vfio_find_dma_first_node)
 * steps past it: it can be neither found, nor unmapped, nor even overlap-checked against; only the
 * release of the container removes it (measured on 6.1.192 and 6.12). Such dmas sort last; the
 * model hides the run of them at the end of the list.
 */
function visible(list: DmaList, d: VfioDma): boolean {
  if (!wraps(d)) return true;
  for (let t = list.last(); t !== undefined && wraps(t); t = list.prev(t)) if (t === d) return false;
  return true;
}

/** The lowest visible dma whose end is > page (the only candidate to contain `page` or follow it). */
function lowerBound(list: DmaList, page: number): VfioDma | undefined {
  const d = list.firstWhere((x) => x.iova + x.size > page);
  return d !== undefined && visible(list, d) ? d : undefined;
}

/**
 * vfio_find_dma(iommu, start, size): a dma overlapping [start, start+n) pages. With n = 0 the
 * kernel's test matches a dma that contains `start` but does not begin at it.
 */
export function vfio_find_dma(iommu: VfioIommu, start: number, n: number): VfioDma | undefined {
  // `start + size <= dma->iova` is always true when start + size wraps to 0: the search finds nothing
  if (start + n >= WRAP_PAGES) return undefined;
  // the lowest dma ending after `start`: with n = 0 too (it contains `start` or lies above it)
  const d = lowerBound(iommu.dma_list, start);
  if (!d) return undefined;
  if (n === 0) return d.iova < start && start < d.iova + d.size ? d : undefined;
  return d.iova < start + n ? d : undefined;
}

/** vfio_find_dma_first_node(): the lowest dma overlapping [start, start+n). */
export function vfio_find_dma_first_node(iommu: VfioIommu, start: number, n: number): VfioDma | undefined {
  const d = lowerBound(iommu.dma_list, start);
  return d && d.iova < start + n ? d : undefined;
}

/** vfio_link_dma(): insert (possibly zero-sized) keeping the order. */
export function vfio_link_dma(iommu: VfioIommu, dma: VfioDma): void {
  iommu.dma_list.insert(dma);
}

/** vfio_unlink_dma() */
export function vfio_unlink_dma(iommu: VfioIommu, dma: VfioDma): void {
  iommu.dma_list.remove(dma);
}
