/**
 * A traced run as a Mermaid sequence diagram (text only; no dependency on mermaid): one
 * participant per thread and per lock, an arrow when a thread takes a lock (resuming from its
 * acquire point) or drops one (held before the step, or taken in it, and not held after it), a
 * note for every scheduling step. For docs and PRs.
 */
import type { TraceEvent } from '../engine/runtime.js';
import { describeOutcome } from '../outcome.js';
import type { ScheduleRun } from '../replay.js';

/** Mermaid ids: letters, digits and underscores. */
function id(prefix: string, name: string): string {
  return `${prefix}_${name.replace(/[^A-Za-z0-9_]/g, '_')}`;
}

/** Text safe in a Mermaid statement: `#` and `;` as entity codes, line breaks as spaces. */
function text(s: string): string {
  return s.replace(/[#;\n\r]/g, (c) => (c === '#' ? '#35;' : c === ';' ? '#59;' : ' '));
}

export function renderMermaid(run: ScheduleRun): string {
  const events = run.events;
  if (events === null) throw new Error('renderMermaid needs a traced run (trace: true)');
  const out: string[] = ['sequenceDiagram'];
  for (const t of run.threads) out.push(`  participant ${id('T', `${t.tid}`)} as T${t.tid} ${text(t.name)}`);
  const locks: string[] = [];
  for (const e of events) if (e.took !== null && !locks.includes(e.took)) locks.push(e.took);
  for (const l of locks) out.push(`  participant ${id('L', l)} as ${text(l)}`);
  const held = new Map<number, readonly string[]>();
  for (const e of events) {
    out.push(...lines(e, held.get(e.tid) ?? []));
    held.set(e.tid, e.held);
  }
  out.push(`  Note over ${id('T', String(events.at(-1)?.tid ?? 1))}: ${text(describeOutcome(run.outcome))}`);
  return `${out.join('\n')}\n`;

  function lines(e: TraceEvent, before: readonly string[]): string[] {
    const t = id('T', String(e.tid));
    const r: string[] = [];
    if (e.preemption) r.push(`  Note over ${t}: preempts`);
    if (e.took !== null) r.push(`  ${t}->>${id('L', e.took)}: ${text(e.from ?? e.took)}`);
    const had = e.took === null ? before : [...before, e.took];
    for (const l of had) if (!e.held.includes(l)) r.push(`  ${t}-->>${id('L', l)}: release`);
    const what =
      e.toKind === 'return' ? `⏎ ${e.stepName}${e.ret === null ? '' : ` = ${e.ret}`}` : e.toKind === 'throw' ? `✗ ${e.to}` : `${e.from === null ? `▶ ${e.stepName} ` : ''}→ ${e.to}`;
    r.push(`  Note over ${t}: ${text(what)}`);
    return r;
  }
}
