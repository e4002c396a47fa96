/**
 * Scenario operations for mediated devices: sysfs create/remove of instances, and the calls a
 * vendor driver makes (vfio_pin_pages, vfio_unpin_pages, vfio_dma_rw) on behalf of the device
 * behind a device fd, plus knobs of the sample drivers.
 */
import { iovaOf } from '../type1/external.js';
import { EINVAL, ENODEV } from '../util/errno.js';
import { hex } from '../util/units.js';
import type { KGen } from '../kernel/sched.js';
import { point } from '../kernel/sched.js';
import {
  IOMMU_READ,
  IOMMU_WRITE,
  flagNames,
  VFIO_GROUP_NOTIFY,
  VFIO_GROUP_NOTIFY_SET_KVM,
  VFIO_IOMMU_NOTIFY,
  VFIO_IOMMU_NOTIFY_DMA_UNMAP,
  VFIO_PIN_PAGES_MAX_ENTRIES,
} from '../uapi/vfio.js';
import type { VfioDevice } from '../vfio/objects.js';
import type { Decoded } from '../scenario/fields.js';
import type { ExecCtx, OpDef, OpResult } from '../scenario/ops.js';
import { fdNum } from '../scenario/ops.js';
import { driverGroupNotifier, driverNotifier, driverPin, driverPinPfns, driverRw, driverUnpin, driverUnpinPfns, pinState } from './drivers/pinning.js';
import { vfio_register_notifier, vfio_unregister_notifier } from '../vfio/vendor_api.js';
import { FieldError } from '../scenario/errors.js';
import type { FieldSpec } from '../scenario/fields.js';
import type { KernelProfile } from '../kernel/profile.js';
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

// ---- the pin API forms and the notifier API (4.10-5.18) -------------------------------------

function userPfns(a: Decoded): number[] {
  return (a.user_pfn as bigint[]).map((x) => Number(x));
}

function pinArgs(a: Decoded): string {
  if (a.user_pfn === undefined) return `iova=${s(a, 'iova')}, npage=${s(a, 'npage')}`;
  const l = (a.user_pfn as bigint[]).map((x) => hex(x));
  return `user_pfn=[${l.length > 8 ? [...l.slice(0, 8), `... ${l.length} entries`].join(', ') : l.join(', ')}], npage=${a.npage === undefined ? l.length : s(a, 'npage')}`;
}

/**
 * vfio_pin_pages / vfio_unpin_pages take either iova + npage or a user_pfn list. The list is the
 * 4.10-5.18 API only; there an iova + npage step is the list of its pages, so it must be page
 * aligned. A list shorter than npage (up to the 512 entries the kernel reads) would be read past.
 */
function pinFormCheck(a: Decoded, p: KernelProfile, op: string): FieldError | null {
  if (a.user_pfn !== undefined) {
    if (a.iova !== undefined) return new FieldError(['iova'], 'give either iova (with npage) or user_pfn, not both');
    if (!p.pinApiUserPfn) return new FieldError(['user_pfn'], `a user_pfn list is the 4.10-5.18 ${op} API (profile switch pinApiUserPfn); profile ${p.name} takes a contiguous range: give iova and npage`);
    const n = (a.user_pfn as bigint[]).length;
    const npage = a.npage as number | undefined;
    if (npage !== undefined && npage > n && npage <= VFIO_PIN_PAGES_MAX_ENTRIES) return new FieldError(['npage'], `npage ${npage} is more than the ${n} entries of user_pfn: the kernel would read past the array`);
    for (const [i, x] of (a.user_pfn as bigint[]).entries()) if (x >= 1n << 52n) return new FieldError(['user_pfn', i], `${hex(x)} is not an IOVA page number (IOVA >> 12 is below 2^52)`);
    return null;
  }
  if (a.iova === undefined) return new FieldError([], 'missing iova (with npage) or user_pfn');
  if (a.npage === undefined) return new FieldError([], 'missing required field "npage" (pages)');
  if (p.pinApiUserPfn && (a.iova as bigint) & 0xfffn) return new FieldError(['iova'], `IOVA ${hex(a.iova as bigint)} is not page aligned: the ${op} API of profile ${p.name} takes IOVA page numbers (user_pfn), which cannot express it`);
  return null;
}

const NOTIFY_TYPES: Readonly<Record<string, number>> = { VFIO_IOMMU_NOTIFY, VFIO_GROUP_NOTIFY };
const NOTIFY_EVENTS: Readonly<Record<string, number>> = { DMA_UNMAP: VFIO_IOMMU_NOTIFY_DMA_UNMAP, SET_KVM: VFIO_GROUP_NOTIFY_SET_KVM };

function notifierFields(register: boolean): Record<string, FieldSpec> {
  const f: Record<string, FieldSpec> = {
    device: { type: 'fd', doc: 'device fd of the mdev whose driver makes the call (or give mdev)' },
    mdev: { type: 'string', doc: 'the device (an mdev label, or a passthrough device label) whose driver makes the call without an open device fd' },
    type: { type: 'string', doc: 'VFIO_IOMMU_NOTIFY (default) or VFIO_GROUP_NOTIFY, or a number (an unknown type is EINVAL)' },
  };
  if (register) f.events = { type: { flags: NOTIFY_EVENTS }, doc: 'required events: DMA_UNMAP (default for the IOMMU type), SET_KVM (default for the group type), or a number (0 and unknown bits are EINVAL)' };
  return f;
}

function notifyType(a: Decoded): number | null {
  const t = a.type as string | undefined;
  if (t === undefined) return VFIO_IOMMU_NOTIFY;
  if (t in NOTIFY_TYPES) return NOTIFY_TYPES[t]!;
  return /^(0x[0-9a-f]+|[0-9]+)$/i.test(t) ? Number(t) : null;
}

function notifierCheck(a: Decoded, p: KernelProfile, op: string): FieldError | null {
  if (!p.dmaUnmapNotifier) return new FieldError([], `${op} is the 4.10-5.18 API (profile switch dmaUnmapNotifier); on profile ${p.name} drivers are told of unmaps through vfio_device_ops.dma_unmap`);
  if ((a.device === undefined) === (a.mdev === undefined)) return new FieldError([], 'give either device (an fd) or mdev (a label)');
  if (notifyType(a) === null) return new FieldError(['type'], `expected VFIO_IOMMU_NOTIFY, VFIO_GROUP_NOTIFY or a number, got ${JSON.stringify(a.type)}`);
  return null;
}

function notifierDev(a: Decoded): string {
  return a.mdev !== undefined ? `mdev ${s(a, 'mdev')}` : s(a, 'device');
}

function notifierType(a: Decoded): string {
  const t = notifyType(a) ?? -1;
  return Object.entries(NOTIFY_TYPES).find(([, v]) => v === t)?.[0] ?? String(t);
}

/** The device whose driver calls: an open device fd, or a device by label; -ENODEV without one. */
function* withNotifierDevice(ctx: ExecCtx, a: Decoded, body: (d: VfioDevice, type: number) => KGen<OpResult>): KGen<OpResult> {
  const d = a.mdev !== undefined ? ctx.sys.vdevs.get(String(a.mdev)) : deviceOf(ctx, a.device);
  if (!d) {
    yield point('no device');
    return { ret: -ENODEV };
  }
  const r = yield* body(d, notifyType(a)!);
  return { container: d.group.container, ...r };
}

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
    doc: 'the vendor driver calls vfio_pin_pages: (vdev, iova, npage, prot, pages) from 6.0, (dev, user_pfn[], npage, prot, phys_pfn[]) on 4.10-5.18 profiles; returns npage or -errno',
    fields: {
      device: dev,
      iova: { type: 'u64', doc: 'first IOVA of a contiguous range (page aligned normally; unaligned is allowed on 6.x and charged again)' },
      npage: { type: 'int', doc: 'pages (1..512); with user_pfn: default the list length' },
      user_pfn: { type: { list: 'u64' }, doc: '4.10-5.18 profiles (switch pinApiUserPfn): IOVA page numbers (IOVA >> 12), in any order, instead of iova' },
      prot: { type: { flags: PROT }, doc: 'READ, WRITE (default both)' },
    },
    kernel: true,
    check: (a, p) => pinFormCheck(a, p, 'vfio_pin_pages'),
    *run(ctx, a) {
      return yield* withDevice(ctx, a.device, function* (d) {
        const prot = (a.prot as number | undefined) ?? IOMMU_READ | IOMMU_WRITE;
        if (a.user_pfn !== undefined) {
          const pfns = userPfns(a);
          const phys_pfn: number[] = pfns.map(() => 0);
          const ret = yield* driverPinPfns(ctx.sys.k, d, pfns, (a.npage as number | undefined) ?? pfns.length, prot, phys_pfn);
          return { ret, fields: { phys_pfn: phys_pfn.slice(0, pfns.length) } };
        }
        return { ret: yield* driverPin(ctx.sys.k, d, iovaOf(a.iova as bigint), a.npage as number, prot) };
      });
    },
    show: (a) => `vfio_pin_pages(${s(a, 'device')}, ${pinArgs(a)}, prot=${flagNames((a.prot as number | undefined) ?? 3, PROT)})`,
  },
  vfio_unpin_pages: {
    doc: 'the vendor driver calls vfio_unpin_pages: (vdev, iova, npage), void, misuse is a WARN (6.0+); (dev, user_pfn[], npage) returning an int on 4.10-5.18 profiles',
    fields: {
      device: dev,
      iova: { type: 'u64', doc: 'first IOVA of a contiguous range' },
      npage: { type: 'int', doc: 'pages; with user_pfn: default the list length' },
      user_pfn: { type: { list: 'u64' }, doc: '4.10-5.18 profiles (switch pinApiUserPfn): IOVA page numbers, in any order, instead of iova' },
    },
    kernel: true,
    check: (a, p) => pinFormCheck(a, p, 'vfio_unpin_pages'),
    *run(ctx, a) {
      return yield* withDevice(ctx, a.device, function* (d) {
        if (a.user_pfn !== undefined) {
          const pfns = userPfns(a);
          return { ret: yield* driverUnpinPfns(ctx.sys.k, d, pfns, (a.npage as number | undefined) ?? pfns.length) };
        }
        return { ret: yield* driverUnpin(ctx.sys.k, d, iovaOf(a.iova as bigint), a.npage as number) };
      });
    },
    show: (a) => `vfio_unpin_pages(${s(a, 'device')}, ${pinArgs(a)})`,
  },
  vfio_register_notifier: {
    doc: '4.10-5.18 profiles (switch dmaUnmapNotifier): the vendor driver calls vfio_register_notifier(dev, type, &events, nb) with its own notifier_block (the sample drivers with a DMA-unmap handler already do at open)',
    fields: notifierFields(true),
    check: (a, p) => notifierCheck(a, p, 'vfio_register_notifier'),
    *run(ctx, a) {
      return yield* withNotifierDevice(ctx, a, function* (d, type) {
        const nb = type === VFIO_GROUP_NOTIFY ? driverGroupNotifier(d) : driverNotifier(d);
        const events = (a.events as number | undefined) ?? (type === VFIO_GROUP_NOTIFY ? VFIO_GROUP_NOTIFY_SET_KVM : VFIO_IOMMU_NOTIFY_DMA_UNMAP);
        const ret = yield* vfio_register_notifier(ctx.sys.k, d, type, events, nb);
        if (ret === 0 && type === VFIO_IOMMU_NOTIFY) pinState(d).nbRegistered = true;
        return { ret };
      });
    },
    show: (a) => `vfio_register_notifier(${notifierDev(a)}, ${notifierType(a)}, events=${a.events === undefined ? 'default' : hex(BigInt(a.events as number))})`,
  },
  vfio_unregister_notifier: {
    doc: '4.10-5.18 profiles (switch dmaUnmapNotifier): the vendor driver calls vfio_unregister_notifier(dev, type, nb) for its own notifier_block',
    fields: notifierFields(false),
    check: (a, p) => notifierCheck(a, p, 'vfio_unregister_notifier'),
    *run(ctx, a) {
      return yield* withNotifierDevice(ctx, a, function* (d, type) {
        const nb = type === VFIO_GROUP_NOTIFY ? driverGroupNotifier(d) : driverNotifier(d);
        const ret = yield* vfio_unregister_notifier(ctx.sys.k, d, type, nb);
        if (ret === 0 && type === VFIO_IOMMU_NOTIFY) pinState(d).nbRegistered = false;
        return { ret };
      });
    },
    show: (a) => `vfio_unregister_notifier(${notifierDev(a)}, ${notifierType(a)})`,
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
      unregister_on_close: { type: 'bool', doc: '4.10-5.18 profiles: close_device unregisters the DMA-unmap notifier (default: unchanged; false: the driver forgets)' },
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
        if (a.unregister_on_close !== undefined) st.unregisterOnClose = a.unregister_on_close === true;
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
    check: (a) => {
      if ((a.working_set as number) < 0) return new FieldError(['working_set'], `working_set ${String(a.working_set)} is negative: give the number of pages to keep pinned`);
      if (((a.churn as number | undefined) ?? 0) < 0) return new FieldError(['churn'], `churn ${String(a.churn)} is negative: give the number of unpin+pin pairs`);
      if ((a.working_set as number) === 0 && ((a.churn as number | undefined) ?? 0) > 0) return new FieldError(['churn'], 'churn needs a working set to cycle through: working_set is 0');
      return null;
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
        const fields: Record<string, unknown> = { driver_pins: st.pins.total(), dma_unmap_calls: st.dma_unmap_calls, dma_unmap_ranges: st.dma_unmap_ranges.map(([i, n]) => [i, n]) };
        if (ctx.sys.k.profile.dmaUnmapNotifier) fields.notifier_registered = st.nbRegistered;
        return { ret: 0, fields };
      });
    },
    show: (a) => `vendor_state(${s(a, 'device')})`,
  },
};
