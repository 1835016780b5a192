/*
 * shoal-shim: the part of starting a container that cannot be done from Node.js.
 *
 * Usage: shoal-shim <state-dir>
 *
 * Reads <state-dir>/spec (NUL-separated "key=value" records written by the TypeScript side),
 * clones the container's first process into new namespaces, reports "pid <n>" on stdout, waits
 * for one byte on stdin (Node has finished the network by then; EOF aborts the start), lets the
 * child finish its setup and exec, reports "ok" or "err <why>" on stdout, and then stays as the
 * container's monitor: it writes the container's stdout/stderr with timestamps to
 * <state-dir>/container.log (CRI log format, size-based rotation) and, once the container's
 * first process is gone, its exit status to <state-dir>/exit. It is a plain C process with no
 * tie to Node, so containers survive a restart of the daemon.
 *
 * Everything else (config, cgroup limits, networking, bookkeeping) lives in TypeScript.
 * Kept small and boring on purpose: no allocation after start-up besides log buffers.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_LIST 256
#define LINE_MAX_BYTES 16384

extern char **environ;

/* ---- spec ---------------------------------------------------------------------------------- */

struct spec {
  const char *rootfs;       /* mount point for the container's root, inside the state dir */
  const char *overlay;      /* overlay mount options (lowerdir=...,upperdir=...,workdir=...) */
  int readonly;             /* remount the root read-only after setup */
  const char *hostname;
  const char *cwd;
  const char *netns;        /* "new" (default) or "host" */
  int init;                 /* run a minimal init as PID 1 */
  uid_t uid;
  gid_t gid;
  gid_t groups[MAX_LIST];
  int ngroups;
  const char *args[MAX_LIST + 1];
  int nargs;
  const char *env[MAX_LIST + 1];
  int nenv;
  const char *cgroups[16];  /* cgroup.procs files to join (one per v1 controller, or one v2) */
  int ncgroups;
  const char *cgroup_into;  /* v2 cgroup dir to clone straight into (CLONE_INTO_CGROUP) */
  const char *mounts[MAX_LIST]; /* "type\tsource\tdest\toptions" */
  int nmounts;
  long long log_max;        /* bytes per log file before rotation; 0 = never rotate */
  int log_files;            /* rotated files kept */
};

/* struct clone_args of clone3 (linux/sched.h clashes with glibc's sched.h, so our own copy). */
struct shim_clone_args {
  uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
  uint64_t set_tid, set_tid_size, cgroup;
};
#define SHIM_CLONE_INTO_CGROUP 0x200000000ULL

static struct spec S;
static int serve(const char *self, const char *sock_path);
static const char *state_dir;

static void fail(int fd, const char *what) {
  char buf[512];
  int n = snprintf(buf, sizeof buf, "err %s: %s\n", what, strerror(errno));
  if (n > 0 && write(fd, buf, (size_t)n) < 0) { /* nothing more we can do */ }
  _exit(127);
}

static char *read_file(const char *path, size_t *len) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return NULL;
  size_t cap = 65536, n = 0;
  char *buf = malloc(cap + 1);
  for (;;) {
    if (n == cap) {
      if (cap >= (1u << 20)) { close(fd); errno = EFBIG; return NULL; }
      cap *= 2;
      buf = realloc(buf, cap + 1);
    }
    ssize_t r = read(fd, buf + n, cap - n);
    if (r < 0) { if (errno == EINTR) continue; close(fd); return NULL; }
    if (r == 0) break;
    n += (size_t)r;
  }
  close(fd);
  buf[n] = 0;
  *len = n;
  return buf;
}

static int parse_spec(char *buf, size_t len) {
  S.netns = "new";
  S.cwd = "/";
  S.log_files = 1;
  for (size_t i = 0; i < len;) {
    char *rec = buf + i;
    size_t rl = strlen(rec);
    i += rl + 1;
    char *eq = strchr(rec, '=');
    if (eq == NULL) continue;
    *eq = 0;
    const char *k = rec, *v = eq + 1;
    if (!strcmp(k, "rootfs")) S.rootfs = v;
    else if (!strcmp(k, "overlay")) S.overlay = v;
    else if (!strcmp(k, "readonly")) S.readonly = atoi(v);
    else if (!strcmp(k, "hostname")) S.hostname = v;
    else if (!strcmp(k, "cwd")) S.cwd = v;
    else if (!strcmp(k, "netns")) S.netns = v;
    else if (!strcmp(k, "init")) S.init = atoi(v);
    else if (!strcmp(k, "uid")) S.uid = (uid_t)strtoul(v, NULL, 10);
    else if (!strcmp(k, "gid")) S.gid = (gid_t)strtoul(v, NULL, 10);
    else if (!strcmp(k, "group") && S.ngroups < MAX_LIST) S.groups[S.ngroups++] = (gid_t)strtoul(v, NULL, 10);
    else if (!strcmp(k, "arg") && S.nargs < MAX_LIST) S.args[S.nargs++] = v;
    else if (!strcmp(k, "env") && S.nenv < MAX_LIST) S.env[S.nenv++] = v;
    else if (!strcmp(k, "cgroup") && S.ncgroups < 16) S.cgroups[S.ncgroups++] = v;
    else if (!strcmp(k, "cgroup-into")) S.cgroup_into = v;
    else if (!strcmp(k, "mount") && S.nmounts < MAX_LIST) S.mounts[S.nmounts++] = v;
    else if (!strcmp(k, "log-max")) S.log_max = atoll(v);
    else if (!strcmp(k, "log-files")) S.log_files = atoi(v);
    else return -1;
  }
  return (S.rootfs && S.overlay && S.nargs > 0) ? 0 : -1;
}

/* ---- seccomp ------------------------------------------------------------------------------- */

#if defined(__x86_64__)
#define SHIM_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define SHIM_AUDIT_ARCH AUDIT_ARCH_AARCH64
#else
#error "shoal-shim: seccomp filter written for x86_64 and aarch64 only"
#endif

#define DENY(nr) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1), \
                 BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM)

#define NS_FLAGS (CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | \
                  CLONE_NEWNET | CLONE_NEWCGROUP)

/*
 * What Docker's default profile refuses to a container without CAP_SYS_ADMIN & co: mounting,
 * kernel modules, kexec, bpf, ptrace, the keyring, reboot, swap, new namespaces, clock setting,
 * raw I/O ports, perf and userfaultfd. Anything else is allowed (a deny list, unlike Docker's
 * allow list, so that we stay small; the capability set does the rest).
 */
static void install_seccomp(int errfd) {
  struct sock_filter f[] = {
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SHIM_AUDIT_ARCH, 1, 0),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
#if defined(__x86_64__)
    /* x32 syscalls alias the x86_64 ones with a high bit set: refuse them all. */
    BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000, 0, 1),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
    DENY(__NR_umount2), DENY(__NR_mount), DENY(__NR_kexec_load), DENY(__NR_kexec_file_load),
    DENY(__NR_init_module), DENY(__NR_finit_module), DENY(__NR_delete_module),
    DENY(__NR_bpf), DENY(__NR_ptrace), DENY(__NR_keyctl), DENY(__NR_add_key),
    DENY(__NR_request_key), DENY(__NR_reboot), DENY(__NR_swapon), DENY(__NR_swapoff),
    DENY(__NR_unshare), DENY(__NR_setns), DENY(__NR_pivot_root), DENY(__NR_acct),
    DENY(__NR_iopl), DENY(__NR_ioperm), DENY(__NR_settimeofday), DENY(__NR_clock_settime),
    DENY(__NR_perf_event_open), DENY(__NR_userfaultfd), DENY(__NR_open_by_handle_at),
    DENY(__NR_lookup_dcookie), DENY(__NR_quotactl), DENY(__NR_syslog), DENY(__NR_uselib),
    DENY(__NR_personality), DENY(__NR_process_vm_readv), DENY(__NR_process_vm_writev),
    DENY(__NR_kcmp), DENY(__NR_fsopen), DENY(__NR_fsmount), DENY(__NR_fsconfig),
    DENY(__NR_move_mount), DENY(__NR_open_tree), DENY(__NR_fspick), DENY(__NR_mount_setattr),
    DENY(__NR__sysctl), DENY(__NR_ustat), DENY(__NR_sysfs), DENY(__NR_vhangup),
#else
    DENY(__NR_umount2), DENY(__NR_mount), DENY(__NR_kexec_load), DENY(__NR_kexec_file_load),
    DENY(__NR_init_module), DENY(__NR_finit_module), DENY(__NR_delete_module),
    DENY(__NR_bpf), DENY(__NR_ptrace), DENY(__NR_keyctl), DENY(__NR_add_key),
    DENY(__NR_request_key), DENY(__NR_reboot), DENY(__NR_swapon), DENY(__NR_swapoff),
    DENY(__NR_unshare), DENY(__NR_setns), DENY(__NR_pivot_root), DENY(__NR_acct),
    DENY(__NR_settimeofday), DENY(__NR_clock_settime), DENY(__NR_perf_event_open),
    DENY(__NR_userfaultfd), DENY(__NR_open_by_handle_at), DENY(__NR_lookup_dcookie),
    DENY(__NR_quotactl), DENY(__NR_syslog), DENY(__NR_personality),
    DENY(__NR_process_vm_readv), DENY(__NR_process_vm_writev), DENY(__NR_kcmp),
    DENY(__NR_fsopen), DENY(__NR_fsmount), DENY(__NR_fsconfig), DENY(__NR_move_mount),
    DENY(__NR_open_tree), DENY(__NR_fspick), DENY(__NR_mount_setattr), DENY(__NR_vhangup),
#endif
    /* clone3 passes its flags in memory a filter cannot read: make libc fall back to clone. */
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone3, 0, 1),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
    /* clone with any namespace flag is refused, as Docker does. */
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone, 0, 3),
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
    BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, NS_FLAGS, 0, 1),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog prog = { .len = (unsigned short)(sizeof f / sizeof f[0]), .filter = f };
  if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) fail(errfd, "seccomp");
}

/* ---- capabilities -------------------------------------------------------------------------- */

/* Docker's default capability set. */
static const int default_caps[] = {
  CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FSETID, CAP_FOWNER, CAP_MKNOD, CAP_NET_RAW, CAP_SETGID,
  CAP_SETUID, CAP_SETFCAP, CAP_SETPCAP, CAP_NET_BIND_SERVICE, CAP_SYS_CHROOT, CAP_KILL,
  CAP_AUDIT_WRITE,
};

static int is_default_cap(int c) {
  for (size_t i = 0; i < sizeof default_caps / sizeof default_caps[0]; i++)
    if (default_caps[i] == c) return 1;
  return 0;
}

static void drop_bounding_set(int errfd) {
  for (int c = 0; c <= 63; c++) {
    if (is_default_cap(c)) continue;
    if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) != 0 && errno != EINVAL) fail(errfd, "capbset drop");
  }
}

static void set_caps(int errfd, int keep) {
  struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
  struct __user_cap_data_struct data[2];
  memset(data, 0, sizeof data);
  if (keep) {
    for (size_t i = 0; i < sizeof default_caps / sizeof default_caps[0]; i++) {
      int c = default_caps[i];
      data[c / 32].effective |= 1u << (c % 32);
      data[c / 32].permitted |= 1u << (c % 32);
      data[c / 32].inheritable |= 1u << (c % 32);
    }
  }
  if (syscall(SYS_capset, &hdr, data) != 0) fail(errfd, "capset");
  prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
}

/* ---- root filesystem ----------------------------------------------------------------------- */

static void mkdir_p(const char *path) {
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s", path);
  for (char *p = tmp + 1; *p; p++) {
    if (*p == '/') { *p = 0; mkdir(tmp, 0755); *p = '/'; }
  }
  mkdir(tmp, 0755);
}

static void in_root(char *out, size_t n, const char *dest) {
  snprintf(out, n, "%s%s%s", S.rootfs, dest[0] == '/' ? "" : "/", dest);
}

static void must_mount(int errfd, const char *src, const char *dst, const char *type,
                       unsigned long flags, const char *data, const char *what) {
  if (mount(src, dst, type, flags, data) != 0) fail(errfd, what);
}

static void make_dev(int errfd) {
  char p[4096];
  static const struct { const char *name; unsigned maj, min; } devs[] = {
    { "null", 1, 3 }, { "zero", 1, 5 }, { "full", 1, 7 }, { "random", 1, 8 },
    { "urandom", 1, 9 }, { "tty", 5, 0 },
  };
  in_root(p, sizeof p, "/dev");
  mkdir_p(p);
  must_mount(errfd, "tmpfs", p, "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k", "mount /dev");
  mode_t old = umask(0);
  for (size_t i = 0; i < sizeof devs / sizeof devs[0]; i++) {
    char d[4096];
    snprintf(d, sizeof d, "%s/dev/%s", S.rootfs, devs[i].name);
    if (mknod(d, S_IFCHR | 0666, makedev(devs[i].maj, devs[i].min)) != 0) fail(errfd, "mknod");
  }
  umask(old);
  in_root(p, sizeof p, "/dev/pts");
  mkdir(p, 0755);
  must_mount(errfd, "devpts", p, "devpts", MS_NOSUID | MS_NOEXEC,
             "newinstance,ptmxmode=0666,mode=0620,gid=5", "mount /dev/pts");
  in_root(p, sizeof p, "/dev/shm");
  mkdir(p, 01777);
  must_mount(errfd, "shm", p, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k",
             "mount /dev/shm");
  static const char *links[][2] = {
    { "pts/ptmx", "ptmx" }, { "/proc/self/fd", "fd" }, { "/proc/self/fd/0", "stdin" },
    { "/proc/self/fd/1", "stdout" }, { "/proc/self/fd/2", "stderr" },
  };
  for (size_t i = 0; i < sizeof links / sizeof links[0]; i++) {
    snprintf(p, sizeof p, "%s/dev/%s", S.rootfs, links[i][1]);
    if (symlink(links[i][0], p) != 0) fail(errfd, "symlink in /dev");
  }
}

static void user_mounts(int errfd) {
  for (int i = 0; i < S.nmounts; i++) {
    char rec[4096], dst[4096];
    snprintf(rec, sizeof rec, "%s", S.mounts[i]);
    char *type = strtok(rec, "\t"), *src = strtok(NULL, "\t"), *dest = strtok(NULL, "\t");
    char *opts = strtok(NULL, "\t");
    if (!type || !src || !dest) { errno = EINVAL; fail(errfd, "mount spec"); }
    in_root(dst, sizeof dst, dest);
    if (!strcmp(type, "bind")) {
      struct stat st;
      if (stat(src, &st) != 0) fail(errfd, "bind source");
      if (S_ISDIR(st.st_mode)) mkdir_p(dst);
      else {
        char parent[4096];
        snprintf(parent, sizeof parent, "%s", dst);
        char *slash = strrchr(parent, '/');
        if (slash != NULL && slash != parent) { *slash = 0; mkdir_p(parent); }
        int fd = open(dst, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
        if (fd >= 0) close(fd);
      }
      must_mount(errfd, src, dst, NULL, MS_BIND | MS_REC, NULL, "bind mount");
      if (opts && strstr(opts, "ro"))
        must_mount(errfd, NULL, dst, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC, NULL, "bind ro");
    } else if (!strcmp(type, "tmpfs")) {
      mkdir_p(dst);
      must_mount(errfd, "tmpfs", dst, "tmpfs", MS_NOSUID | MS_NODEV, opts ? opts : "", "tmpfs mount");
    } else {
      errno = EINVAL;
      fail(errfd, "mount type");
    }
  }
}

/* Docker's masked paths (hidden) and read-only paths, applied after pivot_root. */
static void mask_paths(void) {
  static const char *masked[] = {
    "/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
    "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
    "/sys/firmware", "/sys/devices/virtual/powercap",
  };
  static const char *readonly[] = {
    "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
  };
  for (size_t i = 0; i < sizeof masked / sizeof masked[0]; i++) {
    struct stat st;
    if (stat(masked[i], &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) mount("tmpfs", masked[i], "tmpfs", MS_RDONLY, "size=0");
    else mount("/dev/null", masked[i], NULL, MS_BIND, NULL);
  }
  for (size_t i = 0; i < sizeof readonly / sizeof readonly[0]; i++) {
    if (mount(readonly[i], readonly[i], NULL, MS_BIND | MS_REC, NULL) == 0)
      mount(NULL, readonly[i], NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC, NULL);
  }
}

static void setup_rootfs(int errfd) {
  char p[4096];
  /* Nothing we mount may propagate back to the host, and nothing of the host's to us. */
  must_mount(errfd, NULL, "/", NULL, MS_REC | MS_SLAVE, NULL, "make / rslave");
  must_mount(errfd, "overlay", S.rootfs, "overlay", 0, S.overlay, "mount overlay rootfs");
  /* pivot_root wants a private parent; the overlay mount becomes its own peer group. */
  must_mount(errfd, NULL, S.rootfs, NULL, MS_PRIVATE, NULL, "make rootfs private");
  in_root(p, sizeof p, "/proc");
  mkdir_p(p);
  must_mount(errfd, "proc", p, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, "mount /proc");
  make_dev(errfd);
  in_root(p, sizeof p, "/sys");
  mkdir_p(p);
  unsigned long sysflags = MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY;
  if (strcmp(S.netns, "host") == 0) {
    /* sysfs of the host's netns cannot be mounted anew: bind it read-only instead. */
    must_mount(errfd, "/sys", p, NULL, MS_BIND | MS_REC, NULL, "bind /sys");
    must_mount(errfd, NULL, p, NULL, MS_BIND | MS_REMOUNT | sysflags, NULL, "remount /sys ro");
  } else {
    must_mount(errfd, "sysfs", p, "sysfs", sysflags, NULL, "mount /sys");
  }
  user_mounts(errfd);
  if (chdir(S.rootfs) != 0) fail(errfd, "chdir rootfs");
  /* pivot_root(".", ".") stacks the old root under the new one; detaching it leaves only ours. */
  if (syscall(SYS_pivot_root, ".", ".") != 0) fail(errfd, "pivot_root");
  if (umount2(".", MNT_DETACH) != 0) fail(errfd, "detach old root");
  if (chdir("/") != 0) fail(errfd, "chdir /");
  mask_paths();
  if (S.readonly)
    must_mount(errfd, NULL, "/", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL, "remount / ro");
}

static void loopback_up(void) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strcpy(ifr.ifr_name, "lo");
  if (ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    ioctl(s, SIOCSIFFLAGS, &ifr);
  }
  close(s);
}

/* ---- the container's first process --------------------------------------------------------- */

/* A minimal init: forwards signals to the command and reaps every orphan until the command ends. */
static void run_init(pid_t main_pid) {
  sigset_t all;
  sigfillset(&all);
  for (;;) {
    siginfo_t si;
    int sig = sigwaitinfo(&all, &si);
    if (sig < 0) continue;
    if (sig != SIGCHLD) { kill(main_pid, sig); continue; }
    int status;
    pid_t p;
    while ((p = waitpid(-1, &status, WNOHANG)) > 0) {
      if (p != main_pid) continue;
      if (WIFEXITED(status)) _exit(WEXITSTATUS(status));
      _exit(128 + WTERMSIG(status));
    }
  }
}

static void child_main(int syncfd, int errfd, int outfd, int errout) {
  if (S.hostname && sethostname(S.hostname, strlen(S.hostname)) != 0) fail(errfd, "sethostname");
  setup_rootfs(errfd);
  if (strcmp(S.netns, "host") != 0) loopback_up();
  /* "go" comes once the monitor has moved us into the cgroup (and Node has plugged the
   * network in): nothing of the image runs outside its limits. */
  char go;
  if (read(syncfd, &go, 1) != 1) _exit(126);
  close(syncfd);
  if (unshare(CLONE_NEWCGROUP) != 0) fail(errfd, "unshare cgroup ns");

  int nul = open("/dev/null", O_RDONLY);
  if (nul < 0 || dup2(nul, 0) < 0 || dup2(outfd, 1) < 0 || dup2(errout, 2) < 0) fail(errfd, "stdio");
  /* Close everything but stdio and the exec-error pipe (close-on-exec). */
  if (fcntl(errfd, F_SETFD, FD_CLOEXEC) != 0) fail(errfd, "cloexec");
  if (errfd > 3 && syscall(SYS_close_range, 3, errfd - 1, 0) != 0) fail(errfd, "close_range");
  if (syscall(SYS_close_range, errfd + 1, ~0U, 0) != 0) fail(errfd, "close_range");

  drop_bounding_set(errfd);
  if (setgroups((size_t)S.ngroups, S.groups) != 0) fail(errfd, "setgroups");
  if (setresgid(S.gid, S.gid, S.gid) != 0) fail(errfd, "setgid");
  if (setresuid(S.uid, S.uid, S.uid) != 0) fail(errfd, "setuid");
  set_caps(errfd, S.uid == 0);
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) fail(errfd, "no_new_privs");
  if (chdir(S.cwd) != 0) fail(errfd, "chdir to working dir");
  S.env[S.nenv] = NULL;
  S.args[S.nargs] = NULL;
  environ = (char **)S.env;

  if (S.init) {
    sigset_t all, none;
    sigfillset(&all);
    sigemptyset(&none);
    sigprocmask(SIG_BLOCK, &all, NULL);
    pid_t p = fork();
    if (p < 0) fail(errfd, "fork init child");
    if (p == 0) {
      sigprocmask(SIG_SETMASK, &none, NULL);
      setsid();
      install_seccomp(errfd);
      execvp(S.args[0], (char *const *)S.args);
      fail(errfd, "exec");
    }
    close(errfd);
    install_seccomp(2);
    run_init(p);
  }
  install_seccomp(errfd);
  execvp(S.args[0], (char *const *)S.args);
  fail(errfd, "exec");
}

/* ---- the monitor --------------------------------------------------------------------------- */

static int log_fd = -1;
static long long log_size;
static char log_path[4096];

static void log_open(void) {
  log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  struct stat st;
  log_size = (log_fd >= 0 && fstat(log_fd, &st) == 0) ? st.st_size : 0;
}

static void log_rotate(void) {
  char from[4200], to[4200];
  close(log_fd);
  for (int i = S.log_files - 1; i >= 1; i--) {
    snprintf(from, sizeof from, "%s.%d", log_path, i);
    snprintf(to, sizeof to, "%s.%d", log_path, i + 1);
    rename(from, to);
  }
  snprintf(to, sizeof to, "%s.1", log_path);
  if (S.log_files >= 1) rename(log_path, to); else unlink(log_path);
  log_open();
}

/* One CRI log line: "<RFC 3339 nano UTC> <stream> <F|P> <text>\n". */
static void log_line(const char *stream, const char *text, size_t n, int full) {
  if (log_fd < 0) return;
  char head[96];
  struct timespec ts;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  int h = snprintf(head, sizeof head, "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ %s %c ",
                   tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                   tm.tm_sec, ts.tv_nsec, stream, full ? 'F' : 'P');
  if (S.log_max > 0 && log_size > 0 && log_size + h + (long long)n + 1 > S.log_max) log_rotate();
  char nl = '\n';
  struct iovec_like { const void *b; size_t n; } parts[3] = { { head, (size_t)h }, { text, n }, { &nl, 1 } };
  for (int i = 0; i < 3; i++) {
    const char *b = parts[i].b;
    size_t left = parts[i].n;
    while (left > 0) {
      ssize_t w = write(log_fd, b, left);
      if (w < 0) { if (errno == EINTR) continue; return; }
      b += w; left -= (size_t)w; log_size += w;
    }
  }
}

struct stream { int fd; const char *name; char buf[LINE_MAX_BYTES]; size_t len; };

/* Reads what is there; returns 0 at EOF. Complete lines go out as F, a full buffer as P. */
static int pump(struct stream *s) {
  ssize_t r = read(s->fd, s->buf + s->len, sizeof s->buf - s->len);
  if (r < 0 && (errno == EINTR || errno == EAGAIN)) return 1;
  if (r <= 0) {
    if (s->len > 0) log_line(s->name, s->buf, s->len, 1);
    s->len = 0;
    return 0;
  }
  s->len += (size_t)r;
  size_t start = 0;
  for (size_t i = 0; i < s->len; i++) {
    if (s->buf[i] != '\n') continue;
    log_line(s->name, s->buf + start, i - start, 1);
    start = i + 1;
  }
  if (start == 0 && s->len == sizeof s->buf) { log_line(s->name, s->buf, s->len, 0); start = s->len; }
  memmove(s->buf, s->buf + start, s->len - start);
  s->len -= start;
  return 1;
}

static void write_exit(int status) {
  char tmp[4200], path[4200], buf[128];
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  int n = snprintf(buf, sizeof buf, "%d %d %lld\n", code, sig,
                   (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
  snprintf(tmp, sizeof tmp, "%s/exit.tmp", state_dir);
  snprintf(path, sizeof path, "%s/exit", state_dir);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return;
  /* No fsync: the file must survive a crash of shoald, not a power loss (no container would). */
  if (write(fd, buf, (size_t)n) != n) { close(fd); return; }
  close(fd);
  rename(tmp, path);
}

static void monitor(pid_t child, int outr, int errr) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  int sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  static struct stream out = { .name = "stdout" }, err = { .name = "stderr" };
  out.fd = outr;
  err.fd = errr;
  int open_streams = 2, exited = 0, status = 0;
  while (!exited || open_streams > 0) {
    struct pollfd p[3] = { { out.fd, POLLIN, 0 }, { err.fd, POLLIN, 0 }, { sfd, POLLIN, 0 } };
    /* Once the first process is gone, the kernel kills the rest of its PID namespace; give
     * the pipes a moment to drain, but never wait forever on a leaked descriptor. */
    int r = poll(p, 3, exited ? 2000 : -1);
    if (r < 0) { if (errno == EINTR) continue; break; }
    if (r == 0) break;
    if (out.fd >= 0 && (p[0].revents & (POLLIN | POLLHUP | POLLERR)) && !pump(&out)) {
      close(out.fd); out.fd = -1; open_streams--;
    }
    if (err.fd >= 0 && (p[1].revents & (POLLIN | POLLHUP | POLLERR)) && !pump(&err)) {
      close(err.fd); err.fd = -1; open_streams--;
    }
    if (p[2].revents & POLLIN) {
      struct signalfd_siginfo si;
      while (read(sfd, &si, sizeof si) == sizeof si) { /* drain */ }
      int st;
      if (!exited && waitpid(child, &st, WNOHANG) == child) { exited = 1; status = st; }
    }
  }
  if (!exited) waitpid(child, &status, 0);
  write_exit(status);
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "serve") == 0) {
    static char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) { perror("readlink /proc/self/exe"); return 1; }
    self[n] = 0;
    return serve(self, argv[2]);
  }
  if (argc != 2) {
    fprintf(stderr, "usage: shoal-shim <state-dir> | shoal-shim serve <socket>\n");
    return 2;
  }
  state_dir = argv[1];
  char path[4200];
  size_t len;
  snprintf(path, sizeof path, "%s/spec", state_dir);
  char *spec = read_file(path, &len);
  if (spec == NULL || parse_spec(spec, len) != 0) {
    printf("err bad spec %s\n", path);
    return 2;
  }
  snprintf(log_path, sizeof log_path, "%s/container.log", state_dir);
  log_open();

  int out[2], errp[2], sync[2], ex[2];
  if (pipe2(out, O_CLOEXEC) || pipe2(errp, O_CLOEXEC) || pipe2(sync, O_CLOEXEC) || pipe2(ex, O_CLOEXEC))
    fail(1, "pipe");
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  sigprocmask(SIG_BLOCK, &set, NULL);

  unsigned long flags = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC;
  if (strcmp(S.netns, "host") != 0) flags |= CLONE_NEWNET;
  pid_t child = -1;
  static char into_procs[4200];
  if (S.cgroup_into != NULL) {
    /* cgroup v2: born in its cgroup, so no migration (and no RCU grace period) at all. */
    int cgfd = open(S.cgroup_into, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (cgfd >= 0) {
      struct shim_clone_args a;
      memset(&a, 0, sizeof a);
      a.flags = flags | SHIM_CLONE_INTO_CGROUP;
      a.exit_signal = SIGCHLD;
      a.cgroup = (uint64_t)cgfd;
      child = (pid_t)syscall(SYS_clone3, &a, sizeof a);
      close(cgfd);
    }
    if (child < 0) { /* old kernel or not allowed: join by writing, below */
      snprintf(into_procs, sizeof into_procs, "%s/cgroup.procs", S.cgroup_into);
      if (S.ncgroups < 16) S.cgroups[S.ncgroups++] = into_procs;
    }
  }
  /* Raw clone without a stack behaves like fork: the child continues right here. */
  if (child < 0) child = (pid_t)syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, 0);
  if (child < 0) fail(1, "clone");
  if (child == 0) {
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    close(sync[1]); close(ex[0]); close(out[0]); close(errp[0]);
    child_main(sync[0], ex[1], out[1], errp[1]);
  }
  close(sync[0]); close(ex[1]); close(out[1]); close(errp[1]);

  char msg[128];
  int n = snprintf(msg, sizeof msg, "pid %d %d\n", child, getpid());
  if (write(1, msg, (size_t)n) != n) { kill(child, SIGKILL); return 1; }
  /* Moving a task between v1 cgroups waits for an RCU grace period per hierarchy (ms each):
   * we do it here, while the child builds its root filesystem, not in the child before. */
  char pidstr[32];
  snprintf(pidstr, sizeof pidstr, "%d", child);
  for (int i = 0; i < S.ncgroups; i++) {
    int fd = open(S.cgroups[i], O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, pidstr, strlen(pidstr)) < 0) {
      int e = errno;
      kill(child, SIGKILL);
      waitpid(child, NULL, 0);
      n = snprintf(msg, sizeof msg, "err join cgroup %s: %s\n", S.cgroups[i], strerror(e));
      if (write(1, msg, (size_t)n) < 0) { /* Node is gone */ }
      return 1;
    }
    close(fd);
  }
  char go;
  if (read(0, &go, 1) != 1) { kill(child, SIGKILL); waitpid(child, NULL, 0); return 1; }
  if (write(sync[1], "g", 1) != 1) { /* the child died; its error comes on ex */ }
  close(sync[1]);
  /* EOF on the exec-error pipe means the exec succeeded (the pipe is close-on-exec). */
  char why[512];
  ssize_t r;
  do r = read(ex[0], why, sizeof why - 1); while (r < 0 && errno == EINTR);
  close(ex[0]);
  if (r > 0) {
    why[r] = 0;
    if (write(1, why, (size_t)r) < 0) { /* Node is gone; the exit file still tells */ }
  } else if (write(1, "ok\n", 3) < 0) { /* as above */ }
  /* Keep our stdout (Node's pipe or socket) open but silent: Node learns that the container
   * is over when it reads EOF there, which happens when we exit, after the exit file is
   * written. If Node goes away first nothing is ever written to it, so no SIGPIPE. */
  int keep = fcntl(1, F_DUPFD_CLOEXEC, 3);
  (void)keep;
  int nul = open("/dev/null", O_RDWR);
  dup2(nul, 0); dup2(nul, 1); dup2(nul, 2);
  if (nul > 2) close(nul);
  monitor(child, out[0], errp[0]);
  return 0;
}

/* ---- the per-node server ------------------------------------------------------------------- */

/*
 * shoal-shim serve <socket>: a long-lived process that starts monitors for Node. Forking and
 * exec'ing this small static binary costs a fraction of Node's spawn of the same (which must
 * copy the page tables of a big heap), and the server outlives restarts of the daemon. Each
 * connection carries one start: "<state-dir>\n", then the usual handshake on the same socket,
 * which the monitor keeps open until it exits.
 */
static int serve(const char *self, const char *sock_path) {
  struct sockaddr_un addr;
  if (strlen(sock_path) >= sizeof addr.sun_path) { fprintf(stderr, "socket path too long\n"); return 2; }
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  strcpy(addr.sun_path, sock_path);
  int ls = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  unlink(sock_path);
  if (ls < 0 || bind(ls, (struct sockaddr *)&addr, sizeof addr) != 0 || chmod(sock_path, 0600) != 0 || listen(ls, 256) != 0) {
    perror("shoal-shim serve");
    return 1;
  }
  signal(SIGCHLD, SIG_IGN); /* monitors are reaped by the kernel */
  signal(SIGPIPE, SIG_IGN);
  if (write(1, "ready\n", 6) < 0) { /* started without a pipe: fine */ }
  int nul = open("/dev/null", O_RDWR);
  dup2(nul, 0); dup2(nul, 1); dup2(nul, 2);
  for (;;) {
    int c = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
    if (c < 0) continue;
    char dir[4097];
    size_t n = 0;
    /* Node sends the line and then waits for our answer, so nothing follows it: read freely. */
    while (n < sizeof dir - 1 && (n == 0 || dir[n - 1] != '\n')) {
      ssize_t r = read(c, dir + n, sizeof dir - 1 - n);
      if (r <= 0) break;
      n += (size_t)r;
    }
    if (n > 0 && dir[n - 1] == '\n') n--;
    else n = 0;
    dir[n] = 0;
    if (n == 0 || dir[0] != '/') { close(c); continue; }
    pid_t p = fork();
    if (p == 0) {
      signal(SIGCHLD, SIG_DFL);
      signal(SIGPIPE, SIG_DFL);
      setsid();
      dup2(c, 0);
      dup2(c, 1);
      char *args[] = { (char *)self, dir, NULL };
      execv(self, args);
      _exit(127);
    }
    close(c);
  }
}
