/**
 * The runtime core: runs the threads of one harness execution step by step under a Scheduler.
 *
 * State of one execution (all reset by `run`):
 *   - per thread i (explorer tid i + 1; the model's own ThreadRef may carry another tid): the
 *     generator of the step in flight (`gens[i]`, null while the thread is in user space between
 *     steps), the yield it is parked at (`ys[i]`, null iff gens[i] is null), the index of its
 *     next step (`idx[i]`), and whether it has finished;
 *   - `inKernel` = number of threads with a step in flight (0 means quiescent).
 * A thread is enabled when it is in user space with steps left, or parked at a yield for which
 * `isEnabled(yield, tid)` holds. Starting a step is a scheduling point like any yield.
 *
 * The hot loop allocates nothing per step unless a tracer is attached: the decision point, the
 * enabled-set buffer and the result object are reused across executions.
 */
import type { LockDomain } from '../../kernel/locks.js';
import type { KGen, ThreadRef, Yield } from '../../kernel/sched.js';
import { isEnabled } from '../../kernel/sched.js';
import type { Harness, Invariant, InvariantLevel, ThreadSpec } from '../harness.js';
import { NO_LOCK_HELD_ON_RETURN } from '../harness.js';
import type { Outcome, StuckThread } from '../outcome.js';
import { OK } from '../outcome.js';
import type { DecisionPoint, Scheduler } from './scheduler.js';

/** One scheduling step, as seen by a tracer. */
export interface TraceEvent {
  /** 0-based index of the scheduling step in the execution. */
  readonly i: number;
  readonly tid: number;
  readonly thread: string;
  /** Index and name of the thread's step (syscall) this scheduling step ran in. */
  readonly step: number;
  readonly stepName: string;
  /** Where the thread was parked, null when the step starts here. */
  readonly from: string | null;
  readonly fromKind: Yield['k'] | 'enter';
  /** The lock taken when resuming from an `acquire` point, else null. */
  readonly took: string | null;
  /** Where it parked next, `return` when its step returned to user space, or the error thrown. */
  readonly to: string;
  readonly toKind: Yield['k'] | 'return' | 'throw';
  /** Was this step a decision (at least two threads enabled), and was it a preemption? */
  readonly decision: boolean;
  readonly preemption: boolean;
  /** Locks held by the thread after the step. */
  readonly held: readonly string[];
  /** What the step returned (toKind `return`), as text; null otherwise or for `undefined`. */
  readonly ret: string | null;
}

export interface Tracer {
  event(e: TraceEvent): void;
}

/** The result of the last `run`; one instance per Runtime, overwritten by every run. */
export class ExecResult {
  outcome: Outcome = OK;
  /** Abandoned by the scheduler (not an execution of this shard). */
  pruned = false;
  steps = 0;
  decisions = 0;
  preemptions = 0;
  /** Choices at decision points; entries [0, decisions) are valid (the buffer is reused). */
  readonly choices: number[] = [];
  /** Index of the last choice that differed from `defaultChoice`, -1 if none. */
  lastDeviation = -1;
  /** 53-bit hash of the choice sequence, for coverage (distinct schedules). */
  hash = 0;
  /** The world the execution ran on. */
  world: unknown = undefined;

  /** Canonical schedule: the choices up to the last non-default one (a copy). */
  schedule(): number[] {
    return this.choices.slice(0, this.lastDeviation + 1);
  }
}

export interface RuntimeOptions {
  /** Scheduling steps after which an execution stops with `step_limit` (livelock guard). */
  readonly maxSteps?: number;
}

export const DEFAULT_MAX_STEPS = 100_000;

export function stepNameOf<W>(spec: ThreadSpec<W>, k: number): string {
  const named = spec.stepNames?.[k];
  if (named !== undefined) return named;
  const fn = spec.steps[k];
  return fn !== undefined && fn.name !== '' ? fn.name : `step${k}`;
}

export class Runtime<W> {
  readonly result = new ExecResult();
  private readonly stepInv: readonly Invariant<W>[];
  private readonly quiescentInv: readonly Invariant<W>[];
  private readonly endInv: readonly Invariant<W>[];
  private readonly maxSteps: number;
  private point: DecisionPoint;
  private gens: (KGen<unknown> | null)[] = [];
  private ys: (Yield | null)[] = [];
  private idx: number[] = [];
  private done: boolean[] = [];
  /** ThreadRef per thread index, reused while the thread names stay the same. */
  private refs: ThreadRef[] = [];

  constructor(
    readonly harness: Harness<W>,
    opts: RuntimeOptions = {},
  ) {
    this.stepInv = harness.invariants.filter((i) => i.level === 'step');
    this.quiescentInv = harness.invariants.filter((i) => i.level === 'quiescent');
    this.endInv = harness.invariants.filter((i) => i.level === 'end');
    this.maxSteps = opts.maxSteps ?? DEFAULT_MAX_STEPS;
    this.point = { enabled: new Int32Array(8), n: 0, threads: 0, current: 0, currentEnabled: false, step: 0, depth: 0, preemptions: 0, pending: this.ys };
  }

  /** Run one execution from a fresh world. The returned object is reused by the next run. */
  run(sched: Scheduler, tracer?: Tracer): ExecResult {
    const h = this.harness;
    const r = this.result;
    r.outcome = OK;
    r.pruned = false;
    r.lastDeviation = -1;

    let w: W;
    let dom: LockDomain;
    let specs: readonly ThreadSpec<W>[];
    try {
      w = h.setup();
      dom = h.lockDomain(w);
      specs = h.threads(w);
    } catch (e) {
      const o = thrownOutcome(e, 'setup');
      r.outcome = { kind: 'model_error', message: `harness setup failed: ${'message' in o ? o.message : ''}`, thread: null };
      r.world = undefined;
      r.steps = r.decisions = r.preemptions = r.hash = 0;
      return r;
    }
    r.world = w;
    // this runtime interleaves the domain's threads: every scheduling point must be yielded
    const wasInterleaving = dom.interleaving;
    dom.interleaving = true;
    try {
      this.execute(sched, tracer, w, dom, specs);
    } finally {
      dom.interleaving = wasInterleaving;
    }
    return r;
  }

  private execute(sched: Scheduler, tracer: Tracer | undefined, w: W, dom: LockDomain, specs: readonly ThreadSpec<W>[]): void {
    const h = this.harness;
    const r = this.result;
    const choices = r.choices;
    const T = specs.length;
    let p = this.point;
    if (p.enabled.length < T) {
      p = { ...p, enabled: new Int32Array(T) };
      this.point = p;
    }
    const enabled = p.enabled;
    const seesForced = sched.seesForcedMoves === true;
    const quiescent = h.fingerprint !== undefined ? sched.quiescent : undefined;
    const stateKey =
      quiescent === undefined
        ? null
        : (): number => {
            let key = (h.fingerprint as (w: W) => number)(w);
            for (let j = 0; j < T; j++) key = mixKey(key, idx[j] as number);
            return key;
          };
    const gens = this.gens;
    const ys = this.ys;
    const idx = this.idx;
    const done = this.done;
    const refs = this.refs;
    let unfinished = 0; // non-daemon threads with steps left
    for (let i = 0; i < T; i++) {
      const s = specs[i] as ThreadSpec<W>;
      const own = s.thread;
      const old = refs[i];
      if (own !== undefined) refs[i] = own;
      else if (old === undefined || old.tid !== i + 1 || old.name !== s.name) refs[i] = { tid: i + 1, name: s.name };
      gens[i] = null;
      ys[i] = null;
      idx[i] = 0;
      const fin = s.steps.length === 0;
      done[i] = fin;
      if (!fin && s.daemon !== true) unfinished++;
    }

    let inKernel = 0;
    let current = 0;
    let step = 0;
    let decisions = 0;
    let preemptions = 0;
    let h1 = 0x811c9dc5 | 0;
    let h2 = 0x5bd1e995 | 0;
    let outcome: Outcome = OK;

    for (;;) {
      let n = 0;
      let curEn = false;
      let i = 0;
      try {
        for (; i < T; i++) {
          if (done[i] === true) continue;
          const y = ys[i] as Yield | null;
          if (y === null || isEnabled(y, (refs[i] as ThreadRef).tid)) {
            enabled[n++] = i + 1;
            if (i + 1 === current) curEn = true;
          }
        }
      } catch (e) {
        // a wait condition or canAcquire that throws is a bug of the model
        const o = thrownOutcome(e, (refs[i] as ThreadRef).name);
        outcome = { kind: 'model_error', message: `${(ys[i] as Yield).label}: ${'message' in o ? o.message : String(e)}`, thread: (refs[i] as ThreadRef).name };
        break;
      }
      if (n === 0) {
        if (unfinished > 0) outcome = this.deadlock(specs, refs, dom.heldBy.bind(dom));
        break;
      }

      let tid: number;
      let decision = false;
      if (n === 1) {
        tid = enabled[0] as number;
        if (seesForced && sched.choose(fill(p, 1, T, current, curEn, step, decisions, preemptions)) < 0) {
          r.pruned = true;
          break;
        }
      } else {
        decision = true;
        tid = sched.choose(fill(p, n, T, current, curEn, step, decisions, preemptions));
        if (tid < 0) {
          r.pruned = true;
          break;
        }
        choices[decisions] = tid;
        if (tid !== (curEn ? current : enabled[0])) r.lastDeviation = decisions;
        decisions++;
        h1 = Math.imul(h1 ^ tid, 0x01000193);
        h2 = Math.imul(h2 ^ (tid + decisions), 0x27d4eb2f) ^ (h2 >>> 15);
      }
      const preemption = curEn && tid !== current;
      if (preemption) preemptions++;

      // Resume the chosen thread until its next yield or the return of its step.
      i = tid - 1;
      const spec = specs[i] as ThreadSpec<W>;
      const ref = refs[i] as ThreadRef;
      const before = ys[i] as Yield | null;
      dom.current = ref;
      let g = gens[i] as KGen<unknown> | null;
      let res: IteratorResult<Yield, unknown>;
      try {
        if (g === null) {
          g = (spec.steps[idx[i] as number] as (w: W) => KGen<unknown>)(w);
          gens[i] = g;
          inKernel++;
        }
        res = g.next();
      } catch (e) {
        outcome = thrownOutcome(e, ref.name);
        step++;
        if (tracer !== undefined) {
          const to = 'message' in outcome ? outcome.message : String(e);
          tracer.event(traceEvent(step - 1, tid, ref, spec, idx[i] as number, before, to, 'throw', decision, preemption, dom.heldBy(ref.tid)));
        }
        break;
      }
      step++;
      current = tid;
      let returned = false;
      if (res.done === true) {
        returned = true;
        const k = idx[i] as number;
        gens[i] = null;
        ys[i] = null;
        inKernel--;
        idx[i] = k + 1;
        if (k + 1 >= spec.steps.length) {
          done[i] = true;
          if (spec.daemon !== true) unfinished--;
        }
      } else {
        ys[i] = res.value;
      }

      if (tracer !== undefined) {
        const k = returned ? (idx[i] as number) - 1 : (idx[i] as number);
        const y = ys[i] as Yield | null;
        const e = traceEvent(step - 1, tid, ref, spec, k, before, y === null ? 'return' : y.label, y === null ? 'return' : y.k, decision, preemption, dom.heldBy(ref.tid));
        tracer.event(returned ? { ...e, ret: formatReturn(res.value) } : e);
      }

      if (returned) {
        const held = dom.heldBy(ref.tid);
        if (held.length > 0) {
          outcome = {
            kind: 'invariant',
            invariant: NO_LOCK_HELD_ON_RETURN,
            level: 'step',
            message: `${ref.name} returned from ${stepNameOf(spec, (idx[i] as number) - 1)} holding ${held.join(', ')}`,
            thread: ref.name,
          };
          break;
        }
      }
      if (this.stepInv.length > 0) {
        const v = checkAll(this.stepInv, w, 'step', ref.name);
        if (v !== null) {
          outcome = v;
          break;
        }
      }
      if (inKernel === 0 && this.quiescentInv.length > 0) {
        const v = checkAll(this.quiescentInv, w, 'quiescent', ref.name);
        if (v !== null) {
          outcome = v;
          break;
        }
      }
      if (stateKey !== null && inKernel === 0 && unfinished > 0) {
        if (!(quiescent as (key: () => number, p: DecisionPoint) => boolean).call(sched, stateKey, fill(p, 0, T, current, false, step, decisions, preemptions))) {
          r.pruned = true;
          break;
        }
      }
      if (step >= this.maxSteps) {
        outcome = { kind: 'step_limit', message: `no end after ${step} scheduling steps` };
        break;
      }
    }

    if (outcome === OK && !r.pruned && this.endInv.length > 0) {
      const v = checkAll(this.endInv, w, 'end', null);
      if (v !== null) outcome = v;
    }
    r.outcome = outcome;
    r.steps = step;
    r.decisions = decisions;
    r.preemptions = preemptions;
    r.hash = (h1 >>> 0) * 0x200000 + (h2 >>> 11);
  }

  private deadlock(specs: readonly ThreadSpec<W>[], refs: ThreadRef[], heldBy: (tid: number) => readonly string[]): Outcome {
    const stuck: StuckThread[] = [];
    for (let i = 0; i < specs.length; i++) {
      const y = this.ys[i];
      if (this.done[i] === true || y === null || y === undefined) continue;
      const ref = refs[i] as ThreadRef;
      stuck.push({
        tid: i + 1,
        name: ref.name,
        at: y.label,
        waitsFor: y.k === 'acquire' ? `${y.lock.name}${y.mode === 'r' ? ' (read)' : ''}` : null,
        holds: [...heldBy(ref.tid)],
      });
    }
    const message = stuck
      .map((s) => `${s.name} waits ${s.waitsFor === null ? `at ${s.at}` : `for ${s.waitsFor}`} holding [${s.holds.join(', ')}]`)
      .join('; ');
    return { kind: 'deadlock', message, threads: stuck };
  }
}

/**
 * Fill the shared decision point. A plain function of its arguments on purpose: a closure over
 * the loop's counters would move them off the stack and cost ~3x in executions/s.
 */
function fill(p: DecisionPoint, n: number, threads: number, current: number, currentEnabled: boolean, step: number, depth: number, preemptions: number): DecisionPoint {
  p.n = n;
  p.threads = threads;
  p.current = current;
  p.currentEnabled = currentEnabled;
  p.step = step;
  p.depth = depth;
  p.preemptions = preemptions;
  return p;
}

function traceEvent<W>(
  i: number,
  tid: number,
  ref: ThreadRef,
  spec: ThreadSpec<W>,
  step: number,
  before: Yield | null,
  to: string,
  toKind: TraceEvent['toKind'],
  decision: boolean,
  preemption: boolean,
  held: readonly string[],
): TraceEvent {
  return {
    i,
    tid,
    thread: ref.name,
    step,
    stepName: stepNameOf(spec, step),
    from: before === null ? null : before.label,
    fromKind: before === null ? 'enter' : before.k,
    took: before !== null && before.k === 'acquire' ? before.lock.name : null,
    to,
    toKind,
    decision,
    preemption,
    held: [...held],
    ret: null,
  };
}

/** Fold `x` into a 53-bit key (used for step indexes and the current thread). */
export function mixKey(key: number, x: number): number {
  const hi = Math.floor(key / 0x200000) | 0;
  const lo = key % 0x200000;
  const a = Math.imul(hi ^ (x + 0x7f4a7c15), 0x01000193) >>> 0;
  const b = (Math.imul(lo ^ x, 0x5bd1e995) >>> 11) ^ (a & 0x1fffff);
  return a * 0x200000 + b;
}

/** A step's return value as trace text: errnos and counts as numbers, objects as JSON. */
export function formatReturn(v: unknown): string | null {
  switch (typeof v) {
    case 'undefined':
      return null;
    case 'number':
    case 'boolean':
    case 'string':
      return String(v);
    case 'bigint':
      return `${v}n`;
    case 'object':
      try {
        return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? `${x}n` : x)) ?? String(v);
      } catch {
        return String(v);
      }
    default:
      return typeof v;
  }
}

function checkAll<W>(list: readonly Invariant<W>[], w: W, level: InvariantLevel, thread: string | null): Outcome | null {
  for (const inv of list) {
    let msg: string | null;
    try {
      msg = inv.check(w);
    } catch (e) {
      return { kind: 'model_error', message: `invariant ${inv.name} threw: ${errorMessage(e)}`, thread };
    }
    if (msg !== null) return { kind: 'invariant', invariant: inv.name, level, message: msg, thread };
  }
  return null;
}

/**
 * A `KernelBug` (BUG_ON) or `KernelHang` (a sleep no one will end) thrown by a kernel path is a
 * finding; anything else is a model error. Matched by `name`, as src/kernel/klog.ts defines them.
 */
export function thrownOutcome(e: unknown, thread: string): Outcome {
  const name = typeof e === 'object' && e !== null ? (e as { name?: unknown }).name : undefined;
  if (name === 'KernelBug') return { kind: 'kernel_bug', message: errorMessage(e), thread };
  if (name === 'KernelHang') return { kind: 'kernel_hang', message: errorMessage(e), thread };
  return { kind: 'model_error', message: errorMessage(e), thread };
}

function errorMessage(e: unknown): string {
  if (typeof e === 'object' && e !== null) {
    const m = (e as { message?: unknown }).message;
    const n = (e as { name?: unknown }).name;
    if (typeof m === 'string') return typeof n === 'string' && n !== 'Error' && n !== 'KernelBug' && n !== 'KernelHang' ? `${n}: ${m}` : m;
  }
  return String(e);
}
