/**
 * Boot a cached Debian kernel under QEMU (TCG, emulated VT-d, the `edu`
 * device) with an initramfs holding the step scripts, and parse the runner's
 * results from the second serial port.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KERNELS, kernelPaths, unpackedRelease, type KernelId } from './config.js';
import { buildRunInitrd, type RunConfig } from './initramfs.js';
import { parseRunnerOutput, type RunnerOutput, type StepResult } from './script.js';

export interface BootOptions {
  /** mdev instances to create (roles mdev0…). Default 2. */
  mdevs?: number;
  /** Per-step timeout in the guest (a step still running then is reported `hung`). Default 20000. */
  stepTimeoutMs?: number;
  /** Kill QEMU after this long (host side). Default 120 s + 1.5 × stepTimeout per script. */
  bootTimeoutMs?: number;
  /** vfio_iommu_type1 module parameters, e.g. { dma_entry_limit: 3 }. */
  type1Params?: Record<string, string | number>;
  memoryMb?: number;
  accel?: 'tcg' | 'kvm';
  /** Keep the run folder (initrd, serial logs) and report its path. */
  keepDir?: boolean;
  /** Extra kernel command line. */
  append?: string;
  /** Boot again when the guest never reached the runner (e.g. an early panic under a loaded host). Default 1. */
  retries?: number;
}

export interface BootResult {
  kernel: KernelId;
  release: string;
  /** One array per input script, in order. */
  results: StepResult[][];
  output: RunnerOutput;
  /** Host wall time from QEMU start to exit. */
  wallMs: number;
  /** Guest uptime when the runner started (kernel boot + module load + device setup), ms. */
  guestReadyMs?: number;
  /** Guest uptime when the runner finished, ms. */
  guestDoneMs?: number;
  timedOut: boolean;
  qemuExit: number | null;
  /** Kernel console (first serial port). */
  console: string;
  /** Raw results port text (second serial port). */
  raw: string;
  dir?: string;
}

export function qemuArgs(vmlinuz: string, initrd: string, consoleLog: string, resultsLog: string, opts: BootOptions = {}): string[] {
  return [
    '-machine', 'q35',
    '-accel', opts.accel ?? 'tcg',
    '-cpu', 'max',
    '-m', String(opts.memoryMb ?? 1024),
    '-smp', '1',
    '-device', 'intel-iommu,intremap=on,caching-mode=on',
    '-device', 'edu',
    '-kernel', vmlinuz,
    '-initrd', initrd,
    // no_timer_check: under a loaded TCG host the IO-APIC timer check can fail and panic the boot
    '-append', `console=ttyS0 intel_iommu=on panic=-1 no_timer_check ${opts.append ?? ''}`.trim(),
    '-display', 'none',
    '-monitor', 'none',
    '-serial', `file:${consoleLog}`,
    '-serial', `file:${resultsLog}`,
    '-no-reboot',
    '-nic', 'none',
  ];
}

function uptimeMs(init: Record<string, unknown>[], phase: string): number | undefined {
  const e = init.find((x) => x.phase === phase);
  return e && typeof e.uptime === 'string' ? Math.round(parseFloat(e.uptime) * 1000) : undefined;
}

/** Map the runner's per-script records back onto the input order (/vfiolab/scripts/NNN.txt). */
export function resultsByScript(output: RunnerOutput, count: number): StepResult[][] {
  const res: StepResult[][] = Array.from({ length: count }, () => []);
  for (const s of output.scripts) {
    const m = /(\d+)\.txt$/.exec(s.script);
    const k = m ? Number(m[1]) : -1;
    if (k >= 0 && k < count) res[k] = s.steps;
  }
  return res;
}

export async function boot(kernel: KernelId, scripts: string[], opts: BootOptions = {}): Promise<BootResult> {
  let left = opts.retries ?? 1;
  for (;;) {
    const r = await bootOnce(kernel, scripts, opts);
    if (r.output.begin || left-- <= 0) return r;
  }
}

async function bootOnce(kernel: KernelId, scripts: string[], opts: BootOptions): Promise<BootResult> {
  const release = unpackedRelease(kernel);
  if (!release) throw new Error(`kernel ${kernel} is not set up (run \`vfiolab setup kernel\`; cache ${kernelPaths(kernel).root})`);
  const vmlinuz = join(kernelPaths(kernel).root, 'boot', `vmlinuz-${release}`);
  if (!existsSync(vmlinuz)) throw new Error(`missing ${vmlinuz}: run \`vfiolab setup kernel\``);
  const stepTimeoutMs = opts.stepTimeoutMs ?? 20000;
  const cfg: RunConfig = { mdevs: opts.mdevs ?? 2, stepTimeoutMs, ...(opts.type1Params ? { type1Params: opts.type1Params } : {}) };
  mkdirSync(tmpdir(), { recursive: true });
  const dir = mkdtempSync(join(tmpdir(), `vfiolab-${kernel}-`));
  try {
    const initrd = buildRunInitrd(kernel, release, scripts, cfg, dir);
    const consoleLog = join(dir, 'console.log');
    const resultsLog = join(dir, 'results.log');
    const args = qemuArgs(vmlinuz, initrd, consoleLog, resultsLog, opts);
    // every scenario (a script, or a part after `reset`) may hang once for a whole step timeout
    const scenarios = scripts.reduce((n, s) => n + 1 + (s.match(/^\s*reset\b/gm)?.length ?? 0), 0);
    const limit = opts.bootTimeoutMs ?? 120_000 + Math.ceil(1.5 * stepTimeoutMs) * Math.max(1, scenarios);
    const t0 = Date.now();
    let timedOut = false;
    const exit = await new Promise<number | null>((resolve, reject) => {
      const child = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill('SIGKILL');
      }, limit);
      child.on('error', (e) => {
        clearTimeout(timer);
        reject(new Error(`cannot start qemu-system-x86_64 (apt-get install qemu-system-x86): ${e.message}`));
      });
      child.on('exit', (code) => {
        clearTimeout(timer);
        if (code !== 0 && !timedOut && stderr.trim()) {
          reject(new Error(`qemu exited with ${code}: ${stderr.trim().split('\n').slice(-5).join('\n')}`));
          return;
        }
        resolve(code);
      });
    });
    const wallMs = Date.now() - t0;
    const raw = existsSync(resultsLog) ? readFileSync(resultsLog, 'utf8') : '';
    const consoleText = existsSync(consoleLog) ? readFileSync(consoleLog, 'utf8') : '';
    const output = parseRunnerOutput(raw);
    const result: BootResult = {
      kernel,
      release,
      results: resultsByScript(output, scripts.length),
      output,
      wallMs,
      timedOut,
      qemuExit: exit,
      console: consoleText,
      raw,
    };
    const ready = uptimeMs(output.init, 'ready');
    const done = uptimeMs(output.init, 'done');
    if (ready !== undefined) result.guestReadyMs = ready;
    if (done !== undefined) result.guestDoneMs = done;
    if (opts.keepDir) result.dir = dir;
    return result;
  } finally {
    if (!opts.keepDir) rmSync(dir, { recursive: true, force: true });
  }
}

/** Convenience: the step results only; throws when the guest never reached the runner. */
export async function runScripts(kernel: KernelId, scripts: string[], opts: BootOptions = {}): Promise<StepResult[][]> {
  const r = await boot(kernel, scripts, opts);
  if (!r.output.begin) {
    const errs = r.output.init.filter((e) => 'error' in e).map((e) => String(e.error));
    const tail = r.console.trim().split('\n').slice(-15).join('\n');
    throw new Error(
      `kernel ${kernel}: the runner never started${r.timedOut ? ' (timed out)' : ''}${errs.length ? `; ${errs.join('; ')}` : ''}\n--- console tail ---\n${tail}`,
    );
  }
  return r.results;
}

export { KERNELS };
