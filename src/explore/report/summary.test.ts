import { describe, expect, it } from 'vitest';
import { explore } from '../explore.js';
import { progressLine } from '../progress.js';
import type { ProgressStats } from '../progress.js';
import { PortfolioScheduler } from '../strategies/portfolio.js';
import { DfsScheduler } from '../strategies/dfs.js';
import { counterHarness, mlockGapHarness } from '../testing/toys.js';
import { summarizeReport } from './summary.js';

describe('summary and progress', () => {
  it('summarizes failures with their replay tokens', () => {
    const text = summarizeReport(explore(mlockGapHarness({ split: true }), { strategy: 'dfs' }));
    expect(text).toMatch(/^toy-mlock-gap-split: dfs, \d+ executions in /);
    expect(text).toContain('FAIL invariant:locked_vm_within_limit (1 executions): invariant locked_vm_within_limit violated');
    expect(text).toMatch(/replay: v1:dfs:2:\S+ {2}\(1 preemptions, \d+ choices\)/);
    const ok = summarizeReport(explore(counterHarness({ locked: true }), { strategy: 'dfs' }));
    expect(ok).toContain('exhausted');
    expect(ok).toContain('no failure found');
    expect(ok).toContain('1 distinct final states');
    expect(ok).not.toContain('cut short');
  });

  it('reports progress as one padded \\r line, and at the end of a run', () => {
    const seen: ProgressStats[] = [];
    const r = explore(counterHarness({ locked: true, threads: 3 }), { strategy: 'dfs', onProgress: (s) => seen.push(s), progressIntervalMs: 0 });
    expect(seen.at(-1)?.executions).toBe(r.executions);
    const line = progressLine(seen.at(-1) as ProgressStats);
    expect(line.startsWith('\r[dfs] ')).toBe(true);
    expect(line.length).toBeGreaterThanOrEqual(80);
    expect(line).not.toContain('\n');
  });
});

describe('budget', () => {
  it('stops slow harnesses close to maxMs', () => {
    const slow = counterHarness({ locked: true });
    const starts: number[] = [];
    const busy = {
      ...slow,
      setup: () => {
        const now = performance.now();
        starts.push(now);
        while (performance.now() < now + 10);
        return slow.setup();
      },
    };
    const t0 = performance.now();
    const r = explore(busy, { strategy: 'random', stopOnFailure: false, budget: { maxMs: 100 } });
    // the clock is read before every execution when executions are this slow: at most one
    // execution starts after the deadline (a check every 64 would start dozens)
    expect(starts.filter((t) => t > t0 + 100).length).toBeLessThanOrEqual(1);
    expect(r.executions).toBe(starts.length);
  });
});

describe('portfolio', () => {
  it('round-robins its members and is complete once an unbounded DFS member is', () => {
    const dfs = new DfsScheduler({ preemptionBound: Infinity });
    const p = new PortfolioScheduler({ slice: 5, members: [dfs] });
    const r = explore(counterHarness({ locked: true }), { scheduler: p });
    expect(r.complete).toBe(true);
    const alone = explore(counterHarness({ locked: true }), { strategy: 'dfs', preemptionBound: Infinity });
    expect(r.executions).toBe(alone.executions);
    const mixed = explore(counterHarness({ locked: true }), { strategy: 'portfolio', budget: { maxExecutions: 300 } });
    expect(mixed.complete).toBe(false); // bounded DFS done, PCT and random go on
    expect(mixed.executions).toBe(300);
  });
});
