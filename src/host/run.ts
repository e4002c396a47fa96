/**
 * Strided page runs: the extent that describes physical memory without one object per page.
 *
 * A `Runs` value stands for `count` runs of `len` physically contiguous pages each; run r starts at
 * pfn `pfn + r * stride` and (where a position matters) at index `start + r * len` of whatever
 * address space it describes (virtual pages, IOVA pages). `stride === len` means the runs are
 * themselves contiguous, i.e. one run of `count * len` pages. A 1 TiB THP buffer scattered at 2 MiB
 * granularity is one `Runs` of 524288 runs, not 2^28 page objects.
 */
export interface Runs {
  /** First page index of the first run (virtual page, IOVA page, ...). */
  readonly start: number;
  /** First pfn of the first run. */
  readonly pfn: number;
  /** Pages per run (>= 1). */
  readonly len: number;
  /** Number of runs (>= 1). */
  readonly count: number;
  /** Pfn distance between the starts of consecutive runs (>= len). */
  readonly stride: number;
}

export function runsPages(r: Runs): number {
  return r.len * r.count;
}

export function runsEnd(r: Runs): number {
  return r.start + r.len * r.count;
}

/** pfn of the page at index `i` (start <= i < end). */
export function pfnAt(r: Runs, i: number): number {
  const off = i - r.start;
  const k = Math.floor(off / r.len);
  return r.pfn + k * r.stride + (off - k * r.len);
}

/** Merge runs that are contiguous into a single run (stride === len). */
export function normalize(r: Runs): Runs {
  if (r.count > 1 && r.stride === r.len) return { start: r.start, pfn: r.pfn, len: r.len * r.count, count: 1, stride: r.len * r.count };
  if (r.count === 1 && r.stride !== r.len) return { ...r, stride: r.len };
  return r;
}

/**
 * The part of `r` covering indexes [from, to), as at most three `Runs`: a partial first run, whole
 * runs, a partial last run.
 */
export function sliceRuns(r: Runs, from: number, to: number): Runs[] {
  const a = Math.max(from, r.start);
  const b = Math.min(to, runsEnd(r));
  if (a >= b) return [];
  const out: Runs[] = [];
  let i = a;
  const offA = a - r.start;
  const kA = Math.floor(offA / r.len);
  const inA = offA - kA * r.len;
  if (inA !== 0) {
    const n = Math.min(r.len - inA, b - a);
    out.push({ start: a, pfn: r.pfn + kA * r.stride + inA, len: n, count: 1, stride: n });
    i += n;
  }
  if (i < b) {
    const k0 = (i - r.start) / r.len; // integer: i is at a run boundary here
    const whole = Math.floor((b - i) / r.len);
    if (whole > 0) {
      out.push(normalize({ start: i, pfn: r.pfn + k0 * r.stride, len: r.len, count: whole, stride: r.stride }));
      i += whole * r.len;
    }
    if (i < b) {
      const k1 = (i - r.start) / r.len;
      out.push({ start: i, pfn: r.pfn + k1 * r.stride, len: b - i, count: 1, stride: b - i });
    }
  }
  return out;
}

/**
 * `sliceRuns(r, from, to)[0]` without building the array (the GUP of a single page asks only for
 * the first piece): undefined when the slice is empty.
 */
export function firstSlice(r: Runs, from: number, to: number): Runs | undefined {
  const a = Math.max(from, r.start);
  const b = Math.min(to, runsEnd(r));
  if (a >= b) return undefined;
  const offA = a - r.start;
  const kA = Math.floor(offA / r.len);
  const inA = offA - kA * r.len;
  if (inA !== 0) {
    const n = Math.min(r.len - inA, b - a);
    return { start: a, pfn: r.pfn + kA * r.stride + inA, len: n, count: 1, stride: n };
  }
  const whole = Math.floor((b - a) / r.len);
  if (whole > 0) return normalize({ start: a, pfn: r.pfn + kA * r.stride, len: r.len, count: whole, stride: r.stride });
  return { start: a, pfn: r.pfn + kA * r.stride, len: b - a, count: 1, stride: b - a };
}

/** Iterate every contiguous run (expensive for huge `count`; use only where the kernel would too). */
export function* eachRun(r: Runs): Generator<{ start: number; pfn: number; len: number }> {
  for (let k = 0; k < r.count; k++) yield { start: r.start + k * r.len, pfn: r.pfn + k * r.stride, len: r.len };
}
