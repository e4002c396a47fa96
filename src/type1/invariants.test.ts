import { describe, expect, it } from 'vitest';
import type { Mm } from '../host/mm.js';
import type { Task } from '../host/task.js';
import { DmaList } from './dma_list.js';
import { dma_list_no_overlap } from './invariants.js';
import { VfioDma } from './vfio_iommu.js';
import type { VfioIommu } from './vfio_iommu.js';

function iommuWith(...ranges: [number, number][]): VfioIommu {
  const l = new DmaList();
  for (const [iova, size] of ranges) {
    const d = new VfioDma(iova, 0, 3, {} as Task, false, {} as Mm);
    d.size = size;
    l.insert(d);
  }
  return { dma_list: l } as unknown as VfioIommu;
}

describe('dma_list_no_overlap', () => {
  it('holds for an empty list, one dma, and dmas that touch', () => {
    expect(dma_list_no_overlap(iommuWith())).toBeNull();
    expect(dma_list_no_overlap(iommuWith([0x10, 4]))).toBeNull();
    expect(dma_list_no_overlap(iommuWith([0x20, 4], [0x10, 0x10], [0x24, 1]))).toBeNull();
  });
  it('names the first overlap in IOVA order, wherever it is', () => {
    expect(dma_list_no_overlap(iommuWith([0x10, 0x11], [0x20, 4]))).toBe('dma [0x10000, +17 pages) overlaps the dma at 0x20000');
    expect(dma_list_no_overlap(iommuWith([0, 1], [0x10, 4], [0x40, 8], [0x44, 1]))).toMatch(/^dma \[0x40000, \+8 pages\) overlaps the dma at 0x44000$/);
  });
});
