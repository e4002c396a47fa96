/**
 * `mtty`: a virtual serial port (samples/vfio-mdev/mtty.c in spirit): exposed as vfio-pci, does
 * no DMA, pins nothing and has no dma_unmap op, so it never joins type1's device_list.
 */
import type { MdevDriver } from '../core.js';
import { PinState, pinningOps } from './pinning.js';

export const mttyDriver: MdevDriver = {
  name: 'mtty',
  probe(k) {
    return { ops: pinningOps(k, 'mtty', false), data: new PinState({ kind: 'unpin' }, true) };
  },
};
