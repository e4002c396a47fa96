// SPDX-License-Identifier: MIT
/*
 * vfiolab-runner: executes a line-based step script against the real VFIO
 * type1 backend and prints one JSON object per step.  Runs inside a QEMU
 * guest (see kernel/initramfs/init).  Format: docs/kernel-backend.md.
 *
 * Each scenario (a script file, or a part of one between `reset` lines) runs
 * in a forked child, so that ending a scenario closes every fd, drops every
 * buffer and restores rlimit and capabilities.  The parent watches the child
 * with a per-step timeout and reports a step as hung (or died) when the child
 * does not finish it.
 *
 * Build: gcc -static -O2 -Wall -o vfiolab-runner vfiolab-runner.c
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/vfio.h>

#include "../vfiolab-mdev/vfiolab_mdev_uapi.h"

#define MAX_ARGS 24
#define MAX_NAMES 64
#define MAX_KLOG 256
#define DEFAULT_TIMEOUT_MS 20000
#define EDU_VENDOR 0x1234
#define EDU_DEVICE 0x11e8
#define MDEV_UUID_FMT "7f1ab000-0000-4000-8000-0000000000%02x"

/* ------------------------------------------------------------------ */
/* small dynamic string                                                */

struct sbuf {
	char *p;
	size_t len, cap;
};

static void sb_putn(struct sbuf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t nc = b->cap ? b->cap * 2 : 256;
		while (nc < b->len + n + 1)
			nc *= 2;
		b->p = realloc(b->p, nc);
		if (!b->p)
			abort();
		b->cap = nc;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = 0;
}

static void sb_puts(struct sbuf *b, const char *s) { sb_putn(b, s, strlen(s)); }

static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	char tmp[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(tmp)) {
		char *big = malloc(n + 1);
		va_start(ap, fmt);
		vsnprintf(big, n + 1, fmt, ap);
		va_end(ap);
		sb_putn(b, big, n);
		free(big);
		return;
	}
	sb_putn(b, tmp, n);
}

static void sb_json_str(struct sbuf *b, const char *s)
{
	sb_putn(b, "\"", 1);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			char e[2] = { '\\', (char)c };
			sb_putn(b, e, 2);
		} else if (c < 0x20 || c == 0x7f) {
			sb_printf(b, "\\u%04x", c);
		} else {
			sb_putn(b, (const char *)&c, 1);
		}
	}
	sb_putn(b, "\"", 1);
}

/* ------------------------------------------------------------------ */
/* script parsing                                                      */

struct arg {
	char *key;
	char *val;
};

struct step {
	int lineno;
	char *op;
	int nargs;
	struct arg args[MAX_ARGS];
};

struct script {
	const char *name;
	int nsteps;
	struct step *steps;
};

static char *xstrdup(const char *s)
{
	char *r = strdup(s);
	if (!r)
		abort();
	return r;
}

static int parse_script(const char *path, struct script *sc)
{
	FILE *f = fopen(path, "r");
	char line[4096];
	int lineno = 0, cap = 0;

	if (!f)
		return -1;
	sc->name = path;
	sc->nsteps = 0;
	sc->steps = NULL;
	while (fgets(line, sizeof(line), f)) {
		char *p = line, *tok, *save = NULL;
		struct step st;

		lineno++;
		/* strip comments and line ends */
		char *hash = strchr(p, '#');
		if (hash)
			*hash = 0;
		memset(&st, 0, sizeof(st));
		st.lineno = lineno;
		for (tok = strtok_r(p, " \t\r\n", &save); tok; tok = strtok_r(NULL, " \t\r\n", &save)) {
			if (!st.op) {
				st.op = xstrdup(tok);
				continue;
			}
			if (st.nargs >= MAX_ARGS)
				break;
			char *eq = strchr(tok, '=');
			if (eq) {
				*eq = 0;
				st.args[st.nargs].key = xstrdup(tok);
				st.args[st.nargs].val = xstrdup(eq + 1);
			} else {
				st.args[st.nargs].key = xstrdup(tok);
				st.args[st.nargs].val = xstrdup("");
			}
			st.nargs++;
		}
		if (!st.op)
			continue;
		if (sc->nsteps == cap) {
			cap = cap ? cap * 2 : 32;
			sc->steps = realloc(sc->steps, cap * sizeof(*sc->steps));
		}
		sc->steps[sc->nsteps++] = st;
	}
	fclose(f);
	return 0;
}

/* ------------------------------------------------------------------ */
/* step context                                                        */

struct named_fd {
	char name[64];
	int fd;
	int is_mdev;	/* device fd of one of our mdev instances */
	char devname[64];
};

struct named_buf {
	char name[64];
	void *addr;
	size_t size;
};

static struct named_fd fds[MAX_NAMES];
static struct named_buf bufs[MAX_NAMES];

/* per-step output */
static struct step *cur;
static struct sbuf fields;
static char errmsg[512];
static int nfields;

static void field_str(const char *k, const char *v)
{
	sb_puts(&fields, nfields++ ? "," : "");
	sb_json_str(&fields, k);
	sb_puts(&fields, ":");
	sb_json_str(&fields, v);
}

static void field_hex(const char *k, unsigned long long v)
{
	char tmp[32];
	snprintf(tmp, sizeof(tmp), "0x%llx", v);
	field_str(k, tmp);
}

static void field_dec(const char *k, long long v)
{
	char tmp[32];
	snprintf(tmp, sizeof(tmp), "%lld", v);
	field_str(k, tmp);
}

/* script error: not a kernel answer */
#define SCRIPT_ERR(...) do { snprintf(errmsg, sizeof(errmsg), __VA_ARGS__); return -2; } while (0)

static const char *arg(const char *key)
{
	for (int i = 0; i < cur->nargs; i++)
		if (!strcmp(cur->args[i].key, key))
			return cur->args[i].val;
	return NULL;
}

/* number with optional K/M/G (binary) suffix, decimal / 0x hex / negative */
static int parse_num(const char *s, unsigned long long *out)
{
	char *end;
	int neg = 0;

	if (!s || !*s)
		return -1;
	if (!strcmp(s, "inf") || !strcmp(s, "infinity")) {
		*out = (unsigned long long)RLIM_INFINITY;
		return 0;
	}
	if (*s == '-') {
		neg = 1;
		s++;
	}
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || end == s)
		return -1;
	if (*end == 'K' || *end == 'k') { v <<= 10; end++; }
	else if (*end == 'M' || *end == 'm') { v <<= 20; end++; }
	else if (*end == 'G' || *end == 'g') { v <<= 30; end++; }
	if (*end)
		return -1;
	*out = neg ? (unsigned long long)(-(long long)v) : v;
	return 0;
}

struct sym {
	const char *name;
	unsigned long long val;
};

/* "A|B|0x10" using a symbol table */
static int parse_flags(const char *s, const struct sym *tab, unsigned long long *out)
{
	char tmp[256], *tok, *save = NULL;
	unsigned long long v = 0;

	snprintf(tmp, sizeof(tmp), "%s", s);
	for (tok = strtok_r(tmp, "|,", &save); tok; tok = strtok_r(NULL, "|,", &save)) {
		unsigned long long n;
		int found = 0;
		for (const struct sym *t = tab; t && t->name; t++)
			if (!strcasecmp(tok, t->name)) {
				v |= t->val;
				found = 1;
				break;
			}
		if (found)
			continue;
		if (parse_num(tok, &n))
			return -1;
		v |= n;
	}
	*out = v;
	return 0;
}

/* fetch required / optional numeric args; return -2 (script error) on problems */
#define NEED_NUM(var, key) do { \
	const char *_s = arg(key); \
	if (!_s) SCRIPT_ERR("missing %s=", key); \
	if (parse_num(_s, &(var))) SCRIPT_ERR("bad number %s=%s", key, _s); \
} while (0)
#define OPT_NUM(var, key, dflt) do { \
	const char *_s = arg(key); \
	if (!_s) (var) = (dflt); \
	else if (parse_num(_s, &(var))) SCRIPT_ERR("bad number %s=%s", key, _s); \
} while (0)
#define OPT_FLAGS(var, key, tab, dflt) do { \
	const char *_s = arg(key); \
	if (!_s) (var) = (dflt); \
	else if (parse_flags(_s, tab, &(var))) SCRIPT_ERR("bad flags %s=%s", key, _s); \
} while (0)

static struct named_fd *find_fd(const char *name)
{
	for (int i = 0; i < MAX_NAMES; i++)
		if (fds[i].name[0] && !strcmp(fds[i].name, name))
			return &fds[i];
	return NULL;
}

static struct named_fd *new_fd(const char *name)
{
	struct named_fd *f = find_fd(name);
	if (f)
		return f;	/* re-using a name forgets (does not close) the old fd */
	for (int i = 0; i < MAX_NAMES; i++)
		if (!fds[i].name[0]) {
			memset(&fds[i], 0, sizeof(fds[i]));
			snprintf(fds[i].name, sizeof(fds[i].name), "%s", name);
			return &fds[i];
		}
	return NULL;
}

static struct named_buf *find_buf(const char *name)
{
	for (int i = 0; i < MAX_NAMES; i++)
		if (bufs[i].name[0] && !strcmp(bufs[i].name, name))
			return &bufs[i];
	return NULL;
}

static struct named_buf *new_buf(const char *name)
{
	struct named_buf *b = find_buf(name);
	if (b)
		return b;
	for (int i = 0; i < MAX_NAMES; i++)
		if (!bufs[i].name[0]) {
			snprintf(bufs[i].name, sizeof(bufs[i].name), "%s", name);
			return &bufs[i];
		}
	return NULL;
}

/* resolve an fd argument: a name, or "#N" / a number for a raw fd */
static int get_fd(const char *key, int *out)
{
	const char *s = arg(key);
	unsigned long long n;
	if (!s)
		SCRIPT_ERR("missing %s=", key);
	struct named_fd *f = find_fd(s);
	if (f) {
		*out = f->fd;
		return 0;
	}
	if (*s == '#')
		s++;
	if (!parse_num(s, &n)) {
		*out = (int)n;
		return 0;
	}
	SCRIPT_ERR("unknown fd name %s=%s", key, arg(key));
}

/* vaddr=NAME, NAME+OFF, NAME-OFF or a raw number */
static int parse_addr(const char *s, unsigned long long *out)
{
	char name[128];
	unsigned long long off = 0, n;
	const char *op;

	if (!parse_num(s, &n)) {
		*out = n;
		return 0;
	}
	op = strpbrk(s, "+-");
	size_t len = op ? (size_t)(op - s) : strlen(s);
	if (len >= sizeof(name))
		return -1;
	memcpy(name, s, len);
	name[len] = 0;
	struct named_buf *b = find_buf(name);
	if (!b)
		return -1;
	if (op && parse_num(op + 1, &off))
		return -1;
	*out = (unsigned long long)(uintptr_t)b->addr + (op && *op == '-' ? -off : off);
	return 0;
}

#define NEED_ADDR(var, key) do { \
	const char *_s = arg(key); \
	if (!_s) SCRIPT_ERR("missing %s=", key); \
	if (parse_addr(_s, &(var))) SCRIPT_ERR("bad address %s=%s", key, _s); \
} while (0)

/* ------------------------------------------------------------------ */
/* sysfs helpers                                                       */

static int read_sysfs_hex(const char *path, unsigned long *out)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	int ok = fscanf(f, "%lx", out) == 1;
	fclose(f);
	return ok ? 0 : -1;
}

static int group_of(const char *devdir, int *group)
{
	char link[PATH_MAX], target[PATH_MAX];
	ssize_t n;

	snprintf(link, sizeof(link), "%s/iommu_group", devdir);
	n = readlink(link, target, sizeof(target) - 1);
	if (n < 0)
		return -1;
	target[n] = 0;
	char *base = strrchr(target, '/');
	*group = atoi(base ? base + 1 : target);
	return 0;
}

/* role "edu" or "mdevN" -> group number and device name */
static int resolve_role(const char *role, int *group, char *devname, size_t dlen)
{
	char dir[PATH_MAX];

	if (!strcmp(role, "edu")) {
		DIR *d = opendir("/sys/bus/pci/devices");
		struct dirent *e;
		if (!d)
			return -1;
		while ((e = readdir(d))) {
			unsigned long ven, dev;
			char p[PATH_MAX];
			if (e->d_name[0] == '.')
				continue;
			snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s/vendor", e->d_name);
			if (read_sysfs_hex(p, &ven) || ven != EDU_VENDOR)
				continue;
			snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s/device", e->d_name);
			if (read_sysfs_hex(p, &dev) || dev != EDU_DEVICE)
				continue;
			snprintf(dir, sizeof(dir), "/sys/bus/pci/devices/%s", e->d_name);
			snprintf(devname, dlen, "%s", e->d_name);
			closedir(d);
			return group_of(dir, group);
		}
		closedir(d);
		return -1;
	}
	if (!strncmp(role, "mdev", 4) && isdigit((unsigned char)role[4])) {
		int n = atoi(role + 4);
		snprintf(devname, dlen, MDEV_UUID_FMT, n);
		snprintf(dir, sizeof(dir), "/sys/bus/mdev/devices/%s", devname);
		return group_of(dir, group);
	}
	return -1;
}

/* ------------------------------------------------------------------ */
/* process state                                                       */

static long read_status_kb(const char *key)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long v = -1;
	size_t kl = strlen(key);

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, kl) && line[kl] == ':') {
			v = strtol(line + kl + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

static int cap_get(struct __user_cap_data_struct d[2])
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	return syscall(SYS_capget, &h, d);
}

static int cap_set_ipc_lock(int on)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];
	unsigned int bit = 1u << (CAP_IPC_LOCK & 31);

	if (cap_get(d))
		return -1;
	if (on)
		d[CAP_IPC_LOCK >> 5].effective |= bit;
	else
		d[CAP_IPC_LOCK >> 5].effective &= ~bit;
	return syscall(SYS_capset, &h, d);
}

static int cap_has_ipc_lock(void)
{
	struct __user_cap_data_struct d[2];
	if (cap_get(d))
		return -1;
	return !!(d[CAP_IPC_LOCK >> 5].effective & (1u << (CAP_IPC_LOCK & 31)));
}

/* ------------------------------------------------------------------ */
/* ops                                                                 */

static const struct sym map_flags[] = {
	{ "READ", VFIO_DMA_MAP_FLAG_READ }, { "WRITE", VFIO_DMA_MAP_FLAG_WRITE },
	{ "VADDR", VFIO_DMA_MAP_FLAG_VADDR }, { "RW", 3 }, { "NONE", 0 }, { NULL, 0 } };
static const struct sym unmap_flags[] = {
	{ "GET_DIRTY_BITMAP", VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP },
	{ "DIRTY", VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP },
	{ "ALL", VFIO_DMA_UNMAP_FLAG_ALL }, { "VADDR", VFIO_DMA_UNMAP_FLAG_VADDR },
	{ "NONE", 0 }, { NULL, 0 } };
static const struct sym dirty_flags[] = {
	{ "START", VFIO_IOMMU_DIRTY_PAGES_FLAG_START }, { "STOP", VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP },
	{ "GET_BITMAP", VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP }, { "GET", VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP },
	{ NULL, 0 } };
static const struct sym ext_syms[] = {
	{ "TYPE1", VFIO_TYPE1_IOMMU }, { "SPAPR_TCE", VFIO_SPAPR_TCE_IOMMU },
	{ "TYPE1v2", VFIO_TYPE1v2_IOMMU }, { "DMA_CC", VFIO_DMA_CC_IOMMU },
	{ "EEH", VFIO_EEH }, { "TYPE1_NESTING", VFIO_TYPE1_NESTING_IOMMU },
	{ "SPAPR_TCE_v2", VFIO_SPAPR_TCE_v2_IOMMU }, { "NOIOMMU", VFIO_NOIOMMU_IOMMU },
	{ "UNMAP_ALL", VFIO_UNMAP_ALL }, { "UPDATE_VADDR", VFIO_UPDATE_VADDR }, { NULL, 0 } };
static const struct sym prot_syms[] = {
	{ "READ", 1 }, { "WRITE", 2 }, { "R", 1 }, { "W", 2 }, { "RW", 3 }, { "NONE", 0 }, { NULL, 0 } };
static const struct sym mmap_prot_syms[] = {
	{ "READ", PROT_READ }, { "WRITE", PROT_WRITE }, { "R", PROT_READ }, { "W", PROT_WRITE },
	{ "RW", PROT_READ | PROT_WRITE }, { "NONE", PROT_NONE }, { NULL, 0 } };
static const struct sym mode_syms[] = {
	{ "unpin-all", VFIOLAB_UNMAP_UNPIN_ALL }, { "unpin", VFIOLAB_UNMAP_UNPIN_ALL },
	{ "ignore", VFIOLAB_UNMAP_IGNORE_N }, { "ignore-n", VFIOLAB_UNMAP_IGNORE_N },
	{ "never", VFIOLAB_UNMAP_NEVER }, { NULL, 0 } };

static void hexdump_field(const char *key, const unsigned char *p, size_t n)
{
	struct sbuf b = { 0 };
	for (size_t i = 0; i < n; i++)
		sb_printf(&b, "%02x", p[i]);
	field_str(key, b.p ? b.p : "");
	free(b.p);
}

static int op_container_open(void)
{
	const char *as = arg("as"), *path = arg("path");
	if (!as)
		SCRIPT_ERR("missing as=");
	int fd = open(path ? path : "/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -1;
	struct named_fd *f = new_fd(as);
	if (!f)
		SCRIPT_ERR("too many fds");
	f->fd = fd;
	field_dec("fd", fd);
	return 0;
}

static int op_group_open(void)
{
	const char *as = arg("as"), *role = arg("role"), *num = arg("num");
	char path[64], devname[64] = "";
	int group;

	if (!as)
		SCRIPT_ERR("missing as=");
	if (role) {
		if (resolve_role(role, &group, devname, sizeof(devname)))
			SCRIPT_ERR("cannot resolve role %s (no such device or no iommu_group)", role);
	} else if (num) {
		group = atoi(num);
	} else {
		SCRIPT_ERR("need role= or num=");
	}
	snprintf(path, sizeof(path), "/dev/vfio/%d", group);
	field_dec("group", group);
	if (devname[0])
		field_str("device", devname);
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -1;
	struct named_fd *f = new_fd(as);
	if (!f)
		SCRIPT_ERR("too many fds");
	f->fd = fd;
	f->is_mdev = role && !strncmp(role, "mdev", 4);
	snprintf(f->devname, sizeof(f->devname), "%s", devname);
	field_dec("fd", fd);
	return 0;
}

static int op_group_status(void)
{
	int fd;
	unsigned long long argsz;
	struct vfio_group_status st;

	if (get_fd("group", &fd))
		return -2;
	OPT_NUM(argsz, "argsz", sizeof(st));
	memset(&st, 0, sizeof(st));
	st.argsz = (uint32_t)argsz;
	int r = ioctl(fd, VFIO_GROUP_GET_STATUS, &st);
	if (r == 0) {
		field_hex("flags", st.flags);
		field_dec("viable", !!(st.flags & VFIO_GROUP_FLAGS_VIABLE));
		field_dec("container_set", !!(st.flags & VFIO_GROUP_FLAGS_CONTAINER_SET));
	}
	return r;
}

static int op_group_set_container(void)
{
	int gfd, cfd;
	if (get_fd("group", &gfd) || get_fd("container", &cfd))
		return -2;
	return ioctl(gfd, VFIO_GROUP_SET_CONTAINER, &cfd);
}

static int op_group_unset_container(void)
{
	int gfd;
	if (get_fd("group", &gfd))
		return -2;
	return ioctl(gfd, VFIO_GROUP_UNSET_CONTAINER);
}

static int op_group_get_device_fd(void)
{
	const char *as = arg("as"), *name = arg("name"), *g = arg("group");
	struct named_fd *gf;
	int gfd;

	if (!as)
		SCRIPT_ERR("missing as=");
	if (get_fd("group", &gfd))
		return -2;
	gf = g ? find_fd(g) : NULL;
	if (!name)
		name = gf ? gf->devname : "";
	int fd = ioctl(gfd, VFIO_GROUP_GET_DEVICE_FD, name);
	field_str("name", name);
	if (fd < 0)
		return -1;
	struct named_fd *f = new_fd(as);
	if (!f)
		SCRIPT_ERR("too many fds");
	f->fd = fd;
	f->is_mdev = gf ? gf->is_mdev : 0;
	snprintf(f->devname, sizeof(f->devname), "%s", name);
	field_dec("fd", fd);
	return fd;
}

static int op_close(void)
{
	const char *s = arg("fd");
	int fd;
	if (get_fd("fd", &fd))
		return -2;
	struct named_fd *f = s ? find_fd(s) : NULL;
	int r = close(fd);
	if (f)
		memset(f, 0, sizeof(*f));
	return r;
}

static int op_get_api_version(void)
{
	int fd;
	if (get_fd("container", &fd))
		return -2;
	return ioctl(fd, VFIO_GET_API_VERSION);
}

static int op_check_extension(void)
{
	int fd;
	unsigned long long ext;
	if (get_fd("container", &fd))
		return -2;
	OPT_FLAGS(ext, "ext", ext_syms, 0);
	if (!arg("ext"))
		SCRIPT_ERR("missing ext=");
	return ioctl(fd, VFIO_CHECK_EXTENSION, (unsigned long)ext);
}

static int op_set_iommu(void)
{
	int fd;
	unsigned long long type;
	if (get_fd("container", &fd))
		return -2;
	if (!arg("type"))
		SCRIPT_ERR("missing type=");
	OPT_FLAGS(type, "type", ext_syms, 0);
	return ioctl(fd, VFIO_SET_IOMMU, (unsigned long)type);
}

static int op_get_info(void)
{
	int fd;
	unsigned long long argsz;
	static unsigned char buf[65536];
	struct vfio_iommu_type1_info *info = (void *)buf;

	if (get_fd("container", &fd))
		return -2;
	OPT_NUM(argsz, "argsz", 4096);
	if (argsz > sizeof(buf) && argsz < (1ull << 32))
		SCRIPT_ERR("argsz too large for the runner's buffer (%zu)", sizeof(buf));
	memset(buf, 0, sizeof(buf));
	info->argsz = (uint32_t)argsz;
	int r = ioctl(fd, VFIO_IOMMU_GET_INFO, info);
	if (r)
		return r;
	field_hex("argsz", info->argsz);
	field_hex("flags", info->flags);
	field_hex("iova_pgsizes", info->iova_pgsizes);
	field_hex("cap_offset", info->cap_offset);
	if (!(info->flags & VFIO_IOMMU_INFO_CAPS) || !info->cap_offset)
		return r;
	uint32_t limit = argsz < sizeof(buf) ? (uint32_t)argsz : sizeof(buf);
	uint32_t off = info->cap_offset;
	struct sbuf caps = { 0 };
	int guard = 0;
	while (off && off + sizeof(struct vfio_info_cap_header) <= limit && guard++ < 32) {
		struct vfio_info_cap_header *h = (void *)(buf + off);
		sb_printf(&caps, "%s%u.v%u", caps.len ? "," : "", h->id, h->version);
		if (h->id == VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE) {
			struct vfio_iommu_type1_info_cap_iova_range *c = (void *)h;
			struct sbuf rs = { 0 };
			for (uint32_t i = 0; i < c->nr_iovas &&
			     off + sizeof(*c) + (i + 1) * sizeof(c->iova_ranges[0]) <= limit; i++)
				sb_printf(&rs, "%s0x%llx-0x%llx", i ? "," : "",
					  (unsigned long long)c->iova_ranges[i].start,
					  (unsigned long long)c->iova_ranges[i].end);
			field_str("iova_ranges", rs.p ? rs.p : "");
			free(rs.p);
		} else if (h->id == VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION) {
			struct vfio_iommu_type1_info_cap_migration *c = (void *)h;
			field_hex("migration_flags", c->flags);
			field_hex("migration_pgsize_bitmap", c->pgsize_bitmap);
			field_hex("max_dirty_bitmap_size", c->max_dirty_bitmap_size);
		} else if (h->id == VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL) {
			struct vfio_iommu_type1_info_dma_avail *c = (void *)h;
			field_hex("dma_avail", c->avail);
		}
		off = h->next;
	}
	field_str("caps", caps.p ? caps.p : "");
	free(caps.p);
	return r;
}

static int op_map_dma(void)
{
	int fd;
	unsigned long long argsz, flags, vaddr, iova, size;
	struct vfio_iommu_type1_dma_map m;

	if (get_fd("container", &fd))
		return -2;
	OPT_NUM(argsz, "argsz", sizeof(m));
	OPT_FLAGS(flags, "flags", map_flags, VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE);
	NEED_ADDR(vaddr, "vaddr");
	NEED_NUM(iova, "iova");
	NEED_NUM(size, "size");
	memset(&m, 0, sizeof(m));
	m.argsz = (uint32_t)argsz;
	m.flags = (uint32_t)flags;
	m.vaddr = vaddr;
	m.iova = iova;
	m.size = size;
	return ioctl(fd, VFIO_IOMMU_MAP_DMA, &m);
}

static int op_unmap_dma(void)
{
	int fd;
	unsigned long long argsz, flags, iova, size, bpg, bsz;
	struct {
		struct vfio_iommu_type1_dma_unmap u;
		struct vfio_bitmap b;
	} __attribute__((packed)) req;
	unsigned char *bitmap = NULL;

	if (get_fd("container", &fd))
		return -2;
	OPT_FLAGS(flags, "flags", unmap_flags, 0);
	OPT_NUM(iova, "iova", 0);
	OPT_NUM(size, "size", 0);
	OPT_NUM(bpg, "bitmap_pgsize", 4096);
	OPT_NUM(bsz, "bitmap_size", 0);
	OPT_NUM(argsz, "argsz", (flags & VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP) ? sizeof(req) : sizeof(req.u));
	memset(&req, 0, sizeof(req));
	req.u.argsz = (uint32_t)argsz;
	req.u.flags = (uint32_t)flags;
	req.u.iova = iova;
	req.u.size = size;
	if (bsz || (flags & VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP)) {
		bitmap = calloc(1, bsz ? bsz : 8);
		req.b.pgsize = bpg;
		req.b.size = bsz;
		req.b.data = (void *)bitmap;
	}
	int r = ioctl(fd, VFIO_IOMMU_UNMAP_DMA, &req);
	int e = errno;
	field_hex("size", req.u.size);
	field_hex("flags", req.u.flags);
	if (bitmap) {
		hexdump_field("bitmap", bitmap, bsz > 64 ? 64 : bsz);
		free(bitmap);
	}
	errno = e;
	return r;
}

static int op_dirty_pages(void)
{
	int fd;
	unsigned long long flags, argsz, iova, size, bpg, bsz;
	struct {
		struct vfio_iommu_type1_dirty_bitmap d;
		struct vfio_iommu_type1_dirty_bitmap_get g;
	} __attribute__((packed)) req;
	unsigned char *bitmap = NULL;

	if (get_fd("container", &fd))
		return -2;
	const char *op = arg("op");
	unsigned long long dflt = 0;
	if (op && !strcmp(op, "start"))
		dflt = VFIO_IOMMU_DIRTY_PAGES_FLAG_START;
	else if (op && !strcmp(op, "stop"))
		dflt = VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP;
	else if (op && !strcmp(op, "get"))
		dflt = VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP;
	else if (op)
		SCRIPT_ERR("op= must be start, stop or get");
	OPT_FLAGS(flags, "flags", dirty_flags, dflt);
	OPT_NUM(iova, "iova", 0);
	OPT_NUM(size, "size", 0);
	OPT_NUM(bpg, "bitmap_pgsize", 4096);
	OPT_NUM(bsz, "bitmap_size", 0);
	OPT_NUM(argsz, "argsz", (flags & VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP) ? sizeof(req) : sizeof(req.d));
	memset(&req, 0, sizeof(req));
	req.d.argsz = (uint32_t)argsz;
	req.d.flags = (uint32_t)flags;
	if (flags & VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP) {
		bitmap = calloc(1, bsz ? bsz : 8);
		req.g.iova = iova;
		req.g.size = size;
		req.g.bitmap.pgsize = bpg;
		req.g.bitmap.size = bsz;
		req.g.bitmap.data = (void *)bitmap;
	}
	int r = ioctl(fd, VFIO_IOMMU_DIRTY_PAGES, &req);
	int e = errno;
	if (bitmap) {
		hexdump_field("bitmap", bitmap, bsz > 64 ? 64 : bsz);
		free(bitmap);
	}
	errno = e;
	return r;
}

static int op_mmap(void)
{
	const char *as = arg("as");
	unsigned long long size, prot, touch, populate, flags, shared;

	if (!as)
		SCRIPT_ERR("missing as=");
	NEED_NUM(size, "size");
	OPT_FLAGS(prot, "prot", mmap_prot_syms, PROT_READ | PROT_WRITE);
	OPT_NUM(touch, "touch", 1);
	OPT_NUM(populate, "populate", 0);
	OPT_NUM(shared, "shared", 0);
	flags = (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS | (populate ? MAP_POPULATE : 0);
	if (arg("flags"))
		OPT_NUM(flags, "flags", flags);
	/* map writable first so that touching works for any final prot */
	int first = touch ? (PROT_READ | PROT_WRITE) : (int)prot;
	void *p = mmap(NULL, size, first, (int)flags, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	if (touch) {
		long pg = sysconf(_SC_PAGESIZE);
		for (unsigned long long o = 0; o < size; o += pg)
			((volatile unsigned char *)p)[o] = 0xa5;
		if ((int)prot != first && mprotect(p, size, (int)prot))
			return -1;
	}
	struct named_buf *b = new_buf(as);
	if (!b)
		SCRIPT_ERR("too many buffers");
	b->addr = p;
	b->size = size;
	field_hex("addr", (uintptr_t)p);
	field_hex("size", size);
	return 0;
}

static int op_mmap_bar(void)
{
	const char *as = arg("as");
	unsigned long long region, size;
	int fd;
	struct vfio_region_info ri;

	if (!as)
		SCRIPT_ERR("missing as=");
	if (get_fd("device", &fd))
		return -2;
	OPT_NUM(region, "region", 0);
	memset(&ri, 0, sizeof(ri));
	ri.argsz = sizeof(ri);
	ri.index = (uint32_t)region;
	if (ioctl(fd, VFIO_DEVICE_GET_REGION_INFO, &ri))
		return -1;
	field_hex("region_size", ri.size);
	field_hex("region_offset", ri.offset);
	field_hex("region_flags", ri.flags);
	OPT_NUM(size, "size", ri.size);
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, ri.offset);
	if (p == MAP_FAILED)
		return -1;
	struct named_buf *b = new_buf(as);
	if (!b)
		SCRIPT_ERR("too many buffers");
	b->addr = p;
	b->size = size;
	field_hex("addr", (uintptr_t)p);
	field_hex("size", size);
	return 0;
}

/* buf=NAME [off=] [size=]: range inside a named buffer */
static int buf_range(void **addr, size_t *len)
{
	const char *name = arg("buf");
	unsigned long long off, size;
	struct named_buf *b;

	if (!name)
		SCRIPT_ERR("missing buf=");
	b = find_buf(name);
	if (!b)
		SCRIPT_ERR("unknown buffer %s", name);
	OPT_NUM(off, "off", 0);
	OPT_NUM(size, "size", b->size - off);
	*addr = (char *)b->addr + off;
	*len = size;
	return 0;
}

static int op_munmap(void)
{
	void *a;
	size_t l;
	if (buf_range(&a, &l))
		return -2;
	return munmap(a, l);
}

static int op_mlock(int lock)
{
	void *a;
	size_t l;
	if (buf_range(&a, &l))
		return -2;
	return lock ? mlock(a, l) : munlock(a, l);
}

static int op_touch(void)
{
	void *a;
	size_t l;
	unsigned long long byte;
	if (buf_range(&a, &l))
		return -2;
	OPT_NUM(byte, "byte", 0xa5);
	for (size_t o = 0; o < l; o += 4096)
		((volatile unsigned char *)a)[o] = (unsigned char)byte;
	return 0;
}

static int op_setrlimit(void)
{
	unsigned long long v, cur, max;
	struct rlimit rl;

	getrlimit(RLIMIT_MEMLOCK, &rl);
	if (arg("memlock")) {
		NEED_NUM(v, "memlock");
		cur = max = v;
	} else {
		cur = rl.rlim_cur;
		max = rl.rlim_max;
	}
	OPT_NUM(cur, "cur", cur);
	OPT_NUM(max, "max", max);
	rl.rlim_cur = cur;
	rl.rlim_max = max;
	int r = setrlimit(RLIMIT_MEMLOCK, &rl);
	int e = errno;
	getrlimit(RLIMIT_MEMLOCK, &rl);
	field_hex("cur", rl.rlim_cur);
	field_hex("max", rl.rlim_max);
	errno = e;
	return r;
}

static int op_cap(void)
{
	const char *v = arg("ipc_lock");
	int r;
	if (!v)
		SCRIPT_ERR("missing ipc_lock=drop|raise");
	if (!strcmp(v, "drop"))
		r = cap_set_ipc_lock(0);
	else if (!strcmp(v, "raise"))
		r = cap_set_ipc_lock(1);
	else
		SCRIPT_ERR("ipc_lock= must be drop or raise");
	int e = errno;
	field_dec("ipc_lock", cap_has_ipc_lock());
	errno = e;
	return r;
}

static int op_status(void)
{
	struct rlimit rl;
	getrlimit(RLIMIT_MEMLOCK, &rl);
	field_dec("vmlck_kb", read_status_kb("VmLck"));
	field_dec("vmpin_kb", read_status_kb("VmPin"));
	field_hex("rlimit_cur", rl.rlim_cur);
	field_hex("rlimit_max", rl.rlim_max);
	field_dec("ipc_lock", cap_has_ipc_lock());
	return 0;
}

static int get_mdev_fd(int *fd)
{
	const char *s = arg("dev");
	if (!s)
		SCRIPT_ERR("missing dev=");
	return get_fd("dev", fd);
}

static int op_pin(void)
{
	int fd;
	unsigned long long iova, npage, prot;
	struct vfiolab_pin p;
	if (get_mdev_fd(&fd))
		return -2;
	NEED_NUM(iova, "iova");
	NEED_NUM(npage, "npage");
	OPT_FLAGS(prot, "prot", prot_syms, 3);
	p.iova = iova;
	p.npage = (int32_t)npage;
	p.prot = (int32_t)prot;
	return ioctl(fd, VFIOLAB_PIN, &p);
}

static int op_unpin(void)
{
	int fd;
	unsigned long long iova, npage;
	struct vfiolab_unpin p;
	if (get_mdev_fd(&fd))
		return -2;
	NEED_NUM(iova, "iova");
	NEED_NUM(npage, "npage");
	memset(&p, 0, sizeof(p));
	p.iova = iova;
	p.npage = (int32_t)npage;
	return ioctl(fd, VFIOLAB_UNPIN, &p);
}

static int op_dma_rw(void)
{
	int fd;
	unsigned long long iova, len, wr, byte;
	struct vfiolab_rw p;
	if (get_mdev_fd(&fd))
		return -2;
	NEED_NUM(iova, "iova");
	NEED_NUM(len, "len");
	OPT_NUM(wr, "write", 0);
	OPT_NUM(byte, "byte", 0x5a);
	unsigned char *data = malloc(len ? len : 1);
	if (!data)
		SCRIPT_ERR("out of memory");
	memset(data, wr ? (int)byte : 0, len);
	p.iova = iova;
	p.data = (uintptr_t)data;
	p.len = (uint32_t)len;
	p.write = (uint32_t)wr;
	int r = ioctl(fd, VFIOLAB_DMA_RW, &p);
	int e = errno;
	if (r == 0 && !wr) {
		unsigned long long sum = 0;
		for (size_t i = 0; i < len; i++)
			sum += data[i];
		hexdump_field("head", data, len > 16 ? 16 : len);
		field_hex("sum", sum);
	}
	free(data);
	errno = e;
	return r;
}

static int op_unmap_mode(void)
{
	int fd;
	unsigned long long mode, n;
	struct vfiolab_mode m;
	if (get_mdev_fd(&fd))
		return -2;
	if (!arg("mode"))
		SCRIPT_ERR("missing mode=");
	OPT_FLAGS(mode, "mode", mode_syms, 0);
	OPT_NUM(n, "n", 0);
	m.mode = (uint32_t)mode;
	m.n = (uint32_t)n;
	return ioctl(fd, VFIOLAB_SET_UNMAP_MODE, &m);
}

static int op_query(void)
{
	int fd;
	struct vfiolab_query q;
	if (get_mdev_fd(&fd))
		return -2;
	memset(&q, 0, sizeof(q));
	int r = ioctl(fd, VFIOLAB_QUERY, &q);
	if (r == 0) {
		field_dec("unmap_calls", (long long)q.unmap_calls);
		field_dec("ignored_calls", (long long)q.ignored_calls);
		field_hex("last_iova", q.last_iova);
		field_hex("last_length", q.last_length);
		field_dec("pinned_pages", (long long)q.pinned_pages);
		field_dec("mode", q.mode);
		field_dec("n", q.n);
	}
	return r;
}

static int op_sleep(void)
{
	unsigned long long ms;
	NEED_NUM(ms, "ms");
	usleep(ms * 1000);
	return 0;
}

/* Write `val` to a sysfs/proc file; -1 with errno of the open or the write on failure. */
static int write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t w = write(fd, val, strlen(val));
	int e = errno;
	close(fd);
	if (w < 0) {
		errno = e;
		return -1;
	}
	return 0;
}

/* module=M name=N [value=V]: write (if value given) and read back /sys/module/M/parameters/N */
static int op_module_param(void)
{
	const char *m = arg("module"), *n = arg("name"), *v = arg("value");
	char path[PATH_MAX], got[256] = "";
	if (!m || !n)
		SCRIPT_ERR("need module= and name=");
	snprintf(path, sizeof(path), "/sys/module/%s/parameters/%s", m, n);
	if (v && write_file(path, v) < 0)
		return -1;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t r = read(fd, got, sizeof(got) - 1);
	close(fd);
	if (r > 0) {
		got[r] = 0;
		got[strcspn(got, "\n")] = 0;
	}
	field_str("value", got);
	return 0;
}

/* path=/sys/... [value=]: write (if value given; '~' stands for a space) and read back */
static int op_sysfs(void)
{
	const char *p = arg("path"), *v = arg("value");
	char got[512] = "", val[512];
	if (!p || strncmp(p, "/sys/", 5))
		SCRIPT_ERR("path= must start with /sys/");
	if (v) {
		snprintf(val, sizeof(val), "%s", v);
		for (char *q = val; *q; q++)
			if (*q == '~')
				*q = ' ';
		if (write_file(p, val) < 0)
			return -1;
	}
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t r = read(fd, got, sizeof(got) - 1);
		close(fd);
		if (r > 0) {
			got[r] = 0;
			got[strcspn(got, "\n")] = 0;
		}
		field_str("value", got);
	}
	return 0;
}

static int op_shell(void)
{
	/* cmd=... with '~' standing for a space; for diagnostics only */
	const char *c = arg("cmd");
	char tmp[1024];
	if (!c)
		SCRIPT_ERR("missing cmd=");
	snprintf(tmp, sizeof(tmp), "%s", c);
	for (char *p = tmp; *p; p++)
		if (*p == '~')
			*p = ' ';
	return system(tmp);
}

struct opdef {
	const char *name;
	int (*fn)(void);
};

static int op_proc_fork(void);
static int op_proc_exit(void);
static int op_sysfs(void);

static int op_mlock_on(void) { return op_mlock(1); }
static int op_mlock_off(void) { return op_mlock(0); }
static int op_nop(void) { return 0; }

static const struct opdef ops[] = {
	{ "container_open", op_container_open },
	{ "group_open", op_group_open },
	{ "group_status", op_group_status },
	{ "group_set_container", op_group_set_container },
	{ "group_unset_container", op_group_unset_container },
	{ "group_get_device_fd", op_group_get_device_fd },
	{ "close", op_close },
	{ "get_api_version", op_get_api_version },
	{ "check_extension", op_check_extension },
	{ "set_iommu", op_set_iommu },
	{ "get_info", op_get_info },
	{ "map_dma", op_map_dma },
	{ "unmap_dma", op_unmap_dma },
	{ "dirty_pages", op_dirty_pages },
	{ "mmap", op_mmap },
	{ "mmap_bar", op_mmap_bar },
	{ "munmap", op_munmap },
	{ "mlock", op_mlock_on },
	{ "munlock", op_mlock_off },
	{ "touch", op_touch },
	{ "setrlimit", op_setrlimit },
	{ "cap", op_cap },
	{ "status", op_status },
	{ "pin", op_pin },
	{ "unpin", op_unpin },
	{ "dma_rw", op_dma_rw },
	{ "unmap_mode", op_unmap_mode },
	{ "query", op_query },
	{ "module_param", op_module_param },
	{ "sysfs", op_sysfs },
	{ "proc_fork", op_proc_fork },
	{ "proc_exit", op_proc_exit },
	{ "sleep", op_sleep },
	{ "shell", op_shell },
	{ "timeout", op_nop },	/* read by the parent */
	{ "note", op_nop },
	{ NULL, NULL },
};

/* ------------------------------------------------------------------ */
/* kernel log                                                          */

/* read every pending /dev/kmsg record; append messages as JSON strings */
static unsigned long long kmsg_last_seq;	/* sequence number of the last record read */

static int drain_kmsg_after(int kfd, struct sbuf *out, int max, unsigned long long min_seq)
{
	char rec[8192];
	int n = 0;

	if (kfd < 0)
		return 0;
	for (;;) {
		ssize_t r = read(kfd, rec, sizeof(rec) - 1);
		if (r < 0) {
			if (errno == EPIPE)
				continue;	/* overwritten records: skip ahead */
			break;		/* EAGAIN: nothing more */
		}
		if (r == 0)
			break;
		rec[r] = 0;
		unsigned long long seq = 0;
		char *comma = strchr(rec, ',');
		if (comma)
			seq = strtoull(comma + 1, NULL, 10);
		kmsg_last_seq = seq;
		if (seq <= min_seq && min_seq)
			continue;
		char *msg = strchr(rec, ';');
		msg = msg ? msg + 1 : rec;
		char *nl = strchr(msg, '\n');	/* continuation lines follow */
		if (nl)
			*nl = 0;
		/* /dev/kmsg escapes unprintable bytes and '\\' as \xHH: undo that */
		char *w = msg;
		for (char *q = msg; *q; ) {
			if (q[0] == '\\' && q[1] == 'x' && isxdigit((unsigned char)q[2]) && isxdigit((unsigned char)q[3])) {
				char hx[3] = { q[2], q[3], 0 };
				*w++ = (char)strtol(hx, NULL, 16);
				q += 4;
			} else {
				*w++ = *q++;
			}
		}
		*w = 0;
		if (out && n < max) {
			if (n)
				sb_puts(out, ",");
			sb_json_str(out, msg);
		}
		n++;
	}
	return n;
}

static int drain_kmsg(int kfd, struct sbuf *out, int max)
{
	return drain_kmsg_after(kfd, out, max, 0);
}

/* open /dev/kmsg and read past everything logged so far (kmsg_last_seq tells where) */
static int open_kmsg_at_end(void)
{
	int kfd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (kfd >= 0)
		drain_kmsg(kfd, NULL, 0);
	return kfd;
}

/* the records logged after sequence number `after` (for a step the child could not report) */
static void klog_since(struct sbuf *out, unsigned long long after)
{
	int kfd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (kfd < 0)
		return;
	drain_kmsg_after(kfd, out, MAX_KLOG, after ? after : ~0ull >> 1);
	close(kfd);
}

static const char *errname(int e)
{
	switch (e) {
#define E(x) case x: return #x;
	E(EPERM) E(ENOENT) E(ESRCH) E(EINTR) E(EIO) E(ENXIO) E(E2BIG) E(ENOEXEC) E(EBADF)
	E(ECHILD) E(EAGAIN) E(ENOMEM) E(EACCES) E(EFAULT) E(EBUSY) E(EEXIST) E(EXDEV)
	E(ENODEV) E(ENOTDIR) E(EISDIR) E(EINVAL) E(ENFILE) E(EMFILE) E(ENOTTY) E(EFBIG)
	E(ENOSPC) E(ESPIPE) E(EROFS) E(ERANGE) E(EDEADLK) E(ENOSYS) E(EOVERFLOW)
	E(EOPNOTSUPP) E(ETIMEDOUT)
#undef E
	case 0: return "";
	default: return "E?";
	}
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* ------------------------------------------------------------------ */
/* child: run steps [from, to) and send results over wfd               */

static void write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			_exit(3);
		}
		p += w;
		n -= w;
	}
}

/* A result the step could not give itself (hung, died, not run). `extra` is a JSON member
 * list such as "\"hung\":true"; the kernel log after sequence number klog_after is attached
 * (0: none). */
static void synth_step(struct sbuf *b, const char *prefix, struct script *sc, int i, const char *proc,
		       long vmlck, double ms, const char *extra, unsigned long long klog_after)
{
	sb_printf(b, "%s{\"i\":%d,\"line\":%d,\"op\":", prefix, i, sc->steps[i].lineno);
	sb_json_str(b, sc->steps[i].op);
	if (proc) {
		sb_puts(b, ",\"proc\":");
		sb_json_str(b, proc);
	}
	sb_printf(b, ",\"ret\":-1,\"errno\":0,\"errname\":\"\",\"fields\":{},\"vmlck_kb\":%ld,\"ms\":%.3f,%s,\"klog\":[",
		  vmlck, ms, extra);
	if (klog_after)
		klog_since(b, klog_after);
	sb_puts(b, "]}\n");
}

/* Execute step i in this process and build its "J {...}\n" line. */
static void exec_step(struct script *sc, int i, int kfd, const char *proc, struct sbuf *line)
{
	struct step *st = &sc->steps[i];
	const struct opdef *d;
	int r, e;
	double t0;

	cur = st;
	free(fields.p);
	memset(&fields, 0, sizeof(fields));
	nfields = 0;
	errmsg[0] = 0;
	for (d = ops; d->name; d++)
		if (!strcmp(d->name, st->op))
			break;
	t0 = now_ms();
	if (!d->name) {
		snprintf(errmsg, sizeof(errmsg), "unknown op %s", st->op);
		r = -2;
		e = 0;
	} else {
		errno = 0;
		r = d->fn();
		e = r == -1 ? errno : 0;
	}
	double dt = now_ms() - t0;
	long vmlck = read_status_kb("VmLck");

	sb_printf(line, "J {\"i\":%d,\"line\":%d,\"op\":", i, st->lineno);
	sb_json_str(line, st->op);
	if (proc) {
		sb_puts(line, ",\"proc\":");
		sb_json_str(line, proc);
	}
	sb_printf(line, ",\"ret\":%d,\"errno\":%d,\"errname\":\"%s\",\"fields\":{%s},\"vmlck_kb\":%ld,\"ms\":%.3f,\"klog\":[",
		  r == -2 ? -1 : r, e, errname(e), fields.p ? fields.p : "", vmlck, dt);
	drain_kmsg(kfd, line, MAX_KLOG);
	sb_puts(line, "]");
	if (r == -2) {
		sb_puts(line, ",\"error\":");
		sb_json_str(line, errmsg);
	}
	sb_puts(line, "}\n");
}

/* Helper processes: `proc_fork as=P` forks one (own mm, copies of the fd table and
 * buffers); a step with `on=P` runs in it. */
struct helper {
	char name[64];
	pid_t pid;
	int cmd;	/* write step indices (int) */
	int res;	/* read "J ..." lines */
};
static struct helper helpers[8];

static struct helper *find_helper(const char *name)
{
	for (int k = 0; k < 8; k++)
		if (helpers[k].pid > 0 && !strcmp(helpers[k].name, name))
			return &helpers[k];
	return NULL;
}

static struct script *cur_script;
static int cur_kfd;

static void helper_loop(const char *name, int cmd, int res)
{
	int i;
	for (;;) {
		ssize_t n = read(cmd, &i, sizeof(i));
		if (n != sizeof(i) || i < 0)
			_exit(0);
		struct sbuf line = { 0 };
		exec_step(cur_script, i, cur_kfd, name, &line);
		write_all(res, line.p, line.len);
		free(line.p);
	}
}

static int op_proc_fork(void)
{
	const char *as = arg("as");
	int c[2], r[2];
	struct helper *h = NULL;

	if (!as || !strcmp(as, "main"))
		SCRIPT_ERR("missing as= (not \"main\")");
	if (find_helper(as))
		SCRIPT_ERR("process %s exists", as);
	for (int k = 0; k < 8; k++)
		if (helpers[k].pid <= 0) {
			h = &helpers[k];
			break;
		}
	if (!h)
		SCRIPT_ERR("too many processes");
	if (pipe(c) || pipe(r))
		return -1;
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		close(c[1]);
		close(r[0]);
		for (int k = 0; k < 8; k++)	/* not the parent's other helpers' pipes */
			if (helpers[k].pid > 0) {
				close(helpers[k].cmd);
				close(helpers[k].res);
				helpers[k].pid = 0;
			}
		helper_loop(as, c[0], r[1]);
	}
	close(c[0]);
	close(r[1]);
	snprintf(h->name, sizeof(h->name), "%s", as);
	h->pid = pid;
	h->cmd = c[1];
	h->res = r[0];
	field_dec("pid", pid);
	return 0;
}

static int op_proc_exit(void)
{
	const char *p = arg("proc");
	struct helper *h = p ? find_helper(p) : NULL;
	int st = 0, stop = -1;
	if (!h)
		SCRIPT_ERR("unknown proc=%s", p ? p : "");
	write_all(h->cmd, (const char *)&stop, sizeof(stop));
	close(h->cmd);
	close(h->res);
	waitpid(h->pid, &st, 0);
	h->pid = 0;
	field_dec("status", st);
	return 0;
}

/* Run step i in helper h; copy its J line into out (or a died line). */
static void run_in_helper(struct helper *h, int i, struct sbuf *out)
{
	char buf[4096];
	if (write(h->cmd, &i, sizeof(i)) != sizeof(i))
		goto dead;
	for (;;) {
		ssize_t n = read(h->res, buf, sizeof(buf));
		if (n <= 0)
			goto dead;
		sb_putn(out, buf, n);
		if (out->p[out->len - 1] == '\n')
			return;
	}
dead:;
	int st = 0;
	waitpid(h->pid, &st, WNOHANG);
	out->len = 0;
	synth_step(out, "J ", cur_script, i, h->name, -1, 0, "\"died\":\"helper process gone\"", 0);
	h->pid = 0;
}

static void run_child(struct script *sc, int from, int to, int wfd)
{
	int kfd = open_kmsg_at_end();
	char msg[64];

	setpgid(0, 0);	/* the parent kills the whole group (helpers too) on a hang */
	cur_script = sc;
	cur_kfd = kfd;
	for (int i = from; i < to; i++) {
		struct sbuf line = { 0 };
		const char *on = NULL;

		snprintf(msg, sizeof(msg), "S %d %llu\n", i, kmsg_last_seq);
		write_all(wfd, msg, strlen(msg));
		for (int a = 0; a < sc->steps[i].nargs; a++)
			if (!strcmp(sc->steps[i].args[a].key, "on"))
				on = sc->steps[i].args[a].val;
		if (on && strcmp(on, "main")) {
			struct helper *h = find_helper(on);
			if (h) {
				run_in_helper(h, i, &line);
			} else {
				struct sbuf err = { 0 };
				char text[128];
				snprintf(text, sizeof(text), "unknown process on=%s", on);
				sb_puts(&err, "\"error\":");
				sb_json_str(&err, text);
				synth_step(&line, "J ", sc, i, NULL, read_status_kb("VmLck"), 0, err.p, 0);
				free(err.p);
			}
		} else {
			exec_step(sc, i, kfd, NULL, &line);
		}
		write_all(wfd, line.p, line.len);
		free(line.p);
	}
	for (int k = 0; k < 8; k++)
		if (helpers[k].pid > 0) {
			int stop = -1;
			write_all(helpers[k].cmd, (const char *)&stop, sizeof(stop));
			waitpid(helpers[k].pid, NULL, 0);
		}
	_exit(0);
}

/* ------------------------------------------------------------------ */
/* parent                                                              */

static int step_timeout(struct script *sc, int i, int base)
{
	int t = base;
	for (int k = 0; k < i && k < sc->nsteps; k++)	/* `timeout` applies to the steps after it */
		if (!strcmp(sc->steps[k].op, "timeout")) {
			for (int a = 0; a < sc->steps[k].nargs; a++)
				if (!strcmp(sc->steps[k].args[a].key, "ms"))
					t = atoi(sc->steps[k].args[a].val);
		}
	return t;
}

static void emit(const char *s)
{
	fputs(s, stdout);
	fflush(stdout);
}

/* returns 0 when the scenario finished, 1 hung, 2 died */
static int run_scenario(struct script *sc, int from, int to, int scen, int base_timeout)
{
	int pfd[2];
	pid_t pid;
	struct sbuf acc = { 0 };
	int current = -1, done = -1, status = 0;
	unsigned long long step_seq = 0;
	char hdr[256];

	if (pipe(pfd))
		return 2;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		close(pfd[0]);
		run_child(sc, from, to, pfd[1]);
	}
	close(pfd[1]);
	snprintf(hdr, sizeof(hdr), "@@VFIOLAB-SCENARIO {\"script\":\"%s\",\"scenario\":%d,\"first\":%d,\"steps\":%d}\n",
		 sc->name, scen, from, to - from);
	emit(hdr);

	double deadline = now_ms() + step_timeout(sc, from, base_timeout);
	for (;;) {
		struct pollfd p = { .fd = pfd[0], .events = POLLIN };
		int wait = (int)(deadline - now_ms());
		if (wait < 0)
			wait = 0;
		int pr = poll(&p, 1, wait);
		if (pr == 0) {
			/* the current step did not finish in time */
			struct sbuf line = { 0 };
			int i = current < 0 ? from : (done == current && current + 1 < to ? current + 1 : current);
			synth_step(&line, "@@VFIOLAB-STEP ", sc, i, NULL, -1, step_timeout(sc, i, base_timeout),
				   "\"hung\":true", step_seq);
			emit(line.p);
			free(line.p);
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			usleep(200000);
			waitpid(pid, &status, WNOHANG);
			close(pfd[0]);
			free(acc.p);
			return 1;
		}
		if (pr < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		char buf[4096];
		ssize_t n = read(pfd[0], buf, sizeof(buf));
		if (n <= 0)
			break;
		sb_putn(&acc, buf, n);
		char *nl;
		while (acc.p && (nl = strchr(acc.p, '\n'))) {
			*nl = 0;
			if (acc.p[0] == 'S') {
				char *sp = NULL;
				current = (int)strtol(acc.p + 2, &sp, 10);
				step_seq = sp ? strtoull(sp, NULL, 10) : 0;
				deadline = now_ms() + step_timeout(sc, current, base_timeout);
			} else if (acc.p[0] == 'J') {
				printf("@@VFIOLAB-STEP %s\n", acc.p + 2);
				fflush(stdout);
				done = current;
				/* between steps: wait for the next one (or the end) as long as any step */
				deadline = now_ms() + (base_timeout > step_timeout(sc, current + 1, base_timeout) ?
						       base_timeout : step_timeout(sc, current + 1, base_timeout));
			}
			size_t used = nl - acc.p + 1;
			memmove(acc.p, nl + 1, acc.len - used + 1);
			acc.len -= used;
		}
	}
	close(pfd[0]);
	waitpid(pid, &status, 0);
	if (current >= 0 && done != current) {
		struct sbuf line = { 0 };
		char died[64];
		snprintf(died, sizeof(died), "\"died\":\"%s%d\"", WIFSIGNALED(status) ? "signal " : "exit ",
			 WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
		synth_step(&line, "@@VFIOLAB-STEP ", sc, current, NULL, -1, 0, died, step_seq);
		emit(line.p);
		free(line.p);
		free(acc.p);
		return 2;
	}
	free(acc.p);
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: vfiolab-runner [-t step_timeout_ms] script...\n");
	exit(2);
}

int main(int argc, char **argv)
{
	int base_timeout = DEFAULT_TIMEOUT_MS, opt;
	char release[128] = "?";

	while ((opt = getopt(argc, argv, "t:")) != -1) {
		if (opt == 't')
			base_timeout = atoi(optarg);
		else
			usage();
	}
	FILE *f = fopen("/proc/sys/kernel/osrelease", "r");
	if (f) {
		if (fgets(release, sizeof(release), f))
			release[strcspn(release, "\n")] = 0;
		fclose(f);
	}
	signal(SIGPIPE, SIG_IGN);
	struct rlimit rl;
	getrlimit(RLIMIT_MEMLOCK, &rl);
	printf("@@VFIOLAB-BEGIN {\"kernel\":\"%s\",\"scripts\":%d,\"rlimit_memlock\":\"0x%llx\",\"ipc_lock\":%d,\"timeout_ms\":%d}\n",
	       release, argc - optind, (unsigned long long)rl.rlim_cur, cap_has_ipc_lock(), base_timeout);
	fflush(stdout);

	int stuck = 0;
	for (int a = optind; a < argc; a++) {
		struct script sc;
		double t0 = now_ms();
		const char *result = "ok";
		if (parse_script(argv[a], &sc)) {
			printf("@@VFIOLAB-SCRIPT-END {\"script\":\"%s\",\"result\":\"unreadable\",\"ms\":0}\n", argv[a]);
			continue;
		}
		printf("@@VFIOLAB-SCRIPT {\"script\":\"%s\",\"steps\":%d}\n", sc.name, sc.nsteps);
		int from = 0, scen = 0;
		for (int i = 0; i <= sc.nsteps; i++) {
			if (i < sc.nsteps && strcmp(sc.steps[i].op, "reset"))
				continue;
			if (i > from || (i == sc.nsteps && from == 0)) {
				int r = run_scenario(&sc, from, i, scen++, base_timeout);
				if (r == 1) {
					result = "hung";
					stuck = 1;
				} else if (r == 2 && strcmp(result, "hung")) {
					result = "died";
				}
			}
			from = i + 1;
		}
		printf("@@VFIOLAB-SCRIPT-END {\"script\":\"%s\",\"result\":\"%s\",\"ms\":%.1f}\n",
		       sc.name, result, now_ms() - t0);
		fflush(stdout);
	}
	printf("@@VFIOLAB-END {\"stuck\":%d}\n", stuck);
	fflush(stdout);
	if (isatty(1))
		tcdrain(1);
	return 0;
}
