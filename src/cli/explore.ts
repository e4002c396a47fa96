/**
 * `vfiolab explore FILE...` and `vfiolab replay FILE TOKEN`: run a scenario's threads under
 * controlled interleavings, check the named invariants, print counterexamples as something to
 * run again.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import pc from 'picocolors';
import type { ExploreReport, StrategyName } from '../explore/index.js';
import { explore, exploreParallel, firstCounterexample, mergeReports, parseReport, parseShard, progressLine, renderHuman, renderJsonl, replay, shrink, summarizeReport } from '../explore/index.js';
import { SWITCH_NAMES, getProfile } from '../kernel/profile.js';
import type { ProfileSwitches } from '../kernel/profile.js';
import { ScenarioError } from '../scenario/errors.js';
import type { Scenario } from '../scenario/load.js';
import { loadScenario } from '../scenario/load.js';
import { scenarioHarness } from '../scenario/harness.js';
import { expandFiles } from './run.js';
import { failNthSweep } from '../scenario/failnth.js';
import { errnoName } from '../util/errno.js';

export interface ExploreFlags {
  profile?: string;
  switch?: string[];
  strategy?: string;
  maxExecutions?: string;
  maxMs?: string;
  seed?: string;
  preemptionBound?: string;
  workers?: string;
  shard?: string;
  json?: boolean;
  out?: string;
  check?: boolean;
  merge?: boolean;
  progress?: boolean;
}

class UsageError extends Error {}

function parseSwitches(list: string[] | undefined): Partial<ProfileSwitches> | undefined {
  if (!list?.length) return undefined;
  const out: Record<string, boolean> = {};
  for (const s of list) {
    const m = /^(\w+)=(true|false|1|0)$/.exec(s);
    if (!m || !SWITCH_NAMES.includes(m[1] as keyof ProfileSwitches)) throw new UsageError(`--switch ${s}: expected NAME=true|false with NAME one of ${SWITCH_NAMES.join(', ')}`);
    out[m[1]!] = m[2] === 'true' || m[2] === '1';
  }
  return out as Partial<ProfileSwitches>;
}

function shardArg(s: string): ReturnType<typeof parseShard> {
  try {
    return parseShard(s);
  } catch (e) {
    throw new UsageError(`--shard ${s}: ${(e as Error).message} (shards are numbered from 0)`);
  }
}

function num(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^[0-9]+$/.test(v)) throw new UsageError(`--${name}: expected a whole number, got "${v}"`);
  return Number(v);
}

interface Target {
  label: string;
  profile?: string;
  switches?: Partial<ProfileSwitches>;
  expect?: string;
}

function matches(report: ExploreReport, expect: string | undefined): boolean {
  const keys = Object.keys(report.failures);
  if (!expect || expect === 'none') return keys.length === 0;
  return keys.some((k) => k === expect || k.endsWith(`:${expect}`) || k.includes(expect));
}

async function exploreOne(sc: Scenario, file: string, t: Target, f: ExploreFlags, write: (s: string) => void): Promise<{ report: ExploreReport; ok: boolean }> {
  const h = scenarioHarness(sc, { profile: t.profile, switches: t.switches });
  const e = sc.explore;
  const strategy = (f.strategy ?? e.strategy ?? 'portfolio') as StrategyName;
  const opts = {
    strategy,
    seed: num(f.seed, 'seed') ?? e.seed ?? 0,
    preemptionBound: num(f.preemptionBound, 'preemption-bound') ?? e.preemption_bound ?? 2,
    budget: { maxExecutions: num(f.maxExecutions, 'max-executions') ?? e.max_executions, maxMs: num(f.maxMs, 'max-ms') ?? e.max_ms ?? 10_000 },
    shard: f.shard ? shardArg(f.shard) : undefined,
    onProgress: f.progress && process.stderr.isTTY ? (s: Parameters<typeof progressLine>[0]) => process.stderr.write('\r' + progressLine(s)) : undefined,
  };
  let report: ExploreReport;
  const workers = num(f.workers, 'workers');
  if (workers && workers > 1) {
    process.env.VFIOLAB_SCENARIO = file;
    process.env.VFIOLAB_PROFILE = t.profile ?? '';
    process.env.VFIOLAB_SWITCHES = t.switches ? JSON.stringify(t.switches) : '';
    const mod = fileURLToPath(new URL('../scenario/harness-env.js', import.meta.url));
    report = await exploreParallel({ module: mod, export: 'harness' }, { ...opts, workers });
  } else report = explore(h, opts);
  if (opts.onProgress) process.stderr.write('\n');
  const ok = t.expect === undefined ? Object.keys(report.failures).length === 0 : matches(report, t.expect);
  if (f.json) {
    write(JSON.stringify({ file, target: t.label, expect: t.expect ?? null, ok, report }));
    return { report, ok };
  }
  const verdict = ok ? pc.green('as expected') : pc.red('NOT as expected');
  write(pc.bold(summarizeReport(report).trimEnd()));
  if (t.expect !== undefined) write(`  expected ${t.expect === 'none' ? 'no failure' : t.expect}: ${verdict}`);
  const ce = firstCounterexample(report);
  if (ce) {
    const sh = shrink(h, ce.choices);
    const run = replay(h, sh.token, { trace: true });
    const flags = [t.profile ? `--profile ${t.profile}` : '', ...Object.entries(t.switches ?? {}).map(([k, v]) => `--switch ${k}=${String(v)}`)].filter(Boolean).join(' ');
    write(`  counterexample (${sh.preemptions} preemptions, shrunk from ${sh.from.preemptions}): ${run.outcome.kind === 'invariant' ? run.outcome.invariant : run.outcome.kind}`);
    write(`  replay: vfiolab replay ${file} ${sh.token}${flags ? ' ' + flags : ''}`);
    write(renderHuman(run).split('\n').map((l) => '    ' + l).join('\n'));
  }
  return { report, ok };
}

export async function exploreCommand(args: string[], f: ExploreFlags, write: (s: string) => void = (s) => process.stdout.write(s + '\n')): Promise<number> {
  try {
    if (f.merge) {
      const reports = args.map((a) => parseReport(JSON.parse(readFileSync(a, 'utf8')) as unknown, a));
      const m = mergeReports(reports);
      write(f.json ? JSON.stringify(m) : summarizeReport(m));
      return Object.keys(m.failures).length ? 1 : 0;
    }
    if (f.profile && !getProfile(f.profile)) throw new UsageError(`unknown profile "${f.profile}"`);
    const switches = parseSwitches(f.switch);
    let allOk = true;
    const reports: ExploreReport[] = [];
    for (const file of expandFiles(args)) {
      const sc = loadScenario(file);
      if (sc.threads.length === 0) {
        write(`${file}: no threads to explore (add a threads: section)`);
        continue;
      }
      const targets: Target[] = [];
      if (f.check) {
        targets.push({ label: `${file} [${sc.profile}]`, expect: sc.explore.expect ?? 'none' });
        const b = sc.explore.buggy;
        if (b) targets.push({ label: `${file} [buggy: ${b.profile ?? sc.profile}${b.switches ? ' ' + JSON.stringify(b.switches) : ''}]`, profile: b.profile, switches: b.switches as Partial<ProfileSwitches> | undefined, expect: b.expect });
      } else targets.push({ label: `${file} [${f.profile ?? sc.profile}${switches ? ' ' + JSON.stringify(switches) : ''}]`, profile: f.profile, switches });
      for (const t of targets) {
        const { report, ok } = await exploreOne(sc, file, t, f, write);
        reports.push(report);
        if (!ok) allOk = false;
      }
    }
    if (f.out) writeFileSync(f.out, JSON.stringify(reports.length === 1 ? reports[0] : mergeReports(reports)) + '\n');
    return allOk ? 0 : 1;
  } catch (e) {
    if (e instanceof ScenarioError || e instanceof UsageError) {
      process.stderr.write(pc.red(e instanceof ScenarioError ? e.message : `vfiolab explore: ${e.message}`) + '\n');
      return 2;
    }
    throw e;
  }
}

export function replayCommand(file: string, token: string, f: { profile?: string; switch?: string[]; json?: boolean }, write: (s: string) => void = (s) => process.stdout.write(s + '\n')): number {
  try {
    const sc = loadScenario(file);
    const h = scenarioHarness(sc, { profile: f.profile, switches: parseSwitches(f.switch) });
    const run = replay(h, token, { trace: true });
    write(f.json ? renderJsonl(run) : renderHuman(run));
    return run.outcome.kind === 'ok' ? 0 : 1;
  } catch (e) {
    if (e instanceof ScenarioError || e instanceof UsageError) {
      process.stderr.write(pc.red(e.message) + '\n');
      return 2;
    }
    if (e instanceof Error && /token|Replay/i.test(e.name + e.message)) {
      process.stderr.write(pc.red(`vfiolab replay: ${e.message}`) + '\n');
      return 2;
    }
    throw e;
  }
}

/** `vfiolab failnth FILE...`: fail every fallible call site in turn and check the unwind. */
export function failNthCommand(args: string[], f: { profile?: string; switch?: string[]; json?: boolean }, write: (s: string) => void = (s) => process.stdout.write(s + '\n')): number {
  try {
    const switches = parseSwitches(f.switch);
    let ok = true;
    for (const file of expandFiles(args)) {
      const sc0 = loadScenario(file);
      const sc = { ...sc0, profile: f.profile ?? sc0.profile, switches: switches ?? sc0.switches };
      const rep = failNthSweep(sc);
      if (!rep.ok) ok = false;
      if (f.json) {
        write(JSON.stringify(rep));
        continue;
      }
      if (rep.skipped) {
        write(`SKIP ${file} [${sc.profile}]: ${rep.skipped}`);
        continue;
      }
      write(`${rep.ok ? pc.green('PASS') : pc.red('FAIL')} ${file} [${sc.profile}]: ${rep.sites} fallible calls, each failed once`);
      for (const c of rep.cases) {
        const where = c.step === null ? 'not reached' : `step ${c.step}${c.errno ? ` -> ${errnoName(c.errno)}` : ''}`;
        write(`  ${String(c.n).padStart(3)} ${c.site.padEnd(28)} ${where.padEnd(22)} ${c.violations.length ? pc.red(c.violations.join('; ')) : 'clean unwind'}`);
      }
    }
    return ok ? 0 : 1;
  } catch (e) {
    if (e instanceof ScenarioError || e instanceof UsageError) {
      process.stderr.write(pc.red(e.message) + '\n');
      return 2;
    }
    throw e;
  }
}
