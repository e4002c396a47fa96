/**
 * Traces of one execution for people (columns per thread) and for tools (versioned JSONL).
 * Both are pure functions of the replayed run: replaying a token twice gives byte-identical text.
 */
import type { TraceEvent } from '../engine/runtime.js';
import type { Replayed, ScheduleRun } from '../replay.js';
import { describeOutcome } from '../outcome.js';

export const TRACE_SCHEMA_VERSION = 1;

/** Text of the cell of the thread that ran a scheduling step. */
function cellOf(e: TraceEvent): string {
  let cell = e.toKind === 'return' ? `⏎ ${e.stepName}${e.ret === null ? '' : ` = ${e.ret}`}` : e.toKind === 'throw' ? `✗ ${e.to}` : `→ ${e.to}`;
  if (e.fromKind === 'enter') cell = `▶ ${e.stepName} ${cell}`;
  else if (e.fromKind === 'acquire') cell = `✓ ${cell}`;
  return cell;
}

/**
 * One line per scheduling step, one column per thread. The cell of the thread that ran shows
 * where it parked next (`→ label`), `⏎ step = value` when its step returned to user space, `✗ error`
 * when it threw (a BUG_ON, a model error), `▶ step` in
 * front when the step started here, `✓` in front when it resumed from an acquire (it took the
 * lock). `*` in the gutter marks a preemption. Columns are as wide as their longest cell, up to
 * `maxWidth`.
 */
export function renderHuman(run: ScheduleRun | Replayed, maxWidth = 48): string {
  const events = run.events;
  if (events === null) throw new Error('renderHuman needs a traced run (trace: true)');
  const cols = run.threads.length;
  const cells = events.map(cellOf);
  let colWidth = 12;
  for (const t of run.threads) colWidth = Math.max(colWidth, `T${t.tid} ${t.name}${t.daemon ? ' (daemon)' : ''}`.length);
  for (const c of cells) colWidth = Math.max(colWidth, c.length);
  colWidth = Math.min(colWidth, maxWidth);
  const pad = (s: string): string => (s.length > colWidth ? `${s.slice(0, colWidth - 1)}…` : s.padEnd(colWidth));
  const lines: string[] = [];
  lines.push(`harness ${run.harness}${'token' in run ? `  token ${run.token}` : ''}`);
  lines.push(`${'step'.padStart(5)}  ${run.threads.map((t) => pad(`T${t.tid} ${t.name}${t.daemon ? ' (daemon)' : ''}`)).join(' ')}`.trimEnd());
  for (const [k, e] of events.entries()) {
    const cell = cells[k] as string;
    const row: string[] = [];
    for (let c = 0; c < cols; c++) row.push(c === e.tid - 1 ? pad(cell) : ' '.repeat(colWidth));
    lines.push(`${String(e.i).padStart(5)}${e.preemption ? '*' : ' '} ${row.join(' ')}`.trimEnd());
  }
  lines.push(`outcome: ${describeOutcome(run.outcome)}`);
  lines.push(`preemptions ${run.preemptions}, decisions ${run.decisions}, steps ${run.steps}`);
  return `${lines.join('\n')}\n`;
}

/**
 * JSONL: a `header` line, one `step` line per scheduling step, an `outcome` line; every object
 * carries `"v":1`. Keys are written in a fixed order.
 */
export function renderJsonl(run: ScheduleRun | Replayed): string {
  const events = run.events;
  if (events === null) throw new Error('renderJsonl needs a traced run (trace: true)');
  const out: string[] = [];
  out.push(
    JSON.stringify({
      v: TRACE_SCHEMA_VERSION,
      type: 'header',
      harness: run.harness,
      token: 'token' in run ? run.token : null,
      threads: run.threads,
    }),
  );
  for (const e of events) {
    out.push(
      JSON.stringify({
        v: TRACE_SCHEMA_VERSION,
        type: 'step',
        i: e.i,
        tid: e.tid,
        thread: e.thread,
        step: e.step,
        stepName: e.stepName,
        from: e.from,
        fromKind: e.fromKind,
        took: e.took,
        to: e.to,
        toKind: e.toKind,
        decision: e.decision,
        preemption: e.preemption,
        held: e.held,
        ret: e.ret,
      }),
    );
  }
  out.push(
    JSON.stringify({
      v: TRACE_SCHEMA_VERSION,
      type: 'outcome',
      outcome: run.outcome,
      choices: run.choices,
      preemptions: run.preemptions,
      decisions: run.decisions,
      steps: run.steps,
    }),
  );
  return `${out.join('\n')}\n`;
}
