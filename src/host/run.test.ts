import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { Runs } from './run.js';
import { eachRun, firstSlice, normalize, pfnAt, runsEnd, runsPages, sliceRuns } from './run.js';

/** 3 runs of 4 pages, 8 pfns apart: pages 100..111 -> pfns 1000-1003, 1008-1011, 1016-1019 */
const R: Runs = { start: 100, pfn: 1000, len: 4, count: 3, stride: 8 };

describe('Runs basics', () => {
  it('pages, end and pfnAt', () => {
    expect(runsPages(R)).toBe(12);
    expect(runsEnd(R)).toBe(112);
    expect([100, 103, 104, 107, 108, 111].map((i) => pfnAt(R, i))).toEqual([1000, 1003, 1008, 1011, 1016, 1019]);
  });

  it('eachRun lists the contiguous runs', () => {
    expect([...eachRun(R)]).toEqual([
      { start: 100, pfn: 1000, len: 4 },
      { start: 104, pfn: 1008, len: 4 },
      { start: 108, pfn: 1016, len: 4 },
    ]);
  });

  it('normalize merges back-to-back runs and fixes the stride of a single run', () => {
    expect(normalize({ start: 0, pfn: 10, len: 4, count: 3, stride: 4 })).toEqual({ start: 0, pfn: 10, len: 12, count: 1, stride: 12 });
    expect(normalize({ start: 0, pfn: 10, len: 4, count: 1, stride: 9 })).toEqual({ start: 0, pfn: 10, len: 4, count: 1, stride: 4 });
    expect(normalize(R)).toBe(R);
  });
});

describe('sliceRuns', () => {
  it('cuts a partial first run, whole runs and a partial last run', () => {
    expect(sliceRuns(R, 102, 109)).toEqual([
      { start: 102, pfn: 1002, len: 2, count: 1, stride: 2 },
      { start: 104, pfn: 1008, len: 4, count: 1, stride: 4 },
      { start: 108, pfn: 1016, len: 1, count: 1, stride: 1 },
    ]);
  });

  it('whole runs stay one strided Runs', () => {
    expect(sliceRuns(R, 0, 1000)).toEqual([R]);
    expect(sliceRuns(R, 104, 112)).toEqual([{ start: 104, pfn: 1008, len: 4, count: 2, stride: 8 }]);
  });

  it('inside a single run', () => {
    expect(sliceRuns(R, 105, 107)).toEqual([{ start: 105, pfn: 1009, len: 2, count: 1, stride: 2 }]);
  });

  it('empty and disjoint ranges give nothing', () => {
    expect(sliceRuns(R, 50, 100)).toEqual([]);
    expect(sliceRuns(R, 112, 200)).toEqual([]);
    expect(sliceRuns(R, 105, 105)).toEqual([]);
    expect(sliceRuns(R, 107, 103)).toEqual([]);
  });

  const runsArb = fc
    .record({ start: fc.nat(1000), pfn: fc.nat(1 << 20), len: fc.integer({ min: 1, max: 9 }), count: fc.integer({ min: 1, max: 9 }), gap: fc.nat(5) })
    .map(({ start, pfn, len, count, gap }): Runs => ({ start, pfn, len, count, stride: len + gap }));

  it('slices cover exactly the overlap, in order, with the same pfn for every index', () => {
    fc.assert(
      fc.property(runsArb, fc.integer({ min: -20, max: 1200 }), fc.integer({ min: 0, max: 120 }), (r, from, n) => {
        const to = from + n;
        const parts = sliceRuns(r, from, to);
        const a = Math.max(from, r.start);
        const b = Math.min(to, runsEnd(r));
        expect(parts.reduce((s, p) => s + runsPages(p), 0)).toBe(Math.max(0, b - a));
        expect(parts.length).toBeLessThanOrEqual(3);
        let next = a;
        for (const p of parts) {
          expect(p.start).toBe(next);
          expect(p.len).toBeGreaterThanOrEqual(1);
          expect(p.count).toBeGreaterThanOrEqual(1);
          expect(p.stride).toBeGreaterThanOrEqual(p.len);
          for (let i = p.start; i < runsEnd(p); i++) expect(pfnAt(p, i)).toBe(pfnAt(r, i));
          next = runsEnd(p);
        }
      }),
    );
  });

  it('firstSlice is the first piece of sliceRuns, without the array', () => {
    fc.assert(
      fc.property(runsArb, fc.integer({ min: -20, max: 1200 }), fc.integer({ min: 0, max: 120 }), (r, from, n) => {
        expect(firstSlice(r, from, from + n)).toEqual(sliceRuns(r, from, from + n)[0]);
      }),
    );
  });
});
