/**
 * Loading a scenario file: YAML -> raw document -> `Scenario` (validated, defaults applied).
 * Every problem becomes a ScenarioError with file:line:col and the field path.
 */
import { readFileSync } from 'node:fs';
import { isMap, LineCounter, parseDocument } from 'yaml';
import type { Document, Node } from 'yaml';
import { DEFAULT_PROFILE, getProfile, PROFILES, SWITCH_NAMES, withSwitches } from '../kernel/profile.js';
import type { ProfileSwitches } from '../kernel/profile.js';
import type { Type1Params } from '../kernel/kernel.js';
import type { Capability } from '../host/task.js';
import type { DeviceDriver } from '../iommu/group.js';
import type { HostSpec } from '../sys/system.js';
import { FieldError, pathString, ScenarioError } from './errors.js';
import type { Decoded, FieldSpec } from './fields.js';
import { decodeFields } from './fields.js';
import type { AddrExpr, Path } from './values.js';
import * as V from './values.js';
import { OPS } from './registry.js';
import { MODEL_INVARIANTS } from '../sys/invariants.js';

export interface Expect {
  ret?: number;
  errno?: number;
  locked_vm?: number;
  VmLck?: number;
  pinned?: number;
  dma_avail?: number;
  fatal?: string | true;
  warnings?: string[];
  klog?: string[];
  /** returned fields to compare (raw YAML values, compared after normalisation) */
  fields: Record<string, unknown>;
}

export interface Step {
  readonly index: number;
  readonly line: number;
  /** Path of the step's operation in the document (for errors found after loading) */
  readonly path?: Path;
  readonly op: string;
  readonly args: Decoded;
  readonly process: string;
  readonly expect?: Expect;
  readonly note?: string;
}

/** A concurrent thread of `vfiolab explore`: steps run in order on one process. */
export interface ThreadDef {
  readonly name: string;
  readonly process: string;
  readonly steps: Step[];
}

/** Exploration settings of a scenario (`explore:`), all optional. */
export interface ExploreSpec {
  strategy?: 'dfs' | 'pct' | 'random' | 'portfolio';
  preemption_bound?: number;
  max_executions?: number;
  max_ms?: number;
  seed?: number;
  /** invariant names to check (default: all) */
  invariants?: string[];
  /** expected verdict: `none` (no failure) or the failure key / invariant name expected */
  expect?: string;
  /** the same scenario on a buggy profile or switch, with its expected failure */
  buggy?: { profile?: string; switches?: Record<string, boolean>; expect: string };
}

export const exploreSpec: Record<string, FieldSpec> = {
  strategy: { type: { enum: ['dfs', 'pct', 'random', 'portfolio'] }, doc: 'exploration strategy (default portfolio)' },
  preemption_bound: { type: 'int', doc: 'DFS preemption bound (default 2)' },
  max_executions: { type: 'int', doc: 'execution budget' },
  max_ms: { type: 'int', doc: 'time budget in ms (default 10000)' },
  seed: { type: 'int', doc: 'seed of PCT/random' },
  invariants: { type: { list: 'string' }, doc: 'invariants to check (default: all)' },
  expect: { type: 'string', doc: 'none, or the invariant/outcome expected to fail' },
  buggy: {
    type: {
      object: {
        profile: { type: 'string', doc: 'kernel profile with the bug' },
        switches: { type: { object: Object.fromEntries(SWITCH_NAMES.map((n) => [n, { type: 'bool', doc: n } as FieldSpec])) }, doc: 'switches with the bug' },
        expect: { type: 'string', required: true, doc: 'the invariant/outcome that must fail there' },
      },
    },
    doc: 'where the bug lives: explore must find `expect` there, and none on this file\'s own kernel',
  },
};

export interface Scenario {
  readonly file: string;
  readonly name: string;
  readonly description: string;
  readonly profile: string;
  readonly params: Partial<Type1Params>;
  /** fault injection (kernel.fail) */
  readonly fail: { site: string; nth: number } | null;
  /** profile switches overridden by the file */
  readonly switches: Partial<ProfileSwitches>;
  readonly host: HostSpec;
  readonly steps: Step[];
  /** Concurrent threads (explore), run after `steps`. */
  readonly threads: ThreadDef[];
  /** Steps run after every thread finished (explore). */
  readonly teardown: Step[];
  readonly explore: ExploreSpec;
  /** Extension sections (mdev, threads, ...) kept raw for their own loaders. */
  readonly raw: Record<string, unknown>;
  readonly doc: Document;
  readonly lines: LineCounter;
}

const TOP_KEYS = ['name', 'description', 'kernel', 'host', 'steps', 'threads', 'teardown', 'explore', 'tags'];
const STEP_META = ['expect', 'process', 'note'];
const EXPECT_KEYS = ['ret', 'errno', 'locked_vm', 'VmLck', 'pinned', 'dma_avail', 'fatal', 'warnings', 'klog'];

export const processSpec: Record<string, FieldSpec> = {
  name: { type: 'string', required: true, doc: 'process name (comm); steps select it with process:' },
  pid: { type: 'int', doc: 'pid (default 1000, 1001, ...)' },
  memlock: { type: 'string', doc: 'RLIMIT_MEMLOCK: bytes (64M) or unlimited (default 8M, as systemd sets it)' },
  caps: { type: { list: { enum: ['CAP_IPC_LOCK', 'CAP_SYS_RAWIO', 'CAP_SYS_ADMIN'] } }, doc: 'effective capabilities, e.g. [CAP_IPC_LOCK] (default none)' },
};

export const deviceSpec: Record<string, FieldSpec> = {
  name: { type: 'string', required: true, doc: 'label used in steps (gpu0, nic0, ...)' },
  bdf: { type: 'string', doc: 'PCI address (default 0000:0N:00.0)' },
  group: { type: 'int', required: true, doc: 'IOMMU group number' },
  driver: { type: { enum: ['vfio-pci', 'pci-stub', 'none', 'host'] }, doc: 'bound driver (default vfio-pci)' },
  bars: { type: { list: 'size' }, doc: 'BAR sizes, e.g. [16M, 256M]' },
  bridge: { type: 'bool', doc: 'a PCI bridge (does not affect viability)' },
};

export const iommuSpec: Record<string, FieldSpec> = {
  aperture_bits: { type: 'int', doc: 'IOVA aperture width (default 39)' },
  pgsizes: { type: { list: 'size' }, doc: 'page sizes, e.g. [4K, 2M, 1G] (default)' },
  intr_remap: { type: 'bool', doc: 'interrupt remapping present (default true)' },
  cache_coherent: { type: 'bool', doc: 'can enforce cache coherency (default true)' },
  msi_window: { type: 'bool', doc: 'reserve the x86 MSI window 0xfee00000-0xfeefffff (default true)' },
  driver_pin_pages: { type: 'bool', doc: 'the IOMMU driver implements pin_pages (default true; false models e.g. SPAPR TCE)' },
};

export const mdevTypeSpec: Record<string, FieldSpec> = {
  name: { type: 'string', required: true, doc: 'type name (sysfs directory <driver>-<name>)' },
  available_instances: { type: 'int', doc: 'instances that can be created (default 4)' },
  device_api: { type: { enum: ['vfio-pci', 'vfio-platform', 'vfio-amba', 'vfio-ccw', 'vfio-ap'] }, doc: 'device_api attribute (default vfio-pci)' },
  description: { type: 'string', doc: 'description attribute' },
};

export const mdevParentSpec: Record<string, FieldSpec> = {
  name: { type: 'string', required: true, doc: 'parent device name' },
  driver: { type: { enum: ['vgpu', 'mtty', 'misbehaving'] }, required: true, doc: 'sample vendor driver' },
  types: { type: { list: { object: mdevTypeSpec } }, required: true, doc: 'supported types' },
};

export const kernelSpec: Record<string, FieldSpec> = {
  profile: { type: { enum: Object.keys(PROFILES) }, doc: `kernel profile (default ${DEFAULT_PROFILE})` },
  params: {
    type: {
      object: {
        dma_entry_limit: { type: 'int', doc: 'vfio_iommu_type1.dma_entry_limit (default 65535)' },
        disable_hugepages: { type: 'bool', doc: 'vfio_iommu_type1.disable_hugepages' },
        allow_unsafe_interrupts: { type: 'bool', doc: 'vfio_iommu_type1.allow_unsafe_interrupts' },
      },
    },
    doc: 'module parameters at boot',
  },
  fail: {
    type: { object: { site: { type: 'string', required: true, doc: 'fallible call site, e.g. kzalloc(vfio_pfn), kzalloc(vfio_dma), iommu_map' }, nth: { type: 'int', doc: 'which call fails (default 1)' } } },
    doc: 'fault injection: make the nth call of one site fail (as iommufd_fail_nth does)',
  },
  switches: {
    type: { object: Object.fromEntries(SWITCH_NAMES.map((n) => [n, { type: 'bool', doc: `profile switch ${n} (src/kernel/profile.ts)` } as FieldSpec])) },
    doc: 'override single profile switches, e.g. { replayUnwind: false } to reproduce a fixed bug',
  },
};

export class DocCtx {
  constructor(
    readonly file: string,
    readonly doc: Document,
    readonly lc: LineCounter,
  ) {}

  pos(path: Path): { line: number; col: number } {
    for (let p = path; ; p = p.slice(0, -1)) {
      const node = (p.length ? this.doc.getIn(p, true) : this.doc.contents) as Node | undefined;
      const range = node && typeof node === 'object' && 'range' in node ? node.range : undefined;
      if (range) {
        const lp = this.lc.linePos(range[0]);
        return { line: lp.line, col: lp.col };
      }
      if (p.length === 0) return { line: 1, col: 1 };
    }
  }

  /** The key's own position for an unknown/extra key */
  keyPos(path: Path): { line: number; col: number } {
    const parent = path.slice(0, -1);
    const key = path[path.length - 1];
    const node = (parent.length ? this.doc.getIn(parent, true) : this.doc.contents) as unknown;
    if (isMap(node)) {
      for (const pair of node.items) {
        const k = pair.key as Node | null;
        if (k && 'value' in k && (k as { value: unknown }).value === key && k.range) {
          const lp = this.lc.linePos(k.range[0]);
          return { line: lp.line, col: lp.col };
        }
      }
    }
    return this.pos(path);
  }

  error(path: Path, msg: string): ScenarioError {
    const { line, col } = this.keyPos(path);
    return new ScenarioError(this.file, line, col, pathString(path), msg);
  }

  wrap<T>(fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      if (e instanceof FieldError) throw this.error(e.path, e.message);
      throw e;
    }
  }
}

function asList(v: unknown, path: Path): unknown[] {
  if (v === undefined || v === null) return [];
  if (Array.isArray(v)) return v;
  if (typeof v === 'string') return v.split(',').map((x) => x.trim()).filter(Boolean);
  throw new FieldError(path, 'expected a list');
}

export function memlockField(v: unknown, path: Path): bigint {
  if (v === 'unlimited' || v === 'infinity') return (1n << 64n) - 1n;
  return V.size(v, path);
}

function decodeHost(c: DocCtx, raw: unknown): HostSpec {
  const path: Path = ['host'];
  if (raw === undefined) raw = {};
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw c.error(path, 'expected a mapping with processes, devices, iommu');
  const h = raw as Record<string, unknown>;
  for (const k of Object.keys(h)) if (!['processes', 'devices', 'iommu', 'mdev'].includes(k)) throw c.error([...path, k], 'unknown field; expected processes, devices, iommu, mdev');
  const procsRaw = h.processes === undefined ? [{ name: 'qemu' }] : h.processes;
  if (!Array.isArray(procsRaw)) throw c.error([...path, 'processes'], 'expected a list of processes');
  const processes = procsRaw.map((p, i) =>
    c.wrap(() => {
      const pp: Path = [...path, 'processes', i];
      const d = decodeFields(processSpec, p, pp);
      const caps = ((d.caps as string[] | undefined) ?? []) as Capability[];
      const ml = (p as Record<string, unknown>).memlock;
      return {
        name: String(d.name),
        pid: d.pid as number | undefined,
        memlock: ml === undefined ? 8n << 20n : memlockField(ml, [...pp, 'memlock']),
        caps,
      };
    }),
  );
  const names = new Set<string>();
  for (const [i, p] of processes.entries()) {
    if (names.has(p.name)) throw c.error([...path, 'processes', i, 'name'], `duplicate process name ${p.name}`);
    names.add(p.name);
  }
  const devRaw = h.devices ?? [];
  if (!Array.isArray(devRaw)) throw c.error([...path, 'devices'], 'expected a list of devices');
  const devices = devRaw.map((dv, i) =>
    c.wrap(() => {
      const dp: Path = [...path, 'devices', i];
      const d = decodeFields(deviceSpec, dv, dp);
      const bars = ((d.bars as bigint[] | undefined) ?? []).map((size) => ({ size }));
      return {
        label: String(d.name),
        bdf: (d.bdf as string | undefined) ?? `0000:${(i + 1).toString(16).padStart(2, '0')}:00.0`,
        group: d.group as number,
        driver: ((d.driver as string | undefined) ?? 'vfio-pci') as DeviceDriver,
        bars,
        bridge: d.bridge === true,
      };
    }),
  );
  let iommu: HostSpec['iommu'];
  if (h.iommu !== undefined) {
    iommu = c.wrap(() => {
      const ip: Path = [...path, 'iommu'];
      const d = decodeFields(iommuSpec, h.iommu, ip);
      const out: Record<string, unknown> = {};
      if (d.aperture_bits !== undefined) out.apertureBits = d.aperture_bits;
      if (d.intr_remap !== undefined) out.intrRemap = d.intr_remap;
      if (d.cache_coherent !== undefined) out.enforceCacheCoherency = d.cache_coherent;
      if (d.msi_window === false) out.resv = [];
      if (d.driver_pin_pages === false) out.noPinPages = true;
      if (d.pgsizes !== undefined) out.pgsizeBitmap = (d.pgsizes as bigint[]).reduce((acc, x) => acc | x, 0n);
      return out as HostSpec['iommu'];
    });
  }
  const mdevRaw = h.mdev ?? [];
  if (!Array.isArray(mdevRaw)) throw c.error([...path, 'mdev'], 'expected a list of mdev parents');
  const mdev = mdevRaw.map((m, i) =>
    c.wrap(() => {
      const d = decodeFields(mdevParentSpec, m, [...path, 'mdev', i]);
      const types = (d.types as Decoded[]).map((t) => ({
        name: String(t.name),
        available_instances: (t.available_instances as number | undefined) ?? 4,
        device_api: ((t.device_api as string | undefined) ?? 'vfio-pci') as 'vfio-pci',
        description: t.description as string | undefined,
      }));
      return { name: String(d.name), driver: String(d.driver), types };
    }),
  );
  return { processes, devices, iommu, mdev };
}

function decodeExpect(c: DocCtx, raw: unknown, path: Path): Expect {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw c.error(path, `expected a mapping of expectations (${EXPECT_KEYS.join(', ')} or returned fields)`);
  const e: Expect = { fields: {} };
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    const p = [...path, k];
    c.wrap(() => {
      switch (k) {
        case 'ret':
          if (typeof v !== 'number' || !Number.isInteger(v)) throw new FieldError(p, 'expected an integer');
          e.ret = v;
          break;
        case 'errno':
          e.errno = V.errnoValue(v, p);
          break;
        case 'locked_vm':
        case 'pinned':
        case 'dma_avail':
          if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new FieldError(p, 'expected a page count (integer >= 0)');
          e[k] = v;
          break;
        case 'VmLck':
          if (typeof v === 'number') e.VmLck = v;
          else {
            const m = typeof v === 'string' ? /^\s*([0-9]+)\s*kB\s*$/.exec(v) : null;
            if (m) e.VmLck = Number(m[1]);
            else e.VmLck = Number(V.size(v, p) / 1024n);
          }
          break;
        case 'fatal':
          if (v !== true && typeof v !== 'string') throw new FieldError(p, 'expected true or a substring of the fatal message');
          e.fatal = v;
          break;
        case 'warnings':
        case 'klog':
          e[k] = asList(v, p).map(String);
          break;
        default:
          e.fields[k] = v;
      }
    });
  }
  return e;
}

/** Names defined so far (fds, buffers), to catch typos at load time. */
interface Names {
  fds: Set<string>;
  bufs: Set<string>;
}

function checkNames(c: DocCtx, op: string, args: Decoded, path: Path, names: Names): void {
  const spec = OPS[op]!.fields;
  for (const [k, f] of Object.entries(spec)) {
    const v = args[k];
    if (v === undefined) continue;
    if (f.type === 'fd' && typeof v === 'string' && !names.fds.has(v)) throw c.error([...path, k], `unknown fd "${v}"; name it with "as:" in an earlier step (known: ${[...names.fds].join(', ') || 'none'})`);
    if (f.type === 'addr') {
      const e = v as AddrExpr;
      if (e.base && !names.bufs.has(e.base)) throw c.error([...path, k], `unknown buffer "${e.base}"; create it with mmap (as: ${e.base}) first (known: ${[...names.bufs].join(', ') || 'none'})`);
    }
  }
  if (args.as !== undefined) {
    if (op === 'mmap' || op === 'mmap_bar') names.bufs.add(String(args.as));
    else names.fds.add(String(args.as));
  }
}

/** Decode one step mapping. `extraOps` lets extensions (mdev, ...) add operations. */
export function decodeStep(c: DocCtx, raw: unknown, path: Path, index: number, defaultProc: string, procs: Set<string>, names: Names): Step {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw c.error(path, 'expected a mapping with one operation, e.g. "- VFIO_IOMMU_MAP_DMA: {...}"');
  const r = raw as Record<string, unknown>;
  const opKeys = Object.keys(r).filter((k) => !STEP_META.includes(k));
  if (opKeys.length !== 1) {
    throw c.error(path, opKeys.length === 0 ? 'no operation in this step' : `one operation per step, found ${opKeys.join(', ')}`);
  }
  const op = opKeys[0]!;
  const def = OPS[op];
  if (!def) throw c.error([...path, op], `unknown operation; known operations: ${Object.keys(OPS).join(', ')}`);
  const args = c.wrap(() => decodeFields(def.fields, r[op], [...path, op]));
  if (op === 'setrlimit') c.wrap(() => memlockField(r[op] && (r[op] as Record<string, unknown>).memlock, [...path, op, 'memlock']));
  checkNames(c, op, args, [...path, op], names);
  let process = defaultProc;
  if (r.process !== undefined) {
    if (typeof r.process !== 'string' || !procs.has(r.process)) throw c.error([...path, 'process'], `unknown process ${JSON.stringify(r.process)}; expected one of ${[...procs].join(', ')}`);
    process = r.process;
  }
  const expect = r.expect === undefined ? undefined : decodeExpect(c, r.expect, [...path, 'expect']);
  const line = c.pos(path).line;
  return { index, line, path: [...path, op], op, args, process, expect, note: typeof r.note === 'string' ? r.note : undefined };
}

export function parseScenario(text: string, file: string): Scenario {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  const c = new DocCtx(file, doc, lc);
  if (doc.errors.length) {
    const e = doc.errors[0]!;
    const lp = lc.linePos(e.pos[0]);
    throw new ScenarioError(file, lp.line, lp.col, '', `YAML syntax: ${e.message.split('\n')[0]}`);
  }
  const js = doc.toJS({ maxAliasCount: 100 }) as unknown;
  if (typeof js !== 'object' || js === null || Array.isArray(js)) throw c.error([], 'a scenario is a mapping with name, host, steps');
  const top = js as Record<string, unknown>;
  for (const k of Object.keys(top)) if (!TOP_KEYS.includes(k)) throw c.error([k], `unknown top-level field; expected ${TOP_KEYS.join(', ')}`);
  if (typeof top.name !== 'string' || !top.name) throw c.error(['name'], 'missing or empty "name" (a one-line title for the scenario)');
  const kern = c.wrap(() => decodeFields(kernelSpec, top.kernel, ['kernel']));
  const host = decodeHost(c, top.host);
  const procs = new Set(host.processes.map((p) => p.name));
  const defaultProc = host.processes[0]!.name;
  const names: Names = { fds: new Set(), bufs: new Set() };
  const stepsRaw = top.steps ?? [];
  if (!Array.isArray(stepsRaw)) throw c.error(['steps'], 'expected a list of steps');
  if (stepsRaw.length === 0 && !top.threads) throw c.error(['steps'], 'no steps');
  const steps = stepsRaw.map((s, i) => decodeStep(c, s, ['steps', i], i, defaultProc, procs, names));
  const threads: ThreadDef[] = [];
  if (top.threads !== undefined) {
    if (typeof top.threads !== 'object' || top.threads === null || Array.isArray(top.threads)) throw c.error(['threads'], 'expected a mapping: thread name -> { process, steps }');
    let idx = steps.length;
    for (const [tn, tv] of Object.entries(top.threads as Record<string, unknown>)) {
      const tp: Path = ['threads', tn];
      if (typeof tv !== 'object' || tv === null || Array.isArray(tv)) throw c.error(tp, 'expected { process, steps }');
      const t = tv as Record<string, unknown>;
      for (const k of Object.keys(t)) if (k !== 'process' && k !== 'steps') throw c.error([...tp, k], 'unknown field; expected process, steps');
      const proc = t.process === undefined ? defaultProc : String(t.process);
      if (!procs.has(proc)) throw c.error([...tp, 'process'], `unknown process ${JSON.stringify(t.process)}; expected one of ${[...procs].join(', ')}`);
      if (!Array.isArray(t.steps) || t.steps.length === 0) throw c.error([...tp, 'steps'], 'expected a non-empty list of steps');
      threads.push({ name: tn, process: proc, steps: t.steps.map((s, i) => decodeStep(c, s, [...tp, 'steps', i], idx++, proc, procs, names)) });
    }
  }
  const tdRaw = top.teardown ?? [];
  if (!Array.isArray(tdRaw)) throw c.error(['teardown'], 'expected a list of steps');
  const teardown = tdRaw.map((s, i) => decodeStep(c, s, ['teardown', i], steps.length + 1000 + i, defaultProc, procs, names));
  const explore = c.wrap(() => decodeFields(exploreSpec, top.explore, ['explore'])) as ExploreSpec;
  for (const [i, n] of (explore.invariants ?? []).entries()) {
    if (!MODEL_INVARIANTS.some((x) => x.name === n)) throw c.error(['explore', 'invariants', i], `unknown invariant ${JSON.stringify(n)}; known: ${MODEL_INVARIANTS.map((x) => x.name).join(', ')}`);
  }
  if (explore.buggy?.profile !== undefined && !PROFILES[explore.buggy.profile]) throw c.error(['explore', 'buggy', 'profile'], `unknown profile; known: ${Object.keys(PROFILES).join(', ')}`);
  const params = (kern.params as Partial<Type1Params> | undefined) ?? {};
  const sc: Scenario = {
    file,
    name: top.name,
    description: typeof top.description === 'string' ? top.description : '',
    profile: (kern.profile as string | undefined) ?? DEFAULT_PROFILE,
    params,
    switches: (kern.switches as Partial<ProfileSwitches> | undefined) ?? {},
    fail: kern.fail ? { site: String((kern.fail as Decoded).site), nth: ((kern.fail as Decoded).nth as number | undefined) ?? 1 } : null,
    host,
    steps,
    threads,
    teardown,
    explore,
    raw: top,
    doc,
    lines: lc,
  };
  checkProfileFit(sc);
  return sc;
}

/**
 * Check every step against the kernel it will run on (the file's profile and switches, or the
 * ones a run overrides them with): a form that kernel's API does not have is a ScenarioError at
 * the offending field, e.g. a `user_pfn` list on 6.1.
 */
export function checkProfileFit(sc: Scenario): void {
  const base = getProfile(sc.profile);
  if (!base) return;
  const p = withSwitches(base, sc.switches);
  let c: DocCtx | null = null;
  for (const st of [...sc.steps, ...sc.threads.flatMap((t) => t.steps), ...sc.teardown]) {
    const e = OPS[st.op]?.check?.(st.args, p);
    if (!e) continue;
    c ??= new DocCtx(sc.file, sc.doc, sc.lines);
    throw c.error([...(st.path ?? [st.op]), ...e.path], e.message);
  }
}

export function loadScenario(file: string): Scenario {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ScenarioError(file, 0, 0, '', `cannot read: ${(e as Error).message}`);
  }
  return parseScenario(text, file);
}

