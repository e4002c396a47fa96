/**
 * The VM description the memlock advisor works on.
 *
 * It says what a management stack (libvirt, KubeVirt) can see about a VM
 * when it decides RLIMIT_MEMLOCK for the QEMU process, plus the few things
 * only the kernel model cares about (RAM backing, mdev pinning pattern), so
 * that one description can feed both sides of the comparison.
 *
 * Sizes are bytes, as bigint. libvirt works in KiB internally; the rule
 * functions do the KiB rounding themselves where libvirt does it.
 */

export const KiB = 1024n;
export const MiB = 1024n * KiB;
export const GiB = 1024n * MiB;

/** Host memory that backs guest RAM. Neither libvirt nor KubeVirt looks at it when sizing the limit. */
export type RamBacking = '4k' | 'thp' | 'hugetlb-2M' | 'hugetlb-1G';

/** Guest architecture. Only libvirt distinguishes ppc64 (pSeries, KVM); everything else takes the x86 rule. */
export type GuestArch = 'x86_64' | 'ppc64';

/**
 * How a mediated device (e.g. a vGPU) pins guest memory through
 * vfio_pin_pages(). The management stacks ignore this: to them an mdev is one
 * VFIO device. The kernel model uses it to compute the real locked_vm.
 */
export interface MdevPinningPattern {
  /** Distinct guest pages (4 KiB) the vendor driver keeps pinned at steady state. */
  workingSetPages: number;
  /** Pages unpinned and re-pinned per second (churn); 0 for a static working set. */
  churnPagesPerSecond: number;
}

export interface MdevDevices {
  count: number;
  pinning?: MdevPinningPattern;
}

/** One step of a hot-plug plan, applied in order to the running VM. */
export interface HotplugStep {
  op: 'add' | 'remove';
  kind: 'passthrough' | 'mdev';
  /** How many devices of that kind; default 1. */
  count?: number;
}

/** Inputs only KubeVirt's overhead estimate uses (GetMemoryOverhead). All optional. */
export interface KubevirtExtras {
  /** spec.domain.resources.requests.memory; defaults to guestRamBytes. */
  memoryRequestBytes?: bigint;
  /** spec.domain.memory.guest; defaults to guestRamBytes. */
  guestMemoryBytes?: bigint;
  /** vCPUs (sockets*cores*threads); default 1. */
  vcpus?: number;
  /** autoattachGraphicsDevice; default true (adds video RAM to the overhead). */
  graphics?: boolean;
  /** Dedicated CPUs or Guaranteed QoS (adds 100Mi). */
  dedicatedCpu?: boolean;
  /** A vTPM (swtpm process, 53Mi). */
  tpm?: boolean;
  /** AMD SEV / SEV-ES / SEV-SNP (256Mi; also makes KubeVirt adjust memlock without VFIO). */
  sev?: boolean;
  /** Realtime vCPUs (makes KubeVirt adjust memlock without VFIO). */
  realtime?: boolean;
  /** Number of exec liveness/readiness probes (0..2). */
  execProbes?: number;
  /** A downwardMetrics volume (1Mi). */
  downwardMetrics?: boolean;
  /** KubeVirt CR additionalGuestMemoryOverheadRatio, e.g. 1.5. */
  additionalOverheadRatio?: number;
  /** Node CPU architecture as Go names it; arm64 adds 128Mi of pflash. Default amd64. */
  cpuArch?: 'amd64' | 'arm64';
  /**
   * SR-IOV interfaces (spec.domain.devices.interfaces[].sriov). KubeVirt counts
   * them as VFIO devices; they are vfio-pci hostdevs to libvirt. They are NOT
   * included in `passthroughDevices`; the rules add them.
   */
  sriovInterfaces?: number;
}

export interface VmDescription {
  /** Guest RAM at boot (libvirt <memory>/<currentMemory> without balloon; KubeVirt guest memory). */
  guestRamBytes: bigint;
  /** Memory devices (DIMM, virtio-mem, NVDIMM) plugged at boot; libvirt adds them to the total. Default 0. */
  pluggedMemoryDeviceBytes?: bigint;
  /** <maxMemory> (libvirt) / spec.domain.memory.maxGuest (KubeVirt) when memory hot-plug is configured. */
  maxMemoryBytes?: bigint;
  /** <maxMemory slots='N'>; informative, no rule uses it. */
  memorySlots?: number;
  backing: RamBacking;
  /** vfio-pci host devices (GPUs, NICs, any PCI function) at boot. */
  passthroughDevices: number;
  /** Mediated devices (vGPU etc.) at boot. */
  mdev: MdevDevices;
  /** NVMe disks handed to QEMU's userspace NVMe driver (<disk type='nvme'>), which uses VFIO. Default 0. */
  nvmeDisks?: number;
  /** vhost-vDPA interfaces or disks. Default 0. */
  vdpaDevices?: number;
  /** A guest-visible IOMMU (<iommu model='intel'|'smmuv3'|...>). */
  viommu: boolean;
  /** <memoryBacking><locked/></memoryBacking>. */
  lockedMemoryBacking: boolean;
  /** <memtune><hard_limit>, bytes. */
  hardLimitBytes?: bigint;
  /** Default 'x86_64'. */
  arch?: GuestArch;
  /** pSeries: number of PCI host bridges (spapr-pci-host-bridge controllers, the default one included). Default 1. */
  ppc64PhbCount?: number;
  /** pSeries: a passed-through device is an NVLink2 GPU bridge (POWER9 + V100 era). */
  ppc64Nvlink2?: boolean;
  /** Hot-plug steps applied, in order, after boot. */
  hotplugPlan?: HotplugStep[];
  kubevirt?: KubevirtExtras;
}

/** The device population a rule sees at one instant (boot, or after some hot-plug steps). */
export interface DeviceCounts {
  passthrough: number;
  mdev: number;
}

/** Device counts at boot. */
export function bootDevices(vm: VmDescription): DeviceCounts {
  return { passthrough: vm.passthroughDevices, mdev: vm.mdev.count };
}

/**
 * Apply one hot-plug step. Removing more devices than exist is an error in
 * the plan, reported rather than clamped, so a bad plan does not silently
 * turn into a different scenario.
 */
export function applyStep(devs: DeviceCounts, step: HotplugStep): DeviceCounts {
  const n = step.count ?? 1;
  if (!Number.isInteger(n) || n < 1) {
    throw new RangeError(`hot-plug step count must be a positive integer, got ${n}`);
  }
  const delta = step.op === 'add' ? n : -n;
  const next: DeviceCounts =
    step.kind === 'passthrough'
      ? { passthrough: devs.passthrough + delta, mdev: devs.mdev }
      : { passthrough: devs.passthrough, mdev: devs.mdev + delta };
  if (next.passthrough < 0 || next.mdev < 0) {
    throw new RangeError(`hot-plug plan removes a ${step.kind} device that is not attached`);
  }
  return next;
}

/** The VM as it looks with a given device population (for re-evaluating a rule after hot-plug). */
export function withDevices(vm: VmDescription, devs: DeviceCounts): VmDescription {
  return {
    ...vm,
    passthroughDevices: devs.passthrough,
    mdev: { ...vm.mdev, count: devs.mdev },
  };
}
