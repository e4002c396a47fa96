/**
 * Scenario files on the real 6.1 kernel (QEMU) against the model: translated, run in one boot,
 * mapped back and compared step by step. Skipped unless `vfiolab setup kernel` has run.
 */
import { describe, expect, it } from 'vitest';
import { parseScenario } from '../../scenario/load.js';
import { findBusybox, which } from './config.js';
import { compareScenario, runModelFor, runScenariosOnKernel } from './conformance.js';
import { kernelReadiness } from './doctor.js';

const ready = kernelReadiness('6.1').ready && !!which('qemu-system-x86_64') && !!which('cpio') && !!findBusybox();

const rlimit = `
name: map under a small RLIMIT_MEMLOCK without CAP_IPC_LOCK
host:
  processes: [{ name: qemu, memlock: 64K }]
  devices: [{ name: gpu0, group: 12 }]
steps:
  - open_container: { as: c }
  - open_group: { group: 12, as: g }
  - VFIO_GROUP_SET_CONTAINER: { fd: g, container: c }
  - VFIO_SET_IOMMU: { fd: c, type: VFIO_TYPE1v2_IOMMU }
  - mmap: { as: buf, size: 128K }
  - VFIO_IOMMU_MAP_DMA: { fd: c, flags: [READ, WRITE], vaddr: buf, iova: 0x100000, size: 64K }
    expect: { VmLck: 64 }
  - VFIO_IOMMU_MAP_DMA: { fd: c, flags: [READ, WRITE], vaddr: buf+64K, iova: 0x200000, size: 4K }
    expect: { errno: ENOMEM, VmLck: 64, klog: ["RLIMIT_MEMLOCK (65536) exceeded"] }
  - VFIO_IOMMU_UNMAP_DMA: { fd: c, iova: 0x100000, size: 64K }
    expect: { size: 64K, VmLck: 0 }
  - VFIO_IOMMU_GET_INFO: { fd: c }
`;

const mdev = `
name: mdev pins are charged once per page and unmapped through dma_unmap
host:
  processes: [{ name: qemu, memlock: 64M }]
  mdev:
    - { name: vgpu-host, driver: vgpu, types: [{ name: small }] }
steps:
  - mdev_create: { parent: vgpu-host, type: small, uuid: "11111111-2222-4333-8444-555555555555", name: vgpu0 }
  - open_container: { as: c }
  - open_group: { group: vgpu0, as: gm }
  - VFIO_GROUP_SET_CONTAINER: { fd: gm, container: c }
  - VFIO_SET_IOMMU: { fd: c, type: VFIO_TYPE1v2_IOMMU }
  - VFIO_GROUP_GET_DEVICE_FD: { fd: gm, name: vgpu0, as: vd }
  - mmap: { as: ram, size: 64K }
  - VFIO_IOMMU_MAP_DMA: { fd: c, flags: [READ, WRITE], vaddr: ram, iova: 0x0, size: 64K }
    expect: { VmLck: 0 }
  - vfio_pin_pages: { device: vd, iova: 0x0, npage: 4 }
    expect: { ret: 4, VmLck: 16 }
  - vfio_pin_pages: { device: vd, iova: 0x0, npage: 4 }
    expect: { ret: 4, VmLck: 16 }
  - vfio_pin_pages: { device: vd, iova: 0x0, npage: 513 }
    expect: { errno: E2BIG }
  - VFIO_IOMMU_UNMAP_DMA: { fd: c, iova: 0x0, size: 64K }
    expect: { size: 64K, VmLck: 0 }
  - vendor_state: { device: vd }
    expect: { driver_pins: 0, dma_unmap_calls: 1 }
`;

const twoProcs = `
name: a second process sharing the container fd unmaps the owner's mapping
host:
  processes: [{ name: qemu, memlock: 64M }, { name: helper, memlock: 64M }]
  devices: [{ name: gpu0, group: 12 }]
steps:
  - open_container: { as: c }
  - open_group: { group: 12, as: g }
  - VFIO_GROUP_SET_CONTAINER: { fd: g, container: c }
  - VFIO_SET_IOMMU: { fd: c, type: VFIO_TYPE1v2_IOMMU }
  - mmap: { as: buf, size: 64K }
  - VFIO_IOMMU_MAP_DMA: { fd: c, flags: [READ, WRITE], vaddr: buf, iova: 0x100000, size: 64K }
    expect: { VmLck: 64 }
  - share_fd: { fd: c, to: helper, as: hc }
  - VFIO_IOMMU_UNMAP_DMA: { fd: hc, iova: 0x100000, size: 64K }
    process: helper
    expect: { size: 0x10000, VmLck: 0 }
  - VFIO_IOMMU_UNMAP_DMA: { fd: c, flags: [ALL] }
    expect: { size: 0, VmLck: 0 }
`;

describe('scenarios on the real 6.1 kernel vs the model', () => {
  it.skipIf(!ready)(
    'agree step by step and meet their expectations',
    async () => {
      const scs = [parseScenario(rlimit, 'rlimit.yaml'), parseScenario(mdev, 'mdev.yaml'), parseScenario(twoProcs, 'two.yaml')];
      const ks = await runScenariosOnKernel('6.1', scs);
      for (const [j, sc] of scs.entries()) {
        const k = ks[j]!;
        expect(k.unsupported).toBeUndefined();
        expect(k.bootError).toBeUndefined();
        expect(k.steps.flatMap((s) => s.failures)).toEqual([]);
        expect(compareScenario(runModelFor('6.1', sc), k)).toEqual([]);
      }
      expect(ks[0]!.steps[6]!.klog.join('\n')).toContain('RLIMIT_MEMLOCK (65536) exceeded');
    },
    300_000,
  );
});
