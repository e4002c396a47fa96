/**
 * Every scenario file in this folder is a test: it must load, and every expectation must hold on
 * the model backend.
 */
import { describe, expect, it } from 'vitest';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expandFiles } from '../src/cli/run.js';
import { loadScenario } from '../src/scenario/load.js';
import { runScenario } from '../src/scenario/exec.js';
import { formatResult } from '../src/scenario/format.js';

const here = dirname(fileURLToPath(import.meta.url));
const files = expandFiles([here]).filter((f) => !f.includes('/invalid/') && !f.includes('/bugs/'));

describe('scenario corpus', () => {
  it('has scenarios', () => {
    expect(files.length).toBeGreaterThan(0);
  });
  for (const f of files) {
    it(f.slice(here.length + 1), () => {
      const res = runScenario(loadScenario(f));
      if (!res.ok) expect.fail(formatResult(res));
    });
  }
});
