/**
 * The speed targets of issues 2 and 3, measured and printed as a table (`npx tsx bench/report.ts`;
 * `--quick` runs fewer repetitions). Figures are reported, never asserted: BENCHMARKS.md records
 * them with the command, machine and date.
 *
 * Every timed operation gets a fresh host (setup is not timed); a figure is the median of the
 * repetitions, with the fastest alongside. Heap growth is heapUsed after the operation minus
 * heapUsed after a forced GC before it (so it counts garbage too), and what stays after another GC.
 */
import os from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Backing } from '../src/host/mm.js';
import { GiB, hotplug, manySmallMaps, mapWhole, P, pages, TiB } from './scenarios.js';
import { skeletonPairs } from './skeleton.js';
import { compileRows, ROW_NAMES, rowFigure, runRow } from './churn.js';
import { tuneV8, v8Config } from '../src/util/v8-tuning.js';

setFlagsFromString('--expose-gc');
tuneV8(); // as the CLI runs (src/util/v8-tuning.ts); VFIOLAB_V8_DEFAULTS=1 for V8's defaults
const gc = runInNewContext('gc') as () => void;

const quick = process.argv.includes('--quick');
const REPS = quick ? 3 : 7;

interface Row {
  issue: string;
  what: string;
  figure: string;
  target: string;
  verdict: string;
}
const rows: Row[] = [];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}
const ms = (x: number) => (x < 10 ? x.toFixed(2) : x.toFixed(1)) + ' ms';
const mb = (x: number) => (x / 1e6).toFixed(1) + ' MB';

/** Time `run` after a fresh `setup` each repetition. */
function timeFresh<T>(reps: number, setup: () => T, run: (s: T) => unknown): { med: number; min: number; heapGrow: number; heapKept: number } {
  const t: number[] = [];
  let heapGrow = 0;
  let heapKept = 0;
  for (let i = 0; i < reps; i++) {
    const s = setup();
    gc();
    const h0 = process.memoryUsage().heapUsed;
    const a = performance.now();
    run(s);
    const dt = performance.now() - a;
    const h1 = process.memoryUsage().heapUsed;
    gc();
    const h2 = process.memoryUsage().heapUsed;
    t.push(dt);
    heapGrow = Math.max(heapGrow, h1 - h0);
    heapKept = Math.max(heapKept, h2 - h0);
  }
  return { med: median(t), min: Math.min(...t), heapGrow, heapKept };
}

function add(issue: string, what: string, figure: string, target?: { ok: boolean; text: string }) {
  rows.push({ issue, what, figure, target: target?.text ?? '', verdict: target ? (target.ok ? 'PASS' : 'MISS') : '' });
  console.error(`  ${what}: ${figure}`);
}

const sizeName = (b: bigint) => (b >= TiB ? `${b / TiB} TiB` : `${b / GiB} GiB`);

// ---- Issue 2: MAP_DMA ---------------------------------------------------------------------------
console.error('issue 2: MAP_DMA');
{
  const r = timeFresh(REPS, () => mapWhole(TiB, 'thp'), (s) => s.run());
  add('2', 'MAP_DMA 1 TiB THP, one domain (one ioctl)', `${ms(r.med)} (min ${ms(r.min)})`, { ok: r.med <= 20, text: '≤ 20 ms' });
  add('2', 'heap growth during that MAP_DMA (kept after GC)', `${mb(r.heapGrow)} (${mb(r.heapKept)})`, { ok: r.heapGrow <= 64e6, text: '≤ 64 MB' });
}
{
  const r = timeFresh(REPS, () => mapWhole(64n * GiB, '4k'), (s) => s.run());
  add('2', 'MAP_DMA 64 GiB 4 KiB pages, physically scattered', `${ms(r.med)} (min ${ms(r.min)})`, { ok: r.med <= 200, text: '≤ 200 ms' });
}
{
  const N = 65535;
  const reps = quick ? 1 : 3;
  const mapT: number[] = [];
  const unmapT: number[] = [];
  for (let i = 0; i < reps; i++) {
    const s = manySmallMaps(N);
    gc();
    let a = performance.now();
    s.mapAll();
    mapT.push(performance.now() - a);
    a = performance.now();
    const u = s.pc.unmapAll();
    unmapT.push(performance.now() - a);
    if (u.ret !== 0 || u.size !== BigInt(N) << 12n) throw new Error(`UNMAP_DMA ALL: ${u.ret} ${u.size}`);
  }
  add('2', `${N} x MAP_DMA of 4 KiB (separate ioctls)`, `${ms(median(mapT))} (${((median(mapT) * 1000) / N).toFixed(1)} µs/map)`);
  add('2', `UNMAP_DMA FLAG_ALL over those ${N} dmas`, ms(median(unmapT)));
}
for (const backing of ['4k', 'thp', 'hugetlb-1G'] as Backing[]) {
  for (const size of [GiB, 64n * GiB, TiB]) {
    const r = timeFresh(quick ? 2 : 5, () => mapWhole(size, backing), (s) => s.run());
    add('2', `growth: MAP_DMA ${sizeName(size)} ${backing}`, `${ms(r.med)} (heap +${mb(r.heapGrow)})`);
  }
}

// ---- Issue 3: vendor pinning ------------------------------------------------------------------
console.error('issue 3: vendor pin/unpin churn, hot-plug');
{
  // each churn row in processes of its own, compiled by tsc as the CLI is, as bench/churn.ts
  // measures them (a process that has run the rest of this report first is 10-30 % slower on
  // these paths: shared functions have seen many other callers); CPU-time rates, median of 3
  // processes' medians of 5 runs
  const js = compileRows();
  for (const row of ROW_NAMES) {
    const r = runRow(js, row);
    add('3', `churn 64 GiB mdev-only: ${r.what}`, `${rowFigure(r)} CPU`, { ok: r.median >= 2e6, text: '≥ 2 M pairs/s' });
  }
}
{
  // the same pair with no model work at all: the cost of the generator structure alone (see BENCHMARKS.md)
  const N = quick ? 500_000 : 2_000_000;
  skeletonPairs(20_000);
  const c = process.cpuUsage();
  const a = performance.now();
  skeletonPairs(N);
  const rate = N / ((performance.now() - a) / 1000);
  const cu = process.cpuUsage(c);
  const cpuRate = N / ((cu.user + cu.system) / 1e6);
  add('3', 'reference: the generator skeleton the vendor paths had before the path combinators (same yields and nesting, no work)', `${(rate / 1e6).toFixed(2)} M pairs/s (CPU time: ${(cpuRate / 1e6).toFixed(2)})`);
}
for (const backing of ['thp', '4k'] as Backing[]) {
  let first = -1;
  const r = timeFresh(
    quick ? 2 : 5,
    () => hotplug(TiB, backing, 100_000),
    (s) => {
      const t = performance.now();
      s.run();
      if (first < 0) first = performance.now() - t;
      // after the replay every page of the mapping is charged once (the 100 k vendor pins were charged already)
      const locked = s.m.sys.proc(P).p.mm!.locked_vm;
      if (locked !== pages(TiB)) throw new Error(`hot-plug: locked_vm ${locked} != ${pages(TiB)}`);
    },
  );
  add('3', `hot-plug: SET_CONTAINER vfio-pci into 1 TiB ${backing} + 100 k vendor pins`, `${ms(r.med)} (min ${ms(r.min)}, first ${ms(first)})`, { ok: r.med <= 100, text: '≤ 100 ms' });
}

// ---- table --------------------------------------------------------------------------------------
const cpu = os.cpus()[0]?.model ?? '?';
const load = os.loadavg().map((x) => x.toFixed(1)).join(' ');
console.log(`vfiolab speed report — ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, Node ${process.version}, ${os.cpus().length} × ${cpu}, load average ${load}, ${v8Config()}${quick ? ' (--quick)' : ''}\n`);
const head = ['issue', 'measurement', 'figure', 'target', ''];
const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => [r.issue, r.what, r.figure, r.target, r.verdict][i]!.length)));
const line = (c: string[]) => '| ' + c.map((x, i) => x.padEnd(w[i]!)).join(' | ') + ' |';
console.log(line(head));
console.log('|' + w.map((n) => '-'.repeat(n + 2)).join('|') + '|');
for (const r of rows) console.log(line([r.issue, r.what, r.figure, r.target, r.verdict]));
