/**
 * The group fd (/dev/vfio/<N>) and device fds, vfio_main.c 6.1: open/release of the group file,
 * VFIO_GROUP_GET_STATUS, VFIO_GROUP_SET_CONTAINER, VFIO_GROUP_UNSET_CONTAINER,
 * VFIO_GROUP_GET_DEVICE_FD (vfio_device_open / vfio_device_assign_container), device release.
 */
import { EBADF, EBADFD, EBUSY, EFAULT, EINVAL, ENODEV, ENOTTY, EPERM } from '../util/errno.js';
import type { Kernel } from '../kernel/kernel.js';
import type { KGen } from '../kernel/sched.js';
import { done } from '../kernel/sched.js';
import { IOCTL, SIZEOF, VFIO_GROUP_FLAGS_CONTAINER_SET, VFIO_GROUP_FLAGS_VIABLE } from '../uapi/vfio.js';
import { type1Driver } from '../type1/driver.js';
import type { DmaUnmapDevice } from '../type1/vfio_iommu.js';
import { vfio_container_attach_group, vfio_group_detach_container } from './container.js';
import type { VfioContainer, VfioDevice, VfioGroup } from './objects.js';

/** vfio_group_fops_open() */
export function* vfio_group_fops_open(k: Kernel, g: VfioGroup): KGen<number> {
  yield* g.group_lock.lock();
  let ret = 0;
  if (g.type === 'VFIO_NO_IOMMU' && !k.current.process.capable('CAP_SYS_RAWIO')) ret = -EPERM;
  else if (g.opened_file) ret = -EBUSY;
  else {
    g.opened_file = true;
    g.fileRefs = 1;
  }
  yield* g.group_lock.unlock();
  return ret;
}

/** Drop a reference on the group file; the last one runs vfio_group_fops_release(). */
export function* vfio_group_put_file(k: Kernel, g: VfioGroup): KGen<void> {
  if (--g.fileRefs > 0) return;
  yield* g.group_lock.lock();
  if (g.container) {
    k.klog.WARN_ON(g.container_users !== 1, 'vfio_group_fops_release:container_users', 'vfio_group_fops_release');
    yield* vfio_group_detach_container(k, g);
  }
  g.opened_file = false;
  yield* g.group_lock.unlock();
}

export interface GroupStatusArg {
  argsz: number;
  flags?: number;
  fault?: boolean;
}

/** vfio_group_ioctl_get_status() */
export function* vfio_group_ioctl_get_status(g: VfioGroup, st: GroupStatusArg): KGen<number> {
  if (st.fault) return -EFAULT;
  if (st.argsz < SIZEOF.vfio_group_status) return -EINVAL;
  yield* g.group_lock.lock();
  let flags = 0;
  if (g.container) flags |= VFIO_GROUP_FLAGS_CONTAINER_SET | VFIO_GROUP_FLAGS_VIABLE;
  else if (!g.iommu_group.dmaOwnerClaimed()) flags |= VFIO_GROUP_FLAGS_VIABLE;
  yield* g.group_lock.unlock();
  st.flags = flags;
  return 0;
}

/**
 * vfio_group_ioctl_set_container(). `container` is what fdget() found behind the fd: a container,
 * 'badf' (no such fd) or 'other' (an fd that is not a VFIO container).
 */
export function* vfio_group_ioctl_set_container(k: Kernel, g: VfioGroup, container: VfioContainer | 'badf' | 'other'): KGen<number> {
  if (container === 'badf') return -EBADF;
  yield* g.group_lock.lock();
  let ret = -EINVAL;
  if (g.container || k.klog.WARN_ON(g.container_users > 0, 'vfio_group_ioctl_set_container:users', 'vfio_group_ioctl_set_container')) ret = -EINVAL;
  else if (container !== 'other') ret = yield* vfio_container_attach_group(k, container, g);
  // neither a container nor (6.2+) an iommufd: "The FD passed is not recognized."
  else if (k.profile.setContainerEbadfd) ret = -EBADFD;
  yield* g.group_lock.unlock();
  return ret;
}

/** vfio_group_ioctl_unset_container() */
export function* vfio_group_ioctl_unset_container(k: Kernel, g: VfioGroup): KGen<number> {
  yield* g.group_lock.lock();
  let ret = 0;
  if (!g.container) ret = -EINVAL;
  else if (g.container_users !== 1) ret = -EBUSY;
  else yield* vfio_group_detach_container(k, g);
  yield* g.group_lock.unlock();
  return ret;
}

/**
 * The type1 device_list entry for a device whose driver has dma_unmap. [4.10-5.18] there is no
 * device_list: drivers register a DMA-unmap notifier themselves (vfio_register_notifier).
 */
const unmapHandles = new WeakMap<VfioDevice, DmaUnmapDevice>();
function unmapHandle(k: Kernel, vdev: VfioDevice): DmaUnmapDevice | undefined {
  const op = vdev.ops.dma_unmap;
  if (!op || k.profile.dmaUnmapNotifier) return undefined;
  let h = unmapHandles.get(vdev);
  if (!h) {
    h = { name: vdev.name, dma_unmap: (iova: number, n: number) => op.call(vdev.ops, vdev, iova, n) };
    unmapHandles.set(vdev, h);
  }
  return h;
}

/**
 * VFIO_GROUP_GET_DEVICE_FD: find the device by name (-ENODEV), assign the container
 * (-EINVAL without container or IOMMU driver), first open registers with type1 and calls
 * open_device. Returns 0 and the device, or -errno.
 */
export function* vfio_group_ioctl_get_device_fd(k: Kernel, g: VfioGroup, name: string): KGen<number | VfioDevice> {
  yield* g.group_lock.lock();
  const vdev = g.devices.find((d) => d.name === name);
  let ret = 0;
  if (!vdev) ret = -ENODEV;
  else if (!g.container || !g.container.iommu_driver || !g.container_users) ret = -EINVAL;
  else if (g.type === 'VFIO_NO_IOMMU' && !k.current.process.capable('CAP_SYS_RAWIO')) ret = -EPERM;
  if (ret || !vdev) {
    yield* g.group_lock.unlock();
    return ret;
  }
  g.container_users++;
  g.fileRefs++;
  yield* g.group_lock.unlock();

  yield* vdev.dev_set_lock.lock();
  vdev.open_count++;
  if (vdev.open_count === 1) {
    const iommu = g.container!.iommu_data;
    const h = unmapHandle(k, vdev);
    if (iommu && h) yield* type1Driver.register_device(iommu, h);
    if (vdev.ops.open_device) {
      ret = yield* vdev.ops.open_device(vdev);
      if (ret) {
        if (iommu && h) yield* type1Driver.unregister_device(iommu, h);
        vdev.open_count--;
      }
    }
  }
  yield* vdev.dev_set_lock.unlock();
  if (ret) {
    yield* g.group_lock.lock();
    g.container_users--;
    yield* g.group_lock.unlock();
    yield* vfio_group_put_file(k, g);
    return ret;
  }
  return vdev;
}

/** vfio_device_fops_release(): last close runs close_device and unregisters from type1. */
export function* vfio_device_release(k: Kernel, vdev: VfioDevice): KGen<void> {
  const g = vdev.group;
  yield* vdev.dev_set_lock.lock();
  if (vdev.open_count === 1) {
    if (vdev.ops.close_device) yield* vdev.ops.close_device(vdev);
    const iommu = g.container?.iommu_data;
    const h = unmapHandle(k, vdev);
    if (iommu && h) yield* type1Driver.unregister_device(iommu, h);
  }
  vdev.open_count--;
  yield* vdev.dev_set_lock.unlock();
  yield* g.group_lock.lock();
  g.container_users--;
  yield* g.group_lock.unlock();
  yield* vfio_group_put_file(k, g);
}

export type GroupIoctlArg =
  | { kind: 'status'; st: GroupStatusArg }
  | { kind: 'container'; container: VfioContainer | 'badf' | 'other' }
  | { kind: 'name'; name: string }
  | { kind: 'none' };

/** vfio_group_fops_unl_ioctl() for the ioctls without a device result. */
export function vfio_group_ioctl(k: Kernel, g: VfioGroup, cmd: number, arg: GroupIoctlArg): KGen<number> {
  switch (cmd) {
    case IOCTL.VFIO_GROUP_GET_STATUS:
      return arg.kind === 'status' ? vfio_group_ioctl_get_status(g, arg.st) : done(-EFAULT);
    case IOCTL.VFIO_GROUP_SET_CONTAINER:
      return arg.kind === 'container' ? vfio_group_ioctl_set_container(k, g, arg.container) : done(-EFAULT);
    case IOCTL.VFIO_GROUP_UNSET_CONTAINER:
      return vfio_group_ioctl_unset_container(k, g);
    default:
      return done(-ENOTTY);
  }
}
