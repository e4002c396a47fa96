/**
 * The real-kernel commands of `vfiolab`: `run --backend kernel:…`, `setup kernel`, `doctor`,
 * `diff`, `conformance` and `fuzz` (src/backend/kernel/).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import pc from 'picocolors';
import type { ScenarioResult } from '../scenario/exec.js';
import { formatResult } from '../scenario/format.js';
import type { Scenario } from '../scenario/load.js';
import { traceLines } from '../scenario/trace.js';
import { doctor, setupKernel } from '../backend/kernel/cli-entry.js';
import type { KernelId } from '../backend/kernel/config.js';
import { compareScenario, formatDisagreements, runModelFor, runScenariosOnKernel, type BootStats, type Disagreement, type KernelScenarioResult } from '../backend/kernel/conformance.js';
import { expandFiles, loadAll } from './run.js';

const KERNELS: KernelId[] = ['6.1', '6.12'];
const log = (m: string): void => {
  process.stderr.write(pc.dim(m) + '\n');
};

export function parseBackend(b: string | undefined): KernelId | 'model' | undefined {
  if (b === undefined || b === 'model') return 'model';
  const m = /^kernel:(6\.1|6\.12)$/.exec(b);
  return m ? (m[1] as KernelId) : undefined;
}

function load(fileArgs: string[]): Scenario[] | number {
  const { scenarios, errors } = loadAll(expandFiles(fileArgs));
  for (const e of errors) process.stderr.write(pc.red(e.message) + '\n');
  return errors.length ? 2 : scenarios;
}

function formatKernelResult(r: KernelScenarioResult): string {
  if (r.unsupported) return `${pc.yellow('UNSUPPORTED')} ${r.file}: ${r.unsupported}`;
  if (r.bootError) return `${pc.red('BOOT ERROR')} ${r.file}: ${r.bootError}`;
  const text = formatResult(r as ScenarioResult);
  const un = r.steps.filter((s) => s.unobservable?.length).map((s) => `step ${s.i}: ${s.unobservable!.join(', ')}`);
  return un.length ? `${text}\n${pc.dim(`  not observable on the kernel: ${un.join('; ')}`)}` : text;
}

/** `vfiolab run --backend kernel:6.1 FILE...` */
export async function runOnKernelCommand(kernel: KernelId, fileArgs: string[], o: { json?: boolean; quiet?: boolean }, write: (s: string) => void = (s) => process.stdout.write(s + '\n')): Promise<number> {
  const scenarios = load(fileArgs);
  if (typeof scenarios === 'number') return scenarios;
  const results = await runScenariosOnKernel(kernel, scenarios, { log });
  for (const r of results) {
    if (o.json) {
      if (r.unsupported || r.bootError) write(JSON.stringify({ v: 1, type: 'scenario', file: r.file, name: r.name, profile: r.profile, backend: `kernel:${kernel}`, unsupported: r.unsupported ?? null, boot_error: r.bootError ?? null }));
      else for (const l of traceLines({ ...r, modelError: undefined }, `kernel:${kernel}`)) write(l);
    } else if (!o.quiet || !r.ok || r.unsupported) write(formatKernelResult(r) + '\n');
  }
  const failed = results.filter((r) => !r.ok).length;
  const unsupported = results.filter((r) => r.unsupported).length;
  if (!o.json) write(`${results.length} scenarios on kernel ${kernel}: ${results.length - failed - unsupported} passed, ${failed} failed, ${unsupported} unsupported`);
  return failed ? 1 : 0;
}

/** `vfiolab setup kernel` */
export async function setupCommand(what: string, o: { kernels?: string }): Promise<number> {
  if (what !== 'kernel') {
    process.stderr.write(`vfiolab: setup knows only "kernel"\n`);
    return 2;
  }
  const kernels = o.kernels ? (o.kernels.split(',') as KernelId[]) : undefined;
  const r = await setupKernel({ ...(kernels ? { kernels } : {}), log });
  process.stdout.write(r.text + '\n');
  return r.ok ? 0 : 1;
}

/** `vfiolab doctor` */
export function doctorCommand(o: { json?: boolean }): number {
  const r = doctor();
  process.stdout.write((o.json ? JSON.stringify(r, null, 2) : r.text) + '\n');
  return r.ready ? 0 : 1;
}

export interface KernelComparison {
  kernel: KernelId;
  scenarios: number;
  unsupported: { file: string; reason: string }[];
  bootErrors: { file: string; error: string }[];
  /** steps compared (run on both, not skipped) */
  steps: number;
  agree: number;
  /** steps with at least one disagreement */
  diverge: number;
  /** model-only steps skipped */
  skipped: number;
  /** expectations that the kernel run did not meet (a scenario file that disagrees with the kernel) */
  expectationFailures: { file: string; i: number; line: number; failure: string }[];
  disagreements: Disagreement[];
  boots: number;
  wallMs: number;
}

/** A divergence that is understood (docs/conformance.md): a platform difference, not a model bug. */
export interface KnownDivergence {
  /** scenario file path suffix */
  file: string;
  op: string;
  what: string;
  kernels?: KernelId[];
  reason: string;
}

export function isKnown(d: Disagreement, kernel: KernelId, known: KnownDivergence[]): KnownDivergence | undefined {
  return known.find((k) => d.file.endsWith(k.file) && d.op === k.op && d.what === k.what && (!k.kernels || k.kernels.includes(kernel)));
}

export function loadKnown(file: string | undefined): KnownDivergence[] {
  if (!file) return [];
  return JSON.parse(readFileSync(file, 'utf8')) as KnownDivergence[];
}

export async function compareOnKernel(kernel: KernelId, scenarios: Scenario[], batch?: number): Promise<KernelComparison> {
  const stats: BootStats = { boots: 0, wallMs: 0 };
  const models = scenarios.map((sc) => runModelFor(kernel, sc));
  // where the model expects a kernel BUG, the scenario gets a boot of its own (a BUG wedges the boot)
  const isolate = (k: number): boolean => models[k]!.steps.some((s) => s.fatal);
  const ks = await runScenariosOnKernel(kernel, scenarios, { log, isolate, ...(batch ? { batch } : {}) }, stats);
  const c: KernelComparison = { kernel, scenarios: scenarios.length, unsupported: [], bootErrors: [], steps: 0, agree: 0, diverge: 0, skipped: 0, expectationFailures: [], disagreements: [], boots: stats.boots, wallMs: stats.wallMs };
  scenarios.forEach((sc, j) => {
    const k = ks[j]!;
    if (k.unsupported) return void c.unsupported.push({ file: sc.file, reason: k.unsupported });
    if (k.bootError) return void c.bootErrors.push({ file: sc.file, error: k.bootError });
    const m = models[j]!;
    const ds = compareScenario(m, k);
    c.disagreements.push(...ds);
    const bad = new Set(ds.map((d) => d.i));
    for (const s of k.steps) {
      if (s.skipped) c.skipped++;
      else if (!s.notRun || m.steps.find((x) => x.i === s.i)?.notRun === false) {
        c.steps++;
        if (bad.has(s.i)) c.diverge++;
        else c.agree++;
      }
      for (const f of s.failures) c.expectationFailures.push({ file: sc.file, i: s.i, line: s.line, failure: f });
    }
  });
  return c;
}

/** `vfiolab diff FILE...` */
export async function diffCommand(fileArgs: string[], o: { kernel?: string }): Promise<number> {
  const kernel = (o.kernel ?? '6.1') as KernelId;
  if (!KERNELS.includes(kernel)) {
    process.stderr.write(`vfiolab: unknown kernel ${kernel}; known: ${KERNELS.join(', ')}\n`);
    return 2;
  }
  const scenarios = load(fileArgs);
  if (typeof scenarios === 'number') return scenarios;
  const c = await compareOnKernel(kernel, scenarios);
  for (const u of c.unsupported) process.stdout.write(`${pc.yellow('unsupported')} ${u.file}: ${u.reason}\n`);
  for (const b of c.bootErrors) process.stdout.write(`${pc.red('boot error')} ${b.file}: ${b.error}\n`);
  if (c.disagreements.length) process.stdout.write(formatDisagreements(c.disagreements) + '\n');
  process.stdout.write(`kernel ${kernel}: ${c.scenarios} scenarios (${c.unsupported.length} unsupported), ${c.steps} steps compared: ${c.agree} agree, ${c.diverge} diverge\n`);
  return c.disagreements.length || c.bootErrors.length ? 1 : 0;
}

export function comparisonJson(c: KernelComparison): Record<string, unknown> {
  return {
    kernel: c.kernel,
    scenarios: c.scenarios,
    supported: c.scenarios - c.unsupported.length,
    unsupported: c.unsupported.length,
    boot_errors: c.bootErrors.length,
    steps: c.steps,
    agree: c.agree,
    diverge: c.diverge,
    skipped_model_only: c.skipped,
    boots: c.boots,
    boot_wall_ms: c.wallMs,
    disagreements: c.disagreements,
    expectation_failures: c.expectationFailures,
    unsupported_list: c.unsupported,
    boot_error_list: c.bootErrors,
  };
}

/** `vfiolab conformance [--kernels 6.1,6.12] [--out docs/conformance-results.json] [FILE...]` */
export async function conformanceCommand(fileArgs: string[], o: { kernels?: string; out?: string; batch?: string; known?: string }): Promise<number> {
  const known = loadKnown(o.known);
  const kernels = (o.kernels ?? '6.1,6.12').split(',').map((x) => x.trim()) as KernelId[];
  for (const k of kernels) if (!KERNELS.includes(k)) {
    process.stderr.write(`vfiolab: unknown kernel ${k}\n`);
    return 2;
  }
  const { scenarios, errors } = loadAll(expandFiles(fileArgs.length ? fileArgs : ['scenarios']));
  const t0 = Date.now();
  const comps = await Promise.all(kernels.map((k) => compareOnKernel(k, scenarios, o.batch ? Number(o.batch) : undefined)));
  const lines: string[] = [];
  lines.push(`conformance: ${scenarios.length} scenarios (${errors.length} malformed files skipped), ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  for (const c of comps) {
    const unknown = c.disagreements.filter((d) => !isKnown(d, c.kernel, known));
    lines.push(`kernel ${c.kernel}: ${c.scenarios - c.unsupported.length} scenarios run, ${c.unsupported.length} unsupported, ${c.bootErrors.length} boot errors; ${c.steps} steps compared: ${c.agree} agree, ${c.diverge} diverge (${c.disagreements.length - unknown.length} of ${c.disagreements.length} differences known) (${c.skipped} steps skipped: model-only or unsupported); ${c.expectationFailures.length} expectation failures; ${c.boots} boots`);
    if (c.disagreements.length) lines.push(formatDisagreements(c.disagreements.map((d) => (isKnown(d, c.kernel, known) ? { ...d, what: `${d.what} (known)` } : d))).replace(/^/gm, '  '));
    for (const b of c.bootErrors) lines.push(`  boot error ${b.file}: ${b.error}`);
  }
  process.stdout.write(lines.join('\n') + '\n');
  if (o.out) {
    mkdirSync(dirname(o.out), { recursive: true });
    writeFileSync(o.out, JSON.stringify({ date: new Date().toISOString(), command: `vfiolab conformance --kernels ${kernels.join(',')}`, kernels: comps.map(comparisonJson) }, null, 1) + '\n');
    writeFileSync(o.out.replace(/\.json$/, '') + '.txt', lines.join('\n') + '\n');
  }
  return comps.some((c) => c.disagreements.some((d) => !isKnown(d, c.kernel, known)) || c.bootErrors.length) ? 1 : 0;
}
