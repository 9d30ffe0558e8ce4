/*
 * preinit: the initramfs /init. Bun cannot be the kernel's first process
 * (it aborts without /proc), and rooms need pivot_root, which the kernel
 * refuses while the system root is the initramfs itself. So preinit:
 *
 *   1. bind-mounts the initramfs onto itself: a mount with a parent, which
 *      pivot_root accepts (it refuses the parentless initial rootfs),
 *   2. mounts /proc, /sys and /dev (devtmpfs) in it,
 *   3. mounts bay0's squashfs (/bay0.squashfs, through a read-only loop
 *      device) at /usr/lib/bay0, unless bay0 is a plain file there already: the ~110 MB Bun executable stays
 *      compressed in RAM, and only the pages bay0 touches are unpacked,
 *      into page cache the kernel may reclaim,
 *   4. makes it the root and remounts it read-only,
 *   5. execve()s bay0, which keeps PID 1.
 *
 * Nothing else. Any failure is fatal: it says what failed on the console
 * and returns, and the kernel's "attempted to kill init" panic follows.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#define NEW_ROOT "/newroot"
#define BAY0_IMAGE "/bay0.squashfs"
#define BAY0_DIR "/usr/lib/bay0"
#define BAY0 BAY0_DIR "/bay0"

extern char **environ;

static int fail(const char *what, const char *path) {
  fprintf(stderr, "preinit: %s %s: %s\n", what, path, strerror(errno));
  return -1;
}

static int mount_or_fail(const char *src, const char *target, const char *type,
                         unsigned long flags, const char *data) {
  if (mkdir(target, 0755) != 0 && errno != EEXIST) return fail("mkdir", target);
  if (mount(src, target, type, flags, data) != 0) return fail("mount", target);
  return 0;
}

/*
 * Attaches `image` to a free loop device, read-only, and returns its open fd:
 * the device goes away with its last user, so the caller mounts it before
 * closing that fd.
 */
static int attach_loop(const char *image, char *device, size_t size) {
  int control = open(NEW_ROOT "/dev/loop-control", O_RDWR | O_CLOEXEC);
  if (control < 0) return fail("open", "/dev/loop-control");
  int number = ioctl(control, LOOP_CTL_GET_FREE);
  close(control);
  if (number < 0) return fail("get free loop device for", image);
  snprintf(device, size, NEW_ROOT "/dev/loop%d", number);
  int loop = open(device, O_RDONLY | O_CLOEXEC);
  if (loop < 0) return fail("open", device);
  int backing = open(image, O_RDONLY | O_CLOEXEC);
  if (backing < 0) return close(loop), fail("open", image);
  struct loop_config config = {.fd = (unsigned int)backing};
  config.info.lo_flags = LO_FLAGS_READ_ONLY | LO_FLAGS_AUTOCLEAR;
  int rc = ioctl(loop, LOOP_CONFIGURE, &config);
  close(backing);
  if (rc != 0) return close(loop), fail("attach loop device to", image);
  return loop;
}

int main(void) {
  if (getpid() != 1) {
    fprintf(stderr, "preinit: must run as PID 1\n");
    return 1;
  }
  if (mount_or_fail("/", NEW_ROOT, NULL, MS_BIND, NULL) != 0) return 1;
  if (mount_or_fail("proc", NEW_ROOT "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "hidepid=0") != 0) return 1;
  if (mount_or_fail("sysfs", NEW_ROOT "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0) return 1;
  if (mount_or_fail("devtmpfs", NEW_ROOT "/dev", "devtmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755") != 0) return 1;
  /* Debian's stock kernel has loop and squashfs as modules, not loaded yet: that build carries bay0 as a plain file. */
  if (access(NEW_ROOT BAY0, X_OK) != 0) {
    char loop[64];
    int loop_fd = attach_loop(BAY0_IMAGE, loop, sizeof loop);
    if (loop_fd < 0) return 1;
    if (mount(loop, NEW_ROOT BAY0_DIR, "squashfs", MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) != 0) return fail("mount", BAY0_DIR), 1;
    close(loop_fd);
  }
  if (chdir(NEW_ROOT) != 0) return fail("chdir", NEW_ROOT), 1;
  if (mount(".", "/", NULL, MS_MOVE, NULL) != 0) return fail("move root to", "/"), 1;
  if (chroot(".") != 0 || chdir("/") != 0) return fail("chroot", NEW_ROOT), 1;
  if (mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) != 0)
    return fail("remount read-only", "/"), 1;
  char *argv[] = {"bay0", NULL};
  execve(BAY0, argv, environ);
  return fail("execve", BAY0), 1;
}
