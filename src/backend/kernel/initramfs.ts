/**
 * Initramfs images for the guest: a cached base archive per kernel (busybox,
 * runner, modules, init) and a small per-run archive with the scripts and a
 * config file, concatenated (the kernel unpacks concatenated newc archives).
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { findBusybox, hashFiles, kernelPaths, readStamp, repoRoot, runnerPath, type KernelId } from './config.js';
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

/** Index the module files of an unpacked kernel tree by name (`-` and `_` are interchangeable). */
export function indexModules(modulesRoot: string): Map<string, string> {
  const index = new Map<string, string>();
  if (!existsSync(modulesRoot)) return index;
  for (const f of walk(modulesRoot)) {
    const m = /^(.*)\.ko(\.xz|\.zst|\.gz)?$/.exec(f.split('/').pop()!);
    if (m) index.set(m[1]!.replace(/-/g, '_'), f);
  }
  return index;
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
export function ensureBaseInitramfs(id: KernelId, release: string, force = false): { path: string; built: boolean } {
  const out = baseInitramfsPath(id);
  const busybox = findBusybox();
  if (!busybox) throw new Error('static busybox not found (apt-get install busybox-static)');
  const runner = runnerPath();
  const mdev = join(kernelPaths(id).build, 'vfiolab_mdev.ko');
  const init = join(repoRoot(), 'kernel', 'initramfs', 'init');
  for (const p of [runner, mdev]) if (!existsSync(p)) throw new Error(`missing ${p}: run \`vfiolab setup kernel\``);
  const hash = hashFiles([runner, mdev, init, join(repoRoot(), 'kernel', 'initramfs', 'modules.list')], busybox + statSync(busybox).size + release);
  const stamp = out + '.stamp';
  if (!force && existsSync(out) && readStamp(stamp) === hash) return { path: out, built: false };

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
  const modules = indexModules(modRoot);
  const loaded: string[] = [];
  for (const m of moduleList()) {
    const src = m === 'vfiolab_mdev' ? mdev : modules.get(m.replace(/-/g, '_'));
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
  return { path: out, built: true };
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
  const base = ensureBaseInitramfs(id, release).path;
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
