/**
 * Scenario operations for mediated devices: sysfs create/remove of instances, and the calls a
 * vendor driver makes (vfio_pin_pages, vfio_unpin_pages, vfio_dma_rw) on behalf of the device
 * behind a device fd, plus knobs of the sample drivers.
 */
import { EINVAL, ENODEV } from '../util/errno.js';
import { hex } from '../util/units.js';
import type { KGen } from '../kernel/sched.js';
import { point } from '../kernel/sched.js';
import { IOMMU_READ, IOMMU_WRITE, flagNames } from '../uapi/vfio.js';
import type { VfioDevice } from '../vfio/objects.js';
import type { Decoded } from '../scenario/fields.js';
import type { ExecCtx, OpDef, OpResult } from '../scenario/ops.js';
import { fdNum } from '../scenario/ops.js';
import { driverPin, driverRw, driverUnpin, pinState } from './drivers/pinning.js';
import { workload } from './drivers/vgpu.js';

const PROT: Readonly<Record<string, number>> = { READ: IOMMU_READ, WRITE: IOMMU_WRITE };

function deviceOf(ctx: ExecCtx, ref: unknown): VfioDevice | null {
  const f = ctx.sys.fileOf(ctx.proc, fdNum(ctx, ref));
  return f?.kind === 'device' ? f.d : null;
}

function* withDevice(ctx: ExecCtx, ref: unknown, body: (d: VfioDevice) => KGen<OpResult>): KGen<OpResult> {
  const d = deviceOf(ctx, ref);
  if (!d) {
    yield point('no device');
    return { ret: -ENODEV };
  }
  const r = yield* body(d);
  return { container: d.group.container, ...r };
}

const s = (a: Decoded, k: string): string => {
  const v = a[k];
  return typeof v === 'bigint' ? hex(v) : String(v);
};

const dev = { type: 'fd', required: true, doc: 'device fd (from VFIO_GROUP_GET_DEVICE_FD) of the mdev whose driver makes the call' } as const;

export const MDEV_OPS: Record<string, OpDef> = {
  mdev_create: {
    doc: 'echo <uuid> > <parent>/mdev_supported_types/<type>/create',
    fields: {
      parent: { type: 'string', required: true, doc: 'parent device name (host.mdev[].name)' },
      type: { type: 'string', required: true, doc: 'type name' },
      uuid: { type: 'string', required: true, doc: 'the string written (36 characters, plus an optional newline)' },
      name: { type: 'as', doc: 'label for the instance in later steps (default: the uuid)' },
    },
    kernel: true,
    *run(ctx, a) {
      const uuid = String(a.uuid);
      const ret = yield* ctx.sys.mdev.create_store(String(a.parent), String(a.type), uuid, String(a.name ?? uuid.trim()));
      return { ret: ret < 0 ? ret : 0 };
    },
    show: (a) => `write(${s(a, 'parent')}/mdev_supported_types/${s(a, 'type')}/create, ${JSON.stringify(s(a, 'uuid'))})`,
  },
  mdev_remove: {
    doc: 'echo 1 > /sys/bus/mdev/devices/<uuid>/remove (waits while the device is open)',
    fields: { mdev: { type: 'string', required: true, doc: 'uuid or label' }, value: { type: 'int', doc: 'value written (default 1; 0 does nothing)' } },
    kernel: true,
    *run(ctx, a) {
      const ret = yield* ctx.sys.mdev.remove_store(String(a.mdev), (a.value as number | undefined) ?? 1);
      return { ret: ret < 0 ? ret : 0 };
    },
    show: (a) => `write(/sys/bus/mdev/devices/${s(a, 'mdev')}/remove, "${a.value === undefined ? 1 : s(a, 'value')}")`,
  },
  mdev_unregister_parent: {
    doc: 'the parent driver unloads: mdev_unregister_parent() removes every instance',
    fields: { parent: { type: 'string', required: true, doc: 'parent device name' } },
    *run(ctx, a) {
      return { ret: yield* ctx.sys.mdev.mdev_unregister_parent(String(a.parent)) };
    },
    show: (a) => `mdev_unregister_parent(${s(a, 'parent')})`,
  },
  vfio_pin_pages: {
    doc: 'the vendor driver calls vfio_pin_pages(vdev, iova, npage, prot, pages): returns npage or -errno',
    fields: {
      device: dev,
      iova: { type: 'u64', required: true, doc: 'first IOVA (page aligned normally; unaligned is allowed and charged again)' },
      npage: { type: 'int', required: true, doc: 'pages (1..512)' },
      prot: { type: { flags: PROT }, doc: 'READ, WRITE (default both)' },
    },
    kernel: true,
    *run(ctx, a) {
      return yield* withDevice(ctx, a.device, function* (d) {
        const prot = (a.prot as number | undefined) ?? IOMMU_READ | IOMMU_WRITE;
        return { ret: yield* driverPin(ctx.sys.k, d, a.iova as bigint, a.npage as number, prot) };
      });
    },
    show: (a) => `vfio_pin_pages(${s(a, 'device')}, iova=${s(a, 'iova')}, npage=${s(a, 'npage')}, prot=${flagNames((a.prot as number | undefined) ?? 3, PROT)})`,
  },
  vfio_unpin_pages: {
    doc: 'the vendor driver calls vfio_unpin_pages(vdev, iova, npage) (void; misuse is a WARN)',
    fields: { device: dev, iova: { type: 'u64', required: true, doc: 'first IOVA' }, npage: { type: 'int', required: true, doc: 'pages' } },
    kernel: true,
    *run(ctx, a) {
      return yield* withDevice(ctx, a.device, function* (d) {
        yield* driverUnpin(ctx.sys.k, d, a.iova as bigint, a.npage as number);
        return { ret: 0 };
      });
    },
    show: (a) => `vfio_unpin_pages(${s(a, 'device')}, iova=${s(a, 'iova')}, npage=${s(a, 'npage')})`,
  },
  vfio_dma_rw: {
    doc: 'the vendor driver copies to/from guest memory at an IOVA without pinning (vfio_dma_rw)',
    fields: {
      device: dev,
      iova: { type: 'u64', required: true, doc: 'IOVA (any byte address)' },
      len: { type: 'size', required: true, doc: 'bytes' },
      write: { type: 'bool', doc: 'write to guest memory (default false: read)' },
    },
    kernel: true,
    *run(ctx, a) {
      return yield* withDevice(ctx, a.device, function* (d) {
        return { ret: yield* driverRw(ctx.sys.k, d, a.iova as bigint, a.len as bigint, a.write === true) };
      });
    },
    show: (a) => `vfio_dma_rw(${s(a, 'device')}, iova=${s(a, 'iova')}, len=${s(a, 'len')}, ${a.write === true ? 'write' : 'read'})`,
  },
  vendor_unmap_policy: {
    doc: 'how the sample driver answers dma_unmap: unpin (the contract), ignore the first N calls, never, or repin (unpin, then pin one page again in the first N calls); and whether close unpins',
    fields: {
      device: dev,
      policy: { type: { enum: ['unpin', 'ignore', 'never', 'repin'] }, required: true, doc: 'unpin | ignore | never | repin' },
      ignore: { type: 'int', doc: 'with policy ignore: how many calls to ignore; with repin: in how many calls to pin again' },
      unpin_on_close: { type: 'bool', doc: 'close_device unpins everything (default: unchanged)' },
      racy_record: { type: 'bool', doc: 'record pins after vfio_pin_pages returns, without the driver lock (the UNMAP vs pin race)' },
    },
    kernel: true,
    *run(ctx, a) {
      return yield* withDevice(ctx, a.device, function* (d) {
        yield point('vendor_unmap_policy');
        const st = pinState(d);
        const p = String(a.policy);
        if ((p === 'ignore' || p === 'repin') && a.ignore === undefined) return { ret: -EINVAL };
        st.policy = p === 'unpin' ? { kind: 'unpin' } : p === 'never' ? { kind: 'never' } : p === 'repin' ? { kind: 'repin', n: a.ignore as number } : { kind: 'ignore', n: a.ignore as number };
        st.ignored = 0;
        if (a.unpin_on_close !== undefined) st.unpinOnClose = a.unpin_on_close === true;
        if (a.racy_record !== undefined) st.racyRecord = a.racy_record === true;
        return { ret: 0 };
      });
    },
    show: (a) => `vendor_unmap_policy(${s(a, 'device')}, ${s(a, 'policy')}${a.ignore !== undefined ? ` ${s(a, 'ignore')}` : ''})`,
  },
  vgpu_workload: {
    doc: 'the vgpu pins a working set one page per call, then churns (unpin one, pin it again) like a shadow GTT',
    fields: {
      device: dev,
      iova: { type: 'u64', required: true, doc: 'first IOVA of the working set' },
      working_set: { type: 'int', required: true, doc: 'pages kept pinned' },
      churn: { type: 'int', doc: 'pin+unpin pairs after that (default 0)' },
    },
    *run(ctx, a) {
      return yield* withDevice(ctx, a.device, function* (d) {
        return { ret: yield* workload(ctx.sys.k, d, { iova: a.iova as bigint, workingSet: a.working_set as number, churn: (a.churn as number | undefined) ?? 0 }) };
      });
    },
    show: (a) => `vgpu_workload(${s(a, 'device')}, iova=${s(a, 'iova')}, working_set=${s(a, 'working_set')}, churn=${a.churn === undefined ? 0 : s(a, 'churn')})`,
  },
  vendor_state: {
    doc: 'what the sample driver recorded: pages it holds pinned, dma_unmap calls received and their [iova, size] ranges',
    fields: { device: dev },
    kernel: true,
    *run(ctx, a) {
      return yield* withDevice(ctx, a.device, function* (d) {
        yield point('vendor_state');
        const st = pinState(d);
        let held = 0;
        for (const n of st.pins.values()) held += n;
        return { ret: 0, fields: { driver_pins: held, dma_unmap_calls: st.dma_unmap_calls, dma_unmap_ranges: st.dma_unmap_ranges.map(([i, n]) => [i, n]) } };
      });
    },
    show: (a) => `vendor_state(${s(a, 'device')})`,
  },
};
