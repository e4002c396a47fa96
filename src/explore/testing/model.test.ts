import { describe, expect, it } from 'vitest';
import { explore } from '../explore.js';
import { replay } from '../replay.js';
import { renderHuman } from '../report/trace.js';
import { mapVsMlockHarness } from './model-harness.js';

describe('explorer on the real model', () => {
  it('MAP_DMA/UNMAP_DMA against mlock/munlock of the same process stays within RLIMIT_MEMLOCK', () => {
    const h = mapVsMlockHarness({ dmaPages: 4, mlockPages: 3, limitPages: 6 });
    const r = explore(h, { strategy: 'dfs', preemptionBound: 2 }); // unbounded takes minutes
    const first = r.counterexamples[0];
    if (first !== undefined) throw new Error(renderHuman(replay(h, first.token, { trace: true })));
    expect(r.complete).toBe(true);
    expect(r.outcomes.ok).toBe(r.executions);
    // both orders of the two charges happen: MAP first (mlock fails) and mlock first (MAP fails)
    expect(r.coverage.distinctStates).toBeGreaterThan(1);
  });

  it('caches quiescent states: fewer executions, the same verdicts and return values', () => {
    const h = mapVsMlockHarness({ dmaPages: 4, mlockPages: 3, limitPages: 6 });
    for (const preemptionBound of [2, 3]) {
      const plain = explore(h, { strategy: 'dfs', preemptionBound, stateCaching: false });
      const cached = explore(h, { strategy: 'dfs', preemptionBound });
      expect(cached.complete).toBe(true);
      expect(cached.outcomes.ok).toBe(cached.executions);
      expect(cached.executions).toBeLessThan(plain.executions);
      expect(cached.abandoned).toBeGreaterThan(0);
      expect(cached.coverage.quiescentStates).toBeGreaterThan(0);
      expect(plain.coverage.quiescentStates).toBeNull();
      expect(cached.coverage.distinctStates).toBe(plain.coverage.distinctStates);
    }
  });
});
