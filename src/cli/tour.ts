/**
 * `vfiolab tour` (npm start): the curated demo, each part with a sentence on what it shows:
 * scenarios on the model, the mediated-device accounting, the seed's test matrix, the memlock
 * advisor and the concurrency explorer finding the race the seed's reviewer spotted.
 */
import { existsSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import pc from 'picocolors';
import { runCommand } from './run.js';
import { memlockCommand } from './memlock.js';
import { exploreCommand } from './explore.js';

type Part = { why: string } & ({ run: string } | { memlock: string } | { explore: string });

export const TOUR: Part[] = [
  { run: 'scenarios/core/map-charges-locked-vm.yaml', why: 'MAP_DMA pins the buffer and charges it to locked_vm; UNMAP gives it back.' },
  { run: 'scenarios/accounting/memlock-limit-enomem.yaml', why: 'A map that would pass RLIMIT_MEMLOCK fails with ENOMEM and leaves nothing behind.' },
  { run: 'scenarios/unmap/v2-bisect-einval.yaml', why: 'TYPE1v2 refuses to split a mapping; v1 would have unmapped it whole.' },
  { run: 'scenarios/info/get-info-caps.yaml', why: 'GET_INFO: page sizes and the capability chain, with the argsz protocol.' },
  { run: 'scenarios/mdev/worked-example-5-5.yaml', why: 'A vGPU pins pages while a passthrough GPU comes and goes: locked_vm 0-2-2-8-8-1-0.' },
  { run: 'scenarios/seed-matrix/5-hotplug-passthrough-with-vgpu-below.yaml', why: "The seed's question: one page below the minimal limit, the GPU hot-plug is what fails." },
  { memlock: 'examples/vm-gpu-vgpu-hotplug.yaml', why: 'How much RLIMIT_MEMLOCK a 16 GiB VM with a GPU and a vGPU needs, against libvirt and KubeVirt.' },
  { explore: 'scenarios/bugs/v9-mlock-gap.yaml', why: "The race the seed's reviewer found by reading, found by the explorer (absent on 6.1)." },
];

/** The package root (where scenarios/ and examples/ are), from src/cli or dist/cli. */
export function packageRoot(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const up of ['../..', '..', '../../..']) {
    const p = join(here, up);
    if (existsSync(join(p, 'scenarios'))) return p;
  }
  return '.';
}

export function scenariosDir(): string {
  return join(packageRoot(), 'scenarios');
}

export async function tourCommand(): Promise<number> {
  const root = packageRoot();
  const rel = (f: string): string => relative(process.cwd(), join(root, f)) || f;
  let rc = 0;
  for (const t of TOUR) {
    process.stdout.write(pc.bold(`\n# ${t.why}\n`));
    if ('run' in t) rc = Math.max(rc, runCommand([rel(t.run)], {}));
    else if ('memlock' in t) rc = Math.max(rc, memlockCommand(rel(t.memlock), {}));
    else rc = Math.max(rc, await exploreCommand([rel(t.explore)], { check: true }));
  }
  return rc;
}
