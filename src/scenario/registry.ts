/** Every scenario operation: the core syscalls/ioctls and the mediated-device ones. */
import { MDEV_OPS } from '../mdev/ops.js';
import type { OpDef } from './ops.js';
import { CORE_OPS } from './ops.js';

export const OPS: Readonly<Record<string, OpDef>> = { ...CORE_OPS, ...MDEV_OPS };
