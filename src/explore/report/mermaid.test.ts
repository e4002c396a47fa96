import { describe, expect, it } from 'vitest';
import { explore } from '../explore.js';
import { replay } from '../replay.js';
import { abbaHarness, mlockGapHarness } from '../testing/toys.js';
import { renderMermaid } from './mermaid.js';

describe('mermaid', () => {
  it('draws threads and locks, lock arrows from held-set changes, and the outcome', () => {
    const h = mlockGapHarness({ split: true });
    const c = explore(h, { strategy: 'dfs' }).counterexamples[0];
    if (c === undefined) throw new Error('no counterexample');
    const m = renderMermaid(replay(h, c.token, { trace: true }));
    const lines = m.trimEnd().split('\n');
    expect(lines.slice(0, 4)).toEqual(['sequenceDiagram', '  participant T_1 as T1 detach', '  participant T_2 as T2 user', '  participant L_mmap_lock as mmap_lock']);
    expect(lines).toContain('  T_1->>L_mmap_lock: mutex_lock(mmap_lock)');
    expect(lines).toContain('  T_1-->>L_mmap_lock: release');
    expect(lines).toContain('  Note over T_2: preempts');
    expect(lines).toContain('  Note over T_2: ⏎ mlock = 0');
    expect(lines.at(-1)).toMatch(/^ {2}Note over T_1: invariant locked_vm_within_limit violated/);
    expect(m).toBe(renderMermaid(replay(h, c.token, { trace: true })));
  });

  it('shows both threads taking their first lock in a deadlock', () => {
    const h = abbaHarness({ sameOrder: false });
    const c = explore(h, { strategy: 'dfs' }).counterexamples[0];
    if (c === undefined) throw new Error('no counterexample');
    const m = renderMermaid(replay(h, c.token, { trace: true }));
    expect(m).toContain('T_1->>L_a: mutex_lock(a)');
    expect(m).toContain('T_2->>L_b: mutex_lock(b)');
    expect(m).toContain('deadlock: ab waits for b holding [a]#59; ba waits for a holding [b]');
  });
});
