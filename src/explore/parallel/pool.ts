/**
 * Parallel exploration on worker threads: shard i of n runs in worker i, and the reports merge.
 *
 * Workers cannot receive a harness object (it holds functions), so they load it themselves from a
 * `HarnessRef`: an ES module (absolute path or file: URL) and the name of an export that is either
 * a Harness or a function of no arguments returning one. Everything else in the options must be
 * structured-cloneable (no scheduler objects, no callbacks but `onProgress`, which stays here).
 *
 * `budget.maxExecutions` is for the whole run and is split between the shards (see
 * `shardExecutions`); `budget.maxMs` applies to each worker. With `stopOnFailure` (the default), the first worker to find a failure raises a shared flag and
 * the others stop at their next clock check.
 */
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { ExploreOptions } from '../explore.js';
import type { Harness } from '../harness.js';
import type { ProgressStats } from '../progress.js';
import type { ExploreReport } from '../report/report.js';
import { emptyOutcomes, mergeReports } from '../report/report.js';
import type { OutcomeKind } from '../outcome.js';

export interface HarnessRef {
  /** Absolute path or file: URL of an ES module. */
  readonly module: string;
  /** Export holding a Harness or a zero-argument factory of one; default `harness`. */
  readonly export?: string;
}

export type ParallelOptions = Omit<ExploreOptions, 'shard' | 'scheduler' | 'shouldStop'> & {
  /** Number of workers (= shards); default os.availableParallelism(). */
  readonly workers?: number;
};

/** Options as sent to a worker. */
export type WorkerOptions = Omit<ParallelOptions, 'onProgress' | 'workers'> & { readonly progress: boolean };

export interface WorkerData {
  readonly ref: HarnessRef;
  readonly opts: WorkerOptions;
  readonly shard: { readonly index: number; readonly count: number };
  readonly stop: SharedArrayBuffer;
}

export type WorkerMessage =
  | { readonly type: 'progress'; readonly stats: ProgressStats }
  | { readonly type: 'done'; readonly report: ExploreReport }
  | { readonly type: 'error'; readonly message: string };

export async function loadHarness(ref: HarnessRef): Promise<Harness<unknown>> {
  const url = ref.module.startsWith('file:') ? ref.module : pathToFileURL(ref.module).href;
  const mod = (await import(url)) as Record<string, unknown>;
  const name = ref.export ?? 'harness';
  const x = mod[name];
  const h = typeof x === 'function' ? (x as () => unknown)() : x;
  if (typeof h !== 'object' || h === null || typeof (h as { setup?: unknown }).setup !== 'function') {
    throw new Error(`${ref.module}: export ${name} is not a Harness or a factory of one`);
  }
  return h as Harness<unknown>;
}

/**
 * The worker script. Built (dist/) it is worker.js. Under tsx or vitest this module is TypeScript
 * and so is the worker; Node 20 does not apply `--import tsx` to a worker's entry module, so the
 * worker starts from a tiny bootstrap that registers tsx's ESM hooks, then imports worker.ts.
 */
function startWorker(data: WorkerData): Worker {
  const self = import.meta.url;
  if (!self.endsWith('.ts')) return new Worker(new URL('./worker.js', self), { workerData: data });
  const tsxApi = createRequire(self)
    .resolve('tsx/esm/api')
    .replace(/\.cjs$/, '.mjs');
  const entry = new URL('./worker.ts', self).href;
  const boot =
    `import(${JSON.stringify(pathToFileURL(tsxApi).href)})` +
    `.then((m) => { m.register(); return import(${JSON.stringify(entry)}); })` +
    `.catch((e) => { require('node:worker_threads').parentPort.postMessage({ type: 'error', message: String(e && e.stack || e) }); });`;
  return new Worker(boot, { eval: true, workerData: data });
}

export async function exploreParallel(ref: HarnessRef, opts: ParallelOptions = {}): Promise<ExploreReport> {
  const { onProgress, workers: nw, ...rest } = opts;
  const n = Math.max(1, nw ?? availableParallelism());
  const stop = new SharedArrayBuffer(4);
  const latest: (ProgressStats | undefined)[] = new Array<ProgressStats | undefined>(n).fill(undefined);
  const emit = (): void => {
    if (onProgress === undefined) return;
    const outcomes = emptyOutcomes();
    let executions = 0;
    let elapsedMs = 0;
    let distinctSchedules = 0;
    let maxDecisions = 0;
    let harness = '';
    let strategy = '';
    for (const s of latest) {
      if (s === undefined) continue;
      harness = s.harness;
      strategy = s.strategy;
      executions += s.executions;
      elapsedMs = Math.max(elapsedMs, s.elapsedMs);
      distinctSchedules += s.distinctSchedules;
      maxDecisions = Math.max(maxDecisions, s.maxDecisions);
      for (const k of Object.keys(outcomes) as OutcomeKind[]) outcomes[k] += s.outcomes[k] ?? 0;
    }
    onProgress({ harness, strategy: `${strategy}×${n}`, executions, elapsedMs, outcomes, distinctSchedules, maxDecisions });
  };

  const runs = Array.from({ length: n }, (_, index) => {
    const data: WorkerData = { ref, opts: { ...rest, progress: onProgress !== undefined }, shard: { index, count: n }, stop };
    return new Promise<ExploreReport>((resolve, reject) => {
      const w = startWorker(data);
      let settled = false;
      w.on('message', (m: WorkerMessage) => {
        if (m.type === 'progress') {
          latest[index] = m.stats;
          emit();
        } else if (m.type === 'done') {
          settled = true;
          resolve(m.report);
        } else {
          settled = true;
          reject(new Error(`worker ${index}/${n}: ${m.message}`));
        }
      });
      w.on('error', (e) => {
        settled = true;
        reject(e);
      });
      w.on('exit', (code) => {
        if (!settled) reject(new Error(`worker ${index}/${n} exited with code ${code} before reporting`));
      });
    });
  });
  try {
    return mergeReports(await Promise.all(runs));
  } finally {
    new Int32Array(stop)[0] = 1; // a failed sibling must not leave the others running
  }
}
