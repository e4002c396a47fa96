/**
 * The generator structure of one vendor pin+unpin pair in an mdev-only container as the explorer
 * runs it (interleaving mode), with the model's work taken out: the same generators created, the
 * same number of yields at the same nesting depth (vfio_pin_pages -> vfio_iommu_type1_pin_pages ->
 * iommu->lock, vfio_pin_page_external -> mmap_lock read, vfio_lock_acct -> mm_lock_acct ->
 * mmap_lock write; and the unpin side), run the way runSync runs them. Before the straight-through
 * mode (locks that take effect at once when no interleaving runner drives the domain, see
 * src/kernel/sched.ts) this was an upper bound for the churn benchmark; it is kept as the
 * reference for what every scheduling point costs when it is yielded.
 */
interface Y {
  readonly k: 'point';
  readonly label: string;
}
const Y1: Y = { k: 'point', label: 'x' };
type G<T> = Generator<Y, T, undefined>;

function* lock(): G<void> {
  yield Y1;
}
function* unlock(): G<void> {
  yield Y1;
}
function* mmLockAcct(): G<number> {
  yield* lock();
  yield* unlock();
  return 0;
}
function* lockAcct(): G<number> {
  return yield* mmLockAcct();
}
function* pinExternal(): G<number> {
  yield* lock();
  yield* unlock();
  return yield* lockAcct();
}
function* pinPages(): G<number> {
  yield* lock();
  yield* pinExternal();
  yield* unlock();
  return 1;
}
function* unpinExternal(): G<number> {
  return yield* lockAcct();
}
function* unpinPages(): G<number> {
  yield* lock();
  yield* unpinExternal();
  yield* unlock();
  return 1;
}
function* vfioPin(): G<number> {
  return yield* pinPages();
}
function* vfioUnpin(): G<number> {
  return yield* unpinPages();
}

function run<T>(g: G<T>): T {
  for (;;) {
    const r = g.next();
    if (r.done === true) return r.value;
  }
}

/** Run `n` skeleton pairs; returns the sum of the results (so nothing is optimised away). */
export function skeletonPairs(n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += run(vfioPin()) + run(vfioUnpin());
  return s;
}
