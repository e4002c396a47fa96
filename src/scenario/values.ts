/**
 * Decoding of scenario field values: sizes (`2M`), addresses (`0x1000`, `buf0+4K`), flag lists,
 * extension names, errno names. Every failure is a FieldError naming what was expected.
 */
import { errnoByName } from '../util/errno.js';
import { parseSize, U64_MAX } from '../util/units.js';
import { EXT } from '../uapi/vfio.js';
import { FieldError } from './errors.js';

export type Path = (string | number)[];

export function size(v: unknown, path: Path): bigint {
  if (typeof v !== 'string' && typeof v !== 'number') throw new FieldError(path, `expected a size like 4096, 0x1000, 4K, 2M or 1G, got ${JSON.stringify(v)}`);
  const s = parseSize(v);
  if (s === undefined || s > U64_MAX) throw new FieldError(path, `expected a size like 4096, 0x1000, 4K, 2M or 1G, got ${JSON.stringify(v)}`);
  return s;
}

/** A u64 number (address/size/argsz) possibly beyond 2^53: hex or decimal string, or size suffix. */
export function u64(v: unknown, path: Path): bigint {
  return size(v, path);
}

export function u32(v: unknown, path: Path): number {
  const s = size(v, path);
  if (s > 0xffffffffn) throw new FieldError(path, `expected a 32-bit value, got ${JSON.stringify(v)}`);
  return Number(s);
}

/** An address: a number, or `name`, `name+off`, `name-off` where name is a buffer. */
export interface AddrExpr {
  base?: string;
  offset: bigint;
  text: string;
}

export function addr(v: unknown, path: Path): AddrExpr {
  if (typeof v === 'number' || (typeof v === 'string' && /^\s*(0x[0-9a-f_]+|[0-9_]+[KMGTP]?)\s*$/i.test(v))) {
    return { offset: size(v, path), text: String(v) };
  }
  if (typeof v !== 'string') throw new FieldError(path, `expected an address (0x1000, or a buffer name like buf0+4K), got ${JSON.stringify(v)}`);
  const m = /^\s*([A-Za-z_][\w.-]*)\s*(?:([+-])\s*(\S+))?\s*$/.exec(v);
  if (!m) throw new FieldError(path, `expected an address (0x1000, or a buffer name like buf0+4K), got ${JSON.stringify(v)}`);
  let off = m[3] ? size(m[3], path) : 0n;
  if (m[2] === '-') off = -off;
  return { base: m[1]!, offset: off, text: v.trim() };
}

export function flags(v: unknown, table: Readonly<Record<string, number>>, path: Path): number {
  if (v === undefined || v === null) return 0;
  if (typeof v === 'number' || (typeof v === 'string' && /^(0x)?[0-9a-f]+$/i.test(v))) return u32(v, path);
  const list = Array.isArray(v) ? v : typeof v === 'string' ? v.split('|').map((x) => x.trim()) : null;
  if (!list) throw new FieldError(path, `expected a list of flags from ${Object.keys(table).join(', ')}`);
  let f = 0;
  for (const [i, x] of list.entries()) {
    if (typeof x === 'number') {
      f |= x;
      continue;
    }
    const name = String(x).replace(/^VFIO_DMA_(UNMAP|MAP)_FLAG_|^VFIO_IOMMU_DIRTY_PAGES_FLAG_/, '');
    const bit = table[name];
    if (bit === undefined) throw new FieldError([...path, i], `unknown flag ${JSON.stringify(x)}; expected one of ${Object.keys(table).join(', ')}`);
    f |= bit;
  }
  return f;
}

export function ext(v: unknown, path: Path): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') {
    const n = (EXT as Record<string, number>)[v] ?? (EXT as Record<string, number>)[`VFIO_${v}`];
    if (n !== undefined) return n;
    if (/^[0-9]+$/.test(v)) return Number(v);
  }
  throw new FieldError(path, `expected an extension id or name (${Object.keys(EXT).join(', ')}), got ${JSON.stringify(v)}`);
}

/** errno in an expectation: a name (EINVAL), 0 / "none" for success. */
export function errnoValue(v: unknown, path: Path): number {
  if (v === 0 || v === 'none' || v === '0') return 0;
  if (typeof v === 'string') {
    const n = errnoByName(v.toUpperCase());
    if (n !== undefined) return n;
  }
  if (typeof v === 'number' && v > 0) return v;
  throw new FieldError(path, `expected an errno name like EINVAL (or 0), got ${JSON.stringify(v)}`);
}
