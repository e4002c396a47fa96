/**
 * Named invariants of the whole model, checked by the concurrency explorer after every step, at
 * quiescence (no kernel path in flight) or at the end. Each returns null when it holds, else a
 * message. Names follow what they protect; kernel WARN_ON/BUG_ON conditions are reported by the
 * explorer itself as named outcomes (kernel_bug, warnings), and corruptions the model notices
 * (use after free, refcount underflow) are recorded in `Kernel.violations`.
 */
import type { Sys } from './system.js';
import type { VfioIommu } from '../type1/vfio_iommu.js';
import type { VfioGroup } from '../vfio/objects.js';
import * as T1 from '../type1/invariants.js';
import { NOTIFIER_LEFT_REGISTERED } from '../type1/attach.js';

export type Level = 'step' | 'quiescent' | 'end';

export interface ModelInvariant {
  readonly name: string;
  readonly level: Level;
  readonly doc: string;
  check(sys: Sys): string | null;
}

/** The live vfio_iommu of a group's container, if any. */
function liveIommu(g: VfioGroup): VfioIommu | null {
  const io = g.container?.iommu_data;
  return io && !io.released ? io : null;
}

/** Every live vfio_iommu of the system. */
export function iommus(sys: Sys): VfioIommu[] {
  // checked after every explorer step: a few groups, so a linear de-duplication beats a Set
  const out: VfioIommu[] = [];
  for (const g of sys.groups.values()) {
    const io = liveIommu(g);
    if (io && !out.includes(io)) out.push(io);
  }
  return out;
}

/**
 * The first failure of a per-container check over every live container. Checked after every
 * explorer step, so it allocates nothing: a container with several groups is checked once per
 * group (the checks are pure).
 */
function eachIommu(sys: Sys, f: (io: VfioIommu) => string | null): string | null {
  for (const g of sys.groups.values()) {
    const io = liveIommu(g);
    if (io) {
      const m = f(io);
      if (m) return m;
    }
  }
  return null;
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
        const lim = p.memlockPages();
        if (mm.locked_vm <= lim) continue; // checked after every step: the cheap test first
        if (iommus(sys).some((io) => io.dma_list.some((d) => d.mm === mm && d.lock_cap))) continue;
        return `${p.comm}: locked_vm ${mm.locked_vm} pages > RLIMIT_MEMLOCK ${lim} pages`;
      }
      return null;
    },
  },
  {
    name: 'dma_list_no_overlap',
    level: 'step',
    doc: 'vfio_dma entries are sorted and never overlap',
    check: (sys) => eachIommu(sys, T1.dma_list_no_overlap),
  },
  {
    name: 'dma_avail_conserved',
    level: 'step',
    doc: 'dma_avail + number of vfio_dma == the dma_entry_limit read when the IOMMU was set',
    check: (sys) => (sys.k.profile.dmaEntryLimit ? eachIommu(sys, T1.dma_avail_conserved) : null),
  },
  {
    name: 'iommu_mapped_iff_domain',
    level: 'quiescent',
    doc: 'with an IOMMU domain every dma is iommu_mapped and fully mapped in every domain; without one, none is (spec §8.2 I4)',
    check: (sys) => eachIommu(sys, T1.iommu_mapped_iff_domain),
  },
  {
    name: 'dma_entries_within_limit',
    level: 'step',
    doc: 'a container holds at most dma_entry_limit vfio_dma entries (CVE-2019-3882)',
    check(sys) {
      const lim = sys.k.params.dma_entry_limit;
      for (const io of iommus(sys)) if (io.dma_list.size > lim) return `${io.dma_list.size} vfio_dma entries > dma_entry_limit ${lim}`;
      return null;
    },
  },
  {
    name: 'accounting_matches_rule',
    level: 'quiescent',
    doc: 'locked_vm = mlocked pages + per dma (IOMMU domain ? non-reserved pages : non-reserved vfio_pfns) (spec §5.3 A10)',
    check(sys) {
      const all = iommus(sys);
      for (const { p } of sys.procs.values()) {
        const mm = p.mm;
        if (!mm) continue;
        const want = T1.expectedLockedVm(mm, all, sys.k.phys) + (sys.k.leakedCharge.get(mm) ?? 0);
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
        const m = T1.vfio_pfn_refcounts(io);
        if (m) return m;
        for (const d of io.dma_list) {
          if (io.domain_list.length && d.iommu_mapped) want += d.size - T1.reservedPagesOf(io, d, sys.k.phys);
          for (const v of d.pfn_list.values()) if (!sys.k.phys.isInvalidReserved(v.pfn)) want++;
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
      const m = T1.no_pins_after_teardown(sys.k.phys);
      const z = sys.k.phys.ledger.zeroRefs;
      return m && `after every VFIO fd was closed: ${m}${z ? ` (${z} on the zero page)` : ''}`;
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
  {
    name: 'notifier_unregistered_before_detach',
    level: 'step',
    doc: '[4.10-5.18] no vendor DMA-unmap notifier is still registered when the last mdev group leaves its container (WARN in vfio_sanity_check_pfn_list)',
    check(sys) {
      const w = sys.k.klog.warnings.find((x) => x.name === NOTIFIER_LEFT_REGISTERED);
      return w ? `the last mdev group left its container with a DMA-unmap notifier still registered (${w.text})` : null;
    },
  },
];

export function invariantByName(name: string): ModelInvariant | undefined {
  return MODEL_INVARIANTS.find((i) => i.name === name);
}
