/**
 * Scenario operations: each mirrors one syscall or ioctl (or a vendor-driver call) and runs the
 * model's kernel path for it. The table is the single definition of an op: its fields (decoding
 * and JSON Schema), how it runs, and how the trace prints it.
 */
import { EBADF } from '../util/errno.js';
import { hex, humanSize, parseSize } from '../util/units.js';
import type { KGen } from '../kernel/sched.js';
import { point } from '../kernel/sched.js';
import type { Backing } from '../host/mm.js';
import type { Capability } from '../host/task.js';
import { DIRTY_FLAGS, EXT, flagNames, IOCTL, MAP_FLAGS, UNMAP_FLAGS } from '../uapi/vfio.js';
import type { Type1IoctlArg } from '../type1/driver.js';
import type { UserBitmap } from '../type1/unmap.js';
import type { Sys } from '../sys/system.js';
import type { VfioContainer } from '../vfio/objects.js';
import type { Decoded, FieldSpec } from './fields.js';
import type { FieldError } from './errors.js';
import type { KernelProfile } from '../kernel/profile.js';
import type { AddrExpr } from './values.js';

export interface ExecCtx {
  readonly sys: Sys;
  /** fd variables: name -> (process, fd number) */
  readonly fds: Map<string, { proc: string; fd: number }>;
  /** buffers: name -> (process, first page, pages) */
  readonly bufs: Map<string, { proc: string; start: number; npages: number }>;
  /** the process running this step */
  proc: string;
}

export interface OpResult {
  /** kernel-style: >= 0 success value, < 0 negated errno */
  ret: number;
  fields?: Record<string, unknown>;
  /** container the op worked on (for dma_avail in the counters) */
  container?: VfioContainer | null;
}

export interface OpDef {
  readonly doc: string;
  readonly fields: Record<string, FieldSpec>;
  /** Is this op also supported by the real-kernel backend? */
  readonly kernel?: boolean;
  run(ctx: ExecCtx, a: Decoded): KGen<OpResult>;
  show(a: Decoded): string;
  /**
   * Does this step fit the kernel it will run on (a form only some kernels have)? Returns an
   * error whose path is relative to the op's fields, or null. Checked at load time against the
   * file's profile and again when a run overrides the profile.
   */
  check?(a: Decoded, p: KernelProfile): FieldError | null;
}

// ---- helpers --------------------------------------------------------------------------------

export function fdNum(ctx: ExecCtx, ref: unknown): number {
  if (typeof ref === 'number') return ref;
  const v = ctx.fds.get(String(ref));
  if (!v || v.proc !== ctx.proc) return -1;
  return v.fd;
}

export function addrValue(ctx: ExecCtx, e: AddrExpr): bigint {
  if (!e.base) return e.offset;
  const b = ctx.bufs.get(e.base);
  if (!b) return e.offset;
  return (BigInt(b.start) << 12n) + e.offset;
}

function containerOf(ctx: ExecCtx, ref: unknown): VfioContainer | null {
  const f = ctx.sys.fileOf(ctx.proc, fdNum(ctx, ref));
  if (!f) return null;
  if (f.kind === 'container') return f.c;
  if (f.kind === 'group') return f.g.container;
  return f.d.group.container;
}

const A = (a: Decoded, k: string): string => {
  const v = a[k];
  if (v === undefined) return '';
  if (typeof v === 'bigint') return v >= 4096n && v % 1024n === 0n && k === 'size' ? humanSize(v) : hex(v);
  if (typeof v === 'object' && v !== null && 'text' in v) return (v as AddrExpr).text;
  return String(v);
};

const fdField = (doc = 'fd name from an earlier step (as: ...)'): FieldSpec => ({ type: 'fd', required: true, doc });
const asField: FieldSpec = { type: 'as', doc: 'name to give the new fd' };
const argszField: FieldSpec = { type: 'u32', doc: 'argsz as passed in the struct (default: the struct size)' };
const faultField: FieldSpec = { type: 'bool', doc: 'pass a bad user pointer (copy_from_user fails: EFAULT)' };

/** ioctl(fd, cmd, arg) on the step's process: the syscall's kernel path itself (no frame of its own). */
function ioctl(ctx: ExecCtx, fd: unknown, cmd: number, arg: Type1IoctlArg | import('../vfio/group.js').GroupIoctlArg): KGen<number> {
  return ctx.sys.sys_ioctl(ctx.proc, fdNum(ctx, fd), cmd, arg);
}

const bitmapSpec: Record<string, FieldSpec> = {
  pgsize: { type: 'size', required: true, doc: 'bitmap page size (must be the smallest IOMMU page size)' },
  size: { type: 'size', required: true, doc: 'bitmap buffer size in bytes' },
  accessible: { type: 'bool', doc: 'the data pointer is valid user memory (default true)' },
};

function userBitmap(a: Decoded | undefined): UserBitmap | undefined {
  if (!a) return undefined;
  return { pgsize: a.pgsize as bigint, size: a.size as bigint, accessible: a.accessible !== false, dirty: [] };
}

function showFlags(v: unknown, table: Readonly<Record<string, number>>): string {
  return flagNames(Number(v ?? 0), table);
}

// ---- the table ------------------------------------------------------------------------------

export const CORE_OPS: Record<string, OpDef> = {
  open_container: {
    doc: 'open("/dev/vfio/vfio"): a new, empty container',
    fields: { as: asField },
    kernel: true,
    *run(ctx) {
      return { ret: yield* ctx.sys.sys_open_container(ctx.proc) };
    },
    show: () => 'open("/dev/vfio/vfio", O_RDWR)',
  },
  open_group: {
    doc: 'open("/dev/vfio/<group>") for an IOMMU group number or a device label',
    fields: { group: { type: 'string', required: true, doc: 'IOMMU group number, or a device label/mdev name' }, as: asField },
    kernel: true,
    *run(ctx, a) {
      const g = groupNumber(ctx, String(a.group));
      return { ret: yield* ctx.sys.sys_open_group(ctx.proc, g) };
    },
    show: (a) => `open("/dev/vfio/${A(a, 'group')}", O_RDWR)`,
  },
  close: {
    doc: 'close(fd)',
    fields: { fd: fdField() },
    kernel: true,
    *run(ctx, a) {
      const c = containerOf(ctx, a.fd);
      return { ret: yield* ctx.sys.sys_close(ctx.proc, fdNum(ctx, a.fd)), container: c };
    },
    show: (a) => `close(${A(a, 'fd')})`,
  },
  VFIO_GET_API_VERSION: {
    doc: 'container ioctl: API version (0)',
    fields: { fd: fdField() },
    kernel: true,
    *run(ctx, a) {
      return { ret: yield* ioctl(ctx, a.fd, IOCTL.VFIO_GET_API_VERSION, { kind: 'none' }) };
    },
    show: (a) => `VFIO_GET_API_VERSION(${A(a, 'fd')})`,
  },
  VFIO_CHECK_EXTENSION: {
    doc: 'container ioctl: is an extension supported (answer depends on container state)',
    fields: { fd: fdField(), ext: { type: 'ext', required: true, doc: 'extension name (VFIO_TYPE1v2_IOMMU, VFIO_UNMAP_ALL, ...) or id' } },
    kernel: true,
    *run(ctx, a) {
      return { ret: yield* ioctl(ctx, a.fd, IOCTL.VFIO_CHECK_EXTENSION, { kind: 'ext', ext: a.ext as number }), container: containerOf(ctx, a.fd) };
    },
    show: (a) => `VFIO_CHECK_EXTENSION(${A(a, 'fd')}, ${extName(a.ext as number)})`,
  },
  VFIO_SET_IOMMU: {
    doc: 'container ioctl: choose the IOMMU driver model (needs a group in the container)',
    fields: { fd: fdField(), type: { type: 'ext', required: true, doc: 'VFIO_TYPE1_IOMMU, VFIO_TYPE1v2_IOMMU, ...' } },
    kernel: true,
    *run(ctx, a) {
      return { ret: yield* ioctl(ctx, a.fd, IOCTL.VFIO_SET_IOMMU, { kind: 'ext', ext: a.type as number }), container: containerOf(ctx, a.fd) };
    },
    show: (a) => `VFIO_SET_IOMMU(${A(a, 'fd')}, ${extName(a.type as number)})`,
  },
  VFIO_GROUP_GET_STATUS: {
    doc: 'group ioctl: flags VIABLE and CONTAINER_SET',
    fields: { fd: fdField(), argsz: argszField, fault: faultField },
    kernel: true,
    *run(ctx, a) {
      const st = { argsz: (a.argsz as number | undefined) ?? 8, fault: a.fault === true, flags: undefined as number | undefined };
      const ret = yield* ioctl(ctx, a.fd, IOCTL.VFIO_GROUP_GET_STATUS, { kind: 'status', st });
      return { ret, fields: ret ? {} : { flags: groupFlags(st.flags ?? 0) } };
    },
    show: (a) => `VFIO_GROUP_GET_STATUS(${A(a, 'fd')}, {argsz=${A(a, 'argsz') || 8}})`,
  },
  VFIO_GROUP_SET_CONTAINER: {
    doc: 'group ioctl: add the group to a container (attaches it if the IOMMU is already set)',
    fields: { fd: fdField(), container: fdField('container fd name (or an integer fd)') },
    kernel: true,
    *run(ctx, a) {
      const cfd = fdNum(ctx, a.container);
      const ret = yield* ioctl(ctx, a.fd, IOCTL.VFIO_GROUP_SET_CONTAINER, { kind: 'container', container: ctx.sys.containerArg(ctx.proc, cfd) });
      return { ret, container: containerOf(ctx, a.container) };
    },
    show: (a) => `VFIO_GROUP_SET_CONTAINER(${A(a, 'fd')}, [${A(a, 'container')}])`,
  },
  VFIO_GROUP_UNSET_CONTAINER: {
    doc: 'group ioctl: remove the group from its container (the last group releases the IOMMU)',
    fields: { fd: fdField() },
    kernel: true,
    *run(ctx, a) {
      const c = containerOf(ctx, a.fd);
      return { ret: yield* ioctl(ctx, a.fd, IOCTL.VFIO_GROUP_UNSET_CONTAINER, { kind: 'none' }), container: c };
    },
    show: (a) => `VFIO_GROUP_UNSET_CONTAINER(${A(a, 'fd')})`,
  },
  VFIO_GROUP_GET_DEVICE_FD: {
    doc: 'group ioctl: open a device of the group by name (PCI address or mdev UUID, or a device label)',
    fields: { fd: fdField(), name: { type: 'string', required: true, doc: 'device name or label' }, as: asField },
    kernel: true,
    *run(ctx, a) {
      const dev = ctx.sys.devices.get(String(a.name)) ?? ctx.sys.vdevs.get(String(a.name))?.dev;
      const name = dev ? dev.name : String(a.name);
      const ret = yield* ctx.sys.sys_get_device_fd(ctx.proc, fdNum(ctx, a.fd), name);
      return { ret, container: containerOf(ctx, a.fd) };
    },
    show: (a) => `VFIO_GROUP_GET_DEVICE_FD(${A(a, 'fd')}, "${A(a, 'name')}")`,
  },
  VFIO_IOMMU_GET_INFO: {
    doc: 'container ioctl: page sizes and capabilities (IOVA ranges, migration, DMA avail)',
    fields: { fd: fdField(), argsz: { type: 'u32', doc: 'argsz (default 4096: room for every capability)' }, fault: faultField },
    kernel: true,
    *run(ctx, a) {
      const info: Type1IoctlArg & { kind: 'info' } = { kind: 'info', argsz: (a.argsz as number | undefined) ?? 4096, fault: a.fault === true };
      const ret = yield* ioctl(ctx, a.fd, IOCTL.VFIO_IOMMU_GET_INFO, info);
      const fields: Record<string, unknown> = {};
      if (!ret) {
        fields.argsz = info.argsz;
        fields.flags = info.flags;
        fields.iova_pgsizes = info.iova_pgsizes;
        if (info.cap_offset !== undefined) fields.cap_offset = info.cap_offset;
        if (info.caps) fields.caps = info.caps;
      }
      return { ret, fields, container: containerOf(ctx, a.fd) };
    },
    show: (a) => `VFIO_IOMMU_GET_INFO(${A(a, 'fd')}, {argsz=${A(a, 'argsz') || 4096}})`,
  },
  VFIO_IOMMU_MAP_DMA: {
    doc: 'container ioctl: map [vaddr, +size) of this process at iova for DMA (pins and charges locked_vm)',
    fields: {
      fd: fdField(),
      flags: { type: { flags: MAP_FLAGS }, doc: 'READ, WRITE (device view), VADDR' },
      vaddr: { type: 'addr', required: true, doc: 'buffer name (+offset) or address' },
      iova: { type: 'u64', required: true, doc: 'device address' },
      size: { type: 'size', required: true, doc: 'bytes' },
      argsz: argszField,
      fault: faultField,
    },
    kernel: true,
    *run(ctx, a) {
      const arg: Type1IoctlArg = {
        kind: 'map',
        argsz: (a.argsz as number | undefined) ?? 32,
        flags: (a.flags as number | undefined) ?? 0,
        vaddr: addrValue(ctx, a.vaddr as AddrExpr) & ((1n << 64n) - 1n),
        iova: a.iova as bigint,
        size: a.size as bigint,
        fault: a.fault === true,
      };
      return { ret: yield* ioctl(ctx, a.fd, IOCTL.VFIO_IOMMU_MAP_DMA, arg), container: containerOf(ctx, a.fd) };
    },
    show: (a) => `VFIO_IOMMU_MAP_DMA(${A(a, 'fd')}, {${a.argsz !== undefined ? `argsz=${A(a, 'argsz')}, ` : ''}flags=${showFlags(a.flags, MAP_FLAGS)}, vaddr=${A(a, 'vaddr')}, iova=${A(a, 'iova')}, size=${A(a, 'size')}})`,
  },
  VFIO_IOMMU_UNMAP_DMA: {
    doc: 'container ioctl: unmap whole mappings in [iova, +size); returns the bytes unmapped in size',
    fields: {
      fd: fdField(),
      flags: { type: { flags: UNMAP_FLAGS }, doc: 'GET_DIRTY_BITMAP, ALL, VADDR' },
      iova: { type: 'u64', doc: 'device address (0 with ALL)' },
      size: { type: 'size', doc: 'bytes (0 with ALL)' },
      argsz: argszField,
      bitmap: { type: { object: bitmapSpec }, doc: 'dirty bitmap for GET_DIRTY_BITMAP' },
      fault: faultField,
    },
    kernel: true,
    *run(ctx, a) {
      const bm = userBitmap(a.bitmap as Decoded | undefined);
      const flags = (a.flags as number | undefined) ?? 0;
      const arg: Type1IoctlArg = {
        kind: 'unmap',
        argsz: (a.argsz as number | undefined) ?? (bm ? 48 : 24),
        flags,
        iova: (a.iova as bigint | undefined) ?? 0n,
        size: (a.size as bigint | undefined) ?? 0n,
        bitmap: bm,
        fault: a.fault === true,
        out: { size: -1n },
      };
      const ret = yield* ioctl(ctx, a.fd, IOCTL.VFIO_IOMMU_UNMAP_DMA, arg);
      const fields: Record<string, unknown> = {};
      if (!ret && arg.kind === 'unmap') {
        fields.size = arg.out.size;
        if (bm) fields.dirty = bm.dirty;
      }
      return { ret, fields, container: containerOf(ctx, a.fd) };
    },
    show: (a) => `VFIO_IOMMU_UNMAP_DMA(${A(a, 'fd')}, {${a.argsz !== undefined ? `argsz=${A(a, 'argsz')}, ` : ''}flags=${showFlags(a.flags, UNMAP_FLAGS)}, iova=${A(a, 'iova') || '0x0'}, size=${A(a, 'size') || '0'}})`,
  },
  VFIO_IOMMU_DIRTY_PAGES: {
    doc: 'container ioctl: START/STOP dirty tracking, or GET_BITMAP for [iova, +size)',
    fields: {
      fd: fdField(),
      flags: { type: { flags: DIRTY_FLAGS }, required: true, doc: 'START, STOP or GET_BITMAP' },
      argsz: argszField,
      iova: { type: 'u64', doc: 'GET_BITMAP: first IOVA' },
      size: { type: 'size', doc: 'GET_BITMAP: bytes' },
      bitmap: { type: { object: bitmapSpec }, doc: 'GET_BITMAP: the user bitmap' },
      fault: faultField,
    },
    kernel: true,
    *run(ctx, a) {
      const bm = userBitmap(a.bitmap as Decoded | undefined);
      const flags = a.flags as number;
      const get = (flags & DIRTY_FLAGS.GET_BITMAP!) !== 0;
      const arg: Type1IoctlArg = {
        kind: 'dirty',
        argsz: (a.argsz as number | undefined) ?? (get ? 48 : 8),
        flags,
        iova: a.iova as bigint | undefined,
        size: a.size as bigint | undefined,
        bitmap: bm,
        fault: a.fault === true,
      };
      const ret = yield* ioctl(ctx, a.fd, IOCTL.VFIO_IOMMU_DIRTY_PAGES, arg);
      return { ret, fields: !ret && bm ? { dirty: bm.dirty } : {}, container: containerOf(ctx, a.fd) };
    },
    show: (a) => `VFIO_IOMMU_DIRTY_PAGES(${A(a, 'fd')}, {flags=${showFlags(a.flags, DIRTY_FLAGS)}${a.iova !== undefined ? `, iova=${A(a, 'iova')}, size=${A(a, 'size')}` : ''}})`,
  },
  ioctl: {
    doc: 'a raw ioctl number on an fd (e.g. an unknown command: ENOTTY)',
    fields: { fd: fdField(), cmd: { type: 'u32', required: true, doc: 'ioctl request number' } },
    kernel: true,
    *run(ctx, a) {
      return { ret: yield* ioctl(ctx, a.fd, a.cmd as number, { kind: 'none' }) };
    },
    show: (a) => `ioctl(${A(a, 'fd')}, ${hex(a.cmd as number)})`,
  },
  mmap: {
    doc: 'mmap anonymous memory for a buffer (touched by default, so it is backed by real pages)',
    fields: {
      as: { type: 'as', required: true, doc: 'buffer name, usable in vaddr/addr fields as name+offset' },
      size: { type: 'size', required: true, doc: 'bytes' },
      prot: { type: { enum: ['rw', 'r', 'w', 'none'] }, doc: 'protection (default rw)' },
      backing: { type: { enum: ['4k', 'thp', 'hugetlb-2M', 'hugetlb-1G'] }, doc: 'page backing (default 4k)' },
      touch: { type: 'bool', doc: 'write every page now (default true); false leaves it to the zero page on read' },
      physical: { type: { enum: ['scattered', 'contiguous'] }, doc: 'physical layout (default scattered: no two backing pages adjacent)' },
    },
    kernel: true,
    *run(ctx, a) {
      const prot = (a.prot as string | undefined) ?? 'rw';
      const npages = Number(((a.size as bigint) + 4095n) >> 12n);
      const ret = yield* ctx.sys.sys_mmap_anon(ctx.proc, npages, {
        read: prot === 'rw' || prot === 'r', // PROT_WRITE alone gives VM_WRITE without VM_READ
        write: prot === 'rw' || prot === 'w',
        backing: ((a.backing as string | undefined) ?? '4k') as Backing,
        touch: a.touch !== false,
        contiguous: a.physical === 'contiguous',
        label: String(a.as),
      });
      if (ret >= 0) ctx.bufs.set(String(a.as), { proc: ctx.proc, start: ret, npages });
      return { ret: ret >= 0 ? 0 : ret, fields: ret >= 0 ? { addr: BigInt(ret) << 12n } : {} };
    },
    show: (a) => `mmap(NULL, ${A(a, 'size')}, ${(a.prot as string | undefined) ?? 'rw'}, ${(a.backing as string | undefined) ?? '4k'}${a.touch === false ? '' : ', touched'}) -> ${A(a, 'as')}`,
  },
  mmap_bar: {
    doc: 'mmap a device region (BAR) through the device fd: VM_PFNMAP memory with no struct page',
    fields: { fd: fdField('device fd'), region: { type: 'int', doc: 'BAR index (default 0)' }, as: { type: 'as', required: true, doc: 'buffer name' } },
    *run(ctx, a) {
      const ret = yield* ctx.sys.sys_mmap_bar(ctx.proc, fdNum(ctx, a.fd), (a.region as number | undefined) ?? 0, String(a.as));
      if (ret >= 0) {
        const f = ctx.sys.fileOf(ctx.proc, fdNum(ctx, a.fd));
        const npages = f?.kind === 'device' ? (f.d.dev.bars[(a.region as number | undefined) ?? 0]?.npages ?? 0) : 0;
        ctx.bufs.set(String(a.as), { proc: ctx.proc, start: ret, npages });
      }
      return { ret: ret >= 0 ? 0 : ret, fields: ret >= 0 ? { addr: BigInt(ret) << 12n } : {} };
    },
    show: (a) => `mmap(${A(a, 'fd')}, region ${(a.region as number | undefined) ?? 0}) -> ${A(a, 'as')}`,
  },
  munmap: {
    doc: 'munmap [addr, +size) (a whole buffer by default)',
    fields: { addr: { type: 'addr', required: true, doc: 'buffer name (+offset) or address' }, size: { type: 'size', doc: 'bytes (default: the whole buffer)' } },
    kernel: true,
    *run(ctx, a) {
      const { start, n } = range(ctx, a);
      return { ret: yield* ctx.sys.sys_munmap(ctx.proc, start, n) };
    },
    show: (a) => `munmap(${A(a, 'addr')}, ${A(a, 'size') || 'all'})`,
  },
  mlock: {
    doc: 'mlock [addr, +size): charges locked_vm like VFIO does, limited by RLIMIT_MEMLOCK',
    fields: { addr: { type: 'addr', required: true, doc: 'buffer name (+offset) or address' }, size: { type: 'size', doc: 'bytes (default: the whole buffer)' } },
    kernel: true,
    *run(ctx, a) {
      const { start, n } = range(ctx, a);
      return { ret: yield* ctx.sys.sys_mlock(ctx.proc, start, n) };
    },
    show: (a) => `mlock(${A(a, 'addr')}, ${A(a, 'size') || 'all'})`,
  },
  munlock: {
    doc: 'munlock [addr, +size)',
    fields: { addr: { type: 'addr', required: true, doc: 'buffer name (+offset) or address' }, size: { type: 'size', doc: 'bytes (default: the whole buffer)' } },
    kernel: true,
    *run(ctx, a) {
      const { start, n } = range(ctx, a);
      return { ret: yield* ctx.sys.sys_munlock(ctx.proc, start, n) };
    },
    show: (a) => `munlock(${A(a, 'addr')}, ${A(a, 'size') || 'all'})`,
  },
  setrlimit: {
    doc: 'setrlimit(RLIMIT_MEMLOCK)',
    fields: { memlock: { type: 'string', required: true, doc: 'bytes (4M, 0x1000, ...) or unlimited' } },
    kernel: true,
    *run(ctx, a) {
      return { ret: yield* ctx.sys.sys_setrlimit_memlock(ctx.proc, memlockValue(String(a.memlock))) };
    },
    show: (a) => `setrlimit(RLIMIT_MEMLOCK, ${A(a, 'memlock')})`,
  },
  capset: {
    doc: 'raise or drop CAP_IPC_LOCK in the effective set',
    fields: { CAP_IPC_LOCK: { type: 'bool', required: true, doc: 'true to raise, false to drop' } },
    kernel: true,
    *run(ctx, a) {
      return { ret: yield* ctx.sys.sys_capset(ctx.proc, 'CAP_IPC_LOCK' as Capability, a.CAP_IPC_LOCK === true) };
    },
    show: (a) => `capset(CAP_IPC_LOCK=${A(a, 'CAP_IPC_LOCK')})`,
  },
  set_param: {
    doc: 'write a vfio_iommu_type1 module parameter (/sys/module/vfio_iommu_type1/parameters/...)',
    fields: {
      dma_entry_limit: { type: 'int', doc: 'max vfio_dma per container, read when SET_IOMMU opens the IOMMU' },
      disable_hugepages: { type: 'bool', doc: 'map page by page' },
      allow_unsafe_interrupts: { type: 'bool', doc: 'allow groups without interrupt remapping' },
    },
    kernel: true,
    *run(ctx, a) {
      yield point('sysfs write');
      const p = ctx.sys.k.params;
      if (a.dma_entry_limit !== undefined) p.dma_entry_limit = a.dma_entry_limit as number;
      if (a.disable_hugepages !== undefined) p.disable_hugepages = a.disable_hugepages as boolean;
      if (a.allow_unsafe_interrupts !== undefined) p.allow_unsafe_interrupts = a.allow_unsafe_interrupts as boolean;
      return { ret: 0 };
    },
    show: (a) => `set_param(${Object.entries(a).map(([k, v]) => `${k}=${String(v)}`).join(', ')})`,
  },
  share_fd: {
    doc: 'give an open fd to another process (fork/SCM_RIGHTS); the file is shared',
    fields: { fd: fdField(), to: { type: 'string', required: true, doc: 'receiving process' }, as: { type: 'as', required: true, doc: 'fd name in the receiving process' } },
    *run(ctx, a) {
      yield point('share_fd');
      const fd = ctx.sys.shareFd(ctx.proc, fdNum(ctx, a.fd), String(a.to));
      if (fd >= 0) ctx.fds.set(String(a.as), { proc: String(a.to), fd });
      return { ret: fd < 0 ? fd : 0 };
    },
    show: (a) => `share_fd(${A(a, 'fd')} -> ${A(a, 'to')})`,
  },
  exit: {
    doc: 'the process exits: its mm goes, then every fd is closed',
    fields: {},
    kernel: true,
    *run(ctx) {
      return { ret: yield* ctx.sys.sys_exit(ctx.proc) };
    },
    show: () => 'exit()',
  },
  inspect: {
    doc: 'read type1 state of a container (model only): mappings, domains, counters',
    fields: { fd: fdField() },
    *run(ctx, a) {
      yield point('inspect');
      const c = containerOf(ctx, a.fd);
      const io = c?.iommu_data;
      if (!io) return { ret: c ? 0 : -EBADF, fields: { iommu: null }, container: c };
      const d0 = io.domain_list[0]?.domain;
      return {
        ret: 0,
        container: c,
        fields: {
          v2: io.v2,
          dma_count: io.dma_list.size,
          domains: io.domain_list.length,
          emulated_groups: io.emulated_iommu_groups.length,
          devices_with_dma_unmap: io.device_list.length,
          pgsize_bitmap: io.pgsize_bitmap,
          iova_list: io.iova_list.map((r) => [r.start, r.end]),
          dirty_page_tracking: io.dirty_page_tracking,
          mappings: io.dma_list.toArray().map((d) => ({ iova: BigInt(d.iova) << 12n, size: BigInt(d.size) << 12n, iommu_mapped: d.iommu_mapped, vaddr_invalid: d.vaddr_invalid, pinned: d.pfn_list.size, locked_vm: d.locked_vm })),
          map_calls: d0?.counters.map_calls ?? 0,
          unmap_calls: d0?.counters.unmap_calls ?? 0,
          iommu_pages: d0 ? Object.fromEntries(d0.counters.pgsizes) : {},
        },
      };
    },
    show: (a) => `inspect(${A(a, 'fd')})`,
  },
};

/** RLIMIT_MEMLOCK value: a size or "unlimited" (validated at load time by `memlockField`). */
export function memlockValue(s: string): bigint {
  if (s === 'unlimited' || s === 'infinity') return (1n << 64n) - 1n;
  return parseSize(s) ?? 0n;
}

function range(ctx: ExecCtx, a: Decoded): { start: number; n: number } {
  const e = a.addr as AddrExpr;
  const addr = addrValue(ctx, e);
  const b = e.base ? ctx.bufs.get(e.base) : undefined;
  const bytes = (a.size as bigint | undefined) ?? (b ? (BigInt(b.npages) << 12n) - e.offset : 4096n);
  const start = Number(addr >> 12n);
  const end = Number((addr + bytes + 4095n) >> 12n);
  return { start, n: end - start };
}

function groupNumber(ctx: ExecCtx, s: string): number {
  if (/^[0-9]+$/.test(s)) return Number(s);
  const dev = ctx.sys.devices.get(s) ?? ctx.sys.vdevs.get(s)?.dev;
  return dev?.group?.id ?? -1;
}

function extName(n: number): string {
  return Object.entries(EXT).find(([, v]) => v === n)?.[0] ?? String(n);
}

function groupFlags(f: number): string[] {
  const out: string[] = [];
  if (f & 1) out.push('VIABLE');
  if (f & 2) out.push('CONTAINER_SET');
  return out;
}
