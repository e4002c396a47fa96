/**
 * The pin ledger's checksum: a batch of RAM runs taken with getRuns adds exactly what taking its pages
 * one at a time adds (pfns up to the MMIO window, past 2^32), and releasing them page by page
 * brings count and checksum back to zero.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MMIO_BASE_PFN, PhysMem, RAM_BASE_PFN } from './physmem.js';
import { pfnAt } from './run.js';

describe('pin ledger', () => {
  it('a batch counts as its pages, and releasing them page by page leaves nothing', () => {
    fc.assert(
      fc.property(
        fc.record({ pfn: fc.integer({ min: RAM_BASE_PFN, max: MMIO_BASE_PFN - 2 ** 20 }), len: fc.integer({ min: 1, max: 600 }), count: fc.integer({ min: 1, max: 40 }), gap: fc.integer({ min: 0, max: 600 }) }),
        ({ pfn, len, count, gap }) => {
          const r = { start: 0, pfn, len, count, stride: len + gap };
          const batch = new PhysMem(true);
          const single = new PhysMem(true);
          batch.getRuns(r);
          for (let i = 0; i < len * count; i++) single.getPage(pfnAt(r, i));
          expect(batch.ledger).toEqual(single.ledger);
          for (let i = 0; i < len * count; i++) batch.putPage(pfnAt(r, i));
          expect(batch.ledger).toEqual({ pages: 0, sum: 0, zeroRefs: 0 });
          // a wrong page released in place of the right one shows in the checksum
          single.putRuns({ ...r, pfn: pfn + 1 });
          expect(single.ledger.pages).toBe(0);
          expect(single.ledger.sum).not.toBe(0);
        },
      ),
    );
  });
});
