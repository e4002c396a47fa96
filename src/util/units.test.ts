import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { hex, humanSize, pages, parseSize, U64_MAX } from './units.js';

describe('parseSize', () => {
  it.each([
    ['4096', 4096n],
    ['0x1000', 4096n],
    ['0X1F000', 0x1f000n],
    ['4K', 4096n],
    ['4k', 4096n],
    ['4KiB', 4096n],
    ['4KB', 4096n],
    ['2M', 2n << 20n],
    ['1G', 1n << 30n],
    ['1T', 1n << 40n],
    ['1P', 1n << 50n],
    ['1.5G', 3n << 29n],
    ['1.5K', 1536n],
    ['0.5K', 512n],
    [' 2M ', 2n << 20n],
    ['1_000', 1000n],
    ['0xffff_ffff_ffff_ffff', U64_MAX],
    ['18446744073709551615', U64_MAX],
    ['0', 0n],
  ])('%s -> %s', (s, want) => {
    expect(parseSize(s)).toBe(want);
  });

  it.each(['', 'abc', '4Q', '4 K B', '-1', '1.0001K', '0x', '1.5', 'K', '2MM'])('rejects %j', (s) => {
    expect(parseSize(s)).toBeUndefined();
  });

  it('numbers must be safe non-negative integers; bigints pass through', () => {
    expect(parseSize(4096)).toBe(4096n);
    expect(parseSize(0)).toBe(0n);
    expect(parseSize(-1)).toBeUndefined();
    expect(parseSize(1.5)).toBeUndefined();
    expect(parseSize(2 ** 53)).toBeUndefined();
    expect(parseSize(2 ** 53 - 1)).toBe(BigInt(2 ** 53 - 1));
    expect(parseSize(1n << 70n)).toBe(1n << 70n);
  });

  it('humanSize and parseSize round-trip', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: U64_MAX }), (v) => {
        expect(parseSize(humanSize(v))).toBe(v);
        expect(parseSize(hex(v))).toBe(v);
      }),
    );
  });
});

describe('humanSize / hex / pages', () => {
  it('uses the largest exact suffix', () => {
    expect(humanSize(0)).toBe('0');
    expect(humanSize(100)).toBe('100');
    expect(humanSize(1536)).toBe('1536');
    expect(humanSize(6144)).toBe('6K');
    expect(humanSize(1048576)).toBe('1M');
    expect(humanSize(3n << 29n)).toBe('1536M');
    expect(humanSize(1n << 30n)).toBe('1G');
    expect(humanSize(1n << 40n)).toBe('1T');
    expect(humanSize(1n << 50n)).toBe('1024T');
  });
  it('hex and pages', () => {
    expect(hex(4096)).toBe('0x1000');
    expect(hex(U64_MAX)).toBe('0xffffffffffffffff');
    expect(pages(8192n)).toBe(2);
    expect(pages(8191n)).toBe(1);
    expect(pages(U64_MAX)).toBe(2 ** 52 - 1);
  });
});
