import { describe, expect, it } from 'vitest';
import { loadScenario } from './load.js';
import { failNthSweep } from './failnth.js';

describe('fail-nth sweep', () => {
  const sc = loadScenario('scenarios/mdev/worked-example-5-5.yaml');
  it('every injected failure of the worked example unwinds cleanly on 6.1', () => {
    const r = failNthSweep(sc);
    expect(r.sites).toBeGreaterThan(10);
    expect(new Set(r.cases.map((c) => c.site))).toEqual(new Set(['kzalloc(vfio_iommu_group)', 'kzalloc(vfio_dma)', 'pin_user_pages_remote', 'mmap_write_lock_killable', 'kzalloc(vfio_pfn)', 'iommu_domain_alloc', 'iommu_map']));
    expect(r.cases.filter((c) => c.violations.length)).toEqual([]);
  });
  it('finds the pre-5.10 pin unwind leak at kzalloc(vfio_pfn)', () => {
    const r = failNthSweep({ ...sc, switches: { pinUnwindLeak: true } });
    const bad = r.cases.filter((c) => c.violations.length);
    expect(bad.length).toBeGreaterThan(0);
    expect(bad.every((c) => c.site === 'kzalloc(vfio_pfn)')).toBe(true);
  });
});
