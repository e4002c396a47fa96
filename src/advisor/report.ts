/**
 * The memlock advisor's report: what the kernel model needs against what libvirt and KubeVirt
 * set for the same VM.
 */
import { humanSize } from '../util/units.js';
import type { Advice } from './simulate.js';
import { adviseMemlock } from './simulate.js';
import type { RuleResult, Verdict } from './rules.js';
import { assessLimit, kubevirtMemlockLimit, libvirtMemlockLimit } from './rules.js';
import type { VmDescription } from './vm.js';

export interface StackVerdict {
  stack: string;
  rule: RuleResult;
  verdict: Verdict;
  headroom: bigint | 'unbounded';
}

export interface MemlockReport {
  vm: VmDescription;
  advice: Advice;
  stacks: StackVerdict[];
}

export function memlockReport(vm: VmDescription, profile?: string): MemlockReport {
  const advice = adviseMemlock(vm, profile);
  const stacks: StackVerdict[] = [];
  const add = (stack: string, rule: RuleResult): void => {
    const a = assessLimit(rule, advice.minimalBytes);
    stacks.push({ stack, rule, verdict: a.verdict, headroom: a.headroomBytes });
  };
  add('libvirt (current, >= 8.7)', libvirtMemlockLimit(vm, { version: 'current' }));
  add('libvirt (flat, ~6.0-8.6)', libvirtMemlockLimit(vm, { version: 'flat' }));
  add('KubeVirt (overhead + requests)', kubevirtMemlockLimit(vm, { version: 'overhead' }));
  add('KubeVirt (per-device)', kubevirtMemlockLimit(vm, { version: 'per-device' }));
  return { vm, advice, stacks };
}

function bytes(b: bigint | 'unlimited' | 'unbounded'): string {
  if (typeof b !== 'bigint') return b;
  const neg = b < 0n;
  const a = neg ? -b : b;
  const h =
    a >= 1n << 30n
      ? `${(Number(a) / 2 ** 30).toFixed(a % (1n << 30n) === 0n ? 0 : 2)} GiB`
      : a >= 1n << 20n
        ? `${(Number(a) / 2 ** 20).toFixed(a % (1n << 20n) === 0n ? 0 : 2)} MiB`
        : humanSize(a);
  return `${neg ? '-' : ''}${h} (${b.toString()} bytes)`;
}

export function formatReport(r: MemlockReport): string {
  const { vm, advice } = r;
  const lines: string[] = [];
  lines.push(
    `VM: ${vm.guestRamBytes >> 20n} MiB RAM (${vm.backing}), ${vm.passthroughDevices} passthrough, ${vm.mdev.count} mdev` +
      `${vm.mdev.count && vm.mdev.pinning ? ` (working set ${Math.min(vm.mdev.pinning.workingSetPages, Number(vm.guestRamBytes >> 12n))} pages)` : ''}, vIOMMU ${vm.viommu ? 'on' : 'off'}` +
      `${vm.lockedMemoryBacking ? ', <locked/>' : ''}${vm.hotplugPlan?.length ? `, hot-plug: ${vm.hotplugPlan.map((s) => `${s.op} ${s.kind}`).join(', ')}` : ''}`,
  );
  lines.push('');
  lines.push(`peak locked_vm:        ${advice.peakPages} pages = ${bytes(BigInt(advice.peakPages) << 12n)}`);
  if (advice.minimalBytes < 0n) {
    lines.push(`the VM cannot start at any limit: ${advice.below?.what ?? '?'} -> ${advice.below?.errno ?? 'failure'}`);
    return lines.join('\n');
  }
  lines.push(`minimal RLIMIT_MEMLOCK: ${bytes(advice.minimalBytes)}`);
  if (advice.below) lines.push(`one page less fails at: ${advice.below.what} -> ${advice.below.errno ?? 'failure'} (locked_vm ${advice.below.locked_vm})`);
  lines.push('');
  lines.push('steps at the minimal limit (locked_vm in pages after each):');
  for (const s of advice.at.steps) lines.push(`  ${s.ok ? ' ' : '!'} ${s.what.padEnd(62)} ${String(s.locked_vm).padStart(10)}${s.errno ? ' ' + s.errno : ''}`);
  lines.push('');
  lines.push('what the management stacks set:');
  for (const s of r.stacks) {
    const v = s.verdict === 'too-low' ? `TOO LOW by ${bytes(-(s.headroom as bigint))}` : s.verdict === 'generous' ? `fine, ${bytes(s.headroom)} more than needed` : s.verdict === 'ok' ? `fine (headroom ${bytes(s.headroom)})` : s.verdict;
    lines.push(`  ${s.stack.padEnd(32)} ${bytes(s.rule.bytes).padEnd(34)} ${v}`);
    lines.push(`  ${''.padEnd(32)} ${s.rule.rule}: ${s.rule.explanation}`);
  }
  return lines.join('\n');
}
