/**
 * Groups joining and leaving a type1 container (vfio_iommu_type1.c, 6.1):
 * vfio_iommu_type1_attach_group, vfio_iommu_replay, vfio_iommu_type1_detach_group,
 * vfio_iommu_unmap_unpin_all, vfio_iommu_unmap_unpin_reaccount, vfio_iommu_type1_release,
 * vfio_update_pgsize_bitmap, and [4.10-5.18] vfio_sanity_check_pfn_list. All run under `iommu->lock`.
 */
import { EBUSY, EINVAL, EIO, ENOMEM, EPERM } from '../util/errno.js';
import type { Kernel } from '../kernel/kernel.js';
import type { KGen } from '../kernel/sched.js';
import { point } from '../kernel/sched.js';
import { put_pfn } from './acct.js';
import { IommuDomain } from '../iommu/domain.js';
import type { IommuGroup } from '../iommu/group.js';
import type { Runs } from '../host/run.js';
import { runsPages } from '../host/run.js';
import { vfio_lock_acct } from './acct.js';
import { vfio_remove_dma, vfio_unmap_unpin } from './map.js';
import { vfio_pin_pages_remote, vfio_unpin_pages_remote } from './pin.js';
import {
  vfio_iommu_aper_conflict,
  vfio_iommu_aper_expand,
  vfio_iommu_aper_resize,
  vfio_iommu_resv_conflict,
  vfio_iommu_resv_exclude,
  vfio_iommu_resv_refresh,
} from './iova_list.js';
import type { VfioDomain, VfioIommu, VfioIommuGroup } from './vfio_iommu.js';
import { PAGE_MASK } from './vfio_iommu.js';

export type GroupType = 'VFIO_IOMMU' | 'VFIO_EMULATED_IOMMU' | 'VFIO_NO_IOMMU';

/** vfio_update_pgsize_bitmap() */
export function vfio_update_pgsize_bitmap(iommu: VfioIommu): void {
  let b = (1n << 64n) - 1n;
  for (const d of iommu.domain_list) b &= d.domain.hw.pgsizeBitmap;
  if (b & ~PAGE_MASK & ((1n << 64n) - 1n)) {
    b &= PAGE_MASK;
    b |= 4096n;
  }
  iommu.pgsize_bitmap = b;
}

export function vfio_iommu_find_iommu_group(iommu: VfioIommu, g: IommuGroup): VfioIommuGroup | undefined {
  // plain loops: this runs on every successful vendor pin
  for (let i = 0; i < iommu.domain_list.length; i++) {
    const x = findGroupIn(iommu.domain_list[i]!.group_list, g);
    if (x) return x;
  }
  return findGroupIn(iommu.emulated_iommu_groups, g);
}
function findGroupIn(list: readonly VfioIommuGroup[], g: IommuGroup): VfioIommuGroup | undefined {
  for (let i = 0; i < list.length; i++) if (list[i]!.iommu_group === g) return list[i];
  return undefined;
}

/** vfio_iommu_type1_attach_group(iommu, iommu_group, type) */
export function* vfio_iommu_type1_attach_group(k: Kernel, iommu: VfioIommu, g: IommuGroup, type: GroupType): KGen<number> {
  yield* iommu.lock.lock();
  const ret = yield* attach_locked(k, iommu, g, type);
  yield* iommu.lock.unlock();
  return ret;
}

function* attach_locked(k: Kernel, iommu: VfioIommu, g: IommuGroup, type: GroupType): KGen<number> {
  // Attach could require pinning, so disallow while vaddr is invalid.
  if (iommu.vaddr_invalid_count) return -EBUSY;
  if (vfio_iommu_find_iommu_group(iommu, g)) return -EINVAL;
  if (k.failNth('kzalloc(vfio_iommu_group)')) return -ENOMEM;
  const group: VfioIommuGroup = { iommu_group: g, pinned_page_dirty_scope: false };
  if (type === 'VFIO_EMULATED_IOMMU') {
    if (k.profile.mdevDomainUseAfterFree && iommu.emulated_iommu_groups.length > 0) {
      // v9: "else kfree(domain); list_add(&group->next, &domain->group_list);" on the freed domain
      k.violation('use_after_free', 'vfio_iommu_type1_attach_group: list_add() on the local domain just freed with kfree()');
      return 0;
    }
    iommu.emulated_iommu_groups.unshift(group);
    group.pinned_page_dirty_scope = true;
    return 0;
  }
  const hw = g.hw;
  if (!hw || k.failNth('iommu_domain_alloc')) return -EIO;
  const dom = new IommuDomain(hw, k.nextId('iommu_domain'));
  // iommu_enable_nesting(): -EINVAL when the IOMMU driver has no enable_nesting op (intel-iommu, 6.1)
  if (iommu.nesting && !hw.nesting) return -EINVAL;
  // iommu_attach_group(): cannot fail in the model beyond the checks above
  const apEnd = (1n << BigInt(hw.apertureBits)) - 1n;
  if (vfio_iommu_aper_conflict(iommu, 0n, apEnd)) return -EINVAL;
  const resv = g.resvRegions();
  if (vfio_iommu_resv_conflict(iommu, resv)) return -EINVAL;
  const sized = vfio_iommu_aper_resize(iommu.iova_list.map((n) => ({ ...n })), 0n, apEnd);
  const iova_copy = vfio_iommu_resv_exclude(sized, resv);
  if (typeof iova_copy === 'number') return iova_copy;

  if (!k.params.allow_unsafe_interrupts && !hw.intrRemap) {
    k.klog.pr_warn(
      'vfio_iommu_type1_attach_group: No interrupt remapping support.  Use the module param "allow_unsafe_interrupts" to enable VFIO IOMMU support on this platform',
    );
    return -EPERM;
  }
  const domain: VfioDomain = { domain: dom, group_list: [group], enforce_cache_coherency: hw.enforceCacheCoherency, fgsp: hw.fgsp };
  dom.groups.push(g);

  // Try to match an existing compatible domain (same IOMMU ops, same coherency).
  for (const d of iommu.domain_list) {
    if (d.domain.hw === hw && d.enforce_cache_coherency === domain.enforce_cache_coherency) {
      d.group_list.unshift(group);
      d.domain.groups.push(g);
      dom.freed = true;
      iommu.iova_list = iova_copy;
      iommu.num_non_pinned_groups++;
      return 0;
    }
  }
  const r = yield* vfio_iommu_replay(k, iommu, domain);
  if (r) {
    dom.freed = true;
    return r;
  }
  iommu.domain_list.unshift(domain);
  vfio_update_pgsize_bitmap(iommu);
  iommu.iova_list = iova_copy;
  iommu.num_non_pinned_groups++;
  return 0;
}

/**
 * vfio_iommu_replay(iommu, domain): map every dma into a new domain. dmas already mapped elsewhere
 * are copied from the first domain; the others (mdev-only history) are pinned now, charging only
 * pages without a vfio_pfn. On failure everything done here is undone (5.9+, aae7a75a821a).
 */
export function* vfio_iommu_replay(k: Kernel, iommu: VfioIommu, domain: VfioDomain): KGen<number> {
  const d = iommu.domain_list[0];
  const limit = k.current.process.memlockPages();
  const dom = domain.domain;
  let ret = 0;
  // the dma being replayed when it failed: the unwind starts there (rb_first/rb_next, then rb_prev)
  let n = iommu.dma_list.first();
  outer: for (; n; n = iommu.dma_list.next(n)) {
    const dma = n;
    let iova = dma.iova;
    const end = dma.iova + dma.size;
    while (iova < end) {
      let r: Runs;
      if (dma.iommu_mapped) {
        if (!d && !k.profile.replayUnwind) {
          // 4.10-5.8 took list_first_entry() of an empty domain_list: a bogus domain
          k.violation('use_after_free', 'vfio_iommu_replay: iommu_iova_to_phys() on list_first_entry() of an empty domain_list');
          ret = -EINVAL;
          break outer;
        }
        if (k.klog.WARN_ON(!d, 'vfio_iommu_replay:mapped_without_domain', 'vfio_iommu_replay')) {
          ret = -EINVAL;
          break outer;
        }
        const got = d!.domain.lookupRuns(iova, end - iova);
        if (!got) {
          k.klog.WARN_ON(true, 'vfio_iommu_replay:no_phys', 'vfio_iommu_replay');
          iova++;
          continue;
        }
        r = got;
      } else {
        const vaddr = dma.vaddr + (iova - dma.iova);
        const b = yield* vfio_pin_pages_remote(k, dma, vaddr, end - iova, limit);
        if (typeof b === 'number') {
          k.klog.WARN_ON(b === 0, 'vfio_iommu_replay:zero_pinned', 'vfio_iommu_replay');
          ret = b;
          break outer;
        }
        r = { start: iova, pfn: b.pfn, len: b.len, count: b.count, stride: b.stride };
      }
      const m = k.failNth('iommu_map') ? -ENOMEM : dom.iommu_map({ ...r, start: iova }, dma.prot);
      if (m) {
        if (!dma.iommu_mapped) yield* vfio_unpin_pages_remote(k, dma, iova, r, true);
        ret = m;
        break outer;
      }
      iova += runsPages(r);
    }
    // before 5.9 each dma was flagged as soon as it was replayed (no unwind later)
    if (!k.profile.replayUnwind) dma.iommu_mapped = true;
  }
  if (!ret) {
    for (const dma of iommu.dma_list) dma.iommu_mapped = true;
    return 0;
  }
  // unwind, from the failing dma back to the first
  if (!k.profile.replayUnwind) return ret;
  for (; n; n = iommu.dma_list.prev(n)) {
    const dma = n;
    if (dma.iommu_mapped) {
      dom.iommu_unmap(dma.iova, dma.size);
      continue;
    }
    let iova = dma.iova;
    const end = dma.iova + dma.size;
    while (iova < end) {
      const r = dom.lookupRuns(iova, end - iova);
      if (!r) {
        iova++;
        continue;
      }
      dom.iommu_unmap(iova, runsPages(r));
      yield* vfio_unpin_pages_remote(k, dma, iova, r, true);
      iova += runsPages(r);
    }
  }
  return ret;
}

/** vfio_iommu_unmap_unpin_all() */
export function* vfio_iommu_unmap_unpin_all(k: Kernel, iommu: VfioIommu): KGen<void> {
  for (let dma = iommu.dma_list.first(); dma; dma = iommu.dma_list.first()) yield* vfio_remove_dma(k, iommu, dma);
}

/**
 * vfio_iommu_unmap_unpin_reaccount(): the last IOMMU-backed domain goes while emulated groups
 * stay. Each dma drops its IOMMU pins and keeps charging only its non-reserved vfio_pfns, in one
 * net delta per dma (no window where the user could mlock into the gap).
 */
export function* vfio_iommu_unmap_unpin_reaccount(k: Kernel, iommu: VfioIommu): KGen<void> {
  if (k.profile.reaccountTwoStep) {
    // v9: uncharge every IOMMU pin first ...
    for (const dma of iommu.dma_list) yield* vfio_unmap_unpin(k, iommu, dma, true);
    if (k.locks.interleaving) yield point('vfio_iommu_unmap_unpin_reaccount: between uncharge and re-charge');
    // ... then re-charge every external pin (reserved or not) in a second, separate step
    for (const dma of iommu.dma_list) if (dma.pfn_list.size) yield* vfio_lock_acct(k, dma, dma.pfn_list.size, true);
    return;
  }
  for (const dma of iommu.dma_list) {
    const unlocked = yield* vfio_unmap_unpin(k, iommu, dma, false);
    let locked = 0;
    for (const v of dma.pfn_list.values()) if (!k.phys.isInvalidReserved(v.pfn)) locked++;
    yield* vfio_lock_acct(k, dma, locked - unlocked, true);
  }
}

/** vfio_iommu_type1_detach_group(iommu, iommu_group) */
export function* vfio_iommu_type1_detach_group(k: Kernel, iommu: VfioIommu, g: IommuGroup): KGen<void> {
  yield* iommu.lock.lock();
  let update_dirty_scope = false;
  done: {
    const ei = iommu.emulated_iommu_groups.findIndex((x) => x.iommu_group === g);
    if (ei >= 0) {
      update_dirty_scope = !iommu.emulated_iommu_groups[ei]!.pinned_page_dirty_scope;
      iommu.emulated_iommu_groups.splice(ei, 1);
      // [4.10-5.18] the external domain goes: WARN on pins or a notifier left behind
      if (iommu.emulated_iommu_groups.length === 0 && k.profile.dmaUnmapNotifier) vfio_sanity_check_pfn_list(k, iommu);
      if (iommu.emulated_iommu_groups.length === 0 && k.profile.unpinAllIgnoresRefcount) {
        // v9 vfio_local_unpin_all(): releases the page once per pin call, not once per vfio_pfn
        for (const dma of iommu.dma_list) {
          for (const v of [...dma.pfn_list.values()]) {
            if (v.ref_count > 1) k.violation('page_refcount_underflow', `vfio_local_unpin_all: put_page() ${v.ref_count} times on pfn ${v.pfn.toString(16)} pinned once`);
            for (let r = 0; r < v.ref_count; r++) put_pfn(k, v.pfn);
            dma.pfn_list.delete(v.key);
          }
        }
      }
      if (iommu.emulated_iommu_groups.length === 0 && iommu.domain_list.length === 0) {
        k.klog.WARN_ON(iommu.device_list.length > 0, 'vfio_iommu_type1_detach_group:device_list_not_empty', 'vfio_iommu_type1_detach_group');
        yield* vfio_iommu_unmap_unpin_all(k, iommu);
      }
      break done;
    }
    let iova_copy = iommu.iova_list.map((n) => ({ ...n }));
    for (let di = 0; di < iommu.domain_list.length; di++) {
      const domain = iommu.domain_list[di]!;
      const gi = domain.group_list.findIndex((x) => x.iommu_group === g);
      if (gi < 0) continue;
      update_dirty_scope = !domain.group_list[gi]!.pinned_page_dirty_scope;
      domain.group_list.splice(gi, 1);
      domain.domain.groups.splice(domain.domain.groups.indexOf(g), 1);
      if (domain.group_list.length === 0) {
        if (iommu.domain_list.length === 1) {
          if (iommu.emulated_iommu_groups.length === 0) {
            k.klog.WARN_ON(iommu.device_list.length > 0, 'vfio_iommu_type1_detach_group:device_list_not_empty', 'vfio_iommu_type1_detach_group');
            yield* vfio_iommu_unmap_unpin_all(k, iommu);
          } else {
            yield* vfio_iommu_unmap_unpin_reaccount(k, iommu);
          }
        }
        domain.domain.freed = true;
        iommu.domain_list.splice(di, 1);
        iova_copy = vfio_iommu_aper_expand(iommu, iova_copy);
        vfio_update_pgsize_bitmap(iommu);
      }
      break;
    }
    const refreshed = vfio_iommu_resv_refresh(iommu, iova_copy);
    if (typeof refreshed !== 'number') iommu.iova_list = refreshed;
  }
  if (update_dirty_scope) {
    iommu.num_non_pinned_groups--;
    if (iommu.dirty_page_tracking) for (const dma of iommu.dma_list) dma.bitmap?.add(0, dma.size);
  }
  yield* iommu.lock.unlock();
}

/**
 * [4.10-5.18] vfio_sanity_check_pfn_list(): when the last mdev group leaves (or the container is
 * released with one still attached), WARN once if any dma still has vendor pins and once if a
 * DMA-unmap notifier is still registered ("mdev vendor driver must unregister notifier"). Repairs
 * nothing.
 */
export function vfio_sanity_check_pfn_list(k: Kernel, iommu: VfioIommu): void {
  for (const dma of iommu.dma_list) {
    if (k.klog.WARN_ON(dma.pfn_list.size > 0, 'vfio_sanity_check_pfn_list:pfn_list_not_empty', 'vfio_sanity_check_pfn_list')) break;
  }
  k.klog.WARN_ON((iommu.notifier?.head ?? null) !== null, NOTIFIER_LEFT_REGISTERED, 'vfio_sanity_check_pfn_list');
}

/** The WARN name of a DMA-unmap notifier still registered when the last mdev group leaves. */
export const NOTIFIER_LEFT_REGISTERED = 'vfio_sanity_check_pfn_list:notifier_registered';

/** vfio_iommu_type1_release(): the container lost its last group. */
export function* vfio_iommu_type1_release(k: Kernel, iommu: VfioIommu): KGen<void> {
  if (iommu.emulated_iommu_groups.length && k.profile.dmaUnmapNotifier) vfio_sanity_check_pfn_list(k, iommu);
  iommu.emulated_iommu_groups.length = 0;
  yield* vfio_iommu_unmap_unpin_all(k, iommu);
  for (const d of iommu.domain_list) d.domain.freed = true;
  iommu.domain_list.length = 0;
  iommu.iova_list = [];
  iommu.released = true;
}
