/**
 * The kernel-behaviour corpus (scenarios/<topic>/) documents itself: every file has a name, a
 * description that says where its expected values come from (a spec section, the measured kernel,
 * or the kernel source it paraphrases), and at least one expectation.
 */
import { describe, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadScenario } from './load.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'scenarios');
const TOPICS = ['container', 'group', 'map', 'unmap', 'info', 'accounting', 'attach', 'dirty', 'vaddr', 'limits'];
const SOURCE = /spec §|measured|kernel\/examples|mm\/|vfio_|conformance|CVE-/;

describe('scenario corpus documents its sources', () => {
  for (const topic of TOPICS) {
    const files = readdirSync(join(root, topic)).filter((f) => f.endsWith('.yaml'));
    it(`${topic}/ has scenarios`, () => expect(files.length).toBeGreaterThan(0));
    for (const f of files) {
      it(`${topic}/${f}`, () => {
        const sc = loadScenario(join(root, topic, f));
        expect(sc.name.length).toBeGreaterThan(10);
        expect(sc.description, 'description names its source').toMatch(SOURCE);
        expect(sc.steps.some((s) => s.expect !== undefined), 'at least one expectation').toBe(true);
      });
    }
  }
});
