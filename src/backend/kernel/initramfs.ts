/**
 * Initramfs images for the guest: a cached base archive per kernel (busybox,
 * runner, modules, init) and a small per-run archive with the scripts and a
 * config file, concatenated (the kernel unpacks concatenated newc archives).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { findBusybox, kernelPaths, repoRoot, runnerPath, type KernelId } from './config.js';
import { runOk } from './exec.js';

export function baseInitramfsPath(id: KernelId): string {
  return join(kernelPaths(id).build, 'base.cpio');
}

function walk(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else out.push(p);
  }
  return out;
}

/** Find a module file by name in an unpacked kernel tree (`-` and `_` are interchangeable). */
export function findModule(modulesRoot: string, name: string): string | null {
  if (!existsSync(modulesRoot)) return null;
  const norm = (s: string) => s.replace(/-/g, '_');
  const want = norm(name);
  for (const f of walk(modulesRoot)) {
    const base = f.split('/').pop()!;
    const m = /^(.*)\.ko(\.xz|\.zst|\.gz)?$/.exec(base);
    if (m && norm(m[1]!) === want) return f;
  }
  return null;
}

/** Copy a (maybe compressed) .ko to dest as a plain .ko (busybox insmod takes plain ones). */
function copyModule(src: string, dest: string): void {
  if (src.endsWith('.ko')) {
    copyFileSync(src, dest);
    return;
  }
  const tool = src.endsWith('.xz') ? 'xz' : src.endsWith('.zst') ? 'zstd' : 'gzip';
  const r = spawnSync(tool, ['-dc', src], { maxBuffer: 512 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`command failed: ${tool} -dc ${src}: ${String(r.stderr)}`);
  writeFileSync(dest, r.stdout);
}

function moduleList(): string[] {
  return readFileSync(join(repoRoot(), 'kernel', 'initramfs', 'modules.list'), 'utf8')
    .split('\n')
    .map((l) => l.replace(/#.*/, '').trim())
    .filter(Boolean);
}

/** Pack a folder as a newc archive with Debian's cpio (owner root). */
export function packCpio(dir: string, out: string): void {
  runOk('sh', ['-c', `cd "$1" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet > "$2"`, 'sh', dir, out]);
}

/**
 * Build (or reuse) the base initramfs for a kernel. Returns its path.
 * Needs: the unpacked kernel, the built runner and module, static busybox.
 */
export function ensureBaseInitramfs(id: KernelId, release: string, force = false): string {
  const out = baseInitramfsPath(id);
  const busybox = findBusybox();
  if (!busybox) throw new Error('static busybox not found (apt-get install busybox-static)');
  const runner = runnerPath();
  const mdev = join(kernelPaths(id).build, 'vfiolab_mdev.ko');
  const init = join(repoRoot(), 'kernel', 'initramfs', 'init');
  for (const p of [runner, mdev]) if (!existsSync(p)) throw new Error(`missing ${p}: run \`vfiolab setup kernel\``);
  const h = createHash('sha256');
  for (const p of [runner, mdev, init, join(repoRoot(), 'kernel', 'initramfs', 'modules.list')]) h.update(readFileSync(p));
  h.update(busybox + statSync(busybox).size + release);
  const hash = h.digest('hex').slice(0, 16);
  const stamp = out + '.stamp';
  if (!force && existsSync(out) && existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === hash) return out;

  // staged and packed under unique names, then renamed: concurrent runs never see a half-written archive
  const root = join(kernelPaths(id).build, `initramfs-root.${process.pid}`);
  rmSync(root, { recursive: true, force: true });
  for (const d of ['bin', 'lib/vfiolab', 'proc', 'sys', 'dev', 'tmp', 'vfiolab/scripts']) mkdirSync(join(root, d), { recursive: true });
  copyFileSync(busybox, join(root, 'bin', 'busybox'));
  chmodSync(join(root, 'bin', 'busybox'), 0o755);
  copyFileSync(init, join(root, 'init'));
  chmodSync(join(root, 'init'), 0o755);
  copyFileSync(runner, join(root, 'vfiolab-runner'));
  chmodSync(join(root, 'vfiolab-runner'), 0o755);
  const modRoot = join(kernelPaths(id).root, 'lib', 'modules', release);
  const loaded: string[] = [];
  for (const m of moduleList()) {
    const src = m === 'vfiolab_mdev' ? mdev : findModule(modRoot, m);
    if (!src) continue; // built in, or not in this kernel (vfio_virqfd on 6.12)
    copyModule(src, join(root, 'lib', 'vfiolab', `${m}.ko`));
    loaded.push(m);
  }
  if (!loaded.includes('vfio') || !loaded.includes('vfio_iommu_type1')) {
    throw new Error(`VFIO modules not found under ${modRoot}`);
  }
  writeFileSync(join(root, 'lib', 'vfiolab', 'modules.list'), loaded.join('\n') + '\n');
  const tmp = `${out}.${process.pid}.tmp`;
  packCpio(root, tmp);
  rmSync(root, { recursive: true, force: true });
  renameSync(tmp, out);
  writeFileSync(stamp, hash + '\n');
  return out;
}

export interface RunConfig {
  /** Number of mdev instances to create (roles mdev0…mdev{n-1}). */
  mdevs: number;
  /** Per-step timeout inside the guest, ms. */
  stepTimeoutMs: number;
  /** vfio_iommu_type1 module parameters set before the scripts run, e.g. { dma_entry_limit: 3 }. */
  type1Params?: Record<string, string | number>;
}

/** Write base + per-run archive into `dir/initrd.img`; scripts become /vfiolab/scripts/NNN.txt. */
export function buildRunInitrd(id: KernelId, release: string, scripts: string[], cfg: RunConfig, dir: string): string {
  const base = ensureBaseInitramfs(id, release);
  const root = join(dir, 'run-root');
  mkdirSync(join(root, 'vfiolab', 'scripts'), { recursive: true });
  scripts.forEach((s, k) => writeFileSync(join(root, 'vfiolab', 'scripts', `${String(k).padStart(3, '0')}.txt`), s));
  const params = Object.entries(cfg.type1Params ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  writeFileSync(
    join(root, 'vfiolab', 'config'),
    `MDEVS=${cfg.mdevs}\nTIMEOUT=${cfg.stepTimeoutMs}\nTYPE1_PARAMS="${params.replace(/[^A-Za-z0-9_=. -]/g, '')}"\n`,
  );
  const extra = join(dir, 'run.cpio');
  packCpio(root, extra);
  const img = join(dir, 'initrd.img');
  writeFileSync(img, Buffer.concat([readFileSync(base), readFileSync(extra)]));
  return img;
}
