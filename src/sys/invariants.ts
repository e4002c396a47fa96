/**
 * Named invariants of the whole model, checked by the concurrency explorer after every step, at
 * quiescence (no kernel path in flight) or at the end. Each returns null when it holds, else a
 * message. Names follow what they protect; kernel WARN_ON/BUG_ON conditions are reported by the
 * explorer itself as named outcomes (kernel_bug, warnings), and corruptions the model notices
 * (use after free, refcount underflow) are recorded in `Kernel.violations`.
 */
import type { Sys } from './system.js';
import type { VfioIommu, VfioDma } from '../type1/vfio_iommu.js';
import type { Mm } from '../host/mm.js';

export type Level = 'step' | 'quiescent' | 'end';

export interface ModelInvariant {
  readonly name: string;
  readonly level: Level;
  readonly doc: string;
  check(sys: Sys): string | null;
}

/** Every live vfio_iommu of the system. */
export function iommus(sys: Sys): VfioIommu[] {
  const out = new Set<VfioIommu>();
  for (const g of sys.groups.values()) {
    const io = g.container?.iommu_data;
    if (io && !io.released) out.add(io);
  }
  return [...out];
}

/** Pages of `dma` backed by reserved pfns, read from the first domain's page table. */
function reservedPages(sys: Sys, io: VfioIommu, dma: VfioDma): number {
  const d = io.domain_list[0]?.domain;
  if (!d) return 0;
  let n = 0;
  for (let p = dma.iova; p < dma.iova + dma.size; ) {
    const r = d.lookupRuns(p, dma.iova + dma.size - p);
    if (!r) {
      p++;
      continue;
    }
    const len = r.len * r.count;
    if (sys.k.phys.isInvalidReserved(r.pfn)) n += len;
    p += len;
  }
  return n;
}

function mlockedPages(mm: Mm): number {
  let n = 0;
  for (const v of mm.vmas) if (v.locked) n += v.npages;
  return n;
}

function nonReservedVpfns(sys: Sys, dma: VfioDma): number {
  let n = 0;
  for (const v of dma.pfn_list.values()) if (!sys.k.phys.isInvalidReserved(v.pfn)) n++;
  return n;
}

export const MODEL_INVARIANTS: readonly ModelInvariant[] = [
  {
    name: 'locked_vm_within_limit',
    level: 'step',
    doc: 'locked_vm of a process without CAP_IPC_LOCK never exceeds RLIMIT_MEMLOCK (when every charge was checked against it)',
    check(sys) {
      for (const { p } of sys.procs.values()) {
        const mm = p.mm;
        if (!mm || p.capable('CAP_IPC_LOCK') || p.rlimitLowered) continue;
        if (iommus(sys).some((io) => io.dma_list.some((d) => d.mm === mm && d.lock_cap))) continue;
        const lim = p.memlockPages();
        if (mm.locked_vm > lim) return `${p.comm}: locked_vm ${mm.locked_vm} pages > RLIMIT_MEMLOCK ${lim} pages`;
      }
      return null;
    },
  },
  {
    name: 'dma_list_no_overlap',
    level: 'step',
    doc: 'vfio_dma entries are sorted and never overlap',
    check(sys) {
      for (const io of iommus(sys)) {
        for (let i = 1; i < io.dma_list.length; i++) {
          const a = io.dma_list[i - 1]!;
          const b = io.dma_list[i]!;
          if (a.iova + a.size > b.iova) return `dma [${a.iova},+${a.size}) overlaps dma at page ${b.iova}`;
        }
      }
      return null;
    },
  },
  {
    name: 'dma_avail_conserved',
    level: 'step',
    doc: 'dma_avail + number of vfio_dma == the dma_entry_limit read when the IOMMU was set',
    check(sys) {
      if (!sys.k.profile.dmaEntryLimit) return null;
      for (const io of iommus(sys)) if (io.dma_avail + io.dma_list.length !== io.dma_limit) return `dma_avail ${io.dma_avail} + ${io.dma_list.length} dmas != ${io.dma_limit}`;
      return null;
    },
  },
  {
    name: 'dma_entries_within_limit',
    level: 'step',
    doc: 'a container holds at most dma_entry_limit vfio_dma entries (CVE-2019-3882)',
    check(sys) {
      const lim = sys.k.params.dma_entry_limit;
      for (const io of iommus(sys)) if (io.dma_list.length > lim) return `${io.dma_list.length} vfio_dma entries > dma_entry_limit ${lim}`;
      return null;
    },
  },
  {
    name: 'accounting_matches_rule',
    level: 'quiescent',
    doc: 'locked_vm = mlocked pages + per dma (IOMMU domain ? non-reserved pages : non-reserved vfio_pfns) (spec §5.3 A10)',
    check(sys) {
      for (const { p } of sys.procs.values()) {
        const mm = p.mm;
        if (!mm) continue;
        let want = mlockedPages(mm);
        for (const io of iommus(sys)) {
          for (const d of io.dma_list) {
            if (d.mm !== mm || d.vaddr_invalid) continue;
            want += io.domain_list.length ? d.size - reservedPages(sys, io, d) : nonReservedVpfns(sys, d);
          }
        }
        want += sys.k.leakedCharge.get(mm) ?? 0;
        if (mm.locked_vm !== want) return `${p.comm}: locked_vm ${mm.locked_vm} pages, the accounting rule gives ${want}`;
      }
      return null;
    },
  },
  {
    name: 'vfio_pfn_holds_one_reference',
    level: 'quiescent',
    doc: 'every vfio_pfn has ref_count >= 1, and page references = IOMMU pins + one per non-reserved vfio_pfn (+ leaked)',
    check(sys) {
      let want = sys.k.leakedPinPages;
      for (const io of iommus(sys)) {
        for (const d of io.dma_list) {
          for (const v of d.pfn_list.values()) if (v.ref_count < 1) return `vfio_pfn at page ${v.iovaPage} has ref_count ${v.ref_count}`;
          if (io.domain_list.length && d.iommu_mapped) want += d.size - reservedPages(sys, io, d);
          want += nonReservedVpfns(sys, d);
        }
      }
      const have = sys.k.phys.ledger.pages;
      return have === want ? null : `${have} page references held by pins, the structures account for ${want}`;
    },
  },
  {
    name: 'no_pins_after_teardown',
    level: 'end',
    doc: 'once no VFIO file is open any more, no page is left pinned',
    check(sys) {
      for (const { fds } of sys.procs.values()) if (fds.size) return null; // not torn down
      const l = sys.k.phys.ledger;
      if (l.pages !== 0 || l.sum !== 0) return `${l.pages} page references still held after every VFIO fd was closed${l.zeroRefs ? ` (${l.zeroRefs} on the zero page)` : ''}`;
      return null;
    },
  },
  {
    name: 'no_use_after_free',
    level: 'step',
    doc: 'no kernel path touches an object after freeing it',
    check: (sys) => sys.k.violations.find((v) => v.name === 'use_after_free')?.text ?? null,
  },
  {
    name: 'no_page_refcount_underflow',
    level: 'step',
    doc: 'no page reference is dropped that was not taken',
    check(sys) {
      const v = sys.k.violations.find((x) => x.name === 'page_refcount_underflow');
      if (v) return v.text;
      return sys.k.phys.ledger.pages < 0 ? `pin ledger at ${sys.k.phys.ledger.pages}` : null;
    },
  },
  {
    name: 'pin_returns_npage_or_error',
    level: 'step',
    doc: 'vfio_pin_pages() either pins every page asked for or returns an error',
    check: (sys) => sys.k.violations.find((v) => v.name === 'pin_returned_zero')?.text ?? null,
  },
  {
    name: 'pin_leak_reported',
    level: 'end',
    doc: 'a vfio_dma freed with vfio_pfns still pinned is reported (WARN in vfio_remove_dma)',
    check(sys) {
      if (!sys.k.leakedPins) return null;
      return sys.k.klog.warnings.some((w) => w.name === 'vfio_remove_dma:pfn_list_not_empty') ? null : `${sys.k.leakedPins} vfio_pfn(s) freed with their dma, pages still pinned, nothing reported`;
    },
  },
];

export function invariantByName(name: string): ModelInvariant | undefined {
  return MODEL_INVARIANTS.find((i) => i.name === name);
}
