#!/usr/bin/env node
/**
 * The `vfiolab` command line.
 */
import './tune.js'; // first: V8 settings before any model code is compiled
import { Command } from 'commander';
import { writeFileSync } from 'node:fs';
import { runCommand } from './run.js';
import { scenarioJsonSchema } from '../scenario/schema.js';
import { PROFILES } from '../kernel/profile.js';
import { tourCommand } from './tour.js';
import { conformanceCommand, diffCommand, doctorCommand, parseBackend, runOnKernelCommand, setupCommand } from './kernel.js';
import { fuzzCommand, type FuzzFlags } from './fuzz.js';
import type { MemlockFlags } from './memlock.js';
import { memlockCommand } from './memlock.js';
import type { ExploreFlags } from './explore.js';
import { exploreCommand, failNthCommand, replayCommand } from './explore.js';

const program = new Command();
program.name('vfiolab').description('An executable model of Linux VFIO type1 with mediated devices').version('0.1.0');

program
  .command('run')
  .description('run scenario files (or folders of them) and print a trace')
  .argument('<files...>', 'scenario YAML files or folders')
  .option('--json', 'emit the versioned JSONL trace instead of text')
  .option('-q, --quiet', 'print only failing scenarios and the summary')
  .option('--profile <name>', `kernel profile to run on (${Object.keys(PROFILES).join(', ')}); overrides the files`)
  .option('--backend <name>', 'model (default), kernel:6.1 or kernel:6.12 (a real kernel under QEMU; see vfiolab setup kernel)')
  .action(async (files: string[], o: { json?: boolean; quiet?: boolean; profile?: string; backend?: string }) => {
    const backend = parseBackend(o.backend);
    if (!backend) {
      process.stderr.write(`vfiolab: unknown backend "${o.backend}"; known: model, kernel:6.1, kernel:6.12\n`);
      process.exitCode = 2;
    } else process.exitCode = backend === 'model' ? runCommand(files, o) : await runOnKernelCommand(backend, files, o);
  });

program
  .command('schema')
  .description('print the JSON Schema of scenario files (for editor completion)')
  .option('-o, --out <file>', 'write to a file instead of stdout')
  .action((o: { out?: string }) => {
    const text = JSON.stringify(scenarioJsonSchema(), null, 2) + '\n';
    if (o.out) writeFileSync(o.out, text);
    else process.stdout.write(text);
  });

program
  .command('profiles')
  .description('list kernel profiles and their switches')
  .action(() => {
    for (const p of Object.values(PROFILES)) process.stdout.write(`${p.name.padEnd(6)} ${p.release}\n       ${p.description}\n`);
  });

program
  .command('memlock')
  .description('how much RLIMIT_MEMLOCK a VM needs for VFIO, and what libvirt/KubeVirt set')
  .argument('[vm.yaml]', 'a VM description file (or use the flags)')
  .option('--ram <size>', 'guest RAM, e.g. 16G')
  .option('--backing <kind>', 'RAM backing: 4k, thp, hugetlb-2M, hugetlb-1G', 'thp')
  .option('--passthrough <n>', 'vfio-pci devices at boot')
  .option('--mdev <n>', 'mediated devices (vGPUs) at boot')
  .option('--mdev-working-set <size>', 'memory each vGPU keeps pinned (default 256M)')
  .option('--viommu', 'guest-visible IOMMU')
  .option('--locked', '<memoryBacking><locked/>')
  .option('--hotplug <plan>', 'comma-separated: "add passthrough,remove mdev"')
  .option('--profile <name>', 'kernel profile')
  .option('--json', 'machine-readable report')
  .action((file: string | undefined, o: MemlockFlags) => {
    process.exitCode = memlockCommand(file, o);
  });

const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

/** --profile and the repeatable --switch, shared by the commands that run the model on a kernel profile. */
const kernelOptions = (c: Command): Command => c.option('--profile <name>', 'kernel profile').option('--switch <name=bool>', 'override a profile switch (repeatable)', collect);

kernelOptions(program.command('explore'))
  .description('explore the interleavings of a scenario\'s threads and check the model invariants')
  .argument('<files...>', 'scenario files with a threads: section (or report files with --merge)')
  .option('--strategy <name>', 'dfs, pct, random or portfolio')
  .option('--max-executions <n>', 'execution budget')
  .option('--max-ms <n>', 'time budget in ms')
  .option('--seed <n>', 'seed for pct/random')
  .option('--preemption-bound <n>', 'DFS preemption bound')
  .option('--workers <n>', 'explore on n worker threads')
  .option('--shard <i/n>', 'explore only shard i of n (combine reports with --merge)')
  .option('--out <file>', 'write the JSON report')
  .option('--check', 'check the file\'s explore.expect, and explore.buggy on its buggy kernel')
  .option('--merge', 'merge shard report files given as arguments')
  .option('--progress', 'show a progress line on stderr')
  .option('--json', 'JSON output')
  .action(async (files: string[], o: ExploreFlags) => {
    process.exitCode = await exploreCommand(files, o);
  });

kernelOptions(program.command('replay'))
  .description('replay one execution of a scenario from its replay token (byte-identical trace)')
  .argument('<file>', 'scenario file')
  .argument('<token>', 'replay token printed by explore')
  .option('--json', 'JSONL trace')
  .action((file: string, token: string, o: { profile?: string; switch?: string[]; json?: boolean }) => {
    process.exitCode = replayCommand(file, token, o);
  });

program
  .command('setup')
  .description('prepare a backend: `setup kernel` downloads and builds what the real-kernel backend needs (idempotent)')
  .argument('<what>', 'kernel')
  .option('--kernels <list>', 'kernels to prepare (default 6.1,6.12)')
  .action(async (what: string, o: { kernels?: string }) => {
    process.exitCode = await setupCommand(what, o);
  });

program
  .command('doctor')
  .description('is the real-kernel backend ready? names the command that fixes each missing piece')
  .option('--json', 'machine-readable report')
  .action((o: { json?: boolean }) => {
    process.exitCode = doctorCommand(o);
  });

program
  .command('diff')
  .description('run scenarios on the model and on a real kernel; table of the steps where they disagree (exit 1 if any)')
  .argument('<files...>', 'scenario files or folders')
  .option('--kernel <id>', '6.1 (default) or 6.12')
  .action(async (files: string[], o: { kernel?: string }) => {
    process.exitCode = await diffCommand(files, o);
  });

program
  .command('conformance')
  .description('run the scenario corpus (default scenarios/) on real kernels and the model; text + JSON summary')
  .argument('[files...]', 'scenario files or folders (default scenarios/)')
  .option('--kernels <list>', 'comma-separated kernels', '6.1,6.12')
  .option('--out <file>', 'write the JSON summary (and a .txt next to it)')
  .option('--batch <n>', 'scenarios per boot (default 80)')
  .option('--known <file>', 'understood divergences (JSON, e.g. docs/conformance-known.json): reported, not failing')
  .action(async (files: string[], o: { kernels?: string; out?: string; batch?: string; known?: string }) => {
    process.exitCode = await conformanceCommand(files, o);
  });

program
  .command('fuzz')
  .description('differential fuzzing: random op sequences on a real kernel and the model; minimal scenarios for divergences')
  .option('--kernel <id>', '6.1 (default) or 6.12')
  .option('--runs <n>', 'sequences', '200')
  .option('--seed <n>', 'seed')
  .option('--batch <n>', 'sequences per boot', '250')
  .option('--out <dir>', 'where minimal scenarios go', 'fuzz-out')
  .option('--no-shrink', 'report divergences without shrinking')
  .action(async (o: FuzzFlags) => {
    process.exitCode = await fuzzCommand(o);
  });

kernelOptions(program.command('failnth'))
  .description('fail every fallible kernel call of a scenario in turn and check the unwind is clean')
  .argument('<files...>', 'scenario files or folders')
  .option('--json', 'JSON output')
  .action((files: string[], o: { profile?: string; switch?: string[]; json?: boolean }) => {
    process.exitCode = failNthCommand(files, o);
  });

program
  .command('tour')
  .description('run the curated demo scenarios (what npm start does)')
  .action(async () => {
    process.exitCode = await tourCommand();
  });

// `vfiolab ... | head` closes the pipe early: that is not an error
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

program.parseAsync(process.argv).catch((e: unknown) => {
  process.stderr.write(`vfiolab: ${(e as Error).message}\n`);
  process.exitCode = 2;
});
