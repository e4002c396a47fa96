/**
 * The 4.10-5.18 vendor API (user_pfn lists, DMA-unmap notifier) on the 4.10 profile.
 *
 * Property: random non-contiguous pin/unpin lists (repeats, holes, READ-only pages, a small
 * RLIMIT_MEMLOCK), interleaved with UNMAP/MAP of a mapping (the notifier path) and hot-add/remove
 * of a passthrough group, keep the accounting invariant (spec §5.3 A10) and one page reference per
 * vfio_pfn between calls; a failed pin changes nothing (all or nothing); the sample driver's record
 * matches type1's ref counts; and after teardown no page is pinned, locked_vm is 0 and no
 * vfio_sanity_check_pfn_list WARN was raised.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parseScenario } from '../scenario/load.js';
import type { Step } from '../scenario/load.js';
import { newContext, runStep } from '../scenario/exec.js';
import type { StepRecord } from '../scenario/exec.js';
import type { ExecCtx } from '../scenario/ops.js';
import type { Decoded } from '../scenario/fields.js';
import { invariantByName, iommus } from '../sys/invariants.js';
import { NOTIFIER_LEFT_REGISTERED } from '../type1/attach.js';
import { pinState } from '../mdev/drivers/pinning.js';

const SETUP = (memlockPages: number): string => `
name: property world
kernel: { profile: "4.10" }
host:
  processes: [{ name: qemu, memlock: ${memlockPages * 4}K }]
  devices: [{ name: nic0, group: 3 }]
  mdev:
    - { name: vgpu-host, driver: vgpu, types: [{ name: small }] }
steps:
  - mdev_create: { parent: vgpu-host, type: small, uuid: "11111111-2222-4333-8444-555555555555", name: vgpu0 }
  - open_container: { as: c }
  - open_group: { group: vgpu0, as: gm }
  - VFIO_GROUP_SET_CONTAINER: { fd: gm, container: c }
  - VFIO_SET_IOMMU: { fd: c, type: VFIO_TYPE1v2_IOMMU }
  - VFIO_GROUP_GET_DEVICE_FD: { fd: gm, name: vgpu0, as: vd }
  - mmap: { as: rw, size: 96K }
  - mmap: { as: ro, size: 32K }
  - VFIO_IOMMU_MAP_DMA: { fd: c, flags: [READ, WRITE], vaddr: rw, iova: 0x100000, size: 96K }
  - VFIO_IOMMU_MAP_DMA: { fd: c, flags: [READ], vaddr: ro, iova: 0x200000, size: 32K }
`;

/** IOVA pages the lists draw from: the RW mapping (24 pages), the READ-only one (8), and holes. */
const POOL = [...Array.from({ length: 24 }, (_, i) => 0x100 + i), ...Array.from({ length: 8 }, (_, i) => 0x200 + i), 0x0, 0x118, 0x1ff, 0x208];

type Cmd =
  | { k: 'pin'; pfns: number[]; write: boolean }
  | { k: 'unpin'; pfns: number[] }
  | { k: 'remap' }
  | { k: 'hotplug' };

const pfnList = fc.array(fc.constantFrom(...POOL), { minLength: 1, maxLength: 12 });
const cmd: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ k: fc.constant('pin' as const), pfns: pfnList, write: fc.boolean() }) },
  { weight: 5, arbitrary: fc.record({ k: fc.constant('unpin' as const), pfns: pfnList }) },
  { weight: 1, arbitrary: fc.constant({ k: 'remap' as const }) },
  { weight: 1, arbitrary: fc.constant({ k: 'hotplug' as const }) },
);

let n = 0;
function run(ctx: ExecCtx, op: string, args: Decoded): StepRecord {
  const st: Step = { index: n++, line: 0, op, args, process: 'qemu' };
  const rec = runStep(ctx, st);
  if (rec.fatal) throw new Error(`${rec.call}: ${rec.fatal}`);
  return rec;
}

function must(ctx: ExecCtx, op: string, args: Decoded): StepRecord {
  const rec = run(ctx, op, args);
  if (rec.errno) throw new Error(`${rec.call} failed with errno ${rec.errno}`);
  return rec;
}

function settled(ctx: ExecCtx, what: string): void {
  for (const name of ['accounting_matches_rule', 'vfio_pfn_holds_one_reference', 'iommu_mapped_iff_domain', 'notifier_unregistered_before_detach']) {
    const m = invariantByName(name)!.check(ctx.sys);
    if (m) throw new Error(`after ${what}: ${name}: ${m}`);
  }
  // the driver's record is type1's: every pin it holds is one ref_count of a vfio_pfn
  const vd = ctx.sys.vdevs.get('vgpu0')!;
  const held = pinState(vd).pins.total();
  let refs = 0;
  for (const io of iommus(ctx.sys)) for (const d of io.dma_list) for (const v of d.pfn_list.values()) refs += v.ref_count;
  if (held !== refs) throw new Error(`after ${what}: the driver holds ${held} pins, type1 counts ${refs} references`);
}

describe('4.10 vendor API: random user_pfn lists', () => {
  it('keep the accounting invariant, unwind failures completely, and leave nothing pinned after teardown', () => {
    fc.assert(
      fc.property(fc.constantFrom(6, 12, 64), fc.array(cmd, { minLength: 1, maxLength: 25 }), (memlock, cmds) => {
        const sc = parseScenario(SETUP(memlock), 'prop.yaml');
        const ctx = newContext(sc);
        for (const st of sc.steps) must(ctx, st.op, st.args);
        let pci = false;
        for (const c of cmds) {
          const k = ctx.sys.k;
          const mm = ctx.sys.proc('qemu').p.mm!;
          if (c.k === 'pin') {
            const before = { lv: mm.locked_vm, pages: k.phys.ledger.pages, sum: k.phys.ledger.sum };
            const rec = run(ctx, 'vfio_pin_pages', { device: 'vd', user_pfn: c.pfns.map(BigInt), prot: c.write ? 3 : 1 });
            if (rec.errno) {
              expect({ lv: mm.locked_vm, pages: k.phys.ledger.pages, sum: k.phys.ledger.sum }, `${rec.call} failed: nothing may change`).toEqual(before);
              expect(rec.fields.phys_pfn).toEqual(c.pfns.map(() => 0));
            } else expect(rec.ret).toBe(c.pfns.length);
          } else if (c.k === 'unpin') {
            const rec = run(ctx, 'vfio_unpin_pages', { device: 'vd', user_pfn: c.pfns.map(BigInt) });
            expect(rec.errno, rec.call).toBe(0);
          } else if (c.k === 'remap') {
            must(ctx, 'VFIO_IOMMU_UNMAP_DMA', { fd: 'c', iova: 0x100000n, size: 96n << 10n });
            must(ctx, 'VFIO_IOMMU_MAP_DMA', { fd: 'c', flags: 3, vaddr: { base: 'rw', offset: 0n, text: 'rw' }, iova: 0x100000n, size: 96n << 10n });
          } else if (!pci) {
            // hot-add charges the whole mappings (32 pages); only when the limit allows it
            if (memlock < 64) continue;
            must(ctx, 'open_group', { group: '3', as: 'gp' });
            must(ctx, 'VFIO_GROUP_SET_CONTAINER', { fd: 'gp', container: 'c' });
            pci = true;
          } else {
            must(ctx, 'close', { fd: 'gp' });
            pci = false;
          }
          settled(ctx, c.k);
        }
        // teardown: the driver unpins and unregisters at close, then the groups leave
        must(ctx, 'close', { fd: 'vd' });
        if (pci) must(ctx, 'close', { fd: 'gp' });
        must(ctx, 'close', { fd: 'gm' });
        must(ctx, 'close', { fd: 'c' });
        expect(ctx.sys.proc('qemu').p.mm!.locked_vm).toBe(0);
        expect(invariantByName('no_pins_after_teardown')!.check(ctx.sys)).toBeNull();
        expect(ctx.sys.k.phys.ledger.pages).toBe(0);
        expect(ctx.sys.k.klog.warnings.map((w) => w.name)).not.toContain(NOTIFIER_LEFT_REGISTERED);
      }),
      { numRuns: 150 },
    );
  });
});

describe('4.10 notifier WARN at the last mdev detach', () => {
  const text = (unregister: boolean): string =>
    SETUP(64) +
    `  - vendor_unmap_policy: { device: vd, policy: unpin, unregister_on_close: ${String(unregister)} }
  - close: { fd: vd }
  - VFIO_GROUP_UNSET_CONTAINER: { fd: gm }
`;
  const last = (unregister: boolean): { warnings: string[]; inv: string | null } => {
    const sc = parseScenario(text(unregister), 'w.yaml');
    const ctx = newContext(sc);
    let rec: StepRecord | null = null;
    for (const st of sc.steps) rec = runStep(ctx, st);
    return { warnings: rec!.warnings, inv: invariantByName('notifier_unregistered_before_detach')!.check(ctx.sys) };
  };

  it('is silent when the driver unregistered at close', () => {
    expect(last(true)).toEqual({ warnings: [], inv: null });
  });

  it('names the notifier a driver forgot, as a WARN and as an invariant', () => {
    const r = last(false);
    expect(r.warnings).toEqual([NOTIFIER_LEFT_REGISTERED]);
    expect(r.inv).toMatch(/DMA-unmap notifier still registered/);
  });
});
