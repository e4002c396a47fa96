/**
 * Stand-alone driver for the kernel backend until it is wired into `vfiolab`:
 *
 *   npx tsx src/backend/kernel/dev-cli.ts setup [6.1|6.12 …]
 *   npx tsx src/backend/kernel/dev-cli.ts doctor [--json]
 *   npx tsx src/backend/kernel/dev-cli.ts run 6.1|6.12 [--json] [--out results.json] [--keep] [--step-timeout MS] [--param k=v] script.txt …
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { boot, doctor, setupKernel, type KernelId } from './cli-entry.js';

function summarize(i: number, r: { i: number; op: string; proc?: string; ret: number; errname: string; vmlckKb: number; fields: Record<string, string>; klog: string[]; hung?: boolean; died?: string; error?: string }): string {
  const f = Object.entries(r.fields)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  const status = r.hung ? 'HUNG' : r.died ? `DIED(${r.died})` : r.error ? `ERROR(${r.error})` : `ret=${r.ret}${r.errname ? ` ${r.errname}` : ''}`;
  const klog = r.klog.length ? `\n      klog: ${r.klog.slice(0, 6).join('\n            ')}` : '';
  return `  [${i}] ${String(r.i).padStart(2)} ${(r.proc ? `${r.proc}:${r.op}` : r.op).padEnd(22)} ${status.padEnd(16)} vmlck=${r.vmlckKb} ${f}${klog}`;
}

async function main(): Promise<void> {
  const [cmd, ...rest] = process.argv.slice(2);
  if (cmd === 'setup') {
    const kernels = rest.filter((a) => a === '6.1' || a === '6.12') as KernelId[];
    const r = await setupKernel({ ...(kernels.length ? { kernels } : {}), log: (m) => console.error(m) });
    console.log(r.text);
    process.exitCode = r.ok ? 0 : 1;
  } else if (cmd === 'doctor') {
    const r = doctor();
    console.log(rest.includes('--json') ? JSON.stringify(r, null, 2) : r.text);
    process.exitCode = r.ready ? 0 : 1;
  } else if (cmd === 'run') {
    const kernel = rest.shift() as KernelId;
    const files: string[] = [];
    let json = false;
    let keep = false;
    let outFile: string | undefined;
    let stepTimeoutMs: number | undefined;
    const params: Record<string, string> = {};
    while (rest.length) {
      const a = rest.shift()!;
      if (a === '--json') json = true;
      else if (a === '--keep') keep = true;
      else if (a === '--out') outFile = rest.shift();
      else if (a === '--step-timeout') stepTimeoutMs = Number(rest.shift());
      else if (a === '--param') {
        const [k, v] = rest.shift()!.split('=');
        params[k!] = v ?? '';
      } else files.push(a);
    }
    const r = await boot(kernel, files.map((f) => readFileSync(f, 'utf8')), {
      keepDir: keep,
      ...(stepTimeoutMs ? { stepTimeoutMs } : {}),
      ...(Object.keys(params).length ? { type1Params: params } : {}),
    });
    if (outFile) {
      const record = {
        kernel: r.release,
        scripts: r.output.scripts.map((sc, k) => ({ file: files[k] ?? sc.script, result: sc.result, steps: sc.steps.map((st) => ({ ...st, ms: undefined })) })),
      };
      writeFileSync(outFile, JSON.stringify(record, null, 1) + '\n');
    }
    if (json) {
      console.log(JSON.stringify({ ...r, console: undefined, raw: undefined }, null, 2));
      return;
    }
    console.log(`kernel ${r.release}: wall ${r.wallMs} ms, guest ready at ${r.guestReadyMs} ms, done at ${r.guestDoneMs} ms${r.timedOut ? ' (TIMED OUT)' : ''}${r.dir ? `, files in ${r.dir}` : ''}`);
    r.output.scripts.forEach((s, k) => {
      console.log(`${files[k] ?? s.script}: ${s.result} (${s.ms} ms in guest)`);
      s.steps.forEach((st) => console.log(summarize(k, st)));
    });
    if (!r.output.begin) console.log(r.console.split('\n').slice(-30).join('\n'));
  } else {
    console.error('usage: dev-cli.ts setup [6.1|6.12] | doctor [--json] | run <6.1|6.12> [--json] [--keep] [--step-timeout MS] [--param k=v] script…');
    process.exitCode = 2;
  }
}

void main();
