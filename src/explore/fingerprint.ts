/**
 * Structural fingerprints of model worlds, for state caching at quiescent points.
 *
 * `fingerprintOf(root)` hashes everything reachable from `root` in a fixed walk: own enumerable
 * string-keyed properties in insertion order, array elements, Map and Set entries in iteration
 * order (insertion order is kept, not sorted: a model that iterates a Map may behave differently
 * for a different order, so two such states must not be conflated), shared and cyclic references
 * as back-references to the first visit, class names, and primitives. 53-bit result (two 32-bit
 * lanes); equal worlds always hash equal, different worlds collide with probability ~2^-53.
 *
 * What it cannot see, and the harness must then handle (or ignore with `ignore`):
 *   - state captured by closures: a function is hashed by its name only;
 *   - `#private` fields, WeakMap/WeakSet contents, module-level variables;
 *   - history that does not affect behaviour but differs between equivalent states (log sequence
 *     numbers, allocation generations, the lock domain's `current` thread): harmless for
 *     soundness, but it stops states from matching; skip such fields with `ignore`.
 */

export interface FingerprintOptions {
  /** Skip property `key` of `holder` (both its name and its value). */
  readonly ignore?: (key: string, holder: object) => boolean;
}

const FNV = 0x01000193;

class Hasher {
  h1 = 0x811c9dc5 | 0;
  h2 = 0x5bd1e995 | 0;

  int(x: number): void {
    this.h1 = Math.imul(this.h1 ^ x, FNV);
    this.h2 = Math.imul(this.h2 ^ (x + 0x9e3779b9), 0x85ebca6b) ^ (this.h2 >>> 13);
  }

  str(s: string): void {
    this.int(s.length);
    for (let i = 0; i < s.length; i++) this.int(s.charCodeAt(i));
  }

  num(n: number): void {
    if (Number.isInteger(n) && n >= -0x80000000 && n <= 0x7fffffff) this.int(n);
    else this.str(String(n));
  }

  value(): number {
    return (this.h1 >>> 0) * 0x200000 + (this.h2 >>> 11);
  }
}

enum Tag {
  Undefined = 1,
  Null,
  True,
  False,
  Num,
  BigInt,
  Str,
  Sym,
  Fn,
  Ref,
  Arr,
  Map,
  Set,
  Obj,
  Typed,
}

/** A 53-bit structural hash of everything reachable from `root` (see the module comment). */
export function fingerprintOf(root: unknown, o: FingerprintOptions = {}): number {
  const h = new Hasher();
  const seen = new Map<object, number>();
  const ignore = o.ignore;

  const walk = (v: unknown): void => {
    switch (typeof v) {
      case 'undefined':
        h.int(Tag.Undefined);
        return;
      case 'boolean':
        h.int(v ? Tag.True : Tag.False);
        return;
      case 'number':
        h.int(Tag.Num);
        h.num(v);
        return;
      case 'bigint':
        h.int(Tag.BigInt);
        h.str(v.toString(16));
        return;
      case 'string':
        h.int(Tag.Str);
        h.str(v);
        return;
      case 'symbol':
        h.int(Tag.Sym);
        h.str(v.description ?? '');
        return;
      case 'function':
        h.int(Tag.Fn);
        h.str(v.name);
        return;
      case 'object': {
        if (v === null) {
          h.int(Tag.Null);
          return;
        }
        const id = seen.get(v);
        if (id !== undefined) {
          h.int(Tag.Ref);
          h.int(id);
          return;
        }
        seen.set(v, seen.size);
        if (Array.isArray(v)) {
          h.int(Tag.Arr);
          h.int(v.length);
          for (const x of v as unknown[]) walk(x);
        } else if (v instanceof Map) {
          h.int(Tag.Map);
          h.int(v.size);
          for (const [k, x] of v as Map<unknown, unknown>) {
            walk(k);
            walk(x);
          }
        } else if (v instanceof Set) {
          h.int(Tag.Set);
          h.int(v.size);
          for (const x of v as Set<unknown>) walk(x);
        } else if (ArrayBuffer.isView(v)) {
          h.int(Tag.Typed);
          const bytes = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
          h.int(bytes.length);
          for (let i = 0; i < bytes.length; i++) h.int(bytes[i] as number);
        } else {
          h.int(Tag.Obj);
          h.str((v as { constructor?: { name?: string } }).constructor?.name ?? '');
          const obj = v as Record<string, unknown>;
          for (const k of Object.keys(obj)) {
            if (ignore !== undefined && ignore(k, obj)) continue;
            h.str(k);
            walk(obj[k]);
          }
        }
        return;
      }
    }
  };
  walk(root);
  return h.value();
}
