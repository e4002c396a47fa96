/**
 * PageMap against a Map: random set/delete/bump/get/has/clear sequences over integer keys that collide
 * in the table (a few small keys, keys near 2^32 and 2^53 whose halves cancel in the hash) and a
 * few keys that go to the side map; after every operation both hold the same entries, and the
 * table keeps its probe invariant (every key reachable from its home slot).
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { PageMap } from './page-map.js';

type Key = number | string | bigint;
const keyArb: fc.Arbitrary<Key> = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 40 }) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 8 }).map((i) => 2 ** 32 + i * 2 ** 32 + i) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 8 }).map((i) => Number.MAX_SAFE_INTEGER - i) },
  { weight: 1, arbitrary: fc.constantFrom<Key>('7+12', -1, 0.5, 2 ** 53, 3n, Number.MAX_SAFE_INTEGER + 2) },
);
const opArb = fc.oneof(
  { weight: 5, arbitrary: fc.tuple(fc.constant('set' as const), keyArb, fc.integer()) },
  { weight: 4, arbitrary: fc.tuple(fc.constant('delete' as const), keyArb, fc.constant(0)) },
  { weight: 2, arbitrary: fc.tuple(fc.constant('get' as const), keyArb, fc.constant(0)) },
  { weight: 3, arbitrary: fc.tuple(fc.constant('bump' as const), keyArb, fc.integer({ min: -2, max: 2 })) },
  { weight: 1, arbitrary: fc.tuple(fc.constant('clear' as const), fc.constant(0), fc.constant(0)) },
);

function sorted(es: [Key, number][]): string[] {
  return es.map(([k, v]) => `${typeof k}:${String(k)}=${v}`).sort();
}

/** Every table key is found by a probe from its home slot (uses the private layout). */
function probeInvariant(m: PageMap<Key, number>): string | null {
  const t = m as unknown as { keyArr: number[]; mask: number; home(k: number): number };
  for (let i = 0; i < t.keyArr.length; i++) {
    const k = t.keyArr[i]!;
    if (k === -1) continue;
    for (let j = t.home(k); j !== i; j = (j + 1) & t.mask) if (t.keyArr[j] === -1) return `key ${k} at ${i} is cut off from its home slot by an empty slot at ${j}`;
  }
  return null;
}

describe('PageMap', () => {
  it('behaves as a Map under random operations and keeps its probe invariant', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 300 }), (ops) => {
        const m = new PageMap<Key, number>();
        const ref = new Map<Key, number>();
        for (const [op, k, v] of ops) {
          if (op === 'set') {
            m.set(k, v);
            ref.set(k, v);
          } else if (op === 'delete') expect(m.delete(k)).toBe(ref.delete(k));
          else if (op === 'bump') {
            // a count map: the new count, and the key gone once it is not positive
            const n = (ref.get(k) ?? 0) + v;
            if (n > 0) ref.set(k, n);
            else ref.delete(k);
            expect(m.bump(k, v)).toBe(n);
          }
          else if (op === 'get') {
            expect(m.get(k)).toBe(ref.get(k));
            expect(m.has(k)).toBe(ref.has(k));
          } else {
            m.clear();
            ref.clear();
          }
          expect(m.size).toBe(ref.size);
          expect(probeInvariant(m)).toBeNull();
        }
        expect(sorted([...m.entries()])).toEqual(sorted([...ref.entries()]));
        expect(sorted([...m])).toEqual(sorted([...ref.entries()]));
        expect([...m.keys()].length + [...m.values()].length).toBe(2 * ref.size);
        const ints = [...ref.keys()].filter((k): k is number => typeof k === 'number' && Number.isSafeInteger(k) && k >= 0);
        for (const [lo, hi] of [[0, 20], [-5, 3], [10, 2 ** 33], [2 ** 32, 2 ** 53]] as const) expect(m.countKeysIn(lo, hi)).toBe(ints.filter((k) => k >= lo && k < hi).length);
      }),
      { numRuns: 400 },
    );
  });

  it('grows past its first table and allocates no new table for a key that comes and goes', () => {
    const m = new PageMap<number, number>();
    for (let i = 0; i < 1000; i++) m.set(i * 4096, i);
    expect(m.size).toBe(1000);
    for (let i = 0; i < 1000; i++) expect(m.get(i * 4096)).toBe(i);
    const t = m as unknown as { keyArr: number[] };
    const table = t.keyArr;
    for (let i = 0; i < 10_000; i++) {
      m.set(5_000_000 + i, i);
      m.delete(5_000_000 + i);
    }
    expect(t.keyArr).toBe(table);
    expect(m.size).toBe(1000);
  });
});
