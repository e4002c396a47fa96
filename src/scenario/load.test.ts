/**
 * The loader's error contract: every malformed file under scenarios/invalid/ fails to load with a
 * ScenarioError whose message is `file:line:col: field: message`, pointing at the offending key.
 */
import { describe, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ScenarioError } from './errors.js';
import { checkProfileFit, loadScenario, parseScenario } from './load.js';
import { scenarioHarness } from './harness.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const dir = join(root, 'scenarios', 'invalid');

interface Case {
  line: number;
  col: number;
  field: string;
  message: RegExp;
}

/** One row per file in scenarios/invalid/: where the error points and what it says. */
const CASES: Record<string, Case> = {
  'unknown-op.yaml': { line: 8, col: 5, field: 'steps[1].VFIO_IOMMU_MAP', message: /^unknown operation; known operations: open_container, .*VFIO_IOMMU_MAP_DMA/ },
  'unknown-field.yaml': { line: 9, col: 75, field: 'steps[2].VFIO_IOMMU_MAP_DMA.lenght', message: /^unknown field; expected fd, flags, vaddr, iova, size/ },
  'wrong-type.yaml': { line: 7, col: 15, field: 'steps[0].capset.CAP_IPC_LOCK', message: /^expected true or false, got "yes"$/ },
  'unknown-fd.yaml': { line: 9, col: 40, field: 'steps[2].VFIO_GROUP_SET_CONTAINER.container', message: /^unknown fd "cont"; .*\(known: c, g\)$/ },
  'bad-size.yaml': { line: 8, col: 22, field: 'steps[1].mmap.size', message: /^expected a size like 4096, 0x1000, 4K, 2M or 1G, got "64Q"$/ },
  'unknown-flag.yaml': { line: 9, col: 48, field: 'steps[2].VFIO_IOMMU_MAP_DMA.flags[1]', message: /^unknown flag "RW"; expected one of READ, WRITE, VADDR$/ },
  'unknown-buffer.yaml': { line: 9, col: 49, field: 'steps[2].VFIO_IOMMU_MAP_DMA.vaddr', message: /^unknown buffer "bfu"; create it with mmap/ },
  'bad-errno.yaml': { line: 9, col: 15, field: 'steps[1].expect.errno', message: /^expected an errno name like EINVAL/ },
  'user-pfn-on-6.1.yaml': { line: 8, col: 34, field: 'steps[1].vfio_pin_pages.user_pfn', message: /^a user_pfn list is the 4\.10-5\.18 vfio_pin_pages API \(profile switch pinApiUserPfn\); profile 6\.1 takes a contiguous range/ },
  'unaligned-iova-on-4.10.yaml': { line: 9, col: 36, field: 'steps[1].vfio_unpin_pages.iova', message: /^IOVA 0x1010 is not page aligned: the vfio_unpin_pages API of profile 4\.10 takes IOVA page numbers/ },
  'notifier-on-6.1.yaml': { line: 8, col: 5, field: 'steps[1].vfio_register_notifier', message: /^vfio_register_notifier is the 4\.10-5\.18 API \(profile switch dmaUnmapNotifier\); on profile 6\.1/ },
  'user-pfn-short-list.yaml': { line: 9, col: 56, field: 'steps[1].vfio_pin_pages.npage', message: /^npage 3 is more than the 2 entries of user_pfn/ },
  'workload-without-working-set.yaml': { line: 14, col: 68, field: 'steps[6].vgpu_workload.churn', message: /^churn needs a working set to cycle through: working_set is 0$/ },
};

function loadError(file: string): ScenarioError {
  try {
    loadScenario(file);
  } catch (e) {
    if (e instanceof ScenarioError) return e;
    throw e;
  }
  throw new Error(`${file} loaded without an error`);
}

describe('scenarios/invalid: malformed files give file:line:col: field: message', () => {
  const files = readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort();

  it('every file in the folder has a case, and every case a file', () => {
    expect(files).toEqual(Object.keys(CASES).sort());
  });

  for (const f of files) {
    it(f, () => {
      const c = CASES[f]!;
      const path = relative(root, join(dir, f));
      const err = loadError(path);
      expect({ line: err.line, col: err.col, field: err.field }).toEqual({ line: c.line, col: c.col, field: c.field });
      expect(err.detail).toMatch(c.message);
      expect(err.message).toBe(`${path}:${c.line}:${c.col}: ${c.field}: ${err.detail}`);
      expect(err.message).toMatch(/^[^:]+\.yaml:\d+:\d+: [\w.[\]]+: \S/);
    });
  }
});

describe('parseScenario: more malformed inputs', () => {
  const base = 'name: x\nhost:\n  processes: [{ name: qemu }]\n  devices: [{ name: gpu0, group: 12 }]\nsteps:\n';
  const err = (text: string): ScenarioError => {
    try {
      parseScenario(text, 't.yaml');
    } catch (e) {
      if (e instanceof ScenarioError) return e;
      throw e;
    }
    throw new Error('parsed without an error');
  };

  it('a u64 beyond 2^64 - 1 is a bad size', () => {
    const e = err(base + '  - open_container: { as: c }\n  - VFIO_IOMMU_UNMAP_DMA: { fd: c, iova: "0x10000000000000000", size: 4K }\n');
    expect(e.message).toMatch(/^t\.yaml:7:\d+: steps\[1\]\.VFIO_IOMMU_UNMAP_DMA\.iova: expected a size/);
  });

  it('a 32-bit field rejects a 33-bit value', () => {
    const e = err(base + '  - open_container: { as: c }\n  - VFIO_IOMMU_GET_INFO: { fd: c, argsz: 0x100000000 }\n');
    expect(e.field).toBe('steps[1].VFIO_IOMMU_GET_INFO.argsz');
    expect(e.detail).toMatch(/expected a 32-bit value/);
  });

  it('an fd used by another process is unknown at run time but the name must exist at load time', () => {
    const e = err(base + '  - close: { fd: nope }\n');
    expect(e.message).toMatch(/^t\.yaml:6:\d+: steps\[0\]\.close\.fd: unknown fd "nope"/);
  });

  it('a missing required field names it', () => {
    const e = err(base + '  - open_container: { as: c }\n  - VFIO_IOMMU_MAP_DMA: { fd: c, iova: 0, size: 4K }\n');
    expect(e.field).toBe('steps[1].VFIO_IOMMU_MAP_DMA');
    expect(e.detail).toMatch(/missing required field "vaddr"/);
  });

  it('two operations in one step', () => {
    const e = err(base + '  - { open_container: { as: c }, close: { fd: c } }\n');
    expect(e.detail).toMatch(/one operation per step, found open_container, close/);
  });

  it('an unknown top-level key', () => {
    const e = err('name: x\nstepz: []\n');
    expect(e.message).toMatch(/^t\.yaml:2:1: stepz: unknown top-level field/);
  });

  it('YAML syntax errors have a position too', () => {
    const e = err('name: x\nsteps: [\n');
    expect(e.message).toMatch(/^t\.yaml:\d+:\d+: YAML syntax: /);
  });
});

describe('a step that does not fit the kernel a run overrides the profile with', () => {
  const text = (profile: string): string =>
    `name: x\nkernel: { profile: "${profile}" }\nhost:\n  processes: [{ name: qemu }]\n  mdev: [{ name: p, driver: vgpu, types: [{ name: s }] }]\nsteps:\n  - open_container: { as: c }\n  - vfio_pin_pages: { device: c, user_pfn: [0x1] }\n  - vfio_pin_pages: { device: c, iova: 0x10, npage: 1 }\n`;

  it('loads on 4.10 only when every form fits: the unaligned iova is refused at its field', () => {
    expect(() => parseScenario(text('4.10'), 't.yaml')).toThrow(/^t\.yaml:9:\d+: steps\[2\]\.vfio_pin_pages\.iova: IOVA 0x10 is not page aligned/);
  });

  it('vfiolab run --profile 6.1 on a 4.10 file names the user_pfn field', () => {
    const sc = parseScenario(text('4.10').replace(', iova: 0x10,', ', iova: 0x1000,'), 't.yaml');
    expect(() => checkProfileFit({ ...sc, profile: '6.1' })).toThrow(/^t\.yaml:8:\d+: steps\[1\]\.vfio_pin_pages\.user_pfn: a user_pfn list is the 4\.10-5\.18/);
    expect(() => checkProfileFit({ ...sc, profile: '6.1', switches: { pinApiUserPfn: true } })).not.toThrow();
    expect(() => scenarioHarness(sc, { profile: '6.12' })).toThrow(ScenarioError);
    expect(() => scenarioHarness(sc, { profile: 'v9' })).not.toThrow();
  });

  it('a step must give iova with npage, or user_pfn, not both', () => {
    expect(() => parseScenario(text('4.10').replace('user_pfn: [0x1] }', 'user_pfn: [0x1], iova: 0 }'), 't.yaml')).toThrow(/steps\[1\]\.vfio_pin_pages\.iova: give either iova \(with npage\) or user_pfn, not both/);
    expect(() => parseScenario(text('6.1').replace('user_pfn: [0x1] }', 'npage: 1 }'), 't.yaml')).toThrow(/steps\[1\]\.vfio_pin_pages: missing iova \(with npage\) or user_pfn/);
  });
});
