import { describe, expect, it } from 'vitest';
import { explore, STRATEGY_NAMES } from '../explore.js';
import type { Harness } from '../harness.js';
import { failureKey } from '../outcome.js';
import { replay, runSchedule } from '../replay.js';
import { abbaHarness, counterHarness, mlockGapHarness } from '../testing/toys.js';
import { ReplayDivergence } from '../strategies/replay.js';
import { shrink } from './shrink.js';
import { decodeToken } from './token.js';
import { renderHuman, renderJsonl } from './trace.js';

const failing: Harness<unknown>[] = [
  counterHarness({ locked: false, threads: 3 }),
  abbaHarness({ sameOrder: false }),
  mlockGapHarness({ split: true }),
] as Harness<unknown>[];

describe('replay', () => {
  for (const strategy of STRATEGY_NAMES) {
    it(`reproduces ${strategy} counterexamples exactly, with byte-identical traces`, () => {
      for (const h of failing) {
        const r = explore(h, { strategy, seed: 11, budget: { maxExecutions: 2000 } });
        const c = r.counterexamples[0];
        expect(c, `${strategy} on ${h.name}`).toBeDefined();
        if (c === undefined) continue;
        const a = replay(h, c.token, { trace: true });
        const b = replay(h, c.token, { trace: true });
        expect(a.outcome).toEqual(c.outcome);
        expect(failureKey(a.outcome)).toBe(c.key);
        expect(a.choices).toEqual(c.choices);
        expect(a.preemptions).toBe(c.preemptions);
        expect(renderHuman(a)).toBe(renderHuman(b));
        expect(renderJsonl(a)).toBe(renderJsonl(b));
        expect(decodeToken(a.token).strategy).toBe(strategy === 'portfolio' ? decodeToken(c.token).strategy : strategy);
      }
    });
  }

  it('writes a versioned JSONL trace: header, one line per scheduling step, outcome', () => {
    const h = mlockGapHarness({ split: true });
    const c = explore(h, { strategy: 'dfs' }).counterexamples[0];
    if (c === undefined) throw new Error('no counterexample');
    const run = replay(h, c.token, { trace: true });
    const lines = renderJsonl(run)
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { v: number; type: string });
    expect(lines.every((l) => l.v === 1)).toBe(true);
    expect(lines[0]?.type).toBe('header');
    expect(lines.at(-1)?.type).toBe('outcome');
    expect(lines.filter((l) => l.type === 'step').length).toBe(run.steps);
    const human = renderHuman(run);
    expect(human).toContain('T1 detach');
    expect(human).toContain('T2 user');
    expect(human).toMatch(/\*.*▶ mlock/);
    expect(human).toContain('⏎ mlock = 0');
    expect(human).toContain('outcome: invariant locked_vm_within_limit violated');
  });

  it('refuses a schedule the model cannot follow', () => {
    const h = counterHarness({ locked: true });
    expect(() => replay(h, 'v1:dfs:0:CQ')).toThrow(ReplayDivergence); // thread 9 does not exist
  });
});

describe('shrink', () => {
  it('returns a schedule that still fails the same way with no more preemptions', () => {
    for (const h of failing) {
      for (const seed of [1, 2, 3]) {
        const r = explore(h, { strategy: 'random', seed, budget: { maxExecutions: 2000 } });
        const c = r.counterexamples[0];
        if (c === undefined) throw new Error(`random found nothing on ${h.name}`);
        const s = shrink(h, c.choices);
        expect(failureKey(s.outcome)).toBe(c.key);
        expect(s.preemptions).toBeLessThanOrEqual(c.preemptions);
        expect(s.choices.length <= c.choices.length || s.preemptions < c.preemptions).toBe(true);
        const again = replay(h, s.token);
        expect(failureKey(again.outcome)).toBe(c.key);
        expect(again.preemptions).toBe(s.preemptions);
      }
    }
  });

  it('reaches the minimum number of preemptions of the toy bugs', () => {
    // deliberately noisy failing schedules: switch at every decision
    const gap = mlockGapHarness({ split: true });
    const noisyGap = runSchedule(gap, [1, 2, 1, 2, 1, 2, 1, 2], { tolerant: true });
    expect([noisyGap.outcome.kind, noisyGap.preemptions]).toEqual(['invariant', 5]);
    expect(shrink(gap, noisyGap.choices).preemptions).toBe(1);
    const racy = counterHarness({ locked: false, threads: 3 });
    const noisyRacy = runSchedule(racy, [1, 2, 3, 1, 2, 3, 1, 2, 3], { tolerant: true });
    expect([noisyRacy.outcome.kind, noisyRacy.preemptions]).toEqual(['invariant', 6]);
    const s = shrink(racy, noisyRacy.choices);
    expect(s).toMatchObject({ preemptions: 1, choices: [1, 2], from: { preemptions: 6, length: 7 } });
  });
});
