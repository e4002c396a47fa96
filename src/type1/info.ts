/**
 * VFIO_CHECK_EXTENSION and VFIO_IOMMU_GET_INFO for type1 (vfio_iommu_type1.c, 6.1):
 * vfio_iommu_type1_check_extension, vfio_iommu_type1_get_info and the capability builders
 * (migration, DMA avail, IOVA ranges), including the argsz protocol.
 */
import { EFAULT, EINVAL } from '../util/errno.js';
import type { Kernel } from '../kernel/kernel.js';
import type { KGen } from '../kernel/sched.js';
import {
  DIRTY_BITMAP_SIZE_MAX,
  EXT,
  SIZEOF,
  VFIO_IOMMU_INFO_CAPS,
  VFIO_IOMMU_INFO_PGSIZES,
  VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE,
  VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION,
  VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL,
} from '../uapi/vfio.js';
import { minPgsize } from './map.js';
import type { VfioIommu } from './vfio_iommu.js';

/** vfio_iommu_type1_check_extension(iommu may be null: asked before SET_IOMMU) */
export function vfio_iommu_type1_check_extension(k: Kernel, iommu: VfioIommu | null, arg: number): number {
  switch (arg) {
    case EXT.VFIO_TYPE1_IOMMU:
    case EXT.VFIO_TYPE1v2_IOMMU:
    case EXT.VFIO_TYPE1_NESTING_IOMMU:
      return 1;
    case EXT.VFIO_UNMAP_ALL:
      return k.profile.unmapAllAndVaddr ? 1 : 0;
    case EXT.VFIO_UPDATE_VADDR:
      if (!k.profile.unmapAllAndVaddr) return 0;
      // Disabled when mdevs are present: they cannot pin/rw while vaddrs change.
      if (k.profile.vaddrBusyWithMdev) return iommu && iommu.emulated_iommu_groups.length === 0 ? 1 : 0;
      return 1;
    case EXT.VFIO_DMA_CC_IOMMU:
      if (!iommu) return 0;
      return iommu.domain_list.every((d) => d.enforce_cache_coherency) ? 1 : 0;
    default:
      return 0;
  }
}

export interface CapMigration {
  id: 'MIGRATION';
  flags: number;
  pgsize_bitmap: bigint;
  max_dirty_bitmap_size: bigint;
}
export interface CapDmaAvail {
  id: 'DMA_AVAIL';
  avail: number;
}
export interface CapIovaRange {
  id: 'IOVA_RANGE';
  iova_ranges: { start: bigint; end: bigint }[];
}
export type InfoCap = CapMigration | CapDmaAvail | CapIovaRange;

export interface IommuInfoArgs {
  argsz: number;
  /** Outputs, as the kernel copies them back. */
  flags?: number;
  iova_pgsizes?: bigint;
  cap_offset?: number;
  caps?: InfoCap[];
}

/**
 * sizeof the capability structs: vfio_iommu_type1_info_cap_migration 32, _dma_avail 12 (8-byte
 * header + u32), _cap_iova_range 16 + 16 per range. Padded to 8 bytes where vfio_info_cap_add()
 * aligns them (profile infoCapsAligned).
 */
const CAP_SIZE = { MIGRATION: 32, DMA_AVAIL: 12 } as const;
const align8 = (n: number): number => (n + 7) & ~7;

function capsFor(k: Kernel, iommu: VfioIommu): { caps: InfoCap[]; size: number } {
  const caps: InfoCap[] = [];
  let size = 0;
  if (k.profile.dirtyTracking) {
    caps.push({ id: 'MIGRATION', flags: 0, pgsize_bitmap: minPgsize(iommu), max_dirty_bitmap_size: DIRTY_BITMAP_SIZE_MAX });
    size += CAP_SIZE.MIGRATION;
  }
  if (k.profile.dmaAvailCap) {
    caps.push({ id: 'DMA_AVAIL', avail: iommu.dma_avail });
    size += k.profile.infoCapsAligned ? align8(CAP_SIZE.DMA_AVAIL) : CAP_SIZE.DMA_AVAIL;
  }
  if (k.profile.iovaList && iommu.iova_list.length) {
    caps.push({ id: 'IOVA_RANGE', iova_ranges: iommu.iova_list.map((n) => ({ start: n.start, end: n.end })) });
    size += 16 + 16 * iommu.iova_list.length;
  }
  return { caps, size };
}

export const CAP_IDS = {
  MIGRATION: VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION,
  DMA_AVAIL: VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL,
  IOVA_RANGE: VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE,
} as const;

/** vfio_iommu_type1_get_info(): fills `info` as copy_to_user would; returns 0 or -errno. */
export function* vfio_iommu_type1_get_info(k: Kernel, iommu: VfioIommu, info: IommuInfoArgs, fault = false): KGen<number> {
  if (fault) return -EFAULT;
  const minsz = SIZEOF.vfio_iommu_type1_info_minsz;
  const capsz = SIZEOF.vfio_iommu_type1_info_capsz;
  if (info.argsz < minsz) return -EINVAL;
  const copyCapOffset = info.argsz >= capsz;
  yield* iommu.lock.lock();
  const flags0 = VFIO_IOMMU_INFO_PGSIZES;
  const pgsizes = iommu.pgsize_bitmap;
  const { caps, size } = capsFor(k, iommu);
  yield* iommu.lock.unlock();
  let flags = flags0;
  let cap_offset = 0;
  let argsz = info.argsz;
  let copied: InfoCap[] | undefined;
  if (size) {
    flags |= VFIO_IOMMU_INFO_CAPS;
    if (info.argsz < SIZEOF.vfio_iommu_type1_info + size) argsz = SIZEOF.vfio_iommu_type1_info + size;
    else {
      copied = caps;
      cap_offset = SIZEOF.vfio_iommu_type1_info;
    }
  }
  info.argsz = argsz;
  info.flags = flags;
  info.iova_pgsizes = pgsizes;
  if (copyCapOffset) info.cap_offset = cap_offset;
  if (copied) info.caps = copied;
  return 0;
}
