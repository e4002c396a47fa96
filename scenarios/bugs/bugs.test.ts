/**
 * The bug catalogue: for every file, `vfiolab explore --check` must find the expected failure on
 * the buggy kernel (profile or switch) and none on the fixed one, and a counterexample must
 * replay to a byte-identical trace.
 */
import { describe, expect, it } from 'vitest';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expandFiles } from '../../src/cli/run.js';
import { exploreCommand } from '../../src/cli/explore.js';
import { loadScenario } from '../../src/scenario/load.js';
import { scenarioHarness } from '../../src/scenario/harness.js';
import { explore, firstCounterexample, renderJsonl, replay } from '../../src/explore/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const files = expandFiles([here]);

describe('bug catalogue', () => {
  it('has at least one entry per catalogued bug', () => {
    expect(files.length).toBeGreaterThanOrEqual(12);
  });
  for (const f of files) {
    it(`explore --check ${f.slice(here.length + 1)}`, async () => {
      const out: string[] = [];
      const rc = await exploreCommand([f], { check: true }, (s) => out.push(s));
      if (rc !== 0) expect.fail(out.join('\n'));
    });
  }
  it('a counterexample replays to a byte-identical trace, twice', () => {
    const sc = loadScenario(`${here}/v9-mlock-gap.yaml`);
    const h = scenarioHarness(sc, { profile: 'v9' });
    const ce = firstCounterexample(explore(h, { strategy: 'dfs' }));
    expect(ce?.key).toBe('invariant:locked_vm_within_limit');
    const a = renderJsonl(replay(h, ce!.token, { trace: true }));
    const b = renderJsonl(replay(h, ce!.token, { trace: true }));
    expect(a.length).toBeGreaterThan(0);
    expect(a).toBe(b);
  });
});
