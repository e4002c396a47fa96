/**
 * A Map whose table is not reallocated when it empties.
 *
 * V8 shrinks a Map's hash table whenever a delete leaves it less than half full, so a Map that goes
 * from one entry to none and back (a page pinned and unpinned, again and again) allocates a new
 * table on every delete. In a long-lived (old-generation) object that cost more than the rest of
 * a vendor pin+unpin's bookkeeping. `SteadyMap` keeps one private entry in its Map at all times,
 * first in iteration order, and hides it: to its users it is an ordinary Map (insertion order,
 * SameValueZero keys) with the subset of the API the model uses.
 */
const HIDDEN: unique symbol = Symbol('SteadyMap.hidden');

export class SteadyMap<K, V> implements Iterable<[K, V]> {
  private readonly m = new Map<K | typeof HIDDEN, V | undefined>([[HIDDEN, undefined]]);

  get size(): number {
    return this.m.size - 1;
  }
  get(k: K): V | undefined {
    return this.m.get(k);
  }
  has(k: K): boolean {
    return this.m.has(k);
  }
  set(k: K, v: V): this {
    this.m.set(k, v);
    return this;
  }
  delete(k: K): boolean {
    return this.m.delete(k);
  }
  clear(): void {
    this.m.clear();
    this.m.set(HIDDEN, undefined);
  }
  keys(): MapIterator<K> {
    const it = this.m.keys();
    it.next(); // the hidden entry is always first
    return it as MapIterator<K>;
  }
  values(): MapIterator<V> {
    const it = this.m.values();
    it.next();
    return it as MapIterator<V>;
  }
  entries(): MapIterator<[K, V]> {
    const it = this.m.entries();
    it.next();
    return it as MapIterator<[K, V]>;
  }
  [Symbol.iterator](): MapIterator<[K, V]> {
    return this.entries();
  }
}
