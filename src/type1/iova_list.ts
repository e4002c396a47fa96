/**
 * The container's valid IOVA ranges (`iommu->iova_list`, 5.4+): the intersection of the domains'
 * apertures minus every attached group's reserved regions. Empty means "no restriction" (no
 * IOMMU-backed group ever attached). Helpers named after vfio_iommu_aper_* / vfio_iommu_resv_*.
 * Ranges are inclusive byte bounds.
 */
import { EINVAL } from '../util/errno.js';
import type { ResvRegion } from '../iommu/hw.js';
import { U64_MAX } from '../util/units.js';
import { vfio_find_dma } from './dma_list.js';
import type { VfioIommu, VfioIova } from './vfio_iommu.js';

function findDmaBytes(iommu: VfioIommu, start: bigint, len: bigint): boolean {
  if (len <= 0n) return false;
  const a = Number(start >> 12n);
  const b = Number((start + len - 1n) >> 12n);
  return vfio_find_dma(iommu, a, b - a + 1) !== undefined;
}

/** vfio_iommu_aper_conflict(): would [start, end] cut off existing mappings? */
export function vfio_iommu_aper_conflict(iommu: VfioIommu, start: bigint, end: bigint): boolean {
  const l = iommu.iova_list;
  if (l.length === 0) return false;
  const first = l[0]!;
  const last = l[l.length - 1]!;
  if (start > last.end || end < first.start) return true;
  if (start > first.start && findDmaBytes(iommu, first.start, start - first.start)) return true;
  if (end < last.end && findDmaBytes(iommu, end + 1n, last.end - end)) return true;
  return false;
}

/** vfio_iommu_resv_conflict(): does a reserved region overlap an existing mapping? */
export function vfio_iommu_resv_conflict(iommu: VfioIommu, resv: readonly ResvRegion[]): boolean {
  return resv.some((r) => r.type !== 'direct-relaxable' && findDmaBytes(iommu, r.start, r.end - r.start + 1n));
}

/** vfio_iommu_aper_resize(): clip (or create) the list to [start, end]. */
export function vfio_iommu_aper_resize(list: VfioIova[], start: bigint, end: bigint): VfioIova[] {
  if (list.length === 0) return [{ start, end }];
  const out: VfioIova[] = [];
  for (const n of list) {
    const a = n.start > start ? n.start : start;
    const b = n.end < end ? n.end : end;
    if (a <= b) out.push({ start: a, end: b });
  }
  return out;
}

/** vfio_iommu_resv_exclude(): carve reserved regions out; an empty result is -EINVAL. */
export function vfio_iommu_resv_exclude(list: VfioIova[], resv: readonly ResvRegion[]): VfioIova[] | number {
  let cur = list;
  for (const r of resv) {
    if (r.type === 'direct-relaxable') continue;
    const next: VfioIova[] = [];
    for (const n of cur) {
      if (r.end < n.start || r.start > n.end) {
        next.push(n);
        continue;
      }
      if (r.start > n.start) next.push({ start: n.start, end: r.start - 1n });
      if (r.end < n.end) next.push({ start: r.end + 1n, end: n.end });
    }
    cur = next;
  }
  return cur.length === 0 ? -EINVAL : cur;
}

/** vfio_iommu_aper_expand() after a domain went away: widest aperture of the remaining domains. */
export function vfio_iommu_aper_expand(iommu: VfioIommu, list: VfioIova[]): VfioIova[] {
  if (list.length === 0) return list;
  const start = 0n;
  let end = U64_MAX;
  for (const d of iommu.domain_list) {
    const e = (1n << BigInt(d.domain.hw.apertureBits)) - 1n;
    if (e < end) end = e;
  }
  const out = list.map((n) => ({ ...n }));
  out[0]!.start = start;
  out[out.length - 1]!.end = end;
  return out;
}

/** vfio_iommu_resv_refresh(): rebuild from the aperture bounds and the remaining groups' regions. */
export function vfio_iommu_resv_refresh(iommu: VfioIommu, list: VfioIova[]): VfioIova[] | number {
  if (list.length === 0) return -EINVAL;
  const resv: ResvRegion[] = [];
  for (const d of iommu.domain_list) for (const g of d.group_list) resv.push(...g.iommu_group.resvRegions());
  const fresh = vfio_iommu_aper_resize([], list[0]!.start, list[list.length - 1]!.end);
  return vfio_iommu_resv_exclude(fresh, resv);
}
