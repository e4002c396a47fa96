/** Small process helpers for the kernel backend (node built-ins only). */
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';

export interface ExecResult {
  status: number;
  stdout: string;
  stderr: string;
  ms: number;
  /** The command line, for messages. */
  cmd: string;
}

export function shellQuote(a: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`;
}

export function run(cmd: string, args: string[], opts: SpawnSyncOptions = {}): ExecResult {
  const t0 = Date.now();
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, ...opts });
  const line = [cmd, ...args].map(shellQuote).join(' ');
  return {
    status: r.status ?? (r.error ? 127 : 1),
    stdout: String(r.stdout ?? ''),
    stderr: String(r.stderr ?? '') + (r.error ? `\n${r.error.message}` : ''),
    ms: Date.now() - t0,
    cmd: line,
  };
}

/** Run, throwing an Error that names the command and its last output lines when it fails. */
export function runOk(cmd: string, args: string[], opts: SpawnSyncOptions = {}): ExecResult {
  const r = run(cmd, args, opts);
  if (r.status !== 0) {
    const tail = (r.stderr + '\n' + r.stdout).trim().split('\n').slice(-12).join('\n');
    throw new Error(`command failed (exit ${r.status}): ${r.cmd}\n${tail}`);
  }
  return r;
}

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}
