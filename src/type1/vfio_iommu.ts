/**
 * Type1's data structures (drivers/vfio/vfio_iommu_type1.c, Linux 6.1), with the kernel's names.
 *
 * Locking, as in the kernel:
 *   - `VfioIommu.lock` (a mutex) guards every field of `VfioIommu` except `device_list`, and every
 *     field of every `VfioDma` and `VfioPfn`. It is held across GUP, accounting and iommu_map.
 *   - `VfioIommu.device_list_lock` guards `device_list` (devices with a `dma_unmap` op); UNMAP_DMA
 *     calls `dma_unmap` with it held and `lock` dropped.
 *   - [4.10-5.18] `VfioIommu.notifier` (a blocking notifier chain, its own rwsem) holds the vendor
 *     drivers' DMA-unmap notifiers instead of `device_list`; UNMAP_DMA calls it with `lock` dropped.
 *   - `VfioDma.mm.mmap_lock`: read for GUP, write for `locked_vm` updates (vfio_lock_acct).
 *
 * Invariants (checked by src/type1/invariants.ts):
 *   - dma_list is sorted by iova and its entries do not overlap; settled entries have size > 0;
 *   - dma_avail + |dma_list| == the dma_entry_limit read at open;
 *   - every VfioPfn has ref_count >= 1 and holds exactly one page reference;
 *   - with an IOMMU-backed domain, every settled dma is iommu_mapped and fully mapped in every domain.
 * Units: `iova`, `vaddr`, `size` of a dma are in 4 KiB pages (the kernel keeps bytes; MAP_DMA only
 * accepts page-aligned values, so nothing is lost). External pins may be at unaligned IOVAs, so a
 * VfioPfn key carries the byte offset too.
 */
import type { Mutex } from '../kernel/locks.js';
import type { BlockingNotifierHead } from '../kernel/notifier.js';
import type { Mm } from '../host/mm.js';
import type { Task } from '../host/task.js';
import type { IommuDomain } from '../iommu/domain.js';
import type { IommuGroup } from '../iommu/group.js';
import { IntervalSet } from '../util/intervals.js';
import { DmaList } from './dma_list.js';
import { PageMap } from '../util/page-map.js';

/** Inclusive IOVA range in bytes (`struct vfio_iova`). */
export interface VfioIova {
  start: bigint;
  end: bigint;
}

/** Key of a vfio_pfn: the IOVA page, plus the byte offset when the pin was not page aligned. */
export type VpfnKey = number | string;

export function vpfnKey(page: number, off: number): VpfnKey {
  return off === 0 ? page : `${page}+${off}`;
}

/** struct vfio_pfn. Only vfio_pfn_alloc writes `key`, `iovaPage` and `pfn`. */
export interface VfioPfn {
  key: VpfnKey;
  /** IOVA page of the pin (what the dirty bitmap and range checks use). */
  iovaPage: number;
  pfn: number;
  ref_count: number;
}

let dmaGen = 0;

/** struct vfio_dma */
export class VfioDma {
  /** Allocation generation: a use after kfree() is detected by `freed`. */
  readonly gen = ++dmaGen;
  size = 0;
  iommu_mapped = false;
  vaddr_invalid = false;
  /** Pages charged to `mm` for this dma (dma->locked_vm, 6.2 and the 6.1 stable backport). */
  locked_vm = 0;
  readonly pfn_list = new PageMap<VpfnKey, VfioPfn>();
  /** Dirty bitmap (pages relative to iova), allocated while dirty tracking is on. */
  bitmap: IntervalSet | null = null;
  freed = false;

  constructor(
    public iova: number,
    public vaddr: number,
    readonly prot: number,
    /** current->group_leader at MAP time */
    public task: Task,
    /** capable(CAP_IPC_LOCK) at MAP time */
    public lock_cap: boolean,
    /** current->mm at MAP time (mmgrab) */
    public mm: Mm,
  ) {}

  get end(): number {
    return this.iova + this.size;
  }
}

/** struct vfio_iommu_group */
export interface VfioIommuGroup {
  readonly iommu_group: IommuGroup;
  pinned_page_dirty_scope: boolean;
}

/** struct vfio_domain */
export interface VfioDomain {
  readonly domain: IommuDomain;
  readonly group_list: VfioIommuGroup[];
  enforce_cache_coherency: boolean;
  fgsp: boolean;
}

/** A vfio_device registered with type1 because its ops have `dma_unmap` (device_list). */
export interface DmaUnmapDevice {
  readonly name: string;
  /** vfio_device_ops.dma_unmap(vdev, iova, length): a kernel path of the vendor driver. */
  dma_unmap(iovaPage: number, npages: number): Generator<import('../kernel/sched.js').Yield, void, undefined>;
}

/**
 * The payload of VFIO_IOMMU_NOTIFY_DMA_UNMAP (a `struct vfio_iommu_type1_dma_unmap` whose iova and
 * size are the dma's), in pages like the rest of type1 here.
 */
export interface DmaUnmapNotice {
  readonly iovaPage: number;
  readonly npages: number;
}

/** struct vfio_iommu */
export class VfioIommu {
  readonly domain_list: VfioDomain[] = [];
  readonly emulated_iommu_groups: VfioIommuGroup[] = [];
  /** Ascending iova, non-overlapping (an rb-tree in the kernel; see dma_list.ts). */
  readonly dma_list = new DmaList();
  iova_list: VfioIova[] = [];
  readonly device_list: DmaUnmapDevice[] = [];
  dma_avail: number;
  /** dma_entry_limit read at open (for the conservation invariant). */
  readonly dma_limit: number;
  /** Smallest-page-size bitmap of all domains; PAGE_MASK with none. */
  pgsize_bitmap: bigint;
  num_non_pinned_groups = 0;
  dirty_page_tracking = false;
  vaddr_invalid_count = 0;
  released = false;

  constructor(
    readonly v2: boolean,
    readonly nesting: boolean,
    dmaEntryLimit: number,
    readonly lock: Mutex,
    readonly device_list_lock: Mutex,
    /** [4.10-5.18] the DMA-unmap notifier chain (profile switch dmaUnmapNotifier), else null */
    readonly notifier: BlockingNotifierHead<DmaUnmapNotice> | null = null,
  ) {
    this.dma_avail = dmaEntryLimit;
    this.dma_limit = dmaEntryLimit;
    this.pgsize_bitmap = PAGE_MASK;
  }
}

/** PAGE_MASK as a 64-bit bitmap: every power of two >= 4096. */
export const PAGE_MASK = ((1n << 64n) - 1n) & ~0xfffn;
