export async function runFuzz(_o: unknown): Promise<number> { return Promise.resolve(2); }
