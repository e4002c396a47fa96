/**
 * `vfiolab setup kernel`: make the real-kernel backend ready on this machine.
 *
 *  1. host packages (apt-get install qemu-system-x86 busybox-static cpio gcc …)
 *  2. per kernel: apt-get download image + headers + kbuild, dpkg -x into the cache
 *     (never installed onto the host), point the headers' Makefile at the cache
 *  3. build the static runner and the vfiolab_mdev module per kernel
 *  4. build the base initramfs per kernel
 *
 * Idempotent: every piece is skipped when present and up to date.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  cacheDir,
  debsDir,
  findBusybox,
  hashFiles,
  HOST_COMMANDS,
  HOST_PACKAGES,
  KERNEL_IDS,
  KERNELS,
  kernelPaths,
  readStamp,
  repoRoot,
  runnerPath,
  unpackedRelease,
  which,
  type KernelId,
} from './config.js';
import { isRoot, run, runOk } from './exec.js';
import { ensureBaseInitramfs } from './initramfs.js';

export interface SetupOptions {
  kernels?: KernelId[];
  /** Install missing Debian packages with apt-get (needs root). Default true. */
  installPackages?: boolean;
  /** Run `apt-get update` first: 'auto' (when a package is unknown), 'always', 'never'. Default 'auto'. */
  aptUpdate?: 'auto' | 'always' | 'never';
  /** Rebuild runner, modules and initramfs even when up to date. */
  force?: boolean;
  log?: (msg: string) => void;
}

export interface SetupStep {
  name: string;
  status: 'done' | 'skipped' | 'failed';
  ms: number;
  detail?: string;
  /** The command that fixes a failed step by hand. */
  fix?: string;
}

export interface SetupReport {
  ok: boolean;
  cache: string;
  kernels: Partial<Record<KernelId, string>>;
  steps: SetupStep[];
  totalMs: number;
}

export function installCommand(pkgs: string[]): string {
  return `apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${pkgs.join(' ')}`;
}

export function missingHostPieces(): { commands: string[]; packages: string[] } {
  const commands: string[] = [];
  const packages = new Set<string>();
  for (const [cmd, pkg] of Object.entries(HOST_COMMANDS)) {
    if (!which(cmd)) {
      commands.push(cmd);
      packages.add(pkg);
    }
  }
  if (!findBusybox()) {
    commands.push('busybox (static)');
    packages.add('busybox-static');
  }
  if (!existsSync('/usr/include/linux/vfio.h') || !existsSync('/usr/include/stdio.h')) {
    commands.push('libc/linux headers');
    packages.add('libc6-dev');
    packages.add('linux-libc-dev');
  }
  return { commands, packages: [...packages] };
}


/** Is `pkg` known to apt (has a candidate)? */
function aptKnows(pkg: string): boolean {
  const r = run('apt-cache', ['policy', pkg]);
  return r.status === 0 && /Candidate: (?!\(none\))/.test(r.stdout);
}

/** The kernel ABI to use: the pinned one if apt has it, else the newest of the same series. */
export function resolveRelease(id: KernelId): string {
  const spec = KERNELS[id];
  const unpacked = unpackedRelease(id);
  if (unpacked) return unpacked;
  if (process.env[`VFIOLAB_KERNEL_${id.replace('.', '_')}`]) return process.env[`VFIOLAB_KERNEL_${id.replace('.', '_')}`]!;
  if (aptKnows(`linux-image-${spec.release}`)) return spec.release;
  const r = run('apt-cache', ['search', '--names-only', `^linux-image-${id.replace('.', '\\.')}`]);
  const found = r.stdout
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .map((n) => spec.releasePattern.exec(n)?.[1])
    .filter((x): x is string => !!x)
    .sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
  return found.at(-1) ?? spec.release;
}

export function kernelPackages(id: KernelId, release: string): string[] {
  return [
    `linux-image-${release}`,
    `linux-headers-${release}`,
    `linux-headers-${release.replace(/-amd64$/, '-common')}`,
    KERNELS[id].kbuild(release),
  ];
}

function findDeb(pkg: string): string | null {
  const dir = debsDir();
  if (!existsSync(dir)) return null;
  const hit = readdirSync(dir).find((f) => f.startsWith(`${pkg}_`) && f.endsWith('.deb'));
  return hit ? join(dir, hit) : null;
}

/** The unpacked headers folder (…/usr/src/linux-headers-<release>). */
export function headersDir(id: KernelId, release: string): string {
  return join(kernelPaths(id).root, 'usr', 'src', `linux-headers-${release}`);
}

export function vmlinuzPath(id: KernelId, release: string): string {
  return join(kernelPaths(id).root, 'boot', `vmlinuz-${release}`);
}

export function modulePath(id: KernelId): string {
  return join(kernelPaths(id).build, 'vfiolab_mdev.ko');
}

function unpackKernel(id: KernelId, release: string, log: (m: string) => void): void {
  const paths = kernelPaths(id);
  mkdirSync(debsDir(), { recursive: true });
  const pkgs = kernelPackages(id, release);
  const missing = pkgs.filter((p) => !findDeb(p));
  if (missing.length) {
    log(`downloading ${missing.join(' ')}`);
    runOk('apt-get', ['download', ...missing], { cwd: debsDir() });
  }
  rmSync(paths.root, { recursive: true, force: true });
  mkdirSync(paths.root, { recursive: true });
  for (const p of pkgs) {
    const deb = findDeb(p);
    if (!deb) throw new Error(`package file for ${p} not found in ${debsDir()} after apt-get download`);
    log(`unpacking ${deb.split('/').pop()}`);
    runOk('dpkg-deb', ['-x', deb, paths.root]);
  }
  // The arch headers' Makefile includes the common headers by absolute /usr/src path: point it into the cache.
  const hdr = headersDir(id, release);
  const common = join(paths.root, 'usr', 'src', `linux-headers-${release.replace(/-amd64$/, '-common')}`);
  writeFileSync(join(hdr, 'Makefile'), `include ${common}/Makefile\n`);
  if (!existsSync(vmlinuzPath(id, release))) throw new Error(`no vmlinuz in ${paths.root}/boot after unpacking`);
  writeFileSync(paths.stamp, release + '\n');
}

export interface Built {
  path: string;
  /** false when the existing output was up to date */
  built: boolean;
}

export function buildRunner(force = false): Built {
  const src = join(repoRoot(), 'kernel', 'runner', 'vfiolab-runner.c');
  const uapi = join(repoRoot(), 'kernel', 'vfiolab-mdev', 'vfiolab_mdev_uapi.h');
  const out = runnerPath();
  const stamp = out + '.stamp';
  const hash = hashFiles([src, uapi]);
  if (!force && existsSync(out) && readStamp(stamp) === hash) return { path: out, built: false };
  mkdirSync(join(cacheDir(), 'build'), { recursive: true });
  const tmp = `${out}.${process.pid}.tmp`;
  runOk('gcc', ['-static', '-O2', '-Wall', '-o', tmp, src]);
  renameSync(tmp, out);
  writeFileSync(stamp, hash + '\n');
  return { path: out, built: true };
}

export function buildModule(id: KernelId, release: string, force = false): Built {
  const srcDir = join(repoRoot(), 'kernel', 'vfiolab-mdev');
  const files = ['vfiolab_mdev.c', 'vfiolab_mdev_uapi.h', 'Kbuild'].map((f) => join(srcDir, f));
  const out = modulePath(id);
  const stamp = out + '.stamp';
  const hash = hashFiles(files, release);
  if (!force && existsSync(out) && readStamp(stamp) === hash) return { path: out, built: false };
  const work = join(kernelPaths(id).build, `mdev-src.${process.pid}`);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  for (const f of files) copyFileSync(f, join(work, f.split('/').pop()!));
  // No pahole here: skip BTF generation for the module (6.12 headers ask for it).
  runOk('make', ['-C', headersDir(id, release), `M=${work}`, 'CONFIG_DEBUG_INFO_BTF_MODULES=', 'modules']);
  copyFileSync(join(work, 'vfiolab_mdev.ko'), `${out}.${process.pid}.tmp`);
  renameSync(`${out}.${process.pid}.tmp`, out);
  rmSync(work, { recursive: true, force: true });
  writeFileSync(stamp, hash + '\n');
  return { path: out, built: true };
}

export async function setupKernel(opts: SetupOptions = {}): Promise<SetupReport> {
  const t0 = Date.now();
  const log = opts.log ?? (() => {});
  const kernels = opts.kernels ?? [...KERNEL_IDS];
  const report: SetupReport = { ok: true, cache: cacheDir(), kernels: {}, steps: [], totalMs: 0 };
  const step = (name: string, fn: () => string | 'skipped', fix?: string): boolean => {
    const s0 = Date.now();
    try {
      const detail = fn();
      report.steps.push({ name, status: detail === 'skipped' ? 'skipped' : 'done', ms: Date.now() - s0, detail });
      log(`${name}: ${detail}`);
      return true;
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      report.ok = false;
      report.steps.push({ name, status: 'failed', ms: Date.now() - s0, detail: msg, ...(fix ? { fix } : {}) });
      log(`${name}: FAILED\n${msg}${fix ? `\n  fix: ${fix}` : ''}`);
      return false;
    }
  };

  mkdirSync(cacheDir(), { recursive: true });
  let updated = false;
  const aptUpdate = () => {
    if (updated || opts.aptUpdate === 'never') return;
    log('apt-get update');
    runOk('apt-get', ['update', '-qq']);
    updated = true;
  };

  // 1. host packages
  const hostOk = step(
    'host packages',
    () => {
      const miss = missingHostPieces();
      if (!miss.packages.length) return 'skipped';
      if (opts.installPackages === false || !isRoot()) {
        throw new Error(`missing: ${miss.commands.join(', ')}`);
      }
      if (opts.aptUpdate === 'always' || opts.aptUpdate === undefined || opts.aptUpdate === 'auto') aptUpdate();
      runOk('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...HOST_PACKAGES], {
        env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      });
      const still = missingHostPieces();
      if (still.packages.length) throw new Error(`still missing after install: ${still.commands.join(', ')}`);
      return `installed ${HOST_PACKAGES.join(' ')}`;
    },
    installCommand(HOST_PACKAGES),
  );

  // 2. kernels
  for (const id of kernels) {
    let release = KERNELS[id].release;
    step(
      `kernel ${id} download+unpack`,
      () => {
        const paths = kernelPaths(id);
        const have = unpackedRelease(id);
        if (have && existsSync(vmlinuzPath(id, have))) {
          release = have;
          return 'skipped';
        }
        if (opts.aptUpdate === 'always') aptUpdate();
        if (!aptKnows(`linux-image-${KERNELS[id].release}`)) aptUpdate();
        release = resolveRelease(id);
        unpackKernel(id, release, log);
        return `linux ${release} in ${paths.root}`;
      },
      `cd ${debsDir()} && apt-get download ${kernelPackages(id, KERNELS[id].release).join(' ')}`,
    );
    report.kernels[id] = release;
  }

  if (!hostOk) {
    report.totalMs = Date.now() - t0;
    return report;
  }

  // 3. builds
  const shown = (b: Built) => (b.built ? b.path : 'skipped');
  step('runner (static)', () => shown(buildRunner(opts.force)), `gcc -static -O2 -o ${runnerPath()} kernel/runner/vfiolab-runner.c`);
  for (const id of kernels) {
    const release = report.kernels[id]!;
    if (!existsSync(headersDir(id, release))) continue;
    step(
      `module vfiolab_mdev for ${id}`,
      () => shown(buildModule(id, release, opts.force)),
      `make -C ${headersDir(id, release)} M=<copy of kernel/vfiolab-mdev> CONFIG_DEBUG_INFO_BTF_MODULES= modules`,
    );
    step(`initramfs for ${id}`, () => shown(ensureBaseInitramfs(id, release, opts.force)));
  }
  report.totalMs = Date.now() - t0;
  return report;
}

export function formatSetupReport(r: SetupReport): string {
  const lines = [`vfiolab kernel backend setup (${r.ok ? 'ok' : 'FAILED'}, ${(r.totalMs / 1000).toFixed(1)} s, cache ${r.cache})`];
  for (const s of r.steps) {
    lines.push(`  ${s.status === 'failed' ? '✗' : s.status === 'skipped' ? '·' : '✓'} ${s.name} (${s.ms} ms)${s.status === 'done' && s.detail ? `: ${s.detail}` : ''}`);
    if (s.status === 'failed') {
      lines.push(...(s.detail ?? '').split('\n').map((l) => `      ${l}`));
      if (s.fix) lines.push(`      fix: ${s.fix}`);
    }
  }
  return lines.join('\n');
}
