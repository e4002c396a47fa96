/**
 * vfio core objects (drivers/vfio/vfio_main.c, 6.1): container, group, device.
 *
 * Locking: `VfioContainer.group_lock` (rwsem) guards `group_list`, `iommu_driver`,
 * `iommu_data` (write for SET/UNSET_CONTAINER and SET_IOMMU, read for ioctls forwarded to the
 * driver and CHECK_EXTENSION). `VfioGroup.group_lock` (mutex) guards `container`,
 * `container_users` and `opened_file`. `VfioDevice.open_count` is guarded by the device set lock
 * (modelled as `dev_set_lock`).
 */
import type { Kernel } from '../kernel/kernel.js';
import { Mutex, RwSem } from '../kernel/locks.js';
import type { KGen } from '../kernel/sched.js';
import type { Device, IommuGroup } from '../iommu/group.js';
import type { GroupType } from '../type1/attach.js';
import type { VfioIommu } from '../type1/vfio_iommu.js';
import type { BlockingNotifierHead } from '../kernel/notifier.js';


export class VfioContainer {
  readonly id: number;
  readonly group_list: VfioGroup[] = [];
  /** Only type1 is registered (noiommu mode is off, as on Debian's kernel by default). */
  iommu_driver: 'type1' | null = null;
  iommu_data: VfioIommu | null = null;
  noiommu = false;
  /** References: the container fd(s) and every group attached. */
  refs = 1;
  readonly group_lock: RwSem;
  constructor(k: Kernel) {
    this.id = k.nextId('container');
    this.group_lock = new RwSem(`container[${this.id}].group_lock`, k.locks);
  }
}

export class VfioGroup {
  container: VfioContainer | null = null;
  container_users = 0;
  /** The group file is open (one opener at a time); device fds hold it open too. */
  opened_file = false;
  /** References on the group file: the group fd(s) plus one per open device fd. */
  fileRefs = 0;
  readonly devices: VfioDevice[] = [];
  readonly group_lock: Mutex;
  /** [4.10-5.18] the group's notifier chain (VFIO_GROUP_NOTIFY, SET_KVM), created on first use */
  notifier: BlockingNotifierHead | null = null;
  constructor(
    k: Kernel,
    readonly iommu_group: IommuGroup,
    readonly type: GroupType,
  ) {
    this.group_lock = new Mutex(`vfio_group[${iommu_group.id}].group_lock`, k.locks);
  }
}

/** struct vfio_device_ops, reduced to what the model's drivers implement. */
export interface VfioDeviceOps {
  readonly name: string;
  open_device?(vdev: VfioDevice): KGen<number>;
  close_device?(vdev: VfioDevice): KGen<void>;
  /** Called by type1 for every UNMAP_DMA that covers pinned pages: unpin [iova, iova+npages). */
  dma_unmap?(vdev: VfioDevice, iovaPage: number, npages: number): KGen<void>;
}

export class VfioDevice {
  open_count = 0;
  readonly dev_set_lock: Mutex;
  /** What the vendor driver keeps per device (sample drivers' state). */
  driverData: unknown = null;
  constructor(
    k: Kernel,
    readonly dev: Device,
    readonly group: VfioGroup,
    readonly ops: VfioDeviceOps,
  ) {
    this.dev_set_lock = new Mutex(`vfio_device[${dev.name}].dev_set_lock`, k.locks);
  }
  get name(): string {
    return this.dev.name;
  }
}
