/**
 * Errors in scenario files: always reported as `file:line:col: field: message`, never as a stack
 * trace (exit code 2 from the CLI).
 */
export class ScenarioError extends Error {
  override name = 'ScenarioError';
  constructor(
    readonly file: string,
    readonly line: number,
    readonly col: number,
    /** Dotted path of the offending field, e.g. `steps[3].VFIO_IOMMU_MAP_DMA.size`. */
    readonly field: string,
    readonly detail: string,
  ) {
    super(`${file}:${line}:${col}: ${field ? field + ': ' : ''}${detail}`);
  }
}

/** A value error found while decoding a field; the loader adds file/line/col. */
export class FieldError extends Error {
  override name = 'FieldError';
  constructor(
    readonly path: (string | number)[],
    message: string,
  ) {
    super(message);
  }
}

export function pathString(path: readonly (string | number)[]): string {
  let s = '';
  for (const p of path) s += typeof p === 'number' ? `[${p}]` : s ? `.${p}` : p;
  return s;
}
