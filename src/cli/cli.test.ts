/**
 * The CLI's contracts: exit codes of `run`, sharded explore merged back, and the memlock advisor.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCommand } from './run.js';
import { exploreCommand } from './explore.js';
import { memlockReport } from '../advisor/report.js';
import { GiB, MiB } from '../advisor/vm.js';

const dir = mkdtempSync(join(tmpdir(), 'vfiolab-cli-'));
const quiet = (): ((s: string) => void) => () => undefined;

describe('vfiolab run exit codes', () => {
  it('0 when every expectation holds', () => {
    expect(runCommand(['scenarios/core/map-charges-locked-vm.yaml'], { quiet: true }, quiet())).toBe(0);
  });
  it('1 when one fails, 2 for a malformed file', () => {
    const bad = join(dir, 'bad-expect.yaml');
    writeFileSync(
      bad,
      'name: wrong expectation\nhost: { processes: [{ name: q }] }\nsteps:\n  - open_container: { as: c }\n    expect: { ret: 99 }\n',
    );
    expect(runCommand([bad], { quiet: true }, quiet())).toBe(1);
    const malformed = join(dir, 'malformed.yaml');
    writeFileSync(malformed, 'name: x\nsteps:\n  - open_contaner: {}\n');
    expect(runCommand([malformed], {}, quiet())).toBe(2);
  });
});

describe('vfiolab explore --shard / --merge', () => {
  it('two DFS shards merge into the whole exploration', async () => {
    const f = 'scenarios/bugs/v9-mlock-gap.yaml';
    const whole = join(dir, 'whole.json');
    expect(await exploreCommand([f], { strategy: 'dfs', out: whole }, quiet())).toBe(0);
    const parts = ['0/2', '1/2'].map((s, i) => join(dir, `shard${i}.json`));
    for (const [i, s] of ['0/2', '1/2'].entries()) expect(await exploreCommand([f], { strategy: 'dfs', shard: s, out: parts[i] }, quiet())).toBe(0);
    const lines: string[] = [];
    expect(await exploreCommand(parts, { merge: true, json: true }, (s) => lines.push(s))).toBe(0);
    const merged = JSON.parse(lines.join('')) as { executions: number };
    const w = JSON.parse(readFileSync(whole, 'utf8')) as { executions: number };
    expect(merged.executions).toBe(w.executions);
  });
});

describe('vfiolab memlock', () => {
  it('one passthrough GPU needs exactly its guest RAM; one page less fails at MAP_DMA', () => {
    const r = memlockReport({ guestRamBytes: 4n * GiB, backing: 'thp', passthroughDevices: 1, mdev: { count: 0 }, viommu: false, lockedMemoryBacking: false });
    expect(r.advice.minimalBytes).toBe(4n * GiB);
    expect(r.advice.below?.what).toMatch(/MAP_DMA guest RAM/);
    expect(r.advice.below?.errno).toBe('ENOMEM');
    const libvirt = r.stacks.find((s) => s.stack.startsWith('libvirt (current'))!;
    expect(libvirt.verdict).toBe('ok');
  });
  it('a vGPU alone needs only its working set', () => {
    const r = memlockReport({ guestRamBytes: 4n * GiB, backing: 'thp', passthroughDevices: 0, mdev: { count: 1, pinning: { workingSetPages: 1024, churnPagesPerSecond: 0 } }, viommu: false, lockedMemoryBacking: false });
    expect(r.advice.minimalBytes).toBe(4n * MiB);
    expect(r.advice.below?.what).toMatch(/vfio_pin_pages/);
  });
  it('two passthrough devices behind a vIOMMU are charged once per container', () => {
    const r = memlockReport({ guestRamBytes: 2n * GiB, backing: 'thp', passthroughDevices: 2, mdev: { count: 0 }, viommu: true, lockedMemoryBacking: false });
    expect(r.advice.minimalBytes).toBe(4n * GiB);
  });
});
