/**
 * The JSONL trace: one JSON object per line, versioned (`"v": 1`). A `scenario` header, one
 * `step` record per step, and a `result` footer. u64 values are hex strings.
 */
import { errnoName } from '../util/errno.js';
import type { ScenarioResult } from './exec.js';

export const TRACE_VERSION = 1;

export function jsonReplacer(_k: string, v: unknown): unknown {
  return typeof v === 'bigint' ? '0x' + v.toString(16) : v;
}

export function traceLines(res: ScenarioResult, backend = 'model'): string[] {
  const out: string[] = [];
  out.push(JSON.stringify({ v: TRACE_VERSION, type: 'scenario', file: res.file, name: res.name, profile: res.profile, backend }));
  for (const s of res.steps) {
    out.push(
      JSON.stringify(
        {
          v: TRACE_VERSION,
          type: 'step',
          i: s.i,
          line: s.line,
          process: s.process,
          op: s.op,
          call: s.call,
          ret: s.ret,
          errno: s.errno,
          errno_name: s.errno ? errnoName(s.errno) : null,
          fields: s.fields,
          counters: s.counters,
          klog: s.klog,
          warnings: s.warnings,
          fatal: s.fatal ?? null,
          not_run: s.notRun ?? false,
          ok: s.failures.length === 0,
          failures: s.failures,
        },
        jsonReplacer,
      ),
    );
  }
  out.push(JSON.stringify({ v: TRACE_VERSION, type: 'result', file: res.file, ok: res.ok, model_error: res.modelError ?? null }));
  return out;
}
