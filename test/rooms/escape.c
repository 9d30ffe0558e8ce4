/*
 * The escape catalogue: run inside a room (as its unprivileged user), it
 * tries, one by one, what a compromised program would try to break out of
 * its room or reach the machine. Each attempt prints one line:
 *   "attempt NAME blocked (errno text)"  or  "attempt NAME ESCAPED".
 * The integration test asserts that every attempt is blocked.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/swap.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

static int attempts;

/* rc < 0 means the kernel refused (errno says why); anything else is an escape. */
static void report(const char *name, long rc) {
  attempts++;
  if (rc < 0) printf("attempt %s blocked (%s)\n", name, strerror(errno));
  else printf("attempt %s ESCAPED\n", name);
  fflush(stdout);
}

static long open_for(const char *path, int flags) {
  int fd = open(path, flags);
  if (fd >= 0) close(fd);
  return fd;
}

static long write_file(const char *path, const char *text) {
  int fd = open(path, O_WRONLY);
  if (fd < 0) return -1;
  long n = write(fd, text, strlen(text));
  close(fd);
  return n;
}

/* A process outside the room's PID namespace is invisible: try bay0's usual PIDs. */
static long signal_outside(void) {
  char comm[64];
  for (int pid = 1; pid < 64; pid++) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/comm", pid);
    FILE *f = fopen(path, "r");
    if (!f) continue;
    if (fgets(comm, sizeof comm, f) && (strncmp(comm, "bay0", 4) == 0 || strncmp(comm, "crun", 4) == 0)) {
      fclose(f);
      return kill(pid, SIGKILL);
    }
    fclose(f);
  }
  errno = ESRCH;
  return -1;
}

static long connect_out(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(53)};
  inet_pton(AF_INET, "10.0.2.3", &addr.sin_addr);
  long rc = connect(fd, (struct sockaddr *)&addr, sizeof addr);
  close(fd);
  return rc;
}

/* Reads up to size-1 bytes of a file, NUL-terminated; -1 (errno set) if it cannot be opened. */
static long read_file(const char *path, char *buf, size_t size) {
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  size_t n = fread(buf, 1, size - 1, f);
  fclose(f);
  buf[n] = 0;
  return (long)n;
}

static long sees_host_init(void) {
  char cmd[64];
  if (read_file("/proc/1/cmdline", cmd, sizeof cmd) < 0) return -1;
  if (strstr(cmd, "bay0") != NULL) return 0;
  errno = ENOENT; /* PID 1 here is the room's own first process */
  return -1;
}

/* bay0's environment (PATH as bay0 sets it) must not be readable as PID 1's here. */
static long read_host_init_environ(void) {
  char env[4096];
  long n = read_file("/proc/1/environ", env, sizeof env);
  if (n < 0) return -1;
  for (long i = 0; i < n; i++) {
    if (strncmp(env + i, "PATH=/usr/sbin:/usr/bin:/sbin:/bin", 34) == 0 && env[i + 34] == 0) return 0;
  }
  errno = ENOENT; /* PID 1 here is the room's own first process */
  return -1;
}

/* In its own PID namespace the catalogue is PID 1 and alone: any other PID belongs to someone else. */
static long see_other_processes(void) {
  for (int pid = 2; pid < 4096; pid++) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d", pid);
    if (access(path, F_OK) == 0) return 0;
  }
  errno = ESRCH;
  return -1;
}

static long user_namespace(void) {
  return unshare(CLONE_NEWUSER);
}

int main(void) {
  struct timeval tv = {0, 0};
  char buf[16];
  struct iovec local = {buf, sizeof buf}, remote = {(void *)0x1000, sizeof buf};

  report("mount-tmpfs", mount("x", "/tmp", "tmpfs", 0, NULL));
  report("umount-proc", umount2("/proc", MNT_DETACH));
  report("pivot_root", syscall(SYS_pivot_root, "/tmp", "/tmp"));
  report("unshare-user-namespace", user_namespace());
  report("unshare-mount-namespace", unshare(CLONE_NEWNS));
  report("setns-host-net", setns(open("/proc/1/ns/net", O_RDONLY), 0));
  report("chroot", chroot("/tmp"));
  report("ptrace-attach-init", ptrace(PTRACE_ATTACH, 1, NULL, NULL));
  report("process_vm_readv-init", process_vm_readv(1, &local, 1, &remote, 1, 0));
  report("signal-process-outside", signal_outside());
  report("see-host-init", sees_host_init());
  report("read-host-init-environ", read_host_init_environ());
  report("see-other-processes", see_other_processes());
  report("write-proc-sys", write_file("/proc/sys/kernel/hostname", "pwned"));
  report("write-sysrq-trigger", write_file("/proc/sysrq-trigger", "b"));
  report("write-sys", write_file("/sys/kernel/uevent_helper", "/tmp/x"));
  report("write-cgroup", write_file("/sys/fs/cgroup/cgroup.procs", "1"));
  report("read-kcore", open_for("/proc/kcore", O_RDONLY));
  report("mknod-block-device", mknod("/tmp/sda", S_IFBLK | 0600, makedev(8, 0)));
  report("open-dev-mem", open_for("/dev/mem", O_RDWR));
  report("open-dev-kmsg-write", open_for("/dev/kmsg", O_WRONLY));
  report("init_module", syscall(SYS_init_module, NULL, 0, ""));
  report("finit_module", syscall(SYS_finit_module, 0, "", 0));
  report("reboot", reboot(RB_AUTOBOOT));
  report("kexec_load", syscall(SYS_kexec_load, 0, 0, NULL, 0));
  report("keyctl", syscall(SYS_keyctl, 1 /* KEYCTL_JOIN_SESSION_KEYRING */, "x"));
  report("add_key", syscall(SYS_add_key, "user", "k", "v", 1, -2 /* session keyring */));
  struct perf_event_attr pe = {.type = PERF_TYPE_SOFTWARE, .size = sizeof pe, .config = PERF_COUNT_SW_CPU_CLOCK};
  report("perf_event_open", syscall(SYS_perf_event_open, &pe, 0, -1, -1, 0));
  union bpf_attr attr = {.map_type = BPF_MAP_TYPE_ARRAY, .key_size = 4, .value_size = 4, .max_entries = 1};
  report("bpf", syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof attr));
  report("swapon", swapon("/tmp/swap", 0));
  report("settimeofday", settimeofday(&tv, NULL));
  report("sethostname", sethostname("pwned", 5));
  report("iopl", syscall(SYS_iopl, 3));
  report("socket-inet", socket(AF_INET, SOCK_STREAM, 0));
  report("socket-inet6", socket(AF_INET6, SOCK_DGRAM, 0));
  report("socket-raw", socket(AF_INET, SOCK_RAW, IPPROTO_ICMP));
  report("socket-packet", socket(AF_PACKET, SOCK_RAW, 0));
  report("network-egress", connect_out());
  report("setuid-root", setuid(0));
  report("read-other-room-files", open_for("/run/rooms/web/scratch/upper", O_RDONLY));
  report("syslog-read", syscall(SYS_syslog, 3 /* READ_ALL */, buf, sizeof buf));
  report("userfaultfd", syscall(SYS_userfaultfd, 0));
  report("open_by_handle_at", syscall(SYS_open_by_handle_at, AT_FDCWD, NULL, O_RDONLY));
  printf("attempts=%d\n", attempts);
  return 0;
}
