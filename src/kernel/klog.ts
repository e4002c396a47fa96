/**
 * The kernel log (dmesg) and the kernel's assertion outcomes.
 *
 * `pr_warn`/`pr_info` append lines; `WARN_ON` records a named warning (an outcome the explorer can
 * check) and logs a `WARNING:` line; `BUG_ON` throws `KernelBug`, which the runners turn into the
 * named fatal outcome "kernel BUG at <file>:<function>" — never into a crash of vfiolab.
 */
export interface KlogLine {
  readonly seq: number;
  readonly level: 'warn' | 'info' | 'err';
  readonly text: string;
}

export interface Warning {
  /** Stable name of the condition, e.g. `vfio_remove_dma:pfn_list_not_empty`. */
  readonly name: string;
  readonly text: string;
}

export class KernelBug extends Error {
  override name = 'KernelBug';
  constructor(
    readonly file: string,
    readonly func: string,
    readonly condition: string,
  ) {
    super(`kernel BUG at ${file}:${func} (${condition})`);
  }
}

export class Klog {
  readonly lines: KlogLine[] = [];
  readonly warnings: Warning[] = [];
  private seq = 0;

  pr_warn(text: string): void {
    this.lines.push({ seq: this.seq++, level: 'warn', text });
  }
  pr_info(text: string): void {
    this.lines.push({ seq: this.seq++, level: 'info', text });
  }
  pr_err(text: string): void {
    this.lines.push({ seq: this.seq++, level: 'err', text });
  }

  /** WARN_ON(cond): returns cond, like the kernel macro. */
  WARN_ON(cond: boolean, name: string, where: string): boolean {
    if (cond) {
      const text = `WARNING: at ${where}: ${name}`;
      this.warnings.push({ name, text });
      this.lines.push({ seq: this.seq++, level: 'warn', text });
    }
    return cond;
  }

  /** BUG_ON(cond): throws KernelBug when cond holds. */
  BUG_ON(cond: boolean, file: string, func: string, condition: string): void {
    if (cond) {
      const bug = new KernelBug(file, func, condition);
      this.lines.push({ seq: this.seq++, level: 'err', text: bug.message });
      throw bug;
    }
  }

  /** Lines logged since `mark` (a previous `lines.length`). */
  since(mark: number): KlogLine[] {
    return this.lines.slice(mark);
  }
}

/**
 * A kernel path that would sleep forever waiting for user space to release something (e.g.
 * vfio_unregister_group_dev waiting for the device fd to be closed). The synchronous runner
 * reports it as a named outcome, like a BUG: the calling process is stuck.
 */
export class KernelHang extends Error {
  override name = 'KernelHang';
  constructor(
    readonly func: string,
    readonly why: string,
  ) {
    super(`task hung in ${func}: ${why}`);
  }
}
