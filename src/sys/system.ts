/**
 * The simulated host as user space sees it: processes with file descriptor tables and the
 * syscalls a VMM issues (open, close, ioctl, mmap, munmap, mlock, munlock, setrlimit, capset,
 * exit). Each syscall is a kernel path (a generator); `System.call` runs one straight through on
 * the process's main thread, the explorer interleaves them.
 */
import { EBADF, EFAULT, EINVAL, ENODEV, ENOENT, ENOMEM, ENOTTY } from '../util/errno.js';
import { Kernel } from '../kernel/kernel.js';
import type { Type1Params } from '../kernel/kernel.js';
import type { KernelProfile } from '../kernel/profile.js';
import { runSync } from '../kernel/run-sync.js';
import type { KGen, ThreadRef } from '../kernel/sched.js';
import { done, point } from '../kernel/sched.js';
import type { Backing, Vma } from '../host/mm.js';
import { BACKING_GRANULE, Mm } from '../host/mm.js';
import type { Capability } from '../host/task.js';
import { Process } from '../host/task.js';
import type { IommuHw } from '../iommu/hw.js';
import { INTEL_VTD } from '../iommu/hw.js';
import type { Device, DeviceDriver } from '../iommu/group.js';
import { IommuGroup } from '../iommu/group.js';
import { IOCTL } from '../uapi/vfio.js';
import type { Type1IoctlArg } from '../type1/driver.js';
import { vfio_container_ioctl } from '../vfio/container.js';
import type { GroupIoctlArg } from '../vfio/group.js';
import { vfio_device_release, vfio_group_fops_open, vfio_group_ioctl, vfio_group_ioctl_get_device_fd, vfio_group_put_file } from '../vfio/group.js';
import { VfioContainer, VfioDevice, VfioGroup } from '../vfio/objects.js';
import type { VfioDeviceOps } from '../vfio/objects.js';
import type { MdevTypeSpec } from '../mdev/core.js';
import { MdevCore } from '../mdev/core.js';
import { MDEV_DRIVERS } from '../mdev/drivers/index.js';

export type File =
  | { kind: 'container'; c: VfioContainer; refs: number }
  | { kind: 'group'; g: VfioGroup; refs: number }
  | { kind: 'device'; d: VfioDevice; refs: number };

export interface ProcessSpec {
  name: string;
  pid?: number;
  memlock: bigint;
  caps: Capability[];
}

export interface BarSpec {
  size: bigint;
}

export interface DeviceSpec {
  label: string;
  /** PCI address, e.g. 0000:01:00.0 */
  bdf: string;
  group: number;
  driver: DeviceDriver;
  bars: BarSpec[];
  bridge?: boolean;
}

export interface MdevParentSpec {
  /** parent device name */
  name: string;
  /** sample vendor driver: vgpu | mtty | misbehaving */
  driver: string;
  types: MdevTypeSpec[];
}

export interface HostSpec {
  processes: ProcessSpec[];
  devices: DeviceSpec[];
  iommu?: Partial<IommuHw>;
  mdev?: MdevParentSpec[];
}

/** vfio-pci's device ops: nothing to pin, no dma_unmap. */
export const VFIO_PCI_OPS: VfioDeviceOps = { name: 'vfio-pci' };

export class Sys {
  readonly procs = new Map<string, { p: Process; fds: Map<number, File>; thread: ThreadRef; nextFd: number; nextMmap: number }>();
  readonly groups = new Map<number, VfioGroup>();
  readonly devices = new Map<string, Device>();
  readonly vdevs = new Map<string, VfioDevice>();
  readonly hw: IommuHw;
  readonly mdev: MdevCore;

  constructor(
    readonly k: Kernel,
    spec: HostSpec,
  ) {
    this.hw = { ...INTEL_VTD, ...spec.iommu };
    if (this.hw.noPinPages) k.iommuDriverHasPinPages = false;
    let pid = 1000;
    for (const ps of spec.processes) this.addProcess(ps, ps.pid ?? pid++);
    for (const ds of spec.devices) this.addPciDevice(ds);
    this.mdev = new MdevCore({
      k,
      addGroup: (g) => this.groups.set(g.iommu_group.id, g),
      removeGroup: (g) => {
        if (this.groups.get(g.iommu_group.id) === g) this.groups.delete(g.iommu_group.id);
      },
      freeGroupId: () => {
        let id = 0;
        while (this.groups.has(id)) id++;
        return id;
      },
      addDevice: (label, vdev) => this.vdevs.set(label, vdev),
      removeDevice: (label) => this.vdevs.delete(label),
    });
    for (const ps of spec.mdev ?? []) {
      const drv = MDEV_DRIVERS[ps.driver];
      if (!drv) throw new Error(`unknown mdev driver ${ps.driver}`);
      this.mdev.mdev_register_parent(ps.name, drv, ps.types);
    }
  }

  static create(profile: KernelProfile, spec: HostSpec, params: Partial<Type1Params> = {}): Sys {
    return new Sys(new Kernel(profile, params), spec);
  }

  addProcess(ps: ProcessSpec, pid: number): Process {
    const mm = new Mm(this.k.phys, this.k.locks, ps.name);
    const p = new Process(pid, ps.name, mm, ps.memlock, ps.caps);
    const thread = this.k.newThread(p.leader, `${ps.name}`);
    this.procs.set(ps.name, { p, fds: new Map(), thread, nextFd: 3, nextMmap: 0x7f0000000 });
    return p;
  }

  addPciDevice(ds: DeviceSpec): Device {
    let g = this.groups.get(ds.group);
    const bars = ds.bars.map((b, index) => {
      const npages = Math.max(1, Number((b.size + 4095n) >> 12n));
      return { index, npages, pfn: this.k.phys.allocMmio(npages, npages) };
    });
    const dev: Device = { name: ds.bdf, label: ds.label, bus: 'pci', driver: ds.driver, bars, bridge: ds.bridge ?? false, group: null };
    if (!g) {
      const ig = new IommuGroup(ds.group, this.hw);
      g = new VfioGroup(this.k, ig, 'VFIO_IOMMU');
      this.groups.set(ds.group, g);
    }
    dev.group = g.iommu_group;
    g.iommu_group.devices.push(dev);
    this.devices.set(ds.label, dev);
    if (ds.driver === 'vfio-pci') {
      const vd = new VfioDevice(this.k, dev, g, VFIO_PCI_OPS);
      g.devices.push(vd);
      this.vdevs.set(ds.label, vd);
    }
    return dev;
  }

  proc(name: string) {
    const p = this.procs.get(name);
    if (!p) throw new Error(`no process ${name}`);
    return p;
  }

  /**
   * Run a kernel path straight through on `proc`'s thread: a generator, or a function returning
   * a path (for one that takes effect when called, e.g. vfio_iommu_type1_pin_pages; see runSync).
   */
  call<T>(proc: string, path: KGen<T> | (() => KGen<T>)): T {
    // the last process looked up, remembered: processes are added, never replaced or removed.
    // #private, so world snapshots and fingerprints do not see this cache
    if (proc !== this.#callProc) {
      this.#callThread = this.proc(proc).thread;
      this.#callProc = proc;
    }
    return runSync(this.k.locks, this.#callThread!, path);
  }
  #callProc: string | null = null;
  #callThread: ThreadRef | null = null;

  private installFd(proc: string, f: File): number {
    const pr = this.proc(proc);
    const fd = pr.nextFd++;
    pr.fds.set(fd, f);
    return fd;
  }

  fileOf(proc: string, fd: number): File | undefined {
    return this.proc(proc).fds.get(fd);
  }

  // ---- syscalls -------------------------------------------------------------------------------

  /** open("/dev/vfio/vfio") */
  *sys_open_container(proc: string): KGen<number> {
    yield point('open(/dev/vfio/vfio)');
    return this.installFd(proc, { kind: 'container', c: new VfioContainer(this.k), refs: 1 });
  }

  /** open("/dev/vfio/<group>") */
  *sys_open_group(proc: string, group: number): KGen<number> {
    const g = this.groups.get(group);
    // no group, no /dev/vfio/<N> node: open() fails in the path walk, before vfio_group_fops_open
    // (measured 6.1.192 and 6.12: ENOENT)
    if (!g) return -ENOENT;
    const ret = yield* vfio_group_fops_open(this.k, g);
    if (ret) return ret;
    return this.installFd(proc, { kind: 'group', g, refs: 1 });
  }

  /** close(fd) */
  *sys_close(proc: string, fd: number): KGen<number> {
    const pr = this.proc(proc);
    const f = pr.fds.get(fd);
    if (!f) return -EBADF;
    pr.fds.delete(fd);
    yield* this.fput(f);
    return 0;
  }

  private *fput(f: File): KGen<void> {
    if (--f.refs > 0) return;
    switch (f.kind) {
      case 'container':
        f.c.refs--;
        yield point('vfio_fops_release');
        return;
      case 'group':
        yield* vfio_group_put_file(this.k, f.g);
        return;
      case 'device':
        yield* vfio_device_release(this.k, f.d);
        return;
    }
  }

  /** ioctl() on a container or group fd (not GET_DEVICE_FD). */
  /** ioctl(2): a dispatcher (see `done` in sched.ts), the path it picks runs as the syscall. */
  sys_ioctl(proc: string, fd: number, cmd: number, arg: Type1IoctlArg | GroupIoctlArg): KGen<number> {
    const f = this.fileOf(proc, fd);
    if (!f) return done(-EBADF);
    if (f.kind === 'container') return vfio_container_ioctl(this.k, f.c, cmd, arg as Type1IoctlArg);
    if (f.kind === 'group') {
      if (cmd === IOCTL.VFIO_GROUP_GET_DEVICE_FD) return done(-EFAULT);
      return vfio_group_ioctl(this.k, f.g, cmd, arg as GroupIoctlArg);
    }
    return done(-ENOTTY);
  }

  /** The container behind `fd` for VFIO_GROUP_SET_CONTAINER's argument. */
  containerArg(proc: string, fd: number): VfioContainer | 'badf' | 'other' {
    if (fd < 0) return 'badf';
    const f = this.fileOf(proc, fd);
    if (!f) return 'badf';
    return f.kind === 'container' ? f.c : 'other';
  }

  /** ioctl(group, VFIO_GROUP_GET_DEVICE_FD, name): a new fd or -errno. */
  *sys_get_device_fd(proc: string, fd: number, name: string): KGen<number> {
    const f = this.fileOf(proc, fd);
    if (!f) return -EBADF;
    // a container forwards the unknown command to its driver (EINVAL without one, ENOTTY from type1)
    if (f.kind === 'container') return yield* vfio_container_ioctl(this.k, f.c, IOCTL.VFIO_GROUP_GET_DEVICE_FD, { kind: 'none' });
    if (f.kind !== 'group') return -ENOTTY;
    const r = yield* vfio_group_ioctl_get_device_fd(this.k, f.g, name);
    if (typeof r === 'number') return r;
    return this.installFd(proc, { kind: 'device', d: r, refs: 1 });
  }

  /** Hand the same open file to another process (fork/SCM_RIGHTS): returns its fd there. */
  shareFd(from: string, fd: number, to: string): number {
    const f = this.fileOf(from, fd);
    if (!f) return -EBADF;
    f.refs++;
    return this.installFd(to, f);
  }

  /**
   * mmap(NULL, size, prot, MAP_PRIVATE|MAP_ANONYMOUS [|MAP_HUGETLB]) and optionally touch it.
   * Returns the address (page number) or -errno. Addresses are aligned to the backing page size.
   */
  *sys_mmap_anon(proc: string, npages: number, o: { read: boolean; write: boolean; backing: Backing; touch: boolean; contiguous: boolean; label: string }): KGen<number> {
    const pr = this.proc(proc);
    const mm = pr.p.mm;
    if (!mm) return -ENOMEM;
    if (npages <= 0) return -EINVAL;
    const g = BACKING_GRANULE[o.backing];
    if ((o.backing === 'hugetlb-2M' || o.backing === 'hugetlb-1G') && npages % g) return -EINVAL;
    const start = Math.ceil(pr.nextMmap / Math.max(g, 512)) * Math.max(g, 512);
    pr.nextMmap = start + npages + 512; // leave a hole between mappings
    yield* mm.mmap_lock.down_write();
    const vma: Vma = { start, npages, read: o.read, write: o.write, pfnmap: false, locked: false, backing: o.backing, contiguous: o.contiguous, pop: [], mmioPfn: 0, label: o.label };
    mm.insertVma(vma);
    if (o.touch) mm.populate(vma, start, npages);
    yield* mm.mmap_lock.up_write();
    return start;
  }

  /** mmap() of a device fd region (a BAR): a VM_PFNMAP vma. */
  *sys_mmap_bar(proc: string, fd: number, index: number, label: string): KGen<number> {
    const pr = this.proc(proc);
    const f = pr.fds.get(fd);
    if (!f) return -EBADF;
    if (f.kind !== 'device') return -ENODEV;
    const bar = f.d.dev.bars[index];
    if (!bar) return -EINVAL;
    const mm = pr.p.mm;
    if (!mm) return -ENOMEM;
    const start = Math.ceil(pr.nextMmap / 512) * 512;
    pr.nextMmap = start + bar.npages + 512;
    yield* mm.mmap_lock.down_write();
    mm.insertVma({ start, npages: bar.npages, read: true, write: true, pfnmap: true, locked: false, backing: '4k', contiguous: true, pop: [], mmioPfn: bar.pfn, label });
    yield* mm.mmap_lock.up_write();
    return start;
  }

  /** Run `op` on `proc`'s mm with mmap_lock held for write, with a scheduling point inside. */
  private *underMmapWrite(proc: string, label: string, op: (mm: Mm) => number): KGen<number> {
    const mm = this.proc(proc).p.mm;
    if (!mm) return -EINVAL;
    yield* mm.mmap_lock.down_write();
    if (this.k.locks.interleaving) yield point(label);
    const r = op(mm);
    yield* mm.mmap_lock.up_write();
    return r;
  }

  *sys_munmap(proc: string, start: number, npages: number): KGen<number> {
    return yield* this.underMmapWrite(proc, 'do_munmap', (mm) => mm.munmap(start, npages));
  }

  *sys_mlock(proc: string, start: number, npages: number): KGen<number> {
    const p = this.proc(proc).p;
    return yield* this.underMmapWrite(proc, 'do_mlock', (mm) => mm.mlock(start, npages, p.memlockPages(), p.capable('CAP_IPC_LOCK')));
  }

  *sys_munlock(proc: string, start: number, npages: number): KGen<number> {
    return yield* this.underMmapWrite(proc, 'apply_vma_lock_flags', (mm) => mm.munlock(start, npages));
  }

  /** setrlimit(RLIMIT_MEMLOCK): raising above the hard limit needs CAP_SYS_RESOURCE (not modelled). */
  *sys_setrlimit_memlock(proc: string, bytes: bigint): KGen<number> {
    yield point('setrlimit');
    const p = this.proc(proc).p;
    if (p.mm && bytes >> 12n < BigInt(p.mm.locked_vm)) p.rlimitLowered = true;
    p.memlock = bytes;
    return 0;
  }

  /** capset(): set or clear one capability in the effective set (root can raise it back). */
  *sys_capset(proc: string, cap: Capability, on: boolean): KGen<number> {
    yield point('capset');
    const p = this.proc(proc).p;
    if (on) p.caps.add(cap);
    else p.caps.delete(cap);
    return 0;
  }

  /** exit(): the mm goes first (exit_mm), then every fd is closed (exit_files), as do_exit does. */
  *sys_exit(proc: string): KGen<number> {
    const pr = this.proc(proc);
    const mm = pr.p.mm;
    if (mm) {
      yield* mm.mmap_lock.down_write();
      mm.vmas = [];
      mm.locked_vm = 0;
      mm.alive = false;
      yield* mm.mmap_lock.up_write();
    }
    pr.p.mm = null;
    for (const fd of [...pr.fds.keys()].sort((a, b) => a - b)) yield* this.sys_close(proc, fd);
    pr.p.exited = true;
    return 0;
  }
}
