/**
 * Kernel profiles: which kernel's behaviour the model reproduces.
 *
 * A profile is a small set of documented switches; model code asks `k.profile.<switch>` at the one
 * place where versions differ and never compares version strings. Each switch names the kernel
 * change that introduced it (see ../shared/spec/kernel-semantics.md §0.2 and §8.3).
 */
export interface ProfileSwitches {
  /** 5.1, 492855939bdb (CVE-2019-3882): per-container `dma_entry_limit`, MAP_DMA -> -ENOSPC. */
  readonly dmaEntryLimit: boolean;
  /** 5.4: `iova_list` (aperture minus reserved regions), IOVA-range capability, attach checks. */
  readonly iovaList: boolean;
  /** 5.8: dirty page tracking (`VFIO_IOMMU_DIRTY_PAGES`, GET_DIRTY_BITMAP, migration cap). */
  readonly dirtyTracking: boolean;
  /** 5.10: DMA_AVAIL capability in GET_INFO. */
  readonly dmaAvailCap: boolean;
  /** 5.12: `VFIO_DMA_UNMAP_FLAG_ALL`, `VFIO_DMA_{MAP,UNMAP}_FLAG_VADDR`. */
  readonly unmapAllAndVaddr: boolean;
  /**
   * 6.2 (ef3a3f6a294b and series): VADDR updates refused while an emulated (mdev) group is
   * attached (-EBUSY), `VFIO_UPDATE_VADDR` answers 0 in such containers.
   */
  readonly vaddrBusyWithMdev: boolean;
  /**
   * Up to 6.1: UNMAP_DMA stops silently at a dma whose owner mm is not the caller's
   * (`dma->task->mm != current->mm`). Removed with the `dma->mm` rework in 6.2.
   */
  readonly unmapStopsAtForeignMm: boolean;
  /** 5.9, aae7a75a821a: replay failure unwinds everything and defers `iommu_mapped`. */
  readonly replayUnwind: boolean;
  /**
   * Whether the shared zero page counts as reserved (`is_invalid_reserved_pfn`: never charged, no
   * reference kept). Measured: a pin of never-touched memory charges 0 on 6.1 and the pages on
   * 6.12 (../shared/spec/measured-6.1.md, last line).
   */
  readonly zeroPageReserved: boolean;
  /** 5.16: mdev groups are `emulated_iommu_groups` of vfio core (vs type1's `external_domain`). */
  readonly emulatedIommuGroups: boolean;
  /** 6.0: pin API takes (vdev, iova, npage, prot, pages) and MMIO pfns fail with -EINVAL. */
  readonly pinApiStructPage: boolean;
}

export interface KernelProfile extends ProfileSwitches {
  /** Profile name as used in scenario files and on the command line. */
  readonly name: string;
  /** What `uname -r` would print on the kernel this profile was checked against. */
  readonly release: string;
  readonly description: string;
}

const MODERN: ProfileSwitches = {
  dmaEntryLimit: true,
  iovaList: true,
  dirtyTracking: true,
  dmaAvailCap: true,
  unmapAllAndVaddr: true,
  vaddrBusyWithMdev: false,
  unmapStopsAtForeignMm: true,
  replayUnwind: true,
  zeroPageReserved: true,
  emulatedIommuGroups: true,
  pinApiStructPage: true,
};

export const PROFILES: Readonly<Record<string, KernelProfile>> = {
  '6.1': {
    ...MODERN,
    // The 6.2 VADDR/mdev fixes (ef3a3f6a294b and series) were backported to 6.1 stable; the
    // measured 6.1.192 answers UPDATE_VADDR=0 before SET_IOMMU and EBUSY for VADDR with an mdev.
    vaddrBusyWithMdev: true,
    // With the dma->mm backport vfio_dma_do_unmap() no longer stops at a dma of another mm:
    // measured 6.1.192, a forked process unmaps its parent's mapping (size returned, parent
    // uncharged), kernel/examples/12-two-processes.txt.
    unmapStopsAtForeignMm: false,
    name: '6.1',
    release: '6.1.0-56-amd64 (6.1.192, Debian 12)',
    description: 'Linux 6.1 LTS as shipped by Debian 12: the reference semantics.',
  },
  '6.12': {
    ...MODERN,
    vaddrBusyWithMdev: true,
    unmapStopsAtForeignMm: false,
    zeroPageReserved: false,
    name: '6.12',
    release: '6.12.117+deb12-amd64',
    description: 'Linux 6.12 LTS (Debian 12 backports): dma->mm accounting, VADDR disabled with mdevs.',
  },
};

export const DEFAULT_PROFILE = '6.1';

export function getProfile(name: string): KernelProfile | undefined {
  return PROFILES[name];
}
