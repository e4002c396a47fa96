/**
 * Comparing an expected value written in YAML with a value the model returned. Sizes may be
 * written as 1M or 0x100000 where the model returns a bigint; objects match partially (only the
 * keys written are compared); arrays match element-wise and by length.
 */
import { parseSize } from '../util/units.js';
import { fmtValue } from './exec.js';

export function compareField(want: unknown, got: unknown): string | null {
  return eq(want, got) ? null : `expected ${JSON.stringify(want, (_k, v: unknown) => (typeof v === 'bigint' ? '0x' + v.toString(16) : v))}, got ${fmtValue(got)}`;
}

function eq(want: unknown, got: unknown): boolean {
  if (typeof got === 'bigint') {
    const w = typeof want === 'bigint' ? want : typeof want === 'number' || typeof want === 'string' ? parseSize(want) : undefined;
    return w === got;
  }
  if (typeof got === 'number') {
    if (typeof want === 'number') return want === got;
    if (typeof want === 'string') {
      const w = parseSize(want);
      return w !== undefined && w === BigInt(got);
    }
    return false;
  }
  if (Array.isArray(got)) {
    if (!Array.isArray(want) || want.length !== got.length) return false;
    return want.every((w, i) => eq(w, got[i]));
  }
  if (got && typeof got === 'object') {
    if (!want || typeof want !== 'object' || Array.isArray(want)) return false;
    return Object.entries(want as Record<string, unknown>).every(([k, w]) => k in got && eq(w, (got as Record<string, unknown>)[k]));
  }
  if (typeof want === 'string' && typeof got === 'string') return want === got;
  return want === got;
}
