/**
 * Devices and IOMMU groups (`struct iommu_group`), and the mdev bus's emulated groups.
 *
 * An IOMMU group is the unit of isolation: VFIO hands whole groups to user space. In 6.1 a group
 * is "viable" when nobody has claimed DMA ownership of it through a kernel driver
 * (`iommu_group_dma_owner_claimed`): every device is unbound, bound to vfio-pci, or bound to
 * pci-stub; bridges do not count.
 */
import type { IommuHw, ResvRegion } from './hw.js';

export type Bus = 'pci' | 'mdev';

/** Which host driver a PCI device is bound to. */
export type DeviceDriver = 'vfio-pci' | 'pci-stub' | 'none' | 'host';

export interface Bar {
  readonly index: number;
  /** Size in pages. */
  readonly npages: number;
  /** First pfn (MMIO window). */
  readonly pfn: number;
}

export interface Device {
  /** PCI BDF ("0000:01:00.0") or the mdev UUID: the name GET_DEVICE_FD takes. */
  readonly name: string;
  /** Scenario-level label (gpu0, nic1, ...). */
  readonly label: string;
  readonly bus: Bus;
  driver: DeviceDriver;
  readonly bars: readonly Bar[];
  readonly bridge: boolean;
  group: IommuGroup | null;
}

export class IommuGroup {
  readonly devices: Device[] = [];
  constructor(
    readonly id: number,
    /** null for emulated (mdev) groups: no IOMMU behind them. */
    readonly hw: IommuHw | null,
  ) {}

  get emulated(): boolean {
    return this.hw === null;
  }

  /** iommu_get_group_resv_regions() */
  resvRegions(): readonly ResvRegion[] {
    return this.hw ? this.hw.resv : [];
  }

  /** Has a kernel (non-VFIO) driver claimed DMA ownership of this group? */
  dmaOwnerClaimed(): boolean {
    return this.devices.some((d) => !d.bridge && d.driver === 'host');
  }
}
