/**
 * Replay tokens: a schedule as one copy-pasteable string.
 *
 *   v1:<strategy>:<seed>:<choices>
 *
 * `strategy` and `seed` say where the schedule came from (informative: replay needs only the
 * choices); `choices` is the base64url (no padding) of the thread ids chosen at each decision
 * point, each as an unsigned LEB128 varint (one byte for tids < 128). An empty schedule (always
 * the default choice) encodes as an empty string: `v1:dfs:2:`.
 */

export interface ReplayToken {
  readonly strategy: string;
  readonly seed: string;
  readonly choices: readonly number[];
}

const FIELD = /^[A-Za-z0-9_.+-]*$/;

export function encodeToken(t: ReplayToken): string {
  if (!FIELD.test(t.strategy) || !FIELD.test(t.seed)) throw new Error(`token fields must match ${FIELD.source}`);
  return `v1:${t.strategy}:${t.seed}:${encodeChoices(t.choices)}`;
}

export function decodeToken(s: string): ReplayToken {
  const parts = s.trim().split(':');
  if (parts.length !== 4 || parts[0] !== 'v1') throw new Error(`not a v1 replay token: "${s}"`);
  return { strategy: parts[1] as string, seed: parts[2] as string, choices: decodeChoices(parts[3] as string) };
}

export function encodeChoices(choices: readonly number[]): string {
  const bytes: number[] = [];
  for (const c of choices) {
    if (!Number.isSafeInteger(c) || c < 0) throw new Error(`bad choice ${c}`);
    let v = c;
    while (v >= 0x80) {
      bytes.push((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    bytes.push(v);
  }
  return Buffer.from(bytes).toString('base64url');
}

export function decodeChoices(s: string): number[] {
  if (!/^[A-Za-z0-9_-]*$/.test(s)) throw new Error(`bad schedule encoding "${s}"`);
  const bytes = Buffer.from(s, 'base64url');
  const out: number[] = [];
  let v = 0;
  let mul = 1;
  for (const b of bytes) {
    v += (b & 0x7f) * mul;
    if (b & 0x80) {
      mul *= 0x80;
      if (mul > 2 ** 49) throw new Error('varint too long in schedule');
    } else {
      out.push(v);
      v = 0;
      mul = 1;
    }
  }
  if (mul !== 1) throw new Error('truncated varint in schedule');
  return out;
}
