/**
 * Scenario → runner script, and runner results → the model's `StepRecord`s (pure; no I/O).
 *
 * What maps to what (docs/conformance.md lists the limits):
 * - fds and buffers keep their scenario names in the runner (one name table per process);
 * - groups: the host's one passthrough device is the guest's `edu` (its group number and label both
 *   resolve to it); mdev instances are the guest's pre-created `mdev0`, `mdev1`, … in creation
 *   order (`mdev_create` of a new UUID is then a no-op `note`, a duplicate or malformed one is a
 *   real sysfs create that fails as the kernel says); a scenario with more than one passthrough
 *   device is unsupported (the guest has one IOMMU-backed group);
 * - processes: the first is the runner's scenario process; every other one is a `proc_fork`ed
 *   helper, forked when first needed, which then closes every fd and unmaps every buffer it
 *   inherited except the fds shared with it (`share_fd`), so it starts like the model's process;
 * - RLIMIT_MEMLOCK and CAP_IPC_LOCK of each process are set from `host.processes[]` (the runner
 *   starts as root with the capability: it is dropped unless the process lists it);
 * - `kernel.params` become boot parameters; `set_param` a `module_param` write (the scenario then
 *   needs a boot of its own: module parameters persist for the boot).
 * Anything else is `unsupported on the kernel backend: <what> (file:line)`, never an exception.
 * Model-only observation steps (`inspect`) are skipped and not compared.
 */
import type { Expect, Scenario, Step } from '../../scenario/load.js';
import type { StepRecord } from '../../scenario/exec.js';
import { checkExpect } from '../../scenario/exec.js';
import { OPS } from '../../scenario/registry.js';
import type { AddrExpr } from '../../scenario/values.js';
import { errnoByName, errnoName } from '../../util/errno.js';
import type { ArgValue, ScriptStep, StepResult } from './script.js';

export const U64_MAX = (1n << 64n) - 1n;
/** UUID of pre-created (and sysfs-created) instance `mdevN` in the guest. */
export const slotUuid = (n: number): string => `7f1ab000-0000-4000-8000-0000000000${n.toString(16).padStart(2, '0')}`;
/** The guest's edu device (seen on both kernels). */
export const EDU_BDF = '0000:00:02.0';
const MDEV_TYPE_DIR = '/sys/devices/platform/vfiolab_mdev/mdev_supported_types';
const MAX_GUEST_MDEVS = 8;
const NO_SUCH_GROUP = 99999;
const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\n?$/;

/** Ops whose successful `ret` is an fd number (differs by nature between backends). */
export const FD_RET_OPS = new Set(['open_container', 'open_group', 'VFIO_GROUP_GET_DEVICE_FD']);
/** Model-only observation steps: not run on the kernel and not compared. */
export const MODEL_ONLY_OPS = new Set(['inspect']);

export interface StepMapping {
  /** The scenario step. */
  step: Step;
  /** Index of the runner step that answers it (its `i` in the results), or undefined when skipped. */
  runner?: number;
  /** Why the step is not run on the kernel (model-only observation). */
  skipped?: string;
}

export interface Translation {
  file: string;
  name: string;
  /** Empty when the whole scenario translates. */
  unsupported: string[];
  steps: ScriptStep[];
  map: StepMapping[];
  /** Boot parameters of vfio_iommu_type1 (from kernel.params). */
  type1Params: Record<string, string | number>;
  /** Pre-created mdev instances the scenario uses (boot needs at least this many). */
  mdevs: number;
  /** Must not share a boot with other scenarios (module_param writes, mdev removal, BUG/hang). */
  ownBoot: boolean;
  /** A kernel BUG or hang is expected/likely: give it a short step timeout. */
  fatalLikely: boolean;
}

interface FdRef {
  /** runner name in the owning process */
  name: string;
  proc: string;
  kind: 'container' | 'group' | 'device' | 'other';
  /** group fd: its runner role; device fd: the role of its group */
  role?: string;
  /** sequence number of the step that opened it (a helper forked later inherits it) */
  born: number;
}

class Unsupported extends Error {}

export interface TranslateOptions {
  /** Kernel id the script is for (only used in messages). */
  kernel?: string;
}

/** Translate one scenario. Never throws for a scenario the loader accepted. */
export function translateScenario(sc: Scenario, _opts: TranslateOptions = {}): Translation {
  const t: Translation = { file: sc.file, name: sc.name, unsupported: [], steps: [], map: [], type1Params: {}, mdevs: 0, ownBoot: false, fatalLikely: false };
  const where = (st?: Step): string => `${sc.file}:${st?.line ?? 1}`;
  const unsup = (what: string, st?: Step): never => {
    throw new Unsupported(`unsupported on the kernel backend: ${what} (${where(st)})`);
  };
  try {
    // ---- scenario-level checks -----------------------------------------------------------
    if (sc.profile !== '6.1' && sc.profile !== '6.12') unsup(`kernel profile ${sc.profile} (only 6.1 and 6.12 are booted)`);
    if (Object.keys(sc.switches).length) unsup(`profile switches ${Object.keys(sc.switches).join(', ')}`);
    const fail = (sc as { fail?: { site: string } | null }).fail;
    if (fail) unsup(`fault injection (kernel.fail ${fail.site})`);
    const host = sc.host;
    // the guest's IOMMU: QEMU's intel-iommu with interrupt remapping, 39-bit aperture, 4K/2M/1G,
    // and no snoop control (so no enforced cache coherency: VFIO_DMA_CC_IOMMU answers 0)
    const guestIommu: Record<string, unknown> = { apertureBits: 39, intrRemap: true, enforceCacheCoherency: false };
    const hw = (host.iommu ?? {}) as Record<string, unknown>;
    const differs = Object.keys(hw).filter((k) => hw[k] !== guestIommu[k]);
    if (differs.length) unsup(`host.iommu ${differs.join(', ')} (the guest has an Intel VT-d with interrupt remapping, a 39-bit aperture, 4K/2M/1G, no snoop control)`);
    if (host.devices.length > 1) unsup(`${host.devices.length} passthrough devices (the guest has one IOMMU-backed group: edu)`);
    const pci = host.devices[0];
    if (pci && pci.driver !== 'vfio-pci') unsup(`a device bound to ${pci.driver}`);
    if (pci?.bridge) unsup('a PCI bridge');
    if ((host.mdev ?? []).length > 1) unsup(`${host.mdev!.length} mdev parents (the guest has one: vfiolab_mdev, 8 instances shared by its types)`);
    for (const p of host.mdev ?? []) {
      if (p.types.length > 2) unsup(`mdev parent ${p.name} with ${p.types.length} types (the guest driver has a and b)`);
    }
    for (const [k, v] of Object.entries(sc.params)) {
      if (v === undefined) continue;
      t.type1Params[k] = typeof v === 'boolean' ? (v ? 'Y' : 'N') : (v as number);
    }
    const main = host.processes[0]!;
    const procSpec = new Map(host.processes.map((p) => [p.name, p]));

    // ---- state -----------------------------------------------------------------------------
    const fds = new Map<string, FdRef>(); // scenario fd name -> runner ref (scenario names are global)
    const bufs = new Map<string, string>(); // buffer name -> creating process
    const forked = new Set<string>();
    const exited = new Set<string>();
    const instances = new Map<string, number>(); // mdev label or uuid -> slot
    const instParent = new Map<number, string>(); // slot -> driver of its parent
    const forkSeq = new Map<string, number>(); // helper -> step sequence number of its fork
    let nextSlot = 0;
    let seq = 0;
    const emit = (s: ScriptStep): number => {
      t.steps.push(s);
      return t.steps.length - 1;
    };
    const limits = (proc: string, on?: string): void => {
      const p = procSpec.get(proc)!;
      emit({ op: 'setrlimit', args: { memlock: p.memlock >= U64_MAX ? 'inf' : p.memlock, on }, comment: `host.processes ${proc}: memlock` });
      emit({ op: 'cap', args: { ipc_lock: p.caps.includes('CAP_IPC_LOCK') ? 'raise' : 'drop', on }, comment: `host.processes ${proc}: caps` });
    };
    limits(main.name);

    const all = [...sc.steps, ...sc.threads.flatMap((th) => th.steps), ...sc.teardown];
    const onOf = (proc: string): string | undefined => (proc === main.name ? undefined : proc);
    const ensureProc = (proc: string, st: Step, keep: Set<string> = new Set()): number | undefined => {
      if (proc === main.name || forked.has(proc)) return undefined;
      if (exited.has(proc)) unsup(`process ${proc} used after it exited`, st);
      forked.add(proc);
      const i = emit({ op: 'proc_fork', args: { as: proc }, comment: `process ${proc}` });
      // the helper starts like the model's process: no fds but those shared with it, no buffers
      for (const [n, f] of fds) if (f.proc === main.name && !keep.has(n)) emit({ op: 'close', args: { fd: f.name, on: proc } });
      for (const [b, p] of bufs) if (p === main.name) emit({ op: 'munmap', args: { buf: b, on: proc } });
      limits(proc, proc);
      return i;
    };
    const fdArg = (ref: unknown, proc: string, _st?: Step): ArgValue => {
      if (typeof ref === 'number') return ref;
      const f = fds.get(String(ref));
      if (!f || f.proc !== proc) return -1; // the model: a name of another process is no fd here (EBADF)
      return f.name;
    };
    const addrArg = (e: AddrExpr, proc: string, st: Step): ArgValue => {
      if (!e.base) return e.offset & U64_MAX;
      const owner = bufs.get(e.base);
      if (owner === undefined) unsup(`address ${e.text}: no buffer ${e.base} yet`, st);
      if (owner !== proc) unsup(`buffer ${e.base} of process ${owner} used by ${proc}`, st);
      if (e.offset === 0n) return e.base;
      return e.offset > 0n ? `${e.base}+0x${e.offset.toString(16)}` : `${e.base}-0x${(-e.offset).toString(16)}`;
    };
    const rangeArgs = (a: Record<string, unknown>, proc: string, st: Step): Record<string, ArgValue | undefined> => {
      const e = a.addr as AddrExpr;
      if (!e.base) unsup(`${st.op} of a raw address`, st);
      if (bufs.get(e.base!) !== proc) unsup(`buffer ${e.base} of another process`, st);
      if (e.offset < 0n) unsup(`${st.op} before a buffer's start`, st);
      return { buf: e.base, off: e.offset || undefined, size: a.size as bigint | undefined };
    };
    const roleOfGroup = (g: string): string | undefined => {
      if (pci && (g === String(pci.group) || g === pci.label || g === pci.bdf)) return 'edu';
      const slot = instances.get(g) ?? instances.get(g.toLowerCase());
      return slot === undefined ? undefined : `mdev${slot}`;
    };
    const deviceName = (name: string, groupRole: string | undefined): string | undefined => {
      if (pci && (name === pci.label || name === pci.bdf)) return groupRole === 'edu' ? undefined : EDU_BDF;
      const slot = instances.get(name);
      if (slot !== undefined) return groupRole === `mdev${slot}` ? undefined : slotUuid(slot);
      return /^[\w.:-]+$/.test(name) ? name : 'no-such-device';
    };
    const fdOpened = (st: Step, kind: FdRef['kind'], role?: string): void => {
      const as = st.args.as;
      if (as !== undefined) fds.set(String(as), { name: String(as), proc: st.process, kind, role, born: seq });
    };

    // ---- steps ----------------------------------------------------------------------------
    for (const st of all) {
      seq++;
      const a = st.args as Record<string, unknown>;
      const proc = st.process;
      const on = onOf(proc);
      const m: StepMapping = { step: st };
      t.map.push(m);
      if (MODEL_ONLY_OPS.has(st.op)) {
        m.skipped = `${st.op} is a model-only observation`;
        continue;
      }
      const def = OPS[st.op];
      const failing = st.expect?.errno !== undefined && st.expect.errno !== 0;
      // a call that fails before it changes anything can be left out: skipped, not compared
      const badBitmap = (a.bitmap as { accessible?: boolean } | undefined)?.accessible === false;
      if (failing && (a.fault === true || st.op === 'ioctl' || badBitmap)) {
        m.skipped = `unsupported on the kernel backend: ${st.op === 'ioctl' ? 'raw ioctl numbers' : badBitmap ? `${st.op} with an inaccessible bitmap` : `${st.op} with fault: true`} (${where(st)})`;
        continue;
      }
      if (!def?.kernel && st.op !== 'share_fd') unsup(`op ${st.op}`, st);
      if (a.fault === true) unsup(`${st.op} with fault: true (the runner passes only valid pointers)`, st);
      if (st.op !== 'share_fd' && st.op !== 'exit') ensureProc(proc, st);
      if (exited.has(proc)) unsup(`a step of process ${proc} after it exited`, st);
      if (st.expect?.fatal !== undefined) {
        t.fatalLikely = true;
        t.ownBoot = true;
      }
      const put = (s: ScriptStep): void => {
        m.runner = emit({ ...s, args: { ...s.args, on }, comment: `${sc.file.split('/').pop()}:${st.line} ${st.op}` });
      };
      switch (st.op) {
        case 'open_container':
          put({ op: 'container_open', args: { as: a.as === undefined ? `_anon${seq}` : String(a.as) } });
          fdOpened(st, 'container');
          break;
        case 'open_group': {
          const role = roleOfGroup(String(a.group));
          put({ op: 'group_open', args: { as: a.as === undefined ? `_anon${seq}` : String(a.as), ...(role ? { role } : { num: NO_SUCH_GROUP }) } });
          fdOpened(st, 'group', role);
          break;
        }
        case 'close': {
          const cf = typeof a.fd === 'string' ? fds.get(a.fd) : undefined;
          if (cf?.kind === 'device' && cf.role?.startsWith('mdev') && instParent.get(Number(cf.role.slice(4))) === 'misbehaving') {
            unsup('closing a device of the misbehaving driver (it leaks its pins on close; the guest driver always unpins)', st);
          }
          put({ op: 'close', args: { fd: fdArg(a.fd, proc, st) } });
          if (typeof a.fd === 'string' && fds.get(a.fd)?.proc === proc) fds.delete(a.fd);
          break;
        }
        case 'VFIO_GET_API_VERSION':
          put({ op: 'get_api_version', args: { container: fdArg(a.fd, proc, st) } });
          break;
        case 'VFIO_CHECK_EXTENSION':
          put({ op: 'check_extension', args: { container: fdArg(a.fd, proc, st), ext: a.ext as number } });
          break;
        case 'VFIO_SET_IOMMU':
          put({ op: 'set_iommu', args: { container: fdArg(a.fd, proc, st), type: a.type as number } });
          break;
        case 'VFIO_GROUP_GET_STATUS':
          put({ op: 'group_status', args: { group: fdArg(a.fd, proc, st), argsz: (a.argsz as number | undefined) ?? 8 } });
          break;
        case 'VFIO_GROUP_SET_CONTAINER':
          put({ op: 'group_set_container', args: { group: fdArg(a.fd, proc, st), container: fdArg(a.container, proc, st) } });
          break;
        case 'VFIO_GROUP_UNSET_CONTAINER':
          put({ op: 'group_unset_container', args: { group: fdArg(a.fd, proc, st) } });
          break;
        case 'VFIO_GROUP_GET_DEVICE_FD': {
          const g = typeof a.fd === 'string' ? fds.get(a.fd) : undefined;
          const name = deviceName(String(a.name), g?.role);
          put({ op: 'group_get_device_fd', args: { group: fdArg(a.fd, proc, st), as: a.as === undefined ? `_anon${seq}` : String(a.as), name: name ?? (g?.role ? undefined : 'no-such-device') } });
          fdOpened(st, 'device', g?.role);
          const slot = g?.role?.startsWith('mdev') ? Number(g.role.slice(4)) : undefined;
          if (slot !== undefined && instParent.get(slot) === 'misbehaving' && a.as !== undefined && name === undefined) {
            // the `misbehaving` sample driver ignores every dma_unmap from the start
            emit({ op: 'unmap_mode', args: { dev: String(a.as), mode: 'never', on }, comment: 'misbehaving driver' });
            t.fatalLikely = true;
            t.ownBoot = true;
          }
          break;
        }
        case 'VFIO_IOMMU_GET_INFO':
          if (((a.argsz as number | undefined) ?? 4096) > 65536) unsup('GET_INFO argsz > 64K', st);
          put({ op: 'get_info', args: { container: fdArg(a.fd, proc, st), argsz: (a.argsz as number | undefined) ?? 4096 } });
          break;
        case 'VFIO_IOMMU_MAP_DMA':
          put({
            op: 'map_dma',
            args: { container: fdArg(a.fd, proc, st), vaddr: addrArg(a.vaddr as AddrExpr, proc, st), iova: a.iova as bigint, size: a.size as bigint, flags: (a.flags as number | undefined) ?? 0, argsz: (a.argsz as number | undefined) ?? 32 },
          });
          break;
        case 'VFIO_IOMMU_UNMAP_DMA': {
          const bm = a.bitmap as { pgsize: bigint; size: bigint; accessible?: boolean } | undefined;
          if (bm && bm.accessible === false) unsup('a dirty bitmap at an inaccessible address', st);
          if (bm && bm.size > 1n << 28n) unsup('a dirty bitmap buffer above 256 MiB', st);
          const uflags = (a.flags as number | undefined) ?? 0;
          if (!bm && uflags & 1 && ((a.argsz as number | undefined) ?? 24) >= 48) unsup('UNMAP_DMA with GET_DIRTY_BITMAP, room for a bitmap in argsz but no bitmap (the runner always passes one)', st);
          put({
            op: 'unmap_dma',
            args: {
              container: fdArg(a.fd, proc, st),
              iova: (a.iova as bigint | undefined) ?? 0n,
              size: (a.size as bigint | undefined) ?? 0n,
              flags: (a.flags as number | undefined) ?? 0,
              argsz: (a.argsz as number | undefined) ?? (bm ? 48 : 24),
              bitmap_pgsize: bm ? bm.pgsize : undefined,
              bitmap_size: bm ? bm.size : undefined,
            },
          });
          break;
        }
        case 'VFIO_IOMMU_DIRTY_PAGES': {
          const bm = a.bitmap as { pgsize: bigint; size: bigint; accessible?: boolean } | undefined;
          if (bm && bm.accessible === false) unsup('a dirty bitmap at an inaccessible address', st);
          if (bm && bm.size > 1n << 28n) unsup('a dirty bitmap buffer above 256 MiB', st);
          const flags = a.flags as number;
          const get = (flags & 4) !== 0;
          put({
            op: 'dirty_pages',
            args: {
              container: fdArg(a.fd, proc, st),
              flags,
              argsz: (a.argsz as number | undefined) ?? (get ? 48 : 8),
              iova: a.iova as bigint | undefined,
              size: a.size as bigint | undefined,
              bitmap_pgsize: bm ? bm.pgsize : undefined,
              bitmap_size: bm ? bm.size : undefined,
            },
          });
          break;
        }
        case 'mmap': {
          // THP: the guest's anonymous memory follows its THP policy; locked_vm, pins and errnos
          // count 4K pages either way, only the IOMMU page sizes used differ (not observable here)
          if (a.backing !== undefined && a.backing !== '4k' && a.backing !== 'thp') unsup(`mmap backing ${String(a.backing)}`, st);
          const prot = ({ rw: 'RW', r: 'READ', w: 'WRITE', none: 'NONE' } as Record<string, string>)[(a.prot as string | undefined) ?? 'rw'];
          // a PROT_NONE guard first: mmap places the buffer right below it, so a range running past
          // the buffer's end faults as in the model (whose buffers have nothing mapped after them)
          emit({ op: 'mmap', args: { as: `_guard${seq}`, size: 0x10000, prot: 'NONE', touch: 0, on }, comment: `guard above ${String(a.as)}` });
          put({ op: 'mmap', args: { as: String(a.as), size: a.size as bigint, prot, touch: a.touch === false ? 0 : 1 } });
          bufs.set(String(a.as), proc);
          break;
        }
        case 'munmap':
          put({ op: 'munmap', args: rangeArgs(a, proc, st) });
          break;
        case 'mlock':
          put({ op: 'mlock', args: rangeArgs(a, proc, st) });
          break;
        case 'munlock':
          put({ op: 'munlock', args: rangeArgs(a, proc, st) });
          break;
        case 'setrlimit': {
          const s = String(a.memlock);
          const v = s === 'unlimited' || s === 'infinity' ? 'inf' : parseMemlock(s);
          if (v === undefined) unsup(`setrlimit ${s}`, st);
          put({ op: 'setrlimit', args: { memlock: v } });
          break;
        }
        case 'capset':
          put({ op: 'cap', args: { ipc_lock: a.CAP_IPC_LOCK === true ? 'raise' : 'drop' } });
          break;
        case 'set_param': {
          const entries = Object.entries(a).filter(([, v]) => v !== undefined);
          if (!entries.length) {
            put({ op: 'note', args: {} });
            break;
          }
          t.ownBoot = true;
          for (const [k, v] of entries) {
            const value = typeof v === 'boolean' ? (v ? 'Y' : 'N') : (v as number);
            const s: ScriptStep = { op: 'module_param', args: { module: 'vfio_iommu_type1', name: k, value } };
            if (m.runner === undefined) put(s);
            else emit({ ...s, args: { ...s.args, on } });
          }
          break;
        }
        case 'share_fd': {
          const to = String(a.to);
          const f = typeof a.fd === 'string' ? fds.get(a.fd) : undefined;
          if (!f || f.proc !== proc) unsup('share_fd of an fd the process does not hold', st);
          if (proc !== main.name) unsup('share_fd from a helper process', st);
          if (!procSpec.has(to)) unsup(`share_fd to unknown process ${to}`, st);
          if (forked.has(to)) {
            if (f!.born > (forkSeq.get(to) ?? 0)) unsup(`share_fd to ${to} of an fd opened after ${to} was forked`, st);
            put({ op: 'note', args: { share_fd: `${f!.name}->${to}` } });
          } else {
            const keep = new Set(
              [...fds.entries()].filter(([, x]) => x.proc === proc && x.name === f!.name).map(([n]) => n),
            );
            const i = ensureProc(to, st, keep);
            forkSeq.set(to, seq);
            m.runner = i;
          }
          // every fd shared later must already exist at the fork: remember shared names
          fds.set(String(a.as), { ...f!, proc: to });
          break;
        }
        case 'exit':
          if (proc === main.name) unsup('exit of the scenario\'s first process (the runner\'s scenario process)', st);
          if (!forked.has(proc)) ensureProc(proc, st);
          put({ op: 'proc_exit', args: { proc } });
          // proc_exit is run by the main process (no on=)
          t.steps[m.runner!]!.args = { proc };
          exited.add(proc);
          for (const [n, f] of fds) if (f.proc === proc) fds.delete(n);
          break;
        case 'mdev_create': {
          const parent = (host.mdev ?? []).find((p) => p.name === String(a.parent));
          const ti = parent ? parent.types.findIndex((x) => x.name === String(a.type)) : -1;
          if (!parent || ti < 0) unsup(`mdev_create on unknown parent/type ${String(a.parent)}/${String(a.type)}`, st);
          const typeDir = `${MDEV_TYPE_DIR}/platform-${ti === 0 ? 'a' : 'b'}/create`;
          const uuid = String(a.uuid);
          const label = String(a.name ?? uuid.trim());
          if (!UUID_RE.test(uuid)) {
            if (/[\s#]/.test(uuid.replace(/\n$/, '').replace(/ /g, '~'))) unsup('an mdev UUID with whitespace or #', st);
            put({ op: 'sysfs', args: { path: typeDir, value: uuid.replace(/\n$/, '').replace(/ /g, '~') } });
          } else if (instances.has(uuid.trim().toLowerCase()) || instances.has(label)) {
            const slot = instances.get(uuid.trim().toLowerCase()) ?? instances.get(label)!;
            put({ op: 'sysfs', args: { path: typeDir, value: slotUuid(slot) } });
          } else {
            if (nextSlot >= MAX_GUEST_MDEVS) unsup(`more than ${MAX_GUEST_MDEVS} mdev instances`, st);
            const slot = nextSlot++;
            instances.set(uuid.trim().toLowerCase(), slot);
            instances.set(label, slot);
            instParent.set(slot, parent!.driver);
            put({ op: 'note', args: { mdev_create: `mdev${slot}` } });
            t.mdevs = Math.max(t.mdevs, slot + 1);
          }
          break;
        }
        case 'mdev_remove': {
          const slot = instances.get(String(a.mdev)) ?? instances.get(String(a.mdev).toLowerCase());
          if (slot === undefined) unsup(`mdev_remove of an unknown instance ${String(a.mdev)}`, st);
          t.ownBoot = true;
          t.fatalLikely = true; // remove waits while the device is open
          put({ op: 'sysfs', args: { path: `/sys/bus/mdev/devices/${slotUuid(slot!)}/remove`, value: (a.value as number | undefined) ?? 1 } });
          break;
        }
        case 'vfio_pin_pages':
          put({ op: 'pin', args: { dev: fdArg(a.device, proc, st), iova: a.iova as bigint, npage: a.npage as number, prot: (a.prot as number | undefined) ?? 3 } });
          break;
        case 'vfio_unpin_pages':
          put({ op: 'unpin', args: { dev: fdArg(a.device, proc, st), iova: a.iova as bigint, npage: a.npage as number } });
          break;
        case 'vfio_dma_rw': {
          const len = a.len as bigint;
          if (len > 1n << 20n) unsup('vfio_dma_rw of more than 1 MiB', st);
          put({ op: 'dma_rw', args: { dev: fdArg(a.device, proc, st), iova: a.iova as bigint, len, write: a.write === true ? 1 : 0 } });
          break;
        }
        case 'vendor_unmap_policy': {
          const p = String(a.policy);
          if (p === 'repin') unsup('vendor_unmap_policy repin (the guest driver cannot pin inside dma_unmap)', st);
          if (a.unpin_on_close === false) unsup('unpin_on_close: false (the guest driver always unpins on close)', st);
          if (a.racy_record === true) unsup('racy_record (no concurrent steps in the runner)', st);
          if (p === 'ignore' && a.ignore === undefined) unsup('policy ignore without a count', st);
          if (p === 'never') {
            t.fatalLikely = true;
            t.ownBoot = true;
          }
          put({ op: 'unmap_mode', args: { dev: fdArg(a.device, proc, st), mode: p === 'unpin' ? 'unpin-all' : p, n: p === 'ignore' ? (a.ignore as number) : undefined } });
          break;
        }
        case 'vendor_state':
          put({ op: 'query', args: { dev: fdArg(a.device, proc, st) } });
          break;
        default:
          unsup(`op ${st.op}`, st);
      }
    }
  } catch (e) {
    if (!(e instanceof Unsupported)) throw e;
    t.unsupported.push(e.message);
  }
  return t;
}
function parseMemlock(s: string): bigint | undefined {
  const m = /^\s*(0x[0-9a-f]+|[0-9]+)\s*([KMGT]?)\s*$/i.exec(s);
  if (!m) return undefined;
  const mul = { '': 1n, K: 1n << 10n, M: 1n << 20n, G: 1n << 30n, T: 1n << 40n }[m[2]!.toUpperCase()]!;
  return BigInt(m[1]!) * mul;
}

// ---- results -> StepRecords ---------------------------------------------------------------

const CAP_IDS: Record<string, string> = { '1': 'IOVA_RANGE', '2': 'MIGRATION', '3': 'DMA_AVAIL' };

function big(v: string | undefined): bigint | undefined {
  if (v === undefined || v === '') return undefined;
  return v.startsWith('-') ? -BigInt(v.slice(1)) : BigInt(v);
}
function num(v: string | undefined): number | undefined {
  const b = big(v);
  return b === undefined ? undefined : Number(b);
}

/** Bitmap bytes (hex, bit k of byte j = page 8j+k) → the model's dirty page ranges [first, end). */
export function bitmapRanges(hexBytes: string): [number, number][] {
  const out: [number, number][] = [];
  let start = -1;
  let page = 0;
  for (let j = 0; j + 2 <= hexBytes.length; j += 2) {
    const byte = parseInt(hexBytes.slice(j, j + 2), 16);
    for (let k = 0; k < 8; k++, page++) {
      const set = (byte >> k) & 1;
      if (set && start < 0) start = page;
      if (!set && start >= 0) {
        out.push([start, page]);
        start = -1;
      }
    }
  }
  if (start >= 0) out.push([start, page]);
  return out;
}

/** Decode a runner result's fields into the model's names and types for the scenario op. */
export function decodeFields(op: string, r: StepResult, sent?: ScriptStep): Record<string, unknown> {
  const f = r.fields;
  if (r.ret < 0) return {};
  // the runner prints the first 64 bytes of a bitmap: a longer one is not observable
  const bmSize = sent?.args?.bitmap_size;
  if (bmSize !== undefined && BigInt(bmSize as bigint) > 64n) delete (f as Record<string, string | undefined>).bitmap;
  switch (op) {
    case 'mmap':
      return f.addr ? { addr: big(f.addr) } : {};
    case 'VFIO_GROUP_GET_STATUS': {
      const flags = num(f.flags) ?? 0;
      const names: string[] = [];
      if (flags & 1) names.push('VIABLE');
      if (flags & 2) names.push('CONTAINER_SET');
      return { flags: names };
    }
    case 'VFIO_IOMMU_GET_INFO': {
      const out: Record<string, unknown> = { argsz: num(f.argsz), flags: num(f.flags), iova_pgsizes: big(f.iova_pgsizes) };
      if (f.cap_offset !== undefined) out.cap_offset = num(f.cap_offset);
      if (f.caps) {
        out.caps = f.caps.split(',').filter(Boolean).map((c) => {
          const id = CAP_IDS[c.split('.')[0]!] ?? c;
          if (id === 'MIGRATION') return { id, flags: num(f.migration_flags), pgsize_bitmap: big(f.migration_pgsize_bitmap), max_dirty_bitmap_size: big(f.max_dirty_bitmap_size) };
          if (id === 'DMA_AVAIL') return { id, avail: num(f.dma_avail) };
          if (id === 'IOVA_RANGE') {
            return {
              id,
              iova_ranges: (f.iova_ranges ?? '').split(',').filter(Boolean).map((x) => {
                const [s, e] = x.split('-');
                return { start: big(s), end: big(e) };
              }),
            };
          }
          return { id };
        });
      }
      return out;
    }
    case 'VFIO_IOMMU_UNMAP_DMA': {
      const out: Record<string, unknown> = { size: big(f.size) };
      if (f.bitmap !== undefined) out.dirty = bitmapRanges(f.bitmap);
      return out;
    }
    case 'VFIO_IOMMU_DIRTY_PAGES':
      return f.bitmap !== undefined ? { dirty: bitmapRanges(f.bitmap) } : {};
    case 'vendor_state': {
      const calls = num(f.unmap_calls) ?? 0;
      const out: Record<string, unknown> = { driver_pins: num(f.pinned_pages), dma_unmap_calls: calls };
      if (calls === 0) out.dma_unmap_ranges = [];
      else if (calls === 1) out.dma_unmap_ranges = [[big(f.last_iova), big(f.last_length)]];
      return out;
    }
    default:
      return {};
  }
}

/** The kernel's answer to a BUG/hang/death, as the model's `fatal` text. */
export function fatalOf(r: StepResult): string | undefined {
  if (r.hung) {
    const bug = r.klog.find((l) => /kernel BUG at|BUG:|WARNING:|Oops/.test(l));
    return bug ? bug.trim() : 'hung (step timeout)';
  }
  if (r.died) return `died: ${r.died}`;
  return undefined;
}

/** Expectations that cannot be observed on the kernel (host-wide pins, dma_avail counter, WARN names, fields the runner does not report). */
export function kernelExpect(e: Expect | undefined, fields: Record<string, unknown>): { expect: Expect | undefined; unobservable: string[] } {
  if (!e) return { expect: undefined, unobservable: [] };
  const un: string[] = [];
  const out: Expect = { ...e, fields: {} };
  for (const k of ['pinned', 'dma_avail'] as const) {
    if (out[k] !== undefined) {
      un.push(k);
      delete out[k];
    }
  }
  if (out.warnings?.length) {
    un.push('warnings');
    delete out.warnings;
  }
  for (const [k, v] of Object.entries(e.fields)) {
    if (k in fields) out.fields[k] = v;
    else un.push(k);
  }
  return { expect: out, unobservable: un };
}

export interface KernelStepRecord extends StepRecord {
  /** expectations not checkable on the kernel */
  unobservable?: string[];
  /** runner script error (a translation bug, not a kernel answer) */
  scriptError?: string;
  skipped?: string;
}

/**
 * Map the runner's results for one translated scenario back to `StepRecord`s, one per scenario
 * step, checking the scenario's expectations exactly as the model run does (minus those the
 * kernel cannot show).
 */
export function recordsFromResults(t: Translation, results: StepResult[]): KernelStepRecord[] {
  const byI = new Map(results.map((r) => [r.i, r]));
  const out: KernelStepRecord[] = [];
  let stopped: string | undefined;
  let lastVmLck = 0;
  const lastByProc = new Map<string, number>();
  for (const m of t.map) {
    const st = m.step;
    const def = OPS[st.op];
    const base: KernelStepRecord = {
      i: st.index,
      line: st.line,
      op: st.op,
      process: st.process,
      call: def ? def.show(st.args) : st.op,
      ret: 0,
      errno: 0,
      fields: {},
      counters: { locked_vm: 0, VmLck: 0, pinned: NaN },
      klog: [],
      warnings: [],
      failures: [],
    };
    const vm = lastByProc.get(st.process) ?? (st.process === t.map[0]?.step.process ? lastVmLck : 0);
    base.counters = { locked_vm: vm / 4, VmLck: vm, pinned: NaN };
    if (m.skipped) {
      out.push({ ...base, notRun: true, skipped: m.skipped });
      continue;
    }
    const r = m.runner === undefined ? undefined : byI.get(m.runner);
    if (stopped || !r) {
      out.push({ ...base, notRun: true });
      continue;
    }
    const fatal = fatalOf(r);
    const fields = decodeFields(st.op, { ...r, fields: { ...r.fields } }, t.steps[m.runner!]);
    // an exited process has no mm (VmLck 0); proc_exit itself reports the runner's main process
    const vmlck = st.op === 'exit' ? 0 : r.vmlckKb >= 0 ? r.vmlckKb : vm;
    lastByProc.set(st.process, vmlck);
    if (st.process === t.map[0]?.step.process) lastVmLck = vmlck;
    const errno = r.ret < 0 && !fatal ? r.errno : 0;
    let ret = fatal ? 0 : r.ret < 0 ? -1 : r.ret;
    if (FD_RET_OPS.has(st.op) && r.ret >= 0) ret = Number(r.fields.fd ?? r.ret);
    const rec: KernelStepRecord = {
      ...base,
      ret,
      errno,
      fields,
      counters: { locked_vm: vmlck / 4, VmLck: vmlck, pinned: NaN },
      klog: r.klog,
      fatal,
    };
    if (r.error) {
      rec.scriptError = r.error;
      rec.failures = [`kernel backend script error: ${r.error}`];
    } else {
      const { expect, unobservable } = kernelExpect(st.expect, fields);
      // process names and pids in kernel messages are the runner's: compare without them
      const anon = (l: string): string => l.replace(/Task \S+ \(\d+\)/g, 'Task');
      rec.failures = checkExpect(expect && { ...expect, klog: expect.klog?.map(anon) }, { ...rec, klog: rec.klog.map(anon) });
      if (unobservable.length) rec.unobservable = unobservable;
    }
    if (fatal) stopped = fatal;
    out.push(rec);
  }
  return out;
}

export { errnoByName, errnoName };
