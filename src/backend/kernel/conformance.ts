/**
 * Running scenarios on a real kernel (batched: many scenarios per boot), and comparing them with
 * the model step by step. Used by `vfiolab run --backend kernel:…`, `diff`, `conformance`, `fuzz`.
 */
import type { ScenarioResult, StepRecord } from '../../scenario/exec.js';
import { runScenario } from '../../scenario/exec.js';
import { compareField } from '../../scenario/compare.js';
import { fmtValue } from '../../scenario/exec.js';
import type { Scenario } from '../../scenario/load.js';
import { errnoName } from '../../util/errno.js';
import type { KernelId } from './config.js';
import { boot, type BootOptions } from './qemu.js';
import { encodeScript, type StepResult } from './script.js';
import { FD_RET_OPS, recordsFromResults, translateScenario, type KernelStepRecord, type Translation } from './translate.js';

export interface KernelScenarioResult extends ScenarioResult {
  steps: KernelStepRecord[];
  /** `unsupported on the kernel backend: …` */
  unsupported?: string;
  /** the boot failed (the guest never reached the runner, or QEMU timed out) */
  bootError?: string;
  translation: Translation;
}

export interface KernelRunOptions {
  /** scenarios per boot (default 80) */
  batch?: number;
  /** boots run at once (default 2; QEMU TCG uses one host core each) */
  parallel?: number;
  log?: (msg: string) => void;
  /** extra boot options */
  boot?: BootOptions;
  /** scenarios to run in a boot of their own with a short step timeout (e.g. the model predicts a kernel BUG) */
  isolate?: (index: number) => boolean;
}

interface Job {
  idx: number[];
  opts: BootOptions;
}

/** Plan the boots: scenarios sharing boot parameters share boots; `ownBoot` ones get one each. */
export function planBoots(ts: Translation[], batch = 80, isolate?: (index: number) => boolean): Job[] {
  const jobs: Job[] = [];
  const groups = new Map<string, number[]>();
  ts.forEach((t, k) => {
    if (t.unsupported.length) return;
    if (t.ownBoot || isolate?.(k)) {
      const bug = t.fatalLikely || isolate?.(k) === true;
      jobs.push({ idx: [k], opts: { mdevs: Math.max(2, t.mdevs), type1Params: t.type1Params, stepTimeoutMs: bug ? 4000 : 20_000, ...(bug ? { bootTimeoutMs: 60_000 } : {}) } });
      return;
    }
    const key = JSON.stringify(t.type1Params);
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key)!.push(k);
  });
  for (const idx of groups.values()) {
    for (let s = 0; s < idx.length; s += batch) {
      const part = idx.slice(s, s + batch);
      jobs.unshift({ idx: part, opts: { mdevs: Math.max(2, ...part.map((k) => ts[k]!.mdevs)), type1Params: ts[part[0]!]!.type1Params, stepTimeoutMs: 20_000 } });
    }
  }
  return jobs;
}

async function pool<T>(items: T[], n: number, fn: (x: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.max(1, n) }, worker));
}

export interface BootStats {
  boots: number;
  wallMs: number;
}

/** Run scenarios on a kernel; one result per scenario, in order. */
export async function runScenariosOnKernel(kernel: KernelId, scenarios: Scenario[], o: KernelRunOptions = {}, stats?: BootStats): Promise<KernelScenarioResult[]> {
  const ts = scenarios.map((sc) => translateScenario(sc, { kernel }));
  const out: KernelScenarioResult[] = scenarios.map((sc, k) => ({
    file: sc.file,
    name: sc.name,
    profile: `kernel:${kernel}`,
    steps: [],
    ok: true,
    translation: ts[k]!,
    ...(ts[k]!.unsupported.length ? { unsupported: ts[k]!.unsupported.join('; ') } : {}),
  }));
  const jobs = planBoots(ts, o.batch, o.isolate);
  await pool(jobs, o.parallel ?? 2, async (job) => {
    const scripts = job.idx.map((k) => encodeScript(ts[k]!.steps, `${ts[k]!.file}: ${ts[k]!.name.replace(/[\r\n]+/g, ' ')}`));
    let results: StepResult[][] = [];
    let err: string | undefined;
    const t0 = Date.now();
    try {
      // a boot planned for a BUG keeps its short QEMU limit: after a BUG a helper process can be
      // stuck on the dead task's locks, and the runner waits for it forever
      const r = await boot(kernel, scripts, { ...job.opts, ...o.boot, ...(job.opts.bootTimeoutMs ? { bootTimeoutMs: job.opts.bootTimeoutMs } : {}) });
      results = r.results;
      if (!r.output.ended) {
        err = `the runner did not finish (${r.timedOut ? 'QEMU timed out' : `QEMU exit ${String(r.qemuExit)}`})`;
        // the step the runner never came back from is a hang; its kernel log is on the console
        const last = results.findLastIndex((x) => x.length > 0);
        const rs = results[last];
        const t = rs ? ts[job.idx[last]!] : undefined;
        if (rs && t && rs[rs.length - 1]!.i + 1 < t.steps.length) {
          const i = rs[rs.length - 1]!.i + 1;
          const klog = r.console.split('\n').filter((l) => /kernel BUG at|BUG:|Oops/.test(l)).map((l) => l.replace(/^\[[ \d.]+\]\s*/, ''));
          rs.push({ i, line: 0, op: t.steps[i]!.op, ret: -1, errno: 0, errname: '', fields: {}, vmlckKb: -1, ms: 0, klog, hung: true });
        }
      }
    } catch (e) {
      err = (e as Error).message.split('\n')[0];
    }
    if (stats) {
      stats.boots++;
      stats.wallMs += Date.now() - t0;
    }
    o.log?.(`kernel ${kernel}: boot with ${job.idx.length} scenario(s) in ${((Date.now() - t0) / 1000).toFixed(1)} s${err ? ` — ${err}` : ''}`);
    job.idx.forEach((k, j) => {
      const res = out[k]!;
      const rs = results[j];
      if (!rs || rs.length === 0) {
        res.bootError = err ?? 'no results';
        res.ok = false;
        return;
      }
      res.steps = recordsFromResults(ts[k]!, rs);
      res.ok = res.steps.every((s) => s.failures.length === 0);
    });
  });
  return out;
}

/** The model run matching a kernel: a 6.1 or 6.12 scenario runs on the profile of the kernel it is compared with. */
export function runModelFor(kernel: KernelId | 'model', sc: Scenario): ScenarioResult {
  const profile = kernel !== 'model' && (sc.profile === '6.1' || sc.profile === '6.12') ? kernel : sc.profile;
  return runScenario({ ...sc, profile });
}

export interface Disagreement {
  file: string;
  i: number;
  line: number;
  op: string;
  call: string;
  what: string;
  model: string;
  kernel: string;
}

const IGNORED_FIELDS = new Set(['addr']);

/** Where a model step and its kernel step disagree (errno, ret, returned size and fields, VmLck, fatal). */
export function compareStep(file: string, m: StepRecord, k: KernelStepRecord): Disagreement[] {
  if (k.skipped || (m.notRun && k.notRun)) return [];
  const d = (what: string, mv: string, kv: string): Disagreement => ({ file, i: m.i, line: m.line, op: m.op, call: m.call, what, model: mv, kernel: kv });
  if (m.notRun !== k.notRun || !!m.fatal !== !!k.fatal) {
    const show = (r: StepRecord): string => (r.notRun ? 'not run' : r.fatal ? `fatal: ${r.fatal}` : r.errno ? errnoName(r.errno) : `ret ${r.ret}`);
    return [d('outcome', show(m), show(k))];
  }
  if (m.notRun || m.fatal) return [];
  const out: Disagreement[] = [];
  if (k.scriptError) return [d('script error', '-', k.scriptError)];
  if (m.errno !== k.errno) out.push(d('errno', m.errno ? errnoName(m.errno) : '0', k.errno ? errnoName(k.errno) : '0'));
  else if (!m.errno && !FD_RET_OPS.has(m.op) && m.ret !== k.ret) out.push(d('ret', String(m.ret), String(k.ret)));
  if (m.counters.VmLck !== k.counters.VmLck) out.push(d('VmLck', String(m.counters.VmLck), String(k.counters.VmLck)));
  if (!m.errno && !k.errno) {
    for (const [key, mv] of Object.entries(m.fields)) {
      if (IGNORED_FIELDS.has(key) || !(key in k.fields)) continue;
      const kv = k.fields[key];
      if (compareField(toWant(mv), kv)) out.push(d(key, fmtValue(mv), fmtValue(kv)));
    }
  }
  return out;
}

/** A model value as an expectation (bigints as hex strings). */
function toWant(v: unknown): unknown {
  if (typeof v === 'bigint') return '0x' + v.toString(16);
  if (Array.isArray(v)) return v.map(toWant);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([a, b]) => [a, toWant(b)]));
  return v;
}

export function compareScenario(model: ScenarioResult, kern: KernelScenarioResult): Disagreement[] {
  const out: Disagreement[] = [];
  const byIdx = new Map(kern.steps.map((s) => [s.i, s]));
  for (const m of model.steps) {
    const k = byIdx.get(m.i);
    if (k) out.push(...compareStep(model.file, m, k));
  }
  return out;
}

/** The side-by-side table of `vfiolab diff`. */
export function formatDisagreements(ds: Disagreement[]): string {
  if (!ds.length) return '';
  const rows = ds.map((x) => [`${x.file.split('/').slice(-2).join('/')}:${x.line}`, x.call.length > 60 ? x.call.slice(0, 57) + '...' : x.call, x.what, x.model, x.kernel]);
  const head = ['where', 'step', 'what', 'model', 'kernel'];
  const w = head.map((h, c) => Math.min(70, Math.max(h.length, ...rows.map((r) => r[c]!.length))));
  const line = (r: string[]): string => r.map((x, c) => x.padEnd(w[c]!)).join('  ').trimEnd();
  return [line(head), line(w.map((n) => '-'.repeat(n))), ...rows.map(line)].join('\n');
}
