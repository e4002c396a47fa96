/**
 * `vfiolab memlock`: how much RLIMIT_MEMLOCK a VM needs for VFIO, from flags or a small YAML
 * file, and how libvirt's and KubeVirt's rules compare.
 */
import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument } from 'yaml';
import pc from 'picocolors';
import type { VmDescription, HotplugStep, RamBacking } from '../advisor/vm.js';
import { formatReport, memlockReport } from '../advisor/report.js';
import { DocCtx } from '../scenario/load.js';
import { decodeFields } from '../scenario/fields.js';
import type { FieldSpec } from '../scenario/fields.js';
import { FieldError, ScenarioError } from '../scenario/errors.js';
import * as V from '../scenario/values.js';
import { jsonReplacer } from '../scenario/trace.js';

export const vmSpec: Record<string, FieldSpec> = {
  ram: { type: 'size', required: true, doc: 'guest RAM (16G)' },
  backing: { type: { enum: ['4k', 'thp', 'hugetlb-2M', 'hugetlb-1G'] }, doc: 'RAM backing (default thp)' },
  passthrough: { type: 'int', doc: 'vfio-pci devices at boot (default 0)' },
  mdev: { type: 'int', doc: 'mediated devices (vGPUs) at boot (default 0)' },
  mdev_working_set: { type: 'size', doc: 'bytes each vGPU keeps pinned (default 256M)' },
  viommu: { type: 'bool', doc: 'guest-visible IOMMU (default false)' },
  locked: { type: 'bool', doc: '<memoryBacking><locked/> (QEMU mlocks guest RAM)' },
  hard_limit: { type: 'size', doc: '<memtune><hard_limit>' },
  hotplug: { type: { list: 'string' }, doc: 'plan, e.g. ["add passthrough", "remove mdev"]' },
  profile: { type: 'string', doc: 'kernel profile (default 6.1)' },
};

function hotplugStep(s: string, path: (string | number)[]): HotplugStep {
  const m = /^\s*(add|remove)[\s:]+(passthrough|mdev)\s*$/.exec(s);
  if (!m) throw new FieldError(path, `expected "add passthrough", "remove passthrough", "add mdev" or "remove mdev", got ${JSON.stringify(s)}`);
  return { op: m[1] as 'add' | 'remove', kind: m[2] as 'passthrough' | 'mdev' };
}

export function vmFromDecoded(d: Record<string, unknown>, path: (string | number)[] = []): VmDescription {
  const ws = (d.mdev_working_set as bigint | undefined) ?? 256n << 20n;
  return {
    guestRamBytes: d.ram as bigint,
    backing: ((d.backing as string | undefined) ?? 'thp') as RamBacking,
    passthroughDevices: (d.passthrough as number | undefined) ?? 0,
    mdev: { count: (d.mdev as number | undefined) ?? 0, pinning: { workingSetPages: Number(ws >> 12n), churnPagesPerSecond: 0 } },
    viommu: d.viommu === true,
    lockedMemoryBacking: d.locked === true,
    hardLimitBytes: d.hard_limit as bigint | undefined,
    hotplugPlan: ((d.hotplug as string[] | undefined) ?? []).map((s, i) => hotplugStep(s, [...path, 'hotplug', i])),
  };
}

export function loadVmFile(file: string): { vm: VmDescription; profile?: string } {
  const text = readFileSync(file, 'utf8');
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc });
  const c = new DocCtx(file, doc, lc);
  if (doc.errors.length) throw c.error([], `YAML syntax: ${doc.errors[0]!.message.split('\n')[0]}`);
  return c.wrap(() => {
    const d = decodeFields(vmSpec, doc.toJS() as unknown, []);
    return { vm: vmFromDecoded(d), profile: d.profile as string | undefined };
  });
}

export interface MemlockFlags {
  ram?: string;
  backing?: string;
  passthrough?: string;
  mdev?: string;
  mdevWorkingSet?: string;
  viommu?: boolean;
  locked?: boolean;
  hotplug?: string;
  profile?: string;
  json?: boolean;
}

export function memlockCommand(file: string | undefined, f: MemlockFlags): number {
  try {
    let vm: VmDescription;
    let profile = f.profile;
    if (file) {
      const r = loadVmFile(file);
      vm = r.vm;
      profile ??= r.profile;
    } else {
      if (!f.ram) {
        process.stderr.write('vfiolab memlock: give a VM file or at least --ram (e.g. --ram 16G --passthrough 1)\n');
        return 2;
      }
      const int = (v: string | undefined, name: string): number => {
        if (v === undefined) return 0;
        if (!/^[0-9]+$/.test(v)) throw new FieldError([`--${name}`], `expected a count, got ${JSON.stringify(v)}`);
        return Number(v);
      };
      vm = vmFromDecoded({
        ram: V.size(f.ram, ['--ram']),
        backing: f.backing ?? 'thp',
        passthrough: int(f.passthrough, 'passthrough'),
        mdev: int(f.mdev, 'mdev'),
        mdev_working_set: f.mdevWorkingSet ? V.size(f.mdevWorkingSet, ['--mdev-working-set']) : undefined,
        viommu: f.viommu === true,
        locked: f.locked === true,
        hotplug: f.hotplug ? f.hotplug.split(',') : [],
      }, ['--hotplug']);
    }
    const rep = memlockReport(vm, profile);
    process.stdout.write(f.json ? JSON.stringify(rep, jsonReplacer, 2) + '\n' : formatReport(rep) + '\n');
    return 0;
  } catch (e) {
    if (e instanceof ScenarioError) {
      process.stderr.write(pc.red(e.message) + '\n');
      return 2;
    }
    if (e instanceof FieldError) {
      process.stderr.write(pc.red(`vfiolab memlock: ${e.path.join('.')}: ${e.message}`) + '\n');
      return 2;
    }
    throw e;
  }
}
