/**
 * The vGPU churn figures of issue 3 (target: >= 2 M pin+unpin pairs per second), in CPU time, a
 * few seconds in all:
 *   npx tsx bench/churn.ts                          (V8 tuned as the CLI runs: src/util/v8-tuning.ts)
 *   VFIOLAB_V8_DEFAULTS=1 npx tsx bench/churn.ts    (V8's defaults, as when another program imports the model)
 * Rows: single-page pin+unpin pairs across a 64 GiB mdev-only guest, one sys.call each, through
 * type1, through the vendor API and through the sample driver; then the vgpu sample's own
 * `workload` (4096 pages kept pinned, unpin one + pin it again per pair, all in one sys.call).
 * Each row runs in a process of its own (as one `vfiolab` run exercises one of these paths, not
 * all four: a process that has run the others first is 10-15 % slower on the last), and is the
 * median of 5 runs after a warm-up. `--row <name> [--json]` runs one row in this process (what
 * the table does for each row, and what bench/report.ts calls).
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { tuneV8, v8Config } from '../src/util/v8-tuning.js';

tuneV8();
const ROWS = {
  type1: 'type1: vfio_iommu_type1_pin_pages + unpin_pages, one sys.call each',
  api: 'vendor API: vfio_pin_pages + vfio_unpin_pages, one sys.call each',
  driver: 'sample driver: driverPin + driverUnpin, one sys.call each',
  workload: 'vgpu `workload`: 4096 pinned, unpin one + pin it again, one sys.call',
} as const;
type RowName = keyof typeof ROWS;
const PAIRS = 500_000;
const RUNS = 5;

const at = process.argv.indexOf('--row');
if (at < 0) {
  console.log(`${v8Config()}, ${PAIRS} pairs per run, median of ${RUNS} (range), CPU time, one process per row\n`);
  console.log('| path | pin+unpin pairs/s | ≥ 2 M |\n|---|---|---|');
  for (const r of Object.keys(ROWS)) {
    process.stdout.write(execFileSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--row', r], { encoding: 'utf8' }));
  }
} else {
  const name = process.argv[at + 1] as RowName;
  if (!(name in ROWS)) throw new Error(`--row: one of ${Object.keys(ROWS).join(', ')}`);
  const rates = await measure(name);
  const m = median(rates) / 1e6;
  if (process.argv.includes('--json')) console.log(JSON.stringify({ row: name, what: ROWS[name], median: median(rates), min: Math.min(...rates), max: Math.max(...rates) }));
  else console.log(`| ${ROWS[name]} | ${m.toFixed(2)} M/s (${(Math.min(...rates) / 1e6).toFixed(2)}–${(Math.max(...rates) / 1e6).toFixed(2)}) | ${m >= 2 ? 'PASS' : 'MISS'} |`);
}

async function measure(name: RowName): Promise<number[]> {
  const { churn, mdevContainer, GiB, P, RAM_IOVA } = await import('./scenarios.js');
  if (name !== 'workload') {
    const m = mdevContainer(64n * GiB, 'thp');
    churn(m, 100_000, 4096, name); // warm up
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
  run(100_000); // warm up
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
