/**
 * Property tests of the type1 model: random sequences of MAP/UNMAP, SET_CONTAINER (attach),
 * UNSET_CONTAINER (detach), mlock/munlock, munmap and close over two IOMMU groups and a few
 * buffers never throw and keep the invariants of src/type1/invariants.ts between syscalls; after
 * everything is unmapped and closed, locked_vm and the pin ledger are back where they started.
 * A second property fuzzes the decoding of ioctl arguments (flags, argsz, sizes, addresses near 0,
 * 2^64, the aperture and the MSI window): every call returns success or an errno, never throws.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { getProfile } from '../kernel/profile.js';
import { Sys } from '../sys/system.js';
import type { ExecCtx } from '../scenario/ops.js';
import { runStep } from '../scenario/exec.js';
import type { StepRecord } from '../scenario/exec.js';
import type { Step } from '../scenario/load.js';
import type { Decoded } from '../scenario/fields.js';
import { ERRNO_NAMES } from '../util/errno.js';
import { EXT, IOCTL, SIZEOF } from '../uapi/vfio.js';
import type { Type1IoctlArg } from './driver.js';
import type { VfioIommu } from './vfio_iommu.js';
import { checkIommu, expectedLockedVm, locked_vm_matches_mappings, no_pins_after_teardown } from './invariants.js';

const PROC = 'qemu';
const BUF_PAGES = 32;
const BUFS = ['b0', 'b1', 'b2'] as const;
const GROUPS = [12, 13] as const;

interface World {
  ctx: ExecCtx;
  /** current fd name of each group (a closed group is reopened under a new name) */
  groupFd: Map<number, string>;
  nextName: number;
  v2: boolean;
  log: string[];
}

function addr(base: string, offPages: number) {
  return { base, offset: BigInt(offPages) << 12n, text: `${base}+${offPages}p` };
}

function newWorld(v2: boolean, memlockPages: number, hugeBuf: boolean, profile = '6.1'): World {
  const sys = Sys.create(getProfile(profile)!, {
    processes: [{ name: PROC, memlock: BigInt(memlockPages) << 12n, caps: [] }],
    devices: [
      { label: 'gpu0', bdf: '0000:01:00.0', group: 12, driver: 'vfio-pci', bars: [] },
      { label: 'nic0', bdf: '0000:02:00.0', group: 13, driver: 'vfio-pci', bars: [] },
    ],
  });
  const w: World = { ctx: { sys, fds: new Map(), bufs: new Map(), proc: PROC }, groupFd: new Map(), nextName: 0, v2, log: [] };
  must(w, 'open_container', { as: 'c' });
  for (const g of GROUPS) {
    const name = `g${g}_${w.nextName++}`;
    must(w, 'open_group', { group: String(g), as: name });
    w.groupFd.set(g, name);
  }
  for (const b of BUFS) {
    must(w, 'mmap', { as: b, size: BigInt(BUF_PAGES) << 12n, ...(hugeBuf && b === 'b2' ? { backing: 'thp', physical: 'contiguous' } : {}) });
  }
  return w;
}

let stepNo = 0;
function step(w: World, op: string, args: Decoded): StepRecord {
  const st: Step = { index: stepNo++, line: 0, op, args, process: PROC };
  const rec = runStep(w.ctx, st);
  w.log.push(`${rec.call} = ${rec.errno ? (ERRNO_NAMES[rec.errno] ?? rec.errno) : rec.ret}`);
  if (rec.fatal) throw new Error(`fatal outcome: ${rec.fatal}\n${w.log.join('\n')}`);
  return rec;
}

function must(w: World, op: string, args: Decoded): StepRecord {
  const rec = step(w, op, args);
  if (rec.errno) throw new Error(`${rec.call} failed with ${rec.errno}\n${w.log.join('\n')}`);
  return rec;
}

function container(w: World) {
  const f = w.ctx.fds.get('c');
  const file = f ? w.ctx.sys.fileOf(f.proc, f.fd) : undefined;
  return file?.kind === 'container' ? file.c : null;
}

function liveIommus(w: World): VfioIommu[] {
  const io = container(w)?.iommu_data;
  return io && !io.released ? [io] : [];
}

/** Every invariant that must hold between syscalls; a message per violation. */
function violations(w: World): string[] {
  const out: string[] = [];
  const iommus = liveIommus(w);
  for (const io of iommus) out.push(...checkIommu(io, 'settled'));
  const mm = w.ctx.sys.proc(PROC).p.mm!;
  const m = locked_vm_matches_mappings(mm, iommus, w.ctx.sys.k.phys);
  if (m) out.push(`locked_vm_matches_mappings: ${m}`);
  if (w.ctx.sys.k.phys.ledger.pages < 0) out.push(`pin ledger at ${w.ctx.sys.k.phys.ledger.pages}`);
  const warns = w.ctx.sys.k.klog.warnings;
  if (warns.length) out.push(`kernel warnings: ${warns.map((x) => x.name).join(', ')}`);
  return out;
}

type Op =
  | { k: 'map'; buf: number; off: number; iova: number; n: number; flags: number }
  | { k: 'unmap'; iova: number; n: number }
  | { k: 'unmap_all' }
  | { k: 'attach'; g: number }
  | { k: 'detach'; g: number }
  | { k: 'close'; g: number }
  | { k: 'mlock'; buf: number; off: number; n: number }
  | { k: 'munlock'; buf: number; off: number; n: number }
  | { k: 'munmap'; buf: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ k: fc.constant('map' as const), buf: fc.nat(2), off: fc.nat(BUF_PAGES), iova: fc.nat(63), n: fc.integer({ min: 1, max: 12 }), flags: fc.constantFrom(1, 2, 3) }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('unmap' as const), iova: fc.nat(63), n: fc.integer({ min: 1, max: 32 }) }) },
  { weight: 1, arbitrary: fc.constant({ k: 'unmap_all' as const }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('attach' as const), g: fc.constantFrom(...GROUPS) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('detach' as const), g: fc.constantFrom(...GROUPS) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('close' as const), g: fc.constantFrom(...GROUPS) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('mlock' as const), buf: fc.nat(2), off: fc.nat(BUF_PAGES - 1), n: fc.integer({ min: 1, max: 16 }) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('munlock' as const), buf: fc.nat(2), off: fc.nat(BUF_PAGES - 1), n: fc.integer({ min: 1, max: 16 }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('munmap' as const), buf: fc.nat(2) }) },
);

function apply(w: World, op: Op): void {
  switch (op.k) {
    case 'map':
      step(w, 'VFIO_IOMMU_MAP_DMA', { fd: 'c', flags: op.flags, vaddr: addr(BUFS[op.buf]!, op.off), iova: BigInt(op.iova) << 12n, size: BigInt(op.n) << 12n });
      return;
    case 'unmap':
      step(w, 'VFIO_IOMMU_UNMAP_DMA', { fd: 'c', iova: BigInt(op.iova) << 12n, size: BigInt(op.n) << 12n });
      return;
    case 'unmap_all':
      step(w, 'VFIO_IOMMU_UNMAP_DMA', { fd: 'c', flags: 2 });
      return;
    case 'attach': {
      const r = step(w, 'VFIO_GROUP_SET_CONTAINER', { fd: w.groupFd.get(op.g)!, container: 'c' });
      if (!r.errno && !container(w)?.iommu_data) must(w, 'VFIO_SET_IOMMU', { fd: 'c', type: w.v2 ? EXT.VFIO_TYPE1v2_IOMMU : EXT.VFIO_TYPE1_IOMMU });
      return;
    }
    case 'detach':
      step(w, 'VFIO_GROUP_UNSET_CONTAINER', { fd: w.groupFd.get(op.g)! });
      return;
    case 'close': {
      must(w, 'close', { fd: w.groupFd.get(op.g)! });
      const name = `g${op.g}_${w.nextName++}`;
      must(w, 'open_group', { group: String(op.g), as: name });
      w.groupFd.set(op.g, name);
      return;
    }
    case 'mlock':
    case 'munlock':
      step(w, op.k, { addr: addr(BUFS[op.buf]!, op.off), size: BigInt(Math.min(op.n, BUF_PAGES - op.off)) << 12n });
      return;
    case 'munmap':
      step(w, 'munmap', { addr: addr(BUFS[op.buf]!, 0) });
      must(w, 'mmap', { as: BUFS[op.buf]!, size: BigInt(BUF_PAGES) << 12n });
      return;
  }
}

function teardown(w: World): void {
  if (container(w)?.iommu_data) must(w, 'VFIO_IOMMU_UNMAP_DMA', { fd: 'c', flags: 2 });
  for (const b of BUFS) step(w, 'munlock', { addr: addr(b, 0) });
  for (const g of GROUPS) must(w, 'close', { fd: w.groupFd.get(g)! });
  must(w, 'close', { fd: 'c' });
}

describe('type1 model: random syscall sequences keep the invariants', () => {
  it('map/unmap/attach/detach/mlock/munlock/munmap/close over two groups and three buffers', () => {
    fc.assert(
      fc.property(fc.boolean(), fc.integer({ min: 0, max: 200 }), fc.boolean(), fc.constantFrom('6.1', '6.12'), fc.array(opArb, { minLength: 1, maxLength: 40 }), (v2, memlock, huge, profile, ops) => {
        const w = newWorld(v2, memlock, huge, profile);
        const mm = w.ctx.sys.proc(PROC).p.mm!;
        const lv0 = mm.locked_vm;
        for (const op of ops) {
          apply(w, op);
          const v = violations(w);
          if (v.length) throw new Error(`${v.join('\n')}\n--- trace\n${w.log.join('\n')}`);
        }
        teardown(w);
        expect(mm.locked_vm, w.log.join('\n')).toBe(lv0);
        expect(no_pins_after_teardown(w.ctx.sys.k.phys), w.log.join('\n')).toBeNull();
        expect(container(w)).toBeNull();
      }),
      { numRuns: 200 },
    );
  });

  it('the accounting rule is exercised: some runs end with a non-zero charge before teardown', () => {
    // guards against a generator that never maps anything (the property would be vacuous)
    const w = newWorld(true, 200, false);
    apply(w, { k: 'attach', g: 12 });
    apply(w, { k: 'map', buf: 0, off: 0, iova: 0, n: 4, flags: 3 });
    apply(w, { k: 'mlock', buf: 1, off: 0, n: 2 });
    const mm = w.ctx.sys.proc(PROC).p.mm!;
    expect(mm.locked_vm).toBe(6);
    expect(expectedLockedVm(mm, liveIommus(w), w.ctx.sys.k.phys)).toBe(6);
    expect(violations(w)).toEqual([]);
  });
});

// ---- fuzzing the ioctl argument decoding ----------------------------------------------------

const U64 = (1n << 64n) - 1n;
const interesting = [0n, 1n, 0xfffn, 0x1000n, 0x1800n, 0x200000n, 0xfee00000n, 0xfeeff000n, 0xfef00000n, (1n << 39n) - 0x1000n, 1n << 39n, 1n << 63n, U64 - 0xfffn, U64 - 0x1000n, U64];
const u64Arb = fc.oneof(fc.constantFrom(...interesting), fc.bigInt({ min: 0n, max: U64 }), fc.bigInt({ min: 0n, max: 1n << 24n }).map((x) => x << 12n));
const u32Arb = fc.oneof(fc.constantFrom(0, 7, 8, 15, 16, 23, 24, 31, 32, 40, 47, 48, 120, 4096, 0xffffffff), fc.nat());
const flagsArb = fc.oneof(fc.nat(7), fc.constantFrom(0x8, 0x80000000, 0xffffffff), fc.nat());
const bitmapArb = fc.option(fc.record({ pgsize: fc.oneof(fc.constantFrom(0n, 0x1000n, 0x2000n, 0x200000n), u64Arb), size: fc.oneof(fc.constantFrom(0n, 8n, 32n, 1n << 28n, (1n << 28n) + 8n), u64Arb), accessible: fc.boolean(), dirty: fc.constant([] as [number, number][]) }), { nil: undefined });

type FuzzCall =
  | { cmd: 'map'; argsz: number; flags: number; vaddr: bigint | 'buf'; iova: bigint; size: bigint; fault: boolean }
  | { cmd: 'unmap'; argsz: number; flags: number; iova: bigint; size: bigint; fault: boolean; bitmap: ReturnType<typeof bitmapArb.generate>['value'] }
  | { cmd: 'info'; argsz: number; fault: boolean }
  | { cmd: 'dirty'; argsz: number; flags: number; iova: bigint; size: bigint; fault: boolean; bitmap: ReturnType<typeof bitmapArb.generate>['value'] };

const fuzzArb: fc.Arbitrary<FuzzCall> = fc.oneof(
  fc.record({ cmd: fc.constant('map' as const), argsz: u32Arb, flags: flagsArb, vaddr: fc.oneof(fc.constant('buf' as const), u64Arb), iova: u64Arb, size: u64Arb, fault: fc.boolean() }),
  fc.record({ cmd: fc.constant('unmap' as const), argsz: u32Arb, flags: flagsArb, iova: u64Arb, size: u64Arb, fault: fc.boolean(), bitmap: bitmapArb }),
  fc.record({ cmd: fc.constant('info' as const), argsz: u32Arb, fault: fc.boolean() }),
  fc.record({ cmd: fc.constant('dirty' as const), argsz: u32Arb, flags: flagsArb, iova: u64Arb, size: u64Arb, fault: fc.boolean(), bitmap: bitmapArb }),
);

const KNOWN_ERRNOS = new Set(Object.keys(ERRNO_NAMES).map(Number));

function ioctlArg(w: World, c: FuzzCall): { cmd: number; arg: Type1IoctlArg } {
  switch (c.cmd) {
    case 'map': {
      const b = w.ctx.bufs.get('b0')!;
      const vaddr = c.vaddr === 'buf' ? BigInt(b.start) << 12n : c.vaddr;
      return { cmd: IOCTL.VFIO_IOMMU_MAP_DMA, arg: { kind: 'map', argsz: c.argsz, flags: c.flags, vaddr, iova: c.iova, size: c.size, fault: c.fault } };
    }
    case 'unmap':
      return { cmd: IOCTL.VFIO_IOMMU_UNMAP_DMA, arg: { kind: 'unmap', argsz: c.argsz, flags: c.flags, iova: c.iova, size: c.size, bitmap: c.bitmap && { ...c.bitmap, dirty: [] }, fault: c.fault, out: { size: -1n } } };
    case 'info':
      return { cmd: IOCTL.VFIO_IOMMU_GET_INFO, arg: { kind: 'info', argsz: c.argsz, fault: c.fault } };
    case 'dirty':
      return { cmd: IOCTL.VFIO_IOMMU_DIRTY_PAGES, arg: { kind: 'dirty', argsz: c.argsz, flags: c.flags, iova: c.iova, size: c.size, bitmap: c.bitmap && { ...c.bitmap, dirty: [] }, fault: c.fault } };
  }
}

describe('ioctl argument decoding never throws', () => {
  for (const setup of ['v2', 'v1', 'no-iommu'] as const) {
    it(`MAP/UNMAP/GET_INFO/DIRTY_PAGES with arbitrary arguments (${setup} container)`, () => {
      fc.assert(
        fc.property(fc.array(fuzzArb, { minLength: 1, maxLength: 12 }), (calls) => {
          const w = newWorld(setup !== 'v1', 1 << 20, false);
          if (setup !== 'no-iommu') apply(w, { k: 'attach', g: 12 });
          const cfd = w.ctx.fds.get('c')!;
          for (const c of calls) {
            const { cmd, arg } = ioctlArg(w, c);
            const ret = w.ctx.sys.call(PROC, w.ctx.sys.sys_ioctl(PROC, cfd.fd, cmd, arg));
            expect(Number.isInteger(ret)).toBe(true);
            if (ret < 0) expect(KNOWN_ERRNOS.has(-ret), `unknown errno ${ret} for ${JSON.stringify(c, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString(16) : v))}`).toBe(true);
            else expect(ret).toBe(0);
            if (setup === 'no-iommu') expect(ret).toBe(-22);
            if (arg.kind === 'info' && ret === 0) expect(arg.argsz).toBeGreaterThanOrEqual(SIZEOF.vfio_iommu_type1_info_minsz);
            const v = violations(w);
            if (v.length) throw new Error(v.join('\n'));
          }
          teardown(w);
          expect(no_pins_after_teardown(w.ctx.sys.k.phys)).toBeNull();
        }),
        { numRuns: 150 },
      );
    });
  }
});
