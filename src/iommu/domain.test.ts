import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { EEXIST, EFAULT } from '../util/errno.js';
import { IommuDomain } from './domain.js';
import { INTEL_VTD } from './hw.js';
import { pfnAt, runsEnd } from '../host/run.js';

const M2 = 512; // 2 MiB in 4K pages
const G1 = 262144; // 1 GiB in 4K pages
const run = (start: number, pfn: number, len: number, count = 1, stride = len) => ({ start, pfn, len, count, stride });

describe('IommuDomain page-size split (iommu_pgsize)', () => {
  it('a 2 MiB-aligned contiguous run uses 2M pages', () => {
    const d = new IommuDomain(INTEL_VTD);
    expect(d.iommu_map(run(4 * M2, 10 * M2, 2 * M2), 3)).toBe(0);
    expect(Object.fromEntries(d.counters.pgsizes)).toEqual({ '2097152': 2 });
    expect(d.counters.map_calls).toBe(1);
  });

  it('iova misaligned against phys falls back to 4K pages', () => {
    const d = new IommuDomain(INTEL_VTD);
    expect(d.iommu_map(run(4 * M2 + 1, 10 * M2, M2), 3)).toBe(0);
    expect(Object.fromEntries(d.counters.pgsizes)).toEqual({ '4096': M2 });
  });

  it('iova and phys congruent mod 2M but not aligned: 4K up to the boundary, then 2M', () => {
    const d = new IommuDomain(INTEL_VTD);
    expect(d.iommu_map(run(1, M2 + 1, 2 * M2 - 1), 3)).toBe(0);
    expect(Object.fromEntries(d.counters.pgsizes)).toEqual({ '4096': M2 - 1, '2097152': 1 });
  });

  it('a 2M run with a 4K tail', () => {
    const d = new IommuDomain(INTEL_VTD);
    expect(d.iommu_map(run(0, 0, M2 + 3), 3)).toBe(0);
    expect(Object.fromEntries(d.counters.pgsizes)).toEqual({ '2097152': 1, '4096': 3 });
  });

  it('1 GiB runs use 1G pages, and 2M pages around them when misaligned by 2M', () => {
    const d = new IommuDomain(INTEL_VTD);
    expect(d.iommu_map(run(G1, 3 * G1, G1), 3)).toBe(0);
    expect(Object.fromEntries(d.counters.pgsizes)).toEqual({ '1073741824': 1 });
    const e = new IommuDomain(INTEL_VTD);
    expect(e.iommu_map(run(2 * G1 + M2, 5 * G1 + M2, G1), 3)).toBe(0);
    expect(Object.fromEntries(e.counters.pgsizes)).toEqual({ '2097152': G1 / M2 });
    const f = new IommuDomain(INTEL_VTD);
    expect(f.iommu_map(run(2 * G1 + M2, 5 * G1 + M2, 2 * G1), 3)).toBe(0);
    expect(Object.fromEntries(f.counters.pgsizes)).toEqual({ '2097152': G1 / M2, '1073741824': 1 });
  });

  it('strided runs (scattered THP) count one map call and one 2M page per run', () => {
    const d = new IommuDomain(INTEL_VTD);
    expect(d.iommu_map(run(0, 0, M2, 4, 2 * M2), 3)).toBe(0);
    expect(d.counters.map_calls).toBe(4);
    expect(Object.fromEntries(d.counters.pgsizes)).toEqual({ '2097152': 4 });
    expect(d.mappedPages()).toBe(4 * M2);
    expect(d.iova_to_pfn(M2)).toBe(2 * M2);
  });

  it('an IOMMU with 4K pages only maps everything with 4K pages', () => {
    const d = new IommuDomain({ ...INTEL_VTD, pgsizeBitmap: 1n << 12n });
    expect(d.iommu_map(run(0, 0, 2 * M2), 3)).toBe(0);
    expect(Object.fromEntries(d.counters.pgsizes)).toEqual({ '4096': 2 * M2 });
  });
});

describe('IommuDomain page table', () => {
  it('refuses overlapping maps (EEXIST) and maps past the aperture (EFAULT), without side effects', () => {
    const d = new IommuDomain(INTEL_VTD);
    expect(d.iommu_map(run(10, 100, 10), 3)).toBe(0);
    expect(d.iommu_map(run(19, 500, 5), 3)).toBe(-EEXIST);
    expect(d.iommu_map(run(5, 500, 6), 3)).toBe(-EEXIST);
    expect(d.iommu_map(run(2 ** 27 - 1, 500, 2), 3)).toBe(-EFAULT);
    expect(d.iommu_map(run(2 ** 27 - 1, 500, 1), 3)).toBe(0);
    expect(d.mappedPages()).toBe(11);
    expect(d.counters.map_calls).toBe(2);
  });

  it('unmap splits entries and reports the pages it removed', () => {
    const d = new IommuDomain(INTEL_VTD);
    d.iommu_map(run(10, 100, 10), 3);
    expect(d.iommu_unmap(12, 3)).toBe(3);
    expect(d.iova_to_pfn(11)).toBe(101);
    expect(d.iova_to_pfn(12)).toBe(-1);
    expect(d.iova_to_pfn(15)).toBe(105);
    expect(d.fullyMapped(10, 2)).toBe(true);
    expect(d.fullyMapped(10, 3)).toBe(false);
    expect(d.lookupRuns(15, 100)).toEqual({ start: 15, pfn: 105, len: 5, count: 1, stride: 5 });
    expect(d.lookupRuns(13, 1)).toBeUndefined();
    expect(d.iommu_unmap(0, 100)).toBe(7);
    expect(d.mappedPages()).toBe(0);
    expect(d.iommu_map(run(12, 200, 3), 3)).toBe(0);
  });
});

describe('IommuDomain page table against a page-by-page reference', () => {
  const U = 96; // IOVA pages the ops touch
  const runArb = fc
    .record({ start: fc.integer({ min: 0, max: U - 1 }), pfn: fc.integer({ min: 0, max: 1000 }), len: fc.integer({ min: 1, max: 6 }), count: fc.integer({ min: 1, max: 3 }), gap: fc.integer({ min: 0, max: 4 }) })
    .map(({ start, pfn, len, count, gap }) => ({ start, pfn, len, count, stride: len + gap }));
  const opArb = fc.oneof(
    runArb.map((r) => ({ k: 'map' as const, r })),
    fc.record({ k: fc.constant('unmap' as const), iova: fc.integer({ min: 0, max: U - 1 }), n: fc.integer({ min: 1, max: 40 }) }),
  );

  it('map (EEXIST on any overlap), unmap (pages removed), iova_to_pfn, lookupRuns, fullyMapped, mappedPages agree in any order', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 60 }), (ops) => {
        const d = new IommuDomain(INTEL_VTD);
        const ref = new Map<number, number>();
        for (const op of ops) {
          if (op.k === 'map') {
            const r = op.r;
            const pages: number[] = [];
            for (let i = r.start; i < runsEnd(r); i++) pages.push(i);
            const clash = pages.some((i) => ref.has(i));
            expect(d.iommu_map(r, 3)).toBe(clash ? -EEXIST : 0);
            if (!clash) for (const i of pages) ref.set(i, pfnAt(r, i));
          } else {
            let n = 0;
            for (let i = op.iova; i < op.iova + op.n; i++) if (ref.delete(i)) n++;
            expect(d.iommu_unmap(op.iova, op.n)).toBe(n);
          }
          expect(d.mappedPages()).toBe(ref.size);
          for (let i = 0; i < U + 20; i++) {
            expect(d.iova_to_pfn(i)).toBe(ref.get(i) ?? -1);
            const lr = d.lookupRuns(i, 1);
            expect(lr === undefined ? -1 : lr.pfn).toBe(ref.get(i) ?? -1);
          }
          const probe = ops.length % U;
          let full = true;
          for (let i = probe; i < probe + 5; i++) full &&= ref.has(i);
          expect(d.fullyMapped(probe, 5)).toBe(full);
          // entries stay ascending and disjoint
          const es = d.entries();
          for (let i = 1; i < es.length; i++) expect(runsEnd(es[i - 1]!)).toBeLessThanOrEqual(es[i]!.start);
        }
      }),
      { numRuns: 200 },
    );
  });
});
