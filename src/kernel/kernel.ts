/**
 * The model instance: one simulated host running one kernel.
 *
 * Holds what is global in the real kernel: the profile (which kernel this is), module parameters,
 * the log, physical memory, the lock domain (current thread, held locks) and the thread -> task
 * map that gives kernel paths their `current`. Every kernel object reaches it through `k`.
 */
import type { Task } from '../host/task.js';
import { PhysMem } from '../host/physmem.js';
import { Klog } from './klog.js';
import { LockDomain } from './locks.js';
import { KmemCache } from './slab.js';
import type { VfioPfn } from '../type1/vfio_iommu.js';
import type { KernelProfile } from './profile.js';
import type { ThreadRef } from './sched.js';
import { Workqueue } from './workqueue.js';

/** Something the model saw the kernel do that corrupts state (KASAN/page-refcount class). */
export interface Violation {
  readonly name: 'use_after_free' | 'page_refcount_underflow' | 'pin_returned_zero';
  readonly text: string;
}

/** Module parameters of vfio_iommu_type1 (writable under /sys/module/vfio_iommu_type1/parameters). */
export interface Type1Params {
  /** Max vfio_dma per container, read when the container's IOMMU is opened (default U16_MAX). */
  dma_entry_limit: number;
  /** Pin and map page by page (no superpages). */
  disable_hugepages: boolean;
  /** Allow groups without interrupt remapping. */
  allow_unsafe_interrupts: boolean;
}

export const DEFAULT_TYPE1_PARAMS: Type1Params = {
  dma_entry_limit: 65535,
  disable_hugepages: false,
  allow_unsafe_interrupts: false,
};

export class Kernel {
  readonly locks = new LockDomain();
  readonly klog = new Klog();
  readonly phys: PhysMem;
  readonly params: Type1Params;
  private readonly tasks = new Map<number, Task>();
  /** vfio_pfn records freed with their dma while still holding a page (WARN in vfio_remove_dma). */
  leakedPins = 0;
  /** Page references those leaked vfio_pfns still hold (non-reserved ones). */
  leakedPinPages = 0;
  /** Charges left on an mm by vfio_pfns freed with their dma in a container without IOMMU domain. */
  readonly leakedCharge = new Map<import('../host/mm.js').Mm, number>();
  /** Corruptions the model detected (use after free, refcount underflow, ...). */
  readonly violations: Violation[] = [];
  /** system_wq: deferred work (4.10's vfio_lock_acct_bg) runs on its kworker. */
  readonly system_wq = new Workqueue('events');
  /** Freed struct vfio_pfn records, reused by the next vendor pin (see slab.ts). */
  readonly vfio_pfn_cache: KmemCache<VfioPfn>;
  /** The container's IOMMU driver implements pin_pages (false: a driver without it, e.g. SPAPR TCE). */
  iommuDriverHasPinPages = true;
  /**
   * Fault injection (fail-nth, as iommufd's selftest does): the call site numbered `failAt`
   * (1-based, counting every fallible site reached) fails. 0 = never.
   */
  failAt = 0;
  /** Names of the fallible sites reached, in order, when `recordSites` (the fail-nth sweep). */
  readonly failSites: string[] = [];
  recordSites = false;
  private siteCount = 0;
  private nextTid = 1;
  private readonly idCounters = new Map<string, number>();

  /** Object ids are per kernel instance, so two runs of one scenario print identical traces. */
  nextId(kind: string): number {
    const n = (this.idCounters.get(kind) ?? 0) + 1;
    this.idCounters.set(kind, n);
    return n;
  }

  constructor(
    readonly profile: KernelProfile,
    params: Partial<Type1Params> = {},
  ) {
    this.phys = new PhysMem(profile.zeroPageReserved);
    this.vfio_pfn_cache = new KmemCache<VfioPfn>('vfio_pfn', 64, this.locks);
    this.params = { ...DEFAULT_TYPE1_PARAMS, ...params };
  }

  /** Register a thread of execution for `task`; returns the scheduler's handle for it. */
  newThread(task: Task, name?: string): ThreadRef {
    const t: ThreadRef = { tid: this.nextTid++, name: name ?? `${task.comm}[${task.pid}]` };
    this.tasks.set(t.tid, task);
    return t;
  }

  violation(name: Violation['name'], text: string): void {
    this.violations.push({ name, text });
    this.klog.pr_err(`BUG: ${name.replace(/_/g, '-')}: ${text}`);
  }

  /**
   * Fail the nth call (1-based) of one named site, e.g. `kzalloc(vfio_pfn)`. Set before the kernel
   * runs: calls of a site are counted only while one is armed.
   */
  failSite: { site: string; nth: number } | null = null;
  /**
   * Calls of each site so far: the names in the order first reached, and the counts. Two arrays
   * rather than a Map: there are a handful of sites, the names are string literals (compared by
   * identity first), and a vendor pin reaches three of them.
   */
  private readonly siteNames: string[] = [];
  private readonly siteCalls: number[] = [];

  /** Should this fallible call site (an allocation, iommu_map, GUP ...) fail now? */
  failNth(site: string): boolean {
    // the site names are recorded only for the fail-nth sweep, which asks for them
    if (this.recordSites) this.failSites.push(site);
    else this.siteCount++;
    // per-site counts matter only to a site armed to fail (set before the first call, newContext)
    if (this.failSite !== null && this.armedSiteFails(this.failSite, site)) return true;
    return this.failAt > 0 && this.sitesReached() === this.failAt;
  }
  /** Count this call of `site`; is it the armed site's nth? (Kept out of failNth, which is hot.) */
  private armedSiteFails(armed: { site: string; nth: number }, site: string): boolean {
    const i = this.siteNames.indexOf(site);
    let n = 1;
    if (i < 0) {
      this.siteNames.push(site);
      this.siteCalls.push(1);
    } else n = this.siteCalls[i] = (this.siteCalls[i] as number) + 1;
    return armed.site === site && armed.nth === n;
  }

  /** Fallible sites reached so far. */
  sitesReached(): number {
    return this.recordSites ? this.failSites.length : this.siteCount;
  }

  /** `current`: the task whose thread is running. */
  get current(): Task {
    const t = this.tasks.get(this.locks.current.tid);
    if (!t) throw new Error(`no task for thread ${this.locks.current.name}`);
    return t;
  }
}
