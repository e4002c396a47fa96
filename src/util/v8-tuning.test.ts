/**
 * tuneV8: raises the inlining budget once per process, unless VFIOLAB_V8_DEFAULTS is set, and
 * says which configuration runs. Each case is a fresh node process (V8 flags are per process).
 */
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const mod = fileURLToPath(new URL('./v8-tuning.ts', import.meta.url));
const script = `const m = await import(${JSON.stringify(mod)}); console.log(JSON.stringify([m.tuneV8(), m.tuneV8(), m.v8Config()]));`;

function run(env: Record<string, string>): [boolean, boolean, string] {
  const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, ...env } });
  return JSON.parse(out.trim()) as [boolean, boolean, string];
}

describe('tuneV8', () => {
  it('raises the budget once and reports it', () => {
    const env: Record<string, string> = {};
    if (process.env.VFIOLAB_V8_DEFAULTS !== undefined) env.VFIOLAB_V8_DEFAULTS = '';
    expect(run(env)).toEqual([true, true, 'V8 inlining budget 5000 (tuneV8)']);
  });
  it('keeps V8 defaults with VFIOLAB_V8_DEFAULTS=1', () => {
    expect(run({ VFIOLAB_V8_DEFAULTS: '1' })).toEqual([false, false, 'V8 defaults']);
  });
});
