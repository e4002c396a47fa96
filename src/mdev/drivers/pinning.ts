/**
 * What the sample vendor drivers share: a record of the pages this device pinned through
 * vfio_pin_pages, and a `dma_unmap` that honours the unmap contract (unpin everything pinned in
 * the range) or, for the misbehaving variants, ignores it.
 *
 * State is per device and guarded by the driver's own lock in a real driver; in the model the
 * vendor calls run on the thread that issued them (a VMM ioctl on the device fd, or the unmap
 * callback), under no lock of ours.
 */
import type { Kernel } from '../../kernel/kernel.js';
import { Mutex } from '../../kernel/locks.js';
import type { KGen } from '../../kernel/sched.js';
import { point } from '../../kernel/sched.js';
import type { VfioDevice, VfioDeviceOps } from '../../vfio/objects.js';
import { IOMMU_READ, IOMMU_WRITE } from '../../uapi/vfio.js';
import { vfio_dma_rw, vfio_pin_pages, vfio_unpin_pages } from '../../vfio/vendor_api.js';
import { VFIO_PIN_PAGES_MAX_ENTRIES } from '../../uapi/vfio.js';

/**
 * How the driver answers dma_unmap: honour it, ignore the first N calls, never, or unpin but pin
 * the range's first pinned page again in the first N calls (a guest command racing the unmap).
 */
export type UnmapPolicy = { kind: 'unpin' } | { kind: 'ignore'; n: number } | { kind: 'never' } | { kind: 'repin'; n: number };

export class PinState {
  /** IOVA (bytes) -> times pinned and not yet unpinned */
  readonly pins = new Map<bigint, number>();
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
  constructor(
    public policy: UnmapPolicy,
    /** close_device unpins everything (false: the driver leaks its pins) */
    public unpinOnClose: boolean,
  ) {}
}

export function pinState(vdev: VfioDevice): PinState {
  return vdev.driverData as PinState;
}

function driverLock(k: Kernel, vdev: VfioDevice): Mutex | null {
  const st = pinState(vdev);
  if (st.racyRecord) return null;
  st.lock ??= new Mutex(`${vdev.ops.name}[${vdev.name}].lock`, k.locks);
  return st.lock;
}

/** The driver pins [iova, iova+npage) and records it; returns vfio_pin_pages' result. */
export function* driverPin(k: Kernel, vdev: VfioDevice, iova: bigint, npage: number, prot: number): KGen<number> {
  const lock = driverLock(k, vdev);
  if (lock) yield* lock.lock();
  const r = yield* vfio_pin_pages(k, vdev, iova, npage, prot);
  if (!lock) yield point(`${vdev.ops.name}: pinned, about to record the pin`);
  if (r.ret > 0) {
    const st = pinState(vdev);
    for (let i = 0; i < r.ret; i++) {
      const a = iova + (BigInt(i) << 12n);
      st.pins.set(a, (st.pins.get(a) ?? 0) + 1);
    }
  }
  if (lock) yield* lock.unlock();
  return r.ret;
}

/** The driver unpins [iova, iova+npage) once and forgets those pins. */
export function* driverUnpin(k: Kernel, vdev: VfioDevice, iova: bigint, npage: number): KGen<void> {
  yield* vfio_unpin_pages(k, vdev, iova, npage);
  // vfio core refuses npage outside 1..512 with a WARN and unpins nothing: keep the record
  if (npage <= 0 || npage > VFIO_PIN_PAGES_MAX_ENTRIES) return;
  const st = pinState(vdev);
  for (let i = 0; i < npage; i++) {
    const a = iova + (BigInt(i) << 12n);
    const n = st.pins.get(a);
    if (n === undefined) continue;
    if (n <= 1) st.pins.delete(a);
    else st.pins.set(a, n - 1);
  }
}

/** Unpin every recorded pin in [lo, hi) bytes, as many times as it was pinned. */
function* unpinRange(k: Kernel, vdev: VfioDevice, lo: bigint, hi: bigint): KGen<void> {
  const st = pinState(vdev);
  const todo = [...st.pins.entries()].filter(([a]) => a >= lo && a < hi).sort((x, y) => (x[0] < y[0] ? -1 : 1));
  for (const [a, n] of todo) for (let j = 0; j < n; j++) yield* driverUnpin(k, vdev, a, 1);
}

export function pinningOps(k: Kernel, name: string, hasDmaUnmap: boolean): VfioDeviceOps {
  const ops: VfioDeviceOps = {
    name,
    *open_device() {
      yield point(`${name}:open_device`);
      return 0;
    },
    *close_device(vdev) {
      const st = pinState(vdev);
      if (st.unpinOnClose) yield* unpinRange(k, vdev, 0n, 1n << 64n);
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
      const lo = BigInt(iovaPage) << 12n;
      const hi = BigInt(iovaPage + npages) << 12n;
      const first = [...st.pins.keys()].filter((a) => a >= lo && a < hi).sort((x, y) => (x < y ? -1 : 1))[0];
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
