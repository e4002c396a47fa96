/**
 * Sizes and addresses as users write them: `4096`, `0x1000`, `4K`, `2M`, `1G`, `1T`, `1.5G`.
 * u64 values are bigint at the edges; inside the model page numbers are plain numbers (a page
 * number of a 64-bit address is < 2^52, so exact in a double).
 */
export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 4096;
export const PAGE_SIZE_N = 4096n;
export const U64_MAX = (1n << 64n) - 1n;
export const U32_MAX = 0xffff_ffff;

const SUFFIX: Record<string, bigint> = { K: 1n << 10n, M: 1n << 20n, G: 1n << 30n, T: 1n << 40n, P: 1n << 50n };

/** Parse "4K", "0x1000", "1G", "1.5G", 4096 into a bigint; undefined if malformed. */
export function parseSize(v: string | number | bigint): bigint | undefined {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number') return Number.isSafeInteger(v) && v >= 0 ? BigInt(v) : undefined;
  const s = v.trim().replace(/_/g, '');
  if (/^0x[0-9a-f]+$/i.test(s)) return BigInt(s);
  if (/^[0-9]+$/.test(s)) return BigInt(s);
  const m = /^([0-9]+(?:\.[0-9]+)?)\s*([KMGTP])(?:i?B)?$/i.exec(s);
  if (!m) return undefined;
  const mult = SUFFIX[m[2]!.toUpperCase()]!;
  const [int, frac = ''] = m[1]!.split('.');
  const scale = 10n ** BigInt(frac.length);
  const val = (BigInt(int!) * scale + BigInt(frac || '0')) * mult;
  if (val % scale !== 0n) return undefined;
  return val / scale;
}

export function hex(v: bigint | number): string {
  return '0x' + v.toString(16);
}

/** Human size: 1048576 -> "1M", 6144 -> "6K", 100 -> "100". */
export function humanSize(v: bigint | number): string {
  const b = BigInt(v);
  if (b === 0n) return '0';
  for (const [suf, m] of [['T', 1n << 40n], ['G', 1n << 30n], ['M', 1n << 20n], ['K', 1n << 10n]] as const) {
    if (b % m === 0n) return `${(b / m).toString()}${suf}`;
  }
  return b.toString();
}

export function pages(bytes: bigint): number {
  return Number(bytes >> 12n);
}
