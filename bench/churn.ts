/**
 * The vGPU churn figures of issue 3 (target: >= 2 M pin+unpin pairs per second), in CPU time of
 * this process, a few seconds in all:
 *   npx tsx bench/churn.ts                          (V8 tuned as the CLI runs: src/util/v8-tuning.ts)
 *   VFIOLAB_V8_DEFAULTS=1 npx tsx bench/churn.ts    (V8's defaults, as when another program imports the model)
 * Rows: single-page pin+unpin pairs across a 64 GiB mdev-only guest, one sys.call each, through
 * type1, through the vendor API and through the sample driver; then the vgpu sample's own
 * `workload` (4096 pages kept pinned, unpin one + pin one per pair, all in one sys.call). Each
 * row is the median of 5 runs after a warm-up.
 */
import { tuneV8, v8Config } from '../src/util/v8-tuning.js';
tuneV8();
const { churn, mdevContainer, GiB, P, RAM_IOVA, pages } = await import('./scenarios.js');
const { workload } = await import('../src/mdev/drivers/vgpu.js');

const PAIRS = 500_000;
const RUNS = 5;

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
function row(what: string, rates: number[]): void {
  const m = median(rates) / 1e6;
  console.log(`| ${what} | ${m.toFixed(2)} M/s (${(Math.min(...rates) / 1e6).toFixed(2)}–${(Math.max(...rates) / 1e6).toFixed(2)}) | ${m >= 2 ? 'PASS' : 'MISS'} |`);
}

console.log(`${v8Config()}, ${PAIRS} pairs per run, median of ${RUNS} (range), CPU time\n`);
console.log('| path | pin+unpin pairs/s | ≥ 2 M |\n|---|---|---|');
for (const via of ['type1', 'api', 'driver'] as const) {
  const m = mdevContainer(64n * GiB, 'thp');
  churn(m, 100_000, 4096, via); // warm up
  const rates = Array.from({ length: RUNS }, () => PAIRS / cpuSeconds(() => churn(m, PAIRS, 4096, via)));
  const name = { type1: 'type1: vfio_iommu_type1_pin_pages + unpin_pages', api: 'vendor API: vfio_pin_pages + vfio_unpin_pages', driver: 'sample driver: driverPin + driverUnpin' }[via];
  row(`${name}, one sys.call each`, rates);
}
{
  const m = mdevContainer(64n * GiB, 'thp');
  const at = (gib: bigint) => RAM_IOVA + (BigInt(pages(gib * GiB)) << 12n);
  m.sys.call(P, workload(m.sys.k, m.vdev, { iova: at(0n), workingSet: 4096, churn: 100_000 })); // warm up (stays pinned)
  const rates = Array.from({ length: RUNS }, (_, i) => {
    let r = 0;
    const s = cpuSeconds(() => (r = m.sys.call(P, workload(m.sys.k, m.vdev, { iova: at(BigInt(8 + 8 * i)), workingSet: 4096, churn: PAIRS }))));
    if (r !== 0) throw new Error(`workload ${r}`);
    return PAIRS / s;
  });
  row('vgpu `workload`: 4096 pinned, unpin one + pin one, one sys.call', rates);
}
