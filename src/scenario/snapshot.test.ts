/**
 * The explorer resets scenario worlds in place (src/explore/snapshot.ts) instead of re-running
 * their setup steps. That is only sound if a restored world behaves exactly like the world it was
 * snapshotted from. Checked on the whole corpus: run the first half of each scenario, snapshot,
 * run the second half, restore, check the world's fingerprint, run the second half again: every
 * step record (return, errno, fields, counters, klog, warnings) must be the same both times.
 */
import { describe, expect, it } from 'vitest';
import { readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fingerprintOf } from '../explore/fingerprint.js';
import { WorldSnapshot } from '../explore/snapshot.js';
import type { StepRecord } from './exec.js';
import { newContext, runStep } from './exec.js';
import type { ExecCtx } from './ops.js';
import { loadScenario } from './load.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'scenarios');

function yamlFiles(dir: string): string[] {
  const out: string[] = [];
  for (const f of readdirSync(dir).sort()) {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) {
      if (f !== 'invalid') out.push(...yamlFiles(p));
    } else if (f.endsWith('.yaml')) out.push(p);
  }
  return out;
}

function runTail(ctx: ExecCtx, steps: ReturnType<typeof loadScenario>['steps']): StepRecord[] {
  const out: StepRecord[] = [];
  for (const st of steps) {
    const r = runStep(ctx, st);
    out.push(r);
    if (r.fatal) break; // the process is stuck, as the runner stops
  }
  return out;
}

describe('a restored scenario world behaves like the original', () => {
  const files = yamlFiles(root);
  it('finds the corpus', () => expect(files.length).toBeGreaterThan(100));
  for (const f of files) {
    it(f.slice(root.length + 1), () => {
      const sc = loadScenario(f);
      const cut = Math.floor(sc.steps.length / 2);
      const ctx = newContext(sc);
      for (const r of runTail(ctx, sc.steps.slice(0, cut))) if (r.fatal) return; // nothing left to compare
      const fp = fingerprintOf(ctx);
      const snap = WorldSnapshot.take(ctx);
      const first = runTail(ctx, sc.steps.slice(cut));
      snap.restore();
      expect(fingerprintOf(ctx)).toBe(fp);
      const second = runTail(ctx, sc.steps.slice(cut));
      expect(second).toEqual(first);
      snap.restore();
      expect(fingerprintOf(ctx)).toBe(fp);
    });
  }
});
