/**
 * A sample driver's record of the pages it pinned through vfio_pin_pages: IOVA -> times pinned
 * and not yet unpinned. What a real driver keeps in its own structures (GVT-g: the gvt_dma cache)
 * so that it can honour dma_unmap and unpin everything at close.
 *
 * Kept in a PageMap keyed by the IOVA page (an unaligned IOVA, which a driver may pin on 6.x, is
 * keyed "page+offset"), so a pin+unpin of one page allocates nothing and hashes no bigint.
 */
import { PageMap } from '../../util/page-map.js';
import type { Iova } from '../../type1/external.js';
import type { VpfnKey } from '../../type1/vfio_iommu.js';
import { vpfnKey } from '../../type1/vfio_iommu.js';

/** The IOVA's key: as type1 keys its vfio_pfn (the page, or "page+offset" when unaligned). */
function keyOf(a: Iova): VpfnKey {
  return vpfnKey(a.page, a.off);
}
function iovaOfKey(k: VpfnKey): Iova {
  if (typeof k === 'number') return { page: k, off: 0 };
  const [page, off] = k.split('+');
  return { page: Number(page), off: Number(off) };
}

export class PinRecord {
  private readonly m = new PageMap<VpfnKey, number>();

  /** One more pin of `a`. */
  add(a: Iova): void {
    this.m.bump(keyOf(a), 1);
  }
  /** One pin of `a` fewer (nothing if it has none). */
  drop(a: Iova): void {
    this.m.bump(keyOf(a), -1);
  }
  /** Pins held, all IOVAs together. */
  total(): number {
    let n = 0;
    this.m.forEach((c) => (n += c));
    return n;
  }
  /** [iova, times pinned] for every pinned IOVA in pages [loPage, hiPage), in IOVA order. */
  inRange(loPage: number, hiPage: number): [Iova, number][] {
    const out: [Iova, number][] = [];
    this.m.forEach((n, k) => {
      const a = iovaOfKey(k);
      if (a.page >= loPage && a.page < hiPage) out.push([a, n]);
    });
    return out.sort((x, y) => x[0].page - y[0].page || x[0].off - y[0].off);
  }
}
