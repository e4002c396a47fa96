/**
 * The loader's error contract: every malformed file under scenarios/invalid/ fails to load with a
 * ScenarioError whose message is `file:line:col: field: message`, pointing at the offending key.
 */
import { describe, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ScenarioError } from './errors.js';
import { loadScenario, parseScenario } from './load.js';

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
