/**
 * `vgpu`: a GPU-like mediated device with a DMA engine, in the manner of i915 GVT-g/KVMGT. Guest
 * commands make it pin guest pages (gvt_pin_guest_page pins one page with READ|WRITE), access
 * them through vfio_dma_rw, and unpin them; its shadow GTT keeps a working set pinned and churns
 * through it (see `workload`). It honours the unmap contract: dma_unmap unpins everything it
 * pinned in the range, and closing the device unpins everything.
 */
import type { Kernel } from '../../kernel/kernel.js';
import type { KGen } from '../../kernel/sched.js';
import { IOMMU_READ, IOMMU_WRITE } from '../../uapi/vfio.js';
import type { VfioDevice } from '../../vfio/objects.js';
import type { MdevDriver } from '../core.js';
import { driverPin, driverUnpin, PinState, pinningOps } from './pinning.js';
import { addIova, iovaOf } from '../../type1/external.js';

export const vgpuDriver: MdevDriver = {
  name: 'vgpu',
  probe(k) {
    return { ops: pinningOps(k, 'vgpu', true), data: new PinState({ kind: 'unpin' }, true) };
  },
};

export interface Workload {
  /** first guest IOVA of the working set */
  iova: bigint;
  /** pages kept pinned (the shadow GTT's working set) */
  workingSet: number;
  /** pin+unpin pairs of single pages cycling through the working set after it is pinned */
  churn: number;
}

/**
 * Pin the working set one page per call, as GVT-g does, then churn: unpin one page and pin the
 * next one (wrapping), `churn` times. Returns 0 or the first failing vfio_pin_pages errno.
 */
export function* workload(k: Kernel, vdev: VfioDevice, w: Workload): KGen<number> {
  const prot = IOMMU_READ | IOMMU_WRITE;
  const base = iovaOf(w.iova);
  for (let i = 0; i < w.workingSet; i++) {
    const r = yield* driverPin(k, vdev, addIova(base, i), 1, prot);
    if (r < 0) return r;
  }
  for (let c = 0; c < w.churn; c++) {
    const out = addIova(base, c % w.workingSet);
    yield* driverUnpin(k, vdev, out, 1);
    const r = yield* driverPin(k, vdev, out, 1, prot);
    if (r < 0) return r;
  }
  return 0;
}
