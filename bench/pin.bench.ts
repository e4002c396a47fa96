/**
 * Issue 3, vendor pinning speed (see BENCHMARKS.md). Churn: ops/s x 10 000 = pin+unpin pairs/s
 * (target >= 2 M pairs/s). Hot-plug: one iteration is SET_CONTAINER of a vfio-pci group into an
 * mdev container with 1 TiB mapped and 100 k vendor pins, then UNSET_CONTAINER (target: the
 * SET_CONTAINER alone <= 100 ms; `npx tsx bench/report.ts` times it alone).
 */
import { bench, describe } from 'vitest';
import { churn, GiB, hotplug, mdevContainer, TiB } from './scenarios.js';
import type { MdevContainer } from './scenarios.js';

const PAIRS = 10_000;
let m: MdevContainer | undefined;
const guest = () => m!;
const setup = { setup: () => void (m ??= mdevContainer(64n * GiB, 'thp')) };

describe(`issue 3: vGPU pin/unpin churn of single pages across a 64 GiB guest (${PAIRS} pairs per op)`, () => {
  bench('vfio_iommu_type1_pin_pages + unpin_pages, one sys.call each', () => churn(guest(), PAIRS, 4096, 'type1'), setup);
  bench('vfio_pin_pages + vfio_unpin_pages (vendor API), one sys.call each', () => churn(guest(), PAIRS, 4096, 'api'), setup);
  bench('driverPin + driverUnpin, one sys.call each', () => churn(guest(), PAIRS, 4096, 'driver'), setup);
});

describe('issue 3: hot-plug a passthrough device into 1 TiB mapped + 100 k vendor pins', () => {
  for (const backing of ['thp', '4k'] as const) {
    let h: ReturnType<typeof hotplug> | undefined;
    bench(
      `SET_CONTAINER + UNSET_CONTAINER, 1 TiB ${backing}`,
      () => {
        h!.run();
        h!.unplug();
      },
      { setup: () => void (h ??= hotplug(TiB, backing, 100_000)) },
    );
  }
});
