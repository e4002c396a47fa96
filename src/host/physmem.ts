/**
 * Physical memory: page frames, reserved (MMIO) frames, the zero page, and the pin ledger.
 *
 * Frames are handed out by a bump allocator in extents (see run.ts); nothing is kept per page.
 * RAM starts at `RAM_BASE_PFN`; MMIO BARs live in a separate pfn window from 2^48 bytes on (far
 * above any RAM the model hands out: a scattered 1 TiB buffer spans 2 TiB of pfns) and have
 * no `struct page` (`pfn_valid` false), so `is_invalid_reserved_pfn` is true for them, as it is for
 * the shared zero page (on profiles where the zero page is `PageReserved`).
 *
 * Pin ledger: every page reference that VFIO takes (`pin_user_pages` in GUP) and drops (`put_pfn`)
 * is recorded as a count plus a checksum of the pfns (their sum mod 2^32, kept in int32
 * arithmetic: a pin and an unpin each cost two integer operations, no division), so "no pinned
 * page left" and "every pin released exactly once" are checkable without per-page state.
 */
import type { Runs } from './run.js';

export const RAM_BASE_PFN = 0x100000; // 4 GiB
export const MMIO_BASE_PFN = 2 ** 36; // 256 TiB .. (BAR window)
export const ZERO_PFN = 0x2000;

export interface PinLedger {
  /** Page references currently held by pins on non-reserved frames. */
  pages: number;
  /** Sum of pinned pfns mod 2^32, as a signed 32-bit integer (0 when every pin is released). */
  sum: number;
  /** References currently held on the zero page (if it is not treated as reserved). */
  zeroRefs: number;
}

/** x mod 2^32 as a signed 32-bit integer, the form of `PinLedger.sum`. */
function mod32(x: bigint): number {
  return Number(BigInt.asIntN(32, x));
}

export class PhysMem {
  private nextRam = RAM_BASE_PFN;
  private nextMmio = MMIO_BASE_PFN;
  /** Allocated RAM frames (for reporting). */
  allocatedPages = 0;
  readonly ledger: PinLedger = { pages: 0, sum: 0, zeroRefs: 0 };
  /** Frames whose last reference went while they were still referenced by an IOMMU mapping. */
  constructor(public zeroPageReserved: boolean) {}

  /**
   * Allocate `npages` of RAM in runs of `granule` pages. `contiguous` puts the runs back to back;
   * otherwise a one-granule gap separates them, so no two runs are physically adjacent.
   */
  allocRam(start: number, npages: number, granule: number, contiguous: boolean): Runs {
    const g = Math.min(granule, npages);
    const count = Math.ceil(npages / g);
    // align the base to the granule, as the buddy allocator does for compound pages
    const base = Math.ceil(this.nextRam / g) * g;
    const stride = contiguous ? g : 2 * g;
    this.nextRam = base + count * stride;
    if (this.nextRam > MMIO_BASE_PFN) throw new Error('model: RAM pfns would reach the MMIO window');
    this.allocatedPages += npages;
    if (count * g !== npages) {
      // only happens when npages is not a multiple of the granule; callers align sizes
      return { start, pfn: base, len: npages, count: 1, stride: npages };
    }
    return contiguous ? { start, pfn: base, len: npages, count: 1, stride: npages } : { start, pfn: base, len: g, count, stride };
  }

  /** A window of MMIO pfns (device BAR); size in pages. */
  allocMmio(npages: number, align = 1): number {
    const base = Math.ceil(this.nextMmio / align) * align;
    this.nextMmio = base + npages;
    return base;
  }

  /** is_invalid_reserved_pfn(): no struct page, or PageReserved. */
  isInvalidReserved(pfn: number): boolean {
    if (pfn >= MMIO_BASE_PFN) return true;
    if (pfn === ZERO_PFN) return this.zeroPageReserved;
    return false;
  }

  /** pfn_valid(): has a struct page. */
  pfnValid(pfn: number): boolean {
    return pfn < MMIO_BASE_PFN;
  }

  /** Take one reference on each page of a (non-reserved) contiguous batch of runs. */
  getRuns(r: Runs): void {
    this.ledger.pages += r.len * r.count;
    this.ledger.sum = (this.ledger.sum + runsPfnSum(r)) | 0;
    if (r.pfn === ZERO_PFN) this.ledger.zeroRefs += r.len * r.count;
  }

  /** Drop one reference on each page of a (non-reserved) batch of runs. */
  putRuns(r: Runs): void {
    this.ledger.pages -= r.len * r.count;
    this.ledger.sum = (this.ledger.sum - runsPfnSum(r)) | 0;
    if (r.pfn === ZERO_PFN) this.ledger.zeroRefs -= r.len * r.count;
  }

  /** Single-page fast path of getRuns. */
  getPage(pfn: number): void {
    this.ledger.pages++;
    this.ledger.sum = (this.ledger.sum + (pfn | 0)) | 0;
    if (pfn === ZERO_PFN) this.ledger.zeroRefs++;
  }

  /** Single-page fast path of putRuns. */
  putPage(pfn: number): void {
    this.ledger.pages--;
    this.ledger.sum = (this.ledger.sum - (pfn | 0)) | 0;
    if (pfn === ZERO_PFN) this.ledger.zeroRefs--;
  }
}

/** Sum of all pfns of `r`, mod 2^32 (int32). */
function runsPfnSum(r: Runs): number {
  if (r.count === 1 && r.len === 1) return r.pfn | 0;
  const k = BigInt(r.count);
  const len = BigInt(r.len);
  const p0 = BigInt(r.pfn);
  const s = BigInt(r.stride);
  // sum_r sum_j (p0 + r*s + j) = k*len*p0 + len*s*k(k-1)/2 + k*len(len-1)/2
  return mod32(k * len * p0 + (len * s * k * (k - 1n)) / 2n + (k * len * (len - 1n)) / 2n);
}
