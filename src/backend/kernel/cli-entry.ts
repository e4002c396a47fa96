/**
 * Entry points of the real-kernel backend for the `vfiolab` CLI.
 *
 *   setupKernel(opts)           `vfiolab setup kernel`
 *   doctor()                    readiness report (data + `text`)
 *   runScripts(kernel, scripts) boot once, run each script as its own scenario,
 *                               one StepResult[] per script
 */
import { type KernelId } from './config.js';
import { doctor as doctorData, formatDoctor, type DoctorReport } from './doctor.js';
import { boot, runScripts as runScriptsImpl, type BootOptions, type BootResult } from './qemu.js';
import { formatSetupReport, setupKernel as setupImpl, type SetupOptions, type SetupReport } from './setup.js';
import type { StepResult } from './script.js';

export type { KernelId, BootOptions, BootResult, DoctorReport, SetupOptions, SetupReport, StepResult };
export { encodeScript, encodeStep, fieldBig, fieldNum, parseRunnerOutput, RUNNER_OPS } from './script.js';
export type { ScriptStep, RunnerOp, ArgValue, RunnerOutput, ScriptRun } from './script.js';
export { boot };

export async function setupKernel(opts: SetupOptions = {}): Promise<SetupReport & { text: string }> {
  const r = await setupImpl(opts);
  return { ...r, text: formatSetupReport(r) };
}

export function doctor(): DoctorReport & { text: string } {
  const r = doctorData();
  return { ...r, text: formatDoctor(r) };
}

export function runScripts(kernel: KernelId, scripts: string[], opts: BootOptions = {}): Promise<StepResult[][]> {
  return runScriptsImpl(kernel, scripts, opts);
}
