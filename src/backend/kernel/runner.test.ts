/**
 * The runner's process-level ops (buffers, rlimit, caps, timeouts, script
 * errors) work on any Linux host: build it with the host's gcc and run it
 * outside a guest. VFIO ops need the guest (kernel.integration.test.ts).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot, which } from './config.js';
import { encodeScript, parseRunnerOutput } from './script.js';

const gcc = which('gcc');
const dir = mkdtempSync(join(tmpdir(), 'vfiolab-runner-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function build(): string {
  const out = join(dir, 'runner');
  const r = spawnSync('gcc', ['-O1', '-o', out, join(repoRoot(), 'kernel', 'runner', 'vfiolab-runner.c')], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return out;
}

describe.skipIf(!gcc || process.platform !== 'linux')('vfiolab-runner on the host', () => {
  it('runs scenarios in children, reports fields, script errors and hung steps', () => {
    const runner = build();
    const script = encodeScript([
      { op: 'mmap', args: { as: 'b', size: 256 * 1024 } },
      { op: 'mlock', args: { buf: 'b', size: 64 * 1024 } },
      { op: 'status' },
      { op: 'munmap', args: { buf: 'b' } },
      { op: 'note', args: { text: 'x' } },
      { op: 'map_dma', args: { container: 'nosuch', vaddr: 'b', iova: 0, size: 4096 } },
      { op: 'reset' },
      { op: 'status' },
      { op: 'timeout', args: { ms: 1500 } },
      { op: 'sleep', args: { ms: 8000 } },
    ]);
    const f = join(dir, 's.txt');
    writeFileSync(f, script);
    const r = spawnSync(runner, ['-t', '20000', f], { encoding: 'utf8', timeout: 40_000 });
    expect(r.status).toBe(0);
    const out = parseRunnerOutput(r.stdout);
    expect(out.ended).toBe(true);
    const steps = out.scripts[0]!.steps;
    expect(steps.map((s) => s.i)).toEqual([0, 1, 2, 3, 4, 5, 7, 8, 9]);
    expect(steps[0]!.fields.size).toBe('0x40000');
    expect(steps[1]!.vmlckKb).toBe(64);
    expect(steps[2]!.fields.vmlck_kb).toBe('64');
    expect(steps[3]!.vmlckKb).toBe(0);
    expect(steps[5]!.error).toMatch(/unknown fd name/);
    // after reset: a fresh process
    expect(steps[6]!.vmlckKb).toBe(0);
    expect(steps[8]).toMatchObject({ op: 'sleep', hung: true });
    expect(out.scripts[0]!.result).toBe('hung');
  }, 60_000);

  it('runs steps in a forked helper process with its own mm (on=)', () => {
    const runner = build();
    const f = join(dir, 'p.txt');
    writeFileSync(
      f,
      encodeScript([
        { op: 'mmap', args: { as: 'b', size: 128 * 1024 } },
        { op: 'proc_fork', args: { as: 'B' } },
        { op: 'mlock', args: { buf: 'b', size: 64 * 1024, on: 'B' } },
        { op: 'status' },
        { op: 'proc_exit', args: { proc: 'B' } },
        { op: 'status', args: { on: 'B' } },
      ]),
    );
    const r = spawnSync(runner, ['-t', '20000', f], { encoding: 'utf8', timeout: 40_000 });
    const steps = parseRunnerOutput(r.stdout).scripts[0]!.steps;
    expect(steps[2]).toMatchObject({ proc: 'B', ret: 0, vmlckKb: 64 });
    expect(steps[3]).toMatchObject({ vmlckKb: 0 });
    expect(steps[3]!.proc).toBeUndefined();
    expect(steps[5]!.error).toMatch(/unknown process/);
  }, 60_000);
});
