/**
 * Quick vGPU churn figure (issue 3): single-page pin+unpin pairs across a 64 GiB mdev-only guest,
 * through the type1 calls and through the sample driver, in CPU time of this process.
 *   npx tsx bench/churn.ts        (run from the repository; see BENCHMARKS.md for the full report)
 */
import { churn, mdevContainer, GiB } from './scenarios.js';

const PAIRS = 300_000;
const m = mdevContainer(64n * GiB, 'thp');
churn(m, 50_000, 4096, 'type1'); // warm up
for (const via of ['type1', 'driver'] as const) {
  const c0 = process.cpuUsage();
  const t = performance.now();
  churn(m, PAIRS, 4096, via);
  const cpu = process.cpuUsage(c0);
  const s = (cpu.user + cpu.system) / 1e6;
  console.log(`${via.padEnd(6)} ${(PAIRS / s / 1e6).toFixed(3)} M pairs/s (CPU time), ${((performance.now() - t) / 1000).toFixed(2)} s wall for ${PAIRS} pairs`);
}
