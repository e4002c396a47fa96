/**
 * dma_list lookups on the tree against the sorted array with bisection the model used before
 * (the reference below): for random dma sets (zero-sized dmas being pinned, dmas near 2^64,
 * dmas ending exactly at 2^64, linked in a random order and partly unlinked again), vfio_find_dma
 * and vfio_find_dma_first_node return the same dma for every query, and iteration, first/next/
 * prev give the array's order.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { Mm } from '../host/mm.js';
import type { Task } from '../host/task.js';
import { DmaList, vfio_find_dma, vfio_find_dma_first_node, vfio_link_dma, vfio_unlink_dma } from './dma_list.js';
import { fingerprintOf } from '../explore/fingerprint.js';
import { VfioDma } from './vfio_iommu.js';
import type { VfioIommu } from './vfio_iommu.js';

const WRAP = 2 ** 52;

// ---- the reference: the sorted array of the model before the tree ---------------------------
function refVisibleLength(list: readonly VfioDma[]): number {
  let n = list.length;
  while (n > 0 && list[n - 1]!.iova + list[n - 1]!.size >= WRAP) n--;
  return n;
}
function refLowerIndex(list: readonly VfioDma[], page: number): number {
  let lo = 0;
  let hi = refVisibleLength(list);
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid]!.iova + list[mid]!.size <= page) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
function refFind(list: readonly VfioDma[], start: number, n: number): VfioDma | undefined {
  if (start + n >= WRAP) return undefined;
  // size 0: the kernel's test itself (neither `start + 0 <= dma->iova` nor `start >= dma->iova +
  // dma->size`), over every visible dma: one that contains `start` and does not begin there
  if (n === 0) return list.slice(0, refVisibleLength(list)).find((d) => d.iova < start && start < d.iova + d.size);
  const i = refLowerIndex(list, start);
  const d = i < refVisibleLength(list) ? list[i] : undefined;
  if (!d) return undefined;
  return d.iova < start + n ? d : undefined;
}
function refFirst(list: readonly VfioDma[], start: number, n: number): VfioDma | undefined {
  const i = refLowerIndex(list, start);
  const d = i < refVisibleLength(list) ? list[i] : undefined;
  return d && d.iova < start + n ? d : undefined;
}
function refLink(list: VfioDma[], dma: VfioDma): void {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid]!.iova <= dma.iova) lo = mid + 1;
    else hi = mid;
  }
  list.splice(lo, 0, dma);
}

// ---- random dma sets ---------------------------------------------------------------------------
interface Seg {
  iova: number;
  size: number;
}

/**
 * Non-overlapping segments low in IOVA space and just below 2^64 (a zero-sized one is a dma being
 * pinned: never at another's start), then up to two dmas ending exactly at 2^64, which may overlap
 * the last one (MAP does not see them) and each other.
 */
const segsArb: fc.Arbitrary<Seg[]> = fc
  .tuple(
    fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 4 })), { maxLength: 12 }),
    fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 4 })), { maxLength: 6 }),
    fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 2 }),
  )
  .map(([low, high, wraps]) => {
    const out: Seg[] = [];
    const place = (base: number, parts: [number, number][]) => {
      let p = base;
      let lastZero = false;
      for (const [gap, size] of parts) {
        const g = lastZero && gap === 0 ? 1 : gap;
        out.push({ iova: p + g, size });
        p += g + size;
        lastZero = size === 0;
      }
    };
    place(0, low);
    place(WRAP - 60, high);
    // past every other dma's start: a wrapped dma followed by a visible one makes the ends
    // non-monotone, where the lookups' answers are not modelled (see dma_list.ts)
    const lowest = Math.max(0, ...out.map((x) => x.iova + 1));
    for (const s of wraps) {
      const iova = Math.max(WRAP - s, lowest);
      out.push({ iova, size: WRAP - iova });
    }
    return out;
  });

const mm = {} as Mm;
const task = {} as Task;

describe('dma_list on the tree agrees with the sorted array', () => {
  it('vfio_find_dma, vfio_find_dma_first_node, iteration, first/next/prev', () => {
    fc.assert(
      fc.property(segsArb, fc.infiniteStream(fc.nat()), fc.array(fc.nat(), { maxLength: 6 }), (segs, rnd, drops) => {
        const iommu = { dma_list: new DmaList() } as VfioIommu;
        const ref: VfioDma[] = [];
        // link in a random order, each dma created just before it is linked (as vfio_dma_do_map does)
        const order = segs.map((s, i) => ({ s, r: rnd.next().value as number, i })).sort((a, b) => a.r - b.r || a.i - b.i);
        for (const { s } of order) {
          const d = new VfioDma(s.iova, 0, 3, task, false, mm);
          d.size = s.size;
          vfio_link_dma(iommu, d);
          refLink(ref, d);
        }
        for (const k of drops) {
          if (ref.length === 0) break;
          const d = ref.splice(k % ref.length, 1)[0]!;
          vfio_unlink_dma(iommu, d);
        }
        const list = iommu.dma_list;
        expect(list.toArray().map((d) => d.gen)).toEqual(ref.map((d) => d.gen));
        expect(list.size).toBe(ref.length);
        expect(list.first()).toBe(ref[0]);
        for (let i = 0; i < ref.length; i++) {
          expect(list.next(ref[i]!)).toBe(ref[i + 1]);
          expect(list.prev(ref[i]!)).toBe(ref[i - 1]);
        }
        const pages = [0, 1, 2, 3, 5, 8, 13, 21, 30, 40, 55];
        const wrong: string[] = [];
        for (const base of [0, WRAP - 64]) {
          for (const off of [...pages, ...pages.map((x) => x + 1)]) {
            const start = base + off;
            for (const n of [0, 1, 2, 3, 7, 64, WRAP - start - 1, WRAP - start]) {
              if (vfio_find_dma(iommu, start, n) !== refFind(ref, start, n)) wrong.push(`vfio_find_dma(${start}, ${n})`);
              if (vfio_find_dma_first_node(iommu, start, n) !== refFirst(ref, start, n)) wrong.push(`vfio_find_dma_first_node(${start}, ${n})`);
            }
          }
        }
        expect(wrong).toEqual([]);
      }),
      { numRuns: 400 },
    );
  });

  it('a dma ending at 2^64 is invisible to both lookups, and an UNMAP_ALL walk stops before it only if nothing visible precedes it', () => {
    const iommu = { dma_list: new DmaList() } as VfioIommu;
    const add = (iova: number, size: number) => {
      const d = new VfioDma(iova, 0, 3, task, false, mm);
      d.size = size;
      vfio_link_dma(iommu, d);
      return d;
    };
    const low = add(10, 2);
    const w = add(WRAP - 4, 4);
    expect(vfio_find_dma_first_node(iommu, 0, WRAP)).toBe(low);
    expect(vfio_find_dma_first_node(iommu, 12, WRAP - 12)).toBeUndefined();
    expect(vfio_find_dma(iommu, WRAP - 3, 1)).toBeUndefined();
    vfio_unlink_dma(iommu, low);
    expect(vfio_find_dma_first_node(iommu, 0, WRAP)).toBeUndefined();
    expect([...iommu.dma_list]).toEqual([w]);
  });
});

describe('dma_list and the explorer fingerprint', () => {
  it('equal dma sets fingerprint equal whatever order they were linked and unlinked in', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 0, max: 200 }), { minLength: 1, maxLength: 30 }), fc.array(fc.integer({ min: 0, max: 200 }), { maxLength: 10 }), fc.nat(), (iovas, extra, seed) => {
        const build = (order: number[], detour: number[]) => {
          const iommu = { dma_list: new DmaList() } as VfioIommu;
          const tmp: VfioDma[] = [];
          // link some dmas that go again, to give the tree another history
          for (const x of detour) {
            if (order.includes(x)) continue;
            const d = new VfioDma(x, 0, 3, task, false, mm);
            vfio_link_dma(iommu, d);
            tmp.push(d);
          }
          for (const x of order) {
            const d = new VfioDma(x, x, 3, task, false, mm);
            d.size = 1;
            vfio_link_dma(iommu, d);
          }
          for (const d of tmp) vfio_unlink_dma(iommu, d);
          return fingerprintOf(iommu, { ignore: (k) => k === 'gen' });
        };
        const shuffled = [...iovas].sort((a, b) => ((a * 2654435761 + seed) >>> 0) - ((b * 2654435761 + seed) >>> 0));
        expect(build(shuffled, extra)).toBe(build(iovas, []));
        // and a different set gives a different fingerprint
        expect(build(iovas.slice(1), [])).not.toBe(build(iovas, []));
      }),
      { numRuns: 200 },
    );
  });
});
