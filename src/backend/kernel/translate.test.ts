import { describe, expect, it } from 'vitest';
import { parseScenario } from '../../scenario/load.js';
import { encodeScript, type StepResult } from './script.js';
import { bitmapRanges, decodeFields, recordsFromResults, slotUuid, translateScenario } from './translate.js';

const passthrough = `
name: t
host:
  processes: [{ name: qemu, memlock: 64M }]
  devices: [{ name: gpu0, group: 12 }]
steps:
  - open_container: { as: c }
  - open_group: { group: 12, as: g }
  - VFIO_GROUP_SET_CONTAINER: { fd: g, container: c }
  - VFIO_SET_IOMMU: { fd: c, type: VFIO_TYPE1v2_IOMMU }
  - mmap: { as: buf, size: 64K }
  - VFIO_IOMMU_MAP_DMA: { fd: c, flags: [READ, WRITE], vaddr: buf+4K, iova: 0x10000, size: 8K }
    expect: { VmLck: 8, pinned: 2 }
  - inspect: { fd: c }
  - VFIO_IOMMU_UNMAP_DMA: { fd: c, iova: 0x10000, size: 8K }
    expect: { size: 8K }
`;

function res(i: number, op: string, ret: number, fields: Record<string, string> = {}, vmlckKb = 0, errno = 0): StepResult {
  return { i, line: i + 1, op, ret, errno, errname: '', fields, vmlckKb, ms: 1, klog: [] };
}

describe('translateScenario', () => {
  it('maps fds, buffers, the passthrough group, limits and capabilities', () => {
    const t = translateScenario(parseScenario(passthrough, 'p.yaml'));
    expect(t.unsupported).toEqual([]);
    const text = encodeScript(t.steps).replace(/ # .*$/gm, '');
    expect(text.split('\n').slice(0, 10)).toEqual([
      'setrlimit memlock=0x4000000',
      'cap ipc_lock=drop',
      'container_open as=c',
      'group_open as=g role=edu',
      'group_set_container group=g container=c',
      'set_iommu container=c type=0x3',
      'mmap as=_guard5 size=0x10000 prot=NONE touch=0x0',
      'mmap as=buf size=0x10000 prot=RW touch=0x1',
      'map_dma container=c vaddr=buf+0x1000 iova=0x10000 size=0x2000 flags=0x3 argsz=0x20',
      'unmap_dma container=c iova=0x10000 size=0x2000 flags=0x0 argsz=0x18',
    ]);
    expect(t.map[6]!.skipped).toMatch(/model-only/);
    expect(t.map[7]!.runner).toBe(9);
  });

  it('maps results back into StepRecords and checks the observable expectations', () => {
    const t = translateScenario(parseScenario(passthrough, 'p.yaml'));
    const rs = [res(0, 'setrlimit', 0), res(1, 'cap', 0), res(2, 'container_open', 0, { fd: '5' }), res(3, 'group_open', 0, { fd: '6' }), res(4, 'x', 0), res(5, 'x', 0), res(6, 'mmap', 0), res(7, 'mmap', 0, { addr: '0x7f0000000000' }), res(8, 'map_dma', 0, {}, 8), res(9, 'unmap_dma', 0, { size: '0x2000', flags: '0x0' }, 0)];
    const recs = recordsFromResults(t, rs);
    expect(recs).toHaveLength(8);
    expect(recs[0]!.ret).toBe(5);
    expect(recs[5]!.counters).toMatchObject({ VmLck: 8, locked_vm: 2 });
    expect(recs[5]!.failures).toEqual([]);
    expect(recs[5]!.unobservable).toEqual(['pinned']);
    expect(recs[6]!.notRun).toBe(true);
    expect(recs[7]!.fields.size).toBe(0x2000n);
    expect(recs[7]!.failures).toEqual([]);
  });

  it('reports a hung step as fatal and later steps as not run', () => {
    const t = translateScenario(parseScenario(passthrough, 'p.yaml'));
    const rs = [res(0, 'setrlimit', 0), res(1, 'cap', 0), { ...res(2, 'container_open', 0), hung: true, klog: ['kernel BUG at drivers/vfio/vfio_iommu_type1.c:1481!'] }];
    const recs = recordsFromResults(t, rs);
    expect(recs[0]!.fatal).toMatch(/kernel BUG at/);
    expect(recs[1]!.notRun).toBe(true);
  });

  it('says clearly what it cannot translate, with file:line', () => {
    const two = passthrough.replace('devices: [{ name: gpu0, group: 12 }]', 'devices: [{ name: gpu0, group: 12 }, { name: nic0, group: 13 }]');
    expect(translateScenario(parseScenario(two, 'two.yaml')).unsupported).toEqual(['unsupported on the kernel backend: 2 passthrough devices (the guest has one IOMMU-backed group: edu) (two.yaml:1)']);
    const prof = passthrough.replace('host:', 'kernel: { profile: "4.10" }\nhost:');
    expect(translateScenario(parseScenario(prof, 'p.yaml')).unsupported[0]).toMatch(/profile 4\.10/);
  });

  it('maps mdev instances to mdev0, mdev1 in creation order, helpers to proc_fork, caps and params', () => {
    const sc = parseScenario(
      `
name: m
kernel: { params: { dma_entry_limit: 3 } }
host:
  processes: [{ name: qemu, memlock: unlimited, caps: [CAP_IPC_LOCK] }, { name: helper, memlock: 8K }]
  mdev:
    - { name: vgpu-host, driver: vgpu, types: [{ name: small }] }
steps:
  - mdev_create: { parent: vgpu-host, type: small, uuid: "11111111-2222-4333-8444-555555555555", name: v0 }
  - mdev_create: { parent: vgpu-host, type: small, uuid: "22222222-2222-4333-8444-555555555555", name: v1 }
  - mdev_create: { parent: vgpu-host, type: small, uuid: "22222222-2222-4333-8444-555555555555" }
    expect: { errno: EEXIST }
  - open_container: { as: c }
  - open_group: { group: v1, as: gm }
  - VFIO_GROUP_GET_DEVICE_FD: { fd: gm, name: v1, as: vd }
  - share_fd: { fd: c, to: helper, as: hc }
  - VFIO_IOMMU_UNMAP_DMA: { fd: hc, flags: [ALL] }
    process: helper
  - vfio_pin_pages: { device: vd, iova: 0, npage: 1 }
    expect: { errno: EINVAL }
`,
      'm.yaml',
    );
    const t = translateScenario(sc);
    expect(t.unsupported).toEqual([]);
    expect(t.type1Params).toEqual({ dma_entry_limit: 3 });
    expect(t.mdevs).toBe(2);
    const text = encodeScript(t.steps).replace(/ # .*$/gm, '');
    expect(text).toContain('setrlimit memlock=inf\ncap ipc_lock=raise\n');
    expect(text).toContain(`sysfs path=/sys/devices/platform/vfiolab_mdev/mdev_supported_types/platform-a/create value=${slotUuid(1)}`);
    expect(text).toContain('group_open as=gm role=mdev1');
    expect(text).toContain('group_get_device_fd group=gm as=vd\n');
    expect(text).toContain('proc_fork as=helper\nclose fd=gm on=helper\nclose fd=vd on=helper\nsetrlimit memlock=0x2000 on=helper\ncap ipc_lock=drop on=helper\n');
    expect(text).toContain('unmap_dma container=c iova=0x0 size=0x0 flags=0x2 argsz=0x18 on=helper');
    expect(text).toContain('pin dev=vd iova=0x0 npage=0x1 prot=0x3');
  });
});

describe('result decoding', () => {
  it('decodes bitmaps into dirty page ranges', () => {
    expect(bitmapRanges('ffff000000000000')).toEqual([[0, 16]]);
    expect(bitmapRanges('0103')).toEqual([[0, 1], [8, 10]]);
    expect(bitmapRanges('')).toEqual([]);
  });
  it('decodes GET_INFO capabilities in chain order', () => {
    const f = decodeFields('VFIO_IOMMU_GET_INFO', res(0, 'get_info', 0, { argsz: '0x1000', flags: '0x3', iova_pgsizes: '0x40201000', cap_offset: '0x18', migration_flags: '0x0', migration_pgsize_bitmap: '0x1000', max_dirty_bitmap_size: '0x10000000', dma_avail: '0xffff', iova_ranges: '0x0-0xfedfffff', caps: '2.v1,3.v1,1.v1' }));
    expect(f).toEqual({
      argsz: 4096,
      flags: 3,
      iova_pgsizes: 0x40201000n,
      cap_offset: 24,
      caps: [
        { id: 'MIGRATION', flags: 0, pgsize_bitmap: 0x1000n, max_dirty_bitmap_size: 0x10000000n },
        { id: 'DMA_AVAIL', avail: 65535 },
        { id: 'IOVA_RANGE', iova_ranges: [{ start: 0n, end: 0xfedfffffn }] },
      ],
    });
  });
});
