/**
 * Scenario harnesses reset their world from a snapshot instead of re-running the setup steps.
 * The explorer must see no difference: on every catalogued bug, on the fixed and on the buggy
 * kernel, exhaustive DFS gives the same report (executions, outcomes, failures, counterexamples
 * with their tokens), and a counterexample replays to the same trace, with and without snapshots.
 */
import { describe, expect, it } from 'vitest';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expandFiles } from '../cli/run.js';
import type { ProfileSwitches } from '../kernel/profile.js';
import type { ExploreReport } from '../explore/index.js';
import { explore, renderJsonl, replay } from '../explore/index.js';
import { scenarioHarness } from './harness.js';
import type { HarnessOverride } from './harness.js';
import { loadScenario } from './load.js';

const bugs = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'scenarios', 'bugs');

/** The parts of a report that do not depend on the clock. */
function stable(r: ExploreReport): unknown {
  return {
    executions: r.executions,
    abandoned: r.abandoned,
    complete: r.complete,
    outcomes: r.outcomes,
    failures: r.failures,
    counterexamples: r.counterexamples,
    schedules: r.coverage.distinctSchedules,
  };
}

describe('snapshot-reset scenario worlds explore like freshly built ones', () => {
  for (const f of expandFiles([bugs])) {
    const sc = loadScenario(f);
    const kernels: [string, HarnessOverride][] = [['fixed', {}]];
    const b = sc.explore.buggy;
    if (b) kernels.push(['buggy', { profile: b.profile, switches: b.switches as Partial<ProfileSwitches> | undefined }]);
    for (const [kind, o] of kernels) {
      it(`${f.slice(bugs.length + 1)} (${kind} kernel)`, () => {
        const opts = { strategy: 'dfs' as const, preemptionBound: sc.explore.preemption_bound ?? 2, stopOnFailure: false, budget: { maxExecutions: 3000 } };
        const fresh = scenarioHarness(sc, { ...o, snapshot: false });
        const snap = scenarioHarness(sc, o);
        const a = explore(fresh, opts);
        const s = explore(snap, opts);
        expect(stable(s)).toEqual(stable(a));
        const ce = a.counterexamples[0];
        if (ce) expect(renderJsonl(replay(snap, ce.token, { trace: true }))).toBe(renderJsonl(replay(fresh, ce.token, { trace: true })));
      });
    }
  }
});
