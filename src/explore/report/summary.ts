/**
 * Plain-text summary of an ExploreReport for the CLI (no colours: the CLI adds them).
 */
import { describeOutcome, OUTCOME_KINDS } from '../outcome.js';
import { compact, execsPerSecond } from '../progress.js';
import type { ExploreReport } from './report.js';

export function summarizeReport(r: ExploreReport): string {
  const lines: string[] = [];
  const shard = r.shard === null ? '' : ` shard ${r.shard.index}/${r.shard.count}`;
  const end = r.complete ? 'exhausted' : 'budget or first failure';
  lines.push(
    `${r.harness}: ${r.strategy}${shard}, ${r.executions} executions in ${(r.elapsedMs / 1000).toFixed(2)} s ` +
      `(${compact(execsPerSecond(r))}/s, ${end})`,
  );
  const counts = OUTCOME_KINDS.filter((k) => r.outcomes[k] > 0).map((k) => `${k} ${r.outcomes[k]}`);
  lines.push(`outcomes: ${counts.length > 0 ? counts.join(', ') : 'none'}`);
  const c = r.coverage;
  lines.push(
    `coverage: ${c.distinctSchedules} distinct schedules${c.distinctStates === null ? '' : `, ${c.distinctStates} distinct final states`}` +
      `${c.quiescentStates === null ? '' : `, ${c.quiescentStates} quiescent states cached`}${r.abandoned > 0 ? `, ${r.abandoned} executions cut short` : ''}, ` +
      `up to ${c.maxDecisions} decisions / ${c.maxSteps} steps per execution`,
  );
  for (const x of r.counterexamples) {
    lines.push(`FAIL ${x.key} (${r.failures[x.key] ?? 0} executions): ${describeOutcome(x.outcome)}`);
    lines.push(`  replay: ${x.token}  (${x.preemptions} preemptions, ${x.choices.length} choices)`);
  }
  if (r.counterexamples.length === 0) lines.push('no failure found');
  return `${lines.join('\n')}\n`;
}
