/**
 * Differential fuzzing of the model against a real kernel (`vfiolab fuzz`).
 *
 * fast-check generates scenarios within what both backends support: a container with the
 * passthrough group and/or an mdev group, type1 v2 or v1, a 64 KiB buffer, then a sequence of
 * MAP/UNMAP/DIRTY_PAGES/GET_INFO/CHECK_EXTENSION/GROUP_GET_STATUS calls with edge values
 * (addresses and sizes near 0, the 2^39 aperture, the MSI window 0xfee00000, 2^64; every argsz and
 * flag value; dirty bitmaps of odd sizes), mlock/munlock, setrlimit and CAP_IPC_LOCK changes, and
 * mdev pins/unpins/dma_rw. Many sequences run per boot; the model runs each one too, and every step
 * is compared (errno, ret, returned size and fields, VmLck).
 *
 * Shrinking with the kernel in the loop is slow, so it is done by hand: a diverging sequence is cut
 * after its first diverging step, then every one-op-shorter candidate of every divergence is run in
 * one boot per round (bounded), keeping the shortest candidate that still diverges the same way.
 * The minimal scenario is written to `--out` (default fuzz-out/) with the kernel's answer as its
 * expectation and both answers in its description.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { parseScenario, type Scenario } from '../../scenario/load.js';
import type { KernelId } from './config.js';
import { compareScenario, runModelFor, runScenariosOnKernel, type BootStats, type Disagreement } from './conformance.js';

type Op = Record<string, unknown>;

export interface FuzzCase {
  /** host / setup variant */
  setup: { pci: boolean; mdev: boolean; v1: boolean; memlock: string; ipcLock: boolean; dmaLimit?: number; helper?: string };
  ops: Op[];
}

const hexs = (v: bigint): string => '0x' + v.toString(16);
const P = 4096n;
const edgeAddr = fc.constantFrom(0n, P, 2n * P, 0x10000n, 0x100000n, 0xfedff000n, 0xfee00000n, 0xfeeff000n, 0xfef00000n, (1n << 39n) - P, 1n << 39n, (1n << 39n) + P, (1n << 64n) - P, (1n << 63n), 1n, 0x800n);
const smallIova = fc.integer({ min: 0, max: 31 }).map((n) => BigInt(n) * P);
const iovaArb = fc.oneof({ weight: 3, arbitrary: smallIova }, { weight: 2, arbitrary: edgeAddr });
const sizeArb = fc.oneof(
  { weight: 3, arbitrary: fc.integer({ min: 1, max: 16 }).map((n) => BigInt(n) * P) },
  { weight: 2, arbitrary: fc.constantFrom(0n, 1n, P - 1n, P + 1n, 0x10000n, 0x100000n, 1n << 39n, (1n << 64n) - P, 1n << 63n, 0x200000n, 0x1000n) },
);
const argszArb = (std: number): fc.Arbitrary<number | undefined> => fc.oneof({ weight: 6, arbitrary: fc.constant(undefined) }, { weight: 2, arbitrary: fc.constantFrom(0, std - 1, std, std + 1, 4096, 8, 16, 24, 48) });
const bufOff = fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 0, max: 16 }).map((n) => BigInt(n) * P) }, { weight: 1, arbitrary: fc.constantFrom(1n, 0x800n, 0x20000n) });
const vaddrArb = fc.oneof({ weight: 6, arbitrary: bufOff.map((o) => (o ? `buf+${hexs(o)}` : 'buf')) }, { weight: 1, arbitrary: fc.constantFrom('0x0', '0xfee00000', '0x1000') });
const bitmapArb = fc.option(fc.record({ pgsize: fc.constantFrom('0x1000', '0x1000', '0x2000', '0x0', '0x200000'), size: fc.constantFrom('0x0', '0x1', '0x8', '0x8', '0x10', '0x40', '0x2', '0x4') }), { nil: undefined, freq: 2 });

function opArb(pci: boolean, mdev: boolean): fc.Arbitrary<Op> {
  const map = fc.record({ flags: fc.oneof({ weight: 5, arbitrary: fc.constant(3) }, { weight: 3, arbitrary: fc.integer({ min: 0, max: 7 }) }, { weight: 1, arbitrary: fc.constantFrom(8, 0x80000003, 0x10) }), vaddr: vaddrArb, iova: iovaArb, size: sizeArb, argsz: argszArb(32) }).map((r) => ({
    VFIO_IOMMU_MAP_DMA: clean({ fd: 'c', flags: r.flags, vaddr: r.vaddr, iova: hexs(r.iova), size: hexs(r.size), argsz: r.argsz }),
  }));
  // a well-formed map of part of the buffer at a low IOVA, so later pins, unmaps and dirty bitmaps find something
  const goodMap = fc.record({ off: fc.integer({ min: 0, max: 15 }), n: fc.integer({ min: 1, max: 16 }), iova: fc.integer({ min: 0, max: 15 }) }).map((r) => ({
    VFIO_IOMMU_MAP_DMA: { fd: 'c', flags: 3, vaddr: r.off ? `buf+${hexs(BigInt(r.off) * P)}` : 'buf', iova: hexs(BigInt(r.iova) * P), size: hexs(BigInt(Math.min(r.n, 16 - r.off)) * P) },
  }));
  const unmap = fc.record({ flags: fc.oneof({ weight: 5, arbitrary: fc.constant(0) }, { weight: 3, arbitrary: fc.integer({ min: 0, max: 7 }) }, { weight: 1, arbitrary: fc.constantFrom(8, 0x10, 0x80000000) }), iova: iovaArb, size: sizeArb, argsz: argszArb(24), bitmap: bitmapArb }).map((r) => ({
    VFIO_IOMMU_UNMAP_DMA: clean({ fd: 'c', flags: r.flags, iova: hexs(r.iova), size: hexs(r.size), argsz: r.argsz, bitmap: r.bitmap ?? (r.flags & 1 ? { pgsize: '0x1000', size: '0x8' } : undefined) }),
  }));
  const dirty = fc.record({ flags: fc.oneof(fc.constantFrom(1, 2, 4, 4, 4), fc.integer({ min: 0, max: 8 })), iova: iovaArb, size: sizeArb, argsz: argszArb(8), bitmap: bitmapArb }).map((r) => ({
    VFIO_IOMMU_DIRTY_PAGES: clean({ fd: 'c', flags: r.flags, argsz: r.argsz, ...((r.flags & 4) !== 0 ? { iova: hexs(r.iova), size: hexs(r.size), bitmap: r.bitmap ?? { pgsize: '0x1000', size: '0x8' } } : {}) }),
  }));
  const info = fc.constantFrom(4096, 0, 15, 16, 17, 24, 40, 64, 88, 120, 200).map((a) => ({ VFIO_IOMMU_GET_INFO: { fd: 'c', argsz: a } }));
  const ext = fc.integer({ min: 0, max: 11 }).map((e) => ({ VFIO_CHECK_EXTENSION: { fd: 'c', ext: e } }));
  const status = fc.constantFrom(0, 7, 8, 9, 16).map((a) => ({ VFIO_GROUP_GET_STATUS: { fd: pci ? 'g' : 'gm', argsz: a } }));
  const mlock = fc.record({ off: fc.integer({ min: 0, max: 15 }), n: fc.integer({ min: 1, max: 4 }), un: fc.boolean() }).map((r) => ({ [r.un ? 'munlock' : 'mlock']: { addr: r.off ? `buf+${hexs(BigInt(r.off) * P)}` : 'buf', size: hexs(BigInt(Math.min(r.n, 16 - r.off)) * P) } }));
  const rlimit = fc.constantFrom('0', '4K', '8K', '16K', '64K', '1M', 'unlimited').map((m) => ({ setrlimit: { memlock: m } }));
  const cap = fc.boolean().map((b) => ({ capset: { CAP_IPC_LOCK: b } }));
  const munmap = fc.record({ off: fc.integer({ min: 0, max: 15 }), n: fc.integer({ min: 1, max: 16 }) }).map((r) => ({ munmap: { addr: r.off ? `buf+${hexs(BigInt(r.off) * P)}` : 'buf', size: hexs(BigInt(Math.min(r.n, 16 - r.off)) * P) } }));
  const unset = fc.constant({ VFIO_GROUP_UNSET_CONTAINER: { fd: pci ? 'g' : 'gm' } });
  const arbs: fc.WeightedArbitrary<Op>[] = [
    { weight: 5, arbitrary: map },
    { weight: 6, arbitrary: goodMap },
    { weight: 6, arbitrary: unmap },
    { weight: 2, arbitrary: dirty },
    { weight: 1, arbitrary: info },
    { weight: 1, arbitrary: ext },
    { weight: 1, arbitrary: status },
    { weight: 2, arbitrary: mlock },
    { weight: 2, arbitrary: rlimit },
    { weight: 2, arbitrary: cap },
    { weight: 1, arbitrary: munmap },
    { weight: 1, arbitrary: unset },
  ];
  if (mdev) {
    const pin = fc.record({ iova: fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 0, max: 15 }).map((n) => BigInt(n) * P) }, { weight: 2, arbitrary: smallIova }, { weight: 1, arbitrary: edgeAddr }, { weight: 1, arbitrary: fc.constantFrom(0x800n, 0x1001n) }), npage: fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 1, max: 4 }) }, { weight: 1, arbitrary: fc.constantFrom(0, -1, 512, 513) }), prot: fc.constantFrom(3, 3, 1, 2, 0) });
    arbs.push(
      { weight: 5, arbitrary: pin.map((r) => ({ vfio_pin_pages: { device: 'vd', iova: hexs(r.iova), npage: r.npage, prot: r.prot } })) },
      { weight: 3, arbitrary: pin.map((r) => ({ vfio_unpin_pages: { device: 'vd', iova: hexs(r.iova), npage: Math.max(1, Math.min(r.npage, 512)) } })) },
      { weight: 1, arbitrary: fc.record({ iova: fc.oneof(fc.integer({ min: 0, max: 0xffff }).map(BigInt), iovaArb), len: fc.constantFrom(1n, 16n, P, P + 1n, 0x10000n), write: fc.boolean() }).map((r) => ({ vfio_dma_rw: { device: 'vd', iova: hexs(r.iova), len: hexs(r.len), write: r.write } })) },
      { weight: 1, arbitrary: fc.constant({ vendor_state: { device: 'vd' } }) },
    );
  }
  return fc.oneof(...arbs);
}

function clean(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

export const caseArb: fc.Arbitrary<FuzzCase> = fc
  .record({
    kind: fc.constantFrom('pci', 'pci', 'mdev', 'mdev', 'both'),
    v1: fc.integer({ min: 0, max: 9 }).map((n) => n < 2),
    memlock: fc.constantFrom('4K', '8K', '16K', '64K', '64M', '8M'),
    ipcLock: fc.boolean(),
    // a second process sharing the container fd (with its own buffer), with this RLIMIT_MEMLOCK
    helper: fc.option(fc.constantFrom('64M', '16K'), { freq: 3, nil: undefined }),
    dmaLimit: fc.option(fc.constantFrom(2, 3), { freq: 5, nil: undefined }),
    // start with the whole buffer mapped at IOVA 0 (half the cases), so pins and unmaps hit it
    mapFirst: fc.boolean(),
  })
  .chain((s) => {
    const pci = s.kind !== 'mdev';
    const mdev = s.kind !== 'pci';
    const ops = fc.array(s.helper ? fc.oneof({ weight: 3, arbitrary: opArb(pci, mdev) }, { weight: 1, arbitrary: helperOpArb }) : opArb(pci, mdev), { minLength: 1, maxLength: 14 });
    const exit = s.helper ? fc.boolean() : fc.constant(false);
    return fc.tuple(ops, exit).map(([o, ex]) => ({
      setup: { pci, mdev, v1: s.v1, memlock: s.memlock, ipcLock: s.ipcLock, ...(s.helper ? { helper: s.helper } : {}), ...(s.dmaLimit ? { dmaLimit: s.dmaLimit } : {}) },
      ops: [...(s.mapFirst ? [{ VFIO_IOMMU_MAP_DMA: { fd: 'c', flags: 3, vaddr: 'buf', iova: '0x0', size: '0x10000' } }] : []), ...o, ...(ex ? [{ exit: {}, process: 'helper' }] : [])],
    }));
  });

/** Steps of the helper process: its own mappings through the shared container fd, unmaps of anyone's, mlock. */
const helperOpArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ off: fc.integer({ min: 0, max: 15 }), n: fc.integer({ min: 1, max: 16 }), iova: smallIova }).map((r) => ({
    VFIO_IOMMU_MAP_DMA: { fd: 'hc', flags: 3, vaddr: r.off ? `hbuf+${hexs(BigInt(r.off) * P)}` : 'hbuf', iova: hexs(r.iova), size: hexs(BigInt(Math.min(r.n, 16 - r.off)) * P) },
    process: 'helper',
  })),
  fc.record({ iova: smallIova, size: sizeArb, all: fc.integer({ min: 0, max: 3 }) }).map((r) => ({
    VFIO_IOMMU_UNMAP_DMA: r.all === 0 ? { fd: 'hc', flags: 2 } : { fd: 'hc', flags: 0, iova: hexs(r.iova), size: hexs(r.size) },
    process: 'helper',
  })),
  fc.record({ off: fc.integer({ min: 0, max: 15 }), n: fc.integer({ min: 1, max: 4 }) }).map((r) => ({ mlock: { addr: r.off ? `hbuf+${hexs(BigInt(r.off) * P)}` : 'hbuf', size: hexs(BigInt(Math.min(r.n, 16 - r.off)) * P) }, process: 'helper' })),
  fc.constantFrom('0', '16K', 'unlimited').map((m) => ({ setrlimit: { memlock: m }, process: 'helper' })),
);

/** The scenario YAML of a case (expectations optional: `expects[k]` for op k). */
export function caseYaml(c: FuzzCase, name: string, description = '', expects: Record<number, Record<string, unknown>> = {}): string {
  const s = c.setup;
  const host: Record<string, unknown> = { processes: [{ name: 'qemu', memlock: s.memlock, ...(s.ipcLock ? { caps: ['CAP_IPC_LOCK'] } : {}) }, ...(s.helper ? [{ name: 'helper', memlock: s.helper }] : [])] };
  if (s.pci) host.devices = [{ name: 'gpu0', group: 12 }];
  host.iommu = { cache_coherent: false }; // the guest's VT-d has no snoop control
  if (s.mdev) host.mdev = [{ name: 'vgpu-host', driver: 'vgpu', types: [{ name: 'small' }] }];
  const steps: Record<string, unknown>[] = [];
  if (s.mdev) steps.push({ mdev_create: { parent: 'vgpu-host', type: 'small', uuid: '11111111-2222-4333-8444-555555555555', name: 'vgpu0' } });
  steps.push({ open_container: { as: 'c' } });
  if (s.pci) steps.push({ open_group: { group: 12, as: 'g' } }, { VFIO_GROUP_SET_CONTAINER: { fd: 'g', container: 'c' } });
  if (s.mdev) steps.push({ open_group: { group: 'vgpu0', as: 'gm' } }, { VFIO_GROUP_SET_CONTAINER: { fd: 'gm', container: 'c' } });
  steps.push({ VFIO_SET_IOMMU: { fd: 'c', type: s.v1 ? 'VFIO_TYPE1_IOMMU' : 'VFIO_TYPE1v2_IOMMU' } });
  if (s.mdev) steps.push({ VFIO_GROUP_GET_DEVICE_FD: { fd: 'gm', name: 'vgpu0', as: 'vd' } });
  steps.push({ mmap: { as: 'buf', size: '64K' } });
  if (s.helper) steps.push({ share_fd: { fd: 'c', to: 'helper', as: 'hc' } }, { mmap: { as: 'hbuf', size: '64K' }, process: 'helper' });
  c.ops.forEach((op, k) => steps.push(expects[k] ? { ...op, expect: expects[k] } : op));
  const doc = { name, ...(description ? { description } : {}), ...(s.dmaLimit ? { kernel: { params: { dma_entry_limit: s.dmaLimit } } } : {}), host, steps };
  return stringify(doc, { lineWidth: 0 });
}

/** Load a case as a Scenario (generated ops may fail: the fuzzer compares, it does not check expectations). */
export function caseScenario(c: FuzzCase, file: string): Scenario {
  return parseScenario(caseYaml(c, file), file);
}

/** Number of setup steps before the generated ops. */
export function setupLen(c: FuzzCase): number {
  return (c.setup.mdev ? 1 : 0) + 1 + (c.setup.pci ? 2 : 0) + (c.setup.mdev ? 2 : 0) + 1 + (c.setup.mdev ? 1 : 0) + 1 + (c.setup.helper ? 2 : 0);
}

function signature(d: Disagreement): string {
  return `${d.op}:${d.what}:${d.what === 'errno' || d.what === 'outcome' ? `${d.model}->${d.kernel}` : ''}`;
}

interface Found {
  sig: string;
  c: FuzzCase;
  ds: Disagreement[];
}

/** Run cases on the kernel and the model; the disagreements of each case. */
async function runCases(kernel: KernelId, cases: FuzzCase[], batch: number, stats: BootStats, log: (m: string) => void): Promise<Disagreement[][]> {
  const scs = cases.map((c, k) => caseScenario(c, `fuzz-${k}.yaml`));
  const models = scs.map((sc) => runModelFor(kernel, sc));
  // a kernel BUG leaves the process stuck holding its groups, and every later scenario of the boot
  // that opens them hangs too: cases the model expects to BUG get a boot of their own
  const ks = await runScenariosOnKernel(kernel, scs, { batch, log, isolate: (k) => models[k]!.steps.some((s) => s.fatal), boot: { bootTimeoutMs: 900_000, stepTimeoutMs: 5000 } }, stats);
  return scs.map((sc, k) => {
    const r = ks[k]!;
    if (r.unsupported) return [{ file: sc.file, i: -1, line: 0, op: '-', call: '-', what: 'unsupported', model: '-', kernel: r.unsupported }];
    if (r.bootError) return [{ file: sc.file, i: -1, line: 0, op: '-', call: '-', what: 'boot error', model: '-', kernel: r.bootError }];
    return compareScenario(models[k]!, r);
  });
}

export interface FuzzReport {
  kernel: KernelId;
  seed: number;
  runs: number;
  steps: number;
  diverging: number;
  signatures: Record<string, number>;
  saved: string[];
  boots: number;
  wallMs: number;
}

export async function fuzzCampaign(o: { kernel: KernelId; runs: number; seed: number; batch: number; out: string; shrink: boolean; log?: (m: string) => void; maxShrinkRounds?: number }): Promise<FuzzReport> {
  const log = o.log ?? ((m: string) => process.stderr.write(m + '\n'));
  const stats: BootStats = { boots: 0, wallMs: 0 };
  const cases = fc.sample(caseArb, { numRuns: o.runs, seed: o.seed });
  const report: FuzzReport = { kernel: o.kernel, seed: o.seed, runs: cases.length, steps: 0, diverging: 0, signatures: {}, saved: [], boots: 0, wallMs: 0 };
  const dss = await runCases(o.kernel, cases, o.batch, stats, log);
  const found = new Map<string, Found>();
  cases.forEach((c, k) => {
    report.steps += setupLen(c) + c.ops.length;
    const ds = dss[k]!;
    if (!ds.length) return;
    report.diverging++;
    const sig = signature(ds[0]!);
    report.signatures[sig] = (report.signatures[sig] ?? 0) + 1;
    const prev = found.get(sig);
    if (!prev || c.ops.length < prev.c.ops.length) found.set(sig, { sig, c, ds });
  });
  log(`fuzz ${o.kernel}: ${cases.length} sequences, ${report.diverging} diverge, ${found.size} distinct first divergences`);
  // cut each after its first diverging op
  for (const f of found.values()) {
    const k = f.ds[0]!.i - setupLen(f.c);
    if (k >= 0 && k < f.c.ops.length) f.c = { ...f.c, ops: f.c.ops.slice(0, k + 1) };
  }
  if (o.shrink && found.size) {
    const rounds = o.maxShrinkRounds ?? 6;
    for (let round = 0; round < rounds; round++) {
      const cands: { sig: string; c: FuzzCase }[] = [];
      for (const f of found.values()) {
        if (f.c.ops.length <= 1) continue;
        for (let j = 0; j < f.c.ops.length - 1; j++) cands.push({ sig: f.sig, c: { ...f.c, ops: f.c.ops.filter((_, x) => x !== j) } });
      }
      if (!cands.length) break;
      const res = await runCases(o.kernel, cands.map((x) => x.c), o.batch, stats, log);
      let progress = false;
      cands.forEach((cand, k) => {
        const ds = res[k]!;
        if (!ds.length || signature(ds[0]!) !== cand.sig) return;
        const f = found.get(cand.sig)!;
        if (cand.c.ops.length < f.c.ops.length) {
          found.set(cand.sig, { sig: cand.sig, c: cand.c, ds });
          progress = true;
        }
      });
      log(`fuzz ${o.kernel}: shrink round ${round + 1}: ${cands.length} candidates, ${[...found.values()].map((f) => f.c.ops.length).join('/')} ops left`);
      if (!progress) break;
    }
  }
  mkdirSync(o.out, { recursive: true });
  for (const f of found.values()) {
    const d = f.ds[0]!;
    const k = d.i - setupLen(f.c);
    const slug = f.sig.replace(/[^A-Za-z0-9]+/g, '-').replace(/^-|-$/g, '').toLowerCase().slice(0, 60);
    const file = join(o.out, `${o.kernel}-${slug}.yaml`);
    const desc = `Found by vfiolab fuzz --kernel ${o.kernel} --seed ${o.seed}: at ${d.call}\nthe model and the kernel disagree on ${d.what}: model ${d.model}, kernel ${d.kernel}.\nOther differences: ${f.ds.slice(1).map((x) => `step ${x.i} ${x.what}: model ${x.model}, kernel ${x.kernel}`).join('; ') || 'none'}.\nThe expectation below is the kernel's answer.`;
    const expect: Record<string, unknown> = {};
    if (d.what === 'errno') expect.errno = d.kernel === '0' ? 0 : d.kernel;
    else if (d.what === 'VmLck') expect.VmLck = Number(d.kernel);
    else if (d.what === 'ret') expect.ret = Number(d.kernel);
    writeFileSync(file, caseYaml(f.c, `fuzz: ${d.op} ${d.what} (model ${d.model}, kernel ${d.kernel})`, desc, k >= 0 ? { [k]: expect } : {}));
    report.saved.push(file);
  }
  report.boots = stats.boots;
  report.wallMs = stats.wallMs;
  return report;
}

/** `vfiolab fuzz` */
export async function runFuzz(o: { kernel?: string; runs?: string; seed?: string; batch?: string; out?: string; shrink?: boolean }): Promise<number> {
  const kernel = (o.kernel ?? '6.1') as KernelId;
  if (kernel !== '6.1' && kernel !== '6.12') {
    process.stderr.write(`vfiolab: unknown kernel ${kernel}\n`);
    return 2;
  }
  const seed = o.seed !== undefined ? Number(o.seed) : Date.now() % 1_000_000;
  const r = await fuzzCampaign({ kernel, runs: Number(o.runs ?? 200), seed, batch: Number(o.batch ?? 250), out: o.out ?? 'fuzz-out', shrink: o.shrink !== false });
  process.stdout.write(
    [
      `fuzz kernel ${kernel} seed ${seed}: ${r.runs} sequences (${r.steps} steps), ${r.diverging} diverge; ${r.boots} boots, ${(r.wallMs / 1000).toFixed(0)} s of boots`,
      ...Object.entries(r.signatures).map(([s, n]) => `  ${n.toString().padStart(5)}  ${s}`),
      ...r.saved.map((f) => `  saved ${f}`),
    ].join('\n') + '\n',
  );
  return r.diverging ? 1 : 0;
}
