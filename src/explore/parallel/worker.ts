/**
 * Worker-thread entry of parallel/pool.ts: load the harness, explore one shard, post the report.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { explore } from '../explore.js';
import type { WorkerData, WorkerMessage } from './pool.js';
import { loadHarness } from './pool.js';

const port = parentPort;
if (port === null) throw new Error('worker.ts must run in a worker thread');
const data = workerData as WorkerData;
const post = (m: WorkerMessage): void => port.postMessage(m);
const stop = new Int32Array(data.stop);

try {
  const harness = await loadHarness(data.ref);
  const { progress, ...opts } = data.opts;
  const report = explore(harness, {
    ...opts,
    shard: data.shard,
    shouldStop: () => Atomics.load(stop, 0) !== 0,
    ...(progress ? { onProgress: (stats) => post({ type: 'progress', stats }) } : {}),
  });
  if (report.counterexamples.length > 0 && (opts.stopOnFailure ?? true)) Atomics.store(stop, 0, 1);
  post({ type: 'done', report });
} catch (e) {
  post({ type: 'error', message: e instanceof Error ? (e.stack ?? e.message) : String(e) });
}
