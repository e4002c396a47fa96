/**
 * A set of integers stored as sorted, disjoint, non-adjacent half-open intervals [a, b).
 * Used for dirty bitmaps (bits = pages), so "every page of a 1 TiB mapping is dirty" is one
 * interval.
 */
export class IntervalSet {
  private iv: [number, number][] = [];

  get size(): number {
    let n = 0;
    for (const [a, b] of this.iv) n += b - a;
    return n;
  }

  isEmpty(): boolean {
    return this.iv.length === 0;
  }

  add(a: number, b: number): void {
    if (a >= b) return;
    const out: [number, number][] = [];
    let na = a;
    let nb = b;
    let placed = false;
    for (const [x, y] of this.iv) {
      if (y < na) out.push([x, y]);
      else if (x > nb) {
        if (!placed) {
          out.push([na, nb]);
          placed = true;
        }
        out.push([x, y]);
      } else {
        na = Math.min(na, x);
        nb = Math.max(nb, y);
      }
    }
    if (!placed) out.push([na, nb]);
    this.iv = out;
  }

  has(x: number): boolean {
    return this.iv.some(([a, b]) => x >= a && x < b);
  }

  clear(): void {
    this.iv = [];
  }

  /** The intervals, shifted by `offset` and clipped to [lo, hi). */
  ranges(offset = 0, lo = -Infinity, hi = Infinity): [number, number][] {
    const out: [number, number][] = [];
    for (const [a, b] of this.iv) {
      const x = Math.max(a + offset, lo);
      const y = Math.min(b + offset, hi);
      if (x < y) out.push([x, y]);
    }
    return out;
  }
}
