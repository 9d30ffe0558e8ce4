/*
 * preinit: the initramfs /init. Bun cannot be the kernel's first process
 * (it aborts without /proc), and rooms need pivot_root, which the kernel
 * refuses while the system root is the initramfs itself. So preinit:
 *
 *   1. moves the system root off the initramfs onto a fresh tmpfs
 *      (copying each file, then freeing its initramfs copy),
 *   2. mounts /proc, /sys and /dev (devtmpfs) in it,
 *   3. makes it the root and remounts it read-only,
 *   4. execve()s bay0, which keeps PID 1.
 *
 * Nothing else. Any failure is fatal: it says what failed on the console
 * and returns, and the kernel's "attempted to kill init" panic follows.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#define NEW_ROOT "/newroot"
#define BAY0 "/sbin/bay0"

extern char **environ;

static int fail(const char *what, const char *path) {
  fprintf(stderr, "preinit: %s %s: %s\n", what, path, strerror(errno));
  return -1;
}

/* Copies one regular file; returns 0 or -1 after reporting. */
static int copy_file(const char *from, const char *to, const struct stat *st) {
  int in = open(from, O_RDONLY | O_CLOEXEC);
  if (in < 0) return fail("open", from);
  int out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, st->st_mode & 07777);
  if (out < 0) { close(in); return fail("create", to); }
  off_t left = st->st_size;
  while (left > 0) {
    ssize_t n = sendfile(out, in, NULL, left > (1 << 30) ? (1 << 30) : (size_t)left);
    if (n <= 0) { close(in); close(out); return fail("copy", from); }
    left -= n;
  }
  close(in);
  if (fchmod(out, st->st_mode & 07777) != 0) { close(out); return fail("chmod", to); }
  return close(out) == 0 ? 0 : fail("close", to);
}

/*
 * Moves the tree under `from` into `to` (an existing directory on the new
 * root), freeing initramfs memory as it goes so the peak stays at one copy
 * of the largest file. Returns 0 or -1 after reporting.
 */
static int move_tree(const char *from, const char *to) {
  DIR *dir = opendir(from);
  if (!dir) return fail("opendir", from);
  struct dirent *entry;
  int rc = 0;
  while (rc == 0 && (entry = readdir(dir)) != NULL) {
    const char *name = entry->d_name;
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) continue;
    char src[PATH_MAX], dst[PATH_MAX];
    snprintf(src, sizeof src, "%s/%s", strcmp(from, "/") == 0 ? "" : from, name);
    if (strcmp(src, NEW_ROOT) == 0) continue;
    snprintf(dst, sizeof dst, "%s/%s", to, name);
    struct stat st;
    if (lstat(src, &st) != 0) { rc = fail("stat", src); break; }
    if (S_ISDIR(st.st_mode)) {
      if (mkdir(dst, st.st_mode & 07777) != 0 || chmod(dst, st.st_mode & 07777) != 0) rc = fail("mkdir", dst);
      else if ((rc = move_tree(src, dst)) == 0) rmdir(src); /* may still hold device nodes */
    } else if (S_ISLNK(st.st_mode)) {
      char target[PATH_MAX];
      ssize_t n = readlink(src, target, sizeof target - 1);
      if (n < 0) { rc = fail("readlink", src); break; }
      target[n] = '\0';
      if (symlink(target, dst) != 0) rc = fail("symlink", dst);
      else if (unlink(src) != 0) rc = fail("unlink", src);
    } else if (S_ISREG(st.st_mode)) {
      if ((rc = copy_file(src, dst, &st)) == 0 && unlink(src) != 0) rc = fail("unlink", src);
    }
    /* Device nodes are not carried over: /dev is a devtmpfs. */
  }
  closedir(dir);
  return rc;
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
  if (mount_or_fail("anchor-root", NEW_ROOT, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") != 0) return 1;
  if (move_tree("/", NEW_ROOT) != 0) return 1;
  if (mount_or_fail("proc", NEW_ROOT "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "hidepid=0") != 0) return 1;
  if (mount_or_fail("sysfs", NEW_ROOT "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0) return 1;
  if (mount_or_fail("devtmpfs", NEW_ROOT "/dev", "devtmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755") != 0) return 1;
  if (chdir(NEW_ROOT) != 0) return fail("chdir", NEW_ROOT), 1;
  if (mount(".", "/", NULL, MS_MOVE, NULL) != 0) return fail("move root to", "/"), 1;
  if (chroot(".") != 0 || chdir("/") != 0) return fail("chroot", NEW_ROOT), 1;
  if (mount(NULL, "/", NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) != 0)
    return fail("remount read-only", "/"), 1;
  char *argv[] = {"bay0", NULL};
  execve(BAY0, argv, environ);
  return fail("execve", BAY0), 1;
}
