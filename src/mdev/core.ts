/**
 * The mdev core (drivers/vfio/mdev/mdev_core.c, mdev_sysfs.c, Linux 6.1): parents with supported
 * types, instances created and removed through sysfs by UUID, the mdev bus, and the vfio side of
 * an instance: `vfio_register_emulated_iommu_dev` gives every mdev its own emulated IOMMU group
 * (no IOMMU behind it), which type1 puts on `emulated_iommu_groups`.
 *
 * Locking: `mdev_list_lock` guards the instance list and `active`; `unreg_sem` of a parent is
 * held for read while an instance is created or removed and for write while the parent
 * unregisters (creation then fails with -ENODEV).
 */
import { EAGAIN, EEXIST, EINVAL, ENODEV, ENOENT, EUSERS } from '../util/errno.js';
import type { Kernel } from '../kernel/kernel.js';
import { Mutex, RwSem } from '../kernel/locks.js';
import type { KGen } from '../kernel/sched.js';
import { point } from '../kernel/sched.js';
import { KernelHang } from '../kernel/klog.js';
import type { Device } from '../iommu/group.js';
import { IommuGroup } from '../iommu/group.js';
import { VfioDevice, VfioGroup } from '../vfio/objects.js';
import type { VfioDeviceOps } from '../vfio/objects.js';

export type DeviceApi = 'vfio-pci' | 'vfio-platform' | 'vfio-amba' | 'vfio-ccw' | 'vfio-ap';

export interface MdevTypeSpec {
  /** sysfs name of the type (the directory is `<driver>-<name>`) */
  readonly name: string;
  readonly description?: string;
  readonly device_api: DeviceApi;
  readonly available_instances: number;
}

/** struct mdev_type */
export interface MdevType extends MdevTypeSpec {
  readonly parent: MdevParent;
  available: number;
}

/** A vendor driver: creates the vfio_device ops for an instance. */
export interface MdevDriver {
  readonly name: string;
  /** mdev_driver.probe(): the per-instance device ops and driver state. */
  probe(k: Kernel, mdev: MdevDevice): { ops: VfioDeviceOps; data: unknown };
}

/** struct mdev_parent */
export class MdevParent {
  readonly types: MdevType[] = [];
  readonly unreg_sem: RwSem;
  unregistered = false;
  constructor(
    k: Kernel,
    readonly name: string,
    readonly driver: MdevDriver,
    types: readonly MdevTypeSpec[],
  ) {
    this.unreg_sem = new RwSem(`mdev_parent[${name}].unreg_sem`, k.locks);
    for (const t of types) this.types.push({ ...t, parent: this, available: t.available_instances });
  }
}

/** struct mdev_device */
export interface MdevDevice {
  readonly uuid: string;
  readonly label: string;
  readonly type: MdevType;
  active: boolean;
  vdev: VfioDevice | null;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const UUID_STRING_LEN = 36;

export interface MdevHost {
  readonly k: Kernel;
  /** Register the new emulated group so /dev/vfio/<id> can be opened. */
  addGroup(g: VfioGroup): void;
  removeGroup(g: VfioGroup): void;
  /** Lowest free IOMMU group number (the kernel's ida). */
  freeGroupId(): number;
  addDevice(label: string, vdev: VfioDevice): void;
  removeDevice(label: string): void;
}

export class MdevCore {
  readonly parents = new Map<string, MdevParent>();
  readonly mdev_list: MdevDevice[] = [];
  readonly mdev_list_lock: Mutex;
  constructor(readonly host: MdevHost) {
    this.mdev_list_lock = new Mutex('mdev_list_lock', host.k.locks);
  }

  /** mdev_register_parent(): a second registration of the same parent device is -EEXIST. */
  mdev_register_parent(name: string, driver: MdevDriver, types: readonly MdevTypeSpec[]): number {
    if (this.parents.has(name)) return -EEXIST;
    if (types.length === 0) return -EINVAL;
    this.parents.set(name, new MdevParent(this.host.k, name, driver, types));
    return 0;
  }

  findType(parent: string, type: string): MdevType | undefined {
    const p = this.parents.get(parent);
    return p?.types.find((t) => t.name === type || `${p.driver.name}-${t.name}` === type);
  }

  /**
   * write(<parent>/mdev_supported_types/<type>/create, buf): create_store + mdev_device_create.
   * Returns the byte count written, or -errno.
   */
  *create_store(parent: string, type: string, buf: string, label: string): KGen<number> {
    const t = this.findType(parent, type);
    if (!t || t.parent.unregistered) return -ENOENT; // no such sysfs file
    const count = buf.length;
    if (count < UUID_STRING_LEN || count > UUID_STRING_LEN + 1) return -EINVAL;
    // guid_parse() -> uuid_is_valid() looks at the first UUID_STRING_LEN characters only: the
    // 37th (normally echo's newline) may be anything
    const str = buf.slice(0, UUID_STRING_LEN);
    if (!UUID_RE.test(str)) return -EINVAL;
    const ret = yield* this.mdev_device_create(t, str.toLowerCase(), label);
    return ret ? ret : count;
  }

  /** mdev_device_create() */
  *mdev_device_create(t: MdevType, uuid: string, label: string): KGen<number> {
    yield* this.mdev_list_lock.lock();
    if (this.mdev_list.some((m) => m.uuid === uuid)) {
      yield* this.mdev_list_lock.unlock();
      return -EEXIST;
    }
    if (t.available <= 0) {
      yield* this.mdev_list_lock.unlock();
      return -EUSERS;
    }
    t.available--;
    const mdev: MdevDevice = { uuid, label, type: t, active: false, vdev: null };
    this.mdev_list.push(mdev);
    yield* this.mdev_list_lock.unlock();

    // Check if parent unregistration has started
    const p = t.parent;
    const ok = yield* p.unreg_sem.down_read_trylock();
    if (!ok) {
      yield* this.undoCreate(mdev);
      return -ENODEV;
    }
    // device_add() -> mdev bus probe -> vendor probe -> vfio_register_emulated_iommu_dev()
    const { ops, data } = p.driver.probe(this.host.k, mdev);
    this.vfio_register_emulated_iommu_dev(mdev, ops);
    mdev.vdev!.driverData = data;
    yield* p.unreg_sem.up_read();
    mdev.active = true;
    return 0;
  }

  private *undoCreate(mdev: MdevDevice): KGen<void> {
    yield* this.mdev_list_lock.lock();
    this.mdev_list.splice(this.mdev_list.indexOf(mdev), 1);
    mdev.type.available++;
    yield* this.mdev_list_lock.unlock();
  }

  /** vfio_register_emulated_iommu_dev(): a fresh IOMMU group with no IOMMU, type VFIO_EMULATED_IOMMU. */
  vfio_register_emulated_iommu_dev(mdev: MdevDevice, ops: VfioDeviceOps): void {
    const h = this.host;
    const ig = new IommuGroup(h.freeGroupId(), null);
    const dev: Device = { name: mdev.uuid, label: mdev.label, bus: 'mdev', driver: 'vfio-pci', bars: [], bridge: false, group: ig };
    ig.devices.push(dev);
    const g = new VfioGroup(h.k, ig, 'VFIO_EMULATED_IOMMU');
    const vdev = new VfioDevice(h.k, dev, g, ops);
    g.devices.push(vdev);
    mdev.vdev = vdev;
    h.addGroup(g);
    h.addDevice(mdev.label, vdev);
  }

  /**
   * write(<mdev>/remove, "1"): mdev_device_remove(). Unregistering the vfio device waits until
   * every fd on it is closed (vfio_unregister_group_dev); the model reports that wait as a hang.
   */
  *remove_store(uuidOrLabel: string, val: number): KGen<number> {
    const mdev = this.mdev_list.find((m) => m.uuid === uuidOrLabel || m.label === uuidOrLabel);
    if (!mdev) return -ENOENT; // no such sysfs file
    if (!val) return 1;
    yield* this.mdev_list_lock.lock();
    if (!this.mdev_list.includes(mdev)) {
      yield* this.mdev_list_lock.unlock();
      return -ENODEV;
    }
    if (!mdev.active) {
      yield* this.mdev_list_lock.unlock();
      return -EAGAIN;
    }
    mdev.active = false;
    yield* this.mdev_list_lock.unlock();
    const p = mdev.type.parent;
    const ok = yield* p.unreg_sem.down_read_trylock();
    if (!ok) return -ENODEV;
    yield* this.remove_common(mdev);
    yield* p.unreg_sem.up_read();
    return 1;
  }

  /** mdev_device_remove_common(): device_del -> vendor remove -> vfio_unregister_group_dev. */
  private *remove_common(mdev: MdevDevice): KGen<void> {
    const vdev = mdev.vdev;
    if (vdev) {
      if (vdev.open_count > 0) {
        throw new KernelHang('vfio_unregister_group_dev', `device ${mdev.uuid} is still open: removal waits until every fd on it is closed`);
      }
      this.host.removeGroup(vdev.group);
      this.host.removeDevice(mdev.label);
    }
    yield point('mdev_device_remove_common');
    yield* this.mdev_list_lock.lock();
    this.mdev_list.splice(this.mdev_list.indexOf(mdev), 1);
    mdev.type.available++;
    yield* this.mdev_list_lock.unlock();
  }

  /** mdev_unregister_parent(): removes every child instance (waiting for open ones). */
  *mdev_unregister_parent(name: string): KGen<number> {
    const p = this.parents.get(name);
    if (!p) return -ENODEV;
    yield* p.unreg_sem.down_write();
    p.unregistered = true;
    for (const m of this.mdev_list.filter((x) => x.type.parent === p)) {
      m.active = false;
      yield* this.remove_common(m);
    }
    this.parents.delete(name);
    yield* p.unreg_sem.up_write();
    return 0;
  }
}
