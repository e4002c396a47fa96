/**
 * A tiny field DSL for scenario operations: one definition gives the decoder (with precise error
 * paths) and the JSON Schema that editors use for completion.
 */
import { FieldError } from './errors.js';
import type { AddrExpr, Path } from './values.js';
import * as V from './values.js';

export type FieldType =
  | 'fd' // an fd variable name (or a raw integer)
  | 'as' // a new variable name
  | 'size'
  | 'u64'
  | 'u32'
  | 'int'
  | 'addr'
  | 'bool'
  | 'string'
  | 'ext'
  | { flags: Readonly<Record<string, number>> }
  | { enum: readonly string[] }
  | { list: FieldType }
  | { object: Record<string, FieldSpec> };

export interface FieldSpec {
  readonly type: FieldType;
  readonly required?: boolean;
  readonly doc: string;
}

export type FdRef = string | number;

export type Decoded = Record<string, unknown>;

function decodeOne(t: FieldType, v: unknown, path: Path): unknown {
  if (typeof t === 'object') {
    if ('flags' in t) return V.flags(v, t.flags, path);
    if ('enum' in t) {
      if (typeof v !== 'string' || !t.enum.includes(v)) throw new FieldError(path, `expected one of ${t.enum.join(', ')}, got ${JSON.stringify(v)}`);
      return v;
    }
    if ('list' in t) {
      const arr = Array.isArray(v) ? v : typeof v === 'string' ? v.split(',').map((x) => x.trim()).filter(Boolean) : null;
      if (!arr) throw new FieldError(path, `expected a list`);
      return arr.map((x, i) => decodeOne(t.list, x, [...path, i]));
    }
    return decodeFields(t.object, v, path);
  }
  switch (t) {
    case 'fd':
      if (typeof v === 'string' && /^[A-Za-z_][\w.-]*$/.test(v)) return v;
      if (typeof v === 'number' && Number.isInteger(v)) return v;
      throw new FieldError(path, `expected an fd name given with "as:" earlier (or an integer), got ${JSON.stringify(v)}`);
    case 'as':
      if (typeof v === 'string' && /^[A-Za-z_][\w.-]*$/.test(v)) return v;
      throw new FieldError(path, `expected a name (letters, digits, _ . -), got ${JSON.stringify(v)}`);
    case 'size':
      return V.size(v, path);
    case 'u64':
      return V.u64(v, path);
    case 'u32':
      return V.u32(v, path);
    case 'int':
      if (typeof v === 'number' && Number.isInteger(v)) return v;
      if (typeof v === 'string' && /^-?(0x)?[0-9a-f]+$/i.test(v)) return Number(v);
      throw new FieldError(path, `expected an integer, got ${JSON.stringify(v)}`);
    case 'addr':
      return V.addr(v, path) satisfies AddrExpr;
    case 'bool':
      if (typeof v === 'boolean') return v;
      throw new FieldError(path, `expected true or false, got ${JSON.stringify(v)}`);
    case 'string':
      if (typeof v === 'string' || typeof v === 'number') return String(v);
      throw new FieldError(path, `expected a string, got ${JSON.stringify(v)}`);
    case 'ext':
      return V.ext(v, path);
  }
}

/** Decode an object against its field specs: unknown keys and missing required keys are errors. */
export function decodeFields(spec: Record<string, FieldSpec>, v: unknown, path: Path): Decoded {
  if (v === null || v === undefined) v = {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new FieldError(path, `expected a mapping with fields ${Object.keys(spec).join(', ') || '(none)'}`);
  const o = v as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!(key in spec)) {
      const known = Object.keys(spec);
      throw new FieldError([...path, key], `unknown field; expected ${known.length ? known.join(', ') : 'no fields'}`);
    }
  }
  const out: Decoded = {};
  for (const [key, f] of Object.entries(spec)) {
    if (o[key] === undefined) {
      if (f.required) throw new FieldError(path, `missing required field "${key}" (${f.doc})`);
      continue;
    }
    out[key] = decodeOne(f.type, o[key], [...path, key]);
  }
  return out;
}

const SIZE_PATTERN = '^(0x[0-9a-fA-F_]+|[0-9_]+(\\.[0-9]+)?[KMGTPkmgtp]?(i?B)?)$';

/** JSON Schema for one field type. */
export function fieldSchema(t: FieldType, doc: string): Record<string, unknown> {
  if (typeof t === 'object') {
    if ('flags' in t) return { description: doc, oneOf: [{ type: 'array', items: { enum: Object.keys(t.flags) } }, { type: 'integer' }, { type: 'string' }] };
    if ('enum' in t) return { description: doc, enum: [...t.enum] };
    if ('list' in t) return { description: doc, type: 'array', items: fieldSchema(t.list, doc) };
    return objectSchema(t.object, doc);
  }
  switch (t) {
    case 'fd':
      return { description: doc, type: ['string', 'integer'] };
    case 'as':
    case 'string':
      return { description: doc, type: 'string' };
    case 'size':
    case 'u64':
    case 'u32':
      return { description: doc, oneOf: [{ type: 'integer', minimum: 0 }, { type: 'string', pattern: SIZE_PATTERN }] };
    case 'int':
      return { description: doc, type: 'integer' };
    case 'addr':
      return { description: doc, type: ['string', 'integer'] };
    case 'bool':
      return { description: doc, type: 'boolean' };
    case 'ext':
      return { description: doc, type: ['string', 'integer'] };
  }
}

export function objectSchema(spec: Record<string, FieldSpec>, doc: string): Record<string, unknown> {
  const properties: Record<string, unknown> = {};
  const required: string[] = [];
  for (const [k, f] of Object.entries(spec)) {
    properties[k] = fieldSchema(f.type, f.doc);
    if (f.required) required.push(k);
  }
  return { type: 'object', description: doc, properties, required, additionalProperties: false };
}
