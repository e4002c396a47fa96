import { describe, expect, it } from 'vitest';
import { explore } from '../explore.js';
import type { Harness } from '../harness.js';
import { mergeReports, parseReport } from '../report/report.js';
import { abbaHarness, counterHarness, independentHarness, mlockGapHarness } from '../testing/toys.js';
import { parseShard, shardOf } from './shard.js';

const harnesses: Harness<unknown>[] = [
  independentHarness(2, 3),
  independentHarness(3, 2),
  counterHarness({ locked: true, threads: 2, stepsPerThread: 2 }),
  counterHarness({ locked: false, threads: 3 }),
  abbaHarness({ sameOrder: false }),
  mlockGapHarness({ split: true }),
] as Harness<unknown>[];

describe('sharding', () => {
  it('rejects files that are not v1 reports', () => {
    expect(() => parseReport({ v: 2 }, 'r-0.json')).toThrow('r-0.json: not a v1 explore report (v is 2)');
    expect(() => parseReport(null)).toThrow(/not an object/);
    const ok = explore(independentHarness(2, 1), { strategy: 'dfs' });
    expect(parseReport(JSON.parse(JSON.stringify(ok)))).toEqual(ok);
  });

  it('parses i/n', () => {
    expect(parseShard('2/5')).toEqual({ index: 2, count: 5 });
    expect(() => parseShard('5/5')).toThrow();
    expect(() => parseShard('1-3')).toThrow();
    expect([0, 1, 2, 3, 4].map((i) => shardOf(i, 3))).toEqual([0, 1, 2, 0, 1]);
  });

  it('DFS shards partition the exploration: counts and merged findings equal the unsharded run', () => {
    for (const h of harnesses) {
      for (const preemptionBound of [1, 2, Infinity]) {
        const whole = explore(h, { strategy: 'dfs', preemptionBound, stopOnFailure: false });
        expect(whole.complete).toBe(true);
        for (const count of [2, 3, 5]) {
          for (const splitDepth of [1, 2, 4]) {
            const parts = Array.from({ length: count }, (_, index) =>
              explore(h, { strategy: 'dfs', preemptionBound, splitDepth, shard: { index, count }, stopOnFailure: false }),
            );
            // as across machines: each shard's report goes through JSON
            const merged = mergeReports(parts.map((p, i) => parseReport(JSON.parse(JSON.stringify(p)), `shard ${i}`)));
            const what = `${h.name} bound ${preemptionBound} shards ${count} split ${splitDepth}`;
            expect(merged.executions, what).toBe(whole.executions);
            expect(merged.outcomes, what).toEqual(whole.outcomes);
            expect(merged.failures, what).toEqual(whole.failures);
            expect(merged.counterexamples, what).toEqual(whole.counterexamples);
            expect(merged.coverage.distinctSchedules, what).toBe(whole.coverage.distinctSchedules);
            expect(merged.complete, what).toBe(true);
          }
        }
      }
    }
  });
});
