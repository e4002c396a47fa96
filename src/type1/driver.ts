/**
 * vfio_iommu_driver_ops_type1: how vfio core talks to type1 (open, release, ioctl, attach_group,
 * detach_group, pin_pages, unpin_pages, dma_rw, register_device, unregister_device), and the
 * ioctl dispatch with the argsz/flags checks done before the do_* functions (6.1).
 */
import { EACCES, EFAULT, EINVAL, ENOTTY } from '../util/errno.js';
import type { Kernel } from '../kernel/kernel.js';
import { Mutex } from '../kernel/locks.js';
import type { KGen } from '../kernel/sched.js';
import { done } from '../kernel/sched.js';
import type { IommuGroup } from '../iommu/group.js';
import {
  EXT,
  IOCTL,
  SIZEOF,
  VFIO_DMA_MAP_FLAG_READ,
  VFIO_DMA_MAP_FLAG_VADDR,
  VFIO_DMA_MAP_FLAG_WRITE,
  VFIO_DMA_UNMAP_FLAG_ALL,
  VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP,
  VFIO_DMA_UNMAP_FLAG_VADDR,
} from '../uapi/vfio.js';
import type { GroupType } from './attach.js';
import { vfio_iommu_type1_attach_group, vfio_iommu_type1_detach_group, vfio_iommu_type1_release } from './attach.js';
import type { DirtyPagesArgs } from './dirty.js';
import { ffs64, verify_bitmap_size, vfio_iommu_type1_dirty_pages } from './dirty.js';
import type { IommuInfoArgs } from './info.js';
import { vfio_iommu_type1_check_extension, vfio_iommu_type1_get_info } from './info.js';
import type { DmaMapArgs } from './map.js';
import { vfio_dma_do_map } from './map.js';
import type { DmaUnmapArgs } from './unmap.js';
import { vfio_dma_do_unmap } from './unmap.js';
import type { DmaUnmapDevice, DmaUnmapNotice } from './vfio_iommu.js';
import type { NotifierBlock } from '../kernel/notifier.js';
import { BlockingNotifierHead, blocking_notifier_chain_register, blocking_notifier_chain_unregister } from '../kernel/notifier.js';
import { VFIO_IOMMU_NOTIFY_DMA_UNMAP } from '../uapi/vfio.js';
import { VfioIommu } from './vfio_iommu.js';


/** vfio_iommu_type1_open(arg): a new vfio_iommu or -EINVAL for an unknown type. */
export function vfio_iommu_type1_open(k: Kernel, arg: number): VfioIommu | number {
  let v2 = false;
  let nesting = false;
  switch (arg) {
    case EXT.VFIO_TYPE1_IOMMU:
      break;
    case EXT.VFIO_TYPE1_NESTING_IOMMU:
      nesting = true;
      v2 = true;
      break;
    case EXT.VFIO_TYPE1v2_IOMMU:
      v2 = true;
      break;
    default:
      return -EINVAL;
  }
  const id = k.nextId('vfio_iommu');
  const limit = k.profile.dmaEntryLimit ? k.params.dma_entry_limit : Number.MAX_SAFE_INTEGER;
  const notifier = k.profile.dmaUnmapNotifier ? new BlockingNotifierHead<DmaUnmapNotice>(`vfio_iommu[${id}].notifier`, k.locks) : null;
  return new VfioIommu(v2, nesting, limit, new Mutex(`vfio_iommu[${id}].lock`, k.locks), new Mutex(`vfio_iommu[${id}].device_list_lock`, k.locks), notifier);
}

/** Decoded ioctl argument: what copy_from_user would read (and where results go). */
export type Type1IoctlArg =
  | { kind: 'ext'; ext: number }
  | ({ kind: 'info'; fault?: boolean } & IommuInfoArgs)
  | { kind: 'map'; argsz: number; flags: number; vaddr: bigint; iova: bigint; size: bigint; fault?: boolean }
  | ({ kind: 'unmap'; argsz: number; fault?: boolean; out: { size: bigint } } & DmaUnmapArgs)
  | ({ kind: 'dirty'; fault?: boolean } & DirtyPagesArgs)
  | { kind: 'none' };

/** vfio_iommu_type1_ioctl(): a dispatcher (see `done` in src/kernel/sched.ts). */
export function vfio_iommu_type1_ioctl(k: Kernel, iommu: VfioIommu, cmd: number, arg: Type1IoctlArg): KGen<number> {
  switch (cmd) {
    case IOCTL.VFIO_CHECK_EXTENSION:
      return done(vfio_iommu_type1_check_extension(k, iommu, arg.kind === 'ext' ? arg.ext : 0));
    case IOCTL.VFIO_IOMMU_GET_INFO:
      if (arg.kind !== 'info') return done(-EFAULT);
      return vfio_iommu_type1_get_info(k, iommu, arg, arg.fault);
    case IOCTL.VFIO_IOMMU_MAP_DMA:
      return vfio_iommu_type1_map_dma(k, iommu, arg);
    case IOCTL.VFIO_IOMMU_UNMAP_DMA:
      return vfio_iommu_type1_unmap_dma(k, iommu, arg);
    case IOCTL.VFIO_IOMMU_DIRTY_PAGES:
      if (!k.profile.dirtyTracking) return done(-ENOTTY);
      // vfio_iommu_type1_dirty_pages() tests v2 before copy_from_user()
      if (!iommu.v2) return done(-EACCES);
      if (arg.kind !== 'dirty' || arg.fault) return done(-EFAULT);
      return vfio_iommu_type1_dirty_pages(k, iommu, arg);
    default:
      return done(-ENOTTY);
  }
}

/** vfio_iommu_type1_map_dma(): argument checks, then vfio_dma_do_map() (a dispatcher too). */
function vfio_iommu_type1_map_dma(k: Kernel, iommu: VfioIommu, arg: Type1IoctlArg): KGen<number> {
  if (arg.kind !== 'map' || arg.fault) return done(-EFAULT);
  let mask = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;
  if (k.profile.unmapAllAndVaddr) mask |= VFIO_DMA_MAP_FLAG_VADDR;
  if (arg.argsz < SIZEOF.vfio_iommu_type1_dma_map || arg.flags & ~mask) return done(-EINVAL);
  const m: DmaMapArgs = { flags: arg.flags, vaddr: arg.vaddr, iova: arg.iova, size: arg.size };
  return vfio_dma_do_map(k, iommu, m);
}

/** vfio_iommu_type1_unmap_dma(): argument checks, vfio_dma_do_unmap(), copy the size back. */
function* vfio_iommu_type1_unmap_dma(k: Kernel, iommu: VfioIommu, arg: Type1IoctlArg): KGen<number> {
  if (arg.kind !== 'unmap' || arg.fault) return -EFAULT;
  let mask = 0;
  if (k.profile.dirtyTracking) mask |= VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP;
  if (k.profile.unmapAllAndVaddr) mask |= VFIO_DMA_UNMAP_FLAG_ALL | VFIO_DMA_UNMAP_FLAG_VADDR;
  const minsz = SIZEOF.vfio_iommu_type1_dma_unmap;
  if (arg.argsz < minsz || arg.flags & ~mask) return -EINVAL;
  const getBitmap = (arg.flags & VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP) !== 0;
  if (getBitmap && arg.flags & (VFIO_DMA_UNMAP_FLAG_ALL | VFIO_DMA_UNMAP_FLAG_VADDR)) return -EINVAL;
  if (getBitmap) {
    if (arg.argsz < minsz + SIZEOF.vfio_bitmap) return -EINVAL;
    const bm = arg.bitmap;
    if (!bm) return -EFAULT;
    if (!bm.accessible) return -EINVAL;
    const r = verify_bitmap_size(arg.size >> ffs64(bm.pgsize), bm.size);
    if (r) return r;
  }
  const out = { size: 0n };
  const ret = yield* vfio_dma_do_unmap(k, iommu, arg, out);
  if (ret) return ret;
  arg.out.size = out.size;
  return 0;
}

/** The ops table vfio core calls. */
export const type1Driver = {
  name: 'vfio-iommu-type1',
  open: vfio_iommu_type1_open,
  release: vfio_iommu_type1_release,
  ioctl: vfio_iommu_type1_ioctl,
  check_extension: vfio_iommu_type1_check_extension,
  attach_group(k: Kernel, iommu: VfioIommu, g: IommuGroup, type: GroupType): KGen<number> {
    return vfio_iommu_type1_attach_group(k, iommu, g, type);
  },
  detach_group(k: Kernel, iommu: VfioIommu, g: IommuGroup): KGen<void> {
    return vfio_iommu_type1_detach_group(k, iommu, g);
  },
  /** vfio_iommu_type1_register_device(): devices with dma_unmap join device_list. */
  *register_device(iommu: VfioIommu, dev: DmaUnmapDevice): KGen<void> {
    yield* iommu.lock.lock();
    yield* iommu.device_list_lock.lock();
    iommu.device_list.push(dev);
    yield* iommu.device_list_lock.unlock();
    yield* iommu.lock.unlock();
  },
  /**
   * [4.10-5.18] vfio_iommu_type1_register_notifier(iommu, events, nb): clear the known event
   * (DMA_UNMAP), refuse any other bit with -EINVAL, then join the chain. `events` is updated in
   * place, as the kernel clears the bits it knows in the caller's mask.
   */
  *register_notifier(iommu: VfioIommu, events: { v: number }, nb: NotifierBlock<DmaUnmapNotice>): KGen<number> {
    events.v &= ~VFIO_IOMMU_NOTIFY_DMA_UNMAP;
    if (events.v) return -EINVAL;
    if (!iommu.notifier) return -ENOTTY;
    return yield* blocking_notifier_chain_register(iommu.notifier, nb);
  },
  /** [4.10-5.18] vfio_iommu_type1_unregister_notifier(): -ENOENT when `nb` is not registered. */
  *unregister_notifier(iommu: VfioIommu, nb: NotifierBlock<DmaUnmapNotice>): KGen<number> {
    if (!iommu.notifier) return -ENOTTY;
    return yield* blocking_notifier_chain_unregister(iommu.notifier, nb);
  },
  *unregister_device(iommu: VfioIommu, dev: DmaUnmapDevice): KGen<void> {
    yield* iommu.lock.lock();
    yield* iommu.device_list_lock.lock();
    const i = iommu.device_list.indexOf(dev);
    if (i >= 0) iommu.device_list.splice(i, 1);
    yield* iommu.device_list_lock.unlock();
    yield* iommu.lock.unlock();
  },
};
