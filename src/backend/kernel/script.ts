/**
 * Pure parts of the real-kernel backend: encoding steps into the runner's
 * line-based script format, and parsing the runner's output back into typed
 * results. No I/O here, so this runs (and is tested) everywhere.
 *
 * The format is documented in docs/kernel-backend.md.
 */

/** Every op the runner (kernel/runner/vfiolab-runner.c) understands. */
export const RUNNER_OPS = [
  'container_open',
  'group_open',
  'group_status',
  'group_set_container',
  'group_unset_container',
  'group_get_device_fd',
  'close',
  'get_api_version',
  'check_extension',
  'set_iommu',
  'get_info',
  'map_dma',
  'unmap_dma',
  'dirty_pages',
  'mmap',
  'mmap_bar',
  'munmap',
  'mlock',
  'munlock',
  'touch',
  'setrlimit',
  'cap',
  'status',
  'module_param',
  'sysfs',
  'proc_fork',
  'proc_exit',
  'pin',
  'unpin',
  'dma_rw',
  'unmap_mode',
  'query',
  'sleep',
  'shell',
  'timeout',
  'note',
  'reset',
] as const;

export type RunnerOp = (typeof RUNNER_OPS)[number];

/** An argument value: numbers are written as hex, strings verbatim. */
export type ArgValue = string | number | bigint | boolean;

export interface ScriptStep {
  op: RunnerOp;
  args?: Record<string, ArgValue | undefined>;
  /** Written as a trailing `# comment`; the runner ignores it. */
  comment?: string;
}

/** One step's result, as the runner reported it. */
export interface StepResult {
  /** Index of the step in its script (0-based, counting every non-comment line incl. `reset`). */
  i: number;
  /** 1-based line number in the script text. */
  line: number;
  op: string;
  /** The helper process (`proc_fork as=…`) that ran the step (`on=…`); absent for the main process. */
  proc?: string;
  /** The syscall/ioctl return value (-1 on failure; for a script error also -1 with `error` set). */
  ret: number;
  /** errno after a failed call, else 0. */
  errno: number;
  /** Symbolic errno (`ENOMEM`), '' when errno is 0. */
  errname: string;
  /** Op-specific output fields; all strings: `0x…` hex or decimal. */
  fields: Record<string, string>;
  /** VmLck of the scenario process after the step, in kB (-1 when unknown: hung/died). */
  vmlckKb: number;
  /** Time the step took inside the guest (ms; TCG, so slow). */
  ms: number;
  /** Kernel log lines produced during the step (from /dev/kmsg). */
  klog: string[];
  /** The step did not finish within its timeout (e.g. a kernel BUG left the process stuck). */
  hung?: boolean;
  /** The scenario process died during the step (`signal 9`, `exit 3`). */
  died?: string;
  /** A script error (unknown op, bad argument): not a kernel answer. */
  error?: string;
}

export interface ScriptRun {
  script: string;
  /** 'ok' | 'hung' | 'died' | 'unreadable' */
  result: string;
  ms: number;
  steps: StepResult[];
}

export interface RunnerOutput {
  begin?: { kernel: string; scripts: number; rlimit_memlock: string; ipc_lock: number; timeout_ms: number };
  /** `@@VFIOLAB-INIT` events from the guest init (uptime per phase, errors). */
  init: Record<string, unknown>[];
  scripts: ScriptRun[];
  /** True when `@@VFIOLAB-END` was seen (the runner finished). */
  ended: boolean;
  stuck: boolean;
  /** Lines that looked like ours but did not parse. */
  garbage: string[];
}

const SAFE_TOKEN = /^[^\s#=]+$/;
const SAFE_VALUE = /^[^\s#]*$/;

/** Format a numeric argument the way the runner parses it (hex; `-0x…` for negatives). */
export function formatNumber(v: number | bigint): string {
  const b = typeof v === 'bigint' ? v : BigInt(v);
  if (typeof v === 'number' && !Number.isInteger(v)) throw new Error(`not an integer: ${v}`);
  return b < 0n ? `-0x${(-b).toString(16)}` : `0x${b.toString(16)}`;
}

export function formatValue(v: ArgValue): string {
  if (typeof v === 'boolean') return v ? '1' : '0';
  if (typeof v === 'number' || typeof v === 'bigint') return formatNumber(v);
  if (!SAFE_VALUE.test(v)) throw new Error(`argument value must not contain whitespace or '#': ${JSON.stringify(v)}`);
  return v;
}

/** One script line for a step. */
export function encodeStep(step: ScriptStep): string {
  if (!(RUNNER_OPS as readonly string[]).includes(step.op)) throw new Error(`unknown runner op: ${step.op}`);
  const parts: string[] = [step.op];
  for (const [k, v] of Object.entries(step.args ?? {})) {
    if (v === undefined) continue;
    if (!SAFE_TOKEN.test(k)) throw new Error(`bad argument name: ${JSON.stringify(k)}`);
    parts.push(`${k}=${formatValue(v)}`);
  }
  let line = parts.join(' ');
  if (step.comment) line += ` # ${step.comment.replace(/[\r\n]+/g, ' ')}`;
  return line;
}

/** A whole script; step `i` of the result is `steps[i]`. */
export function encodeScript(steps: ScriptStep[], header?: string): string {
  const lines: string[] = [];
  if (header) for (const h of header.split('\n')) lines.push(`# ${h}`);
  for (const s of steps) lines.push(encodeStep(s));
  return lines.join('\n') + '\n';
}

/** Read a numeric output field (`0x…` or decimal) as a bigint. */
export function fieldBig(fields: Record<string, string>, key: string): bigint | undefined {
  const v = fields[key];
  if (v === undefined || v === '') return undefined;
  return v.startsWith('-') ? -BigInt(v.slice(1)) : BigInt(v);
}

/** Read a numeric output field as a number (throws when it is not a safe integer). */
export function fieldNum(fields: Record<string, string>, key: string): number | undefined {
  const b = fieldBig(fields, key);
  if (b === undefined) return undefined;
  if (b > BigInt(Number.MAX_SAFE_INTEGER) || b < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw new Error(`field ${key}=${fields[key]} is not a safe integer; use fieldBig`);
  }
  return Number(b);
}

function toStepResult(o: Record<string, unknown>): StepResult {
  const fields: Record<string, string> = {};
  const rawFields = (o.fields ?? {}) as Record<string, unknown>;
  for (const [k, v] of Object.entries(rawFields)) fields[k] = String(v);
  const r: StepResult = {
    i: Number(o.i),
    line: Number(o.line ?? 0),
    op: String(o.op ?? ''),
    ret: Number(o.ret ?? -1),
    errno: Number(o.errno ?? 0),
    errname: String(o.errname ?? ''),
    fields,
    vmlckKb: Number(o.vmlck_kb ?? -1),
    ms: Number(o.ms ?? 0),
    klog: Array.isArray(o.klog) ? o.klog.map(String) : [],
  };
  if (typeof o.proc === 'string') r.proc = o.proc;
  if (o.hung === true) r.hung = true;
  if (typeof o.died === 'string') r.died = o.died;
  if (typeof o.error === 'string') r.error = o.error;
  return r;
}

/**
 * Parse everything the guest wrote on the results port. Tolerates `\r\n`,
 * noise before/after and a cut-off end (a run that timed out).
 */
export function parseRunnerOutput(text: string): RunnerOutput {
  const out: RunnerOutput = { init: [], scripts: [], ended: false, stuck: false, garbage: [] };
  let current: ScriptRun | undefined;
  for (const rawLine of text.split('\n')) {
    const line = rawLine.replace(/\r/g, '').trim();
    const at = line.indexOf('@@VFIOLAB-');
    if (at < 0) continue;
    const rest = line.slice(at + '@@VFIOLAB-'.length);
    const sp = rest.indexOf(' ');
    const tag = sp < 0 ? rest : rest.slice(0, sp);
    const json = sp < 0 ? '' : rest.slice(sp + 1);
    let obj: Record<string, unknown>;
    try {
      obj = json ? (JSON.parse(json) as Record<string, unknown>) : {};
    } catch {
      out.garbage.push(line);
      continue;
    }
    switch (tag) {
      case 'INIT':
        out.init.push(obj);
        break;
      case 'BEGIN':
        out.begin = obj as unknown as RunnerOutput['begin'];
        break;
      case 'SCRIPT':
        current = { script: String(obj.script), result: 'incomplete', ms: 0, steps: [] };
        out.scripts.push(current);
        break;
      case 'SCENARIO':
        break;
      case 'STEP':
        if (!current) {
          current = { script: '?', result: 'incomplete', ms: 0, steps: [] };
          out.scripts.push(current);
        }
        current.steps.push(toStepResult(obj));
        break;
      case 'SCRIPT-END':
        if (current && current.script === String(obj.script)) {
          current.result = String(obj.result);
          current.ms = Number(obj.ms ?? 0);
        } else {
          out.scripts.push({ script: String(obj.script), result: String(obj.result), ms: Number(obj.ms ?? 0), steps: [] });
        }
        current = undefined;
        break;
      case 'END':
        out.ended = true;
        out.stuck = Number(obj.stuck ?? 0) !== 0;
        break;
      default:
        out.garbage.push(line);
    }
  }
  return out;
}
