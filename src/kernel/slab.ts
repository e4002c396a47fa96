/**
 * A kmem cache's free list: kfree() keeps the object and the next allocation from the cache hands
 * back the one freed last, as SLUB's per-CPU freelist does.
 *
 * The model keeps one for struct vfio_pfn (`Kernel.vfio_pfn_cache`), the record a vendor pin
 * allocates and the unpin that drops its last reference frees, millions of times in a vGPU churn.
 * A reused record stays where it was in memory: a pinned working set keeps its records in the same
 * few cache lines, where a fresh object per pin would be scattered over the heap by the garbage
 * collector (the difference is about 13 % of a vgpu `workload` step; BENCHMARKS.md).
 *
 * Rules:
 *   - a record from `take` has stale fields: the caller sets every one (vfio_pfn_alloc);
 *   - only straight-through runs use the list: while the lock domain is interleaving, `take`
 *     returns nothing and `put` keeps nothing, so what the explorer runs (including a buggy
 *     profile's use of a freed record, should one exist) allocates and frees exactly as before;
 *   - the list is ordinary kernel state (a public-to-the-walker field, not `#private`), so a
 *     world snapshot records and restores it with everything else, and a restored world never
 *     shares a free record with a live one;
 *   - at most `limit` objects are kept (a churn needs one).
 */
import type { LockDomain } from './locks.js';

export class KmemCache<T extends object> {
  /** Freed objects, the one freed last at the end. */
  readonly free: T[] = [];
  constructor(
    readonly name: string,
    readonly limit: number,
    private readonly dom: LockDomain,
  ) {}

  /** An object freed earlier, to be reinitialised by the caller; undefined: allocate a new one. */
  take(): T | undefined {
    return this.dom.interleaving ? undefined : this.free.pop();
  }

  /** kfree(o): keep `o` for the next `take`, if there is room. */
  put(o: T): void {
    if (!this.dom.interleaving && this.free.length < this.limit) this.free.push(o);
  }
}
