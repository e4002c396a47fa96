/**
 * vfio_pin_pages(device, iova, npage, prot, pages) (6.1): the caller's pages[] gets the pfn of
 * every page pinned, in order, the pfns type1 records in its vfio_pfns; a call that fails part
 * way unwinds and leaves 0 (NULL) in every entry it had set, and entries past the failing one
 * untouched.
 */
import { describe, expect, it } from 'vitest';
import type { MdevWorld } from '../mdev/testing.js';
import { mdevWorld, vpfns } from '../mdev/testing.js';
import { iovaOf } from '../type1/external.js';
import { EINVAL } from '../util/errno.js';
import { vfio_pin_pages } from './vendor_api.js';

function pin({ ctx }: MdevWorld, iova: bigint, npage: number, pages: number[]): number {
  const vd = ctx.sys.vdevs.get('vgpu0')!;
  return ctx.sys.call('qemu', () => vfio_pin_pages(ctx.sys.k, vd, iovaOf(iova), npage, 3, pages));
}

describe('vfio_pin_pages pages[]', () => {
  it('gets the pfn of each page pinned, as the vfio_pfns record them', () => {
    const w = mdevWorld([]);
    const pages = [-1, -1, -1, -1];
    expect(pin(w, 0x102000n, 3, pages)).toBe(3);
    const v = vpfns(w.ctx);
    expect(pages).toEqual([v.get(0x102)!.pfn, v.get(0x103)!.pfn, v.get(0x104)!.pfn, -1]);
    expect(new Set(pages.slice(0, 3)).size).toBe(3);
    // pinned again: the same pfns, from the vfio_pfns (ref_count 2)
    const again = [0, 0, 0];
    expect(pin(w, 0x102000n, 3, again)).toBe(3);
    expect(again).toEqual(pages.slice(0, 3));
  });

  it('a pin that runs past the mapping leaves 0 where it had set a pfn, and pins nothing', () => {
    const w = mdevWorld([]);
    const pages = [-1, -1, -1, -1, -1];
    // 0x10e000 and 0x10f000 are mapped, 0x110000 is not
    expect(pin(w, 0x10e000n, 4, pages)).toBe(-EINVAL);
    expect(pages).toEqual([0, 0, 0, -1, -1]);
    expect(vpfns(w.ctx).size).toBe(0);
  });
});
