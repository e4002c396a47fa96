/**
 * `vfiolab run FILE...`: run scenario files on a backend, print the trace, exit 0 when every
 * expectation holds, 1 when one fails, 2 when a file is malformed.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import pc from 'picocolors';
import { ScenarioError } from '../scenario/errors.js';
import type { ScenarioResult } from '../scenario/exec.js';
import { runScenario } from '../scenario/exec.js';
import { formatResult } from '../scenario/format.js';
import type { Scenario } from '../scenario/load.js';
import { checkProfileFit, loadScenario } from '../scenario/load.js';
import { traceLines } from '../scenario/trace.js';
import { PROFILES } from '../kernel/profile.js';

export interface RunOptions {
  json?: boolean;
  quiet?: boolean;
  profile?: string;
}

/** Expand directories into the .yaml files below them, sorted. */
export function expandFiles(args: string[]): string[] {
  const out: string[] = [];
  for (const a of args) {
    let st;
    try {
      st = statSync(a);
    } catch {
      out.push(a);
      continue;
    }
    if (st.isDirectory()) {
      const walk = (d: string): void => {
        for (const e of readdirSync(d).sort()) {
          const p = join(d, e);
          if (statSync(p).isDirectory()) walk(p);
          else if (/\.ya?ml$/.test(e)) out.push(p);
        }
      };
      walk(a);
    } else out.push(a);
  }
  return out;
}

export function loadAll(files: string[], profile?: string): { scenarios: Scenario[]; errors: ScenarioError[] } {
  const scenarios: Scenario[] = [];
  const errors: ScenarioError[] = [];
  for (const f of files) {
    try {
      const sc = loadScenario(f);
      if (!profile) scenarios.push(sc);
      else {
        const over = { ...sc, profile };
        checkProfileFit(over);
        scenarios.push(over);
      }
    } catch (e) {
      if (e instanceof ScenarioError) errors.push(e);
      else throw e;
    }
  }
  return { scenarios, errors };
}

export function runCommand(fileArgs: string[], o: RunOptions, write: (s: string) => void = (s) => process.stdout.write(s + '\n')): number {
  if (o.profile && !PROFILES[o.profile]) {
    process.stderr.write(`vfiolab: unknown kernel profile "${o.profile}"; known: ${Object.keys(PROFILES).join(', ')}\n`);
    return 2;
  }
  const files = expandFiles(fileArgs);
  const { scenarios, errors } = loadAll(files, o.profile);
  for (const e of errors) process.stderr.write(pc.red(e.message) + '\n');
  if (errors.length) return 2;
  const results: ScenarioResult[] = [];
  for (const sc of scenarios) {
    const r = runScenario(sc);
    results.push(r);
    if (o.json) for (const l of traceLines(r)) write(l);
    else if (!o.quiet || !r.ok) write(formatResult(r) + '\n');
  }
  const failed = results.filter((r) => !r.ok).length;
  if (!o.json) write(`${results.length} scenarios, ${results.length - failed} passed, ${failed} failed`);
  return failed ? 1 : 0;
}
