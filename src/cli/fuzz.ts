/** `vfiolab fuzz`: see src/backend/kernel/fuzz.ts. */
export interface FuzzFlags {
  kernel?: string;
  runs?: string;
  seed?: string;
  batch?: string;
  out?: string;
  shrink?: boolean;
}
export async function fuzzCommand(o: FuzzFlags): Promise<number> {
  const { runFuzz } = await import('../backend/kernel/fuzz.js');
  return runFuzz(o);
}
