/**
 * Where the real-kernel backend keeps things, and which Debian kernels it uses.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';

export type KernelId = '6.1' | '6.12';
export const KERNEL_IDS: readonly KernelId[] = ['6.1', '6.12'];

export interface KernelSpec {
  id: KernelId;
  /** Debian ABI name (`uname -r`), the pinned default. */
  release: string;
  /** apt-cache search pattern for a newer ABI of the same series (fallback when the pinned one is gone). */
  releasePattern: RegExp;
  /** linux-kbuild package name for a given release. */
  kbuild: (release: string) => string;
}

export const KERNELS: Record<KernelId, KernelSpec> = {
  '6.1': {
    id: '6.1',
    release: '6.1.0-56-amd64',
    releasePattern: /^linux-image-(6\.1\.0-\d+-amd64)$/,
    kbuild: () => 'linux-kbuild-6.1',
  },
  '6.12': {
    id: '6.12',
    release: '6.12.117+deb12-amd64',
    releasePattern: /^linux-image-(6\.12\.\d+\+deb12-amd64)$/,
    kbuild: (r) => `linux-kbuild-${r.replace(/-amd64$/, '')}`,
  },
};

/** Debian packages whose binaries the host needs (installed with apt-get). */
export const HOST_PACKAGES = ['qemu-system-x86', 'busybox-static', 'cpio', 'gcc', 'libc6-dev', 'make', 'xz-utils', 'zstd'];

/** Host commands, and the package that brings each. */
export const HOST_COMMANDS: Record<string, string> = {
  'qemu-system-x86_64': 'qemu-system-x86',
  cpio: 'cpio',
  gcc: 'gcc',
  make: 'make',
  xz: 'xz-utils',
  zstd: 'zstd',
  'dpkg-deb': 'dpkg',
  'apt-get': 'apt',
};

/** Static busybox from busybox-static (Debian installs it as /bin/busybox). */
export const BUSYBOX_CANDIDATES = ['/bin/busybox', '/usr/bin/busybox'];

export function cacheDir(): string {
  const env = process.env.VFIOLAB_CACHE;
  return env && env.length > 0 ? resolve(env) : join(homedir(), '.cache', 'vfiolab');
}

/** The repository root (holds kernel/). Works from src/ (tsx) and dist/ (tsc). */
export function repoRoot(): string {
  const env = process.env.VFIOLAB_REPO;
  if (env) return resolve(env);
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let k = 0; k < 6; k++) {
    if (existsSync(join(dir, 'kernel', 'runner', 'vfiolab-runner.c'))) return dir;
    dir = dirname(dir);
  }
  return resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
}

export interface KernelPaths {
  /** dpkg -x root of image + headers + kbuild */
  root: string;
  /** marker written after a complete unpack; holds the release name */
  stamp: string;
  build: string;
}

export function kernelPaths(id: KernelId): KernelPaths {
  const root = join(cacheDir(), 'kernels', id);
  return { root, stamp: join(root, '.vfiolab-unpacked'), build: join(cacheDir(), 'build', id) };
}

/** A short content hash of files (and their paths) plus extra text: the key of a build stamp. */
export function hashFiles(files: string[], extra = ''): string {
  const h = createHash('sha256');
  for (const f of files) {
    h.update(f);
    h.update(readFileSync(f));
  }
  h.update(extra);
  return h.digest('hex').slice(0, 16);
}

/** A one-line stamp file's content, or null when it does not exist. */
export function readStamp(path: string): string | null {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return null;
  }
}

/** The Debian ABI unpacked for a kernel (written by setup), or null when it is not set up. */
export function unpackedRelease(id: KernelId): string | null {
  return readStamp(kernelPaths(id).stamp);
}

export function runnerPath(): string {
  return join(cacheDir(), 'build', 'vfiolab-runner');
}

export function debsDir(): string {
  return join(cacheDir(), 'debs');
}

/** Which executable is on PATH (null if none). */
export function which(cmd: string): string | null {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  const p = r.stdout.trim();
  return r.status === 0 && p ? p : null;
}

/** True when an ELF64 file has no PT_INTERP header (statically linked). */
export function isStaticElf(path: string): boolean {
  const buf = readFileSync(path);
  if (buf.length < 64 || buf.readUInt32BE(0) !== 0x7f454c46 || buf[4] !== 2) return false;
  const phoff = Number(buf.readBigUInt64LE(0x20));
  const phentsize = buf.readUInt16LE(0x36);
  const phnum = buf.readUInt16LE(0x38);
  for (let k = 0; k < phnum; k++) {
    const off = phoff + k * phentsize;
    if (off + 4 > buf.length) return false;
    if (buf.readUInt32LE(off) === 3) return false; // PT_INTERP
  }
  return true;
}

export function findBusybox(): string | null {
  for (const p of BUSYBOX_CANDIDATES) {
    if (existsSync(p) && isStaticElf(p)) return p;
  }
  return null;
}
