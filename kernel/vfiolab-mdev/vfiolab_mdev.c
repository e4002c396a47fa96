// SPDX-License-Identifier: GPL-2.0
/*
 * vfiolab_mdev - a mediated-device vendor driver for testing VFIO type1.
 *
 * Each mdev instance is an emulated-IOMMU VFIO device. It performs no real
 * device emulation: userspace drives the external pinning API directly with
 * private ioctls on the device fd (see vfiolab_mdev_uapi.h), and chooses how
 * the driver answers type1's dma_unmap callback (unpin, ignore N times, never).
 *
 * Written for the vfiolab project; builds against Linux 6.1 and 6.12.
 */
#include <linux/module.h>
#include <linux/version.h>
#include <linux/platform_device.h>
#include <linux/slab.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/uaccess.h>
#include <linux/iommu.h>
#include <linux/vfio.h>
#include <linux/mdev.h>

#include "vfiolab_mdev_uapi.h"

#define VL_NAME "vfiolab_mdev"
#define VL_MAX_INSTANCES 8
#define VL_MAX_RW (1u << 20)

/* One pinned page: the IOVA we passed to vfio_pin_pages and how often. */
struct vl_pin {
	struct list_head link;
	u64 iova;
	unsigned int refs;
};

struct vl_state {
	struct vfio_device vdev;
	struct mutex lock;
	struct list_head pins;
	u32 mode;
	u32 n;
	u64 unmap_calls;
	u64 ignored_calls;
	u64 last_iova;
	u64 last_length;
};

static struct platform_device *vl_pdev;
static struct mdev_parent vl_parent;
static atomic_t vl_avail = ATOMIC_INIT(VL_MAX_INSTANCES);

static struct vl_state *to_vl(struct vfio_device *vdev)
{
	return container_of(vdev, struct vl_state, vdev);
}

static u64 vl_pinned_pages(struct vl_state *s)
{
	struct vl_pin *p;
	u64 total = 0;

	list_for_each_entry(p, &s->pins, link)
		total += p->refs;
	return total;
}

static void vl_record(struct vl_state *s, u64 iova, int delta)
{
	struct vl_pin *p;

	list_for_each_entry(p, &s->pins, link) {
		if (p->iova != iova)
			continue;
		if (delta > 0) {
			p->refs++;
		} else if (--p->refs == 0) {
			list_del(&p->link);
			kfree(p);
		}
		return;
	}
	if (delta > 0) {
		p = kzalloc(sizeof(*p), GFP_KERNEL);
		if (!p)
			return; /* bookkeeping only; the pin itself stands */
		p->iova = iova;
		p->refs = 1;
		list_add_tail(&p->link, &s->pins);
	}
}

/* Unpin every page we hold whose IOVA lies in [iova, iova + length). */
static void vl_unpin_range(struct vl_state *s, u64 iova, u64 length)
{
	struct vl_pin *p, *tmp;
	u64 end = iova + length;

	list_for_each_entry_safe(p, tmp, &s->pins, link) {
		if (p->iova < iova || (length && p->iova >= end && end > iova))
			continue;
		while (p->refs) {
			vfio_unpin_pages(&s->vdev, p->iova, 1);
			p->refs--;
		}
		list_del(&p->link);
		kfree(p);
	}
}

static void vl_unpin_all(struct vl_state *s)
{
	struct vl_pin *p, *tmp;

	list_for_each_entry_safe(p, tmp, &s->pins, link) {
		while (p->refs) {
			vfio_unpin_pages(&s->vdev, p->iova, 1);
			p->refs--;
		}
		list_del(&p->link);
		kfree(p);
	}
}

static void vl_dma_unmap(struct vfio_device *vdev, u64 iova, u64 length)
{
	struct vl_state *s = to_vl(vdev);

	mutex_lock(&s->lock);
	s->unmap_calls++;
	s->last_iova = iova;
	s->last_length = length;
	if (s->mode == VFIOLAB_UNMAP_NEVER ||
	    (s->mode == VFIOLAB_UNMAP_IGNORE_N && s->ignored_calls < s->n)) {
		s->ignored_calls++;
		dev_info(&s->vdev.device, "dma_unmap call %llu (iova 0x%llx, length 0x%llx) ignored\n",
			 s->unmap_calls, iova, length);
		mutex_unlock(&s->lock);
		return;
	}
	vl_unpin_range(s, iova, length);
	mutex_unlock(&s->lock);
}

static long vl_pin(struct vl_state *s, void __user *arg)
{
	struct vfiolab_pin req;
	struct page **pages;
	long ret;
	int i;

	if (copy_from_user(&req, arg, sizeof(req)))
		return -EFAULT;
	/* pass any npage through so the core's own checks answer; size the array sanely */
	pages = kcalloc(req.npage > 0 && req.npage <= 4096 ? req.npage : 1,
			sizeof(*pages), GFP_KERNEL);
	if (!pages)
		return -ENOMEM;
	mutex_lock(&s->lock);
	ret = vfio_pin_pages(&s->vdev, req.iova, req.npage, req.prot, pages);
	if (ret > 0)
		for (i = 0; i < ret; i++)
			vl_record(s, req.iova + (u64)i * PAGE_SIZE, 1);
	mutex_unlock(&s->lock);
	kfree(pages);
	return ret;
}

static long vl_unpin(struct vl_state *s, void __user *arg)
{
	struct vfiolab_unpin req;
	int i;

	if (copy_from_user(&req, arg, sizeof(req)))
		return -EFAULT;
	/* vfio_unpin_pages WARNs (and does nothing) on npage <= 0 or > 512 */
	mutex_lock(&s->lock);
	vfio_unpin_pages(&s->vdev, req.iova, req.npage);
	for (i = 0; i < req.npage && i < 4096; i++)
		vl_record(s, req.iova + (u64)i * PAGE_SIZE, -1);
	mutex_unlock(&s->lock);
	return 0;
}

static long vl_rw(struct vl_state *s, void __user *arg)
{
	struct vfiolab_rw req;
	void *buf;
	long ret;

	if (copy_from_user(&req, arg, sizeof(req)))
		return -EFAULT;
	if (req.len > VL_MAX_RW)
		return -E2BIG;
	buf = kvzalloc(req.len ? req.len : 1, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	if (req.write && copy_from_user(buf, u64_to_user_ptr(req.data), req.len)) {
		ret = -EFAULT;
		goto out;
	}
	ret = vfio_dma_rw(&s->vdev, req.iova, buf, req.len, req.write != 0);
	if (!ret && !req.write &&
	    copy_to_user(u64_to_user_ptr(req.data), buf, req.len))
		ret = -EFAULT;
out:
	kvfree(buf);
	return ret;
}

static long vl_ioctl(struct vfio_device *vdev, unsigned int cmd, unsigned long arg)
{
	struct vl_state *s = to_vl(vdev);
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case VFIOLAB_PIN:
		return vl_pin(s, uarg);
	case VFIOLAB_UNPIN:
		return vl_unpin(s, uarg);
	case VFIOLAB_DMA_RW:
		return vl_rw(s, uarg);
	case VFIOLAB_SET_UNMAP_MODE: {
		struct vfiolab_mode m;

		if (copy_from_user(&m, uarg, sizeof(m)))
			return -EFAULT;
		if (m.mode > VFIOLAB_UNMAP_NEVER)
			return -EINVAL;
		mutex_lock(&s->lock);
		s->mode = m.mode;
		s->n = m.n;
		s->ignored_calls = 0;
		mutex_unlock(&s->lock);
		return 0;
	}
	case VFIOLAB_QUERY: {
		struct vfiolab_query q = {};

		mutex_lock(&s->lock);
		q.unmap_calls = s->unmap_calls;
		q.ignored_calls = s->ignored_calls;
		q.last_iova = s->last_iova;
		q.last_length = s->last_length;
		q.pinned_pages = vl_pinned_pages(s);
		q.mode = s->mode;
		q.n = s->n;
		mutex_unlock(&s->lock);
		return copy_to_user(uarg, &q, sizeof(q)) ? -EFAULT : 0;
	}
	}
	return -ENOTTY;
}

static int vl_open_device(struct vfio_device *vdev)
{
	struct vl_state *s = to_vl(vdev);

	mutex_lock(&s->lock);
	s->mode = VFIOLAB_UNMAP_UNPIN_ALL;
	s->n = 0;
	s->unmap_calls = 0;
	s->ignored_calls = 0;
	s->last_iova = 0;
	s->last_length = 0;
	mutex_unlock(&s->lock);
	return 0;
}

static void vl_close_device(struct vfio_device *vdev)
{
	struct vl_state *s = to_vl(vdev);

	/* a driver must drop its pins before the container goes away */
	mutex_lock(&s->lock);
	vl_unpin_all(s);
	mutex_unlock(&s->lock);
}

static int vl_init_dev(struct vfio_device *vdev)
{
	struct vl_state *s = to_vl(vdev);

	mutex_init(&s->lock);
	INIT_LIST_HEAD(&s->pins);
	return 0;
}

static void vl_release_dev(struct vfio_device *vdev)
{
	struct vl_state *s = to_vl(vdev);

	mutex_destroy(&s->lock);
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 2, 0)
	/* 6.1: the driver's release frees the allocation; later the core does */
	vfio_free_device(vdev);
#endif
}

static const struct vfio_device_ops vl_dev_ops = {
	.name = VL_NAME,
	.init = vl_init_dev,
	.release = vl_release_dev,
	.open_device = vl_open_device,
	.close_device = vl_close_device,
	.ioctl = vl_ioctl,
	.dma_unmap = vl_dma_unmap,
};

static int vl_probe(struct mdev_device *mdev)
{
	struct vl_state *s;
	int ret;

	if (atomic_dec_if_positive(&vl_avail) < 0)
		return -ENOSPC;
	s = vfio_alloc_device(vl_state, vdev, &mdev->dev, &vl_dev_ops);
	if (IS_ERR(s)) {
		atomic_inc(&vl_avail);
		return PTR_ERR(s);
	}
	ret = vfio_register_emulated_iommu_dev(&s->vdev);
	if (ret) {
		vfio_put_device(&s->vdev);
		atomic_inc(&vl_avail);
		return ret;
	}
	dev_set_drvdata(&mdev->dev, s);
	return 0;
}

static void vl_remove(struct mdev_device *mdev)
{
	struct vl_state *s = dev_get_drvdata(&mdev->dev);

	vfio_unregister_group_dev(&s->vdev);
	vfio_put_device(&s->vdev);
	atomic_inc(&vl_avail);
}

static unsigned int vl_get_available(struct mdev_type *mtype)
{
	return atomic_read(&vl_avail);
}

static ssize_t vl_show_description(struct mdev_type *mtype, char *buf)
{
	return sprintf(buf, "vfiolab test device (pins on command)\n");
}

static struct mdev_driver vl_driver = {
	.device_api = VFIO_DEVICE_API_PCI_STRING,
	.driver = {
		.name = VL_NAME,
		.owner = THIS_MODULE,
		.mod_name = KBUILD_MODNAME,
	},
	.probe = vl_probe,
	.remove = vl_remove,
	.get_available = vl_get_available,
	.show_description = vl_show_description,
};

static struct mdev_type vl_type_a = { .sysfs_name = "a", .pretty_name = "vfiolab-a" };
static struct mdev_type vl_type_b = { .sysfs_name = "b", .pretty_name = "vfiolab-b" };
static struct mdev_type *vl_types[] = { &vl_type_a, &vl_type_b };

static int __init vl_init(void)
{
	int ret;

	ret = mdev_register_driver(&vl_driver);
	if (ret)
		return ret;
	vl_pdev = platform_device_register_simple(VL_NAME, -1, NULL, 0);
	if (IS_ERR(vl_pdev)) {
		ret = PTR_ERR(vl_pdev);
		goto err_driver;
	}
	ret = mdev_register_parent(&vl_parent, &vl_pdev->dev, &vl_driver,
				   vl_types, ARRAY_SIZE(vl_types));
	if (ret)
		goto err_pdev;
	pr_info(VL_NAME ": registered (%u instances max)\n", VL_MAX_INSTANCES);
	return 0;

err_pdev:
	platform_device_unregister(vl_pdev);
err_driver:
	mdev_unregister_driver(&vl_driver);
	return ret;
}

static void __exit vl_exit(void)
{
	mdev_unregister_parent(&vl_parent);
	platform_device_unregister(vl_pdev);
	mdev_unregister_driver(&vl_driver);
}

module_init(vl_init);
module_exit(vl_exit);
MODULE_LICENSE("GPL v2");
MODULE_DESCRIPTION("vfiolab test mdev driver: external pinning on command");
