/**
 * include/uapi/linux/vfio.h: ioctl numbers, extension ids, flags and struct sizes.
 * Values are facts from the uapi header (an ABI), written out here.
 */
export const VFIO_TYPE = 0x3b; // ';'
export const VFIO_BASE = 100;
/** _IO(type, nr) = (type << 8) | nr */
const IO = (n: number): number => (VFIO_TYPE << 8) | (VFIO_BASE + n);

export const VFIO_API_VERSION = 0;

export const IOCTL = {
  VFIO_GET_API_VERSION: IO(0),
  VFIO_CHECK_EXTENSION: IO(1),
  VFIO_SET_IOMMU: IO(2),
  VFIO_GROUP_GET_STATUS: IO(3),
  VFIO_GROUP_SET_CONTAINER: IO(4),
  VFIO_GROUP_UNSET_CONTAINER: IO(5),
  VFIO_GROUP_GET_DEVICE_FD: IO(6),
  VFIO_DEVICE_GET_INFO: IO(7),
  VFIO_DEVICE_GET_REGION_INFO: IO(8),
  VFIO_IOMMU_GET_INFO: IO(12),
  VFIO_IOMMU_MAP_DMA: IO(13),
  VFIO_IOMMU_UNMAP_DMA: IO(14),
  VFIO_IOMMU_ENABLE: IO(15),
  VFIO_IOMMU_DISABLE: IO(16),
  VFIO_IOMMU_DIRTY_PAGES: IO(17),
} as const;
export type IoctlName = keyof typeof IOCTL;

/** Extension ids for VFIO_CHECK_EXTENSION / VFIO_SET_IOMMU. */
export const EXT = {
  VFIO_TYPE1_IOMMU: 1,
  VFIO_SPAPR_TCE_IOMMU: 2,
  VFIO_TYPE1v2_IOMMU: 3,
  VFIO_DMA_CC_IOMMU: 4,
  VFIO_EEH: 5,
  VFIO_TYPE1_NESTING_IOMMU: 6,
  VFIO_SPAPR_TCE_v2_IOMMU: 7,
  VFIO_NOIOMMU_IOMMU: 8,
  VFIO_UNMAP_ALL: 9,
  VFIO_UPDATE_VADDR: 10,
} as const;
export type ExtName = keyof typeof EXT;

export const VFIO_GROUP_FLAGS_VIABLE = 1 << 0;
export const VFIO_GROUP_FLAGS_CONTAINER_SET = 1 << 1;

export const VFIO_IOMMU_INFO_PGSIZES = 1 << 0;
export const VFIO_IOMMU_INFO_CAPS = 1 << 1;
export const VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE = 1;
export const VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION = 2;
export const VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL = 3;

export const VFIO_DMA_MAP_FLAG_READ = 1 << 0;
export const VFIO_DMA_MAP_FLAG_WRITE = 1 << 1;
export const VFIO_DMA_MAP_FLAG_VADDR = 1 << 2;

export const VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP = 1 << 0;
export const VFIO_DMA_UNMAP_FLAG_ALL = 1 << 1;
export const VFIO_DMA_UNMAP_FLAG_VADDR = 1 << 2;

export const VFIO_IOMMU_DIRTY_PAGES_FLAG_START = 1 << 0;
export const VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP = 1 << 1;
export const VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP = 1 << 2;

export const MAP_FLAGS: Readonly<Record<string, number>> = { READ: VFIO_DMA_MAP_FLAG_READ, WRITE: VFIO_DMA_MAP_FLAG_WRITE, VADDR: VFIO_DMA_MAP_FLAG_VADDR };
export const UNMAP_FLAGS: Readonly<Record<string, number>> = {
  GET_DIRTY_BITMAP: VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP,
  ALL: VFIO_DMA_UNMAP_FLAG_ALL,
  VADDR: VFIO_DMA_UNMAP_FLAG_VADDR,
};
export const DIRTY_FLAGS: Readonly<Record<string, number>> = {
  START: VFIO_IOMMU_DIRTY_PAGES_FLAG_START,
  STOP: VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP,
  GET_BITMAP: VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP,
};

/** sizeof / offsetofend values the ioctls check argsz against. */
export const SIZEOF = {
  vfio_group_status: 8,
  vfio_iommu_type1_info_minsz: 16, // offsetofend(iova_pgsizes)
  vfio_iommu_type1_info_capsz: 20, // offsetofend(cap_offset)
  vfio_iommu_type1_info: 24,
  vfio_iommu_type1_dma_map: 32,
  vfio_iommu_type1_dma_unmap: 24, // offsetofend(size)
  vfio_bitmap: 24,
  vfio_iommu_type1_dirty_bitmap: 8,
  vfio_iommu_type1_dirty_bitmap_get: 40,
} as const;

/** IOMMU_READ / IOMMU_WRITE (include/linux/iommu.h) */
export const IOMMU_READ = 1 << 0;
export const IOMMU_WRITE = 1 << 1;

/** INT_MAX pages: the largest dirty bitmap, in bytes 256 MiB. */
export const DIRTY_BITMAP_PAGES_MAX = 0x7fffffff;
export const DIRTY_BITMAP_SIZE_MAX = 268435456n;

/** VFIO_PIN_PAGES_MAX_ENTRIES = PAGE_SIZE / sizeof(unsigned long) */
export const VFIO_PIN_PAGES_MAX_ENTRIES = 512;

/** enum vfio_notify_type (include/linux/vfio.h, 4.10-5.18) */
export const VFIO_IOMMU_NOTIFY = 0;
export const VFIO_GROUP_NOTIFY = 1;
/** events of VFIO_IOMMU_NOTIFY: the IOMMU is about to unmap [iova, iova+size) */
export const VFIO_IOMMU_NOTIFY_DMA_UNMAP = 1 << 0;
/** events of VFIO_GROUP_NOTIFY: a KVM instance was attached to the group */
export const VFIO_GROUP_NOTIFY_SET_KVM = 1 << 0;

export function flagNames(flags: number, table: Readonly<Record<string, number>>): string {
  const out: string[] = [];
  let rest = flags;
  for (const [n, v] of Object.entries(table)) {
    if (flags & v) {
      out.push(n);
      rest &= ~v;
    }
  }
  if (rest) out.push('0x' + rest.toString(16));
  return out.length ? out.join('|') : '0';
}
