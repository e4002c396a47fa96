/**
 * Builders for the speed benchmarks (bench/*.bench.ts and bench/report.ts): each sets a host up
 * through the public `Sys` API the way a VMM would, and returns the state plus the operation to
 * time. Nothing here asserts a time: figures go to BENCHMARKS.md.
 */
import { Sys } from '../src/sys/system.js';
import type { HostSpec } from '../src/sys/system.js';
import { PROFILES } from '../src/kernel/profile.js';
import { EXT, IOCTL, IOMMU_READ, IOMMU_WRITE } from '../src/uapi/vfio.js';
import type { Backing } from '../src/host/mm.js';
import type { VfioDevice } from '../src/vfio/objects.js';
import type { VfioIommu } from '../src/type1/vfio_iommu.js';
import { driverPin, driverUnpin } from '../src/mdev/drivers/pinning.js';
import { iovaOf, vfio_iommu_type1_pin_pages, vfio_iommu_type1_unpin_pages } from '../src/type1/external.js';
import { vfio_pin_pages, vfio_unpin_pages } from '../src/vfio/vendor_api.js';

export const P = 'qemu';
export const KiB = 1024n;
export const MiB = 1n << 20n;
export const GiB = 1n << 30n;
export const TiB = 1n << 40n;
/** Where guest RAM is mapped in IOVA space (above 4 GiB, as q35's high RAM). */
export const RAM_IOVA = 1n << 32n;
const PROT_RW = IOMMU_READ | IOMMU_WRITE;

export function pages(bytes: bigint): number {
  return Number(bytes >> 12n);
}

function host(extra: Partial<HostSpec> = {}): HostSpec {
  return {
    processes: [{ name: P, memlock: 1n << 62n, caps: [] }],
    devices: [{ label: 'gpu0', bdf: '0000:01:00.0', group: 12, driver: 'vfio-pci', bars: [] }],
    // a 1 TiB IOVA range needs more than the default 39-bit (512 GiB) aperture
    iommu: { apertureBits: 48 },
    ...extra,
  };
}

function mapArg(vaddr: bigint, iova: bigint, size: bigint) {
  return { kind: 'map' as const, argsz: 32, flags: 3, vaddr, iova, size };
}

function check(what: string, r: number): number {
  if (r < 0) throw new Error(`${what} failed: ${r}`);
  return r;
}

/** A container with one vfio-pci group (one IOMMU domain) and TYPE1v2 set, plus touched guest RAM. */
export interface PciContainer {
  sys: Sys;
  c: number;
  /** guest RAM, as a byte vaddr */
  ram: bigint;
  map(iova: bigint, vaddr: bigint, size: bigint): number;
  unmapAll(): { ret: number; size: bigint };
}

export function pciContainer(ramBytes: bigint, backing: Backing): PciContainer {
  const sys = Sys.create(PROFILES['6.1']!, host());
  const c = check('open container', sys.call(P, sys.sys_open_container(P)));
  const g = check('open group', sys.call(P, sys.sys_open_group(P, 12)));
  check('SET_CONTAINER', sys.call(P, sys.sys_ioctl(P, g, IOCTL.VFIO_GROUP_SET_CONTAINER, { kind: 'container', container: sys.containerArg(P, c) })));
  check('SET_IOMMU', sys.call(P, sys.sys_ioctl(P, c, IOCTL.VFIO_SET_IOMMU, { kind: 'ext', ext: EXT.VFIO_TYPE1v2_IOMMU })));
  const hb = check('mmap', sys.call(P, sys.sys_mmap_anon(P, pages(ramBytes), { read: true, write: true, backing, touch: true, contiguous: false, label: 'guest-ram' })));
  return {
    sys,
    c,
    ram: BigInt(hb) << 12n,
    map: (iova, vaddr, size) => sys.call(P, sys.sys_ioctl(P, c, IOCTL.VFIO_IOMMU_MAP_DMA, mapArg(vaddr, iova, size))),
    unmapAll: () => {
      const out = { size: -1n };
      const ret = sys.call(P, sys.sys_ioctl(P, c, IOCTL.VFIO_IOMMU_UNMAP_DMA, { kind: 'unmap', argsz: 24, flags: 2, iova: 0n, size: 0n, out }));
      return { ret, size: out.size };
    },
  };
}

/** One MAP_DMA of all of guest RAM (`size` bytes) into a one-domain container. */
export function mapWhole(size: bigint, backing: Backing): { pc: PciContainer; run: () => number } {
  const pc = pciContainer(size, backing);
  return { pc, run: () => check('MAP_DMA', pc.map(RAM_IOVA, pc.ram, size)) };
}

/** `n` separate 4 KiB MAP_DMAs (every other page of a 4K-backed buffer, so no two merge). */
export function manySmallMaps(n: number): { pc: PciContainer; mapAll: () => void } {
  const pc = pciContainer(BigInt(2 * n) << 12n, '4k');
  return {
    pc,
    mapAll: () => {
      for (let i = 0; i < n; i++) {
        const off = BigInt(2 * i) << 12n;
        check('MAP_DMA 4K', pc.map(RAM_IOVA + off, pc.ram + off, 4096n));
      }
    },
  };
}

/**
 * An mdev-only container (one vgpu instance, its emulated group, TYPE1v2, device open) with
 * guest RAM of `ramBytes` mapped at RAM_IOVA: MAP_DMA pins nothing, the vendor driver pins pages.
 */
export interface MdevContainer {
  sys: Sys;
  c: number;
  vdev: VfioDevice;
  iommu: VfioIommu;
  ramBytes: bigint;
}

export function mdevContainer(ramBytes: bigint, backing: Backing, withPci = false): MdevContainer {
  const sys = Sys.create(
    PROFILES['6.1']!,
    host({
      devices: withPci ? [{ label: 'hostdev0', bdf: '0000:01:00.0', group: 12, driver: 'vfio-pci', bars: [] }] : [],
      mdev: [{ name: 'vgpu-host', driver: 'vgpu', types: [{ name: 'vgpu', available_instances: 1, device_api: 'vfio-pci' }] }],
    }),
  );
  const uuid = '00000000-0000-4000-8000-000000000000';
  check('mdev create', sys.call(P, sys.mdev.create_store('vgpu-host', 'vgpu', uuid, 'vgpu0')));
  const vdev = sys.vdevs.get('vgpu0')!;
  const c = check('open container', sys.call(P, sys.sys_open_container(P)));
  const g = check('open group', sys.call(P, sys.sys_open_group(P, vdev.group.iommu_group.id)));
  check('SET_CONTAINER', sys.call(P, sys.sys_ioctl(P, g, IOCTL.VFIO_GROUP_SET_CONTAINER, { kind: 'container', container: sys.containerArg(P, c) })));
  check('SET_IOMMU', sys.call(P, sys.sys_ioctl(P, c, IOCTL.VFIO_SET_IOMMU, { kind: 'ext', ext: EXT.VFIO_TYPE1v2_IOMMU })));
  check('GET_DEVICE_FD', sys.call(P, sys.sys_get_device_fd(P, g, uuid)));
  const hb = check('mmap', sys.call(P, sys.sys_mmap_anon(P, pages(ramBytes), { read: true, write: true, backing, touch: true, contiguous: false, label: 'guest-ram' })));
  check('MAP_DMA', sys.call(P, sys.sys_ioctl(P, c, IOCTL.VFIO_IOMMU_MAP_DMA, mapArg(BigInt(hb) << 12n, RAM_IOVA, ramBytes))));
  const iommu = vdev.group.container!.iommu_data!;
  return { sys, c, vdev, iommu, ramBytes };
}

/** A deterministic spread of single pages across guest RAM (multiplicative hashing, no repeats). */
export function spreadPages(n: number, ramPages: number): Float64Array {
  const out = new Float64Array(n);
  // an odd multiplier mod a power of two is a bijection; ramPages is a power of two here
  for (let i = 0; i < n; i++) out[i] = (i * 2654435761) % ramPages;
  return out;
}

/**
 * Pin `n` distinct single pages spread across guest RAM, as the vendor driver does
 * (driverPin, one page per call). Returns the IOVAs pinned.
 */
export function vendorPins(m: MdevContainer, n: number): bigint[] {
  const ramPages = pages(m.ramBytes);
  const idx = spreadPages(n, ramPages);
  const out: bigint[] = [];
  for (let i = 0; i < n; i++) {
    const iova = RAM_IOVA + (BigInt(idx[i]!) << 12n);
    check('driverPin', m.sys.call(P, () => driverPin(m.sys.k, m.vdev, iovaOf(iova), 1, PROT_RW)));
    out.push(iova);
  }
  return out;
}

/**
 * vGPU churn: `pairs` x (pin one page, unpin it) cycling through `slots` page positions spread
 * across guest RAM, one `sys.call` for each pin and each unpin:
 *   - 'type1': straight into type1 (vfio_iommu_type1_pin_pages / unpin_pages);
 *   - 'api': through vfio core's vendor API (vfio_pin_pages / vfio_unpin_pages), as a driver calls it;
 *   - 'driver': through the sample driver (driverPin / driverUnpin: its lock and its own pin record too).
 */
export type ChurnVia = 'type1' | 'api' | 'driver';
export function churn(m: MdevContainer, pairs: number, slots: number, via: ChurnVia): void {
  const ramPages = pages(m.ramBytes);
  const idx = spreadPages(slots, ramPages);
  const iovas = Array.from(idx, (p) => iovaOf(RAM_IOVA + (BigInt(p) << 12n)));
  const { sys, vdev, iommu } = m;
  const k = sys.k;
  const g = vdev.group.iommu_group;
  const pinned: number[] = [0]; // the caller's struct page *pages[1]
  for (let i = 0, s = 0; i < pairs; i++) {
    const a = iovas[s]!;
    if (via === 'type1') {
      if (sys.call(P, () => vfio_iommu_type1_pin_pages(k, iommu, g, a, 1, PROT_RW, pinned)) !== 1) throw new Error('pin failed');
      sys.call(P, () => vfio_iommu_type1_unpin_pages(k, iommu, a, 1));
    } else if (via === 'api') {
      if (sys.call(P, () => vfio_pin_pages(k, vdev, a, 1, PROT_RW, pinned)) !== 1) throw new Error('pin failed');
      sys.call(P, () => vfio_unpin_pages(k, vdev, a, 1));
    } else {
      if (sys.call(P, () => driverPin(k, vdev, a, 1, PROT_RW)) !== 1) throw new Error('pin failed');
      sys.call(P, () => driverUnpin(k, vdev, a, 1));
    }
    if (++s === slots) s = 0;
  }
}

/**
 * The hot-plug case: an mdev container with `ramBytes` mapped and `npins` vendor pins, plus a
 * vfio-pci group opened but not yet attached. `run` is its VFIO_GROUP_SET_CONTAINER, which
 * creates the first IOMMU domain and replays (pins and maps) all of guest RAM.
 */
export function hotplug(ramBytes: bigint, backing: Backing, npins: number): { m: MdevContainer; run: () => number; unplug: () => number } {
  const m = mdevContainer(ramBytes, backing, true);
  vendorPins(m, npins);
  const { sys } = m;
  const g = check('open pci group', sys.call(P, sys.sys_open_group(P, 12)));
  return {
    m,
    run: () => check('hot-plug SET_CONTAINER', sys.call(P, sys.sys_ioctl(P, g, IOCTL.VFIO_GROUP_SET_CONTAINER, { kind: 'container', container: sys.containerArg(P, m.c) }))),
    // UNSET_CONTAINER: the last IOMMU domain goes, the mapping is unpinned and re-accounted
    unplug: () => check('UNSET_CONTAINER', sys.call(P, sys.sys_ioctl(P, g, IOCTL.VFIO_GROUP_UNSET_CONTAINER, { kind: 'none' }))),
  };
}
