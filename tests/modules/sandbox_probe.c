/* sandbox_probe: reports what a container sees from inside; one source built twice, as
 * sandbox_probe.wasm (wasm32-wasi) and as the static native executable sandbox_probe.
 *
 * Without arguments it prints a report, one "key: value" line per fact, read through
 * ordinary libc calls (in Wasm, absolute paths resolve through the "/" preopen, which is
 * the container's root):
 *   pid: N                        readlink /proc/self
 *   hostname: NAME                /proc/sys/kernel/hostname
 *   uid, gid, groups, umask, CapInh, CapPrm, CapEff, CapBnd, CapAmb, NoNewPrivs, Seccomp,
 *   Seccomp_filters:              that line of /proc/self/status (tabs become spaces)
 *   ns NAME: TARGET               readlink /proc/self/ns/NAME for pid mnt net ipc uts cgroup
 *   cgroup: LINE                  every line of /proc/self/cgroup
 *   mount: POINT FSTYPE           every line of /proc/self/mountinfo
 *   dev: NAME TYPE [-> TARGET]    every entry of /dev but . and ..; TYPE is chr, blk, dir,
 *                                 lnk, reg, fifo, sock or unknown; links show their target
 *   env: K=V                      every environ entry, in order
 *   rlimit NOFILE: SOFT HARD      the "Max open files" line of /proc/self/limits
 *   preopen: FD NAME              Wasm only: each preopened directory, fd 3 on until EBADF
 * A fact it cannot read prints "KEY: error <strerror>" and the report goes on; exit 0.
 *
 * With arguments it performs one action instead:
 *   write PATH   create or truncate PATH, write a line, read it back:
 *                "write PATH: ok" / exit 0, or "write PATH: <strerror>" / exit 1
 *   read PATH    "read PATH: <first line>" / exit 0, or "read PATH: <strerror>" / exit 1
 *   alloc MIB    malloc MIB 1 MiB blocks, writing every byte: "alloc: ok" / exit 0, or
 *                "alloc: failed after N MiB" / exit 1 (a memory limit may kill it first)
 *   fork N       native only: fork N children that wait in pause(), then print
 *                "fork: K of N ok" and "fork error: <strerror of the first failure>"
 *                (or "fork error: none"), SIGKILL and reap the children; exit 0.
 *                In Wasm: "fork: not supported" / exit 1.
 *   tty          "tty: FD yes|no" for fds 0, 1 and 2 (isatty); native also prints
 *                "ttyname: PATH" (or "ttyname: error <strerror>") and "winsize: ROWS COLS"
 *                of fd 0 (TIOCGWINSZ); exit 0.
 * A bad command line prints usage on stderr and exits 2.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __wasi__
#include <wasi/api.h>
#else
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#endif

extern char **environ;

/* Reads PATH whole into buf (NUL-terminated, truncated to size - 1); -1 with errno set. */
static long read_file(const char *path, char *buf, size_t size) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) return -1;
  size_t n = 0;
  while (n + 1 < size) {
    ssize_t r = read(fd, buf + n, size - 1 - n);
    if (r < 0) {
      int e = errno;
      close(fd);
      errno = e;
      return -1;
    }
    if (r == 0) break;
    n += (size_t)r;
  }
  close(fd);
  buf[n] = '\0';
  return (long)n;
}

static void print_error(const char *key) { printf("%s: error %s\n", key, strerror(errno)); }

static void print_link(const char *key, const char *path) {
  char target[PATH_MAX];
  ssize_t n = readlink(path, target, sizeof target - 1);
  if (n < 0) {
    print_error(key);
    return;
  }
  target[n] = '\0';
  printf("%s: %s\n", key, target);
}

static void print_hostname(void) {
  char buf[256];
  if (read_file("/proc/sys/kernel/hostname", buf, sizeof buf) < 0) {
    print_error("hostname");
    return;
  }
  buf[strcspn(buf, "\n")] = '\0';
  printf("hostname: %s\n", buf);
}

/* Lines of /proc/self/status to report, under the key given here. */
static const struct {
  const char *field;
  const char *key;
} kStatusFields[] = {
    {"Uid", "uid"},       {"Gid", "gid"},       {"Groups", "groups"},
    {"Umask", "umask"},   {"CapInh", "CapInh"}, {"CapPrm", "CapPrm"},
    {"CapEff", "CapEff"}, {"CapBnd", "CapBnd"}, {"CapAmb", "CapAmb"},
    {"NoNewPrivs", "NoNewPrivs"}, {"Seccomp", "Seccomp"},
    {"Seccomp_filters", "Seccomp_filters"},
};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static void print_status(void) {
  static char buf[16384];
  size_t i;
  if (read_file("/proc/self/status", buf, sizeof buf) < 0) {
    for (i = 0; i < COUNT(kStatusFields); i++) print_error(kStatusFields[i].key);
    return;
  }
  for (i = 0; i < COUNT(kStatusFields); i++) {
    size_t len = strlen(kStatusFields[i].field);
    const char *line = buf;
    const char *found = NULL;
    while (*line) {
      if (strncmp(line, kStatusFields[i].field, len) == 0 && line[len] == ':') {
        found = line + len + 1;
        break;
      }
      const char *nl = strchr(line, '\n');
      if (!nl) break;
      line = nl + 1;
    }
    if (!found) {
      printf("%s: error not in /proc/self/status\n", kStatusFields[i].key);
      continue;
    }
    /* The value with its tabs as single spaces, without the leading one. */
    while (*found == '\t' || *found == ' ') found++;
    printf("%s: ", kStatusFields[i].key);
    for (; *found && *found != '\n'; found++) putchar(*found == '\t' ? ' ' : *found);
    putchar('\n');
  }
}

static const char *const kNamespaces[] = {"pid", "mnt", "net", "ipc", "uts", "cgroup"};

static void print_namespaces(void) {
  for (size_t i = 0; i < COUNT(kNamespaces); i++) {
    char path[64], key[32];
    snprintf(path, sizeof path, "/proc/self/ns/%s", kNamespaces[i]);
    snprintf(key, sizeof key, "ns %s", kNamespaces[i]);
    print_link(key, path);
  }
}

/* Calls each(line) for every line of PATH; 0, or -1 with errno set. */
static int each_line(const char *path, void (*each)(char *line)) {
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  char line[4096];
  while (fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = '\0';
    each(line);
  }
  fclose(f);
  return 0;
}

static void cgroup_line(char *line) { printf("cgroup: %s\n", line); }

/* mountinfo: ID PARENT MAJ:MIN ROOT POINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER */
static void mount_line(char *line) {
  char *point = NULL, *save = NULL, *field;
  int i = 0;
  for (field = strtok_r(line, " ", &save); field; field = strtok_r(NULL, " ", &save)) {
    if (++i == 5) point = field;
    if (i > 6 && strcmp(field, "-") == 0) {
      char *fstype = strtok_r(NULL, " ", &save);
      printf("mount: %s %s\n", point, fstype ? fstype : "?");
      return;
    }
  }
  printf("mount: %s ?\n", point ? point : "?");
}

static const char *type_name(mode_t mode) {
  if (S_ISCHR(mode)) return "chr";
  if (S_ISBLK(mode)) return "blk";
  if (S_ISDIR(mode)) return "dir";
  if (S_ISLNK(mode)) return "lnk";
  if (S_ISREG(mode)) return "reg";
  if (S_ISFIFO(mode)) return "fifo";
  if (S_ISSOCK(mode)) return "sock";
  return "unknown";
}

static void print_dev(void) {
  DIR *d = opendir("/dev");
  if (!d) {
    print_error("dev");
    return;
  }
  struct dirent *e;
  while ((e = readdir(d))) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    char path[PATH_MAX];
    struct stat st;
    snprintf(path, sizeof path, "/dev/%s", e->d_name);
    if (lstat(path, &st) != 0) {
      printf("dev: %s error %s\n", e->d_name, strerror(errno));
      continue;
    }
    if (S_ISLNK(st.st_mode)) {
      char target[PATH_MAX];
      ssize_t n = readlink(path, target, sizeof target - 1);
      target[n < 0 ? 0 : n] = '\0';
      printf("dev: %s lnk -> %s\n", e->d_name, target);
    } else {
      printf("dev: %s %s\n", e->d_name, type_name(st.st_mode));
    }
  }
  closedir(d);
}

static void limits_line(char *line) {
  static const char kPrefix[] = "Max open files";
  if (strncmp(line, kPrefix, sizeof kPrefix - 1) != 0) return;
  char soft[32], hard[32];
  if (sscanf(line + sizeof kPrefix - 1, "%31s %31s", soft, hard) == 2)
    printf("rlimit NOFILE: %s %s\n", soft, hard);
  else
    printf("rlimit NOFILE: error cannot parse '%s'\n", line);
}

#ifdef __wasi__
static void print_preopens(void) {
  for (__wasi_fd_t fd = 3;; fd++) {
    __wasi_prestat_t st;
    __wasi_errno_t e = __wasi_fd_prestat_get(fd, &st);
    if (e == __WASI_ERRNO_BADF) return;
    if (e != 0) {
      printf("preopen: %u error %s\n", (unsigned)fd, strerror(e));
      continue;
    }
    if (st.tag != __WASI_PREOPENTYPE_DIR) continue;
    char name[PATH_MAX];
    size_t len = st.u.dir.pr_name_len;
    if (len >= sizeof name) {
      printf("preopen: %u error name of %zu bytes\n", (unsigned)fd, len);
      continue;
    }
    e = __wasi_fd_prestat_dir_name(fd, (uint8_t *)name, len);
    if (e != 0) {
      printf("preopen: %u error %s\n", (unsigned)fd, strerror(e));
      continue;
    }
    name[len] = '\0';
    printf("preopen: %u %s\n", (unsigned)fd, name);
  }
}
#endif

static int report(void) {
  print_link("pid", "/proc/self");
  print_hostname();
  print_status();
  print_namespaces();
  if (each_line("/proc/self/cgroup", cgroup_line) != 0) print_error("cgroup");
  if (each_line("/proc/self/mountinfo", mount_line) != 0) print_error("mount");
  print_dev();
  for (char **e = environ; e && *e; e++) printf("env: %s\n", *e);
  if (each_line("/proc/self/limits", limits_line) != 0) print_error("rlimit NOFILE");
#ifdef __wasi__
  print_preopens();
#endif
  return 0;
}

static int do_write(const char *path) {
  static const char kLine[] = "written by sandbox_probe\n";
  char back[sizeof kLine + 8];
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0 || write(fd, kLine, sizeof kLine - 1) != (ssize_t)(sizeof kLine - 1) ||
      close(fd) != 0) {
    printf("write %s: %s\n", path, strerror(errno));
    return 1;
  }
  long n = read_file(path, back, sizeof back);
  if (n < 0) {
    printf("write %s: %s\n", path, strerror(errno));
    return 1;
  }
  if (strcmp(back, kLine) != 0) {
    printf("write %s: read back %ld different bytes\n", path, n);
    return 1;
  }
  printf("write %s: ok\n", path);
  return 0;
}

static int do_read(const char *path) {
  char buf[4096];
  if (read_file(path, buf, sizeof buf) < 0) {
    printf("read %s: %s\n", path, strerror(errno));
    return 1;
  }
  buf[strcspn(buf, "\n")] = '\0';
  printf("read %s: %s\n", path, buf);
  return 0;
}

/* Each block escapes through it, so the compiler cannot drop the allocation. */
static void *volatile g_last_block;

/* Blocks stay allocated until exit: the point is to hold MIB MiB at once. */
static int do_alloc(long mib) {
  enum { kBlock = 1024 * 1024 };
  for (long i = 0; i < mib; i++) {
    char *block = malloc(kBlock);
    if (!block) {
      printf("alloc: failed after %ld MiB\n", i);
      return 1;
    }
    memset(block, (int)(i & 0x7f) + 1, kBlock);
    g_last_block = block;
  }
  printf("alloc: ok\n");
  fflush(stdout);
  return 0;
}

static int do_fork(long n) {
#ifdef __wasi__
  (void)n;
  printf("fork: not supported\n");
  return 1;
#else
  pid_t *children = calloc((size_t)n, sizeof *children);
  long ok = 0;
  int first_errno = 0;
  if (!children) {
    printf("fork: %s\n", strerror(errno));
    return 1;
  }
  fflush(stdout);
  for (long i = 0; i < n; i++) {
    pid_t pid = fork();
    if (pid == 0) {
      for (;;) pause();
    }
    if (pid < 0) {
      if (!first_errno) first_errno = errno;
      continue;
    }
    children[ok++] = pid;
  }
  printf("fork: %ld of %ld ok\n", ok, n);
  printf("fork error: %s\n", first_errno ? strerror(first_errno) : "none");
  for (long i = 0; i < ok; i++) kill(children[i], SIGKILL);
  for (long i = 0; i < ok; i++) waitpid(children[i], NULL, 0);
  free(children);
  return 0;
#endif
}

static int do_tty(void) {
  for (int fd = 0; fd <= 2; fd++) printf("tty: %d %s\n", fd, isatty(fd) ? "yes" : "no");
#ifndef __wasi__
  const char *name = ttyname(0);
  if (name) {
    printf("ttyname: %s\n", name);
  } else {
    printf("ttyname: error %s\n", strerror(errno));
  }
  struct winsize ws;
  if (ioctl(0, TIOCGWINSZ, &ws) == 0) printf("winsize: %u %u\n", ws.ws_row, ws.ws_col);
#endif
  return 0;
}

/* A positive decimal count, or -1. */
static long count(const char *s) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  return (*s == '\0' || *end != '\0' || errno != 0 || v <= 0 || v > 1000000) ? -1 : v;
}

static int usage(void) {
  fprintf(stderr,
          "usage: sandbox_probe [write PATH | read PATH | alloc MIB | fork N | tty]\n"
          "  (no arguments: report what the container sees)\n");
  return 2;
}

int main(int argc, char **argv) {
  if (argc == 1) return report();
  if (argc == 2 && strcmp(argv[1], "tty") == 0) return do_tty();
  if (argc != 3) return usage();
  const char *action = argv[1], *arg = argv[2];
  if (strcmp(action, "write") == 0) return do_write(arg);
  if (strcmp(action, "read") == 0) return do_read(arg);
  long n = count(arg);
  if (n < 0) return usage();
  if (strcmp(action, "alloc") == 0) return do_alloc(n);
  if (strcmp(action, "fork") == 0) return do_fork(n);
  return usage();
}
