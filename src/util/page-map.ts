/**
 * A map from integer keys (IOVA pages, byte IOVAs) to values that allocates nothing once it has
 * grown to its working size: the table of a vendor-pinned page set (`vfio_dma.pfn_list`, a sample
 * driver's pin record), where a page is pinned and unpinned millions of times.
 *
 * Why not a Map: V8's Map appends every insert and leaves a hole for every delete, so a Map whose
 * size goes 0 -> 1 -> 0 again and again rebuilds (reallocates) its table every few operations;
 * that and its hashing were the largest single cost of a vendor pin+unpin pair. Here keys live in
 * an open-addressing table (linear probing, deletion by backward shift, so there are no
 * tombstones and a delete leaves the table as if the key had never been inserted).
 *
 * Keys: non-negative safe integers go in the table; anything else (a string such as an unaligned
 * vfio_pfn key, a bigint IOVA above 2^53) goes in a side Map made on first use. Keys compare as
 * Map keys do (SameValueZero), so `1` and `1n` are different keys.
 *
 * Iteration (`keys`, `values`, `entries`, `forEach`) visits table slots in order, then the side
 * map: a deterministic order that depends on the keys and the history of operations, not on
 * insertion order alone. No user of the model's pin sets depends on the order (the kernel's
 * pfn_list is an rb-tree; users that need IOVA order sort). Iteration is lazy (a 100 k-pin
 * pfn_list is walked on every replay batch), so the map must not change during it: a delete
 * moves later entries back; copy first (`[...m.values()]`) to modify while walking.
 *
 * Invariants: `keys.length === vals.length === mask + 1`, a power of two; an empty slot has key
 * EMPTY (-1); every key sits in the probe run that starts at its home slot, with no empty slot
 * between the two; `used` counts table keys, and the table is at most 3/4 full.
 */
const EMPTY = -1;
const MIN_SLOTS = 8;

export class PageMap<K, V> implements Iterable<[K, V]> {
  private keyArr: number[] = new Array<number>(MIN_SLOTS).fill(EMPTY);
  private valArr: (V | undefined)[] = new Array<V | undefined>(MIN_SLOTS).fill(undefined);
  private mask = MIN_SLOTS - 1;
  private shift = 32 - Math.log2(MIN_SLOTS);
  private used = 0;
  /** Keys that are not non-negative safe integers; null until the first one. */
  private side: Map<K, V> | null = null;

  get size(): number {
    return this.side === null ? this.used : this.used + this.side.size;
  }

  /** Home slot of integer key `k`: Fibonacci hashing of its low and high 32 bits. */
  private home(k: number): number {
    const h = (k | 0) ^ ((k / 4294967296) | 0);
    return Math.imul(h, 0x9e3779b1) >>> this.shift;
  }

  /** The slot holding integer key `k` (>= 0), or ~(the empty slot where it would go) (< 0). */
  private probe(k: number): number {
    const keys = this.keyArr;
    const mask = this.mask;
    for (let i = this.home(k); ; i = (i + 1) & mask) {
      const x = keys[i] as number;
      if (x === k) return i;
      if (x === EMPTY) return ~i;
    }
  }

  /** Put `k` in the empty slot `i` that probe() found for it; grow at 3/4 full. */
  private insertAt(i: number, k: number, v: V | undefined): void {
    this.keyArr[i] = k;
    this.valArr[i] = v;
    if (++this.used * 4 > this.keyArr.length * 3) this.resize(this.keyArr.length * 2);
  }

  get(k: K): V | undefined {
    if (isSlotKey(k)) {
      const i = this.probe(k);
      return i < 0 ? undefined : this.valArr[i];
    }
    return this.side?.get(k);
  }

  has(k: K): boolean {
    if (isSlotKey(k)) return this.probe(k) >= 0;
    return this.side !== null && this.side.has(k);
  }

  set(k: K, v: V): this {
    if (!isSlotKey(k)) {
      (this.side ??= new Map()).set(k, v);
      return this;
    }
    const i = this.probe(k);
    if (i >= 0) this.valArr[i] = v;
    else this.insertAt(~i, k, v);
    return this;
  }

  /**
   * For a map of counts: add `delta` to the count of `k` (absent counts 0) in one probe; a count
   * that drops to 0 or below removes the key. Returns the new count.
   */
  bump(this: PageMap<K, number>, k: K, delta: number): number {
    if (!isSlotKey(k)) {
      const n = (this.get(k) ?? 0) + delta;
      if (n > 0) this.set(k, n);
      else this.delete(k);
      return n;
    }
    const i = this.probe(k);
    if (i < 0) {
      if (delta > 0) this.insertAt(~i, k, delta);
      return delta;
    }
    const n = (this.valArr[i] as number) + delta;
    if (n > 0) this.valArr[i] = n;
    else this.removeAt(i);
    return n;
  }

  delete(k: K): boolean {
    if (!isSlotKey(k)) return this.side !== null && this.side.delete(k);
    const i = this.probe(k);
    if (i < 0) return false;
    this.removeAt(i);
    return true;
  }

  /** Empty slot `i`, moving later members of its probe run back (no tombstones). */
  private removeAt(i: number): void {
    const keys = this.keyArr;
    const vals = this.valArr;
    const mask = this.mask;
    // backward shift: move later members of the probe run into the hole when their home slot
    // does not lie (cyclically) after the hole
    for (let j = (i + 1) & mask; ; j = (j + 1) & mask) {
      const x = keys[j] as number;
      if (x === EMPTY) break;
      const h = this.home(x);
      if (i <= j ? h <= i || h > j : h <= i && h > j) {
        keys[i] = x;
        vals[i] = vals[j];
        i = j;
      }
    }
    keys[i] = EMPTY;
    vals[i] = undefined;
    this.used--;
  }

  clear(): void {
    this.keyArr.fill(EMPTY);
    this.valArr.fill(undefined);
    this.used = 0;
    this.side = null;
  }

  private resize(slots: number): void {
    const oldKeys = this.keyArr;
    const oldVals = this.valArr;
    this.keyArr = new Array<number>(slots).fill(EMPTY);
    this.valArr = new Array<V | undefined>(slots).fill(undefined);
    this.mask = slots - 1;
    this.shift = 32 - Math.log2(slots);
    const keys = this.keyArr;
    for (let j = 0; j < oldKeys.length; j++) {
      const k = oldKeys[j] as number;
      if (k === EMPTY) continue;
      let i = this.home(k);
      while (keys[i] !== EMPTY) i = (i + 1) & this.mask;
      keys[i] = k;
      this.valArr[i] = oldVals[j];
    }
  }

  /** How many integer keys k (in the table, not the side map) have lo <= k < hi: a scan of the keys alone. */
  countKeysIn(lo: number, hi: number): number {
    const keys = this.keyArr;
    const from = Math.max(lo, 0); // table keys are >= 0, and EMPTY (-1) must not count
    let n = 0;
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i] as number;
      if (k >= from && k < hi) n++;
    }
    return n;
  }

  forEach(fn: (v: V, k: K) => void): void {
    const keys = this.keyArr;
    const vals = this.valArr;
    for (let i = 0; i < keys.length; i++) if (keys[i] !== EMPTY) fn(vals[i] as V, keys[i] as K);
    this.side?.forEach(fn);
  }
  *keys(): Generator<K, void, undefined> {
    for (const [k] of this.entries()) yield k;
  }
  *values(): Generator<V, void, undefined> {
    const keys = this.keyArr;
    const vals = this.valArr;
    for (let i = 0; i < keys.length; i++) if (keys[i] !== EMPTY) yield vals[i] as V;
    if (this.side) yield* this.side.values();
  }
  *entries(): Generator<[K, V], void, undefined> {
    const keys = this.keyArr;
    const vals = this.valArr;
    for (let i = 0; i < keys.length; i++) if (keys[i] !== EMPTY) yield [keys[i] as K, vals[i] as V];
    if (this.side) yield* this.side.entries();
  }
  [Symbol.iterator](): Iterator<[K, V]> {
    return this.entries();
  }
}

function isSlotKey(k: unknown): k is number {
  return typeof k === 'number' && Number.isSafeInteger(k) && k >= 0;
}
