/* SPDX-License-Identifier: (GPL-2.0 OR MIT) */
/*
 * Private ioctls of the vfiolab test mdev driver, issued on a VFIO device fd
 * obtained with VFIO_GROUP_GET_DEVICE_FD for one of its mdev instances.
 * Shared by the kernel module (GPL-2.0) and the userspace runner (MIT).
 */
#ifndef VFIOLAB_MDEV_UAPI_H
#define VFIOLAB_MDEV_UAPI_H

#ifdef __KERNEL__
#include <linux/types.h>
#include <linux/ioctl.h>
#else
#include <linux/types.h>
#include <sys/ioctl.h>
#endif

#define VFIOLAB_MAGIC 'V'

/* vfio_pin_pages(vdev, iova, npage, prot, pages). ioctl returns what it returned. */
struct vfiolab_pin {
	__u64 iova;
	__s32 npage;
	__s32 prot;	/* IOMMU_READ=1, IOMMU_WRITE=2 (kernel's values) */
};

/* vfio_unpin_pages(vdev, iova, npage) */
struct vfiolab_unpin {
	__u64 iova;
	__s32 npage;
	__u32 pad;
};

/* vfio_dma_rw(vdev, iova, kbuf, len, write); data is a user pointer (len bytes) */
struct vfiolab_rw {
	__u64 iova;
	__u64 data;
	__u32 len;
	__u32 write;
};

#define VFIOLAB_UNMAP_UNPIN_ALL	0	/* unpin every page we pinned inside the range */
#define VFIOLAB_UNMAP_IGNORE_N	1	/* ignore the first n callbacks, then unpin */
#define VFIOLAB_UNMAP_NEVER	2	/* never unpin (provokes the type1 BUG) */

struct vfiolab_mode {
	__u32 mode;
	__u32 n;
};

struct vfiolab_query {
	__u64 unmap_calls;	/* dma_unmap callbacks received since open/reset */
	__u64 ignored_calls;	/* callbacks in which we did not unpin */
	__u64 last_iova;
	__u64 last_length;
	__u64 pinned_pages;	/* pages we hold pinned (sum of ref counts) */
	__u32 mode;
	__u32 n;
};

#define VFIOLAB_PIN		_IOW(VFIOLAB_MAGIC, 0xa0, struct vfiolab_pin)
#define VFIOLAB_UNPIN		_IOW(VFIOLAB_MAGIC, 0xa1, struct vfiolab_unpin)
#define VFIOLAB_DMA_RW		_IOW(VFIOLAB_MAGIC, 0xa2, struct vfiolab_rw)
#define VFIOLAB_SET_UNMAP_MODE	_IOW(VFIOLAB_MAGIC, 0xa3, struct vfiolab_mode)
#define VFIOLAB_QUERY		_IOR(VFIOLAB_MAGIC, 0xa4, struct vfiolab_query)

#endif
