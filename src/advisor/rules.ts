/**
 * What the management stacks set RLIMIT_MEMLOCK to, as pure functions.
 *
 * The kernel side (src/kernel, src/type1) simulates the locked_vm a VM
 * really reaches; this module says what limit libvirt and KubeVirt put on the
 * QEMU process, so the advisor can compare the two. The rules are restated
 * from the upstream sources named in each `source` string (read on the stored
 * copies listed in docs/memlock-rules.md); no upstream code is copied.
 *
 * Conventions:
 *  - `bytes: 0n` with `setsLimit: false` means "this layer does not touch
 *    the limit": the process keeps what it inherited.
 *  - `'unlimited'` is RLIM_INFINITY.
 *  - libvirt computes in KiB and shifts left by 10 at the end; guest sizes
 *    that are not KiB multiples are floored to KiB first, as its XML parser
 *    would have stored them in KiB.
 */

import {
  GiB,
  KiB,
  MiB,
  applyStep,
  bootDevices,
  withDevices,
  type DeviceCounts,
  type VmDescription,
} from './vm.js';

export type MemlockValue = bigint | 'unlimited';

export interface RuleResult {
  /** The RLIMIT_MEMLOCK value (soft = hard) the layer sets. 0n when it sets none. */
  bytes: MemlockValue;
  /** False when the layer leaves the inherited limit alone. */
  setsLimit: boolean;
  /** Stable id of the branch taken, e.g. 'libvirt/vfio-per-device'. */
  rule: string;
  /** The branch with its numbers, in words. */
  explanation: string;
  /** Upstream repo@commit, path, function the rule restates. */
  source: string;
}

// ---------------------------------------------------------------------------
// libvirt: qemuDomainGetMemLockLimitBytes
// ---------------------------------------------------------------------------

/**
 * libvirt variants of qemuDomainGetMemLockLimitBytes.
 *
 * - 'current': per-device multiplication. Since v8.7.0 (commit 8d5704e2c4,
 *   as cited by kubevirt/kubevirt PR #17805; not re-read here). Read at
 *   NathanChenNVIDIA/libvirt@0be26e399e2022df639c628c1e921508d6ff0fb2, a fork
 *   of libvirt >= 9.1 (positional %1$s format strings), where the
 *   `forceVFIO` argument is already gone.
 * - 'flat': one copy of guest RAM + 1 GiB whatever the device count, with
 *   NVMe disks and vDPA counted as VFIO users. Roughly v6.0 (NVMe) .. v8.6.
 *   Read at intel/libvirt-tdx@072945791f86fa7f573f8ee0ef75d790b9d95d61
 *   (a 7.x-era tree: `virDomainDef *`, `forceVFIO` argument present).
 * - 'legacy': VFIO PCI or mdev hostdevs only; on ppc64 only VFIO PCI
 *   hostdevs trigger the passthrough term and there is no NVLink2 case.
 *   Read at libvirt/libvirt@0054c706e9e3af7666b0dcbea5f2ed8822649949
 *   (a 4.x-era tree: `virDomainDefPtr`, autotools).
 */
export type LibvirtVersion = 'current' | 'flat' | 'legacy';

export const LIBVIRT_SOURCES: Readonly<Record<LibvirtVersion, string>> = {
  current:
    'NathanChenNVIDIA/libvirt@0be26e399e2022df639c628c1e921508d6ff0fb2 src/qemu/qemu_domain.c ' +
    'qemuDomainGetMemLockLimitBytes (+ qemuDomainGetNumVFIOHostdevs, qemuDomainGetNumNVMeDisks, ' +
    'qemuDomainGetNumVDPADevices, getPPC64MemLockLimitBytes)',
  flat:
    'intel/libvirt-tdx@072945791f86fa7f573f8ee0ef75d790b9d95d61 src/qemu/qemu_domain.c ' +
    'qemuDomainGetMemLockLimitBytes(def, forceVFIO) (+ getPPC64MemLockLimitBytes)',
  legacy:
    'libvirt/libvirt@0054c706e9e3af7666b0dcbea5f2ed8822649949 src/qemu/qemu_domain.c ' +
    'qemuDomainGetMemLockLimitBytes (ppc64 branch inline)',
};

export interface LibvirtOptions {
  /** Default 'current'. */
  version?: LibvirtVersion;
  /** Domain type; the pSeries rule applies to KVM only. Default 'kvm'. */
  accel?: 'kvm' | 'tcg';
  /**
   * Extra VFIO PCI hostdevs libvirt sees beyond `passthroughDevices`, e.g.
   * SR-IOV VFs KubeVirt hands over as <hostdev>. Default: the VM's
   * kubevirt.sriovInterfaces, else 0.
   */
  extraPciHostdevs?: number;
}

const ONE_GIB_KIB = GiB / KiB; // 1048576

function floorKiB(bytes: bigint): bigint {
  if (bytes < 0n) throw new RangeError('negative size');
  return bytes / KiB;
}

/** virDomainDefGetMemoryTotal, in KiB: boot RAM plus memory devices. */
function totalMemoryKiB(vm: VmDescription): bigint {
  return floorKiB(vm.guestRamBytes + (vm.pluggedMemoryDeviceBytes ?? 0n));
}

interface LibvirtDeviceView {
  pci: number;
  mdev: number;
  nvme: number;
  vdpa: number;
}

function libvirtDevices(vm: VmDescription, opts: LibvirtOptions): LibvirtDeviceView {
  const extra = opts.extraPciHostdevs ?? vm.kubevirt?.sriovInterfaces ?? 0;
  return {
    pci: vm.passthroughDevices + extra,
    mdev: vm.mdev.count,
    nvme: vm.nvmeDisks ?? 0,
    vdpa: vm.vdpaDevices ?? 0,
  };
}

/**
 * getPPC64MemLockLimitBytes, in KiB.
 *
 *   base        = maxMemory/128 + 4 MiB * PHBs + 8 MiB       (hash page table, 32-bit DMA windows)
 *   passthrough = NVLink2:  maxMemory + (128 * 2^30 / 512) KiB * PHBs + 8 MiB  (256 GiB per PHB)
 *                 VFIO:     max(2 GiB * PHBs, memory + memory/512 * PHBs + 8 MiB)
 *   limit       = base + passthrough
 *
 * `memory` is the current total, `maxMemory` is <maxMemory> when set.
 * All divisions are integer divisions on KiB, as in the C code.
 */
function ppc64LimitKiB(vm: VmDescription, usesPassthrough: boolean, nvlink2: boolean): {
  kib: bigint;
  detail: string;
} {
  const phbs = BigInt(vm.ppc64PhbCount ?? 1);
  if (phbs < 1n) throw new RangeError('ppc64PhbCount must be >= 1 (the default PHB counts)');
  const memory = totalMemoryKiB(vm);
  const maxMemory = vm.maxMemoryBytes !== undefined ? floorKiB(vm.maxMemoryBytes) : memory;
  const base = maxMemory / 128n + 4096n * phbs + 8192n;
  let passthrough = 0n;
  let kind = 'no passthrough term';
  if (nvlink2) {
    // The C writes 128 * (1ULL<<30) / 512 per PHB on a KiB quantity: 2^28 KiB = 256 GiB.
    passthrough = maxMemory + ((128n * (1n << 30n)) / 512n) * phbs + 8192n;
    kind = 'NVLink2 passthrough term';
  } else if (usesPassthrough) {
    const ddw = memory + (memory / 512n) * phbs + 8192n;
    const preDdw = 2n * 1024n * 1024n * phbs;
    passthrough = ddw > preDdw ? ddw : preDdw;
    kind = 'VFIO passthrough term max(2 GiB*PHBs, mem + mem/512*PHBs + 8 MiB)';
  }
  return {
    kib: base + passthrough,
    detail: `base ${base} KiB (maxMem/128 + 4 MiB*${phbs} PHB + 8 MiB) + ${kind} ${passthrough} KiB`,
  };
}

function result(
  bytes: MemlockValue,
  rule: string,
  explanation: string,
  source: string,
): RuleResult {
  return { bytes, setsLimit: bytes === 'unlimited' || bytes > 0n, rule, explanation, source };
}

/**
 * libvirt's qemuDomainGetMemLockLimitBytes for a VM description: the value
 * libvirt puts on the QEMU child at launch (virCommandSetMaxMemLock) and the
 * target of every later qemuDomainAdjustMaxMemLock.
 *
 * Precedence, identical in all modelled versions:
 *   1. <memtune><hard_limit> set        -> hard_limit
 *   2. <memoryBacking><locked/>         -> unlimited
 *   3. ppc64 + KVM                      -> getPPC64MemLockLimitBytes
 *   4. x86 (and every other arch) rule  -> see version
 *   5. nothing needs locking            -> 0 (leave the inherited limit)
 *
 * x86 rule by version ('current' >= v8.7.0; 'flat' ~v6.0..v8.6; 'legacy' <= ~v5.x):
 *   current: factor = nVDPA + nNVMe + (nVFIO ? (vIOMMU ? nVFIO : 1) : 0);
 *            limit = factor * totalRAM + 1 GiB, where nVFIO counts PCI and mdev hostdevs.
 *   flat:    any PCI/mdev hostdev, NVMe disk or vDPA -> totalRAM + 1 GiB.
 *   legacy:  any VFIO PCI or mdev hostdev -> totalRAM + 1 GiB.
 * RAM backing, the mdev pinning pattern and memory slots play no part.
 */
export function libvirtMemlockLimit(vm: VmDescription, opts: LibvirtOptions = {}): RuleResult {
  const version = opts.version ?? 'current';
  const accel = opts.accel ?? 'kvm';
  const source = LIBVIRT_SOURCES[version];
  const arch = vm.arch ?? 'x86_64';

  if (vm.hardLimitBytes !== undefined && vm.hardLimitBytes > 0n) {
    const kib = floorKiB(vm.hardLimitBytes);
    return result(
      kib * KiB,
      'libvirt/hard_limit',
      `<memtune><hard_limit> is set: the memlock limit is the hard limit, ${kib} KiB`,
      source,
    );
  }
  if (vm.lockedMemoryBacking) {
    return result(
      'unlimited',
      'libvirt/locked',
      '<memoryBacking><locked/> without hard_limit: libvirt cannot bound QEMU, so the limit is removed',
      source,
    );
  }

  const d = libvirtDevices(vm, opts);

  if (arch === 'ppc64' && accel === 'kvm') {
    let uses: boolean;
    let nvlink2: boolean;
    if (version === 'legacy') {
      uses = d.pci > 0; // only VFIO PCI hostdevs in the 4.x loop
      nvlink2 = false; // no NVLink2 branch yet
    } else {
      // qemuDomainNeedsVFIO (PCI hostdev || mdev hostdev || NVMe disk; read at 0be26e39) || vDPA net
      uses = d.pci + d.mdev + d.nvme + d.vdpa > 0;
      nvlink2 = (vm.ppc64Nvlink2 ?? false) && d.pci > 0;
    }
    const { kib, detail } = ppc64LimitKiB(vm, uses, nvlink2);
    return result(kib * KiB, 'libvirt/ppc64', `pSeries KVM guest: ${detail}`, source);
  }

  const total = totalMemoryKiB(vm);
  const nvfio = d.pci + d.mdev;

  if (version === 'legacy') {
    if (nvfio > 0) {
      return result(
        (total + ONE_GIB_KIB) * KiB,
        'libvirt/vfio-flat',
        `a VFIO PCI or mdev hostdev is present: total RAM ${total} KiB + 1 GiB`,
        source,
      );
    }
    return result(0n, 'libvirt/none', 'no VFIO hostdev: libvirt leaves the inherited limit', source);
  }

  if (version === 'flat') {
    if (nvfio + d.nvme + d.vdpa > 0) {
      return result(
        (total + ONE_GIB_KIB) * KiB,
        'libvirt/vfio-flat',
        `VFIO (PCI/mdev hostdev or NVMe disk) or vDPA in use: total RAM ${total} KiB + 1 GiB, ` +
          'independent of the device count',
        source,
      );
    }
    return result(0n, 'libvirt/none', 'no VFIO/NVMe/vDPA user: libvirt leaves the inherited limit', source);
  }

  if (nvfio + d.nvme + d.vdpa === 0) {
    return result(0n, 'libvirt/none', 'no VFIO/NVMe/vDPA user: libvirt leaves the inherited limit', source);
  }
  const vfioFactor = nvfio === 0 ? 0 : vm.viommu ? nvfio : 1;
  const factor = BigInt(d.vdpa + d.nvme + vfioFactor);
  const why =
    `factor ${factor} = ${d.vdpa} vDPA + ${d.nvme} NVMe + ` +
    (nvfio === 0
      ? '0 VFIO'
      : vm.viommu
        ? `${nvfio} VFIO hostdevs (vIOMMU: one address space each)`
        : `1 for ${nvfio} VFIO hostdev(s) (no vIOMMU: one shared address space)`);
  return result(
    (factor * total + ONE_GIB_KIB) * KiB,
    factor > 1n ? 'libvirt/vfio-per-device' : 'libvirt/vfio-single',
    `${why}; limit = ${factor} x ${total} KiB + 1 GiB`,
    source,
  );
}

// ---------------------------------------------------------------------------
// libvirt: how the value is applied over the VM's life (start, hot-plug)
// ---------------------------------------------------------------------------

export interface LibvirtTimelineOptions extends LibvirtOptions {
  /** RLIMIT_MEMLOCK QEMU would inherit from the daemon. Default 8 MiB (systemd >= 253 default). */
  inheritedBytes?: MemlockValue;
  /**
   * Whether libvirt may raise the hard limit (system instance as root, or
   * CAP_SYS_RESOURCE). False for session mode, e.g. inside a KubeVirt
   * virt-launcher pod. Default true.
   */
  privileged?: boolean;
}

export interface TimelinePoint {
  /** 'start' or the hot-plug step, e.g. 'add 1 passthrough'. */
  event: string;
  devices: DeviceCounts;
  /** What qemuDomainGetMemLockLimitBytes returns for the devices after the event. */
  desired: RuleResult;
  /** The QEMU process limit after the event. */
  applied: MemlockValue;
  /** 'ok', or 'eperm' when an unprivileged libvirt had to raise beyond the hard limit (the operation fails). */
  outcome: 'ok' | 'eperm';
  note: string;
}

function cmp(a: MemlockValue, b: MemlockValue): number {
  if (a === b) return 0;
  if (a === 'unlimited') return 1;
  if (b === 'unlimited') return -1;
  return a < b ? -1 : 1;
}

/**
 * The QEMU process limit through start and the hot-plug plan.
 *
 * Start (qemuProcessLaunch, read at NathanChenNVIDIA/libvirt@07d35be1c16e
 * src/qemu/qemu_process.c): a non-zero desired value is set exactly on the
 * child before exec (virCommandSetMaxMemLock), so it may lower an inherited
 * larger limit; zero leaves the inherited one.
 *
 * Hot-plug (qemuDomainAdjustMaxMemLockHostdev -> qemuDomainAdjustMaxMemLock):
 *  - 'current'/'flat' (qemuDomainSetMaxMemLock; intel/libvirt-tdx and
 *    NathanChenNVIDIA copies): only ever raises; if the current limit is
 *    already >= desired nothing happens. The first runtime raise saves the
 *    limit it replaces (originalMemlock) - for a VM that booted with a
 *    device that is the launch value, not the daemon default. When desired
 *    drops to 0 (last VFIO user gone) the saved value is restored; if
 *    libvirt never raised at runtime nothing is saved and the limit stays.
 *  - 'legacy' (libvirt/libvirt@0054c706 qemuDomainAdjustMaxMemLock): sets
 *    desired every time (can lower); restores the saved original on 0.
 * Unplug (qemuDomainRemoveHostDevice, read at
 * NathanChenNVIDIA/libvirt@04188a5ef1423b2142615fee34b2fd760da7d677
 * src/qemu/qemu_hotplug.c) re-adjusts after removing a PCI hostdev only;
 * removing an mdev does not call qemuDomainAdjustMaxMemLock at all, so the
 * limit stays even when the mdev was the last VFIO user. Hot-add of either
 * kind goes through qemuDomainAdjustMaxMemLockHostdev (qemuDomainAttachHostPCIDevice,
 * qemuDomainAttachMediatedDevice). The same call sites are assumed for the
 * older versions.
 */
export function libvirtMemlockTimeline(
  vm: VmDescription,
  opts: LibvirtTimelineOptions = {},
): TimelinePoint[] {
  const version = opts.version ?? 'current';
  const privileged = opts.privileged ?? true;
  const inherited: MemlockValue = opts.inheritedBytes ?? 8n * MiB;
  const points: TimelinePoint[] = [];

  let devs = bootDevices(vm);
  const startDesired = libvirtMemlockLimit(vm, opts);
  let current: MemlockValue = inherited;
  let hard: MemlockValue = inherited; // hard limit == soft limit everywhere here
  let saved: MemlockValue | undefined; // originalMemlock
  if (startDesired.setsLimit) {
    if (!privileged && cmp(startDesired.bytes, hard) > 0) {
      points.push({
        event: 'start',
        devices: devs,
        desired: startDesired,
        applied: inherited,
        outcome: 'eperm',
        note: 'setrlimit in the QEMU child above the inherited hard limit fails: the domain does not start',
      });
      return points;
    }
    current = startDesired.bytes;
    hard = current;
  }
  points.push({
    event: 'start',
    devices: devs,
    desired: startDesired,
    applied: current,
    outcome: 'ok',
    note: startDesired.setsLimit
      ? 'set exactly on the QEMU child before exec'
      : 'nothing to lock: QEMU keeps the inherited limit',
  });

  for (const step of vm.hotplugPlan ?? []) {
    const attempted = applyStep(devs, step);
    const desired = libvirtMemlockLimit(withDevices(vm, attempted), opts);
    const event = `${step.op} ${step.count ?? 1} ${step.kind}`;
    let note: string;
    let outcome: 'ok' | 'eperm' = 'ok';
    if (step.op === 'remove' && step.kind === 'mdev') {
      note = 'mdev unplug does not re-adjust the limit (qemuDomainRemoveHostDevice): left alone';
    } else if (desired.setsLimit) {
      const raiseOnly = version !== 'legacy';
      if (raiseOnly && cmp(current, desired.bytes) >= 0) {
        note = 'current limit already big enough: left alone';
      } else if (!privileged && cmp(desired.bytes, hard) > 0) {
        outcome = 'eperm';
        note = 'prlimit above the hard limit without privilege fails: the hot-plug is refused';
      } else {
        if (saved === undefined) saved = current;
        const c = cmp(desired.bytes, current);
        note =
          c > 0
            ? 'raised to the new desired value'
            : c < 0
              ? 'set to the new (lower) desired value'
              : 'set again to the same value';
        current = desired.bytes;
        hard = current;
      }
    } else if (saved !== undefined) {
      note = 'no VFIO user left: original limit restored';
      current = saved;
      hard = current;
      saved = undefined;
    } else {
      note = 'no VFIO user left, but no original limit was saved (it was set at launch): left alone';
    }
    if (outcome === 'ok') devs = attempted; // a refused hot-plug leaves the devices as they were
    points.push({ event, devices: devs, desired, applied: current, outcome, note });
  }
  return points;
}

// ---------------------------------------------------------------------------
// KubeVirt: virt-handler's prlimit on virtqemud / QEMU
// ---------------------------------------------------------------------------

/**
 * KubeVirt variants.
 *
 * - 'overhead': memlock = GetMemoryOverhead(vmi) + requests.memory, applied
 *   when the VMI has VFIO devices (GPUs, HostDevices, SR-IOV) or realtime
 *   (later also SEV). Read at kubevirt/kubevirt@b92274c797c481246b616c6f0f75a0ba6a88d889
 *   pkg/virt-handler/isolation/detector.go AdjustResources /
 *   AdjustQemuProcessMemoryLimits (same shape at 005c731f, 2021, libvirtd).
 * - 'overhead-maxguest': as above, base memory = maxGuest if memory
 *   hot-plug is configured, else requests.memory, else guest. Read at
 *   kubevirt/kubevirt@e5812ef2ece7d1ccdc5db0d9f1cedda6a261f774
 *   pkg/hypervisor/kvm/runtime.go AdjustResources + getVMIBaseMemory.
 * - 'per-device': plus (N-1) x guest memory for N VFIO devices, with no
 *   vIOMMU check (KubeVirt cannot see one). kubevirt/kubevirt PR #17805
 *   (merged 2026-05); helper read at
 *   kubevirt/kubevirt@f7a22a6612facb7e2ecacdf6b60f79526608c822
 *   pkg/vfio/memlock.go CalculateMemlockExtraBytes/CountDevices.
 * - 'unlimited': kubevirt/kubevirt PR #17857 (merged 2026-05): virt-handler
 *   sets RLIM_INFINITY for every VMI that needs locking and lets libvirt's
 *   own value apply. Known from the PR text only; no stored code.
 *
 * Which release carries which variant is not established here (see
 * docs/memlock-rules.md); 'per-device' is the default because issue
 * #18915 (2026-09) describes release-1.9 that way.
 */
export type KubevirtVersion = 'overhead' | 'overhead-maxguest' | 'per-device' | 'unlimited';

export const KUBEVIRT_SOURCES: Readonly<Record<KubevirtVersion, string>> = {
  overhead:
    'kubevirt/kubevirt@b92274c797c481246b616c6f0f75a0ba6a88d889 pkg/virt-handler/isolation/detector.go ' +
    'AdjustResources + pkg/virt-controller/services/renderresources.go@8ba2ce4040bf GetMemoryOverhead',
  'overhead-maxguest':
    'kubevirt/kubevirt@e5812ef2ece7d1ccdc5db0d9f1cedda6a261f774 pkg/hypervisor/kvm/runtime.go ' +
    'AdjustResources/getVMIBaseMemory + pkg/hypervisor/kvm/launcherhypervisorresources.go@142934c3aeed GetMemoryOverhead',
  'per-device':
    'kubevirt/kubevirt PR #17805 + kubevirt/kubevirt@f7a22a6612facb7e2ecacdf6b60f79526608c822 pkg/vfio/memlock.go ' +
    'CalculateMemlockExtraBytes on top of pkg/hypervisor/kvm/runtime.go@e5812ef2 AdjustResources',
  unlimited: 'kubevirt/kubevirt PR #17857 (AdjustResources -> SetProcessMemoryLockUnlimited), PR text only',
};

export interface KubevirtOptions {
  /** Default 'per-device'. */
  version?: KubevirtVersion;
}

export interface OverheadTerm {
  name: string;
  bytes: bigint;
}

function ceilDiv(a: bigint, b: bigint): bigint {
  return (a + b - 1n) / b;
}

/** resource.Quantity ScaledValue(resource.Kilo) then NewScaledQuantity(.., Kilo): round up to 1000 bytes. */
function roundUpToKilo(bytes: bigint): bigint {
  return ceilDiv(bytes, 1000n) * 1000n;
}

function kvRequestBytes(vm: VmDescription): bigint {
  return vm.kubevirt?.memoryRequestBytes ?? vm.guestRamBytes;
}

function kvGuestBytes(vm: VmDescription): bigint {
  return vm.kubevirt?.guestMemoryBytes ?? vm.guestRamBytes;
}

/** KubeVirt's VFIO device count: GPUs + HostDevices + SR-IOV interfaces (pkg/vfio CountDevices). */
export function kubevirtVfioDeviceCount(vm: VmDescription): number {
  return vm.passthroughDevices + vm.mdev.count + (vm.kubevirt?.sriovInterfaces ?? 0);
}

/**
 * KubeVirt's GetMemoryOverhead for the KVM launcher, term by term, as read
 * at kubevirt/kubevirt@142934c3aeed124bfe0fbb97a79149cf11a348ce
 * pkg/hypervisor/kvm/launcherhypervisorresources.go. Older trees differ in
 * the constants (video 16Mi, virtlogd 20Mi, virtqemud 35Mi) and apply the
 * overhead ratio before the dedicated-CPU term; the sum moves by tens of MiB.
 */
export function kubevirtMemoryOverhead(vm: VmDescription): { bytes: bigint; terms: OverheadTerm[] } {
  const kv = vm.kubevirt ?? {};
  const terms: OverheadTerm[] = [];
  const add = (name: string, bytes: bigint): void => {
    terms.push({ name, bytes });
  };
  add('page tables (requests.memory rounded up to kB, / 512)', roundUpToKilo(kvRequestBytes(vm)) / 512n);
  add('virt-launcher-monitor', 25n * MiB);
  add('virt-launcher', 100n * MiB);
  add('virtlogd', 25n * MiB);
  add('virtqemud', 40n * MiB);
  add('qemu', 30n * MiB);
  const vcpus = Math.max(1, Math.trunc(kv.vcpus ?? 1));
  add(`vCPUs (${vcpus} x 8Mi)`, BigInt(vcpus) * 8n * MiB);
  add('IOThread', 8n * MiB);
  if (kv.graphics ?? true) add('video RAM', 32n * MiB);
  if (kv.cpuArch === 'arm64') add('arm64 UEFI pflash', 128n * MiB);
  if (kubevirtVfioDeviceCount(vm) > 0) add('VFIO (MMIO allowance, as libvirt)', 1n * GiB);
  if (kv.downwardMetrics) add('downwardMetrics volume', 1n * MiB);
  const probes = Math.max(0, Math.min(2, Math.trunc(kv.execProbes ?? 0)));
  if (probes > 0) add(`exec probes (${probes} x 10Mi + 100Mi)`, BigInt(probes) * 10n * MiB + 100n * MiB);
  if (kv.sev) add('SEV', 256n * MiB);
  if (kv.tpm) add('swtpm', 53n * MiB);
  if (kv.dedicatedCpu) add('dedicated CPU / Guaranteed QoS', 100n * MiB);
  let bytes = terms.reduce((s, t) => s + t.bytes, 0n);
  const ratio = kv.additionalOverheadRatio;
  if (ratio !== undefined && ratio !== 1) {
    if (!Number.isFinite(ratio) || ratio < 1) throw new RangeError('additionalOverheadRatio must be >= 1');
    const kilo = ceilDiv(bytes, 1000n);
    const extraKilo = BigInt(Math.trunc(Number(kilo) * (ratio - 1)));
    add(`additionalGuestMemoryOverheadRatio ${ratio}`, extraKilo * 1000n);
    bytes += extraKilo * 1000n;
  }
  return { bytes, terms };
}

/**
 * The RLIMIT_MEMLOCK virt-handler sets (prlimit, soft = hard) on virtqemud
 * before the domain starts, and on QEMU itself when it re-adjusts a running
 * VMI. KubeVirt does not read the domain XML, so vIOMMU, hard_limit and
 * <locked/> play no part; mdevs (vGPUs) count as VFIO devices because they
 * are GPUs/HostDevices in the VMI spec.
 *
 *   needs locking = VFIO devices (GPUs, HostDevices, SR-IOV) || realtime || SEV
 *   overhead        : GetMemoryOverhead(vmi) + requests.memory
 *   overhead-maxguest: GetMemoryOverhead(vmi) + (maxGuest | requests.memory | guest)
 *   per-device      : overhead-maxguest + (N-1) x guest memory, N = VFIO devices
 *   unlimited       : RLIM_INFINITY
 */
export function kubevirtMemlockLimit(vm: VmDescription, opts: KubevirtOptions = {}): RuleResult {
  const version = opts.version ?? 'per-device';
  const source = KUBEVIRT_SOURCES[version];
  const kv = vm.kubevirt ?? {};
  const n = kubevirtVfioDeviceCount(vm);
  const needs = n > 0 || (kv.realtime ?? false) || (kv.sev ?? false);
  if (!needs) {
    return result(
      0n,
      'kubevirt/none',
      'no VFIO device, realtime or SEV: virt-handler leaves the pod default',
      source,
    );
  }
  if (version === 'unlimited') {
    return result('unlimited', 'kubevirt/unlimited', 'memory-locking VMI: virt-handler sets RLIM_INFINITY', source);
  }
  const overhead = kubevirtMemoryOverhead(vm).bytes;
  let baseName: string;
  let base: bigint;
  if (version !== 'overhead' && vm.maxMemoryBytes !== undefined) {
    base = roundUpToKilo(vm.maxMemoryBytes);
    baseName = 'maxGuest';
  } else if (kvRequestBytes(vm) > 0n || version === 'overhead') {
    base = roundUpToKilo(kvRequestBytes(vm));
    baseName = 'requests.memory';
  } else {
    base = roundUpToKilo(kvGuestBytes(vm));
    baseName = 'guest memory';
  }
  let bytes = overhead + base;
  let explanation = `GetMemoryOverhead ${overhead} B + ${baseName} ${base} B (rounded up to kB)`;
  let rule = 'kubevirt/overhead';
  if (version === 'per-device' && n > 1) {
    const per = kvGuestBytes(vm) > 0n ? kvGuestBytes(vm) : kvRequestBytes(vm);
    const extra = BigInt(n - 1) * per;
    bytes += extra;
    explanation += ` + (${n}-1) x ${per} B for ${n} VFIO devices`;
    rule = 'kubevirt/per-device';
  }
  return result(bytes, rule, explanation, source);
}

export interface KubevirtEffective {
  kubevirt: RuleResult;
  /** libvirt's value as libvirt sees the domain (session mode: no hard_limit; vIOMMU per `libvirtSeesViommu`). */
  libvirt: RuleResult;
  /** The QEMU limit right after start, or the inherited one if start fails. */
  atStart: MemlockValue;
  startOutcome: 'ok' | 'eperm';
  /** The QEMU limit after virt-handler re-adjusts the running VMI (it targets QEMU then). */
  afterHandlerReadjust: MemlockValue;
  note: string;
}

/**
 * Put the two layers together for a KubeVirt VM: virt-handler sets K on
 * virtqemud; unprivileged libvirt then sets its own D exactly on the QEMU
 * child (lowering K, or failing with EPERM if D > K); later re-adjusts by
 * virt-handler write K onto QEMU directly.
 *
 * `libvirtSeesViommu` (only meaningful when vm.viommu) defaults to false:
 * KubeVirt has no vIOMMU in its API,
 * so one added through a hook sidecar's qemu:commandline is invisible to
 * libvirt's factor (kubevirt/kubevirt issue #18915).
 */
export function kubevirtEffectiveQemuLimit(
  vm: VmDescription,
  opts: {
    kubevirt?: KubevirtOptions;
    libvirt?: LibvirtOptions;
    libvirtSeesViommu?: boolean;
    podDefaultBytes?: bigint;
  } = {},
): KubevirtEffective {
  const k = kubevirtMemlockLimit(vm, opts.kubevirt);
  const libvirtView: VmDescription = {
    ...vm,
    hardLimitBytes: undefined, // memtune is rejected in session mode
    viommu: vm.viommu && (opts.libvirtSeesViommu ?? false),
  };
  const d = libvirtMemlockLimit(libvirtView, opts.libvirt);
  const inherited: MemlockValue = k.setsLimit ? k.bytes : (opts.podDefaultBytes ?? 8n * MiB);
  let atStart: MemlockValue = inherited;
  let startOutcome: 'ok' | 'eperm' = 'ok';
  let note: string;
  if (!d.setsLimit) {
    note = 'libvirt sets nothing: QEMU inherits the virtqemud limit';
  } else if (cmp(d.bytes, inherited) > 0) {
    startOutcome = 'eperm';
    note = 'libvirt needs more than virtqemud\'s hard limit and cannot raise it: "cannot limit locked memory", start fails';
  } else {
    atStart = d.bytes;
    note = cmp(d.bytes, inherited) < 0 ? 'libvirt lowers QEMU to its own value' : 'both layers agree';
  }
  const afterHandlerReadjust: MemlockValue = k.setsLimit ? k.bytes : atStart;
  return { kubevirt: k, libvirt: d, atStart, startOutcome, afterHandlerReadjust, note };
}

// ---------------------------------------------------------------------------
// Comparison with a requirement
// ---------------------------------------------------------------------------

export type Verdict = 'too-low' | 'ok' | 'generous' | 'unlimited' | 'not-set';

/**
 * Compare a limit with the locked_vm a VM will reach (from the kernel
 * model). 'generous' when the headroom exceeds `slackBytes` (default
 * 1 GiB, libvirt's own MMIO allowance).
 */
export function assessLimit(
  limit: RuleResult | MemlockValue,
  requiredBytes: bigint,
  slackBytes: bigint = GiB,
): { verdict: Verdict; headroomBytes: bigint | 'unbounded' } {
  const isResult = typeof limit === 'object';
  const v: MemlockValue = isResult ? limit.bytes : limit;
  if (v === 'unlimited') return { verdict: 'unlimited', headroomBytes: 'unbounded' };
  if (isResult && !limit.setsLimit) return { verdict: 'not-set', headroomBytes: v - requiredBytes };
  const headroom = v - requiredBytes;
  if (headroom < 0n) return { verdict: 'too-low', headroomBytes: headroom };
  return { verdict: headroom > slackBytes ? 'generous' : 'ok', headroomBytes: headroom };
}
