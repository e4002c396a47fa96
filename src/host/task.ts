/**
 * Tasks (`struct task_struct`), reduced to what VFIO reads: pid, comm, the thread-group leader,
 * the effective capability set (only CAP_IPC_LOCK and CAP_SYS_RAWIO matter) and RLIMIT_MEMLOCK.
 * Threads of one process share the leader's `mm`, rlimits (signal struct) and, in the model,
 * credentials.
 */
import type { Mm } from './mm.js';
import { U64_MAX } from '../util/units.js';

export const RLIM_INFINITY = U64_MAX;

export type Capability = 'CAP_IPC_LOCK' | 'CAP_SYS_RAWIO' | 'CAP_SYS_ADMIN';

export class Process {
  /** RLIMIT_MEMLOCK soft limit in bytes (RLIM_INFINITY = unlimited). */
  memlock: bigint;
  readonly caps = new Set<Capability>();
  mm: Mm | null;
  readonly threads: Task[] = [];
  exited = false;
  /** setrlimit lowered RLIMIT_MEMLOCK below what was already locked at some point. */
  rlimitLowered = false;
  /** `memlockPages()` of `memlockSeen`: read on every charge and invariant check, and a bigint shift allocates. */
  private memlockSeen = -1n;
  private memlockPagesSeen = 0;

  constructor(
    readonly pid: number,
    readonly comm: string,
    mm: Mm,
    memlock: bigint,
    caps: Iterable<Capability>,
  ) {
    this.mm = mm;
    this.memlock = memlock;
    for (const c of caps) this.caps.add(c);
    this.threads.push(new Task(pid, comm, this));
  }

  get leader(): Task {
    return this.threads[0]!;
  }

  /** rlimit(RLIMIT_MEMLOCK) >> PAGE_SHIFT */
  memlockPages(): number {
    if (this.memlock !== this.memlockSeen) {
      this.memlockSeen = this.memlock;
      this.memlockPagesSeen = Number(this.memlock >> 12n);
    }
    return this.memlockPagesSeen;
  }

  capable(c: Capability): boolean {
    return this.caps.has(c);
  }
}

export class Task {
  constructor(
    readonly pid: number,
    readonly comm: string,
    readonly process: Process,
  ) {}

  get mm(): Mm | null {
    return this.process.mm;
  }
  get group_leader(): Task {
    return this.process.leader;
  }
}
