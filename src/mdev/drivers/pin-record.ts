/**
 * A sample driver's record of the pages it pinned through vfio_pin_pages: IOVA (bytes) -> times
 * pinned and not yet unpinned. What a real driver keeps in its own structures (GVT-g: the
 * gvt_dma cache) so that it can honour dma_unmap and unpin everything at close.
 *
 * Kept in a PageMap keyed by the IOVA as a number (exact below 2^53; an IOVA above that keeps its
 * bigint as the key), so a pin+unpin of one page allocates nothing and hashes no bigint.
 */
import { PageMap } from '../../util/page-map.js';

const MAX_EXACT = BigInt(Number.MAX_SAFE_INTEGER);

function keyOf(iova: bigint): number | bigint {
  return iova <= MAX_EXACT ? Number(iova) : iova;
}
function iovaOfKey(k: number | bigint): bigint {
  return typeof k === 'number' ? BigInt(k) : k;
}

export class PinRecord {
  private readonly m = new PageMap<number | bigint, number>();

  /** One more pin of `iova`. */
  add(iova: bigint): void {
    const k = keyOf(iova);
    this.m.set(k, (this.m.get(k) ?? 0) + 1);
  }
  /** One pin of `iova` fewer (nothing if it has none). */
  drop(iova: bigint): void {
    const k = keyOf(iova);
    const n = this.m.get(k);
    if (n === undefined) return;
    if (n <= 1) this.m.delete(k);
    else this.m.set(k, n - 1);
  }
  /** Times `iova` is pinned. */
  count(iova: bigint): number {
    return this.m.get(keyOf(iova)) ?? 0;
  }
  /** Pins held, all IOVAs together. */
  total(): number {
    let n = 0;
    this.m.forEach((c) => (n += c));
    return n;
  }
  /** [iova, times pinned] for every pinned IOVA in [lo, hi), in IOVA order. */
  inRange(lo: bigint, hi: bigint): [bigint, number][] {
    const out: [bigint, number][] = [];
    this.m.forEach((n, k) => {
      const a = iovaOfKey(k);
      if (a >= lo && a < hi) out.push([a, n]);
    });
    return out.sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
  }
}
