/** The sample vendor drivers by name, as scenario files refer to them. */
import type { MdevDriver } from '../core.js';
import { misbehavingDriver } from './misbehaving.js';
import { mttyDriver } from './mtty.js';
import { vgpuDriver } from './vgpu.js';

export const MDEV_DRIVERS: Readonly<Record<string, MdevDriver>> = {
  vgpu: vgpuDriver,
  mtty: mttyDriver,
  misbehaving: misbehavingDriver,
};
