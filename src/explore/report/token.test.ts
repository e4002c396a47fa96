import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { decodeChoices, decodeToken, encodeChoices, encodeToken } from './token.js';

describe('replay tokens', () => {
  test.prop([fc.array(fc.nat({ max: 2 ** 40 })), fc.constantFrom('dfs', 'pct', 'random', 'shrink'), fc.stringMatching(/^[0-9a-f]{0,8}$/)])(
    'encode/decode round-trips',
    (choices, strategy, seed) => {
      const t = encodeToken({ strategy, seed, choices });
      expect(decodeToken(t)).toEqual({ strategy, seed, choices });
      expect(t).toMatch(/^v1:[a-z]+:[0-9a-f]*:[A-Za-z0-9_-]*$/);
    },
  );

  it('uses one byte per small thread id', () => {
    expect(encodeChoices([1, 2, 1, 2])).toBe('AQIBAg');
    expect(decodeChoices('AQIBAg')).toEqual([1, 2, 1, 2]);
    expect(encodeToken({ strategy: 'dfs', seed: '2', choices: [] })).toBe('v1:dfs:2:');
  });

  it('rejects malformed tokens', () => {
    expect(() => decodeToken('v2:dfs:0:AQ')).toThrow(/not a v1/);
    expect(() => decodeToken('v1:dfs:0')).toThrow(/not a v1/);
    expect(() => decodeToken('v1:dfs:0:A+Q')).toThrow(/bad schedule/);
    expect(() => decodeChoices(Buffer.from([0x81]).toString('base64url'))).toThrow(/truncated/);
  });
});
