/**
 * World snapshots: reset a model world to the state it had after setup, in place.
 *
 * The explorer is stateless: every execution starts from the world `Harness.setup()` returns.
 * Building that world again (a scenario's setup steps: containers, groups, mdevs, mappings) costs
 * far more than the few interleaved steps that follow. `WorldSnapshot.take(root)` records every
 * object reachable from `root` once; `restore()` writes the recorded contents back into the
 * **same objects**, so every reference into the world (closures in driver ops, host hooks, lock
 * wait lists) stays valid without knowing about them. Objects created by an execution become
 * unreachable again; objects it removed come back.
 *
 * What is recorded, per object kind:
 *   - plain objects and class instances: own enumerable string-keyed properties (values by
 *     reference); the object is then made non-extensible, so an execution that adds a property
 *     to a world object fails loudly (TypeError) instead of leaving state restore cannot undo;
 *   - arrays: the elements; Maps: the entries in order; Sets: the values in order;
 *   - typed arrays: a copy of the bytes;
 *   - frozen objects are walked but not recorded; functions are leaves (a closure's captured
 *     variables are invisible: the model keeps none that change after setup).
 * Anything else (generators, promises, WeakMaps, Dates, ...) cannot be restored and is refused at
 * `take`, naming the path where it was found.
 *
 * Invariant: after `restore()`, everything reachable from `root` is as it was at `take`
 * (`fingerprintOf(root)` equal), provided no property of a recorded object was deleted (which
 * `restore` then reports, since it cannot re-add it to a non-extensible object) and nothing
 * outside the graph (module state) feeds back into it.
 */

export class SnapshotError extends Error {
  override name = 'SnapshotError';
}

export interface SnapshotOptions {
  /** Subtrees to leave out entirely: shared and never written by an execution (e.g. the parsed scenario). */
  readonly shared?: ReadonlySet<object>;
}

/**
 * Writes recorded values back into a batch of objects: `(objs, vals)` with `vals[i]` the values
 * of `objs[i]`'s keys. Generated once per snapshot, one straight-line block per object, so every
 * property access site only ever sees one object (monomorphic), and compared before stored (most
 * fields are unchanged, and a store into an old object pays a write barrier).
 */
type BatchRestorer = (objs: readonly object[], vals: readonly (readonly unknown[])[], force: boolean) => void;

/** Objects per generated function: keeps each function small enough for the optimizing compiler. */
const BATCH = 128;

function compileBatch(keyLists: readonly (readonly string[])[]): BatchRestorer {
  const lines = ["'use strict';", 'let o, v;'];
  keyLists.forEach((keys, i) => {
    lines.push(`o = O[${i}]; v = V[${i}];`);
    keys.forEach((k, j) => {
      const p = `o[${JSON.stringify(k)}]`;
      lines.push(`if (F || ${p} !== v[${j}]) ${p} = v[${j}];`);
    });
  });
  return new Function('O', 'V', 'F', lines.join('\n')) as BatchRestorer;
}

/**
 * Checks a batch of arrays against their recorded elements, generated like `compileBatch`: the
 * length and (for short arrays) every element compared inline at a site of its own, and only an
 * array that changed goes to the generic `restoreArray` (`R`).
 */
type ArrayBatchRestorer = (arrs: readonly unknown[][], vals: readonly (readonly unknown[])[], force: boolean, R: typeof restoreArray) => void;

/** Arrays up to this length are compared element by element in generated code. */
const INLINE_ELEMENTS = 8;

function compileArrayBatch(lengths: readonly number[]): ArrayBatchRestorer {
  const lines = ["'use strict';", 'let a, v;'];
  lengths.forEach((n, i) => {
    lines.push(`a = A[${i}]; v = V[${i}];`);
    const same = n <= INLINE_ELEMENTS ? [`a.length === ${n}`, ...Array.from({ length: n }, (_, j) => `a[${j}] === v[${j}]`)].join(' && ') : 'false';
    lines.push(`if (F || !(${same})) R(a, v);`);
  });
  return new Function('A', 'V', 'F', 'R', lines.join('\n')) as ArrayBatchRestorer;
}

/** Give `a` the elements `v` (same array object). */
function restoreArray(a: unknown[], v: readonly unknown[]): void {
  const n = v.length;
  // pop() rather than `length = n`: the length setter is a slow runtime call
  while (a.length > n) a.pop();
  const m = a.length;
  for (let j = 0; j < m; j++) if (a[j] !== v[j]) a[j] = v[j];
  for (let j = m; j < n; j++) a.push(v[j]);
}

/** The typed-array methods a snapshot uses (every typed array kind has them). */
interface TypedArray {
  slice(): TypedArray;
  set(src: TypedArray): void;
}

export class WorldSnapshot {
  private readonly batches: { fn: BatchRestorer; objs: object[]; vals: unknown[][] }[] = [];
  private readonly arrayBatches: { fn: ArrayBatchRestorer; arrs: unknown[][]; vals: unknown[][] }[] = [];
  private nObjs = 0;
  private nArrays = 0;
  private readonly maps: Map<unknown, unknown>[] = [];
  private readonly mapKeys: unknown[][] = [];
  private readonly mapVals: unknown[][] = [];
  private readonly sets: Set<unknown>[] = [];
  private readonly setVals: unknown[][] = [];
  private readonly typed: TypedArray[] = [];
  private readonly typedVals: TypedArray[] = [];

  private constructor() {}

  /** Number of objects, arrays, Maps, Sets and typed arrays recorded. */
  get size(): number {
    return this.nObjs + this.nArrays + this.maps.length + this.sets.length + this.typed.length;
  }

  static take(root: object, o: SnapshotOptions = {}): WorldSnapshot {
    const s = new WorldSnapshot();
    const shared = o.shared;
    const seen = new Set<object>();
    const stack: { v: unknown; path: string }[] = [{ v: root, path: 'world' }];
    // what the generated batches are built from (the snapshot keeps only the batches)
    const objs: object[] = [];
    const vals: unknown[][] = [];
    const keyLists: string[][] = [];
    const arrays: unknown[][] = [];
    const arrayVals: unknown[][] = [];
    const push = (v: unknown, path: string): void => {
      if (v !== null && typeof v === 'object' && !seen.has(v) && (shared === undefined || !shared.has(v))) stack.push({ v, path });
    };
    for (let top = stack.pop(); top !== undefined; top = stack.pop()) {
      const { v, path } = top;
      const x = v as object;
      if (seen.has(x)) continue;
      seen.add(x);
      if (Array.isArray(x)) {
        const a = x as unknown[];
        arrays.push(a);
        arrayVals.push(a.slice());
        for (let i = 0; i < a.length; i++) push(a[i], `${path}[${i}]`);
      } else if (x instanceof Map) {
        const ks = [...x.keys()];
        const vs = [...x.values()];
        s.maps.push(x);
        s.mapKeys.push(ks);
        s.mapVals.push(vs);
        for (let i = 0; i < ks.length; i++) {
          push(ks[i], `${path}.<key ${i}>`);
          push(vs[i], `${path}.get(${String(ks[i])})`);
        }
      } else if (x instanceof Set) {
        const vs = [...x];
        s.sets.push(x);
        s.setVals.push(vs);
        for (let i = 0; i < vs.length; i++) push(vs[i], `${path}.<member ${i}>`);
      } else if (ArrayBuffer.isView(x) && !(x instanceof DataView)) {
        const t = x as unknown as TypedArray;
        s.typed.push(t);
        s.typedVals.push(t.slice());
      } else {
        const proto = Object.getPrototypeOf(x) as object | null;
        if (proto !== Object.prototype && proto !== null && !isRestorableClassInstance(x)) {
          throw new SnapshotError(`cannot snapshot ${path}: a ${proto.constructor?.name ?? 'exotic object'} cannot be restored in place`);
        }
        const keys = Object.keys(x);
        const vs = keys.map((k) => (x as Record<string, unknown>)[k]);
        if (!Object.isFrozen(x)) {
          objs.push(x);
          vals.push(vs);
          keyLists.push(keys);
          Object.preventExtensions(x);
        }
        for (let i = 0; i < keys.length; i++) push(vs[i], `${path}.${keys[i] as string}`);
      }
    }
    s.nObjs = objs.length;
    s.nArrays = arrays.length;
    for (let i = 0; i < objs.length; i += BATCH) {
      const b = { fn: compileBatch(keyLists.slice(i, i + BATCH)), objs: objs.slice(i, i + BATCH), vals: vals.slice(i, i + BATCH) };
      // Run every store once (writing the values just recorded: no change). A store that never
      // ran has no type feedback, and the optimized function would deoptimize the first time an
      // execution changes that field, again for each new field, until V8 stops optimizing it.
      b.fn(b.objs, b.vals, true);
      s.batches.push(b);
    }
    for (let i = 0; i < arrays.length; i += BATCH) {
      const av = arrayVals.slice(i, i + BATCH);
      const b = { fn: compileArrayBatch(av.map((v) => v.length)), arrs: arrays.slice(i, i + BATCH), vals: av };
      b.fn(b.arrs, b.vals, true, restoreArray); // primed as the object batches are
      s.arrayBatches.push(b);
    }
    return s;
  }

  /** Put every recorded object back as it was at `take`. */
  restore(): void {
    try {
      for (const b of this.batches) b.fn(b.objs, b.vals, false);
    } catch (e) {
      throw new SnapshotError(`restore failed (was a property of a world object deleted?): ${e instanceof Error ? e.message : String(e)}`);
    }
    for (const b of this.arrayBatches) b.fn(b.arrs, b.vals, false, restoreArray);
    const { maps, mapKeys, mapVals } = this;
    for (let i = 0; i < maps.length; i++) restoreMap(maps[i] as Map<unknown, unknown>, mapKeys[i] as unknown[], mapVals[i] as unknown[]);
    const { sets, setVals } = this;
    for (let i = 0; i < sets.length; i++) restoreSet(sets[i] as Set<unknown>, setVals[i] as unknown[]);
    const { typed, typedVals } = this;
    for (let i = 0; i < typed.length; i++) (typed[i] as TypedArray).set(typedVals[i] as TypedArray);
  }
}

/** A class instance whose state is its own properties (not a built-in with internal slots). */
function isRestorableClassInstance(x: object): boolean {
  return !(
    x instanceof WeakMap ||
    x instanceof WeakSet ||
    x instanceof Date ||
    x instanceof RegExp ||
    x instanceof Promise ||
    x instanceof ArrayBuffer ||
    x instanceof DataView ||
    Object.prototype.toString.call(x) === '[object Generator]'
  );
}

// restoreMap/restoreSet compare through forEach with one module-level callback: no iterator or
// entry objects allocated per restore.
let cmpKeys: readonly unknown[] = [];
let cmpVals: readonly unknown[] = [];
let cmpAt = 0;
let cmpSame = true;
function cmpEntry(v: unknown, k: unknown): void {
  if (k !== cmpKeys[cmpAt] || v !== cmpVals[cmpAt]) cmpSame = false;
  cmpAt++;
}
function cmpMember(v: unknown): void {
  if (v !== cmpVals[cmpAt]) cmpSame = false;
  cmpAt++;
}

/** Refill `m` only if it changed (same keys and values in the same order: leave it). */
function restoreMap(m: Map<unknown, unknown>, ks: readonly unknown[], vs: readonly unknown[]): void {
  const n = ks.length;
  if (m.size === n) {
    if (n === 0) return;
    cmpKeys = ks;
    cmpVals = vs;
    cmpAt = 0;
    cmpSame = true;
    m.forEach(cmpEntry);
    if (cmpSame) return;
  }
  m.clear();
  for (let i = 0; i < n; i++) m.set(ks[i], vs[i]);
}

function restoreSet(s: Set<unknown>, vs: readonly unknown[]): void {
  const n = vs.length;
  if (s.size === n) {
    if (n === 0) return;
    cmpVals = vs;
    cmpAt = 0;
    cmpSame = true;
    s.forEach(cmpMember);
    if (cmpSame) return;
  }
  s.clear();
  for (let i = 0; i < n; i++) s.add(vs[i]);
}
