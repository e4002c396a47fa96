/**
 * The vendor-driver API of vfio core (vfio_main.c, 6.1): vfio_pin_pages, vfio_unpin_pages,
 * vfio_dma_rw. Checks in kernel order, then forwarded to the container's IOMMU driver.
 *
 * [4.10-5.18] (vfio.c; profile switches pinApiUserPfn, dmaUnmapNotifier): the `user_pfn` forms
 * vfio_pin_pages_user_pfn / vfio_unpin_pages_user_pfn, and vfio_register_notifier /
 * vfio_unregister_notifier. These take a container user and `group_lock` for read around the call
 * into the IOMMU driver instead of requiring an open device.
 */
import { E2BIG, EINVAL, ENODEV, ENOTTY, EPERM } from '../util/errno.js';
import type { Kernel } from '../kernel/kernel.js';
import type { KGen } from '../kernel/sched.js';
import { done } from '../kernel/sched.js';
import { VFIO_GROUP_NOTIFY, VFIO_GROUP_NOTIFY_SET_KVM, VFIO_IOMMU_NOTIFY, VFIO_PIN_PAGES_MAX_ENTRIES } from '../uapi/vfio.js';
import type { Iova } from '../type1/external.js';
import {
  vfio_iommu_type1_dma_rw,
  vfio_iommu_type1_pin_pages,
  vfio_iommu_type1_pin_pages_pfns,
  vfio_iommu_type1_unpin_pages,
  vfio_iommu_type1_unpin_pages_pfns,
} from '../type1/external.js';
import type { NotifierBlock } from '../kernel/notifier.js';
import { BlockingNotifierHead, blocking_notifier_chain_register, blocking_notifier_chain_unregister } from '../kernel/notifier.js';
import { type1Driver } from '../type1/driver.js';
import type { DmaUnmapNotice } from '../type1/vfio_iommu.js';
import type { VfioContainer, VfioDevice, VfioGroup } from './objects.js';

/** `npage > VFIO_PIN_PAGES_MAX_ENTRIES` compared as unsigned long, as in C. */
function tooMany(npage: number): boolean {
  return npage < 0 || npage > VFIO_PIN_PAGES_MAX_ENTRIES;
}

/**
 * vfio_pin_pages(device, iova, npage, prot, pages): npage or -errno. `iova` is the dma_addr_t as
 * the model carries IOVAs inside the kernel: page and offset (`iovaOf` converts a u64 from a
 * scenario); `pages` is the caller's struct page *[npage], as pfns. A tail call into the IOMMU driver: not a
 * generator of its own, it returns the driver's path (or a finished one), which saves a generator
 * level on every vendor pin. Like every kernel path it is only used as the operand of `yield*`,
 * so its checks run at the same moment either way.
 */
export function vfio_pin_pages(k: Kernel, vdev: VfioDevice, iova: Iova, npage: number, prot: number, pages: number[]): KGen<number> {
  if (!npage || k.klog.WARN_ON(vdev.open_count === 0, 'vfio_assert_device_open', 'vfio_pin_pages')) return done(-EINVAL);
  if (tooMany(npage)) return done(-E2BIG);
  const c = vdev.group.container;
  if (!c || c.iommu_driver !== 'type1' || !c.iommu_data || !k.iommuDriverHasPinPages) return done(noPinPagesOp(k, npage));
  return vfio_iommu_type1_pin_pages(k, c.iommu_data, vdev.group.iommu_group, iova, npage, prot, pages);
}

const RETURNED = done(undefined);

/** vfio_pin_pages() with no pin_pages op in the container's IOMMU driver: -ENOTTY (v9: 0, a violation). */
function noPinPagesOp(k: Kernel, npage: number): number {
  if (!k.profile.pinMissingOpReturnsZero) return -ENOTTY;
  // v9: `ret` was already 0 when the driver had no pin_pages op
  k.violation('pin_returned_zero', `vfio_pin_pages(npage=${npage}) returned 0 without pinning: the IOMMU driver has no pin_pages`);
  return 0;
}

/** vfio_unpin_pages(device, iova, npage): void; misuse is a WARN. A tail call, as vfio_pin_pages. */
export function vfio_unpin_pages(k: Kernel, vdev: VfioDevice, iova: Iova, npage: number): KGen<void> {
  if (k.klog.WARN_ON(vdev.open_count === 0, 'vfio_assert_device_open', 'vfio_unpin_pages')) return RETURNED;
  if (k.klog.WARN_ON(npage <= 0 || npage > VFIO_PIN_PAGES_MAX_ENTRIES, 'vfio_unpin_pages:npage', 'vfio_unpin_pages')) return RETURNED;
  const c = vdev.group.container;
  if (k.klog.WARN_ON(!c?.iommu_data, 'vfio_unpin_pages:no_container', 'vfio_unpin_pages')) return RETURNED;
  return vfio_iommu_type1_unpin_pages(k, c!.iommu_data!, iova, npage);
}

/** vfio_dma_rw(device, iova, data, len, write) */
export function* vfio_dma_rw(k: Kernel, vdev: VfioDevice, iova: bigint, len: bigint, write: boolean): KGen<number> {
  if (len <= 0n || k.klog.WARN_ON(vdev.open_count === 0, 'vfio_assert_device_open', 'vfio_dma_rw')) return -EINVAL;
  const c = vdev.group.container;
  if (!c || c.iommu_driver !== 'type1' || !c.iommu_data) return -ENOTTY;
  return yield* vfio_iommu_type1_dma_rw(k, c.iommu_data, iova, len, write);
}

// ---- 4.10-5.18 ----------------------------------------------------------------------------------

/**
 * vfio_group_add_container_user(): take a user of the group's container (atomic, no lock). -EINVAL
 * without one (container_users 0) or without an IOMMU driver; a noiommu group is -EPERM.
 */
function vfio_group_add_container_user(g: VfioGroup): number {
  if (g.container_users === 0 || !g.container) return -EINVAL;
  if (g.type === 'VFIO_NO_IOMMU') return -EPERM;
  if (!g.container.iommu_driver) return -EINVAL;
  g.container_users++;
  return 0;
}

/** vfio_group_try_dissolve_container(): drop the user again (never the last one here). */
function vfio_group_try_dissolve_container(g: VfioGroup): void {
  g.container_users--;
}

/** Run `body` as a container user with the container's group_lock held for read. */
function* withContainerUser<T>(g: VfioGroup, err: (e: number) => T, body: (c: VfioContainer) => KGen<T>): KGen<T> {
  const e = vfio_group_add_container_user(g);
  if (e) return err(e);
  const c = g.container!;
  yield* c.group_lock.down_read();
  const r = yield* body(c);
  yield* c.group_lock.up_read();
  vfio_group_try_dissolve_container(g);
  return r;
}

/** The IOMMU driver has the external-user ops (pin_pages, unpin_pages, register_notifier). */
function hasExternalOps(k: Kernel, c: VfioContainer): boolean {
  return c.iommu_driver === 'type1' && c.iommu_data !== null && k.iommuDriverHasPinPages;
}

/**
 * [4.10-5.18] vfio_pin_pages(dev, user_pfn, npage, prot, phys_pfn): `user_pfn` are IOVA page
 * numbers in any order; returns npage (all pinned) or -errno (nothing pinned).
 */
export function* vfio_pin_pages_user_pfn(k: Kernel, vdev: VfioDevice, user_pfn: readonly number[], npage: number, prot: number, phys_pfn: number[]): KGen<number> {
  if (!npage) return -EINVAL;
  if (tooMany(npage)) return -E2BIG;
  return yield* withContainerUser(
    vdev.group,
    (e) => e,
    function* (c): KGen<number> {
      if (!hasExternalOps(k, c)) return noPinPagesOp(k, npage);
      return yield* vfio_iommu_type1_pin_pages_pfns(k, c.iommu_data!, vdev.group.iommu_group, user_pfn, npage, prot, phys_pfn);
    },
  );
}

/** [4.10-5.18] vfio_unpin_pages(dev, user_pfn, npage): an int (see vfio_iommu_type1_unpin_pages_pfns). */
export function* vfio_unpin_pages_user_pfn(k: Kernel, vdev: VfioDevice, user_pfn: readonly number[], npage: number, walked?: { n: number }): KGen<number> {
  if (!npage) return -EINVAL;
  if (tooMany(npage)) return -E2BIG;
  return yield* withContainerUser(
    vdev.group,
    (e) => e,
    function* (c): KGen<number> {
      if (!hasExternalOps(k, c)) return -ENOTTY;
      return yield* vfio_iommu_type1_unpin_pages_pfns(k, c.iommu_data!, user_pfn, npage, walked);
    },
  );
}

/** The notifier chain of a vfio group (VFIO_GROUP_NOTIFY: SET_KVM), created on first use. */
function groupNotifier(k: Kernel, g: VfioGroup): BlockingNotifierHead {
  g.notifier ??= new BlockingNotifierHead(`vfio_group[${g.iommu_group.id}].notifier`, k.locks);
  return g.notifier;
}

/**
 * [4.10-5.18] vfio_register_notifier(dev, type, events, nb). `vdev` null stands for a device with
 * no vfio group (-ENODEV); `events` null for a NULL pointer. The model has no KVM, so SET_KVM is
 * never replayed at registration.
 */
export function* vfio_register_notifier(k: Kernel, vdev: VfioDevice | null, type: number, events: number | null, nb: NotifierBlock<DmaUnmapNotice>): KGen<number> {
  if (events === null || events === 0) return -EINVAL;
  if (!vdev) return -ENODEV;
  const g = vdev.group;
  const ev = { v: events };
  switch (type) {
    case VFIO_IOMMU_NOTIFY:
      // vfio_register_iommu_notifier(): any container-user failure is -EINVAL
      return yield* withContainerUser(
        g,
        () => -EINVAL,
        function* (c): KGen<number> {
          if (!hasExternalOps(k, c)) return -ENOTTY;
          return yield* type1Driver.register_notifier(c.iommu_data!, ev, nb);
        },
      );
    case VFIO_GROUP_NOTIFY: {
      // vfio_register_group_notifier(): unknown events are refused before the container user
      ev.v &= ~VFIO_GROUP_NOTIFY_SET_KVM;
      if (ev.v) return -EINVAL;
      if (vfio_group_add_container_user(g)) return -EINVAL;
      const ret = yield* blocking_notifier_chain_register(groupNotifier(k, g), nb as NotifierBlock);
      vfio_group_try_dissolve_container(g);
      return ret;
    }
    default:
      return -EINVAL;
  }
}

/** [4.10-5.18] vfio_unregister_notifier(dev, type, nb): -ENOENT when `nb` was not registered. */
export function* vfio_unregister_notifier(k: Kernel, vdev: VfioDevice | null, type: number, nb: NotifierBlock<DmaUnmapNotice>): KGen<number> {
  if (!vdev) return -ENODEV;
  const g = vdev.group;
  switch (type) {
    case VFIO_IOMMU_NOTIFY:
      return yield* withContainerUser(
        g,
        () => -EINVAL,
        function* (c): KGen<number> {
          if (!hasExternalOps(k, c)) return -ENOTTY;
          return yield* type1Driver.unregister_notifier(c.iommu_data!, nb);
        },
      );
    case VFIO_GROUP_NOTIFY: {
      if (vfio_group_add_container_user(g)) return -EINVAL;
      const ret = yield* blocking_notifier_chain_unregister(groupNotifier(k, g), nb as NotifierBlock);
      vfio_group_try_dissolve_container(g);
      return ret;
    }
    default:
      return -EINVAL;
  }
}
