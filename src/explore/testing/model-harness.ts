/**
 * A harness over the real model (src/sys, src/vfio, src/type1), as the scenario layer will build
 * them: one process with a type1v2 container and a vfio-pci group, whose main thread maps and
 * unmaps a buffer for DMA while a second thread of the same process mlock()s and munlock()s
 * another one. Both charge the same `locked_vm` against one RLIMIT_MEMLOCK.
 */
import { getProfile } from '../../kernel/profile.js';
import type { ThreadRef } from '../../kernel/sched.js';
import { EXT, IOCTL } from '../../uapi/vfio.js';
import type { LockDomain } from '../../kernel/locks.js';
import { Mutex, RwSem } from '../../kernel/locks.js';
import { Sys } from '../../sys/system.js';
import { fingerprintOf } from '../fingerprint.js';
import type { Harness } from '../harness.js';

/**
 * Fields left out of the fingerprint: history (`current` thread, syscall return log `rets`) and
 * object numbers drawn from module-level counters (`id`, `gen`, and lock names built from them,
 * e.g. `vfio_iommu[3].lock`), which differ between executions for the same state.
 */
function ignored(key: string, holder: object): boolean {
  return key === 'current' || key === 'rets' || key === 'id' || key === 'gen' || (key === 'name' && (holder instanceof Mutex || holder instanceof RwSem));
}

const PAGE = 4096n;

export interface ModelWorld {
  readonly sys: Sys;
  readonly cfd: number;
  /** Page numbers of the two buffers. */
  readonly dmaBuf: number;
  readonly mlockBuf: number;
  readonly vcpu: ThreadRef;
  readonly limitPages: number;
  /** Return values of the syscalls, by thread and step. */
  readonly rets: number[];
}

export function mapVsMlockHarness(o: { dmaPages: number; mlockPages: number; limitPages: number }): Harness<ModelWorld> {
  return {
    name: `model-map-vs-mlock-${o.dmaPages}+${o.mlockPages}of${o.limitPages}`,
    setup(): ModelWorld {
      const profile = getProfile('6.1');
      if (profile === undefined) throw new Error('no 6.1 profile');
      const sys = Sys.create(profile, {
        processes: [{ name: 'qemu', memlock: BigInt(o.limitPages) * PAGE, caps: [] }],
        devices: [{ label: 'nic', bdf: '0000:01:00.0', group: 1, driver: 'vfio-pci', bars: [] }],
      });
      const cfd = sys.call('qemu', sys.sys_open_container('qemu'));
      const gfd = sys.call('qemu', sys.sys_open_group('qemu', 1));
      const ok = (r: number, what: string): void => {
        if (r < 0) throw new Error(`setup: ${what} = ${r}`);
      };
      ok(sys.call('qemu', sys.sys_ioctl('qemu', gfd, IOCTL.VFIO_GROUP_SET_CONTAINER, { kind: 'container', container: sys.containerArg('qemu', cfd) })), 'SET_CONTAINER');
      ok(sys.call('qemu', sys.sys_ioctl('qemu', cfd, IOCTL.VFIO_SET_IOMMU, { kind: 'ext', ext: EXT.VFIO_TYPE1v2_IOMMU })), 'SET_IOMMU');
      const buf = (npages: number, label: string): number =>
        sys.call('qemu', sys.sys_mmap_anon('qemu', npages, { read: true, write: true, backing: '4k', touch: true, contiguous: false, label }));
      const dmaBuf = buf(o.dmaPages, 'ram');
      const mlockBuf = buf(o.mlockPages, 'locked');
      const vcpu = sys.k.newThread(sys.proc('qemu').p.leader, 'qemu-vcpu');
      return { sys, cfd, dmaBuf, mlockBuf, vcpu, limitPages: o.limitPages, rets: [] };
    },
    lockDomain: (w): LockDomain => w.sys.k.locks,
    threads: (w) => [
      {
        name: 'qemu',
        thread: w.sys.proc('qemu').thread,
        stepNames: ['MAP_DMA', 'UNMAP_DMA'],
        steps: [
          function* map(w: ModelWorld) {
            const size = BigInt(o.dmaPages) * PAGE;
            w.rets.push(yield* w.sys.sys_ioctl('qemu', w.cfd, IOCTL.VFIO_IOMMU_MAP_DMA, { kind: 'map', argsz: 32, flags: 3, vaddr: BigInt(w.dmaBuf) * PAGE, iova: 0n, size }));
          },
          function* unmap(w: ModelWorld) {
            const out = { size: 0n };
            w.rets.push(yield* w.sys.sys_ioctl('qemu', w.cfd, IOCTL.VFIO_IOMMU_UNMAP_DMA, { kind: 'unmap', argsz: 24, flags: 0, iova: 0n, size: BigInt(o.dmaPages) * PAGE, out }));
          },
        ],
      },
      {
        name: 'vcpu',
        thread: w.vcpu,
        stepNames: ['mlock', 'munlock'],
        steps: [
          function* mlock(w: ModelWorld) {
            w.rets.push(yield* w.sys.sys_mlock('qemu', w.mlockBuf, o.mlockPages));
          },
          function* munlock(w: ModelWorld) {
            w.rets.push(yield* w.sys.sys_munlock('qemu', w.mlockBuf, o.mlockPages));
          },
        ],
      },
    ],
    invariants: [
      {
        name: 'locked_vm_within_limit',
        level: 'step',
        check: (w) => {
          const lv = w.sys.proc('qemu').p.mm?.locked_vm ?? 0;
          return lv <= w.limitPages ? null : `locked_vm ${lv} > limit ${w.limitPages}`;
        },
      },
      {
        name: 'locked_vm_released',
        level: 'end',
        check: (w) => {
          const lv = w.sys.proc('qemu').p.mm?.locked_vm ?? 0;
          return lv === 0 ? null : `locked_vm ${lv} after unmap and munlock`;
        },
      },
    ],
    stateKey: (w) => w.rets.join(','),
    fingerprint: (w) => fingerprintOf(w.sys, { ignore: ignored }),
  };
}
