/*
 * The escape catalogue: run inside a room, it tries, one by one, what a
 * compromised program would try to break out of its room or reach the
 * machine, each aimed at something that would be a real escape (bay0,
 * another room, the host's files, the kernel). It runs in two modes:
 *   escape user   as the room's ordinary user (uid 1000, no capabilities,
 *                 network "none");
 *   escape root   as root inside the room's user namespace with the
 *                 workshop's capabilities and network "loopback", so that
 *                 seccomp, the namespaces and the read-only mounts are what
 *                 stop it, not a missing capability.
 * Every attempt names the outcome the intended layer gives (an errno name,
 * or the signal that killed a probe process) and prints one line:
 *   "attempt NAME blocked (OUTCOME)"                   as intended
 *   "attempt NAME WRONG (got OUTCOME, expected X)"     blocked, by something else
 *   "attempt NAME ESCAPED"
 * then "attempts=N" and exits 0. The integration test asserts every line.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* An outcome: NULL means the attempt succeeded (an escape); otherwise an errno or signal name. */
typedef const char *outcome;

static outcome fail_errno(void) { return strerrorname_np(errno) ? strerrorname_np(errno) : "E?"; }

/* rc < 0: refused, errno says why; anything else is an escape. */
static outcome check(long rc) { return rc < 0 ? fail_errno() : NULL; }

/* How a probe child ended: exit 0 = it escaped, exit N = errno N, or the signal's name. */
static outcome child_outcome(pid_t pid) {
  int status;
  if (pid < 0) return fail_errno();
  if (waitpid(pid, &status, 0) < 0) return fail_errno();
  if (WIFSIGNALED(status)) {
    static char name[32];
    snprintf(name, sizeof name, "SIG%s", sigabbrev_np(WTERMSIG(status)) ? sigabbrev_np(WTERMSIG(status)) : "?");
    return name;
  }
  if (WEXITSTATUS(status) == 0) return NULL;
  errno = WEXITSTATUS(status);
  return fail_errno();
}

static pid_t sleeper(void) {
  pid_t pid = fork();
  if (pid == 0) {
    pause();
    _exit(0);
  }
  return pid;
}

static void end(pid_t pid) {
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
}

static long open_write(const char *path, const char *text) {
  int fd = open(path, O_WRONLY);
  if (fd < 0) return -1;
  long n = write(fd, text, strlen(text));
  close(fd);
  return n;
}

/* A file the room must not read: ENODATA when it exists but reads empty (masked with /dev/null). */
static outcome read_secret(const char *path) {
  char buf[64];
  int fd = open(path, O_RDONLY);
  if (fd < 0) return fail_errno();
  long n = read(fd, buf, sizeof buf);
  close(fd);
  if (n < 0) return fail_errno();
  if (n > 0) return NULL;
  errno = ENODATA;
  return fail_errno();
}

/* The pid of a process named `name` (bay0, crun, another room's shell) if this room can see one. */
static int find_process(const char *name) {
  for (int pid = 1; pid < 32768; pid++) {
    char path[64], comm[64];
    snprintf(path, sizeof path, "/proc/%d/comm", pid);
    FILE *f = fopen(path, "r");
    if (!f) continue;
    int match = fgets(comm, sizeof comm, f) && strncmp(comm, name, strlen(name)) == 0 && comm[strlen(name)] == '\n';
    fclose(f);
    if (match) return pid;
  }
  return -1;
}

static outcome signal_bay0(void) {
  int pid = find_process("bay0");
  if (pid < 0) pid = find_process("crun");
  if (pid < 0) {
    errno = ESRCH;
    return fail_errno();
  }
  return check(kill(pid, SIGKILL));
}

static outcome ptrace_bay0(void) {
  int pid = find_process("bay0");
  if (pid < 0) {
    errno = ESRCH;
    return fail_errno();
  }
  return check(ptrace(PTRACE_ATTACH, pid, NULL, NULL));
}

/* In its own PID namespace the catalogue is PID 1 and alone: any other PID belongs to someone else. */
static outcome see_other_processes(void) {
  for (int pid = 2; pid < 32768; pid++) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d", pid);
    if (access(path, F_OK) == 0) return NULL;
  }
  errno = ESRCH;
  return fail_errno();
}

static outcome host_init_visible(void) {
  char cmd[256] = {0};
  int fd = open("/proc/1/cmdline", O_RDONLY);
  if (fd < 0) return fail_errno();
  read(fd, cmd, sizeof cmd - 1);
  close(fd);
  if (strstr(cmd, "bay0")) return NULL;
  errno = ENOENT; /* PID 1 here is the catalogue itself */
  return fail_errno();
}

/* The kernel refuses to kill(-1) nothing: ESRCH means nobody else is visible to signal. */
static outcome kill_everyone(void) { return check(kill(-1, SIGKILL)); }

static outcome ptrace_child(void) {
  pid_t pid = sleeper();
  outcome o = check(ptrace(PTRACE_ATTACH, pid, NULL, NULL));
  end(pid);
  return o;
}

static outcome read_child_memory(void) {
  static char there[16] = "secret";
  char here[16];
  pid_t pid = sleeper();
  struct iovec local = {here, sizeof here}, remote = {there, sizeof there};
  outcome o = check(process_vm_readv(pid, &local, 1, &remote, 1, 0));
  end(pid);
  return o;
}

/* clone(2) with one namespace flag; the child (if any) leaves at once. */
static outcome clone_with(unsigned long flag) {
  long rc = syscall(SYS_clone, flag | SIGCHLD, NULL, NULL, NULL, NULL);
  if (rc == 0) _exit(0);
  if (rc > 0) {
    waitpid((pid_t)rc, NULL, 0);
    return NULL;
  }
  return fail_errno();
}

static outcome clone3_user(void) {
  struct clone_args args = {.flags = CLONE_NEWUSER, .exit_signal = SIGCHLD};
  long rc = syscall(SYS_clone3, &args, sizeof args);
  if (rc == 0) _exit(0);
  if (rc > 0) {
    waitpid((pid_t)rc, NULL, 0);
    return NULL;
  }
  return fail_errno();
}

/* socketcall(SYS_SOCKET, AF_INET) through the 32-bit entry: the arguments must sit below 4 GiB (static, non-PIE). */
static unsigned int socketcall_args[3] = {AF_INET, SOCK_STREAM, 0};
static outcome socket_via_int80(void) {
  pid_t pid = fork();
  if (pid == 0) {
    long ret;
    __asm__ volatile("int $0x80" : "=a"(ret) : "a"(102L), "b"(1L), "c"(socketcall_args) : "memory");
    _exit(ret >= 0 ? 0 : (int)-ret);
  }
  return child_outcome(pid);
}

/* chroot into a subdirectory, climb out with "..", and look for the host's root (bay0's binary). */
static outcome chroot_climb(void) {
  pid_t pid = fork();
  if (pid == 0) {
    mkdir("/tmp/jail", 0700);
    if (chroot("/tmp/jail") < 0) _exit(errno);
    for (int i = 0; i < 64; i++) chdir("..");
    chroot(".");
    _exit(access("/usr/lib/bay0/bay0", F_OK) == 0 ? 0 : errno);
  }
  return child_outcome(pid);
}

static outcome connect_out(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return fail_errno();
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(53)};
  inet_pton(AF_INET, "10.0.2.3", &addr.sin_addr);
  outcome o = check(connect(fd, (struct sockaddr *)&addr, sizeof addr));
  close(fd);
  return o;
}

static outcome do_socket(int family, int type, int proto) {
  int fd = socket(family, type, proto);
  if (fd >= 0) close(fd);
  return check(fd);
}

static struct timeval tv;
static char buf[16];
static char uring_params[120];

static int root_mode, attempts;

static void report(const char *name, outcome got, const char *expected) {
  attempts++;
  if (got == NULL) printf("attempt %s ESCAPED\n", name);
  else if (strcmp(got, expected) == 0) printf("attempt %s blocked (%s)\n", name, got);
  else printf("attempt %s WRONG (got %s, expected %s)\n", name, got, expected);
  fflush(stdout);
}

/* One attempt: the outcome expected as the room's user, and as root; NULL: not attempted in that mode (allowed there by design). */
#define A(name, user, root, expr)                          \
  do {                                                     \
    const char *expected_ = root_mode ? (root) : (user);   \
    if (expected_ != NULL) report(name, (expr), expected_); \
  } while (0)

int main(int argc, char **argv) {
  root_mode = argc > 1 && strcmp(argv[1], "root") == 0;
  if (argc > 1 && strcmp(argv[1], "ia32") == 0) {
    /* On a kernel with 32-bit emulation (Debian's stock kernel) the native-only filter must kill this. */
    report("socketcall-int80-inet", socket_via_int80(), "SIGSYS");
    printf("attempts=%d mode=ia32\n", attempts);
    return 0;
  }
  struct perf_event_attr pe = {.type = PERF_TYPE_SOFTWARE, .size = sizeof pe, .config = PERF_COUNT_SW_CPU_CLOCK};
  union bpf_attr attr = {.map_type = BPF_MAP_TYPE_ARRAY, .key_size = 4, .value_size = 4, .max_entries = 1};
  /* Other processes: nothing outside the room's PID namespace is visible or reachable. */
  A("see-other-processes", "ESRCH", "ESRCH", see_other_processes());
  A("see-host-init", "ENOENT", "ENOENT", host_init_visible());
  A("kill-everyone-else", "ESRCH", "ESRCH", kill_everyone());
  A("signal-bay0-or-crun", "ESRCH", "ESRCH", signal_bay0());
  A("ptrace-bay0", "ESRCH", "ESRCH", ptrace_bay0());
  /* The kernel would allow these on one's own child; seccomp must not. */
  A("ptrace-own-child", "EPERM", "EPERM", ptrace_child());
  A("process_vm_readv-own-child", "EPERM", "EPERM", read_child_memory());
  /* Namespaces: the kernel lets anyone make a user namespace (and root in it the rest). */
  A("unshare-user", "EPERM", "EPERM", check(unshare(CLONE_NEWUSER)));
  A("unshare-mount", "EPERM", "EPERM", check(unshare(CLONE_NEWNS)));
  A("clone-newuser", "EPERM", "EPERM", clone_with(CLONE_NEWUSER));
  A("clone-newns", "EPERM", "EPERM", clone_with(CLONE_NEWNS));
  A("clone-newpid", "EPERM", "EPERM", clone_with(CLONE_NEWPID));
  A("clone-newnet", "EPERM", "EPERM", clone_with(CLONE_NEWNET));
  A("clone-newuts", "EPERM", "EPERM", clone_with(CLONE_NEWUTS));
  A("clone-newipc", "EPERM", "EPERM", clone_with(CLONE_NEWIPC));
  A("clone-newcgroup", "EPERM", "EPERM", clone_with(CLONE_NEWCGROUP));
  A("clone3-newuser", "ENOSYS", "ENOSYS", clone3_user());
  A("setns-init-net", "EPERM", "EPERM", check(setns(open("/proc/1/ns/net", O_RDONLY), 0)));
  /* Mounts and the root. */
  A("mount-tmpfs", "EPERM", "EPERM", check(mount("x", "/tmp", "tmpfs", 0, NULL)));
  A("umount-proc", "EPERM", "EPERM", check(umount2("/proc", MNT_DETACH)));
  A("fsopen", "EPERM", "EPERM", check(syscall(SYS_fsopen, "tmpfs", 0)));
  A("pivot_root", "EPERM", "EPERM", check(syscall(SYS_pivot_root, "/tmp", "/tmp")));
  A("chroot-climb-to-host", "EPERM", "ENOENT", chroot_climb());
  A("read-other-room-files", "ENOENT", "ENOENT", check(open("/run/rooms/web/scratch/upper", O_RDONLY)));
  A("read-image-mounts", "ENOENT", "ENOENT", check(open("/run/rooms/.images", O_RDONLY)));
  /* Kernel interfaces: read-only, masked, or absent from the room's /dev (features this kernel lacks, such as /proc/kcore, are not attempted: they could not fail). */
  /* /proc/sys files belong to the host's root, which no room's user namespace maps: even CAP_DAC_OVERRIDE does not apply. */
  A("write-proc-sys", "EACCES", "EACCES", check(open_write("/proc/sys/net/ipv4/ip_forward", "1")));
  A("write-sys", "EACCES", "EROFS", check(open_write("/sys/class/net/lo/mtu", "1500")));
  A("write-cgroup", "EACCES", "EROFS", check(open_write("/sys/fs/cgroup/cgroup.procs", "1")));
  A("read-interrupts", "ENODATA", "ENODATA", read_secret("/proc/interrupts"));
  A("mknod-block-device", "EPERM", "EPERM", check(mknod("/tmp/sda", S_IFBLK | 0600, makedev(8, 0))));
  A("open-dev-mem", "ENOENT", "ENOENT", check(open("/dev/mem", O_RDWR)));
  A("open-dev-kmsg", "ENOENT", "ENOENT", check(open("/dev/kmsg", O_WRONLY)));
  A("open-dev-fb0", "ENOENT", "ENOENT", check(open("/dev/fb0", O_RDWR)));
  A("open-dev-dri", "ENOENT", "ENOENT", check(open("/dev/dri/card0", O_RDWR)));
  A("open-dev-input", "ENOENT", "ENOENT", check(open("/dev/input/event0", O_RDONLY)));
  A("open-dev-tty1", "ENOENT", "ENOENT", check(open("/dev/tty1", O_RDWR)));
  A("open-dev-console", "ENOENT", "ENOENT", check(open("/dev/console", O_RDWR)));
  /* Calls the Anchor deny-list refuses whatever the capabilities. */
  A("init_module", "EPERM", "EPERM", check(syscall(SYS_init_module, NULL, 0, "")));
  A("finit_module", "EPERM", "EPERM", check(syscall(SYS_finit_module, 0, "", 0)));
  A("reboot", "EPERM", "EPERM", check(reboot(RB_AUTOBOOT)));
  A("kexec_load", "EPERM", "EPERM", check(syscall(SYS_kexec_load, 0, 0, NULL, 0)));
  A("keyctl", "EPERM", "EPERM", check(syscall(SYS_keyctl, 1 /* KEYCTL_JOIN_SESSION_KEYRING */, "x")));
  A("add_key", "EPERM", "EPERM", check(syscall(SYS_add_key, "user", "k", "v", 1, -2 /* session keyring */)));
  A("perf_event_open", "EPERM", "EPERM", check(syscall(SYS_perf_event_open, &pe, 0, -1, -1, 0)));
  A("bpf", "EPERM", "EPERM", check(syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof attr)));
  A("swapon", "EPERM", "EPERM", check(swapon("/tmp/swap", 0)));
  A("settimeofday", "EPERM", "EPERM", check(settimeofday(&tv, NULL)));
  A("iopl", "EPERM", "EPERM", check(syscall(SYS_iopl, 3)));
  A("syslog-read", "EPERM", "EPERM", check(syscall(SYS_syslog, 3 /* READ_ALL */, buf, sizeof buf)));
  A("userfaultfd", "EPERM", "EPERM", check(syscall(SYS_userfaultfd, 0)));
  /* Whatever the kernel keeps of io_uring, no room reaches it: its calls are not on the rooms' allow-list. */
  A("io_uring_setup", "ENOSYS", "ENOSYS", check(syscall(SYS_io_uring_setup, 8, uring_params)));
  A("open_by_handle_at", "EPERM", "EPERM", check(syscall(SYS_open_by_handle_at, AT_FDCWD, NULL, O_RDONLY)));
  A("sethostname", "EPERM", "EPERM", check(sethostname("pwned", 5)));
  /* The 32-bit entry: no argument checks for it, so it must not exist or must kill. The hardened
   * kernel has no IA32 emulation (SIGSEGV); on Debian's stock kernel the native-only filter kills
   * the probe instead, with SIGSYS. */
  A("socketcall-int80-inet", "SIGSEGV", "SIGSEGV", socket_via_int80());
  /* Network: none = Unix sockets only; loopback = unix, inet, inet6 on the room's own lo. */
  A("socket-inet", "EAFNOSUPPORT", NULL, do_socket(AF_INET, SOCK_STREAM, 0));
  A("socket-inet6", "EAFNOSUPPORT", NULL, do_socket(AF_INET6, SOCK_DGRAM, 0));
  A("socket-raw", "EAFNOSUPPORT", "EPERM", do_socket(AF_INET, SOCK_RAW, IPPROTO_ICMP));
  A("socket-packet", "EAFNOSUPPORT", "EAFNOSUPPORT", do_socket(AF_PACKET, SOCK_RAW, 0));
  A("socket-netlink", "EAFNOSUPPORT", "EAFNOSUPPORT", do_socket(AF_NETLINK, SOCK_RAW, 0));
  A("socket-vsock", "EAFNOSUPPORT", "EAFNOSUPPORT", do_socket(40 /* AF_VSOCK */, SOCK_STREAM, 0));
  A("network-egress", "EAFNOSUPPORT", "ENETUNREACH", connect_out());
  A("setuid-root", "EPERM", NULL, check(setuid(0)));
  printf("attempts=%d mode=%s\n", attempts, root_mode ? "root" : "user");
  return 0;
}
