/**
 * The scenario harness for worker threads: `vfiolab explore --workers` sets VFIOLAB_SCENARIO
 * (and VFIOLAB_PROFILE / VFIOLAB_SWITCHES) and the pool loads `harness` from this module.
 */
import { loadScenario } from './load.js';
import { scenarioHarness } from './harness.js';
import type { ScenarioWorld } from './harness.js';
import type { Harness } from '../explore/harness.js';

export function harness(): Harness<ScenarioWorld> {
  const file = process.env.VFIOLAB_SCENARIO;
  if (!file) throw new Error('VFIOLAB_SCENARIO is not set');
  const sw = process.env.VFIOLAB_SWITCHES;
  return scenarioHarness(loadScenario(file), {
    profile: process.env.VFIOLAB_PROFILE || undefined,
    switches: sw ? (JSON.parse(sw) as Record<string, boolean>) : undefined,
  });
}
