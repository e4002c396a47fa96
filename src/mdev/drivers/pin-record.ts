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

type Key = number | string;

function keyOf(a: Iova): Key {
  return a.off === 0 ? a.page : `${a.page}+${a.off}`;
}
function iovaOfKey(k: Key): Iova {
  if (typeof k === 'number') return { page: k, off: 0 };
  const [page, off] = k.split('+');
  return { page: Number(page), off: Number(off) };
}

export class PinRecord {
  private readonly m = new PageMap<Key, number>();

  /** One more pin of `a`. */
  add(a: Iova): void {
    this.m.bump(keyOf(a), 1);
  }
  /** One pin of `a` fewer (nothing if it has none). */
  drop(a: Iova): void {
    this.m.bump(keyOf(a), -1);
  }
  /** Times `a` is pinned. */
  count(a: Iova): number {
    return this.m.get(keyOf(a)) ?? 0;
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
