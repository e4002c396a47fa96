/**
 * The container fd (/dev/vfio/vfio) and its ioctls, vfio_main.c 6.1: VFIO_GET_API_VERSION,
 * VFIO_CHECK_EXTENSION (vfio_container_ioctl_check_extension), VFIO_SET_IOMMU
 * (vfio_ioctl_set_iommu), forwarding of everything else to the IOMMU driver, and the group
 * attach/detach helpers that SET/UNSET_CONTAINER use.
 */
import { EBUSY, EINVAL, ENODEV, EPERM } from '../util/errno.js';
import type { Kernel } from '../kernel/kernel.js';
import type { KGen } from '../kernel/sched.js';
import { done } from '../kernel/sched.js';
import { IOCTL, VFIO_API_VERSION } from '../uapi/vfio.js';
import { type1Driver } from '../type1/driver.js';
import type { Type1IoctlArg } from '../type1/driver.js';
import type { VfioContainer, VfioGroup } from './objects.js';

/** vfio_container_ioctl_check_extension() */
export function* vfio_container_ioctl_check_extension(k: Kernel, c: VfioContainer, ext: number): KGen<number> {
  yield* c.group_lock.down_read();
  // Only type1 is registered; it is asked with iommu_data NULL before SET_IOMMU.
  const ret = type1Driver.check_extension(k, c.iommu_data, ext);
  yield* c.group_lock.up_read();
  return ret;
}

/** __vfio_container_attach_groups(): attach every group; undo on failure. */
function* attach_groups(k: Kernel, c: VfioContainer, data: import('../type1/vfio_iommu.js').VfioIommu): KGen<number> {
  for (let i = 0; i < c.group_list.length; i++) {
    const g = c.group_list[i]!;
    const ret = yield* type1Driver.attach_group(k, data, g.iommu_group, g.type);
    if (ret) {
      for (let j = i - 1; j >= 0; j--) yield* type1Driver.detach_group(k, data, c.group_list[j]!.iommu_group);
      return ret;
    }
  }
  return 0;
}

/** vfio_ioctl_set_iommu() */
export function* vfio_ioctl_set_iommu(k: Kernel, c: VfioContainer, arg: number): KGen<number> {
  yield* c.group_lock.down_write();
  let ret = -ENODEV;
  out: {
    // Only adding a group to a container gives the privilege of enabling the IOMMU driver.
    if (c.group_list.length === 0 || c.iommu_driver) {
      ret = -EINVAL;
      break out;
    }
    if (c.noiommu) break out; // no noiommu driver registered
    if (type1Driver.check_extension(k, null, arg) <= 0) break out;
    const data = type1Driver.open(k, arg);
    if (typeof data === 'number') {
      ret = data;
      break out;
    }
    const r = yield* attach_groups(k, c, data);
    if (r) {
      yield* type1Driver.release(k, data);
      ret = r;
      break out;
    }
    c.iommu_driver = 'type1';
    c.iommu_data = data;
    ret = 0;
  }
  yield* c.group_lock.up_write();
  return ret;
}

/** vfio_fops_unl_ioctl(): the container fd's ioctl entry. */
export function vfio_container_ioctl(k: Kernel, c: VfioContainer, cmd: number, arg: Type1IoctlArg): KGen<number> {
  switch (cmd) {
    case IOCTL.VFIO_GET_API_VERSION:
      return done(VFIO_API_VERSION);
    case IOCTL.VFIO_CHECK_EXTENSION:
      return vfio_container_ioctl_check_extension(k, c, arg.kind === 'ext' ? arg.ext : 0);
    case IOCTL.VFIO_SET_IOMMU:
      return vfio_ioctl_set_iommu(k, c, arg.kind === 'ext' ? arg.ext : 0);
    default:
      return vfio_container_ioctl_driver(k, c, cmd, arg);
  }
}

/** The default case of vfio_fops_unl_ioctl(): the IOMMU driver's ioctl under group_lock (read). */
function* vfio_container_ioctl_driver(k: Kernel, c: VfioContainer, cmd: number, arg: Type1IoctlArg): KGen<number> {
  yield* c.group_lock.down_read();
  let ret = -EINVAL;
  if (c.iommu_driver && c.iommu_data) ret = yield* type1Driver.ioctl(k, c.iommu_data, cmd, arg);
  yield* c.group_lock.up_read();
  return ret;
}

/** vfio_container_attach_group(), called by VFIO_GROUP_SET_CONTAINER with group->group_lock held. */
export function* vfio_container_attach_group(k: Kernel, c: VfioContainer, g: VfioGroup): KGen<number> {
  if (g.type === 'VFIO_NO_IOMMU' && !k.current.process.capable('CAP_SYS_RAWIO')) return -EPERM;
  yield* c.group_lock.down_write();
  let ret = 0;
  out: {
    // Real groups and fake groups cannot mix
    if (c.group_list.length && c.noiommu !== (g.type === 'VFIO_NO_IOMMU')) {
      ret = -EPERM;
      break out;
    }
    // iommu_group_claim_dma_owner(): a device bound to a kernel driver owns the group's DMA
    if (g.type === 'VFIO_IOMMU' && g.iommu_group.dmaOwnerClaimed()) {
      ret = -EBUSY;
      break out;
    }
    if (c.iommu_driver && c.iommu_data) {
      ret = yield* type1Driver.attach_group(k, c.iommu_data, g.iommu_group, g.type);
      if (ret) break out;
    }
    g.container = c;
    g.container_users = 1;
    c.noiommu = g.type === 'VFIO_NO_IOMMU';
    c.group_list.push(g);
    c.refs++;
  }
  yield* c.group_lock.up_write();
  return ret;
}

/** vfio_group_detach_container(): detach from the driver; the last group releases the IOMMU. */
export function* vfio_group_detach_container(k: Kernel, g: VfioGroup): KGen<void> {
  const c = g.container!;
  yield* c.group_lock.down_write();
  if (c.iommu_driver && c.iommu_data) yield* type1Driver.detach_group(k, c.iommu_data, g.iommu_group);
  g.container = null;
  g.container_users = 0;
  c.group_list.splice(c.group_list.indexOf(g), 1);
  // Detaching the last group deprivileges a container: remove the IOMMU driver
  if (c.iommu_driver && c.iommu_data && c.group_list.length === 0) {
    yield* type1Driver.release(k, c.iommu_data);
    c.iommu_driver = null;
    c.iommu_data = null;
  }
  yield* c.group_lock.up_write();
  c.refs--;
}
