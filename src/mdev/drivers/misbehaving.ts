/**
 * `misbehaving`: a vgpu that breaks the unmap contract. By default it ignores every dma_unmap
 * call and leaks its pins on close, so UNMAP_DMA over its pins loops until the kernel's
 * `BUG_ON(++retries > 10)` in vfio_dma_do_unmap. Scenarios can make it ignore only the first N
 * calls (the unmap then succeeds after N+1 calls). On 4.10-5.18 profiles it also forgets to
 * unregister its DMA-unmap notifier on close (vfio_sanity_check_pfn_list WARNs at the last detach).
 */
import type { MdevDriver } from '../core.js';
import { PinState, pinningOps } from './pinning.js';

export const misbehavingDriver: MdevDriver = {
  name: 'misbehaving',
  probe(k) {
    return { ops: pinningOps(k, 'misbehaving', true), data: new PinState({ kind: 'never' }, false, false) };
  },
};
