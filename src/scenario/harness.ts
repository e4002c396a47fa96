/**
 * A scenario as a concurrency-explorer harness: `steps` run straight through in `setup()`, each
 * entry of `threads` becomes a thread whose steps are the same operations (kernel paths) the
 * runner uses, `teardown` runs on its own thread once every thread has finished, and a kworker
 * daemon serves the system workqueue (4.10's deferred accounting). Invariants come from
 * src/sys/invariants.ts.
 */
import type { LockDomain } from '../kernel/locks.js';
import type { KGen, ThreadRef } from '../kernel/sched.js';
import type { ProfileSwitches } from '../kernel/profile.js';
import type { Harness, Invariant, ThreadSpec } from '../explore/harness.js';
import { WorldSnapshot } from '../explore/snapshot.js';
import { MODEL_INVARIANTS } from '../sys/invariants.js';
import type { Sys } from '../sys/system.js';
import { newContext, runStep } from './exec.js';
import type { Scenario, Step } from './load.js';
import { checkProfileFit } from './load.js';
import type { ExecCtx } from './ops.js';
import { OPS } from './registry.js';

export interface ScenarioWorld {
  readonly sys: Sys;
  readonly ctx: ExecCtx;
  /** user threads that finished all their steps */
  finished: number;
  readonly refs: Map<string, ThreadRef>;
}

export interface HarnessOverride {
  profile?: string;
  switches?: Partial<ProfileSwitches>;
  /**
   * Run the setup steps once and reset the world in place before every later execution
   * (src/explore/snapshot.ts); default true. False runs the setup steps for every execution.
   */
  snapshot?: boolean;
}

function opStep(st: Step, last: boolean): (w: ScenarioWorld) => KGen<unknown> {
  const def = OPS[st.op]!;
  // the step's own context (its process), built once per world: ops never write to it
  let ctxOf: ScenarioWorld | null = null;
  let ctx: ExecCtx | null = null;
  const fn = function* (w: ScenarioWorld): KGen<unknown> {
    if (ctxOf !== w || ctx === null) {
      ctx = { ...w.ctx, proc: st.process };
      ctxOf = w;
    }
    const r = yield* def.run(ctx, st.args);
    if (r.ret >= 0 && st.args.as !== undefined && st.op !== 'mmap' && st.op !== 'mmap_bar' && st.op !== 'share_fd') {
      w.ctx.fds.set(String(st.args.as), { proc: st.process, fd: r.ret });
    }
    if (last) w.finished++;
    return r.ret;
  };
  return fn;
}

export function scenarioHarness(sc0: Scenario, o: HarnessOverride = {}): Harness<ScenarioWorld> {
  const sc: Scenario = { ...sc0, profile: o.profile ?? sc0.profile, switches: o.switches ?? sc0.switches };
  if (o.profile !== undefined || o.switches !== undefined) checkProfileFit(sc);
  const wanted = sc.explore.invariants;
  const invariants: Invariant<ScenarioWorld>[] = MODEL_INVARIANTS.filter((i) => !wanted || wanted.includes(i.name)).map((i) => ({
    name: i.name,
    level: i.level,
    check: (w: ScenarioWorld) => i.check(w.sys),
  }));
  const nUser = sc.threads.length;
  let world: ScenarioWorld | null = null;
  let snap: WorldSnapshot | null = null;
  let specsOf: ScenarioWorld | null = null;
  let specs: ThreadSpec<ScenarioWorld>[] = [];
  return {
    name: `${sc.file} [${sc.profile}${Object.keys(sc.switches).length ? ' ' + Object.entries(sc.switches).map(([k, v]) => `${k}=${String(v)}`).join(',') : ''}]`,
    setup(): ScenarioWorld {
      if (snap !== null && world !== null) {
        snap.restore();
        return world;
      }
      const ctx = newContext(sc);
      for (const st of sc.steps) {
        const rec = runStep(ctx, st);
        if (rec.failures.length || rec.fatal) throw new Error(`setup step ${st.index} (line ${st.line}, ${st.op}) did not go as expected: ${rec.fatal ?? rec.failures.join('; ')}`);
      }
      const refs = new Map<string, ThreadRef>();
      for (const t of sc.threads) refs.set(t.name, ctx.sys.k.newThread(ctx.sys.proc(t.process).p.leader, t.name));
      if (sc.teardown.length) refs.set('teardown', ctx.sys.k.newThread(ctx.sys.proc(sc.teardown[0]!.process).p.leader, 'teardown'));
      refs.set('kworker', ctx.sys.k.newThread(ctx.sys.proc(sc.host.processes[0]!.name).p.leader, 'kworker/0:1'));
      const w: ScenarioWorld = { sys: ctx.sys, ctx, finished: 0, refs };
      if (o.snapshot !== false) {
        world = w;
        snap = WorldSnapshot.take(w);
      }
      return w;
    },
    lockDomain: (w): LockDomain => w.sys.k.locks,
    threads(w): ThreadSpec<ScenarioWorld>[] {
      // the snapshot hands back the same world: its threads are the same too
      if (w === specsOf) return specs;
      const out: ThreadSpec<ScenarioWorld>[] = sc.threads.map((t) => ({
        name: t.name,
        thread: w.refs.get(t.name),
        steps: t.steps.map((st, i) => opStep(st, i === t.steps.length - 1)),
        stepNames: t.steps.map((st) => OPS[st.op]!.show(st.args)),
      }));
      if (sc.teardown.length) {
        out.push({
          name: 'teardown',
          thread: w.refs.get('teardown'),
          steps: [
            function* waitAll(x: ScenarioWorld): KGen<unknown> {
              yield { k: 'wait', ready: () => x.finished >= nUser, label: 'teardown waits for every thread' };
              return 0;
            },
            ...sc.teardown.map((st) => opStep(st, false)),
          ],
          stepNames: ['wait for threads', ...sc.teardown.map((st) => OPS[st.op]!.show(st.args))],
        });
      }
      if (w.sys.k.profile.lockAcctDeferred) {
        out.push({ name: 'kworker', thread: w.refs.get('kworker'), daemon: true, steps: [() => w.sys.k.system_wq.worker()], stepNames: ['worker_thread(events)'] });
      }
      specsOf = w;
      specs = out;
      return out;
    },
    invariants,
  };
}
