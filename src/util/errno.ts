/**
 * Linux errno values (x86_64, include/uapi/asm-generic/errno-base.h and errno.h).
 * Kernel paths return them negated, as the kernel does (`return -EINVAL`).
 */
export const EPERM = 1;
export const ENOENT = 2;
export const ESRCH = 3;
export const EINTR = 4;
export const EIO = 5;
export const E2BIG = 7;
export const EBADF = 9;
export const EAGAIN = 11;
export const ENOMEM = 12;
export const EACCES = 13;
export const EFAULT = 14;
export const EBUSY = 16;
export const EEXIST = 17;
export const ENODEV = 19;
export const EINVAL = 22;
export const ENOTTY = 25;
export const ENOSPC = 28;
export const EOPNOTSUPP = 95;
export const EBADFD = 77;
export const EUSERS = 87;

export const ERRNO_NAMES: Readonly<Record<number, string>> = {
  [EPERM]: 'EPERM',
  [ENOENT]: 'ENOENT',
  [ESRCH]: 'ESRCH',
  [EINTR]: 'EINTR',
  [EIO]: 'EIO',
  [E2BIG]: 'E2BIG',
  [EBADF]: 'EBADF',
  [EAGAIN]: 'EAGAIN',
  [ENOMEM]: 'ENOMEM',
  [EACCES]: 'EACCES',
  [EFAULT]: 'EFAULT',
  [EBUSY]: 'EBUSY',
  [EEXIST]: 'EEXIST',
  [ENODEV]: 'ENODEV',
  [EINVAL]: 'EINVAL',
  [ENOTTY]: 'ENOTTY',
  [ENOSPC]: 'ENOSPC',
  [EOPNOTSUPP]: 'EOPNOTSUPP',
  [EBADFD]: 'EBADFD',
  [EUSERS]: 'EUSERS',
};

const BY_NAME: Readonly<Record<string, number>> = Object.fromEntries(
  Object.entries(ERRNO_NAMES).map(([n, name]) => [name, Number(n)]),
);

export function errnoName(e: number): string {
  return ERRNO_NAMES[Math.abs(e)] ?? `E${Math.abs(e)}`;
}

/** errno number for a name like "EINVAL"; undefined if unknown. */
export function errnoByName(name: string): number | undefined {
  return BY_NAME[name];
}

export function allErrnoNames(): string[] {
  return Object.keys(BY_NAME);
}
