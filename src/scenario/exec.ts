/**
 * Executing a scenario on the model backend, step by step, and checking expectations.
 * A step without `expect` must succeed. A kernel BUG stops the scenario (the process would be
 * stuck in the kernel): later steps are reported as not run.
 */
import { KernelBug, KernelHang } from '../kernel/klog.js';
import { getProfile, withSwitches } from '../kernel/profile.js';
import { errnoName } from '../util/errno.js';
import { Sys } from '../sys/system.js';
import { hex } from '../util/units.js';
import type { Expect, Scenario, Step } from './load.js';
import type { ExecCtx, OpResult } from './ops.js';
import { OPS } from './registry.js';
import { compareField } from './compare.js';

export interface Counters {
  /** locked_vm of the step's process, pages */
  locked_vm: number;
  /** the same as /proc/<pid>/status VmLck, kB */
  VmLck: number;
  /** page references held by pins, host-wide */
  pinned: number;
  /** dma_avail of the container the step used, if it has an IOMMU */
  dma_avail?: number;
}

export interface StepRecord {
  i: number;
  line: number;
  op: string;
  process: string;
  call: string;
  ret: number;
  errno: number;
  fields: Record<string, unknown>;
  counters: Counters;
  klog: string[];
  warnings: string[];
  fatal?: string;
  /** expectation mismatches: "errno: expected EINVAL, got 0" */
  failures: string[];
  notRun?: boolean;
}

export interface ScenarioResult {
  file: string;
  name: string;
  profile: string;
  steps: StepRecord[];
  ok: boolean;
  modelError?: string;
}

export function newContext(sc: Scenario): ExecCtx {
  const profile = withSwitches(getProfile(sc.profile)!, sc.switches);
  const sys = Sys.create(profile, sc.host, sc.params);
  sys.k.failSite = sc.fail;
  return { sys, fds: new Map(), bufs: new Map(), proc: sc.host.processes[0]!.name };
}

function counters(ctx: ExecCtx, proc: string, r: OpResult | null): Counters {
  const mm = ctx.sys.proc(proc).p.mm;
  const lv = mm ? mm.locked_vm : 0;
  const c: Counters = { locked_vm: lv, VmLck: lv * 4, pinned: ctx.sys.k.phys.ledger.pages };
  const io = r?.container?.iommu_data;
  if (io && !io.released) c.dma_avail = io.dma_avail;
  return c;
}

export function checkExpect(e: Expect | undefined, rec: StepRecord): string[] {
  const f: string[] = [];
  if (!e) {
    if (rec.fatal) f.push(`unexpected fatal outcome: ${rec.fatal}`);
    else if (rec.errno) f.push(`failed with ${errnoName(rec.errno)} (add expect: {errno: ${errnoName(rec.errno)}} if that is the point)`);
    return f;
  }
  if (e.fatal !== undefined) {
    if (!rec.fatal) f.push(`fatal: expected ${e.fatal === true ? 'a fatal outcome' : JSON.stringify(e.fatal)}, got none`);
    else if (typeof e.fatal === 'string' && !rec.fatal.includes(e.fatal)) f.push(`fatal: expected ${JSON.stringify(e.fatal)}, got ${JSON.stringify(rec.fatal)}`);
  } else if (rec.fatal) f.push(`unexpected fatal outcome: ${rec.fatal}`);
  if (e.errno !== undefined && e.errno !== rec.errno) f.push(`errno: expected ${e.errno ? errnoName(e.errno) : 0}, got ${rec.errno ? errnoName(rec.errno) : 0}`);
  if (e.errno === undefined && e.ret === undefined && e.fatal === undefined && rec.errno) f.push(`failed with ${errnoName(rec.errno)}`);
  if (e.ret !== undefined && e.ret !== rec.ret) f.push(`ret: expected ${e.ret}, got ${rec.ret}`);
  for (const k of ['locked_vm', 'VmLck', 'pinned', 'dma_avail'] as const) {
    const want = e[k];
    if (want !== undefined && want !== rec.counters[k]) f.push(`${k}: expected ${want}, got ${String(rec.counters[k])}`);
  }
  for (const w of e.warnings ?? []) if (!rec.warnings.some((x) => x.includes(w))) f.push(`warnings: expected ${JSON.stringify(w)}, got [${rec.warnings.join(', ')}]`);
  for (const w of e.klog ?? []) if (!rec.klog.some((x) => x.includes(w))) f.push(`klog: expected a line containing ${JSON.stringify(w)}`);
  for (const [k, want] of Object.entries(e.fields)) {
    if (!(k in rec.fields)) {
      f.push(`${k}: expected ${JSON.stringify(want)}, but the step returned no ${k}`);
      continue;
    }
    const m = compareField(want, rec.fields[k]);
    if (m) f.push(`${k}: ${m}`);
  }
  return f;
}

/** Run one step straight through; returns its record. */
export function runStep(ctx: ExecCtx, st: Step): StepRecord {
  const k = ctx.sys.k;
  const def = OPS[st.op]!;
  const mark = k.klog.lines.length;
  const wmark = k.klog.warnings.length;
  ctx.proc = st.process;
  let res: OpResult | null = null;
  let fatal: string | undefined;
  try {
    res = ctx.sys.call(st.process, def.run(ctx, st.args));
  } catch (e) {
    if (e instanceof KernelBug || e instanceof KernelHang) fatal = e.message;
    else throw e;
  }
  if (res && res.ret >= 0 && st.args.as !== undefined && st.op !== 'mmap' && st.op !== 'mmap_bar' && st.op !== 'share_fd') {
    ctx.fds.set(String(st.args.as), { proc: st.process, fd: res.ret });
  }
  const kret = res?.ret ?? 0;
  const rec: StepRecord = {
    i: st.index,
    line: st.line,
    op: st.op,
    process: st.process,
    call: def.show(st.args),
    ret: fatal ? 0 : kret < 0 ? -1 : kret,
    errno: kret < 0 ? -kret : 0,
    fields: res?.fields ?? {},
    counters: counters(ctx, st.process, res),
    klog: k.klog.since(mark).map((l) => l.text),
    warnings: k.klog.warnings.slice(wmark).map((w) => w.name),
    fatal,
    failures: [],
  };
  rec.failures = checkExpect(st.expect, rec);
  return rec;
}

export interface RunOptions {
  /**
   * Run every step with the lock domain marked as driven by an interleaving runner, so that every
   * scheduling point is yielded and runSync resumes each one (the explorer's view of a single
   * thread). Results must be the same as straight through: src/scenario/modes.test.ts checks it.
   */
  interleaving?: boolean;
  /** Called after every step that ran, with its record. */
  afterStep?: (ctx: ExecCtx, rec: StepRecord) => void;
}

export function runScenario(sc: Scenario, o: RunOptions = {}): ScenarioResult {
  const ctx = newContext(sc);
  if (o.interleaving === true) ctx.sys.k.locks.interleaving = true;
  const steps: StepRecord[] = [];
  let stopped = false;
  let modelError: string | undefined;
  // `vfio run` runs the explore threads one after the other, then the teardown
  const all = [...sc.steps, ...sc.threads.flatMap((t) => t.steps), ...sc.teardown];
  for (const st of all) {
    if (stopped) {
      steps.push({ i: st.index, line: st.line, op: st.op, process: st.process, call: OPS[st.op]!.show(st.args), ret: 0, errno: 0, fields: {}, counters: counters(ctx, st.process, null), klog: [], warnings: [], failures: [], notRun: true });
      continue;
    }
    try {
      const rec = runStep(ctx, st);
      steps.push(rec);
      o.afterStep?.(ctx, rec);
      if (rec.fatal) stopped = true;
    } catch (e) {
      modelError = `step ${st.index} (line ${st.line}, ${st.op}): internal model error: ${(e as Error).name}: ${(e as Error).message}`;
      stopped = true;
    }
  }
  const ok = !modelError && steps.every((s) => s.failures.length === 0);
  return { file: sc.file, name: sc.name, profile: sc.profile, steps, ok, modelError };
}

export function fmtValue(v: unknown): string {
  if (typeof v === 'bigint') return hex(v);
  if (Array.isArray(v)) return `[${v.map(fmtValue).join(', ')}]`;
  if (v && typeof v === 'object') return `{${Object.entries(v).map(([k, x]) => `${k}=${fmtValue(x)}`).join(', ')}}`;
  return String(v);
}
