/**
 * The memlock advisor's kernel side: boot a VM the way QEMU drives VFIO, run the vendor
 * workload and the hot-plug plan on the model, and find the peak locked_vm, the minimal
 * RLIMIT_MEMLOCK and the step that fails one page below it.
 *
 * What QEMU does, as modelled here (hw/vfio/common.c behaviour, described in our words):
 *   - one container per guest address space: without a vIOMMU every VFIO device shares one
 *     container; with a vIOMMU each passthrough device sits in its own address space, and in the
 *     worst case (guest maps all of RAM for each device, e.g. iommu=pt) each container maps all
 *     of guest RAM — so RAM is charged once per container;
 *   - the first group of a container: SET_CONTAINER, SET_IOMMU(TYPE1v2); then the memory
 *     listener maps every RAM region (MAP_DMA) and the BARs of passthrough devices (PFNMAP,
 *     never charged);
 *   - an mdev's vendor driver pins its working set one page at a time (vgpu_workload);
 *   - `<memoryBacking><locked/>` makes QEMU mlock all guest RAM first (charged again by VFIO).
 */
import { getProfile, DEFAULT_PROFILE } from '../kernel/profile.js';
import { KernelBug, KernelHang } from '../kernel/klog.js';
import { errnoName } from '../util/errno.js';
import { Sys } from '../sys/system.js';
import type { HostSpec } from '../sys/system.js';
import { EXT, IOCTL } from '../uapi/vfio.js';
import type { VfioDevice } from '../vfio/objects.js';
import { workload } from '../mdev/drivers/vgpu.js';
import { driverUnpin, pinState } from '../mdev/drivers/pinning.js';
import type { KGen } from '../kernel/sched.js';
import type { VmDescription } from './vm.js';

export interface SimStep {
  what: string;
  ok: boolean;
  errno?: string;
  locked_vm: number;
}

export interface SimResult {
  /** Every step ran without error. */
  ok: boolean;
  steps: SimStep[];
  /** Highest locked_vm seen, pages. */
  peakPages: number;
  /** The first failing step, if any. */
  failed?: SimStep;
}

/** q35's low-memory split: guest RAM above this goes above 4 GiB. */
const LOWMEM = 2n << 30n;
const BAR_SIZE = 16n << 20n;
const MDEV_IOVA = 0n;

interface Container {
  fd: number;
  groups: number[];
  iommuSet: boolean;
}

/** Run the VM on the model with RLIMIT_MEMLOCK = `limit` bytes. */
export function simulateVm(vm: VmDescription, limit: bigint, profile = DEFAULT_PROFILE): SimResult {
  const nPt = vm.passthroughDevices + (vm.hotplugPlan ?? []).filter((s) => s.op === 'add' && s.kind === 'passthrough').reduce((n, s) => n + (s.count ?? 1), 0);
  const nMd = vm.mdev.count + (vm.hotplugPlan ?? []).filter((s) => s.op === 'add' && s.kind === 'mdev').reduce((n, s) => n + (s.count ?? 1), 0);
  const host: HostSpec = {
    processes: [{ name: 'qemu', memlock: limit, caps: [] }],
    devices: Array.from({ length: nPt }, (_, i) => ({ label: `hostdev${i}`, bdf: `0000:${(i + 1).toString(16).padStart(2, '0')}:00.0`, group: 10 + i, driver: 'vfio-pci' as const, bars: [{ size: BAR_SIZE }] })),
    iommu: { apertureBits: 48 },
    mdev: nMd ? [{ name: 'vgpu-host', driver: 'vgpu', types: [{ name: 'vgpu', available_instances: nMd, device_api: 'vfio-pci' }] }] : [],
  };
  const sys = Sys.create(getProfile(profile)!, host);
  const P = 'qemu';
  const mm = sys.proc(P).p.mm!;
  const steps: SimStep[] = [];
  let peak = 0;
  let failed: SimStep | undefined;

  const record = (what: string, ret: number): boolean => {
    peak = Math.max(peak, mm.peakLockedVm);
    const s: SimStep = { what, ok: ret >= 0, locked_vm: mm.locked_vm };
    if (ret < 0) s.errno = errnoName(ret);
    steps.push(s);
    if (ret < 0 && !failed) failed = s;
    return ret >= 0;
  };
  const call = <T>(path: KGen<T> | (() => KGen<T>)): T => sys.call(P, path);

  const ramPages = Number((vm.guestRamBytes + 4095n) >> 12n);
  const ram = call(sys.sys_mmap_anon(P, ramPages, { read: true, write: true, backing: vm.backing, touch: true, contiguous: false, label: 'guest-ram' }));
  if (vm.lockedMemoryBacking && !record(`mlock guest RAM (${vm.guestRamBytes >> 20n} MiB, <locked/>)`, call(sys.sys_mlock(P, ram, ramPages)))) return { ok: false, steps, peakPages: peak, failed };

  const low = vm.guestRamBytes < LOWMEM ? vm.guestRamBytes : LOWMEM;
  const ramRegions = [{ name: 'below 4G', iova: 0n, offset: 0n, size: low }];
  if (vm.guestRamBytes > low) ramRegions.push({ name: 'above 4G', iova: 1n << 32n, offset: low, size: vm.guestRamBytes - low });

  const containers: Container[] = [];
  const newContainer = (): Container => {
    const c = { fd: call(sys.sys_open_container(P)), groups: [], iommuSet: false };
    containers.push(c);
    return c;
  };
  const shared = vm.viommu ? null : newContainer();

  /** Add a group to a container the way QEMU's vfio_connect_container does. */
  const attach = (c: Container, group: number, what: string): boolean => {
    const gfd = call(sys.sys_open_group(P, group));
    if (!record(`${what}: open group`, gfd)) return false;
    c.groups.push(gfd);
    if (!record(`${what}: VFIO_GROUP_SET_CONTAINER`, call(sys.sys_ioctl(P, gfd, IOCTL.VFIO_GROUP_SET_CONTAINER, { kind: 'container', container: sys.containerArg(P, c.fd) })))) return false;
    if (!c.iommuSet) {
      if (!record(`${what}: VFIO_SET_IOMMU(TYPE1v2)`, call(sys.sys_ioctl(P, c.fd, IOCTL.VFIO_SET_IOMMU, { kind: 'ext', ext: EXT.VFIO_TYPE1v2_IOMMU })))) return false;
      c.iommuSet = true;
      // q35 puts guest RAM below 2 GiB and the rest above 4 GiB (the PCI hole is between)
      for (const reg of ramRegions) {
        const r = call(sys.sys_ioctl(P, c.fd, IOCTL.VFIO_IOMMU_MAP_DMA, { kind: 'map', argsz: 32, flags: 3, vaddr: (BigInt(ram) << 12n) + reg.offset, iova: reg.iova, size: reg.size }));
        if (!record(`${what}: VFIO_IOMMU_MAP_DMA guest RAM ${reg.name} (${reg.size >> 20n} MiB)`, r)) return false;
      }
    }
    return true;
  };

  let ptNext = 0;
  let mdNext = 0;
  const ptLive: { i: number; c: Container; gfd: number; dfd: number; barIova: bigint }[] = [];
  const mdLive: { label: string; c: Container; gfd: number; dfd: number; vdev: VfioDevice }[] = [];

  const addPassthrough = (): boolean => {
    const i = ptNext++;
    const what = `hostdev${i}`;
    const c = shared ?? newContainer();
    if (!attach(c, 10 + i, what)) return false;
    const gfd = c.groups[c.groups.length - 1]!;
    const dfd = call(sys.sys_get_device_fd(P, gfd, sys.devices.get(what)!.name));
    if (!record(`${what}: VFIO_GROUP_GET_DEVICE_FD`, dfd)) return false;
    const bar = call(sys.sys_mmap_bar(P, dfd, 0, `${what}-bar0`));
    // QEMU maps device BARs too (peer-to-peer); they are PFNMAP and never charged
    const barIova = (1n << 40n) + (BigInt(i) << 32n);
    const r = call(sys.sys_ioctl(P, c.fd, IOCTL.VFIO_IOMMU_MAP_DMA, { kind: 'map', argsz: 32, flags: 3, vaddr: BigInt(bar) << 12n, iova: barIova, size: BAR_SIZE }));
    if (!record(`${what}: VFIO_IOMMU_MAP_DMA BAR0 (16 MiB MMIO)`, r)) return false;
    ptLive.push({ i, c, gfd, dfd, barIova });
    return true;
  };

  const addMdev = (): boolean => {
    const i = mdNext++;
    const label = `vgpu${i}`;
    const uuid = `00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`;
    if (!record(`${label}: create mdev`, call(sys.mdev.create_store('vgpu-host', 'vgpu', uuid, label)))) return false;
    // an mdev shares the (first) container: it has no IOMMU of its own
    const c = shared ?? containers[0] ?? newContainer();
    const group = sys.vdevs.get(label)!.group.iommu_group.id;
    if (!attach(c, group, label)) return false;
    const gfd = c.groups[c.groups.length - 1]!;
    const dfd = call(sys.sys_get_device_fd(P, gfd, uuid));
    if (!record(`${label}: VFIO_GROUP_GET_DEVICE_FD`, dfd)) return false;
    const vdev = sys.vdevs.get(label)!;
    const ws = vm.mdev.pinning?.workingSetPages ?? 0;
    if (ws) {
      const r = call(workload(sys.k, vdev, { iova: MDEV_IOVA, workingSet: Math.min(ws, ramPages), churn: 0 }));
      if (!record(`${label}: vendor driver pins ${ws} pages (vfio_pin_pages)`, r)) return false;
    }
    mdLive.push({ label, c, gfd, dfd, vdev });
    return true;
  };

  const removePassthrough = (): boolean => {
    const d = ptLive.pop();
    if (!d) return record('remove passthrough: none attached', -22);
    record(`hostdev${d.i}: close device`, call(sys.sys_close(P, d.dfd)));
    const r = record(`hostdev${d.i}: close group (detach)`, call(sys.sys_close(P, d.gfd)));
    d.c.groups.splice(d.c.groups.indexOf(d.gfd), 1);
    if (d.c.groups.length === 0) d.c.iommuSet = false;
    return r;
  };

  const removeMdev = (): boolean => {
    const d = mdLive.pop();
    if (!d) return record('remove mdev: none attached', -22);
    const st = pinState(d.vdev);
    for (const [a] of st.pins.inRange(0, Infinity)) call(() => driverUnpin(sys.k, d.vdev, a, 1));
    record(`${d.label}: close device`, call(sys.sys_close(P, d.dfd)));
    const r = record(`${d.label}: close group (detach)`, call(sys.sys_close(P, d.gfd)));
    d.c.groups.splice(d.c.groups.indexOf(d.gfd), 1);
    if (d.c.groups.length === 0) d.c.iommuSet = false;
    return r;
  };

  try {
    let ok = true;
    for (let i = 0; ok && i < vm.passthroughDevices; i++) ok = addPassthrough();
    for (let i = 0; ok && i < vm.mdev.count; i++) ok = addMdev();
    for (const s of vm.hotplugPlan ?? []) {
      for (let j = 0; ok && j < (s.count ?? 1); j++) {
        if (s.kind === 'passthrough') ok = s.op === 'add' ? addPassthrough() : removePassthrough();
        else ok = s.op === 'add' ? addMdev() : removeMdev();
      }
      if (!ok) break;
    }
  } catch (e) {
    if (e instanceof KernelBug || e instanceof KernelHang) steps.push({ what: e.message, ok: false, locked_vm: mm.locked_vm });
    else throw e;
  }
  return { ok: !failed, steps, peakPages: peak, failed };
}

export interface Advice {
  /** locked_vm peak with no limit, pages */
  peakPages: number;
  /** the smallest RLIMIT_MEMLOCK (bytes) with which every step succeeds; -1 if none does */
  minimalBytes: bigint;
  /** the run one page below it: which step fails and how */
  below?: SimStep;
  /** the run at the minimal limit */
  at: SimResult;
}

/**
 * Find the minimal limit: run without a limit to get the peak, confirm the run at the peak
 * succeeds (every charge is checked against the limit, so the peak is the requirement), and
 * report the first failing step one page below.
 */
export function adviseMemlock(vm: VmDescription, profile = DEFAULT_PROFILE): Advice {
  const free = simulateVm(vm, (1n << 64n) - 1n, profile);
  if (!free.ok) return { peakPages: free.peakPages, minimalBytes: -1n, below: free.failed, at: free };
  let need = BigInt(free.peakPages) << 12n;
  let at = simulateVm(vm, need, profile);
  // Defensive: should a path charge without checking, search upwards page by page (bounded).
  for (let i = 0; !at.ok && i < 64; i++) {
    need += 4096n;
    at = simulateVm(vm, need, profile);
  }
  const below = need >= 4096n ? simulateVm(vm, need - 4096n, profile).failed : undefined;
  return { peakPages: free.peakPages, minimalBytes: need, below, at };
}
