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
  /**
   * Up to 4.10 (fixed in 4.11, 0cfef2b7410b): vfio_lock_acct() takes mmap_sem with
   * down_write_trylock() and, when that fails, defers the update to the system workqueue
   * (vfio_lock_acct_bg); the limit is checked elsewhere against a possibly stale locked_vm.
   */
  readonly lockAcctDeferred: boolean;
  /** ~4.16: CAP_IPC_LOCK is snapshotted into dma->lock_cap at MAP time (else: the caller's, per pin). */
  readonly lockCapSnapshot: boolean;
  /** 6.x: vfio_remove_dma() WARNs when the dma still has vfio_pfns (earlier: only at detach). */
  readonly warnOnRemoveWithPins: boolean;
  /** Before 5.10: a failed vfio_pfn allocation in the pin path leaves the page pinned and charged. */
  readonly pinUnwindLeak: boolean;
  /** Before 6.0 (873aefb376bb): a GUP of the zero page keeps its reference (counted as reserved, never put). */
  readonly zeroPageLeak: boolean;
  /**
   * The v9 patch (seed review): detach re-accounting uncharges the IOMMU pins and re-charges the
   * external pins in two separate steps, so a concurrent mlock() can use the gap.
   */
  readonly reaccountTwoStep: boolean;
  /** The v9 patch: attaching a second mdev group frees the new domain and then adds the group to it. */
  readonly mdevDomainUseAfterFree: boolean;
  /** The v9 patch: vfio_pin_pages() returns 0 (success, nothing pinned) when the IOMMU driver has no pin_pages. */
  readonly pinMissingOpReturnsZero: boolean;
  /**
   * The v9 patch: unpinning all external pins at the last mdev detach releases the page once per
   * ref_count instead of once per vfio_pfn (refcount underflow on pages pinned twice).
   */
  readonly unpinAllIgnoresRefcount: boolean;
  /**
   * After 6.1 ("vfio: align capability structures"): vfio_info_cap_add() pads every capability to
   * 8 bytes. Before, the 12-byte DMA_AVAIL capability leaves the next one unaligned and GET_INFO
   * needs 116 bytes instead of 120 (measured: 116 on 6.1.192, 120 on 6.12.117).
   */
  readonly infoCapsAligned: boolean;
  /**
   * 6.2 (iommufd compat in vfio_group_ioctl_set_container): an fd that is neither a container nor an
   * iommufd is -EBADFD ("The FD passed is not recognized"); up to 6.1 -EINVAL. Measured: EINVAL on
   * 6.1.192, EBADFD on 6.12.117.
   */
  readonly setContainerEbadfd: boolean;
  /**
   * 4.10-5.18: the vendor pin API takes an array of IOVA page numbers,
   * `vfio_pin_pages(dev, user_pfn[], npage, prot, phys_pfn[])` and
   * `vfio_unpin_pages(dev, user_pfn[], npage)` (which returns an int); vfio core takes a container
   * user and `group_lock` around the call. Replaced in 6.0 by the contiguous (vdev, iova, npage)
   * form (spec §4.1).
   */
  readonly pinApiUserPfn: boolean;
  /**
   * 4.10-5.7: type1's pin and unpin fail with -EINVAL while the container has no
   * `external_domain` (no mdev group attached) (spec §4.2 T4, §4.3).
   */
  readonly pinNeedsExternalDomain: boolean;
  /**
   * 4.10-5.18: vendor drivers register a blocking notifier (`vfio_register_notifier`,
   * VFIO_IOMMU_NOTIFY_DMA_UNMAP) that UNMAP_DMA calls with (iova, size); a pin without one is
   * -EINVAL (T5), and `vfio_sanity_check_pfn_list()` WARNs when one is still registered as the last
   * mdev group leaves. 5.19 replaced it by `vfio_device_ops.dma_unmap` (spec §4.4).
   */
  readonly dmaUnmapNotifier: boolean;
  /**
   * 4.10 (the series as staged and merged, a54eb55045ae): type1's unpin returns the number of pages
   * it released (a vfio_pfn whose ref_count dropped to 0 on a non-reserved page), not the number of
   * entries processed (4.11-5.18: entries processed, -EINVAL if none) (spec §4.3).
   */
  readonly unpinReturnsReleased: boolean;
  /**
   * 4.10-rc, the series as first staged (spec §4.2, §8.3 #1, §9 #26; fixed before 4.10): type1's
   * pin and unpin look each IOVA's dma up with size 0 (`vfio_find_dma(iommu, iova, 0)`), which
   * misses a dma that starts at that IOVA: the first page of every mapping is -EINVAL to pin, and
   * an unpin walk stops there. No profile has it; a scenario turns it on with `kernel.switches`.
   */
  readonly pinLookupSizeZero: boolean;
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
  lockAcctDeferred: false,
  lockCapSnapshot: true,
  warnOnRemoveWithPins: true,
  pinUnwindLeak: false,
  zeroPageLeak: false,
  reaccountTwoStep: false,
  mdevDomainUseAfterFree: false,
  pinMissingOpReturnsZero: false,
  unpinAllIgnoresRefcount: false,
  infoCapsAligned: true,
  setContainerEbadfd: true,
  pinApiUserPfn: false,
  pinNeedsExternalDomain: false,
  dmaUnmapNotifier: false,
  unpinReturnsReleased: false,
  pinLookupSizeZero: false,
};

/** Linux 4.10 as merged for mediated devices (a54eb55045ae and the 4.10-rc fixes). */
const V4_10: ProfileSwitches = {
  dmaEntryLimit: false,
  iovaList: false,
  dirtyTracking: false,
  dmaAvailCap: false,
  unmapAllAndVaddr: false,
  vaddrBusyWithMdev: false,
  unmapStopsAtForeignMm: true,
  replayUnwind: false,
  zeroPageReserved: true,
  emulatedIommuGroups: false,
  pinApiStructPage: false,
  lockAcctDeferred: true,
  lockCapSnapshot: false,
  warnOnRemoveWithPins: false,
  pinUnwindLeak: true,
  zeroPageLeak: true,
  reaccountTwoStep: false,
  mdevDomainUseAfterFree: false,
  pinMissingOpReturnsZero: false,
  unpinAllIgnoresRefcount: false,
  infoCapsAligned: false,
  setContainerEbadfd: false,
  pinApiUserPfn: true,
  pinNeedsExternalDomain: true,
  dmaUnmapNotifier: true,
  unpinReturnsReleased: true,
  pinLookupSizeZero: false,
};

const PROFILES_MUT: Record<string, KernelProfile> = {
  '6.1': {
    ...MODERN,
    // The 6.2 VADDR/mdev fixes (ef3a3f6a294b and series) were backported to 6.1 stable; the
    // measured 6.1.192 answers UPDATE_VADDR=0 before SET_IOMMU and EBUSY for VADDR with an mdev.
    vaddrBusyWithMdev: true,
    // With the dma->mm backport vfio_dma_do_unmap() no longer stops at a dma of another mm:
    // measured 6.1.192, a forked process unmaps its parent's mapping (size returned, parent
    // uncharged), kernel/examples/12-two-processes.txt.
    unmapStopsAtForeignMm: false,
    // GET_INFO capabilities are not padded to 8 bytes yet (argsz 116 needed, measured)
    infoCapsAligned: false,
    setContainerEbadfd: false,
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

PROFILES_MUT['4.10'] = {
  ...V4_10,
  name: '4.10',
  release: '4.10 (type1 as merged for mediated devices)',
  description:
    'The series as merged: external_domain, the user_pfn pin API with a DMA-unmap notifier chain, workqueue-deferred accounting, no DMA entry limit, replay without unwind.',
};
PROFILES_MUT.v9 = {
  ...V4_10,
  reaccountTwoStep: true,
  mdevDomainUseAfterFree: true,
  pinMissingOpReturnsZero: true,
  unpinAllIgnoresRefcount: true,
  name: 'v9',
  release: '[PATCH v9 04/12] vfio iommu: Add support for mediated devices (Oct 2016)',
  // The user_pfn pin API is the patch's own (the seed quotes pin_pages(iommu_data, user_pfn, npage,
  // prot, phys_pfn)); the DMA-unmap notifier is not - the reviewer asks for "some means for us to
  // callback to invalidate pinned pages" and it came later in the series. The profile keeps 4.10's
  // notifier so that v9 differs from 4.10 only by the reviewer's findings.
  description: 'The patch as reviewed in the seed, with the reviewer\'s findings: two-step re-accounting, use of a freed domain, 0 from pin without pin_pages, unpin-all ignoring ref counts.',
};

export const DEFAULT_PROFILE = '6.1';

/** Switch names, for scenario files that override single switches. */
export const SWITCH_NAMES = Object.keys(MODERN) as (keyof ProfileSwitches)[];

/** A profile with some switches overridden (scenario `kernel.switches`). */
export function withSwitches(p: KernelProfile, over: Partial<ProfileSwitches>): KernelProfile {
  const keys = Object.keys(over);
  if (keys.length === 0) return p;
  return Object.freeze({ ...p, ...over, name: `${p.name}+${keys.map((k) => `${k}=${String(over[k as keyof ProfileSwitches])}`).join(',')}` });
}

// Profiles are never written: frozen, so that world snapshots (src/explore/snapshot.ts) skip them.
for (const p of Object.values(PROFILES_MUT)) Object.freeze(p);
export const PROFILES: Readonly<Record<string, KernelProfile>> = PROFILES_MUT;

export function getProfile(name: string): KernelProfile | undefined {
  return PROFILES[name];
}
