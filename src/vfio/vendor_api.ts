/**
 * The vendor-driver API of vfio core (vfio_main.c, 6.1): vfio_pin_pages, vfio_unpin_pages,
 * vfio_dma_rw. Checks in kernel order, then forwarded to the container's IOMMU driver.
 */
import { E2BIG, EINVAL, ENOTTY } from '../util/errno.js';
import type { Kernel } from '../kernel/kernel.js';
import type { KGen } from '../kernel/sched.js';
import { VFIO_PIN_PAGES_MAX_ENTRIES } from '../uapi/vfio.js';
import type { PinResult } from '../type1/external.js';
import { iovaOf, vfio_iommu_type1_dma_rw, vfio_iommu_type1_pin_pages, vfio_iommu_type1_unpin_pages } from '../type1/external.js';
import type { VfioDevice } from './objects.js';

/** `npage > VFIO_PIN_PAGES_MAX_ENTRIES` compared as unsigned long, as in C. */
function tooMany(npage: number): boolean {
  return npage < 0 || npage > VFIO_PIN_PAGES_MAX_ENTRIES;
}

/** vfio_pin_pages(device, iova, npage, prot, pages) */
export function* vfio_pin_pages(k: Kernel, vdev: VfioDevice, iova: bigint, npage: number, prot: number): KGen<PinResult> {
  if (!npage || k.klog.WARN_ON(vdev.open_count === 0, 'vfio_assert_device_open', 'vfio_pin_pages')) return { ret: -EINVAL, pfns: [] };
  if (tooMany(npage)) return { ret: -E2BIG, pfns: [] };
  const c = vdev.group.container;
  if (!c || c.iommu_driver !== 'type1' || !c.iommu_data || !k.iommuDriverHasPinPages) {
    if (k.profile.pinMissingOpReturnsZero) {
      // v9: `ret` was already 0 when the driver had no pin_pages op
      k.violation('pin_returned_zero', `vfio_pin_pages(npage=${npage}) returned 0 without pinning: the IOMMU driver has no pin_pages`);
      return { ret: 0, pfns: [] };
    }
    return { ret: -ENOTTY, pfns: [] };
  }
  return yield* vfio_iommu_type1_pin_pages(k, c.iommu_data, vdev.group.iommu_group, iovaOf(iova), npage, prot);
}

/** vfio_unpin_pages(device, iova, npage): void; misuse is a WARN. */
export function* vfio_unpin_pages(k: Kernel, vdev: VfioDevice, iova: bigint, npage: number): KGen<void> {
  if (k.klog.WARN_ON(vdev.open_count === 0, 'vfio_assert_device_open', 'vfio_unpin_pages')) return;
  if (k.klog.WARN_ON(npage <= 0 || npage > VFIO_PIN_PAGES_MAX_ENTRIES, 'vfio_unpin_pages:npage', 'vfio_unpin_pages')) return;
  const c = vdev.group.container;
  if (k.klog.WARN_ON(!c?.iommu_data, 'vfio_unpin_pages:no_container', 'vfio_unpin_pages')) return;
  yield* vfio_iommu_type1_unpin_pages(k, c!.iommu_data!, iovaOf(iova), npage);
}

/** vfio_dma_rw(device, iova, data, len, write) */
export function* vfio_dma_rw(k: Kernel, vdev: VfioDevice, iova: bigint, len: bigint, write: boolean): KGen<number> {
  if (len <= 0n || k.klog.WARN_ON(vdev.open_count === 0, 'vfio_assert_device_open', 'vfio_dma_rw')) return -EINVAL;
  const c = vdev.group.container;
  if (!c || c.iommu_driver !== 'type1' || !c.iommu_data) return -ENOTTY;
  return yield* vfio_iommu_type1_dma_rw(k, c.iommu_data, iova, len, write);
}
