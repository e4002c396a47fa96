/**
 * Fault injection sweep (as iommufd's selftest `iommufd_fail_nth.c` does): run a scenario once to
 * count the fallible call sites it reaches (allocations, GUP, iommu_map, accounting locks), then
 * once more per site with that call failing, and check that the failure unwound cleanly: the
 * accounting rule and the pin ledger hold after the failing step, and after closing every fd no
 * page is left pinned.
 */
import { KernelBug, KernelHang } from '../kernel/klog.js';
import { invariantByName } from '../sys/invariants.js';
import type { Sys } from '../sys/system.js';
import { newContext, runStep } from './exec.js';
import type { Scenario } from './load.js';

export interface FailNthCase {
  n: number;
  site: string;
  /** the step that hit the failure (index) and its errno */
  step: number | null;
  errno: number;
  /** invariant violations after the failure, or after teardown */
  violations: string[];
}

export interface FailNthReport {
  file: string;
  profile: string;
  sites: number;
  cases: FailNthCase[];
  ok: boolean;
  skipped?: string;
}

const AFTER_FAILURE = ['accounting_matches_rule', 'vfio_pfn_holds_one_reference', 'dma_list_no_overlap', 'dma_avail_conserved'];

function check(sys: Sys, names: string[]): string[] {
  const out: string[] = [];
  for (const n of names) {
    const m = invariantByName(n)!.check(sys);
    if (m) out.push(`${n}: ${m}`);
  }
  return out;
}

/** Close every fd of every process (exit_files), for the teardown check. */
function closeAll(sys: Sys): void {
  for (const [name, pr] of sys.procs) for (const fd of [...pr.fds.keys()].sort((a, b) => a - b)) sys.call(name, sys.sys_close(name, fd));
}

function runWith(sc: Scenario, failAt: number): { sys: Sys; hit: { step: number; errno: number; proc: string } | null; sites: string[]; fatal: boolean } {
  const ctx = newContext(sc);
  ctx.sys.k.failAt = failAt;
  ctx.sys.k.recordSites = true;
  let hit: { step: number; errno: number; proc: string } | null = null;
  let fatal = false;
  const steps = [...sc.steps, ...sc.threads.flatMap((t) => t.steps), ...sc.teardown];
  for (const st of steps) {
    const before = ctx.sys.k.failSites.length;
    try {
      const rec = runStep(ctx, st);
      if (!hit && failAt && before < failAt && ctx.sys.k.failSites.length >= failAt) hit = { step: st.index, errno: rec.errno, proc: st.process };
      if (rec.fatal) {
        fatal = true; // the task died holding its locks: nothing can be torn down any more
        break;
      }
    } catch (e) {
      if (e instanceof KernelBug || e instanceof KernelHang) {
        fatal = true; // the task died holding its locks: nothing can be torn down any more
        break;
      }
      throw e;
    }
    if (hit && hit.step === st.index) break; // check right after the failing step
  }
  return { sys: ctx.sys, hit, sites: ctx.sys.k.failSites, fatal };
}

/** Teardown checks, unless a kernel BUG left the model stuck. */
function teardown(r: { sys: Sys; fatal: boolean }): string[] {
  if (r.fatal) return [];
  closeAll(r.sys);
  return check(r.sys, ['no_pins_after_teardown', 'no_page_refcount_underflow']);
}

export function failNthSweep(sc: Scenario): FailNthReport {
  const clean = runWith(sc, 0);
  // a scenario that itself ends in a kernel BUG/hang has no clean run to compare against
  if (clean.fatal) return { file: sc.file, profile: sc.profile, sites: 0, cases: [], ok: true, skipped: 'the scenario itself ends in a kernel BUG or hang' };
  const sites = [...clean.sites];
  // what the scenario leaks without any injected failure is not the injection's fault
  const baseline = new Set(teardown(clean).map((v) => v.split(':')[0]));
  const cases: FailNthCase[] = [];
  for (let n = 1; n <= sites.length; n++) {
    const r = runWith(sc, n);
    const site = sites[n - 1]!;
    // A killable lock fails only for a task with a fatal signal pending: it is about to exit,
    // and its exit is part of the unwind (uncharge paths ignore the error for that reason).
    const killed = site === 'mmap_write_lock_killable' && r.hit;
    if (killed) r.sys.call(r.hit!.proc, r.sys.sys_exit(r.hit!.proc));
    const violations = killed || r.fatal ? [] : check(r.sys, AFTER_FAILURE);
    violations.push(...teardown(r).filter((v) => !baseline.has(v.split(':')[0])));
    cases.push({ n, site, step: r.hit?.step ?? null, errno: r.hit?.errno ?? 0, violations });
  }
  return { file: sc.file, profile: sc.profile, sites: sites.length, cases, ok: cases.every((c) => c.violations.length === 0) };
}
