/**
 * The vGPU churn figures of issue 3 (target: >= 2 M pin+unpin pairs per second), in CPU time, a
 * few seconds in all:
 *   npx tsx bench/churn.ts                          (V8 tuned as the CLI runs: src/util/v8-tuning.ts)
 *   VFIOLAB_V8_DEFAULTS=1 npx tsx bench/churn.ts    (V8's defaults, as when another program imports the model)
 * Rows: single-page pin+unpin pairs across a 64 GiB mdev-only guest, one sys.call each, through
 * type1, through the vendor API and through the sample driver; then the vgpu sample's own
 * `workload` (4096 pages kept pinned, unpin one + pin it again per pair, all in one sys.call).
 *
 * The rows run the model as the CLI does: compiled by tsc (bench/tsconfig.json, this file and
 * what it imports, into node_modules/.cache/vfiolab-bench) and run by plain node. Not under tsx:
 * tsx compiles with esbuild's `keepNames`, which wraps every function in a naming helper and
 * costs these paths 10-15 % (BENCHMARKS.md, "Measured as the CLI runs").
 * Each row runs in processes of its own (as one `vfiolab` run exercises one of these paths, not
 * all four: a process that has run the others first is 10-15 % slower on the last): three of
 * them, because what V8's concurrent compiler makes of these paths differs from one process to
 * the next (the vgpu workload's median varies by up to 10 % between processes, more than within
 * one). A process measures 5 runs after two warm-up runs; the row's figure is the median of the
 * three process medians, with the range of all 15 runs. `--row <name> [--json]` runs one process's
 * share in this process (what `runRow` starts, for this table and for bench/report.ts).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tuneV8, v8Config } from '../src/util/v8-tuning.js';

tuneV8();
const ROWS = {
  type1: 'type1: vfio_iommu_type1_pin_pages + unpin_pages, one sys.call each',
  api: 'vendor API: vfio_pin_pages + vfio_unpin_pages, one sys.call each',
  driver: 'sample driver: driverPin + driverUnpin, one sys.call each',
  workload: 'vgpu `workload`: 4096 pinned, unpin one + pin it again, one sys.call',
} as const;
export type RowName = keyof typeof ROWS;
export const ROW_NAMES = Object.keys(ROWS) as RowName[];
const PAIRS = 500_000;
const RUNS = 5;
/**
 * Untimed runs first: V8 settles on its code for these paths within the first half-million pairs
 * or so. After one warm-up run of 100 000, the first timed workload run was still 25-35 % below
 * the later ones (it had 1.1-1.5 M/s where they had 2.0-2.3); after these two it is not.
 */
const WARM_UP = [100_000, 300_000];

/** One process's result for a row, as `--row <name> --json` prints it (rates in pairs/s). */
export interface RowResult {
  row: RowName;
  what: string;
  median: number;
  min: number;
  max: number;
}
/** A row over several processes: the median of their medians, the range of all their runs. */
export interface RowSummary extends RowResult {
  processMedians: number[];
}
const PROCESSES = 3;

const here = dirname(fileURLToPath(import.meta.url));
/** The repository root, whether this runs from bench/ (tsx) or compiled from the cache. */
function repoRoot(): string {
  for (let d = here; ; d = dirname(d)) {
    if (existsSync(join(d, 'package.json')) && existsSync(join(d, 'bench', 'tsconfig.json'))) return d;
    if (dirname(d) === d) throw new Error(`bench/churn: no repository root above ${here}`);
  }
}

/** Compile this file and the model with tsc (incremental: a second call takes a second or two); returns the compiled churn.js. */
export function compileRows(): string {
  const root = repoRoot();
  execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'bench', 'tsconfig.json')], { stdio: 'inherit' });
  return join(root, 'node_modules', '.cache', 'vfiolab-bench', 'bench', 'churn.js');
}

/** Run one row of the compiled file `js` (from compileRows) in `processes` fresh node processes, one after the other. */
export function runRow(js: string, row: RowName, processes = PROCESSES): RowSummary {
  const rs = Array.from({ length: processes }, () => {
    const out = execFileSync(process.execPath, [js, '--row', row, '--json'], { encoding: 'utf8' });
    return JSON.parse(out.trim().split('\n').at(-1)!) as RowResult;
  });
  const processMedians = rs.map((r) => r.median);
  return { row, what: rs[0]!.what, median: median(processMedians), min: Math.min(...rs.map((r) => r.min)), max: Math.max(...rs.map((r) => r.max)), processMedians };
}

/** `2.10 M/s (processes 2.02, 2.10, 2.21; runs 1.50–2.31)` */
export function rowFigure(r: RowSummary): string {
  const m = (x: number): string => (x / 1e6).toFixed(2);
  return `${m(r.median)} M/s (processes ${r.processMedians.map(m).join(', ')}; runs ${m(r.min)}–${m(r.max)})`;
}

const at = process.argv.indexOf('--row');
if (at < 0 && process.argv[1] === fileURLToPath(import.meta.url)) {
  const js = compileRows();
  console.log(`${v8Config()}, tsc output run by node ${process.version}, CPU time; per row ${PROCESSES} processes of ${RUNS} runs of ${PAIRS} pairs: median of the process medians\n`);
  console.log('| path | pin+unpin pairs/s | ≥ 2 M |\n|---|---|---|');
  for (const r of ROW_NAMES) {
    const x = runRow(js, r);
    console.log(`| ${x.what} | ${rowFigure(x)} | ${x.median >= 2e6 ? 'PASS' : 'MISS'} |`);
  }
} else if (at >= 0) {
  const name = process.argv[at + 1] as RowName;
  if (!(name in ROWS)) throw new Error(`--row: one of ${Object.keys(ROWS).join(', ')}`);
  const rates = await measure(name);
  const r: RowResult = { row: name, what: ROWS[name], median: median(rates), min: Math.min(...rates), max: Math.max(...rates) };
  if (process.argv.includes('--json')) console.log(JSON.stringify(r));
  else console.log(`| ${r.what} | ${(r.median / 1e6).toFixed(2)} M/s (${(r.min / 1e6).toFixed(2)}–${(r.max / 1e6).toFixed(2)}) | ${r.median >= 2e6 ? 'PASS' : 'MISS'} |`);
}

async function measure(name: RowName): Promise<number[]> {
  const { churn, mdevContainer, GiB, P, RAM_IOVA } = await import('./scenarios.js');
  if (name !== 'workload') {
    const m = mdevContainer(64n * GiB, 'thp');
    for (const n of WARM_UP) churn(m, n, 4096, name);
    return Array.from({ length: RUNS }, () => PAIRS / cpuSeconds(() => churn(m, PAIRS, 4096, name)));
  }
  const { workload } = await import('../src/mdev/drivers/vgpu.js');
  // a fresh guest per run (not timed): the working set of one run stays pinned after it
  const run = (pairs: number): number => {
    const m = mdevContainer(64n * GiB, 'thp');
    let r = 0;
    const s = cpuSeconds(() => (r = m.sys.call(P, workload(m.sys.k, m.vdev, { iova: RAM_IOVA, workingSet: 4096, churn: pairs }))));
    if (r !== 0) throw new Error(`workload ${r}`);
    return pairs / s;
  };
  for (const n of WARM_UP) run(n);
  return Array.from({ length: RUNS }, () => run(PAIRS));
}

function cpuSeconds(f: () => void): number {
  const c0 = process.cpuUsage();
  f();
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1e6;
}
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}
