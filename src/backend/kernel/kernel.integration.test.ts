/**
 * Boots the real Debian 6.1 kernel under QEMU and runs one small script.
 * Skipped unless `vfiolab setup kernel` (setupKernel) has prepared the cache
 * (VFIOLAB_CACHE or ~/.cache/vfiolab) and QEMU is installed.
 */
import { describe, expect, it } from 'vitest';
import { findBusybox, which } from './config.js';
import { kernelReadiness } from './doctor.js';
import { boot } from './qemu.js';
import { encodeScript, fieldNum } from './script.js';

const ready = kernelReadiness('6.1').ready && !!which('qemu-system-x86_64') && !!which('cpio') && !!findBusybox();

describe('real kernel 6.1 (QEMU)', () => {
  it.skipIf(!ready)(
    'maps 1 MiB (+1024 kB), pins through the mdev driver and sees the dma_unmap callback',
    async () => {
      const passthrough = encodeScript([
        { op: 'container_open', args: { as: 'c' } },
        { op: 'group_open', args: { as: 'g', role: 'edu' } },
        { op: 'group_set_container', args: { group: 'g', container: 'c' } },
        { op: 'set_iommu', args: { container: 'c', type: 'TYPE1v2' } },
        { op: 'mmap', args: { as: 'b', size: 1 << 20 } },
        { op: 'map_dma', args: { container: 'c', vaddr: 'b', iova: 0x100000, size: 1 << 20 } },
        { op: 'map_dma', args: { container: 'c', vaddr: 'b', iova: 0x100000, size: 1 << 20 } },
        { op: 'get_info', args: { container: 'c' } },
      ]);
      const mdev = encodeScript([
        { op: 'container_open', args: { as: 'c' } },
        { op: 'group_open', args: { as: 'm', role: 'mdev0' } },
        { op: 'group_set_container', args: { group: 'm', container: 'c' } },
        { op: 'set_iommu', args: { container: 'c', type: 'TYPE1v2' } },
        { op: 'group_get_device_fd', args: { group: 'm', as: 'd' } },
        { op: 'mmap', args: { as: 'b', size: 64 * 1024 } },
        { op: 'map_dma', args: { container: 'c', vaddr: 'b', iova: 0x100000, size: 64 * 1024 } },
        { op: 'pin', args: { dev: 'd', iova: 0x100000, npage: 4 } },
        { op: 'unmap_dma', args: { container: 'c', iova: 0x100000, size: 64 * 1024 } },
        { op: 'query', args: { dev: 'd' } },
      ]);
      const r = await boot('6.1', [passthrough, mdev], { stepTimeoutMs: 20_000 });
      expect(r.output.ended).toBe(true);
      const [p, m] = r.results;
      expect(p!.map((s) => s.ret)).toEqual([0, 0, 0, 0, 0, 0, -1, 0]);
      expect(p![5]!.vmlckKb).toBe(1024);
      expect(p![6]!.errname).toBe('EEXIST');
      expect(p![7]!.fields.iova_pgsizes).toBe('0x40201000');
      expect(fieldNum(p![7]!.fields, 'dma_avail')).toBe(65534);
      expect(m![7]).toMatchObject({ ret: 4, vmlckKb: 16 });
      expect(m![8]).toMatchObject({ ret: 0, vmlckKb: 0 });
      expect(m![8]!.fields.size).toBe('0x10000');
      expect(m![9]!.fields.unmap_calls).toBe('1');
    },
    180_000,
  );
});
