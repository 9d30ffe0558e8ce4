/*
 * preinit: the initramfs /init. Bun cannot be the kernel's first process
 * (it aborts without /proc), rooms need pivot_root (which the kernel refuses
 * while the system root is the initramfs itself), and the system image must
 * be verified before any of its code runs. So preinit:
 *
 *   1. mounts /proc, /sys and /dev (devtmpfs),
 *   2. with anchor.system=PARTUUID,DATA_BLOCKS,ROOT_HASH,SALT on the command
 *      line (the UKI's, which its signature covers): waits up to 60 s for the
 *      partition with that PARTUUID (reading each disk's GPT), maps it
 *      through dm-verity with the pinned root hash and salt (a block that
 *      does not match panics the kernel when it is read), and mounts the
 *      squashfs inside read-only at /system,
 *   3. makes the root a read-only overlay of the initramfs's own files over
 *      the system image (on a UKI boot those are preinit and the stub's
 *      /.extra; a direct boot's appended archive adds test material);
 *      without anchor.system= (the stock kernel, whose initramfs carries the
 *      whole system) the initramfs alone, bind-mounted, read-only,
 *   4. moves /proc, /sys and /dev in and makes it the root,
 *   5. runs stage 1 there (below: the essential mounts, the image's kernel
 *      modules then no more, the hardening sysctls, the hostname, Ctrl-Alt-Del
 *      as a signal), whose outcomes bay0 logs, and execve()s bay0, which keeps
 *      PID 1, telling it (ANCHOR_PREINIT_MS) when preinit began and ended on
 *      the kernel's clock, and (ANCHOR_SLOT) the slot whose system partition
 *      it mapped, by that partition's GPT label.
 *
 * Any failure before stage 1 is fatal: it says what failed on the console
 * and returns, and the kernel's "attempted to kill init" panic follows.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/dm-ioctl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#define NEW_ROOT "/newroot"
#define LOWER "/lower"
#define SYSTEM "/system"
#define BAY0 "/usr/lib/bay0/bay0"
#define DM_NAME "anchor-system"
#define VERITY_BLOCK 4096
#define WAIT_SECONDS 60
#define SLOT_LABEL "anchor-system-"

extern char **environ;

/* The slot whose system partition the pin found ('a' or 'b', from its GPT label), told to bay0 as ANCHOR_SLOT. */
static char slot;

static int fail(const char *what, const char *path) {
  fprintf(stderr, "preinit: %s %s: %s\n", what, path, strerror(errno));
  return -1;
}

static int mount_or_fail(const char *src, const char *target, const char *type, unsigned long flags, const char *data) {
  if (mkdir(target, 0755) != 0 && errno != EEXIST) return fail("mkdir", target);
  if (mount(src, target, type, flags, data) != 0) return fail("mount", target);
  return 0;
}

/* Milliseconds on the kernel's monotonic clock, which starts with the kernel. */
static long uptime_ms(void) {
  struct timespec now;
  clock_gettime(CLOCK_BOOTTIME, &now);
  return now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

static int read_text(const char *path, char *out, size_t size) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = read(fd, out, size - 1);
  close(fd);
  if (n < 0) return -1;
  out[n] = '\0';
  while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == ' ')) out[--n] = '\0';
  return 0;
}

/* The pin: anchor.system=PARTUUID,DATA_BLOCKS,ROOT_HASH,SALT. */
struct pin {
  uint8_t guid[16];
  char uuid[37];
  unsigned long long data_blocks;
  char root_hash[65];
  char salt[65];
};

static int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static int all_hex(const char *text, size_t length) {
  if (strlen(text) != length) return 0;
  for (size_t i = 0; i < length; i++)
    if (hex_value(text[i]) < 0) return 0;
  return 1;
}

/* A UUID's text into GPT's byte order: the first three fields little-endian. */
static int parse_guid(const char *text, uint8_t out[16]) {
  static const int order[16] = {3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15};
  uint8_t bytes[16];
  int n = 0;
  for (const char *p = text; *p != '\0'; p++) {
    if (*p == '-') continue;
    int hi = hex_value(p[0]), lo = p[1] == '\0' ? -1 : hex_value(p[1]);
    if (hi < 0 || lo < 0 || n == 16) return -1;
    bytes[n++] = (uint8_t)(hi << 4 | lo);
    p++;
  }
  if (n != 16 || strlen(text) != 36) return -1;
  for (int i = 0; i < 16; i++) out[i] = bytes[order[i]];
  return 0;
}

/* 1 with a valid pin, 0 without anchor.system=, -1 for one that is malformed. */
static int read_pin(struct pin *pin) {
  char cmdline[4096], value[256];
  if (read_text("/proc/cmdline", cmdline, sizeof cmdline) != 0) return fail("read", "/proc/cmdline");
  const char *at = strstr(cmdline, "anchor.system=");
  while (at != NULL && at != cmdline && at[-1] != ' ') at = strstr(at + 1, "anchor.system=");
  if (at == NULL) return 0;
  at += strlen("anchor.system=");
  size_t length = strcspn(at, " ");
  if (length >= sizeof value) length = sizeof value - 1;
  memcpy(value, at, length);
  value[length] = '\0';
  char *blocks = strchr(value, ','), *hash = NULL, *salt = NULL, *end = NULL;
  if (blocks != NULL) *blocks++ = '\0', hash = strchr(blocks, ',');
  if (hash != NULL) *hash++ = '\0', salt = strchr(hash, ',');
  if (salt != NULL) *salt++ = '\0';
  if (salt != NULL && parse_guid(value, pin->guid) == 0 && all_hex(hash, 64) && all_hex(salt, 64)) {
    pin->data_blocks = strtoull(blocks, &end, 10);
    if (end != blocks && *end == '\0' && pin->data_blocks > 0) {
      /* Lengths checked above: 36, 64 and 64 characters. */
      memcpy(pin->uuid, value, 37);
      memcpy(pin->root_hash, hash, 65);
      memcpy(pin->salt, salt, 65);
      return 1;
    }
  }
  fprintf(stderr, "preinit: anchor.system= is not PARTUUID,DATA_BLOCKS,ROOT_HASH,SALT\n");
  return -1;
}

static int read_at(int fd, void *buffer, size_t size, off_t offset) {
  size_t done = 0;
  while (done < size) {
    ssize_t n = pread(fd, (char *)buffer + done, size - done, offset + (off_t)done);
    if (n <= 0) return -1;
    done += (size_t)n;
  }
  return 0;
}

static uint32_t le32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t le64(const uint8_t *p) { return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32; }

/* The number (1-based) of the partition of `disk` whose GPT entry has `guid`, or 0; its slot letter (or 0) in *letter. */
static unsigned gpt_partition(const char *disk, const uint8_t guid[16], char *letter) {
  char path[300], text[32];
  snprintf(path, sizeof path, "/sys/block/%s/queue/logical_block_size", disk);
  unsigned long sector = read_text(path, text, sizeof text) == 0 ? strtoul(text, NULL, 10) : 512;
  if (sector != 512 && sector != 4096) return 0;
  snprintf(path, sizeof path, "/dev/%s", disk);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  uint8_t header[4096];
  unsigned found = 0;
  if (read_at(fd, header, sector, (off_t)sector) == 0 && memcmp(header, "EFI PART", 8) == 0) {
    uint64_t entries_lba = le64(header + 72);
    uint32_t count = le32(header + 80), entry_size = le32(header + 84);
    uint8_t entry[512];
    if (count <= 1024 && entry_size >= 128 && entry_size <= sizeof entry) {
      for (uint32_t i = 0; i < count && found == 0; i++) {
        if (read_at(fd, entry, entry_size, (off_t)(entries_lba * sector + (uint64_t)i * entry_size)) != 0) break;
        if (memcmp(entry + 16, guid, 16) != 0) continue;
        found = i + 1;
        /* The label is UTF-16LE: "anchor-system-a" or "-b" then a NUL, all ASCII. */
        size_t n = strlen(SLOT_LABEL);
        int named = entry[56 + 2 * (n + 1)] == 0 && entry[57 + 2 * (n + 1)] == 0;
        for (size_t k = 0; k < n && named; k++) named = entry[56 + 2 * k] == (uint8_t)SLOT_LABEL[k] && entry[57 + 2 * k] == 0;
        uint8_t last = entry[56 + 2 * n];
        *letter = named && entry[57 + 2 * n] == 0 && (last == 'a' || last == 'b') ? (char)last : 0;
      }
    }
  }
  close(fd);
  return found;
}

/* major:minor of partition `number` of `disk`, from sysfs. */
static int partition_dev(const char *disk, unsigned number, char *out, size_t size) {
  char path[300], text[32];
  snprintf(path, sizeof path, "/sys/block/%s", disk);
  DIR *dir = opendir(path);
  if (dir == NULL) return -1;
  int rc = -1;
  for (struct dirent *e = readdir(dir); e != NULL && rc != 0; e = readdir(dir)) {
    if (strncmp(e->d_name, disk, strlen(disk)) != 0) continue;
    snprintf(path, sizeof path, "/sys/block/%s/%s/partition", disk, e->d_name);
    if (read_text(path, text, sizeof text) != 0 || strtoul(text, NULL, 10) != number) continue;
    snprintf(path, sizeof path, "/sys/block/%s/%s/dev", disk, e->d_name);
    if (read_text(path, out, size) == 0) rc = 0;
  }
  closedir(dir);
  return rc;
}

/* Waits for the partition whose PARTUUID the pin names: its major:minor. */
static int find_partition(const struct pin *pin, char *dev, size_t size) {
  for (int tries = 0; tries < WAIT_SECONDS * 10; tries++) {
    DIR *block = opendir("/sys/block");
    if (block == NULL) return fail("open", "/sys/block");
    int found = 0;
    for (struct dirent *e = readdir(block); e != NULL && !found; e = readdir(block)) {
      const char *n = e->d_name;
      if (n[0] == '.' || !strncmp(n, "loop", 4) || !strncmp(n, "ram", 3) || !strncmp(n, "dm-", 3) || !strncmp(n, "sr", 2) || !strncmp(n, "zram", 4)) continue;
      char letter = 0;
      unsigned number = gpt_partition(n, pin->guid, &letter);
      if (number > 0 && partition_dev(n, number, dev, size) == 0) found = 1, slot = letter;
    }
    closedir(block);
    if (found) return 0;
    if (tries == 20) fprintf(stderr, "preinit: waiting for the system partition PARTUUID=%s\n", pin->uuid);
    usleep(100000);
  }
  fprintf(stderr, "preinit: no disk holds the system partition PARTUUID=%s (after %d s)\n", pin->uuid, WAIT_SECONDS);
  return -1;
}

struct dm_request {
  struct dm_ioctl io;
  struct dm_target_spec spec;
  char params[512];
};

static void dm_init(struct dm_request *r, uint32_t flags) {
  memset(r, 0, sizeof *r);
  r->io.version[0] = 4;
  r->io.data_size = sizeof *r;
  r->io.data_start = sizeof r->io;
  r->io.flags = flags;
  snprintf(r->io.name, sizeof r->io.name, "%s", DM_NAME);
}

/* dm-verity over the partition `dev` with the pin's parameters, read-only: the device's path. */
static int map_verity(const struct pin *pin, const char *dev, char *device, size_t size) {
  int control = open("/dev/mapper/control", O_RDWR | O_CLOEXEC);
  if (control < 0) return fail("open", "/dev/mapper/control");
  struct dm_request r;
  dm_init(&r, 0);
  if (ioctl(control, DM_DEV_CREATE, &r) != 0) return close(control), fail("create", DM_NAME);
  unsigned minor = (unsigned)((r.io.dev & 0xff) | ((r.io.dev >> 12) & 0xfff00));
  dm_init(&r, DM_READONLY_FLAG);
  r.io.target_count = 1;
  r.spec.length = pin->data_blocks * (VERITY_BLOCK / 512);
  snprintf(r.spec.target_type, sizeof r.spec.target_type, "verity");
  /* The hash tree follows the data and veritysetup's one-block superblock. */
  snprintf(r.params, sizeof r.params, "1 %s %s %d %d %llu %llu sha256 %s %s 1 panic_on_corruption", dev, dev, VERITY_BLOCK, VERITY_BLOCK,
           pin->data_blocks, pin->data_blocks + 1, pin->root_hash, pin->salt);
  r.spec.next = 0;
  if (ioctl(control, DM_TABLE_LOAD, &r) != 0) return close(control), fail("load the verity table of", DM_NAME);
  dm_init(&r, 0);
  if (ioctl(control, DM_DEV_SUSPEND, &r) != 0) return close(control), fail("resume", DM_NAME);
  close(control);
  snprintf(device, size, "/dev/dm-%u", minor);
  return 0;
}

/* The verified system image mounted at /system, and the overlay root at NEW_ROOT. */
static int system_root(const struct pin *pin) {
  char dev[32], device[32];
  if (find_partition(pin, dev, sizeof dev) != 0) return -1;
  if (map_verity(pin, dev, device, sizeof device) != 0) return -1;
  if (mount_or_fail(device, SYSTEM, "squashfs", MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) != 0) return -1;
  if (mount_or_fail("/", LOWER, NULL, MS_BIND, NULL) != 0) return -1;
  return mount_or_fail("overlay", NEW_ROOT, "overlay", MS_RDONLY | MS_NOSUID | MS_NODEV, "lowerdir=" LOWER ":" SYSTEM);
}

/*
 * Stage 1, on the new root just before bay0: the set-up that reads no hostile
 * input, as runit's stage 1 runs before its supervisor. Nothing here is
 * fatal: each outcome becomes a log record (one JSON line, as a helper's),
 * written to PREINIT_RECORDS for bay0 to log as its own.
 */
#define PREINIT_RECORDS "/run/preinit.jsonl"
#define MODULE_ORDER "/lib/modules/anchor.order"
#define HOSTNAME "anchor"

static FILE *records;

static void json_string(FILE *out, const char *text) {
  fputc('"', out);
  for (const unsigned char *p = (const unsigned char *)text; *p != '\0'; p++) {
    if (*p == '"' || *p == '\\') fprintf(out, "\\%c", *p);
    else if (*p < 0x20) fprintf(out, "\\u%04x", *p);
    else fputc(*p, out);
  }
  fputc('"', out);
}

/* A JSON list of strings, built as it goes. */
struct list {
  char *text;
  size_t size;
  FILE *out;
  int count;
};

static void list_open(struct list *l) {
  l->text = NULL, l->count = 0;
  l->out = open_memstream(&l->text, &l->size);
  fputc('[', l->out);
}

static void list_add(struct list *l, const char *text) {
  if (l->count++ > 0) fputc(',', l->out);
  json_string(l->out, text);
}

static char *list_close(struct list *l) {
  fputc(']', l->out);
  fclose(l->out);
  return l->text;
}

/* {"level":…,"event":…, then `fields` (already JSON, without braces)}. */
static void record(const char *level, const char *event, const char *fields) {
  fprintf(records, "{\"level\":\"%s\",\"event\":\"%s\"%s%s}\n", level, event, fields[0] == '\0' ? "" : ",", fields);
}

/* An error record: `fields` (JSON, possibly empty), then `key` (a string) and "error" (errno's text). */
static void record_error(const char *event, const char *fields_before, const char *key, const char *where, int error) {
  char *fields = NULL;
  size_t size = 0;
  FILE *out = open_memstream(&fields, &size);
  fprintf(out, "%s%s\"%s\":", fields_before, fields_before[0] == '\0' ? "" : ",", key);
  json_string(out, where);
  fputs(",\"error\":", out);
  json_string(out, strerror(error));
  fclose(out);
  record("error", event, fields);
  free(fields);
}

static const struct essential {
  const char *source, *target, *type;
  unsigned long flags;
  const char *data;
  int optional;
} ESSENTIALS[] = {
    {"run", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=20%", 0},
    {"tmp", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=20%", 0},
    /* Inside /dev: after it, as /dev/shm. */
    {"devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5", 0},
    {"shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=10%", 0},
    {"cgroup2", "/sys/fs/cgroup", "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, "nsdelegate,memory_recursiveprot", 0},
    {"securityfs", "/sys/kernel/security", "securityfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "", 0},
    /* Read-only: bay0 only reads the stub's variables; nothing may rewrite them. Absent on a non-EFI boot. */
    {"efivarfs", "/sys/firmware/efi/efivars", "efivarfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "", 1},
};

/* The essentials over what preinit moved in (/, /proc, /sys, /dev): `boot.mounted`, and a `bay0.error` per failure. */
static void mount_essentials(void) {
  struct list mounted;
  list_open(&mounted);
  for (size_t i = 0; i < sizeof ESSENTIALS / sizeof ESSENTIALS[0]; i++) {
    const struct essential *e = &ESSENTIALS[i];
    if (e->optional && access(e->target, F_OK) != 0) continue;
    /* /dev is devtmpfs; the read-only root ships its own mount points. */
    if (strncmp(e->target, "/dev/", 5) == 0 && mkdir(e->target, 0755) != 0 && errno != EEXIST)
      record_error("bay0.error", "\"where\":\"mount\"", "target", e->target, errno);
    else if (mount(e->source, e->target, e->type, e->flags, e->data) != 0)
      record_error("bay0.error", "\"where\":\"mount\"", "target", e->target, errno);
    else
      list_add(&mounted, e->target);
  }
  char *list = list_close(&mounted), fields[1024];
  snprintf(fields, sizeof fields, "\"mounts\":%s", list);
  record("info", "boot.mounted", fields);
  free(list);
}

static int write_text(const char *path, const char *text) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = write(fd, text, strlen(text));
  int error = errno;
  close(fd);
  errno = error;
  return n == (ssize_t)strlen(text) ? 0 : -1;
}

/*
 * The image's own modules (a stock kernel needs them for the watchdog, the
 * power button and evdev), dependencies first as the build listed them, then
 * no module loads at all until the next boot (`kernel.modules_disabled`).
 */
static void load_modules_then_lock(void) {
  if (access("/proc/modules", F_OK) != 0) {
    record("info", "modules.none", "\"reason\":\"kernel has no module support\"");
    return;
  }
  struct list loaded;
  list_open(&loaded);
  FILE *order = fopen(MODULE_ORDER, "re");
  char line[512];
  while (order != NULL && fgets(line, sizeof line, order) != NULL) {
    line[strcspn(line, "\r\n")] = '\0';
    if (line[0] == '\0') continue;
    int fd = open(line, O_RDONLY | O_CLOEXEC);
    if (fd >= 0 && (syscall(SYS_finit_module, fd, "", 0) == 0 || errno == EEXIST)) list_add(&loaded, line);
    else record_error("modules.failed", "", "module", line, errno);
    if (fd >= 0) close(fd);
  }
  if (order != NULL) fclose(order);
  char *list = list_close(&loaded);
  if (write_text("/proc/sys/kernel/modules_disabled", "1") != 0) {
    record_error("modules.lock_failed", "", "sysctl", "kernel.modules_disabled", errno);
  } else {
    char *fields = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&fields, &size);
    fprintf(out, "\"modules\":%s,\"modules_disabled\":true", list);
    fclose(out);
    record("info", "modules.loaded", fields);
    free(fields);
  }
  free(list);
}

/*
 * What systemd's sysctl.d defaults set for safety (the fs.protected_* family)
 * and the Kernel Self-Protection Project's run-time recommendations. Each is
 * global or set before any room exists; rooms see /proc/sys read-only.
 */
static const char *const SYSCTLS[][2] = {
    /* No hard links to files one cannot write, no following others' symlinks in sticky dirs (systemd). */
    {"fs/protected_hardlinks", "1"},
    {"fs/protected_symlinks", "1"},
    /* No O_CREAT opens of others' FIFOs and regular files in world-writable sticky dirs (systemd). */
    {"fs/protected_fifos", "1"},
    {"fs/protected_regular", "1"},
    /* No core dumps of set-uid or privilege-changed processes. */
    {"fs/suid_dumpable", "0"},
    /* Kernel pointers hidden from everyone, the kernel log from unprivileged readers. */
    {"kernel/kptr_restrict", "2"},
    {"kernel/dmesg_restrict", "1"},
    /* No magic SysRq: the trusted console owns the keyboard. */
    {"kernel/sysrq", "0"},
    /* No kexec even for root, until the next boot. */
    {"kernel/kexec_load_disabled", "1"},
    /* eBPF and perf for root only, BPF JIT hardened; no unprivileged userfaultfd. */
    {"kernel/unprivileged_bpf_disabled", "1"},
    {"net/core/bpf_jit_harden", "2"},
    {"kernel/perf_event_paranoid", "3"},
    {"vm/unprivileged_userfaultfd", "0"},
    /* ptrace only for processes with CAP_SYS_PTRACE (Yama), and no line disciplines loaded on demand. */
    {"kernel/yama/ptrace_scope", "2"},
    {"dev/tty/ldisc_autoload", "0"},
    /* Nothing mapped at the lowest 64 KiB: NULL-pointer bugs stay crashes. */
    {"vm/mmap_min_addr", "65536"},
};

/* `sysctl.hardened`: what was set, what this kernel does not have (not built: nothing to harden), and what failed. */
static void harden_sysctls(void) {
  struct list set, absent;
  char *failed = NULL;
  size_t size = 0;
  FILE *failures = open_memstream(&failed, &size);
  int failures_count = 0;
  list_open(&set);
  list_open(&absent);
  fputc('[', failures);
  for (size_t i = 0; i < sizeof SYSCTLS / sizeof SYSCTLS[0]; i++) {
    char path[128], name[128];
    snprintf(path, sizeof path, "/proc/sys/%s", SYSCTLS[i][0]);
    snprintf(name, sizeof name, "%s", SYSCTLS[i][0]);
    for (char *p = name; *p != '\0'; p++)
      if (*p == '/') *p = '.';
    if (write_text(path, SYSCTLS[i][1]) == 0) {
      list_add(&set, name);
    } else if (errno == ENOENT) {
      list_add(&absent, name);
    } else {
      fprintf(failures, "%s{\"sysctl\":", failures_count++ > 0 ? "," : "");
      json_string(failures, name);
      fputs(",\"error\":", failures);
      json_string(failures, strerror(errno));
      fputc('}', failures);
    }
  }
  fputc(']', failures);
  fclose(failures);
  char *set_list = list_close(&set), *absent_list = list_close(&absent), *fields = NULL;
  FILE *out = open_memstream(&fields, &size);
  fprintf(out, "\"set\":%s,\"absent\":%s,\"failed\":%s", set_list, absent_list, failed);
  fclose(out);
  record(failures_count > 0 ? "error" : "info", "sysctl.hardened", fields);
  free(fields), free(set_list), free(absent_list), free(failed);
}

static void stage1(void) {
  char *text = NULL;
  size_t size = 0;
  records = open_memstream(&text, &size);
  mount_essentials();
  load_modules_then_lock();
  harden_sysctls();
  if (sethostname(HOSTNAME, strlen(HOSTNAME)) != 0) record_error("bay0.error", "", "where", "sethostname", errno);
  /* Ctrl-Alt-Del becomes SIGINT to PID 1, which bay0 turns into an orderly reboot. */
  if (reboot(RB_DISABLE_CAD) != 0) record_error("bay0.error", "", "where", "disable-cad", errno);
  fclose(records);
  int fd = open(PREINIT_RECORDS, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  /* Without /run, bay0 never sees them: the console does. */
  if (fd < 0 || write(fd, text, size) != (ssize_t)size) fputs(text, stderr);
  if (fd >= 0) close(fd);
  free(text);
}

int main(void) {
  long began = uptime_ms();
  if (getpid() != 1) {
    fprintf(stderr, "preinit: must run as PID 1\n");
    return 1;
  }
  if (mount_or_fail("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "hidepid=0") != 0) return 1;
  if (mount_or_fail("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0) return 1;
  if (mount_or_fail("devtmpfs", "/dev", "devtmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755") != 0) return 1;
  struct pin pin;
  int pinned = read_pin(&pin);
  if (pinned < 0) return 1;
  if (pinned == 1) {
    if (system_root(&pin) != 0) return 1;
  } else if (mount_or_fail("/", NEW_ROOT, NULL, MS_BIND, NULL) != 0 ||
             mount(NULL, NEW_ROOT, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) != 0) {
    return fail("read-only root at", NEW_ROOT), 1;
  }
  static const char *const moved[] = {"/proc", "/sys", "/dev"};
  for (size_t i = 0; i < sizeof moved / sizeof moved[0]; i++) {
    char target[64];
    snprintf(target, sizeof target, NEW_ROOT "%s", moved[i]);
    if (mount(moved[i], target, NULL, MS_MOVE, NULL) != 0) return fail("move", moved[i]), 1;
  }
  if (chdir(NEW_ROOT) != 0) return fail("chdir", NEW_ROOT), 1;
  if (mount(".", "/", NULL, MS_MOVE, NULL) != 0) return fail("move root to", "/"), 1;
  if (chroot(".") != 0 || chdir("/") != 0) return fail("chroot", NEW_ROOT), 1;
  stage1();
  char timing[64];
  snprintf(timing, sizeof timing, "ANCHOR_PREINIT_MS=%ld,%ld", began, uptime_ms());
  putenv(timing);
  static char slot_env[] = "ANCHOR_SLOT=?";
  slot_env[sizeof slot_env - 2] = slot;
  if (slot != 0) putenv(slot_env);
  char *argv[] = {"bay0", NULL};
  execve(BAY0, argv, environ);
  return fail("execve", BAY0), 1;
}
