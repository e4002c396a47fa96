/**
 * 65535 separate 4 KiB MAP_DMAs into a one-domain container, then their removal, in three orders
 * (`npx tsx bench/manymaps.ts [--quick]`): the row "65535 x MAP_DMA" of bench/report.ts (ascending
 * maps, one UNMAP_DMA FLAG_ALL), plus descending maps and shuffled maps removed one UNMAP_DMA at
 * a time in another shuffled order, which insert into and remove from the middle of `dma_list`
 * and of the IOMMU domain's page table. Wall and CPU time (`process.cpuUsage`); nothing asserted:
 * figures go to BENCHMARKS.md.
 */
import { IOCTL } from '../src/uapi/vfio.js';
import { manySmallMaps, P, RAM_IOVA } from './scenarios.js';
import type { PciContainer } from './scenarios.js';

const quick = process.argv.includes('--quick');
const N = 65535;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

/** A fixed permutation of 0..n-1 (xorshift32 Fisher-Yates), so runs compare. */
function shuffled(n: number, seed: number): number[] {
  const a = Array.from({ length: n }, (_, i) => i);
  let x = seed | 0 || 1;
  for (let i = n - 1; i > 0; i--) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const j = (x >>> 0) % (i + 1);
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

function mapOne(pc: PciContainer, i: number): void {
  const off = BigInt(2 * i) << 12n;
  const r = pc.map(RAM_IOVA + off, pc.ram + off, 4096n);
  if (r !== 0) throw new Error(`MAP_DMA #${i}: ${r}`);
}

function unmapOne(pc: PciContainer, i: number): void {
  const out = { size: -1n };
  const iova = RAM_IOVA + (BigInt(2 * i) << 12n);
  const r = pc.sys.call(P, pc.sys.sys_ioctl(P, pc.c, IOCTL.VFIO_IOMMU_UNMAP_DMA, { kind: 'unmap', argsz: 24, flags: 0, iova, size: 4096n, out }));
  if (r !== 0 || out.size !== 4096n) throw new Error(`UNMAP_DMA #${i}: ${r} ${out.size}`);
}

/** Wall and CPU milliseconds of f(). */
function timed(f: () => void): { wall: number; cpu: number } {
  const c = process.cpuUsage();
  const a = performance.now();
  f();
  const wall = performance.now() - a;
  const cu = process.cpuUsage(c);
  return { wall, cpu: (cu.user + cu.system) / 1000 };
}

const fmt = (t: { wall: number; cpu: number }[], per?: number) => {
  const w = median(t.map((x) => x.wall));
  const c = median(t.map((x) => x.cpu));
  const us = per ? ` (${((w * 1000) / per).toFixed(1)} µs each)` : '';
  return `${w.toFixed(1)} ms wall${us}, ${c.toFixed(1)} ms CPU`;
};

interface Case {
  name: string;
  reps: number;
  map: (pc: PciContainer) => void;
  mapWhat: string;
  remove: (pc: PciContainer) => void;
  removeWhat: string;
}

const up = Array.from({ length: N }, (_, i) => i);
const down = [...up].reverse();
const mapOrder = shuffled(N, 0x2545f491);
const unmapOrder = shuffled(N, 0x9e3779b9);

const cases: Case[] = [
  {
    name: 'ascending',
    reps: quick ? 1 : 3,
    map: (pc) => up.forEach((i) => mapOne(pc, i)),
    mapWhat: `${N} x MAP_DMA 4 KiB, ascending IOVA`,
    remove: (pc) => {
      const u = pc.unmapAll();
      if (u.ret !== 0 || u.size !== BigInt(N) << 12n) throw new Error(`UNMAP_DMA ALL: ${u.ret} ${u.size}`);
    },
    removeWhat: 'UNMAP_DMA FLAG_ALL over them',
  },
  {
    name: 'descending',
    reps: 1,
    map: (pc) => down.forEach((i) => mapOne(pc, i)),
    mapWhat: `${N} x MAP_DMA 4 KiB, descending IOVA`,
    remove: (pc) => {
      const u = pc.unmapAll();
      if (u.ret !== 0 || u.size !== BigInt(N) << 12n) throw new Error(`UNMAP_DMA ALL: ${u.ret} ${u.size}`);
    },
    removeWhat: 'UNMAP_DMA FLAG_ALL over them',
  },
  {
    name: 'shuffled',
    reps: 1,
    map: (pc) => mapOrder.forEach((i) => mapOne(pc, i)),
    mapWhat: `${N} x MAP_DMA 4 KiB, shuffled IOVA`,
    remove: (pc) => unmapOrder.forEach((i) => unmapOne(pc, i)),
    removeWhat: `${N} x UNMAP_DMA 4 KiB, another shuffled order`,
  },
];

const only = process.argv.slice(2).filter((a) => !a.startsWith('--'));
for (const c of cases) {
  if (only.length && !only.includes(c.name)) continue;
  const mapT: { wall: number; cpu: number }[] = [];
  const rmT: { wall: number; cpu: number }[] = [];
  for (let r = 0; r < c.reps; r++) {
    const s = manySmallMaps(N);
    mapT.push(timed(() => c.map(s.pc)));
    rmT.push(timed(() => c.remove(s.pc)));
  }
  console.log(`${c.mapWhat}: ${fmt(mapT, N)}`);
  console.log(`${c.removeWhat}: ${fmt(rmT)}`);
}
