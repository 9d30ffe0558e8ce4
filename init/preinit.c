/*
 * preinit: the initramfs /init. Bun cannot be the kernel's first process
 * (it aborts without /proc), and rooms need pivot_root, which the kernel
 * refuses while the system root is the initramfs itself. So preinit:
 *
 *   1. bind-mounts the initramfs onto itself: a mount with a parent, which
 *      pivot_root accepts (it refuses the parentless initial rootfs), and
 *      which costs no copy of the ~110 MB image,
 *   2. mounts /proc, /sys and /dev (devtmpfs) in it,
 *   3. makes it the root and remounts it read-only,
 *   4. execve()s bay0, which keeps PID 1.
 *
 * Nothing else. Any failure is fatal: it says what failed on the console
 * and returns, and the kernel's "attempted to kill init" panic follows.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#define NEW_ROOT "/newroot"
#define BAY0 "/sbin/bay0"

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

int main(void) {
  if (getpid() != 1) {
    fprintf(stderr, "preinit: must run as PID 1\n");
    return 1;
  }
  if (mount_or_fail("/", NEW_ROOT, NULL, MS_BIND, NULL) != 0) return 1;
  if (mount_or_fail("proc", NEW_ROOT "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "hidepid=0") != 0) return 1;
  if (mount_or_fail("sysfs", NEW_ROOT "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0) return 1;
  if (mount_or_fail("devtmpfs", NEW_ROOT "/dev", "devtmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755") != 0) return 1;
  if (chdir(NEW_ROOT) != 0) return fail("chdir", NEW_ROOT), 1;
  if (mount(".", "/", NULL, MS_MOVE, NULL) != 0) return fail("move root to", "/"), 1;
  if (chroot(".") != 0 || chdir("/") != 0) return fail("chroot", NEW_ROOT), 1;
  if (mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) != 0)
    return fail("remount read-only", "/"), 1;
  char *argv[] = {"bay0", NULL};
  execve(BAY0, argv, environ);
  return fail("execve", BAY0), 1;
}
