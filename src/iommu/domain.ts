/**
 * `struct iommu_domain`: an IOMMU page table and the core API type1 calls on it
 * (`iommu_map`, `iommu_unmap`, `iommu_iova_to_phys`).
 *
 * The page table is an ordered set of non-overlapping `Runs` keyed by IOVA page (`start`), so a
 * 1 TiB mapping is one entry: a treap (src/util/treap.ts) with priorities hashed from `start`, so
 * a map or unmap anywhere is O(log n) and the same mappings always have the same shape (the
 * explorer's fingerprint sees no history). Counters record what the hardware would have been asked to do:
 * `iommu_map` calls, `iommu_unmap` calls, and how many IOMMU pages of each size the core's
 * `iommu_pgsize()` split would have used.
 * No lock of its own: type1 serialises all calls under `vfio_iommu.lock`.
 */
import { EEXIST, EFAULT } from '../util/errno.js';
import type { Runs } from '../host/run.js';
import { normalize, runsEnd, sliceRuns } from '../host/run.js';
import type { IommuHw } from './hw.js';
import type { IommuGroup } from './group.js';
import { mixPriority, Treap } from '../util/treap.js';

export interface DomainCounters {
  map_calls: number;
  unmap_calls: number;
  /** IOMMU page size in bytes (as a decimal string key) -> pages of that size mapped so far. */
  /** bytes of the page size (as a string, e.g. '2097152') -> number of such pages mapped */
  readonly pgsizes: Map<string, number>;
}

interface PtEntry extends Runs {
  readonly prot: number;
}

/** The page table's entries by IOVA page; they never overlap, so `start` orders them. */
class PageTable extends Treap<PtEntry> {
  protected compare(a: PtEntry, b: PtEntry): number {
    return a.start - b.start;
  }

  protected priority(e: PtEntry): number {
    return mixPriority(e.start);
  }
}

export class IommuDomain {
  readonly groups: IommuGroup[] = [];
  private readonly pt = new PageTable();
  readonly counters: DomainCounters = { map_calls: 0, unmap_calls: 0, pgsizes: new Map() };
  /** Page sizes in 4K pages, ascending, from the bitmap. */
  private readonly sizes: number[];
  readonly aperturePages: number;
  freed = false;

  constructor(
    readonly hw: IommuHw,
    readonly id = 0,
  ) {
    const s: number[] = [];
    for (let b = 12n; b < 64n; b++) if (hw.pgsizeBitmap & (1n << b)) s.push(2 ** Number(b - 12n));
    this.sizes = s;
    this.aperturePages = 2 ** (hw.apertureBits - 12);
  }

  /** Mapped pages in total. */
  mappedPages(): number {
    let n = 0;
    for (const e of this.pt) n += e.len * e.count;
    return n;
  }

  /** The entries in ascending IOVA. */
  entries(): readonly Runs[] {
    return this.pt.toArray();
  }

  /** The entry with the highest start <= iova. */
  private entryFrom(iova: number): PtEntry | undefined {
    return this.pt.lastWhere((e) => e.start <= iova);
  }

  private entryAt(iova: number): PtEntry | undefined {
    const e = this.entryFrom(iova);
    return e && iova < runsEnd(e) ? e : undefined;
  }

  /**
   * iommu_map() for each run of `r` (one call per run): `r.start` is the IOVA page. Fails without
   * side effects if any page is already mapped (-EEXIST) or lies outside the aperture (-EFAULT, as
   * intel-iommu does when the address exceeds the domain's width).
   */
  iommu_map(r: Runs, prot: number): number {
    const end = runsEnd(r);
    if (end > this.aperturePages) return -EFAULT;
    const prev = this.entryFrom(r.start);
    if (prev && runsEnd(prev) > r.start) return -EEXIST;
    const next = this.pt.firstWhere((e) => e.start > r.start);
    if (next && next.start < end) return -EEXIST;
    this.pt.insert({ ...normalize(r), prot });
    this.counters.map_calls += r.count;
    this.countPgsizes(r);
    return 0;
  }

  /** iommu_unmap(): pages actually unmapped in [iova, iova+n). */
  iommu_unmap(iova: number, n: number): number {
    this.counters.unmap_calls++;
    const end = iova + n;
    let unmapped = 0;
    for (let e = this.entryFrom(iova) ?? this.pt.first(); e !== undefined && e.start < end; ) {
      const next = this.pt.next(e);
      const eEnd = runsEnd(e);
      if (eEnd > iova) {
        const a = Math.max(iova, e.start);
        const b = Math.min(end, eEnd);
        unmapped += b - a;
        this.pt.remove(e);
        // what is left of a partly unmapped entry stays, as up to two entries on either side
        if (a > e.start || b < eEnd) for (const x of [...sliceRuns(e, e.start, a), ...sliceRuns(e, b, eEnd)]) this.pt.insert({ ...x, prot: e.prot });
      }
      e = next;
    }
    return unmapped;
  }

  /** iommu_iova_to_phys() as a pfn; -1 when nothing is mapped there. */
  iova_to_pfn(iova: number): number {
    const e = this.entryAt(iova);
    if (!e) return -1;
    const off = iova - e.start;
    const k = Math.floor(off / e.len);
    return e.pfn + k * e.stride + (off - k * e.len);
  }

  /**
   * The mapping at `iova` as runs, up to `max` pages: what a walk with iommu_iova_to_phys() that
   * extends a run while the next IOVA's phys is contiguous would find, batched per entry.
   * undefined if `iova` is not mapped.
   */
  lookupRuns(iova: number, max: number): Runs | undefined {
    const e = this.entryAt(iova);
    if (!e) return undefined;
    return sliceRuns(e, iova, iova + max)[0];
  }

  /** Every page mapped in [iova, iova+n)? */
  fullyMapped(iova: number, n: number): boolean {
    let p = iova;
    const end = iova + n;
    while (p < end) {
      const e = this.entryAt(p);
      if (!e) return false;
      p = runsEnd(e);
    }
    return true;
  }

  /** The iommu core's iommu_pgsize() split of each run, accumulated into the counters. */
  private countPgsizes(r: Runs): void {
    const { sizes } = this;
    let iova = r.start;
    let pfn = r.pfn;
    let n = r.len;
    while (n > 0) {
      let si = 0;
      for (let j = sizes.length - 1; j >= 0; j--) {
        const s = sizes[j]!;
        if (s <= n && iova % s === 0 && pfn % s === 0) {
          si = j;
          break;
        }
      }
      const s = sizes[si]!;
      let k = Math.floor(n / s);
      const larger = sizes[si + 1];
      if (larger !== undefined && (iova - pfn) % larger === 0) {
        const d = (larger - (iova % larger)) % larger;
        if (d > 0) k = Math.min(k, d / s);
      }
      const key = String(s * 4096);
      this.counters.pgsizes.set(key, (this.counters.pgsizes.get(key) ?? 0) + k * r.count);
      iova += k * s;
      pfn += k * s;
      n -= k * s;
    }
  }
}
