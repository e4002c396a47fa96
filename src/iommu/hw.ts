/**
 * The platform IOMMU and the devices behind it: what `iommu_domain_alloc()`, `iommu_get_group_resv_regions()`,
 * `iommu_capable()` and domain geometry report. Defaults describe an x86 Intel VT-d host like the
 * QEMU q35 + intel-iommu guest the real-kernel backend uses.
 */
export type ResvType = 'msi' | 'sw-msi' | 'reserved' | 'direct' | 'direct-relaxable';

/** An IOMMU reserved region, inclusive byte bounds (as `struct iommu_resv_region` start/length). */
export interface ResvRegion {
  readonly start: bigint;
  readonly end: bigint;
  readonly type: ResvType;
}

export interface IommuHw {
  readonly name: string;
  /** Page sizes the IOMMU driver advertises (`domain->pgsize_bitmap`). */
  readonly pgsizeBitmap: bigint;
  /** Domain geometry: aperture is [0, 2^bits - 1]. */
  readonly apertureBits: number;
  /** Reserved regions every group on this IOMMU reports. */
  readonly resv: readonly ResvRegion[];
  /** IOMMU_CAP_INTR_REMAP (or an MSI-remapping irq domain). */
  readonly intrRemap: boolean;
  /** The domain can enforce cache coherency (`enforce_cache_coherency`). */
  readonly enforceCacheCoherency: boolean;
  /** iommu_enable_nesting() support. */
  readonly nesting: boolean;
  /** Fine-grained superpages (unmapping part of a superpage splits it). */
  readonly fgsp: boolean;
  /** The container's IOMMU driver lacks pin_pages (a SPAPR-TCE-like driver), for the v9 finding. */
  readonly noPinPages?: boolean;
}

export const X86_MSI_WINDOW: ResvRegion = { start: 0xfee00000n, end: 0xfeefffffn, type: 'msi' };

export const INTEL_VTD: IommuHw = {
  name: 'intel-iommu',
  pgsizeBitmap: (1n << 12n) | (1n << 21n) | (1n << 30n),
  apertureBits: 39,
  resv: [X86_MSI_WINDOW],
  intrRemap: true,
  // QEMU's intel-iommu has no snoop control unless asked (snoop-control=on), so domains cannot
  // enforce coherency: CHECK_EXTENSION(VFIO_DMA_CC_IOMMU) = 0 there (measured on 6.1 and 6.12)
  enforceCacheCoherency: false,
  nesting: false,
  fgsp: false,
};
