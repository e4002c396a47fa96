/**
 * `vfiolab tour` (npm start): the curated demo scenarios, each with a sentence on what it shows.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pc from 'picocolors';
import { runCommand } from './run.js';

export const TOUR: { file: string; why: string }[] = [
  { file: 'core/map-charges-locked-vm.yaml', why: 'MAP_DMA pins the buffer and charges it to locked_vm; UNMAP gives it back.' },
  { file: 'accounting/memlock-limit-enomem.yaml', why: 'A map that would pass RLIMIT_MEMLOCK fails with ENOMEM and leaves nothing behind.' },
  { file: 'unmap/v2-bisect-einval.yaml', why: 'TYPE1v2 refuses to split a mapping; v1 would have unmapped it whole.' },
  { file: 'info/get-info-caps.yaml', why: 'GET_INFO: page sizes and the capability chain, with the argsz protocol.' },
];

export function scenariosDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const up of ['../../scenarios', '../scenarios', '../../../scenarios']) {
    const p = join(here, up);
    if (existsSync(p)) return p;
  }
  return 'scenarios';
}

export function tourCommand(): number {
  const dir = scenariosDir();
  let rc = 0;
  for (const t of TOUR) {
    const f = join(dir, t.file);
    if (!existsSync(f)) continue;
    process.stdout.write(pc.bold(`\n# ${t.why}\n`));
    rc = Math.max(rc, runCommand([f], {}));
  }
  return rc;
}
