/**
 * Human output of a scenario run: one strace-like line per step, with the counters users ask
 * about, the kernel log lines the step produced and any expectation mismatch.
 */
import pc from 'picocolors';
import { errnoName } from '../util/errno.js';
import type { ScenarioResult, StepRecord } from './exec.js';
import { fmtValue } from './exec.js';

function resultText(r: StepRecord): string {
  if (r.notRun) return pc.dim('(not run)');
  if (r.fatal) return pc.red(`!! ${r.fatal}`);
  const base = r.errno ? `= -1 ${errnoName(r.errno)}` : `= ${r.ret}`;
  const f = Object.entries(r.fields);
  const extra = f.length ? ` {${f.map(([k, v]) => `${k}=${fmtValue(v)}`).join(', ')}}` : '';
  return (r.errno ? pc.yellow(base) : base) + extra;
}

export function formatStep(r: StepRecord, showProcess: boolean): string {
  const who = showProcess ? pc.cyan(`[${r.process}] `) : '';
  const cnt = `locked_vm=${r.counters.locked_vm}` + (r.counters.dma_avail !== undefined ? ` dma_avail=${r.counters.dma_avail}` : '');
  const lines = [`${String(r.i).padStart(3)}  ${who}${r.call} ${resultText(r)}  ${pc.dim(cnt)}`];
  for (const l of r.klog) lines.push(pc.dim(`       klog: ${l}`));
  for (const f of r.failures) lines.push(pc.red(`       ✗ ${f}`));
  return lines.join('\n');
}

export function formatResult(res: ScenarioResult): string {
  const procs = new Set(res.steps.map((s) => s.process));
  const head = `${res.ok ? pc.green('PASS') : pc.red('FAIL')} ${res.file}: ${res.name} ${pc.dim(`(kernel ${res.profile})`)}`;
  const body = res.steps.map((s) => formatStep(s, procs.size > 1));
  if (res.modelError) body.push(pc.red(`  ${res.modelError}`));
  return [head, ...body].join('\n');
}
