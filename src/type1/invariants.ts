/**
 * Type1 invariants (spec §8.2) as named predicates over the type1 structures themselves, so that
 * property tests, the scenario runner and the concurrency explorer can share them. Each returns
 * null when it holds, else a message saying what is wrong. None of them changes any state.
 *
 * Which ones hold when:
 *   - `dma_list_no_overlap`, `dma_avail_conserved`: always, even in the middle of a kernel path
 *     (a dma being pinned is linked with the size pinned so far);
 *   - `dma_list_settled`, `vfio_pfn_refcounts`, `iommu_mapped_iff_domain`,
 *     `locked_vm_matches_mappings`: when no kernel path is in flight (between syscalls);
 *   - `no_pins_after_teardown`: once every VFIO file is closed.
 */
import type { Mm } from '../host/mm.js';
import type { PhysMem } from '../host/physmem.js';
import type { VfioDma, VfioIommu } from './vfio_iommu.js';

export type Check = string | null;

/** I1: dma_list is sorted by iova and its entries never overlap. */
export function dma_list_no_overlap(iommu: VfioIommu): Check {
  // walked with first()/next(), as the kernel walks its rb-tree: checked after every explorer
  // step, so no iterator object
  const l = iommu.dma_list;
  let a: VfioDma | undefined = l.first();
  for (let b = a === undefined ? undefined : l.next(a); a !== undefined && b !== undefined; a = b, b = l.next(b)) {
    if (a.iova + a.size > b.iova) return `dma [${hexPage(a.iova)}, +${a.size} pages) overlaps the dma at ${hexPage(b.iova)}`;
  }
  return null;
}

/** I1 (settled part): between syscalls every dma has size > 0 and is not freed. */
export function dma_list_settled(iommu: VfioIommu): Check {
  for (const d of iommu.dma_list) {
    if (d.size <= 0) return `dma at ${hexPage(d.iova)} has size ${d.size}`;
    if (d.freed) return `dma at ${hexPage(d.iova)} is on dma_list after vfio_remove_dma`;
  }
  return null;
}

/** I2 [>=5.1]: dma_avail + |dma_list| == the dma_entry_limit read when the IOMMU was opened. */
export function dma_avail_conserved(iommu: VfioIommu): Check {
  if (iommu.dma_avail < 0) return `dma_avail is ${iommu.dma_avail}`;
  if (iommu.dma_avail + iommu.dma_list.size !== iommu.dma_limit) return `dma_avail ${iommu.dma_avail} + ${iommu.dma_list.size} dmas != dma_entry_limit ${iommu.dma_limit}`;
  return null;
}

/** I3: every vfio_pfn has ref_count >= 1 and a page-aligned IOVA inside its dma. */
export function vfio_pfn_refcounts(iommu: VfioIommu): Check {
  for (const d of iommu.dma_list) {
    for (const v of d.pfn_list.values()) {
      if (v.ref_count < 1) return `vfio_pfn at ${hexPage(v.iovaPage)} has ref_count ${v.ref_count}`;
      if (v.iovaPage < d.iova || v.iovaPage >= d.iova + d.size) return `vfio_pfn at ${hexPage(v.iovaPage)} lies outside its dma [${hexPage(d.iova)}, +${d.size})`;
    }
  }
  return null;
}

/** I4: with an IOMMU-backed domain every settled dma is iommu_mapped and fully mapped in every domain; without one, none is. */
export function iommu_mapped_iff_domain(iommu: VfioIommu): Check {
  const hasDomain = iommu.domain_list.length > 0;
  for (const d of iommu.dma_list) {
    if (d.iommu_mapped !== hasDomain) return `dma at ${hexPage(d.iova)}: iommu_mapped ${d.iommu_mapped} with ${iommu.domain_list.length} IOMMU domain(s)`;
    for (const vd of iommu.domain_list) {
      if (!vd.domain.fullyMapped(d.iova, d.size)) return `dma at ${hexPage(d.iova)} is not fully mapped in IOMMU domain ${vd.domain.id}`;
    }
  }
  return null;
}

/** Pages of `dma` whose pfn is reserved (MMIO, zero page), read back from the first domain. */
export function reservedPagesOf(iommu: VfioIommu, dma: VfioDma, phys: PhysMem): number {
  const dom = iommu.domain_list[0]?.domain;
  if (!dom) return 0;
  let n = 0;
  const end = dma.iova + dma.size;
  for (let p = dma.iova; p < end; ) {
    const r = dom.lookupRuns(p, end - p);
    if (!r) {
      p++;
      continue;
    }
    const len = r.len * r.count;
    if (phys.isInvalidReserved(r.pfn)) n += len;
    p += len;
  }
  return n;
}

/** Pages of `mm` in VM_LOCKED vmas (what mlock charged). */
export function mlockedPages(mm: Mm): number {
  let n = 0;
  for (const v of mm.vmas) if (v.locked) n += v.npages;
  return n;
}

/**
 * The charge the accounting rules give `mm` (spec §5.3 A10, plus mlock): for each dma it owns,
 * the non-reserved pages when its container has an IOMMU domain, else its non-reserved vfio_pfns;
 * plus the pages it mlocked.
 */
export function expectedLockedVm(mm: Mm, iommus: readonly VfioIommu[], phys: PhysMem): number {
  let want = mlockedPages(mm);
  for (const io of iommus) {
    for (const d of io.dma_list) {
      if (d.mm !== mm) continue;
      if (io.domain_list.length) want += d.size - reservedPagesOf(io, d, phys);
      else for (const v of d.pfn_list.values()) if (!phys.isInvalidReserved(v.pfn)) want++;
    }
  }
  return want;
}

/** I5 / A10: locked_vm of `mm` equals what its mappings and mlocks account for. */
export function locked_vm_matches_mappings(mm: Mm, iommus: readonly VfioIommu[], phys: PhysMem): Check {
  const want = expectedLockedVm(mm, iommus, phys);
  return mm.locked_vm === want ? null : `${mm.owner}: locked_vm ${mm.locked_vm} pages, mappings and mlocks account for ${want}`;
}

/** After teardown: no page reference held by a pin and the pfn checksum back to 0. */
export function no_pins_after_teardown(phys: PhysMem): Check {
  const l = phys.ledger;
  if (l.pages !== 0 || l.sum !== 0) return `${l.pages} page reference(s) still held by pins (pfn checksum ${l.sum})`;
  return null;
}

export interface Type1Invariant {
  readonly name: string;
  /** 'always': also in the middle of a kernel path; 'settled': between syscalls. */
  readonly when: 'always' | 'settled';
  check(iommu: VfioIommu): Check;
}

/** The per-container invariants, by name. */
export const TYPE1_INVARIANTS: readonly Type1Invariant[] = [
  { name: 'dma_list_no_overlap', when: 'always', check: dma_list_no_overlap },
  { name: 'dma_avail_conserved', when: 'always', check: dma_avail_conserved },
  { name: 'dma_list_settled', when: 'settled', check: dma_list_settled },
  { name: 'vfio_pfn_refcounts', when: 'settled', check: vfio_pfn_refcounts },
  { name: 'iommu_mapped_iff_domain', when: 'settled', check: iommu_mapped_iff_domain },
];

/** Every per-container invariant violated by `iommu`, as "name: message". */
export function checkIommu(iommu: VfioIommu, when: 'always' | 'settled' = 'settled'): string[] {
  const out: string[] = [];
  for (const inv of TYPE1_INVARIANTS) {
    if (when === 'always' && inv.when !== 'always') continue;
    const m = inv.check(iommu);
    if (m) out.push(`${inv.name}: ${m}`);
  }
  return out;
}

function hexPage(p: number): string {
  return '0x' + (BigInt(p) << 12n).toString(16);
}
