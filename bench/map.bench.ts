/**
 * Issue 2, MAP_DMA speed (see BENCHMARKS.md; `npx tsx bench/report.ts` times the MAP_DMA alone on
 * a fresh host and reports heap growth). vitest bench cannot set a host up afresh before every
 * iteration, so each iteration here is a MAP_DMA followed by UNMAP_DMA(FLAG_ALL) on one host.
 */
import { bench, describe } from 'vitest';
import type { Backing } from '../src/host/mm.js';
import { GiB, manySmallMaps, mapWhole, TiB } from './scenarios.js';

const ONE_SHOT = { iterations: 3, time: 0, warmupIterations: 1, warmupTime: 0 };

/** A bench of MAP_DMA + UNMAP_DMA(ALL) on a host made by tinybench's setup (not timed). */
function mapUnmap(name: string, size: bigint, backing: Backing): void {
  let s: ReturnType<typeof mapWhole> | undefined;
  bench(
    name,
    () => {
      s!.run();
      if (s!.pc.unmapAll().ret !== 0) throw new Error('UNMAP_DMA failed');
    },
    { setup: () => void (s = mapWhole(size, backing)) },
  );
}

describe('issue 2: one MAP_DMA of all guest RAM, one IOMMU domain (+ UNMAP_DMA ALL)', () => {
  mapUnmap('1 TiB THP (target: MAP_DMA <= 20 ms)', TiB, 'thp');
  mapUnmap('64 GiB 4 KiB pages, physically scattered (target: MAP_DMA <= 200 ms)', 64n * GiB, '4k');
});

describe('issue 2: growth with size and backing (MAP_DMA + UNMAP_DMA ALL)', () => {
  for (const backing of ['4k', 'thp', 'hugetlb-1G'] as Backing[]) {
    for (const [name, size] of [
      ['1 GiB', GiB],
      ['64 GiB', 64n * GiB],
      ['1 TiB', TiB],
    ] as const) {
      mapUnmap(`${name} ${backing}`, size, backing);
    }
  }
});

describe('issue 2: 65535 separate 4 KiB MAP_DMAs, then UNMAP_DMA FLAG_ALL (one iteration = both)', () => {
  bench(
    '65535 x MAP_DMA 4 KiB + UNMAP_DMA ALL',
    () => {
      const s = manySmallMaps(65535);
      s.mapAll();
      if (s.pc.unmapAll().ret !== 0) throw new Error('UNMAP_DMA failed');
    },
    ONE_SHOT,
  );
});
