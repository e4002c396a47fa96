import { describe, expect, it } from 'vitest';
import fc from 'fast-check';

import {
  assessLimit,
  kubevirtEffectiveQemuLimit,
  kubevirtMemlockLimit,
  kubevirtMemoryOverhead,
  libvirtMemlockLimit,
  libvirtMemlockTimeline,
  type KubevirtVersion,
  type LibvirtVersion,
  type MemlockValue,
} from './rules.js';
import { GiB, KiB, MiB, type VmDescription } from './vm.js';

const LIBVIRT_VERSIONS: LibvirtVersion[] = ['current', 'flat', 'legacy'];
const KUBEVIRT_VERSIONS: KubevirtVersion[] = ['overhead', 'overhead-maxguest', 'per-device', 'unlimited'];

function vm(over: Partial<VmDescription> = {}): VmDescription {
  return {
    guestRamBytes: 16n * GiB,
    backing: '4k',
    passthroughDevices: 0,
    mdev: { count: 0 },
    viommu: false,
    lockedMemoryBacking: false,
    kubevirt: { vcpus: 4 },
    ...over,
  };
}

const GIB17 = 17n * GiB; // 18253611008
const GIB33 = 33n * GiB; // 35433480192

// KubeVirt, 16Gi guest, 4 vCPUs, graphics on, one or more VFIO devices:
//   page tables  ceil(17179869184/1000)*1000/512 = 33554433
//   daemons      25+100+25+40+30 Mi             = 230686720
//   vCPUs        4 x 8Mi                          = 33554432
//   IOThread     8Mi                              = 8388608
//   video        32Mi                             = 33554432
//   VFIO         1Gi                              = 1073741824
//   overhead                                      = 1413480449
//   base         16Gi rounded up to kB            = 17179870000
const KV_OVERHEAD = 1413480449n;
const KV_ONE = KV_OVERHEAD + 17179870000n; // 18593350449
const KV_TWO = KV_ONE + 16n * GiB; // 35773219633

describe('worked numbers, 16 GiB guest (docs/memlock-rules.md)', () => {
  const scenarios: {
    name: string;
    over: Partial<VmDescription>;
    libvirt: Record<LibvirtVersion, bigint>;
    kubevirtPerDevice: bigint;
  }[] = [
    {
      name: 'one GPU passthrough',
      over: { passthroughDevices: 1 },
      libvirt: { current: GIB17, flat: GIB17, legacy: GIB17 },
      kubevirtPerDevice: KV_ONE,
    },
    {
      name: 'one vGPU (mdev) only',
      over: { mdev: { count: 1, pinning: { workingSetPages: 65536, churnPagesPerSecond: 0 } } },
      libvirt: { current: GIB17, flat: GIB17, legacy: GIB17 },
      kubevirtPerDevice: KV_ONE,
    },
    {
      name: 'GPU passthrough + vGPU',
      over: { passthroughDevices: 1, mdev: { count: 1 } },
      libvirt: { current: GIB17, flat: GIB17, legacy: GIB17 },
      kubevirtPerDevice: KV_TWO,
    },
    {
      name: 'GPU passthrough + vGPU, vIOMMU',
      over: { passthroughDevices: 1, mdev: { count: 1 }, viommu: true },
      libvirt: { current: GIB33, flat: GIB17, legacy: GIB17 },
      kubevirtPerDevice: KV_TWO,
    },
    {
      name: 'one GPU passthrough, vIOMMU',
      over: { passthroughDevices: 1, viommu: true },
      libvirt: { current: GIB17, flat: GIB17, legacy: GIB17 },
      kubevirtPerDevice: KV_ONE,
    },
    {
      name: 'two passthrough devices, vIOMMU',
      over: { passthroughDevices: 2, viommu: true },
      libvirt: { current: GIB33, flat: GIB17, legacy: GIB17 },
      kubevirtPerDevice: KV_TWO,
    },
  ];

  for (const s of scenarios) {
    it(`libvirt: ${s.name}`, () => {
      for (const version of LIBVIRT_VERSIONS) {
        expect(libvirtMemlockLimit(vm(s.over), { version }).bytes, version).toBe(s.libvirt[version]);
      }
    });
    it(`KubeVirt per-device: ${s.name}`, () => {
      expect(kubevirtMemlockLimit(vm(s.over)).bytes).toBe(s.kubevirtPerDevice);
      // the older variants ignore the device count
      expect(kubevirtMemlockLimit(vm(s.over), { version: 'overhead' }).bytes).toBe(KV_ONE);
      expect(kubevirtMemlockLimit(vm(s.over), { version: 'unlimited' }).bytes).toBe('unlimited');
    });
  }

  it('ppc64 (pSeries, 1 PHB) one GPU: 143360 KiB base + 16818176 KiB passthrough; vIOMMU does not multiply', () => {
    const p = vm({ arch: 'ppc64', passthroughDevices: 1 });
    expect(libvirtMemlockLimit(p).bytes).toBe(17368612864n);
    expect(libvirtMemlockLimit({ ...p, passthroughDevices: 2, viommu: true }).bytes).toBe(17368612864n);
  });

  it('x86 counts plugged memory devices but not <maxMemory>', () => {
    const m = vm({ passthroughDevices: 1, maxMemoryBytes: 64n * GiB, pluggedMemoryDeviceBytes: 8n * GiB });
    expect(libvirtMemlockLimit(m).bytes).toBe(25n * GiB);
    // KubeVirt sizes for maxGuest up front (overhead-maxguest and later)
    expect(kubevirtMemlockLimit(m).bytes).toBe(KV_OVERHEAD + 68719477000n); // 64Gi rounded up to kB
  });

  it('17 GiB is the value in kubevirt PR #17805 error text (18253611008)', () => {
    expect(GIB17).toBe(18253611008n);
  });

  it('KubeVirt overhead terms add up', () => {
    const o = kubevirtMemoryOverhead(vm({ passthroughDevices: 1 }));
    expect(o.bytes).toBe(KV_OVERHEAD);
    expect(o.terms.reduce((s, t) => s + t.bytes, 0n)).toBe(o.bytes);
  });

  it('two devices behind a vIOMMU under KubeVirt: only per-device leaves libvirt room', () => {
    const twoViommu = vm({ passthroughDevices: 2, viommu: true });
    const visible = kubevirtEffectiveQemuLimit(twoViommu, { libvirtSeesViommu: true });
    expect(visible.libvirt.bytes).toBe(GIB33);
    expect(visible.startOutcome).toBe('ok');
    expect(visible.atStart).toBe(GIB33);
    expect(visible.afterHandlerReadjust).toBe(KV_TWO);

    const old = kubevirtEffectiveQemuLimit(twoViommu, {
      libvirtSeesViommu: true,
      kubevirt: { version: 'overhead' },
    });
    expect(old.startOutcome).toBe('eperm');

    // vIOMMU added by a hook sidecar: libvirt's factor stays 1 and it lowers QEMU to 17 GiB
    const hidden = kubevirtEffectiveQemuLimit(twoViommu);
    expect(hidden.libvirt.bytes).toBe(GIB17);
    expect(hidden.atStart).toBe(GIB17);
  });
});

describe('libvirt test-suite vectors (tests/qemumemlocktest.c)', () => {
  const oneGiB = (over: Partial<VmDescription>): VmDescription => vm({ guestRamBytes: GiB, ...over });

  it('pc-kvm / pc-tcg: nothing to lock -> 0', () => {
    for (const version of LIBVIRT_VERSIONS) {
      const r = libvirtMemlockLimit(oneGiB({}), { version });
      expect(r.bytes).toBe(0n);
      expect(r.setsLimit).toBe(false);
      expect(libvirtMemlockLimit(oneGiB({}), { version, accel: 'tcg' }).bytes).toBe(0n);
    }
  });

  it('pc-hostdev -> 2147483648', () => {
    for (const version of LIBVIRT_VERSIONS) {
      expect(libvirtMemlockLimit(oneGiB({ passthroughDevices: 1 }), { version }).bytes).toBe(2147483648n);
    }
  });

  it('pc-hostdev-nvme -> 3221225472 (per-device era); one copy before', () => {
    const v = oneGiB({ passthroughDevices: 1, nvmeDisks: 1 });
    expect(libvirtMemlockLimit(v).bytes).toBe(3221225472n);
    expect(libvirtMemlockLimit(v, { version: 'flat' }).bytes).toBe(2147483648n);
    expect(libvirtMemlockLimit(oneGiB({ nvmeDisks: 1 }), { version: 'legacy' }).bytes).toBe(0n);
  });

  it('hard_limit wins over locked and hostdev; locked alone is unlimited', () => {
    const hard = 2n * GiB;
    for (const version of LIBVIRT_VERSIONS) {
      for (const arch of ['x86_64', 'ppc64'] as const) {
        expect(libvirtMemlockLimit(oneGiB({ arch, hardLimitBytes: hard }), { version }).bytes).toBe(2147483648n);
        expect(
          libvirtMemlockLimit(
            oneGiB({ arch, hardLimitBytes: hard, lockedMemoryBacking: true, passthroughDevices: 1 }),
            { version },
          ).bytes,
        ).toBe(2147483648n);
        expect(libvirtMemlockLimit(oneGiB({ arch, lockedMemoryBacking: true }), { version }).bytes).toBe('unlimited');
        expect(
          libvirtMemlockLimit(oneGiB({ arch, lockedMemoryBacking: true, passthroughDevices: 1 }), { version }).bytes,
        ).toBe('unlimited');
      }
    }
  });

  it('pseries-kvm -> 20971520, pseries-tcg -> 0', () => {
    for (const version of LIBVIRT_VERSIONS) {
      expect(libvirtMemlockLimit(oneGiB({ arch: 'ppc64' }), { version }).bytes).toBe(20971520n);
      expect(libvirtMemlockLimit(oneGiB({ arch: 'ppc64' }), { version, accel: 'tcg' }).bytes).toBe(0n);
    }
  });

  it('pseries-hostdev -> 2168455168 with one PHB, 4320133120 with two', () => {
    for (const version of LIBVIRT_VERSIONS) {
      const one = oneGiB({ arch: 'ppc64', passthroughDevices: 1, ppc64PhbCount: 1 });
      const two = oneGiB({ arch: 'ppc64', passthroughDevices: 1, ppc64PhbCount: 2 });
      expect(libvirtMemlockLimit(one, { version }).bytes).toBe(2168455168n);
      expect(libvirtMemlockLimit(two, { version }).bytes).toBe(4320133120n);
    }
  });

  it('ppc64: an mdev alone triggers the passthrough term except in legacy', () => {
    const v = oneGiB({ arch: 'ppc64', mdev: { count: 1 } });
    expect(libvirtMemlockLimit(v).bytes).toBe(2168455168n);
    expect(libvirtMemlockLimit(v, { version: 'legacy' }).bytes).toBe(20971520n);
  });

  it('ppc64 NVLink2: maxMemory + 256 GiB per PHB + 8 MiB on top of the base', () => {
    const v = oneGiB({ arch: 'ppc64', passthroughDevices: 1, ppc64Nvlink2: true });
    const baseKiB = 1048576n / 128n + 4096n + 8192n;
    const passKiB = 1048576n + (1n << 28n) + 8192n;
    expect(libvirtMemlockLimit(v).bytes).toBe((baseKiB + passKiB) * KiB);
  });
});

describe('libvirt over the hot-plug plan', () => {
  it('per-device with vIOMMU: raises on add, never lowers while a device remains', () => {
    const plan = vm({
      passthroughDevices: 1,
      viommu: true,
      hotplugPlan: [
        { op: 'add', kind: 'passthrough' },
        { op: 'add', kind: 'mdev' },
        { op: 'remove', kind: 'passthrough', count: 2 },
        { op: 'remove', kind: 'mdev' },
      ],
    });
    const t = libvirtMemlockTimeline(plan);
    // removing an mdev never re-adjusts, even when it is the last VFIO user
    expect(t.map((p) => p.applied)).toEqual([GIB17, GIB33, 49n * GiB, 49n * GiB, 49n * GiB]);
    expect(t[4]?.note).toMatch(/mdev unplug does not re-adjust/);
  });

  it('the first runtime raise saves the launch value; the last PCI unplug restores it', () => {
    const t = libvirtMemlockTimeline(
      vm({
        passthroughDevices: 1,
        viommu: true,
        hotplugPlan: [
          { op: 'add', kind: 'passthrough' },
          { op: 'remove', kind: 'passthrough', count: 2 },
        ],
      }),
    );
    expect(t.map((p) => p.applied)).toEqual([GIB17, GIB33, GIB17]);
    expect(t[2]?.note).toMatch(/original limit restored/);
  });

  it('a device present since launch and never raised at runtime: unplug leaves the limit', () => {
    const t = libvirtMemlockTimeline(vm({ passthroughDevices: 1, hotplugPlan: [{ op: 'remove', kind: 'passthrough' }] }));
    expect(t.map((p) => p.applied)).toEqual([GIB17, GIB17]);
    expect(t[1]?.note).toMatch(/no original limit was saved/);
  });

  it('a VM booted without devices gets its original limit back after the last PCI unplug, not after an mdev unplug', () => {
    const pci = libvirtMemlockTimeline(
      vm({ hotplugPlan: [{ op: 'add', kind: 'passthrough' }, { op: 'remove', kind: 'passthrough' }] }),
      { inheritedBytes: 64n * KiB },
    );
    expect(pci.map((p) => p.applied)).toEqual([64n * KiB, GIB17, 64n * KiB]);
    const mdev = libvirtMemlockTimeline(
      vm({ hotplugPlan: [{ op: 'add', kind: 'mdev' }, { op: 'remove', kind: 'mdev' }] }),
      { inheritedBytes: 64n * KiB },
    );
    expect(mdev.map((p) => p.applied)).toEqual([64n * KiB, GIB17, GIB17]);
  });

  it('legacy lowers on unplug; unprivileged libvirt cannot raise past the hard limit', () => {
    const legacy = libvirtMemlockTimeline(
      vm({ passthroughDevices: 1, hotplugPlan: [{ op: 'add', kind: 'passthrough' }] }),
      { version: 'legacy' },
    );
    expect(legacy.map((p) => p.applied)).toEqual([GIB17, GIB17]);

    const session = libvirtMemlockTimeline(
      vm({ viommu: true, passthroughDevices: 1, hotplugPlan: [{ op: 'add', kind: 'passthrough' }] }),
      { privileged: false, inheritedBytes: 20n * GiB },
    );
    expect(session[0]?.applied).toBe(GIB17);
    expect(session[1]?.outcome).toBe('eperm');
    expect(session[1]?.devices).toEqual({ passthrough: 1, mdev: 0 });
  });

  it('rejects a plan that removes a device that is not there', () => {
    expect(() => libvirtMemlockTimeline(vm({ hotplugPlan: [{ op: 'remove', kind: 'mdev' }] }))).toThrow(RangeError);
  });
});

describe('assessLimit', () => {
  it('classifies headroom', () => {
    expect(assessLimit(GIB17, 16n * GiB).verdict).toBe('ok');
    expect(assessLimit(GIB17, 32n * GiB).verdict).toBe('too-low');
    expect(assessLimit(GIB33, 16n * GiB).verdict).toBe('generous');
    expect(assessLimit('unlimited', 16n * GiB).verdict).toBe('unlimited');
    expect(assessLimit(libvirtMemlockLimit(vm()), 0n).verdict).toBe('not-set');
  });
});

// ---------------------------------------------------------------------------
// properties
// ---------------------------------------------------------------------------

const arbVm = fc.record({
  guestMiB: fc.integer({ min: 0, max: 4 * 1024 * 1024 }),
  pluggedMiB: fc.integer({ min: 0, max: 64 * 1024 }),
  passthrough: fc.integer({ min: 0, max: 8 }),
  mdev: fc.integer({ min: 0, max: 8 }),
  nvme: fc.integer({ min: 0, max: 3 }),
  vdpa: fc.integer({ min: 0, max: 3 }),
  sriov: fc.integer({ min: 0, max: 3 }),
  viommu: fc.boolean(),
  arch: fc.constantFrom('x86_64' as const, 'ppc64' as const),
  phbs: fc.integer({ min: 1, max: 4 }),
  vcpus: fc.integer({ min: 1, max: 256 }),
});

type ArbVm = typeof arbVm extends fc.Arbitrary<infer T> ? T : never;

function fromArb(a: ArbVm): VmDescription {
  return vm({
    guestRamBytes: BigInt(a.guestMiB) * MiB,
    pluggedMemoryDeviceBytes: BigInt(a.pluggedMiB) * MiB,
    passthroughDevices: a.passthrough,
    mdev: { count: a.mdev },
    nvmeDisks: a.nvme,
    vdpaDevices: a.vdpa,
    viommu: a.viommu,
    arch: a.arch,
    ppc64PhbCount: a.phbs,
    kubevirt: { vcpus: a.vcpus, sriovInterfaces: a.sriov },
  });
}

function le(a: MemlockValue, b: MemlockValue): boolean {
  if (b === 'unlimited') return true;
  if (a === 'unlimited') return false;
  return a <= b;
}

describe('properties', () => {
  it('every rule is monotonic (non-decreasing) in guest RAM', () => {
    fc.assert(
      fc.property(arbVm, fc.integer({ min: 0, max: 1024 * 1024 }), (a, moreMiB) => {
        const small = fromArb(a);
        const big = { ...small, guestRamBytes: small.guestRamBytes + BigInt(moreMiB) * MiB };
        for (const version of LIBVIRT_VERSIONS) {
          if (!le(libvirtMemlockLimit(small, { version }).bytes, libvirtMemlockLimit(big, { version }).bytes)) {
            return false;
          }
        }
        for (const version of KUBEVIRT_VERSIONS) {
          if (!le(kubevirtMemlockLimit(small, { version }).bytes, kubevirtMemlockLimit(big, { version }).bytes)) {
            return false;
          }
        }
        return true;
      }),
      { numRuns: 300 },
    );
  });

  it('every rule is monotonic in the number of devices', () => {
    fc.assert(
      fc.property(arbVm, fc.constantFrom('passthrough' as const, 'mdev' as const), (a, kind) => {
        const before = fromArb(a);
        const after =
          kind === 'passthrough'
            ? { ...before, passthroughDevices: before.passthroughDevices + 1 }
            : { ...before, mdev: { count: before.mdev.count + 1 } };
        return (
          LIBVIRT_VERSIONS.every((version) =>
            le(libvirtMemlockLimit(before, { version }).bytes, libvirtMemlockLimit(after, { version }).bytes),
          ) &&
          KUBEVIRT_VERSIONS.every((version) =>
            le(kubevirtMemlockLimit(before, { version }).bytes, kubevirtMemlockLimit(after, { version }).bytes),
          )
        );
      }),
      { numRuns: 300 },
    );
  });

  it('x86: per-device >= flat, equal without vIOMMU, NVMe and vDPA', () => {
    fc.assert(
      fc.property(arbVm, (a) => {
        const v = { ...fromArb(a), arch: 'x86_64' as const };
        const cur = libvirtMemlockLimit(v).bytes;
        const flat = libvirtMemlockLimit(v, { version: 'flat' }).bytes;
        if (!le(flat, cur)) return false;
        const plain = { ...v, viommu: false, nvmeDisks: 0, vdpaDevices: 0 };
        return libvirtMemlockLimit(plain).bytes === libvirtMemlockLimit(plain, { version: 'flat' }).bytes;
      }),
      { numRuns: 300 },
    );
  });

  it('hard_limit overrides everything, floored to KiB', () => {
    fc.assert(
      fc.property(arbVm, fc.bigInt({ min: 1n, max: 1n << 50n }), fc.boolean(), (a, hard, locked) => {
        const v = { ...fromArb(a), hardLimitBytes: hard, lockedMemoryBacking: locked };
        return LIBVIRT_VERSIONS.every((version) => libvirtMemlockLimit(v, { version }).bytes === (hard / KiB) * KiB);
      }),
      { numRuns: 200 },
    );
  });

  it('timeline (current, privileged): the applied limit covers every later desired value while devices remain', () => {
    const arbStep = fc.record({
      op: fc.constantFrom('add' as const, 'remove' as const),
      kind: fc.constantFrom('passthrough' as const, 'mdev' as const),
    });
    fc.assert(
      fc.property(arbVm, fc.array(arbStep, { maxLength: 12 }), (a, steps) => {
        const v0 = fromArb(a);
        // keep only steps that are valid in sequence
        let p = v0.passthroughDevices;
        let m = v0.mdev.count;
        const plan = steps.filter((s) => {
          const d = s.op === 'add' ? 1 : -1;
          if (s.kind === 'passthrough') {
            if (p + d < 0) return false;
            p += d;
          } else {
            if (m + d < 0) return false;
            m += d;
          }
          return true;
        });
        const t = libvirtMemlockTimeline({ ...v0, hotplugPlan: plan });
        return t.every((pt) => pt.outcome === 'ok' && (!pt.desired.setsLimit || le(pt.desired.bytes, pt.applied)));
      }),
      { numRuns: 200 },
    );
  });
});
