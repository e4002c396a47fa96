/**
 * `vfiolab doctor` for the real-kernel backend: what is ready, as data and text.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  cacheDir,
  findBusybox,
  HOST_COMMANDS,
  HOST_PACKAGES,
  KERNEL_IDS,
  kernelPaths,
  runnerPath,
  unpackedRelease,
  which,
  type KernelId,
} from './config.js';
import { baseInitramfsPath } from './initramfs.js';
import { installCommand, missingHostPieces } from './setup.js';

export interface DoctorCheck {
  name: string;
  ok: boolean;
  detail: string;
  /** What fixes it. */
  fix?: string;
}

export interface KernelReadiness {
  id: KernelId;
  release: string | null;
  vmlinuz: boolean;
  module: boolean;
  initramfs: boolean;
  /** Everything needed to boot this kernel is present. */
  ready: boolean;
}

export interface DoctorReport {
  cache: string;
  checks: DoctorCheck[];
  kernels: KernelReadiness[];
  /** At least one kernel can be booted. */
  ready: boolean;
  kvmUsable: boolean;
}

function kvmUsable(): boolean {
  // /dev/kvm may exist without working; TCG is used unless asked otherwise.
  return existsSync('/dev/kvm') && existsSync('/sys/module/kvm');
}

export function kernelReadiness(id: KernelId): KernelReadiness {
  const p = kernelPaths(id);
  const release = unpackedRelease(id);
  const vmlinuz = !!release && existsSync(join(p.root, 'boot', `vmlinuz-${release}`));
  const module = existsSync(join(p.build, 'vfiolab_mdev.ko'));
  const initramfs = existsSync(baseInitramfsPath(id));
  return { id, release, vmlinuz, module, initramfs, ready: vmlinuz && module && existsSync(runnerPath()) };
}

export function doctor(): DoctorReport {
  const checks: DoctorCheck[] = [];
  for (const [cmd, pkg] of Object.entries(HOST_COMMANDS)) {
    const p = which(cmd);
    checks.push({ name: cmd, ok: !!p, detail: p ?? 'not found', ...(p ? {} : { fix: `apt-get install -y ${pkg}` }) });
  }
  const bb = findBusybox();
  checks.push({ name: 'busybox (static)', ok: !!bb, detail: bb ?? 'not found', ...(bb ? {} : { fix: 'apt-get install -y busybox-static' }) });
  const miss = missingHostPieces();
  const runner = runnerPath();
  checks.push({
    name: 'runner',
    ok: existsSync(runner),
    detail: existsSync(runner) ? runner : 'not built',
    ...(existsSync(runner) ? {} : { fix: 'vfiolab setup kernel' }),
  });
  const kernels = KERNEL_IDS.map(kernelReadiness);
  for (const k of kernels) {
    checks.push({
      name: `kernel ${k.id}`,
      ok: k.ready,
      detail: k.release
        ? `linux ${k.release}: vmlinuz ${k.vmlinuz ? 'ok' : 'missing'}, vfiolab_mdev.ko ${k.module ? 'ok' : 'missing'}, initramfs ${k.initramfs ? 'ok' : 'built on first run'}`
        : 'not downloaded',
      ...(k.ready ? {} : { fix: miss.packages.length ? `${installCommand(HOST_PACKAGES)} && vfiolab setup kernel` : 'vfiolab setup kernel' }),
    });
  }
  return { cache: cacheDir(), checks, kernels, ready: kernels.some((k) => k.ready) && miss.packages.length === 0, kvmUsable: kvmUsable() };
}

export function formatDoctor(r: DoctorReport): string {
  const lines = [`real-kernel backend: ${r.ready ? 'ready' : 'NOT ready'} (cache ${r.cache})`];
  for (const c of r.checks) {
    lines.push(`  ${c.ok ? '✓' : '✗'} ${c.name}: ${c.detail}${c.ok || !c.fix ? '' : `\n      fix: ${c.fix}`}`);
  }
  return lines.join('\n');
}
