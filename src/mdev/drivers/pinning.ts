/**
 * What the sample vendor drivers share: a record of the pages this device pinned through
 * vfio_pin_pages, and a `dma_unmap` that honours the unmap contract (unpin everything pinned in
 * the range) or, for the misbehaving variants, ignores it.
 *
 * [4.10-5.18] (profile switch dmaUnmapNotifier) the same handler is the driver's DMA-unmap
 * notifier: a driver with one registers it at open (vfio_register_notifier, VFIO_IOMMU_NOTIFY,
 * DMA_UNMAP) and unregisters it at release; the misbehaving driver forgets to unregister. A failed
 * registration (an IOMMU driver without the op) leaves the device open without a notifier. On
 * pinApiUserPfn profiles the driver calls the `user_pfn` form of vfio_pin_pages/vfio_unpin_pages.
 *
 * State is per device and guarded by the driver's own lock in a real driver; in the model the
 * vendor calls run on the thread that issued them (a VMM ioctl on the device fd, or the unmap
 * callback), under no lock of ours.
 */
import type { Kernel } from '../../kernel/kernel.js';
import { Mutex } from '../../kernel/locks.js';
import type { KGen } from '../../kernel/sched.js';
import { andThen, done, Finished, point } from '../../kernel/sched.js';
import type { VfioDevice, VfioDeviceOps } from '../../vfio/objects.js';
import { IOMMU_READ, IOMMU_WRITE } from '../../uapi/vfio.js';
import {
  vfio_dma_rw,
  vfio_pin_pages,
  vfio_pin_pages_user_pfn,
  vfio_register_notifier,
  vfio_unpin_pages,
  vfio_unpin_pages_user_pfn,
  vfio_unregister_notifier,
} from '../../vfio/vendor_api.js';
import { VFIO_IOMMU_NOTIFY, VFIO_IOMMU_NOTIFY_DMA_UNMAP, VFIO_PIN_PAGES_MAX_ENTRIES } from '../../uapi/vfio.js';
import type { NotifierBlock } from '../../kernel/notifier.js';
import type { DmaUnmapNotice } from '../../type1/vfio_iommu.js';
import type { Iova } from '../../type1/external.js';
import { addIova } from '../../type1/external.js';
import { PinRecord } from './pin-record.js';

/**
 * How the driver answers dma_unmap: honour it, ignore the first N calls, never, or unpin but pin
 * the range's first pinned page again in the first N calls (a guest command racing the unmap).
 */
export type UnmapPolicy = { kind: 'unpin' } | { kind: 'ignore'; n: number } | { kind: 'never' } | { kind: 'repin'; n: number };

export class PinState {
  /** IOVA -> times pinned and not yet unpinned (see pin-record.ts) */
  readonly pins = new PinRecord();
  dma_unmap_calls = 0;
  /** (iova, size) in bytes of every dma_unmap call received, in order */
  readonly dma_unmap_ranges: [bigint, bigint][] = [];
  ignored = 0;
  /**
   * The driver's own lock around "pin, then record the pin" and around dma_unmap (what GVT-g's
   * cache lock does). `racyRecord` drops it: a pin can then be recorded after a dma_unmap for its
   * range already ran, so the driver never unpins it (the UNMAP vs vendor-pin race).
   */
  racyRecord = false;
  lock: Mutex | null = null;
  /**
   * The pages[] the driver hands vfio_pin_pages, used under `lock` (a real driver's is on its
   * stack: GVT-g pins one page into a local `struct page *`). The samples read only the count.
   */
  readonly pages: number[] = [];
  /** [4.10-5.18] the driver's DMA-unmap notifier_block, and whether it is registered now */
  nb: NotifierBlock<DmaUnmapNotice> | null = null;
  nbRegistered = false;
  groupNb: NotifierBlock<DmaUnmapNotice> | null = null;
  constructor(
    public policy: UnmapPolicy,
    /** close_device unpins everything (false: the driver leaks its pins) */
    public unpinOnClose: boolean,
    /** [4.10-5.18] close_device unregisters the DMA-unmap notifier (false: the driver forgets) */
    public unregisterOnClose = true,
  ) {}
}

/**
 * The driver's record. A device whose driver is not one of the samples (vfio-pci) gets an empty
 * one the first time a scenario makes it call the vendor API, as any kernel code may.
 */
export function pinState(vdev: VfioDevice): PinState {
  if (!(vdev.driverData instanceof PinState)) vdev.driverData = new PinState({ kind: 'unpin' }, false);
  return vdev.driverData as PinState;
}

function driverLock(k: Kernel, vdev: VfioDevice, st = pinState(vdev)): Mutex | null {
  if (st.racyRecord) return null;
  st.lock ??= new Mutex(`${vdev.ops.name}[${vdev.name}].lock`, k.locks);
  return st.lock;
}

/** [4.10-5.18] the user_pfn list of [iova, iova+npage): IOVA page numbers (an offset is dropped). */
export function userPfnsOf(iova: Iova, npage: number): number[] {
  return Array.from({ length: Math.max(0, Math.min(npage, VFIO_PIN_PAGES_MAX_ENTRIES)) }, (_, i) => iova.page + i);
}

/**
 * The driver pins [iova, iova+npage) and records it, under its lock; returns vfio_pin_pages'
 * result. On every vGPU pin, so written with path combinators (see src/kernel/sched.ts) rather
 * than as a generator: `lock.locked` around vfio_pin_pages and then `record_pins`. With
 * `racyRecord` the driver records without its lock (`driverPinRacy`).
 */
export function driverPin(k: Kernel, vdev: VfioDevice, iova: Iova, npage: number, prot: number): KGen<number> {
  if (k.profile.pinApiUserPfn) return driverPinPfns(k, vdev, userPfnsOf(iova, npage), npage, prot, []);
  const st = pinState(vdev);
  const lock = driverLock(k, vdev, st);
  if (!lock) return driverPinRacy(k, vdev, st, iova, npage, prot);
  const call: PinCall = { k, vdev, iova, npage, prot };
  return lock.locked(pin_and_record, call, st);
}

/** The arguments of one driverPin. */
interface PinCall {
  readonly k: Kernel;
  readonly vdev: VfioDevice;
  readonly iova: Iova;
  readonly npage: number;
  readonly prot: number;
}

/** driverPin under the driver's lock: vfio_pin_pages, then record what it pinned. */
function pin_and_record(c: PinCall, st: PinState): KGen<number> {
  const p = vfio_pin_pages(c.k, c.vdev, c.iova, c.npage, c.prot, st.pages);
  return p instanceof Finished ? done(record_pins(p.value, st, c.iova)) : andThen(p, record_pins, st, c.iova);
}

/** Record the pins of a vfio_pin_pages that returned `ret` (npage or -errno); the driver returns it. */
function record_pins(ret: number, st: PinState, iova: Iova): number {
  for (let i = 0; i < ret; i++) st.pins.add(addIova(iova, i));
  return ret;
}

/**
 * driverPin with `racyRecord`: no driver lock, so the pin is recorded after a scheduling point at
 * which a dma_unmap for its range may run first (the UNMAP vs vendor-pin race).
 */
function* driverPinRacy(k: Kernel, vdev: VfioDevice, st: PinState, iova: Iova, npage: number, prot: number): KGen<number> {
  const r = yield* vfio_pin_pages(k, vdev, iova, npage, prot, []);
  if (k.locks.interleaving) yield point(`${vdev.ops.name}: pinned, about to record the pin`);
  return record_pins(r, st, iova);
}

/**
 * [4.10-5.18] The driver pins the IOVA pages `user_pfn` (any order, npage entries) with
 * vfio_pin_pages(dev, user_pfn, npage, prot, phys_pfn) and records them; returns npage or -errno,
 * the pfns going to `phys_pfn`.
 */
export function* driverPinPfns(k: Kernel, vdev: VfioDevice, user_pfn: readonly number[], npage: number, prot: number, phys_pfn: number[]): KGen<number> {
  const lock = driverLock(k, vdev);
  if (lock) yield* lock.lock();
  const r = yield* vfio_pin_pages_user_pfn(k, vdev, user_pfn, npage, prot, phys_pfn);
  if (!lock && k.locks.interleaving) yield point(`${vdev.ops.name}: pinned, about to record the pin`);
  if (r > 0) {
    const st = pinState(vdev);
    for (let i = 0; i < r; i++) st.pins.add({ page: user_pfn[i]!, off: 0 });
  }
  if (lock) yield* lock.unlock();
  return r;
}

/**
 * [4.10-5.18] The driver unpins the IOVA pages `user_pfn` once and forgets the pins type1 walked
 * (it stops at the first IOVA in no mapping); returns vfio_unpin_pages' int. The sample keeps an
 * exact record: the model tells it how far type1 got, which 4.10's return value alone does not.
 */
export function* driverUnpinPfns(k: Kernel, vdev: VfioDevice, user_pfn: readonly number[], npage: number): KGen<number> {
  const walked = { n: 0 };
  const ret = yield* vfio_unpin_pages_user_pfn(k, vdev, user_pfn, npage, walked);
  const st = pinState(vdev);
  for (let i = 0; i < walked.n; i++) st.pins.drop({ page: user_pfn[i]!, off: 0 });
  return ret;
}

/**
 * The driver unpins [iova, iova+npage) once and forgets those pins; returns 0 or (4.10-5.18)
 * vfio_unpin_pages' int. On every vGPU unpin: vfio_unpin_pages, then `forget_pins` (`andThen`).
 */
export function driverUnpin(k: Kernel, vdev: VfioDevice, iova: Iova, npage: number): KGen<number> {
  if (k.profile.pinApiUserPfn) return driverUnpinPfns(k, vdev, userPfnsOf(iova, npage), npage);
  const p = vfio_unpin_pages(k, vdev, iova, npage);
  return p instanceof Finished ? done(forget_pins(p.value, pinState(vdev), iova, npage)) : andThen(p, forget_pins, pinState(vdev), iova, npage);
}

/** After vfio_unpin_pages: forget the pins it dropped. */
function forget_pins(_: void, st: PinState, iova: Iova, npage: number): number {
  // vfio core refuses npage outside 1..512 with a WARN and unpins nothing: keep the record
  if (npage <= 0 || npage > VFIO_PIN_PAGES_MAX_ENTRIES) return 0;
  for (let i = 0; i < npage; i++) st.pins.drop(addIova(iova, i));
  return 0;
}

/** Unpin every recorded pin in IOVA pages [lo, hi), as many times as it was pinned. */
function* unpinRange(k: Kernel, vdev: VfioDevice, lo: number, hi: number): KGen<void> {
  const st = pinState(vdev);
  for (const [a, n] of st.pins.inRange(lo, hi)) for (let j = 0; j < n; j++) yield* driverUnpin(k, vdev, a, 1);
}

/** The driver's DMA-unmap notifier_block (4.10-5.18): its callback is the driver's dma_unmap. */
export function driverNotifier(vdev: VfioDevice): NotifierBlock<DmaUnmapNotice> {
  const st = pinState(vdev);
  st.nb ??= {
    name: `${vdev.ops.name}[${vdev.name}]`,
    *notifier_call(action, d) {
      if (action === VFIO_IOMMU_NOTIFY_DMA_UNMAP && vdev.ops.dma_unmap) yield* vdev.ops.dma_unmap(vdev, d.iovaPage, d.npages);
    },
  };
  return st.nb;
}

/** The driver's VFIO_GROUP_NOTIFY notifier_block (SET_KVM): the samples do nothing with KVM. */
export function driverGroupNotifier(vdev: VfioDevice): NotifierBlock<DmaUnmapNotice> {
  const st = pinState(vdev);
  st.groupNb ??= {
    name: `${vdev.ops.name}[${vdev.name}].group`,
    *notifier_call() {
      yield point(`${vdev.ops.name}: group notifier`);
    },
  };
  return st.groupNb;
}

export function pinningOps(k: Kernel, name: string, hasDmaUnmap: boolean): VfioDeviceOps {
  const ops: VfioDeviceOps = {
    name,
    *open_device(vdev) {
      yield point(`${name}:open_device`);
      if (hasDmaUnmap && k.profile.dmaUnmapNotifier) {
        const st = pinState(vdev);
        st.nbRegistered = (yield* vfio_register_notifier(k, vdev, VFIO_IOMMU_NOTIFY, VFIO_IOMMU_NOTIFY_DMA_UNMAP, driverNotifier(vdev))) === 0;
      }
      return 0;
    },
    *close_device(vdev) {
      const st = pinState(vdev);
      if (st.unpinOnClose) yield* unpinRange(k, vdev, 0, Infinity);
      if (st.nbRegistered && st.unregisterOnClose) {
        yield* vfio_unregister_notifier(k, vdev, VFIO_IOMMU_NOTIFY, driverNotifier(vdev));
        st.nbRegistered = false;
      }
      yield point(`${name}:close_device`);
    },
  };
  if (hasDmaUnmap) {
    ops.dma_unmap = function* (vdev, iovaPage, npages) {
      const st = pinState(vdev);
      st.dma_unmap_calls++;
      st.dma_unmap_ranges.push([BigInt(iovaPage) << 12n, BigInt(npages) << 12n]);
      const p = st.policy;
      if (p.kind === 'never' || (p.kind === 'ignore' && st.ignored < p.n)) {
        st.ignored++;
        yield point(`${name}:dma_unmap ignored`);
        return;
      }
      const lo = iovaPage;
      const hi = iovaPage + npages;
      const first = st.pins.inRange(lo, hi)[0]?.[0];
      const lock = driverLock(k, vdev);
      if (lock) yield* lock.lock();
      yield* unpinRange(k, vdev, lo, hi);
      if (lock) yield* lock.unlock();
      if (p.kind === 'repin' && st.ignored < p.n && first !== undefined) {
        st.ignored++;
        // vfio_dma_do_unmap dropped iommu->lock around the notification, so this pin succeeds
        yield* driverPin(k, vdev, first, 1, IOMMU_READ | IOMMU_WRITE);
      }
    };
  }
  return ops;
}

/** vfio_dma_rw through the device: the DMA engine of the vgpu sample. */
export function* driverRw(k: Kernel, vdev: VfioDevice, iova: bigint, len: bigint, write: boolean): KGen<number> {
  return yield* vfio_dma_rw(k, vdev, iova, len, write);
}
