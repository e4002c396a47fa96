import { describe, expect, it } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import { fingerprintOf } from './fingerprint.js';
import { SnapshotError, WorldSnapshot } from './snapshot.js';

class Node {
  next: Node | null = null;
  tags = new Set<string>();
  constructor(public n: number) {}
}

function world() {
  const a = new Node(1);
  const b = new Node(2);
  a.next = b;
  b.next = a; // a cycle
  a.tags.add('x');
  return {
    nodes: [a, b],
    byName: new Map<string, Node>([
      ['a', a],
      ['b', b],
    ]),
    counts: new Int32Array([1, 2, 3]),
    cfg: Object.freeze({ limit: 10, inner: { hits: 0 } }),
    fn: () => a.n,
    sparse: [1, undefined, undefined] as (number | undefined)[],
  };
}

describe('WorldSnapshot', () => {
  it('puts objects, arrays, Maps, Sets and typed arrays back in place', () => {
    const w = world();
    const before = fingerprintOf(w);
    const s = WorldSnapshot.take(w);
    const [a, b] = w.nodes as [Node, Node];
    a.n = 99;
    a.next = null;
    w.nodes.push(new Node(3));
    w.nodes.reverse();
    w.byName.delete('a');
    w.byName.set('c', new Node(4));
    a.tags.add('y');
    w.counts[1] = 7;
    w.cfg.inner.hits++; // under a frozen object, still recorded
    w.sparse.length = 1;
    expect(fingerprintOf(w)).not.toBe(before);
    s.restore();
    expect(fingerprintOf(w)).toBe(before);
    // identity is kept: references into the world (closures) stay valid
    expect(w.nodes[0]).toBe(a);
    expect(w.byName.get('b')).toBe(b);
    expect(w.fn()).toBe(1);
    expect([...a.tags]).toEqual(['x']);
    expect(w.cfg.inner.hits).toBe(0);
    expect(w.sparse).toEqual([1, undefined, undefined]);
  });

  it('restores again and again', () => {
    const w = world();
    const before = fingerprintOf(w);
    const s = WorldSnapshot.take(w);
    for (let i = 0; i < 3; i++) {
      (w.nodes[1] as Node).n += 10;
      w.byName.clear();
      s.restore();
      expect(fingerprintOf(w)).toBe(before);
    }
  });

  it('makes recorded objects non-extensible: a property added later fails loudly', () => {
    const w = world();
    WorldSnapshot.take(w);
    expect(() => {
      (w.nodes[0] as unknown as Record<string, unknown>).extra = 1;
    }).toThrow(TypeError);
  });

  it('reports a deleted property at restore instead of restoring half a world', () => {
    const w = world();
    const s = WorldSnapshot.take(w);
    delete (w.nodes[0] as unknown as Record<string, unknown>).next;
    expect(() => s.restore()).toThrow(SnapshotError);
  });

  it('refuses what it cannot restore, naming where it is', () => {
    function* g(): Generator<number> {
      yield 1;
    }
    expect(() => WorldSnapshot.take({ a: { b: g() } })).toThrow(/world\.a\.b/);
    expect(() => WorldSnapshot.take({ m: new Map([['k', new WeakMap()]]) })).toThrow(/world\.m\.get\(k\).*WeakMap/);
  });

  it('leaves shared subtrees alone', () => {
    const shared = { v: 1 };
    const w = { s: shared, own: { v: 1 } };
    const s = WorldSnapshot.take(w, { shared: new Set([shared]) });
    shared.v = 2;
    w.own.v = 2;
    s.restore();
    expect(shared.v).toBe(2);
    expect(w.own.v).toBe(1);
    expect(Object.isExtensible(shared)).toBe(true);
  });

  // Random edits of a random graph: restore always gives back the fingerprint taken at `take`.
  const edit = fc.oneof(
    fc.record({ k: fc.constant('set' as const), i: fc.nat(), v: fc.integer() }),
    fc.record({ k: fc.constant('link' as const), i: fc.nat(), j: fc.nat() }),
    fc.record({ k: fc.constant('push' as const), v: fc.integer() }),
    fc.record({ k: fc.constant('splice' as const), i: fc.nat() }),
    fc.record({ k: fc.constant('mapdel' as const), i: fc.nat() }),
    fc.record({ k: fc.constant('mapset' as const), key: fc.string({ maxLength: 2 }), i: fc.nat() }),
    fc.record({ k: fc.constant('tag' as const), i: fc.nat(), t: fc.string({ maxLength: 2 }) }),
  );
  test.prop([fc.array(fc.integer(), { minLength: 1, maxLength: 6 }), fc.array(edit, { maxLength: 20 })])('restore undoes any edits', (ns, edits) => {
    const nodes = ns.map((n) => new Node(n));
    const w = { nodes: [...nodes], map: new Map(nodes.map((x, i) => [String(i), x])) };
    const before = fingerprintOf(w);
    const s = WorldSnapshot.take(w);
    const pick = (i: number): Node => (w.nodes.length ? w.nodes[i % w.nodes.length] : nodes[i % nodes.length]) as Node;
    for (const e of edits) {
      switch (e.k) {
        case 'set':
          pick(e.i).n = e.v;
          break;
        case 'link':
          pick(e.i).next = pick(e.j);
          break;
        case 'push':
          w.nodes.push(new Node(e.v));
          break;
        case 'splice':
          w.nodes.splice(e.i % (w.nodes.length + 1), 1);
          break;
        case 'mapdel':
          w.map.delete(String(e.i % nodes.length));
          break;
        case 'mapset':
          w.map.set(e.key, pick(e.i));
          break;
        case 'tag':
          pick(e.i).tags.add(e.t);
          break;
      }
    }
    s.restore();
    expect(fingerprintOf(w)).toBe(before);
  });
});
