/**
 * `struct mm_struct`: a process address space as VFIO sees it.
 *
 * State (guarded by `mmap_lock` in the kernel; in the model the VMA list is only changed by
 * syscalls of the owning process, and `locked_vm` is changed under `mmap_lock` held for write):
 *   - `vmas`: sorted, non-overlapping `Vma`s, page-granular (`start`, `npages` in 4 KiB pages);
 *   - `locked_vm`: pages charged by mlock() and by VFIO type1 (`vfio_lock_acct`);
 *   - `pinned_vm`: pages charged by FOLL_LONGTERM users that use it (RDMA, iommufd); type1 never
 *     touches it, which the measured kernel confirms (VmPin stays 0).
 * Anonymous memory is "populated" in `Runs` (see run.ts); untouched pages fault on write and
 * resolve to the shared zero page on read.
 */
import { EFAULT, ENOMEM, EPERM, EINVAL } from '../util/errno.js';
import type { LockDomain } from '../kernel/locks.js';
import { RwSem } from '../kernel/locks.js';
import type { PhysMem } from './physmem.js';
import { ZERO_PFN } from './physmem.js';
import type { Runs } from './run.js';
import { firstSlice, pfnAt, runsEnd, sliceRuns } from './run.js';

/** The first populated run containing `vpage` (`pop.find(...)` without a closure). */
function popAt(pop: readonly Runs[], vpage: number): Runs | undefined {
  for (let i = 0; i < pop.length; i++) {
    const x = pop[i] as Runs;
    if (vpage >= x.start && vpage < runsEnd(x)) return x;
  }
  return undefined;
}

export type Backing = '4k' | 'thp' | 'hugetlb-2M' | 'hugetlb-1G';

export const BACKING_GRANULE: Readonly<Record<Backing, number>> = {
  '4k': 1,
  thp: 512,
  'hugetlb-2M': 512,
  'hugetlb-1G': 262144,
};

export interface Vma {
  start: number;
  npages: number;
  read: boolean;
  write: boolean;
  /** VM_PFNMAP: MMIO mapped with remap_pfn_range (a device BAR). */
  pfnmap: boolean;
  /** VM_LOCKED (mlock). */
  locked: boolean;
  backing: Backing;
  contiguous: boolean;
  /** Anonymous: populated runs, sorted by `start`. */
  pop: Runs[];
  /** VM_PFNMAP: pfn of `start`. */
  mmioPfn: number;
  /** What the scenario called it (buffer name), for traces. */
  label: string;
}

/** Result of get_user_pages over a range: runs of pages with one reservedness. */
export interface GupBatch extends Runs {
  readonly reserved: boolean;
}

/** GUP's batch for the one page `vpage` of the populated run `r` (one allocation). */
function onePage(r: Runs, vpage: number): GupBatch {
  return { start: vpage, pfn: pfnAt(r, vpage), len: 1, count: 1, stride: 1, reserved: false };
}

export class Mm {
  vmas: Vma[] = [];
  private lockedPages = 0;
  /** The highest locked_vm ever reached, including charges a failing call rolled back. */
  peakLockedVm = 0;
  get locked_vm(): number {
    return this.lockedPages;
  }
  set locked_vm(v: number) {
    this.lockedPages = v;
    if (v > this.peakLockedVm) this.peakLockedVm = v;
  }
  pinned_vm = 0;
  /** mm_users > 0: the address space is alive (get_task_mm() succeeds). */
  alive = true;
  readonly mmap_lock: RwSem;

  constructor(
    readonly phys: PhysMem,
    dom: LockDomain,
    readonly owner: string,
  ) {
    this.mmap_lock = new RwSem(`mmap_lock[${owner}]`, dom);
  }

  findVma(vpage: number): Vma | undefined {
    const v = this.vmas;
    let lo = 0;
    let hi = v.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const m = v[mid]!;
      if (vpage < m.start) hi = mid - 1;
      else if (vpage >= m.start + m.npages) lo = mid + 1;
      else return m;
    }
    return undefined;
  }

  /** Is [start, start+n) entirely covered by VMAs? */
  covered(start: number, n: number): boolean {
    let p = start;
    const end = start + n;
    while (p < end) {
      const v = this.findVma(p);
      if (!v) return false;
      p = v.start + v.npages;
    }
    return true;
  }

  insertVma(vma: Vma): void {
    const i = this.vmas.findIndex((v) => v.start > vma.start);
    if (i < 0) this.vmas.push(vma);
    else this.vmas.splice(i, 0, vma);
  }

  /** Split VMAs so that `at` is a VMA boundary. */
  private splitAt(at: number): void {
    const v = this.findVma(at);
    if (!v || v.start === at) return;
    const left = at - v.start;
    const right: Vma = {
      ...v,
      start: at,
      npages: v.npages - left,
      pop: v.pop.flatMap((r) => sliceRuns(r, at, v.start + v.npages)),
      mmioPfn: v.pfnmap ? v.mmioPfn + left : 0,
    };
    v.pop = v.pop.flatMap((r) => sliceRuns(r, v.start, at));
    v.npages = left;
    this.insertVma(right);
  }

  /** VMAs fully inside [start, start+n) after splitting at both ends. */
  private carve(start: number, n: number): Vma[] {
    this.splitAt(start);
    this.splitAt(start + n);
    return this.vmas.filter((v) => v.start >= start && v.start + v.npages <= start + n);
  }

  /** munmap(): drop VMAs in the range; pinned frames stay referenced by their pinners. */
  munmap(start: number, n: number): number {
    if (n <= 0) return -EINVAL;
    const gone = this.carve(start, n);
    for (const v of gone) if (v.locked) this.locked_vm -= v.npages;
    this.vmas = this.vmas.filter((v) => !gone.includes(v));
    return 0;
  }

  /** End of the mapped run that starts at `start`, capped at start + n (start itself if unmapped). */
  private mappedEnd(start: number, n: number): number {
    let p = start;
    const end = start + n;
    while (p < end) {
      const v = this.findVma(p);
      if (!v) break;
      p = v.start + v.npages;
    }
    return Math.min(p, end);
  }

  /**
   * mlock() (mm/mlock.c do_mlock): -EPERM without CAP_IPC_LOCK and a zero limit; the limit test
   * counts the whole length (minus pages already locked); apply_vma_lock_flags() then locks vma
   * after vma and stops with -ENOMEM at the first hole, keeping what it locked before it (measured
   * on 6.1.192); pages already locked are not counted again; populates the range.
   * mlock_fixup() leaves VM_SPECIAL (VM_IO/VM_PFNMAP: device BARs) and hugetlb vmas alone: they do
   * not become VM_LOCKED and are not counted in locked_vm, although the limit test counted them.
   */
  mlock(start: number, n: number, limitPages: number, capIpcLock: boolean): number {
    if (!capIpcLock && limitPages === 0) return -EPERM;
    let already = 0;
    for (const v of this.vmas) {
      const a = Math.max(v.start, start);
      const b = Math.min(v.start + v.npages, start + n);
      if (a < b && v.locked) already += b - a;
    }
    if (!capIpcLock && this.locked_vm + n - already > limitPages) return -ENOMEM;
    const upTo = this.mappedEnd(start, n);
    if (upTo === start) return -ENOMEM;
    for (const v of this.carve(start, upTo - start)) {
      const hugetlb = v.backing === 'hugetlb-2M' || v.backing === 'hugetlb-1G';
      if (!v.locked && !v.pfnmap && !hugetlb) {
        v.locked = true;
        this.locked_vm += v.npages;
      }
    }
    // a hole: apply_vma_lock_flags() fails before __mm_populate() runs
    if (upTo < start + n) return -ENOMEM;
    for (const v of this.vmas) if (v.start >= start && v.start + v.npages <= start + n && !v.pfnmap && v.write) this.populate(v, v.start, v.npages);
    // __mm_populate(): GUP without FOLL_FORCE fails on PROT_NONE; the vmas stay locked and
    // counted, and the error becomes ENOMEM (__mlock_posix_error_return)
    if (this.vmas.some((v) => !v.pfnmap && !v.read && !v.write && v.start < start + n && v.start + v.npages > start)) return -ENOMEM;
    return 0;
  }

  /** munlock(): unlocks vma after vma up to the first hole, which is -ENOMEM (apply_vma_lock_flags). */
  munlock(start: number, n: number): number {
    const upTo = this.mappedEnd(start, n);
    if (upTo === start) return -ENOMEM;
    for (const v of this.carve(start, upTo - start)) {
      if (v.locked) {
        v.locked = false;
        this.locked_vm -= v.npages;
      }
    }
    return upTo < start + n ? -ENOMEM : 0;
  }

  /** Fault in [from, from+n) of an anonymous VMA (write fault: real frames). */
  populate(v: Vma, from: number, n: number): void {
    const g = BACKING_GRANULE[v.backing];
    // whole granules, relative to the VMA start (mmap aligns VMAs to their backing page size)
    const a = v.start + Math.floor((from - v.start) / g) * g;
    const b = Math.min(v.start + v.npages, v.start + Math.ceil((from + n - v.start) / g) * g);
    let p = a;
    const added: Runs[] = [];
    for (const r of v.pop) {
      if (runsEnd(r) <= p || r.start >= b) continue;
      if (r.start > p) added.push(this.phys.allocRam(p, r.start - p, g, v.contiguous));
      p = Math.max(p, runsEnd(r));
    }
    if (p < b) added.push(this.phys.allocRam(p, b - p, g, v.contiguous));
    if (added.length) v.pop = [...v.pop, ...added].sort((x, y) => x.start - y.start);
  }

  /**
   * get_user_pages / pin_user_pages over [vpage, vpage+max) in this mm: the first pages that share
   * one vma, one populated run and one reservedness, as a batch of runs. Errors are negative errno:
   * no vma or no permission -> -EFAULT (the caller then tries the VM_PFNMAP path, see `followPfn`).
   */
  gup(vpage: number, max: number, write: boolean): GupBatch | number {
    const v = this.findVma(vpage);
    if (!v || v.pfnmap) return -EFAULT;
    if (write ? !v.write : !v.read) return -EFAULT;
    const limit = Math.min(max, v.start + v.npages - vpage);
    const r = popAt(v.pop, vpage);
    // one populated page (a vendor pin): the page itself, in one allocation
    if (r && limit === 1) return onePage(r, vpage);
    return this.gupBatch(v, r, vpage, limit, write);
  }

  /** gup() past the one-page case, kept out of it (the vendor pin path inlines gup). */
  private gupBatch(v: Vma, populated: Runs | undefined, vpage: number, limit: number, write: boolean): GupBatch | number {
    let r = populated;
    if (!r) {
      const hugetlb = v.backing === 'hugetlb-2M' || v.backing === 'hugetlb-1G';
      if (!write && !hugetlb) {
        // read fault on untouched anonymous memory: the shared zero page, page after page
        const next = v.pop.find((x) => x.start > vpage);
        const n = Math.min(limit, (next ? next.start : v.start + v.npages) - vpage);
        return { start: vpage, pfn: ZERO_PFN, len: 1, count: n, stride: 0, reserved: this.phys.isInvalidReserved(ZERO_PFN) };
      }
      this.populate(v, vpage, limit);
      r = popAt(v.pop, vpage);
      if (!r) return -EFAULT;
      if (limit === 1) return onePage(r, vpage);
    }
    // sliceRuns puts a partial first run alone in front of the whole runs
    const first = firstSlice(r, vpage, vpage + limit);
    if (!first) return -EFAULT;
    // spelled out: `{ ...first, reserved: false }` takes V8's slow path (~0.7 µs per call)
    return { start: first.start, pfn: first.pfn, len: first.len, count: first.count, stride: first.stride, reserved: false };
  }

  /**
   * The VM_PFNMAP fallback of vaddr_get_pfns (follow_fault_pfn): the pfn behind `vpage` in a
   * PFNMAP vma, and how many following pages continue it linearly inside that vma.
   */
  followPfn(vpage: number, max: number, write: boolean): GupBatch | number {
    const v = this.findVma(vpage);
    if (!v?.pfnmap) return -EFAULT;
    if (write && !v.write) return -EFAULT;
    const n = Math.min(max, v.start + v.npages - vpage);
    const pfn = v.mmioPfn + (vpage - v.start);
    return { start: vpage, pfn, len: n, count: 1, stride: n, reserved: this.phys.isInvalidReserved(pfn) };
  }
}
