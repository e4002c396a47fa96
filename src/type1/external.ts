/**
 * The vendor-driver side of type1 (vfio_iommu_type1.c, 6.1, and the 4.10-5.18 `user_pfn` forms): vfio_iommu_type1_pin_pages,
 * vfio_iommu_type1_unpin_pages, vfio_iommu_type1_dma_rw, vfio_pin_page_external,
 * vfio_unpin_page_external. All under `iommu->lock`.
 *
 * External pins are charged only when the container has no IOMMU-backed domain
 * (`do_accounting`), and one host page reference is held per vfio_pfn however often the IOVA is
 * pinned. IOVAs are byte addresses here: a pin at an unaligned IOVA gets a vfio_pfn of its own
 * (and so a second charge for the same page), as the measured kernel does.
 */
import { EACCES, EBUSY, EFAULT, EINVAL, ENODEV, ENOMEM, EPERM } from '../util/errno.js';
import type { Kernel } from '../kernel/kernel.js';
import type { KGen } from '../kernel/sched.js';
import { andThen, andThenPath, done, eachPath, Finished } from '../kernel/sched.js';
import { IOMMU_READ, IOMMU_WRITE } from '../uapi/vfio.js';
import type { IommuGroup } from '../iommu/group.js';
import { lockCap, put_pfn, vfio_lock_acct } from './acct.js';
import { vfio_find_dma } from './dma_list.js';
import { vaddr_get_pfns } from './pin.js';
import type { VfioDma, VfioIommu, VfioPfn, VpfnKey } from './vfio_iommu.js';
import { vpfnKey } from './vfio_iommu.js';
import { vfio_iommu_find_iommu_group } from './attach.js';

/** A byte IOVA split into page and offset (u64 safe). */
export interface Iova {
  page: number;
  off: number;
}

export function iovaOf(b: bigint): Iova {
  // One conversion and no intermediate bigints when exact: Number() rounds monotonically, so a
  // result in [0, 2^53) comes from exactly that value.
  const n = Number(b);
  if (n >= 0 && n <= Number.MAX_SAFE_INTEGER) {
    const off = n % 4096;
    return { page: (n - off) / 4096, off };
  }
  return { page: Number(b >> 12n), off: Number(b & 0xfffn) };
}

/**
 * vfio_find_dma(iommu, iova, PAGE_SIZE) for a byte IOVA; [4.10-rc] (pinLookupSizeZero) size 0.
 * The two differ only when the dma found begins at or after the IOVA's page, so the switch is
 * read only then (this runs on every vendor pin and unpin).
 */
function findDmaPage(k: Kernel, iommu: VfioIommu, a: Iova): VfioDma | undefined {
  const d = vfio_find_dma(iommu, a.page, a.off ? 2 : 1);
  if (d !== undefined && d.iova >= a.page && k.profile.pinLookupSizeZero) return findDmaSizeZero(iommu, a);
  return d;
}
/**
 * [4.10-rc] vfio_find_dma(iommu, iova, 0): only a dma that contains the IOVA's byte and does not
 * begin there (dma bounds are page aligned: an unaligned IOVA is found in the dma that holds its page).
 */
function findDmaSizeZero(iommu: VfioIommu, a: Iova): VfioDma | undefined {
  return vfio_find_dma(iommu, a.page, a.off ? 1 : 0);
}

/**
 * vfio_pin_page_external(): GUP one page in the dma owner's mm and maybe charge it. On every
 * vendor pin, so not a generator of its own: GUP is a `read_locked` section of mmap_lock, and
 * the rest continues after it (`andThenPath`); both take module-level functions, no closures.
 */
function vfio_pin_page_external(k: Kernel, dma: VfioDma, vaddrPage: number, do_accounting: boolean): KGen<number> {
  const mm = dma.mm;
  if (!mm.alive) return done(-ENODEV);
  return andThenPath(mm.mmap_lock.read_locked(gup_one, k, dma, vaddrPage), charge_page_external, k, dma, do_accounting);
}

/**
 * vaddr_get_pfns(mm, vaddr, 1, dma->prot, &pfn), mmap_lock held for read: the pfn, or -errno.
 * The caller reads nothing of the batch but its pfn, and returning only that lets V8 drop the
 * batch object (on every vendor pin).
 */
function gup_one(k: Kernel, dma: VfioDma, vaddrPage: number): number {
  const g = vaddr_get_pfns(k, dma.mm, vaddrPage, 1, dma.prot);
  return typeof g === 'number' ? g : g.pfn;
}

/** vfio_pin_page_external() after GUP (`pfn` or -errno), mmap_lock dropped: check the limit (4.10) and charge the page. */
function charge_page_external(pfn: number, k: Kernel, dma: VfioDma, do_accounting: boolean): KGen<number> {
  if (pfn < 0) return done(pfn);
  if (k.profile.lockAcctDeferred && do_accounting && !k.phys.isInvalidReserved(pfn) && !lockCap(k, dma)) {
    // 4.10: the caller checks the limit against locked_vm (read without mmap_sem), then accounts
    const limit = dma.task.process.memlockPages();
    if (dma.mm.locked_vm + 1 > limit) {
      put_pfn(k, pfn);
      k.klog.pr_warn(`vfio_pin_page_external: RLIMIT_MEMLOCK (${BigInt(limit) << 12n}) exceeded`);
      return done(-ENOMEM);
    }
  }
  if (do_accounting && !k.phys.isInvalidReserved(pfn)) {
    const p = vfio_lock_acct(k, dma, 1, false);
    return p instanceof Finished ? done(charged_page(p.value, k, dma, pfn)) : andThen(p, charged_page, k, dma, pfn);
  }
  return done(pfn);
}

/** vfio_pin_page_external() after vfio_lock_acct(): the pfn, or drop the page again. */
function charged_page(ret: number, k: Kernel, dma: VfioDma, pfn: number): number {
  if (!ret) return pfn;
  put_pfn(k, pfn);
  if (ret === -ENOMEM) {
    const t = dma.task;
    k.klog.pr_warn(`vfio_pin_page_external: Task ${t.comm} (${t.pid}) RLIMIT_MEMLOCK (${t.process.memlock}) exceeded`);
  }
  return ret;
}

const UNLOCKED = [done(0), done(1)] as const;

/**
 * vfio_unpin_page_external(): drop one pin of `key`; release and uncharge at ref 0. On every
 * vendor unpin, so not a generator of its own (`andThen` after the uncharge).
 */
function vfio_unpin_page_external(k: Kernel, dma: VfioDma, a: Iova, do_accounting: boolean): KGen<number> {
  const key = vpfnKey(a.page, a.off);
  const vpfn = dma.pfn_list.get(key);
  if (!vpfn) return UNLOCKED[0];
  let unlocked: 0 | 1 = 0;
  if (--vpfn.ref_count === 0) {
    unlocked = put_pfn(k, vpfn.pfn);
    // vfio_remove_from_pfn_list(): rb_erase and kfree
    dma.pfn_list.delete(key);
    k.vfio_pfn_cache.put(vpfn);
  }
  if (do_accounting && unlocked) {
    const p = vfio_lock_acct(k, dma, -unlocked, true);
    return p instanceof Finished ? done(oneUnlocked()) : andThen(p, oneUnlocked);
  }
  return UNLOCKED[unlocked];
}
/** vfio_unpin_page_external() after the uncharge: one page unlocked, whatever vfio_lock_acct said. */
function oneUnlocked(): 1 {
  return 1;
}

/** `a` plus `pages` pages (the later entries of a pin or unpin call; entry 0 is `a` itself). */
export function addIova(a: Iova, pages: number): Iova {
  // Iova values are never modified: the first page reuses the caller's
  return pages === 0 ? a : { page: a.page + pages, off: a.off };
}

/**
 * vfio_iommu_type1_pin_pages(iommu, iommu_group, user_iova, npage, prot, pages): npage or -errno.
 * `pages` is the caller's array (struct page *pages[npage], as pfns): entry i gets the pfn pinned
 * for IOVA page i, and a failed call leaves 0 (NULL) in the entries it had set.
 */
export function vfio_iommu_type1_pin_pages(k: Kernel, iommu: VfioIommu, g: IommuGroup, user_iova: Iova, npage: number, prot: number, pages: number[]): KGen<number> {
  return pin_pages(k, iommu, g, user_iova, null, npage, prot, pages);
}

/**
 * [4.10-5.18] vfio_iommu_type1_pin_pages(iommu, user_pfn, npage, prot, phys_pfn): the same walk
 * over an arbitrary list of IOVA page numbers (`user_pfn[i]` = IOVA >> PAGE_SHIFT), the pfns
 * going to the caller's `phys_pfn`.
 */
export function vfio_iommu_type1_pin_pages_pfns(k: Kernel, iommu: VfioIommu, g: IommuGroup, user_pfn: readonly number[], npage: number, prot: number, phys_pfn: number[]): KGen<number> {
  return pin_pages(k, iommu, g, null, user_pfn, npage, prot, phys_pfn);
}

/** Entry `i` of a pin or unpin call: `user_iova` plus i pages, or (4.10-5.18) `user_pfn[i]`. */
function entryIova(user_iova: Iova | null, user_pfn: readonly number[] | null, i: number): Iova {
  return user_pfn === null ? addIova(user_iova!, i) : { page: user_pfn[i]!, off: 0 };
}

/**
 * A pin walk: what vfio_iommu_type1_pin_pages keeps in its locals. Entry `i` of the call is
 * `entryIova(user_iova, user_pfn, i)`.
 */
interface PinWalk {
  readonly k: Kernel;
  readonly iommu: VfioIommu;
  readonly g: IommuGroup;
  readonly user_iova: Iova | null;
  readonly user_pfn: readonly number[] | null;
  readonly npage: number;
  readonly prot: number;
  do_accounting: boolean;
  /** the caller's pages[] (phys_pfn[]), as pfns */
  readonly pages: number[];
  /** the errno that stopped the walk */
  ret: number;
}

/**
 * The pin walk shared by both API forms. On every vendor pin, so it is written as a chain of
 * small functions joined by path combinators (`Mutex.locked`, `eachPath`, `andThenPath`) rather
 * than as one generator: a generator here cost about 90 ns and 0.7 KB per call straight through.
 * Read it as the kernel function split at its loop: pin_pages_locked is the body under
 * iommu->lock, pin_entry one iteration, add_vpfn the rest of an iteration after GUP, pin_done
 * the code after the loop (including pin_unwind).
 */
function pin_pages(k: Kernel, iommu: VfioIommu, g: IommuGroup, user_iova: Iova | null, user_pfn: readonly number[] | null, npage: number, prot: number, pages: number[]): KGen<number> {
  if (!iommu.v2) return done(-EACCES);
  const w: PinWalk = { k, iommu, g, user_iova, user_pfn, npage, prot, do_accounting: false, pages, ret: 0 };
  return iommu.lock.locked(pin_pages_locked, w);
}

/** vfio_iommu_type1_pin_pages() with iommu->lock held: the checks, then the loop over the entries. */
function pin_pages_locked(w: PinWalk): KGen<number> {
  const { k, iommu } = w;
  if (iommu.vaddr_invalid_count) {
    k.klog.WARN_ON(true, 'vfio_pin_pages:vaddr_invalid', 'vfio_iommu_type1_pin_pages');
    return done(-EBUSY);
  }
  // [4.10-5.7] no external_domain: no mdev group in this container
  if (k.profile.pinNeedsExternalDomain && iommu.emulated_iommu_groups.length === 0) return done(-EINVAL);
  // Fail if no dma_unmap callback is registered ([4.10-5.18]: if the notifier list is empty)
  if (iommu.notifier ? iommu.notifier.head === null : iommu.device_list.length === 0) return done(-EINVAL);
  w.do_accounting = iommu.domain_list.length === 0;
  return andThenPath(eachPath(0, w.npage, pin_entry, w), pin_done, w);
}

/** One iteration: find the entry's dma, check prot, take a ref on its vfio_pfn or pin the page. */
function pin_entry(i: number, w: PinWalk): KGen<boolean> {
  const iova = entryIova(w.user_iova, w.user_pfn, i);
  const dma = findDmaPage(w.k, w.iommu, iova);
  if (!dma) return stop(w, -EINVAL);
  if ((dma.prot & w.prot) !== w.prot) return stop(w, -EPERM);
  const have = dma.pfn_list.get(vpfnKey(iova.page, iova.off));
  if (have) {
    have.ref_count++;
    w.pages[i] = have.pfn;
    return NEXT;
  }
  // remote_vaddr = dma->vaddr + (iova - dma->iova): same page offset as the IOVA
  const vaddrPage = dma.vaddr + (iova.page - dma.iova);
  const p = vfio_pin_page_external(w.k, dma, vaddrPage, w.do_accounting);
  return p instanceof Finished ? add_vpfn(p.value, w, i, dma, iova) : andThenPath(p, add_vpfn, w, i, dma, iova);
}

/** The iteration after vfio_pin_page_external() returned `p` (a pfn or -errno): vfio_add_to_pfn_list(). */
function add_vpfn(p: number, w: PinWalk, i: number, dma: VfioDma, iova: Iova): KGen<boolean> {
  const k = w.k;
  if (p < 0) return stop(w, p);
  if (k.profile.pinApiStructPage && !k.phys.pfnValid(p)) return stop(w, -EINVAL);
  if (k.failNth('kzalloc(vfio_pfn)')) return vpfn_alloc_failed(w, dma, p);
  const key = vpfnKey(iova.page, iova.off);
  dma.pfn_list.set(key, vfio_pfn_alloc(k, key, iova.page, p));
  w.pages[i] = p;
  if (w.iommu.dirty_page_tracking && dma.bitmap) dma.bitmap.add(iova.page - dma.iova, iova.page - dma.iova + 1);
  return NEXT;
}

/** vfio_add_to_pfn_list() could not allocate: -ENOMEM, and the page just pinned is released again. */
function vpfn_alloc_failed(w: PinWalk, dma: VfioDma, p: number): KGen<boolean> {
  const k = w.k;
  w.ret = -ENOMEM;
  // before 5.10 the unwind looked for the vfio_pfn it had failed to add: the page leaked
  if (!k.profile.pinUnwindLeak && put_pfn(k, p) && w.do_accounting) return andThen(vfio_lock_acct(k, dma, -1, true), stopAfter);
  return STOP;
}

/** kzalloc(sizeof(struct vfio_pfn)) with the fields vfio_add_to_pfn_list sets: ref_count 1. */
function vfio_pfn_alloc(k: Kernel, key: VpfnKey, iovaPage: number, pfn: number): VfioPfn {
  const v = k.vfio_pfn_cache.take();
  if (v === undefined) return { key, iovaPage, pfn, ref_count: 1 };
  v.key = key;
  v.iovaPage = iovaPage;
  v.pfn = pfn;
  v.ref_count = 1;
  return v;
}

/** After the loop stopped at entry `i`: all pinned (mark the group's dirty scope), or pin_unwind. */
function pin_done(i: number, w: PinWalk): KGen<number> {
  if (i === w.npage) {
    const group = vfio_iommu_find_iommu_group(w.iommu, w.g);
    if (group && !group.pinned_page_dirty_scope) {
      group.pinned_page_dirty_scope = true;
      w.iommu.num_non_pinned_groups--;
    }
    return done(i);
  }
  // pin_unwind: drop the pins of entries 0..i-1 again
  w.pages[i] = 0;
  return andThen(eachPath(0, i, unwind_entry, w), unwound, w);
}

/** pin_unwind, entry `j`: vfio_unpin_page_external() if its dma is still there. */
function unwind_entry(j: number, w: PinWalk): KGen<boolean> {
  const iova = entryIova(w.user_iova, w.user_pfn, j);
  const dma = findDmaPage(w.k, w.iommu, iova);
  w.pages[j] = 0;
  if (!dma) return NEXT;
  return andThen(vfio_unpin_page_external(w.k, dma, iova, w.do_accounting), goOn);
}

function unwound(_: number, w: PinWalk): number {
  return w.ret;
}

const NEXT = done(true);
const STOP = done(false);
function stop(w: PinWalk, errno: number): KGen<boolean> {
  w.ret = errno;
  return STOP;
}
function stopAfter(): boolean {
  return false;
}
function goOn(): boolean {
  return true;
}

/**
 * vfio_iommu_type1_unpin_pages(iommu, user_iova, npage): void; stops at the first unmapped IOVA.
 * On every vendor unpin: path combinators, as pin_pages (unpin_locked is the body under
 * iommu->lock, unpin_entry one iteration, unpinned the code after the loop).
 */
export function vfio_iommu_type1_unpin_pages(k: Kernel, iommu: VfioIommu, user_iova: Iova, npage: number): KGen<void> {
  if (k.klog.WARN_ON(!iommu.v2, 'vfio_unpin_pages:not_v2', 'vfio_iommu_type1_unpin_pages')) return RETURNED;
  const p = iommu.lock.locked(unpin_locked, k, iommu, user_iova, npage);
  return p instanceof Finished ? done(unpinned(p.value, k, npage)) : andThen(p, unpinned, k, npage);
}
function unpin_locked(k: Kernel, iommu: VfioIommu, user_iova: Iova, npage: number): KGen<number> {
  return eachPath(0, npage, unpin_entry, k, iommu, user_iova, iommu.domain_list.length === 0);
}
function unpin_entry(i: number, k: Kernel, iommu: VfioIommu, user_iova: Iova, do_accounting: boolean): KGen<boolean> {
  const iova = addIova(user_iova, i);
  const dma = findDmaPage(k, iommu, iova);
  if (!dma) return STOP;
  const p = vfio_unpin_page_external(k, dma, iova, do_accounting);
  return p instanceof Finished ? done(goOn()) : andThen(p, goOn);
}
function unpinned(i: number, k: Kernel, npage: number): void {
  k.klog.WARN_ON(i !== npage, 'vfio_unpin_pages:short', 'vfio_iommu_type1_unpin_pages');
}
const RETURNED = done(undefined);

/**
 * [4.10-5.18] vfio_iommu_type1_unpin_pages(iommu, user_pfn, npage): stops at the first entry with
 * no dma (later entries untouched) and returns, in 4.10, the pages released (unpinReturnsReleased),
 * else the entries processed (-EINVAL if none). `walked` (model only) receives the entries processed.
 */
export function* vfio_iommu_type1_unpin_pages_pfns(k: Kernel, iommu: VfioIommu, user_pfn: readonly number[], npage: number, walked?: { n: number }): KGen<number> {
  if (!iommu.v2) return -EACCES;
  yield* iommu.lock.lock();
  if (k.profile.pinNeedsExternalDomain && iommu.emulated_iommu_groups.length === 0) {
    yield* iommu.lock.unlock();
    return -EINVAL;
  }
  const do_accounting = iommu.domain_list.length === 0;
  let unlocked = 0;
  let i = 0;
  for (; i < npage; i++) {
    const iova: Iova = { page: user_pfn[i]!, off: 0 };
    const dma = findDmaPage(k, iommu, iova);
    if (!dma) break;
    unlocked += yield* vfio_unpin_page_external(k, dma, iova, do_accounting);
  }
  yield* iommu.lock.unlock();
  if (walked) walked.n = i;
  if (k.profile.unpinReturnsReleased) return unlocked;
  return i > 0 ? i : -EINVAL;
}

/**
 * vfio_iommu_type1_dma_rw(iommu, iova, data, count, write): copy through the owner's mm in
 * chunks bounded by each dma. The model moves no bytes; it checks access and marks dirty pages.
 */
export function* vfio_iommu_type1_dma_rw(k: Kernel, iommu: VfioIommu, user_iova: bigint, count: bigint, write: boolean): KGen<number> {
  yield* iommu.lock.lock();
  let ret = 0;
  if (iommu.vaddr_invalid_count) {
    k.klog.WARN_ON(true, 'vfio_dma_rw:vaddr_invalid', 'vfio_iommu_type1_dma_rw');
    ret = -EBUSY;
  }
  let iova = user_iova;
  let left = count;
  while (!ret && left > 0n) {
    const a = iovaOf(iova);
    const dma = vfio_find_dma(iommu, a.page, 1);
    if (!dma) {
      ret = -EINVAL;
      break;
    }
    if ((write && !(dma.prot & IOMMU_WRITE)) || !(dma.prot & IOMMU_READ)) {
      ret = -EPERM;
      break;
    }
    const mm = dma.mm;
    if (!mm.alive) {
      ret = -EPERM;
      break;
    }
    const cur = k.current.mm;
    if (cur !== null && cur !== mm) {
      ret = -EFAULT;
      break;
    }
    const offset = iova - (BigInt(dma.iova) << 12n);
    const room = (BigInt(dma.size) << 12n) - offset;
    const n = left < room ? left : room;
    // copy_{to,from}_user over [vaddr+offset, +n): every page must be mapped with the right access
    const firstV = dma.vaddr + Number(offset >> 12n);
    const lastV = dma.vaddr + Number((offset + n - 1n) >> 12n);
    for (let v = firstV; v <= lastV; ) {
      const vma = mm.findVma(v);
      if (!vma || vma.pfnmap || (write ? !vma.write : !vma.read)) {
        ret = -EFAULT;
        break;
      }
      if (write) mm.populate(vma, v, Math.min(lastV + 1, vma.start + vma.npages) - v);
      v = vma.start + vma.npages;
    }
    if (ret) break;
    if (write && iommu.dirty_page_tracking && dma.bitmap) {
      const first = Number(offset >> 12n);
      const last = Number((offset + n - 1n) >> 12n);
      dma.bitmap.add(first, last + 1);
    }
    left -= n;
    iova += n;
  }
  yield* iommu.lock.unlock();
  return ret;
}
