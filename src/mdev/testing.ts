/**
 * For tests: a 6.1 scenario world with one vgpu mdev (device fd `vd`) in a type1 container and
 * 64 KiB of guest RAM mapped at IOVA 0x100000 (16 pages), then the test's own steps.
 */
import { newContext, runStep } from '../scenario/exec.js';
import { parseScenario } from '../scenario/load.js';
import type { ExecCtx } from '../scenario/ops.js';
import type { VfioPfn } from '../type1/vfio_iommu.js';
import { iommus } from '../sys/invariants.js';

const SETUP = `
name: one vgpu, 64K mapped at 0x100000
host:
  processes: [{ name: qemu, memlock: 1M }]
  mdev:
    - { name: vgpu-host, driver: vgpu, types: [{ name: small }] }
steps:
  - mdev_create: { parent: vgpu-host, type: small, uuid: "11111111-2222-4333-8444-555555555555", name: vgpu0 }
  - open_container: { as: c }
  - open_group: { group: vgpu0, as: gm }
  - VFIO_GROUP_SET_CONTAINER: { fd: gm, container: c }
  - VFIO_SET_IOMMU: { fd: c, type: VFIO_TYPE1v2_IOMMU }
  - VFIO_GROUP_GET_DEVICE_FD: { fd: gm, name: vgpu0, as: vd }
  - mmap: { as: ram, size: 64K }
  - VFIO_IOMMU_MAP_DMA: { fd: c, flags: [READ, WRITE], vaddr: ram, iova: 0x100000, size: 64K }
`;
/** How many steps SETUP has: the test's steps are numbered from here. */
export const SETUP_STEPS = 8;

export interface MdevWorld {
  readonly ctx: ExecCtx;
  /** Run step `i` (0-based, setup included), which must succeed. */
  run(i: number): void;
}

/** The world with its setup and the first `upTo - SETUP_STEPS` of `steps` (YAML step lines) run. */
export function mdevWorld(steps: readonly string[], upTo = SETUP_STEPS): MdevWorld {
  const sc = parseScenario(SETUP + steps.map((s) => `  - ${s}\n`).join(''), 'mdev-world.yaml');
  const ctx = newContext(sc);
  const run = (i: number): void => {
    const r = runStep(ctx, sc.steps[i]!);
    if (r.errno || r.fatal) throw new Error(`mdevWorld step ${i}: ${r.call} failed (errno ${r.errno}${r.fatal ? `, ${r.fatal}` : ''})`);
  };
  for (let i = 0; i < upTo; i++) run(i);
  return { ctx, run };
}

/** Every vfio_pfn of every container, by key. */
export function vpfns(ctx: ExecCtx): Map<number | string, VfioPfn> {
  const out = new Map<number | string, VfioPfn>();
  for (const io of iommus(ctx.sys)) for (const d of io.dma_list) for (const v of d.pfn_list.values()) out.set(v.key, v);
  return out;
}
