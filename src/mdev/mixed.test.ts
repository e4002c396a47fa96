/**
 * Property tests: random sequential mixes of MAP/UNMAP, vendor pin/unpin/dma_rw, and
 * attach/detach (VFIO_GROUP_SET_CONTAINER / UNSET_CONTAINER) of a passthrough group and an mdev
 * group in one v2 container keep the locked-memory accounting invariant (spec §5.3 A10, §8.2 I3-I5):
 *
 * - with an IOMMU domain: charged = the non-reserved mapped pages, each pinned once by the IOMMU
 *   path, plus one extra page reference per vfio_pfn;
 * - without one: charged = the distinct (by IOVA) external pins (vfio_pfns), one reference each;
 * - after the vendor unpins everything, everything is unmapped and every fd is closed, no page
 *   reference is left and nothing is charged.
 *
 * Vendor pins here are page aligned: A10 does not hold for unaligned ones, which the kernel
 * charges once more per IOVA key and, across a passthrough hot-plug, can leave charged forever
 * (scenarios/mdev/pin-unaligned-then-hotplug-leaks-charge.yaml, checked on a real 6.1).
 *
 * The same kind of mixes (vgpu opened in the setup, 150 samples, seed 12) were also run through
 * `vfiolab diff --kernel 6.1`: 4596 steps, every errno, return value and VmLck equal to the real
 * kernel's.
 *
 * Steps are built as scenario text, parsed by the loader and run one by one with `runStep`, so
 * the invariant is checked on the live model between steps. Failing steps (EEXIST, EBUSY,
 * ENOMEM, ...) are expected in random mixes: the invariant must hold after them too.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parseScenario } from '../scenario/load.js';
import { newContext, runStep } from '../scenario/exec.js';
import type { ExecCtx } from '../scenario/ops.js';

const SLOTS = 4;
const SLOT_PAGES = 8;

type Cmd =
  | { op: 'map'; slot: number; write: boolean }
  | { op: 'unmap'; slot: number }
  | { op: 'unmap_all' }
  | { op: 'pin'; slot: number; page: number; n: number; write: boolean }
  | { op: 'unpin'; slot: number; page: number; n: number }
  | { op: 'rw'; slot: number; write: boolean }
  | { op: 'attach'; g: 'gp' | 'gm' }
  | { op: 'detach'; g: 'gp' | 'gm' }
  | { op: 'vdev_open' }
  | { op: 'vdev_close' };

const slot = fc.integer({ min: 0, max: SLOTS - 1 });
const cmd: fc.Arbitrary<Cmd> = fc.oneof(
  { arbitrary: fc.record({ op: fc.constant('map' as const), slot, write: fc.boolean() }), weight: 4 },
  { arbitrary: fc.record({ op: fc.constant('unmap' as const), slot }), weight: 2 },
  { arbitrary: fc.constant({ op: 'unmap_all' as const }), weight: 1 },
  {
    arbitrary: fc.record({ op: fc.constant('pin' as const), slot, page: fc.integer({ min: 0, max: SLOT_PAGES - 3 }), n: fc.integer({ min: 1, max: 3 }), write: fc.boolean() }),
    weight: 8,
  },
  // occasionally past the end of the slot (EINVAL and a rollback when the slot is mapped)
  {
    arbitrary: fc.record({ op: fc.constant('pin' as const), slot, page: fc.integer({ min: 0, max: SLOT_PAGES + 1 }), n: fc.integer({ min: 1, max: 4 }), write: fc.boolean() }),
    weight: 1,
  },
  { arbitrary: fc.record({ op: fc.constant('unpin' as const), slot, page: fc.integer({ min: 0, max: SLOT_PAGES + 1 }), n: fc.integer({ min: 1, max: 4 }) }), weight: 4 },
  { arbitrary: fc.record({ op: fc.constant('rw' as const), slot, write: fc.boolean() }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('attach' as const), g: fc.constantFrom('gp' as const, 'gm' as const) }), weight: 3 },
  { arbitrary: fc.record({ op: fc.constant('detach' as const), g: fc.constantFrom('gp' as const, 'gm' as const) }), weight: 2 },
  { arbitrary: fc.constant({ op: 'vdev_open' as const }), weight: 2 },
  { arbitrary: fc.constant({ op: 'vdev_close' as const }), weight: 1 },
);

/**
 * A mix: a random setup (which groups join first, whether the vgpu's device is opened, which
 * slots are mapped) so that pins, replays and reaccounts are common, then a random body.
 */
const mix: fc.Arbitrary<Cmd[]> = fc
  .record({
    first: fc.oneof(
      { arbitrary: fc.constantFrom<('gp' | 'gm')[]>(['gm'], ['gm', 'gp'], ['gp', 'gm']), weight: 6 },
      { arbitrary: fc.constantFrom<('gp' | 'gm')[]>(['gp'], []), weight: 1 },
    ),
    vdev: fc.oneof({ arbitrary: fc.constant(true), weight: 7 }, { arbitrary: fc.constant(false), weight: 1 }),
    maps: fc.subarray([0, 1, 2, 3]),
    body: fc.array(cmd, { minLength: 1, maxLength: 40 }),
  })
  .map(({ first, vdev, maps, body }) => [
    ...first.map((g): Cmd => ({ op: 'attach', g })),
    ...(vdev ? [{ op: 'vdev_open' } as Cmd] : []),
    ...maps.map((sl): Cmd => ({ op: 'map', slot: sl, write: true })),
    ...body,
  ]);

const hex = (n: number): string => `0x${n.toString(16)}`;
const slotIova = (s: number): number => s * 0x10000;

function stepText(c: Cmd): string[] {
  switch (c.op) {
    case 'map':
      return [`- VFIO_IOMMU_MAP_DMA: { fd: c, flags: [READ${c.write ? ', WRITE' : ''}], vaddr: ram+${c.slot * SLOT_PAGES * 4}K, iova: ${hex(slotIova(c.slot))}, size: ${SLOT_PAGES * 4}K }`];
    case 'unmap':
      return [`- VFIO_IOMMU_UNMAP_DMA: { fd: c, iova: ${hex(slotIova(c.slot))}, size: ${SLOT_PAGES * 4}K }`];
    case 'unmap_all':
      return ['- VFIO_IOMMU_UNMAP_DMA: { fd: c, flags: [ALL] }'];
    case 'pin':
      return [`- vfio_pin_pages: { device: vd, iova: ${hex(slotIova(c.slot) + c.page * 4096)}, npage: ${c.n}, prot: [READ${c.write ? ', WRITE' : ''}] }`];
    case 'unpin':
      return [`- vfio_unpin_pages: { device: vd, iova: ${hex(slotIova(c.slot) + c.page * 4096)}, npage: ${c.n} }`];
    case 'rw':
      return [`- vfio_dma_rw: { device: vd, iova: ${hex(slotIova(c.slot) + 0x800)}, len: 8K${c.write ? ', write: true' : ''} }`];
    case 'attach':
      // the first group of an empty container also needs the IOMMU model chosen
      return [`- VFIO_GROUP_SET_CONTAINER: { fd: ${c.g}, container: c }`, '- VFIO_SET_IOMMU: { fd: c, type: VFIO_TYPE1v2_IOMMU }'];
    case 'detach':
      return [`- VFIO_GROUP_UNSET_CONTAINER: { fd: ${c.g} }`];
    case 'vdev_open':
      return ['- VFIO_GROUP_GET_DEVICE_FD: { fd: gm, name: vgpu0, as: vd }'];
    case 'vdev_close':
      return ['- close: { fd: vd }'];
  }
}

const TEARDOWN = [
  '- close: { fd: vd }', // the vgpu unpins everything it holds in close_device
  '- VFIO_IOMMU_UNMAP_DMA: { fd: c, flags: [ALL] }',
  '- close: { fd: gp }',
  '- close: { fd: gm }',
  '- close: { fd: c }',
];

function scenarioText(memlock: string, cmds: Cmd[]): string {
  const steps = [
    '- mdev_create: { parent: vgpu-host, type: small, uuid: "11111111-2222-4333-8444-555555555555", name: vgpu0 }',
    '- open_container: { as: c }',
    '- open_group: { group: 12, as: gp }',
    '- open_group: { group: vgpu0, as: gm }',
    `- mmap: { as: ram, size: ${SLOTS * SLOT_PAGES * 4}K }`,
    // name the device fd once so later steps may refer to it (this open fails: no container yet)
    '- VFIO_GROUP_GET_DEVICE_FD: { fd: gm, name: vgpu0, as: vd }',
    ...cmds.flatMap(stepText),
    ...TEARDOWN,
  ];
  return [
    'name: random mix',
    'host:',
    `  processes: [{ name: qemu, memlock: ${memlock} }]`,
    '  devices: [{ name: gpu0, group: 12 }]',
    '  mdev: [{ name: vgpu-host, driver: vgpu, types: [{ name: small }] }]',
    'steps:',
    ...steps.map((s) => `  ${s}`),
  ].join('\n');
}

interface Expected {
  charged: number;
  refs: number;
}

/** What A10 and I3/I4 say locked_vm and the pin ledger must be, from type1's state. */
function expected(ctx: ExecCtx): Expected {
  const cfd = ctx.fds.get('c');
  const f = cfd ? ctx.sys.fileOf(cfd.proc, cfd.fd) : undefined;
  const io = f?.kind === 'container' ? f.c.iommu_data : null;
  if (!io || io.released) return { charged: 0, refs: 0 };
  const phys = ctx.sys.k.phys;
  const hasDomain = io.domain_list.length > 0;
  let charged = 0;
  let refs = 0;
  for (const dma of io.dma_list) {
    let vpfns = 0;
    for (const v of dma.pfn_list.values()) if (!phys.isInvalidReserved(v.pfn)) vpfns++;
    refs += vpfns;
    if (hasDomain) {
      charged += dma.size; // RAM only: every page is non-reserved
      refs += dma.size;
    } else charged += vpfns;
  }
  return { charged, refs };
}

/** Allowed WARNs in a random mix: unpin past the end of a mapping is vendor misuse, not a bug. */
const ALLOWED_WARNINGS = new Set(['vfio_unpin_pages:short']);

function runMix(memlock: string, cmds: Cmd[]): void {
  const sc = parseScenario(scenarioText(memlock, cmds), 'mixed.test.ts');
  const ctx = newContext(sc);
  const mm = ctx.sys.proc('qemu').p.mm!;
  for (const st of sc.steps) {
    const rec = runStep(ctx, st);
    const where = `after step ${st.index} ${rec.call} = ${rec.errno ? `-${rec.errno}` : rec.ret}`;
    expect(rec.fatal, where).toBeUndefined();
    for (const w of rec.warnings) expect(ALLOWED_WARNINGS.has(w), `${where}: WARN ${w}`).toBe(true);
    const e = expected(ctx);
    expect(mm.locked_vm, `${where}: locked_vm`).toBe(e.charged);
    expect(ctx.sys.k.phys.ledger.pages, `${where}: page references held`).toBe(e.refs);
  }
  expect(mm.locked_vm, 'locked_vm after teardown').toBe(0);
  expect(ctx.sys.k.phys.ledger.pages, 'pinned pages after teardown').toBe(0);
}

interface StepOutcome {
  op: string;
  errno: number;
  locked_vm: number;
  peak: number;
}

/** Run a mix and record each step's errno and locked_vm afterwards. */
function outcomes(memlock: string, cmds: Cmd[]): StepOutcome[] {
  const sc = parseScenario(scenarioText(memlock, cmds), 'mixed.test.ts');
  const ctx = newContext(sc);
  return sc.steps.map((st) => {
    const rec = runStep(ctx, st);
    return { op: rec.call, errno: rec.errno, locked_vm: rec.counters.locked_vm, peak: ctx.sys.proc('qemu').p.mm?.peakLockedVm ?? 0 };
  });
}

describe('random mixes of map/unmap/pin/unpin/attach/detach with a passthrough and an mdev group', () => {
  it('keep locked_vm = (IOMMU domain ? mapped pages : distinct vfio_pfns) and leave nothing pinned', () => {
    fc.assert(
      fc.property(fc.constantFrom('unlimited', '64M', '48K', '16K'), mix, (memlock, cmds) => {
        runMix(memlock, cmds);
      }),
      { numRuns: 300 },
    );
  });

  it('the peak locked_vm of a run is exactly the minimal RLIMIT_MEMLOCK for it (the seed matrix, generalised)', () => {
    // Run once without a limit and take the peak P of locked_vm. At a limit of P every step
    // gives the same answer; at P - 1 pages the first step that reached P fails with ENOMEM
    // and every step before it is unchanged. This is the reviewer's question for any sequence.
    fc.assert(
      fc.property(mix, (cmds) => {
        const free = outcomes('unlimited', cmds);
        // the peak includes charges a failing call made and rolled back (a multi-page pin that
        // fails on a later page): the limit has to cover them too
        const peak = Math.max(0, ...free.map((o) => o.peak));
        const at = outcomes(`${peak * 4}K`, cmds);
        expect(at.map((o) => [o.op, o.errno, o.locked_vm])).toEqual(free.map((o) => [o.op, o.errno, o.locked_vm]));
        if (peak === 0) return;
        const below = outcomes(`${(peak - 1) * 4}K`, cmds);
        const first = free.findIndex((o) => o.peak === peak);
        for (let i = 0; i < first; i++) expect([below[i]!.op, below[i]!.errno, below[i]!.locked_vm], `step ${i}`).toEqual([free[i]!.op, free[i]!.errno, free[i]!.locked_vm]);
        expect(below[first]!.errno, `${below[first]!.op} at one page below the peak`).toBe(12); // ENOMEM
      }),
      { numRuns: 200 },
    );
  });

  it('hot-plug cycles: attach and detach the passthrough group around vendor pins', () => {
    // a targeted shape: mdev first, pins, then passthrough in and out repeatedly
    const cycle = fc.array(
      fc.oneof(
        fc.record({ op: fc.constant('pin' as const), slot, page: fc.integer({ min: 0, max: SLOT_PAGES - 1 }), n: fc.integer({ min: 1, max: 3 }), write: fc.constant(true) }),
        fc.record({ op: fc.constant('unpin' as const), slot, page: fc.integer({ min: 0, max: SLOT_PAGES - 1 }), n: fc.integer({ min: 1, max: 3 }) }),
        fc.constant({ op: 'attach' as const, g: 'gp' as const }),
        fc.constant({ op: 'detach' as const, g: 'gp' as const }),
      ),
      { minLength: 1, maxLength: 30 },
    );
    fc.assert(
      fc.property(fc.constantFrom('unlimited', '64K', '40K'), cycle, (memlock, body) => {
        const setup: Cmd[] = [{ op: 'attach', g: 'gm' }, { op: 'vdev_open' }];
        for (let s = 0; s < SLOTS; s++) setup.push({ op: 'map', slot: s, write: true });
        runMix(memlock, [...setup, ...body]);
      }),
      { numRuns: 200 },
    );
  });
});
