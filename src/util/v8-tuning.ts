/**
 * V8 settings for vfiolab's own processes: the CLI and the benchmarks.
 *
 * The model's hot paths (a vendor pin+unpin above all) are chains of small functions shaped like
 * the kernel's, twenty and more calls deep, joined by the path combinators of
 * src/kernel/sched.ts. TurboFan inlines callees into an optimized function only up to a
 * cumulative bytecode budget (`--max-inlined-bytecode-size-cumulative`, 920 bytes in Node 20),
 * which such a chain uses up a few levels down; the rest stays real calls. With a budget of 5000
 * the whole pin or unpin inlines: a vGPU pin+unpin pair takes about 30 % less CPU time, and the
 * explorer and the test suite run as fast as before (BENCHMARKS.md, "V8 inlining budget").
 *
 * `tuneV8()` sets it once, at startup, before any model code has been optimized (the CLI calls it
 * first thing). VFIOLAB_V8_DEFAULTS=1 leaves V8's defaults: how the model runs when another
 * program imports it, which the benchmarks report as well. A library user who wants the same
 * speed passes the flag to node or calls `tuneV8()` early.
 */
import { setFlagsFromString } from 'node:v8';

export const INLINING_BUDGET = 5000;

let tuned: boolean | null = null;

/** Raise V8's inlining budget for this process, unless VFIOLAB_V8_DEFAULTS is set. Returns whether it did. */
export function tuneV8(): boolean {
  if (tuned === null) {
    tuned = !process.env.VFIOLAB_V8_DEFAULTS;
    if (tuned) setFlagsFromString(`--max-inlined-bytecode-size-cumulative=${INLINING_BUDGET}`);
  }
  return tuned;
}

/** For reports: which V8 configuration this process runs. */
export function v8Config(): string {
  return tuned ? `V8 inlining budget ${INLINING_BUDGET} (tuneV8)` : 'V8 defaults';
}
