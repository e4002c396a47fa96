/**
 * Where the time of one vendor pin+unpin pair goes (`npx tsx bench/breakdown.ts`): CPU time per
 * call of the pieces of the type1 path in an mdev-only container with 64 GiB mapped, each run
 * through `sys.call` like the churn benchmark. For BENCHMARKS.md; nothing is asserted.
 * V8 tuned as the CLI runs it (VFIOLAB_V8_DEFAULTS=1 for V8's defaults).
 */
import { tuneV8, v8Config } from '../src/util/v8-tuning.js';
import { GiB, mdevContainer, P, RAM_IOVA } from './scenarios.js';
import { driverPin, driverUnpin } from '../src/mdev/drivers/pinning.js';
import { skeletonPairs } from './skeleton.js';
import { iovaOf, vfio_iommu_type1_pin_pages, vfio_iommu_type1_unpin_pages } from '../src/type1/external.js';
import { vaddr_get_pfns } from '../src/type1/pin.js';
import { vfio_lock_acct } from '../src/type1/acct.js';

tuneV8();
const m = mdevContainer(64n * GiB, 'thp');
const { sys, iommu, vdev } = m;
const k = sys.k;
const g = vdev.group.iommu_group;
const pages: number[] = [0]; // the caller's struct page *pages[1]
const dma = iommu.dma_list.first()!;
const mm = dma.mm;
const a = iovaOf(RAM_IOVA + 4096n * 77n);
const N = 300_000;

function cpuNs(f: () => unknown): number {
  for (let i = 0; i < 20_000; i++) f();
  const c = process.cpuUsage();
  for (let i = 0; i < N; i++) f();
  const cu = process.cpuUsage(c);
  return ((cu.user + cu.system) * 1000) / N;
}

function* mutexCycle() {
  yield* iommu.lock.lock();
  yield* iommu.lock.unlock();
  return 0;
}
function* readCycle() {
  yield* mm.mmap_lock.down_read();
  yield* mm.mmap_lock.up_read();
  return 0;
}
function* acctPair() {
  yield* vfio_lock_acct(k, dma, 1, false);
  yield* vfio_lock_acct(k, dma, -1, true);
  return 0;
}

const rows: [string, number][] = [
  ['iommu->lock: mutex_lock + mutex_unlock', cpuNs(() => sys.call(P, mutexCycle()))],
  ['mmap_lock: down_read + up_read', cpuNs(() => sys.call(P, readCycle()))],
  ['vaddr_get_pfns (1-page GUP) + put_pfn', cpuNs(() => {
    const r = vaddr_get_pfns(k, mm, dma.vaddr + 77, 1, 3);
    if (typeof r !== 'number') k.phys.putPage(r.pfn);
  })],
  ['vfio_lock_acct(+1) + vfio_lock_acct(-1) (mmap_lock write twice)', cpuNs(() => sys.call(P, acctPair()))],
  ['pin + unpin of one page (type1 calls)', cpuNs(() => {
    sys.call(P, () => vfio_iommu_type1_pin_pages(k, iommu, g, a, 1, 3, pages));
    sys.call(P, () => vfio_iommu_type1_unpin_pages(k, iommu, a, 1));
  })],
  ['pin + unpin of one page (driverPin + driverUnpin)', cpuNs(() => {
    sys.call(P, () => driverPin(k, vdev, a, 1, 3));
    sys.call(P, () => driverUnpin(k, vdev, a, 1));
  })],
  ['generator skeleton of a pair, no work (bench/skeleton.ts)', cpuNs(() => skeletonPairs(1))],
];
sys.call(P, () => vfio_iommu_type1_pin_pages(k, iommu, g, a, 1, 3, pages));
rows.push(['pin + unpin of a page pinned already (ref_count 2 -> 1)', cpuNs(() => {
  sys.call(P, () => vfio_iommu_type1_pin_pages(k, iommu, g, a, 1, 3, pages));
  sys.call(P, () => vfio_iommu_type1_unpin_pages(k, iommu, a, 1));
})]);

console.log(`${v8Config()}\n\n| piece | CPU ns per call |\n|---|---|`);
for (const [what, ns] of rows) console.log(`| ${what} | ${ns.toFixed(0)} |`);
