/**
 * An ordered set kept as a treap whose priorities are computed from the items (a hash of the
 * key), not drawn at random. For a given set of items the tree therefore has exactly one shape,
 * whatever the order of the insertions and removals that built it: a structural walk such as the
 * explorer's fingerprint (src/explore/fingerprint.ts) sees two equal sets as equal, and nothing
 * depends on a random source. find/insert/remove are O(log n) expected (depth about 2 ln n for a
 * well-mixed hash), in-order iteration is O(1) amortised per item.
 *
 * State: `root` (the tree) and `size`; a node holds `item`, `left` (smaller items), `right`
 * (larger items). Invariants: in-order is strictly ascending by `compare`; every node's priority
 * (`priority`, ties broken by `compare`: the smaller item wins) is above its children's.
 * No lock of its own: the owner's lock guards it.
 */

export class TreapNode<T> {
  left: TreapNode<T> | null = null;
  right: TreapNode<T> | null = null;
  constructor(readonly item: T) {}
}

/** murmur3's 32-bit finaliser over a non-negative integer below 2^53: a well-mixed priority. */
export function mixPriority(key: number): number {
  const hi = Math.floor(key / 0x100000000);
  let h = (key >>> 0) ^ Math.imul(hi, 0x9e3779b1);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * The treap. A subclass gives `compare` (a total order on the items held together; two distinct
 * items never compare 0) and `priority` (depending only on what `compare` reads, so the shape is
 * history-independent).
 */
export abstract class Treap<T> implements Iterable<T> {
  root: TreapNode<T> | null = null;
  size = 0;

  protected abstract compare(a: T, b: T): number;
  protected abstract priority(item: T): number;

  /** Does `a` belong above `b`? */
  private above(a: T, b: T): boolean {
    const pa = this.priority(a);
    const pb = this.priority(b);
    return pa !== pb ? pa > pb : this.compare(a, b) < 0;
  }

  /** Insert `item`; false (and nothing changed) if an item comparing equal is there already. */
  insert(item: T): boolean {
    let parent: TreapNode<T> | null = null;
    let toLeft = false;
    let n = this.root;
    // walk down while the nodes belong above the new one; check for an equal item on the way
    while (n !== null && this.above(n.item, item)) {
      const c = this.compare(item, n.item);
      if (c === 0) return false;
      parent = n;
      toLeft = c < 0;
      n = toLeft ? n.left : n.right;
    }
    for (let m = n; m !== null; ) {
      const c = this.compare(item, m.item);
      if (c === 0) return false;
      m = c < 0 ? m.left : m.right;
    }
    const node = new TreapNode(item);
    // split the subtree at n around item into node.left (smaller) and node.right (larger)
    let lHole: TreapNode<T> | null = null;
    let rHole: TreapNode<T> | null = null;
    while (n !== null) {
      if (this.compare(n.item, item) < 0) {
        if (lHole === null) node.left = n;
        else lHole.right = n;
        lHole = n;
        n = n.right;
      } else {
        if (rHole === null) node.right = n;
        else rHole.left = n;
        rHole = n;
        n = n.left;
      }
    }
    if (lHole !== null) lHole.right = null;
    if (rHole !== null) rHole.left = null;
    if (parent === null) this.root = node;
    else if (toLeft) parent.left = node;
    else parent.right = node;
    this.size++;
    return true;
  }

  /** Remove the item comparing equal to `item`; false if there is none. */
  remove(item: T): boolean {
    let parent: TreapNode<T> | null = null;
    let n = this.root;
    while (n !== null) {
      const c = this.compare(item, n.item);
      if (c === 0) break;
      parent = n;
      n = c < 0 ? n.left : n.right;
    }
    if (n === null) return false;
    const m = this.merge(n.left, n.right);
    if (parent === null) this.root = m;
    else if (parent.left === n) parent.left = m;
    else parent.right = m;
    this.size--;
    return true;
  }

  /** Join two trees, every item of `a` below every item of `b`. */
  private merge(a: TreapNode<T> | null, b: TreapNode<T> | null): TreapNode<T> | null {
    if (a === null) return b;
    if (b === null) return a;
    if (this.above(a.item, b.item)) {
      a.right = this.merge(a.right, b);
      return a;
    }
    b.left = this.merge(a, b.left);
    return b;
  }

  /** The item comparing equal to `item`, if held. */
  get(item: T): T | undefined {
    let n = this.root;
    while (n !== null) {
      const c = this.compare(item, n.item);
      if (c === 0) return n.item;
      n = c < 0 ? n.left : n.right;
    }
    return undefined;
  }

  first(): T | undefined {
    let n = this.root;
    if (n === null) return undefined;
    while (n.left !== null) n = n.left;
    return n.item;
  }

  last(): T | undefined {
    let n = this.root;
    if (n === null) return undefined;
    while (n.right !== null) n = n.right;
    return n.item;
  }

  /** The smallest item for which `pred` holds; `pred` must be false then true in order. */
  firstWhere(pred: (item: T) => boolean): T | undefined {
    let n = this.root;
    let res: T | undefined;
    while (n !== null) {
      if (pred(n.item)) {
        res = n.item;
        n = n.left;
      } else n = n.right;
    }
    return res;
  }

  /** The largest item for which `pred` holds; `pred` must be true then false in order. */
  lastWhere(pred: (item: T) => boolean): T | undefined {
    let n = this.root;
    let res: T | undefined;
    while (n !== null) {
      if (pred(n.item)) {
        res = n.item;
        n = n.right;
      } else n = n.left;
    }
    return res;
  }

  /** The smallest item above `item` (which need not be held). */
  next(item: T): T | undefined {
    let n = this.root;
    let res: T | undefined;
    while (n !== null) {
      if (this.compare(n.item, item) > 0) {
        res = n.item;
        n = n.left;
      } else n = n.right;
    }
    return res;
  }

  /** The largest item below `item` (which need not be held). */
  prev(item: T): T | undefined {
    let n = this.root;
    let res: T | undefined;
    while (n !== null) {
      if (this.compare(n.item, item) < 0) {
        res = n.item;
        n = n.right;
      } else n = n.left;
    }
    return res;
  }

  /**
   * In ascending order. A modification while iterating is allowed: the walk goes on from the
   * smallest item above the one it returned last. Each step is a `next()` lookup (O(log n)): no
   * stack to keep valid, and one small object per walk, which matters to the explorer's
   * invariants that walk `dma_list` after every scheduling step.
   */
  [Symbol.iterator](): Iterator<T> {
    return new TreapIterator(this);
  }

  /** Does `pred` hold for some item (in ascending order, stopping at the first)? */
  some(pred: (item: T) => boolean): boolean {
    for (const x of this) if (pred(x)) return true;
    return false;
  }

  toArray(): T[] {
    return Array.from(this);
  }
}

/** The in-order walk of a treap (see `Treap[Symbol.iterator]`); reuses one result object. */
class TreapIterator<T> implements Iterator<T> {
  private started = false;
  private last: T | undefined = undefined;
  private readonly res: { done: boolean; value: T | undefined } = { done: false, value: undefined };
  constructor(private readonly t: Treap<T>) {}

  next(): IteratorResult<T> {
    const x = this.started ? (this.last === undefined ? undefined : this.t.next(this.last)) : this.t.first();
    this.started = true;
    this.last = x;
    const r = this.res;
    r.done = x === undefined;
    r.value = x;
    return r as IteratorResult<T>;
  }
}
