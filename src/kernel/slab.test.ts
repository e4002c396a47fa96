/**
 * The vfio_pfn free list (slab.ts): LIFO reuse straight through, nothing while interleaving, a
 * bounded list; a vendor pin after an unpin reuses the freed record with every field rewritten;
 * and a world snapshot restores the list with the rest, so a restored world never hands out a
 * record that is live again.
 */
import { describe, expect, it } from 'vitest';
import { LockDomain } from './locks.js';
import { KmemCache } from './slab.js';
import { WorldSnapshot } from '../explore/snapshot.js';
import { mdevWorld, SETUP_STEPS, vpfns } from '../mdev/testing.js';

describe('KmemCache', () => {
  it('hands back the object freed last, keeps at most `limit`, and does nothing while interleaving', () => {
    const dom = new LockDomain();
    const c = new KmemCache<{ n: number }>('t', 2, dom);
    const a = { n: 1 };
    const b = { n: 2 };
    const x = { n: 3 };
    expect(c.take()).toBeUndefined();
    c.put(a);
    c.put(b);
    c.put(x); // over the limit: dropped
    expect(c.take()).toBe(b);
    expect(c.take()).toBe(a);
    expect(c.take()).toBeUndefined();
    c.put(a);
    dom.interleaving = true;
    expect(c.take()).toBeUndefined();
    c.put(b);
    dom.interleaving = false;
    expect(c.free).toEqual([a]);
  });
});

const STEPS = [
  'vfio_pin_pages: { device: vd, iova: 0x100000, npage: 1 }',
  'vfio_unpin_pages: { device: vd, iova: 0x100000, npage: 1 }',
  'vfio_pin_pages: { device: vd, iova: 0x105000, npage: 1 }',
];
const PIN_A = SETUP_STEPS;
const UNPIN_A = SETUP_STEPS + 1;
const PIN_B = SETUP_STEPS + 2;
const world = (upTo: number) => mdevWorld(STEPS, upTo);

describe('vfio_pfn records', () => {
  it('a pin after an unpin reuses the freed record, with every field rewritten', () => {
    const { ctx, run } = world(PIN_A + 1);
    const first = vpfns(ctx).get(0x100)!;
    const { pfn } = first;
    run(UNPIN_A);
    expect(ctx.sys.k.vfio_pfn_cache.free).toEqual([first]);
    run(PIN_B);
    const now = vpfns(ctx);
    expect([...now.keys()]).toEqual([0x105]);
    expect(now.get(0x105)).toBe(first);
    // the page pinned is the one a world that pins 0x105000 first gets
    const other = world(SETUP_STEPS);
    other.run(PIN_B);
    const want = vpfns(other.ctx).get(0x105)!;
    expect(want.pfn).not.toBe(pfn);
    expect(first).toEqual({ key: 0x105, iovaPage: 0x105, pfn: want.pfn, ref_count: 1 });
  });

  it('a restored world has the free list it had: a record live again is never handed out', () => {
    const { ctx, run } = world(PIN_A + 1);
    const live = vpfns(ctx).get(0x100)!;
    const snap = WorldSnapshot.take(ctx);
    run(UNPIN_A);
    expect(ctx.sys.k.vfio_pfn_cache.free).toContain(live);
    snap.restore();
    expect(ctx.sys.k.vfio_pfn_cache.free).not.toContain(live);
    expect(vpfns(ctx).get(0x100)).toBe(live);
    run(PIN_B);
    const now = vpfns(ctx);
    expect(now.get(0x105)).not.toBe(live);
    expect(now.get(0x100)).toMatchObject({ key: 0x100, iovaPage: 0x100, ref_count: 1 });
  });
});
