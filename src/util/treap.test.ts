/**
 * The treap against a sorted array of numbers: random insert/remove/get/next/prev/firstWhere/
 * lastWhere/iterate sequences agree with the reference after every operation, the tree keeps its
 * order and heap invariants, its shape depends only on the set it holds, and an iteration that
 * the set changes under goes on from the successor of the item it returned last.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { mixPriority, Treap } from './treap.js';
import type { TreapNode } from './treap.js';

class NumTreap extends Treap<number> {
  protected compare(a: number, b: number): number {
    return a - b;
  }
  protected priority(k: number): number {
    return mixPriority(k);
  }
}

/** Only four priorities: most comparisons of priority tie, so the tie-break decides the shape. */
class TieTreap extends NumTreap {
  protected override priority(k: number): number {
    return k & 3;
  }
}

/** Lowest index i of sorted `a` with a[i] >= k. */
function lowerIdx(a: number[], k: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const m = (lo + hi) >> 1;
    if (a[m]! < k) lo = m + 1;
    else hi = m;
  }
  return lo;
}

/** In-order items, and a violation of the BST order or of the heap order if there is one. */
function audit(t: Treap<number>, prio: (k: number) => number): { items: number[]; bad: string | null } {
  const items: number[] = [];
  let bad: string | null = null;
  const above = (a: number, b: number) => (prio(a) !== prio(b) ? prio(a) > prio(b) : a < b);
  const walk = (n: TreapNode<number> | null, lo: number, hi: number): void => {
    if (n === null) return;
    if (!(lo < n.item && n.item < hi)) bad ??= `${n.item} outside (${lo}, ${hi})`;
    for (const c of [n.left, n.right]) if (c !== null && !above(n.item, c.item)) bad ??= `${c.item} is below ${n.item} but has the higher priority`;
    walk(n.left, lo, n.item);
    items.push(n.item);
    walk(n.right, n.item, hi);
  };
  walk(t.root, -Infinity, Infinity);
  return { items, bad };
}

/** The shape as a string, for comparing trees. */
function shape(n: TreapNode<number> | null): string {
  return n === null ? '.' : `(${shape(n.left)} ${n.item} ${shape(n.right)})`;
}

type Op = { k: 'ins' | 'del' | 'get' | 'next' | 'prev' | 'geq' | 'leq'; x: number } | { k: 'iter' };

const KEY = fc.integer({ min: 0, max: 30 });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: KEY.map((x) => ({ k: 'ins' as const, x })) },
  { weight: 3, arbitrary: KEY.map((x) => ({ k: 'del' as const, x })) },
  { weight: 1, arbitrary: fc.record({ k: fc.constantFrom('get' as const, 'next' as const, 'prev' as const, 'geq' as const, 'leq' as const), x: fc.integer({ min: -1, max: 31 }) }) },
  { weight: 1, arbitrary: fc.constant({ k: 'iter' as const }) },
);

for (const [name, make, prio] of [
  ['hashed priorities', () => new NumTreap(), mixPriority],
  ['mostly tied priorities', () => new TieTreap(), (k: number) => k & 3],
] as const) {
  describe(`Treap (${name}) against a sorted array`, () => {
    it('agrees on every operation and keeps its invariants', () => {
      fc.assert(
        fc.property(fc.array(opArb, { maxLength: 200 }), (ops) => {
          const t = make();
          const ref: number[] = [];
          for (const op of ops) {
            if (op.k === 'iter') {
              expect(Array.from(t)).toEqual(ref);
              continue;
            }
            const i = lowerIdx(ref, op.x);
            const has = ref[i] === op.x;
            switch (op.k) {
              case 'ins':
                expect(t.insert(op.x)).toBe(!has);
                if (!has) ref.splice(i, 0, op.x);
                break;
              case 'del':
                expect(t.remove(op.x)).toBe(has);
                if (has) ref.splice(i, 1);
                break;
              case 'get':
                expect(t.get(op.x)).toBe(has ? op.x : undefined);
                break;
              case 'next':
                expect(t.next(op.x)).toBe(ref[has ? i + 1 : i]);
                break;
              case 'prev':
                expect(t.prev(op.x)).toBe(i > 0 ? ref[i - 1] : undefined);
                break;
              case 'geq':
                expect(t.firstWhere((y) => y >= op.x)).toBe(ref[i]);
                break;
              case 'leq':
                expect(t.lastWhere((y) => y <= op.x)).toBe(has ? op.x : i > 0 ? ref[i - 1] : undefined);
                break;
            }
            const a = audit(t, prio);
            expect(a.bad).toBeNull();
            expect(a.items).toEqual(ref);
            expect(t.size).toBe(ref.length);
            expect(t.first()).toBe(ref[0]);
            expect(t.last()).toBe(ref[ref.length - 1]);
          }
        }),
        { numRuns: 1000 },
      );
    });

    it('has one shape per set, whatever the history that built it', () => {
      fc.assert(
        fc.property(fc.array(opArb, { maxLength: 150 }), fc.integer(), (ops, seed) => {
          const t = make();
          for (const op of ops) if (op.k === 'ins') t.insert(op.x);
          else if (op.k === 'del') t.remove(op.x);
          // the same set, inserted in another order with no removals
          const items = Array.from(t);
          const u = make();
          let s = seed | 0 || 1;
          const perm = [...items];
          for (let i = perm.length - 1; i > 0; i--) {
            s = (Math.imul(s, 1103515245) + 12345) | 0;
            const j = (s >>> 8) % (i + 1);
            [perm[i], perm[j]] = [perm[j]!, perm[i]!];
          }
          for (const x of perm) u.insert(x);
          expect(shape(u.root)).toBe(shape(t.root));
        }),
        { numRuns: 300 },
      );
    });

    it('an iteration changed under goes on from the successor of the last item returned', () => {
      fc.assert(
        fc.property(fc.uniqueArray(KEY, { maxLength: 40 }), fc.array(fc.option(fc.tuple(fc.boolean(), KEY), { nil: null }), { maxLength: 40 }), (init, changes) => {
          const t = make();
          const ref = new Set<number>();
          for (const x of init) {
            t.insert(x);
            ref.add(x);
          }
          const got: number[] = [];
          const want: number[] = [];
          let step = 0;
          let expectNext = Math.min(...ref);
          for (const x of t) {
            got.push(x);
            want.push(expectNext);
            // change the set (or not), then the next item must be the successor of x in it
            const ch = changes[step++] ?? null;
            if (ch !== null) {
              const [ins, y] = ch;
              if (ins) {
                t.insert(y);
                ref.add(y);
              } else {
                t.remove(y);
                ref.delete(y);
              }
            }
            expectNext = Math.min(...[...ref].filter((y) => y > x));
            if (got.length > 200) break;
          }
          expect(got).toEqual(want);
          // and it stopped exactly when nothing was above the last item
          const lastItem = got.at(-1);
          if (lastItem !== undefined) expect([...ref].some((y) => y > lastItem)).toBe(false);
          else expect(ref.size).toBe(0);
        }),
        { numRuns: 300 },
      );
    });
  });
}

describe('mixPriority', () => {
  it('is a function of the key alone and spreads consecutive keys', () => {
    expect(mixPriority(12345)).toBe(mixPriority(12345));
    const seen = new Set<number>();
    for (let k = 0; k < 4096; k++) seen.add(mixPriority(k) >>> 20);
    // 4096 consecutive keys land in most of the 4096 top-12-bit buckets (a bad mix would clump)
    expect(seen.size).toBeGreaterThan(2400);
    // keys that differ only above bit 32 (IOVA pages reach 2^52) differ in priority
    expect(mixPriority(2 ** 40 + 7)).not.toBe(mixPriority(7));
  });
});

describe('Treap ties', () => {
  it('a removal that merges two subtrees of equal priority keeps the smaller item above', () => {
    const t = new TieTreap();
    for (const k of [1, 2, 5]) t.insert(k);
    t.remove(2);
    expect(audit(t, (k) => k & 3).bad).toBeNull();
    expect(shape(t.root)).toBe('(. 1 (. 5 .))');
  });
});
