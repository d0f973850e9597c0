/* path_escape: the WASI host must keep every path inside its preopened directory.
 *
 * Run it with a preopen named "/" (or the guest name given as argv[1]) mapped to a
 * writable, otherwise empty scratch directory, e.g. `runwasi run --dir /tmp/s::/ path_escape.wasm`.
 * It talks to the host with raw WASI calls (path_open, path_symlink, path_rename,
 * path_link) on the preopen's fd, so wasi-libc's own path handling cannot hide anything.
 *
 * First, controls that a correct host must allow (so "blocked" below cannot just mean
 * "everything fails"): open a file it created, "pe_sub/../pe_inside.txt", and a symlink
 * to a file inside the sandbox. Each prints "control <name>: ok" or
 * "control <name>: FAILED (<errno>)".
 * Then the escape attempts, each printing "attempt <name>: blocked (<errno>)" or
 * "attempt <name>: ESCAPED" (the operation succeeded):
 *   dotdot            open ".." as a directory (opening the preopen itself again counts as
 *                     contained: hosts may clamp ".." at the root like chroot does)
 *   dotdot_file       open "../../../../../../../../etc/passwd"
 *   absolute          open "/etc/passwd" relative to the preopen fd
 *   inner_dotdot      open "pe_sub/../../../../../../../../etc/passwd"
 *   subdir_fd_dotdot  open "pe_sub" as a dir fd, then "../../../../../../../../etc/passwd" from it
 *   create_outside    create "../pe_created_outside" (O_CREAT|O_EXCL)
 *   abs_symlink       symlink pe_abs_link -> "/etc/passwd", open it (following)
 *   rel_symlink       symlink pe_rel_link -> "../../../../../../../../etc/passwd", open it
 *   abs_dir_symlink   symlink pe_abs_dir -> "/etc", open "pe_abs_dir/passwd"
 *   rel_dir_symlink   symlink pe_up -> "../../../../../../../../etc", open "pe_up/passwd"
 *   create_via_symlink  symlink pe_parent -> "..", create "pe_parent/pe_created_via_link"
 *   symlink_loop      pe_loop_a -> pe_loop_b -> pe_loop_a, open pe_loop_a (ELOOP expected)
 *   long_name         create a file whose name is 1000 bytes (ENAMETOOLONG expected)
 *   long_path         open "./" x 3000 + "../../../../../../../../etc/passwd" (> PATH_MAX)
 *   rename_outside    rename a sandbox file to "../pe_moved_outside"
 *   link_outside      hard-link a sandbox file to "../pe_linked_outside"
 * Creating a symlink whose target points outside may itself be refused; that counts as
 * blocked. A create/rename/link "outside" that succeeds but whose result shows up inside
 * the sandbox root (the host clamped ".." at the root) prints
 * "attempt <name>: blocked (clamped to the sandbox root)". Opens use the rights wasi-libc
 * would ask for (read-only unless creating), so a refusal is about the path, not rights.
 * Correct runtime: all controls ok, every attempt blocked, stderr empty, exit 0.
 * Any ESCAPED or FAILED: exit 1. No matching preopen: message on stderr, exit 2.
 * It removes the pe_* entries it created (before and after), so it can be rerun.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wasi/api.h>

/* WASI errno names, indexed by __wasi_errno_t. */
static const char *const kErrnoNames[] = {
    "SUCCESS", "E2BIG", "EACCES", "EADDRINUSE", "EADDRNOTAVAIL", "EAFNOSUPPORT", "EAGAIN",
    "EALREADY", "EBADF", "EBADMSG", "EBUSY", "ECANCELED", "ECHILD", "ECONNABORTED",
    "ECONNREFUSED", "ECONNRESET", "EDEADLK", "EDESTADDRREQ", "EDOM", "EDQUOT", "EEXIST",
    "EFAULT", "EFBIG", "EHOSTUNREACH", "EIDRM", "EILSEQ", "EINPROGRESS", "EINTR", "EINVAL",
    "EIO", "EISCONN", "EISDIR", "ELOOP", "EMFILE", "EMLINK", "EMSGSIZE", "EMULTIHOP",
    "ENAMETOOLONG", "ENETDOWN", "ENETRESET", "ENETUNREACH", "ENFILE", "ENOBUFS", "ENODEV",
    "ENOENT", "ENOEXEC", "ENOLCK", "ENOLINK", "ENOMEM", "ENOMSG", "ENOPROTOOPT", "ENOSPC",
    "ENOSYS", "ENOTCONN", "ENOTDIR", "ENOTEMPTY", "ENOTRECOVERABLE", "ENOTSOCK", "ENOTSUP",
    "ENOTTY", "ENXIO", "EOVERFLOW", "EOWNERDEAD", "EPERM", "EPIPE", "EPROTO",
    "EPROTONOSUPPORT", "EPROTOTYPE", "ERANGE", "EROFS", "ESPIPE", "ESRCH", "ESTALE",
    "ETIMEDOUT", "ETXTBSY", "EXDEV", "ENOTCAPABLE",
};

static const char *errno_name(__wasi_errno_t e) {
  static char unknown[32];
  if (e < sizeof kErrnoNames / sizeof kErrnoNames[0]) return kErrnoNames[e];
  snprintf(unknown, sizeof unknown, "errno %u", (unsigned)e);
  return unknown;
}

static __wasi_fd_t root;       /* the preopen under test */
static __wasi_rights_t rights; /* what the preopen lets us hand to opened fds */
static int failures;

/* Opens like wasi-libc's open(): read rights always, write rights only when creating. */
static __wasi_errno_t open_at(__wasi_fd_t dir, const char *path, __wasi_oflags_t oflags,
                              __wasi_fd_t *out) {
  const __wasi_rights_t write = __WASI_RIGHTS_FD_DATASYNC | __WASI_RIGHTS_FD_WRITE |
                                __WASI_RIGHTS_FD_ALLOCATE | __WASI_RIGHTS_FD_FILESTAT_SET_SIZE;
  __wasi_rights_t base = rights & ~write;
  if (oflags & __WASI_OFLAGS_CREAT) base = rights;
  return __wasi_path_open(dir, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, path, oflags, base, rights, 0,
                          out);
}

/* Opens path (following symlinks) and closes it again; returns the errno. */
static __wasi_errno_t try_open(const char *path, __wasi_oflags_t oflags) {
  __wasi_fd_t fd;
  __wasi_errno_t e = open_at(root, path, oflags, &fd);
  if (e == 0) (void)__wasi_fd_close(fd);
  return e;
}

/* True if name exists directly in the sandbox root (without following symlinks). */
static int inside(const char *name) {
  __wasi_filestat_t st;
  return __wasi_path_filestat_get(root, 0, name, &st) == 0;
}

static void control(const char *name, __wasi_errno_t e) {
  if (e == 0) {
    printf("control %s: ok\n", name);
  } else {
    printf("control %s: FAILED (%s)\n", name, errno_name(e));
    failures++;
  }
}

static void attempt(const char *name, __wasi_errno_t e) {
  if (e == 0) {
    printf("attempt %s: ESCAPED\n", name);
    failures++;
  } else {
    printf("attempt %s: blocked (%s)\n", name, errno_name(e));
  }
}

/* An attempt that made `made` (a name meant to land outside); where it really landed
 * decides: in the sandbox root means the host clamped "..", anywhere else is an escape.
 */
static void attempt_make(const char *name, __wasi_errno_t e, const char *made) {
  if (e == 0 && inside(made)) {
    printf("attempt %s: blocked (clamped to the sandbox root)\n", name);
    return;
  }
  attempt(name, e);
}

/* An escape through a symlink: creating the link may be refused (blocked), else open it. */
static void attempt_symlink(const char *name, const char *target, const char *link,
                            const char *open_path) {
  __wasi_errno_t e = __wasi_path_symlink(target, root, link);
  if (e == 0) e = try_open(open_path, 0);
  attempt(name, e);
}

static const char *const kCreated[] = {
    "pe_inside.txt", "pe_move.txt", "pe_link_in", "pe_abs_link", "pe_rel_link",
    "pe_abs_dir",    "pe_up",       "pe_loop_a",  "pe_loop_b",   "pe_parent",
    /* what a host that clamps ".." at the root leaves inside */
    "pe_created_outside", "pe_created_via_link", "pe_moved_outside", "pe_linked_outside",
};

static void cleanup(void) {
  for (size_t i = 0; i < sizeof kCreated / sizeof kCreated[0]; i++)
    (void)__wasi_path_unlink_file(root, kCreated[i]);
  (void)__wasi_path_remove_directory(root, "pe_sub");
}

static int find_preopen(const char *want) {
  for (__wasi_fd_t fd = 3; fd < 1024; fd++) {
    __wasi_prestat_t st;
    if (__wasi_fd_prestat_get(fd, &st) != 0) break; /* EBADF ends the preopen list */
    if (st.tag != __WASI_PREOPENTYPE_DIR) continue;
    size_t len = st.u.dir.pr_name_len;
    char name[256];
    if (len >= sizeof name || __wasi_fd_prestat_dir_name(fd, (uint8_t *)name, len) != 0)
      continue;
    name[len] = '\0';
    if (strcmp(name, want) == 0) return (int)fd;
  }
  return -1;
}

static __wasi_errno_t create_file(const char *path, const char *content) {
  __wasi_fd_t fd;
  __wasi_errno_t e = open_at(root, path, __WASI_OFLAGS_CREAT | __WASI_OFLAGS_TRUNC, &fd);
  if (e != 0) return e;
  __wasi_ciovec_t iov = {(const uint8_t *)content, strlen(content)};
  __wasi_size_t written;
  e = __wasi_fd_write(fd, &iov, 1, &written);
  (void)__wasi_fd_close(fd);
  return e;
}

int main(int argc, char **argv) {
  const char *want = argc > 1 ? argv[1] : "/";
  int fd = find_preopen(want);
  if (fd < 0) {
    fprintf(stderr, "path_escape: no preopened directory named \"%s\"\n", want);
    return 2;
  }
  root = (__wasi_fd_t)fd;
  __wasi_fdstat_t st;
  if (__wasi_fd_fdstat_get(root, &st) != 0) {
    fprintf(stderr, "path_escape: fd_fdstat_get on the preopen failed\n");
    return 2;
  }
  rights = st.fs_rights_inheriting;
  cleanup();

  /* Controls: legitimate operations inside the sandbox. */
  control("create_inside", create_file("pe_inside.txt", "inside\n"));
  control("mkdir_inside", __wasi_path_create_directory(root, "pe_sub"));
  control("open_inside", try_open("pe_inside.txt", 0));
  control("dotdot_inside", try_open("pe_sub/../pe_inside.txt", 0));
  __wasi_errno_t e = __wasi_path_symlink("pe_inside.txt", root, "pe_link_in");
  control("symlink_inside", e ? e : try_open("pe_link_in", 0));

  /* Escape attempts. */
  __wasi_fd_t up;
  e = open_at(root, "..", __WASI_OFLAGS_DIRECTORY, &up);
  if (e == 0) {
    __wasi_filestat_t a, b;
    int same = __wasi_fd_filestat_get(root, &a) == 0 && __wasi_fd_filestat_get(up, &b) == 0 &&
               a.dev == b.dev && a.ino == b.ino;
    (void)__wasi_fd_close(up);
    if (same) printf("attempt dotdot: blocked (clamped to the sandbox root)\n");
    else attempt("dotdot", e);
  } else {
    attempt("dotdot", e);
  }
  attempt("dotdot_file", try_open("../../../../../../../../etc/passwd", 0));
  attempt("absolute", try_open("/etc/passwd", 0));
  attempt("inner_dotdot", try_open("pe_sub/../../../../../../../../etc/passwd", 0));

  __wasi_fd_t sub;
  e = open_at(root, "pe_sub", __WASI_OFLAGS_DIRECTORY, &sub);
  if (e == 0) {
    __wasi_fd_t out;
    e = open_at(sub, "../../../../../../../../etc/passwd", 0, &out);
    if (e == 0) (void)__wasi_fd_close(out);
    (void)__wasi_fd_close(sub);
    attempt("subdir_fd_dotdot", e);
  } else {
    control("open_subdir", e);
  }

  e = try_open("../pe_created_outside", __WASI_OFLAGS_CREAT | __WASI_OFLAGS_EXCL);
  attempt_make("create_outside", e, "pe_created_outside");
  if (e == 0) (void)__wasi_path_unlink_file(root, "../pe_created_outside");

  attempt_symlink("abs_symlink", "/etc/passwd", "pe_abs_link", "pe_abs_link");
  attempt_symlink("rel_symlink", "../../../../../../../../etc/passwd", "pe_rel_link",
                  "pe_rel_link");
  attempt_symlink("abs_dir_symlink", "/etc", "pe_abs_dir", "pe_abs_dir/passwd");
  attempt_symlink("rel_dir_symlink", "../../../../../../../../etc", "pe_up", "pe_up/passwd");
  e = __wasi_path_symlink("..", root, "pe_parent");
  if (e == 0) {
    e = try_open("pe_parent/pe_created_via_link", __WASI_OFLAGS_CREAT | __WASI_OFLAGS_EXCL);
    attempt_make("create_via_symlink", e, "pe_created_via_link");
    if (e == 0) (void)__wasi_path_unlink_file(root, "pe_parent/pe_created_via_link");
  } else {
    attempt("create_via_symlink", e);
  }

  e = __wasi_path_symlink("pe_loop_b", root, "pe_loop_a");
  if (e == 0) e = __wasi_path_symlink("pe_loop_a", root, "pe_loop_b");
  if (e == 0) e = try_open("pe_loop_a", 0);
  attempt("symlink_loop", e);

  char long_name[1001];
  memset(long_name, 'n', 1000);
  long_name[1000] = '\0';
  e = try_open(long_name, __WASI_OFLAGS_CREAT);
  if (e == 0) (void)__wasi_path_unlink_file(root, long_name);
  attempt("long_name", e);

  static const char kTail[] = "../../../../../../../../etc/passwd";
  char *long_path = malloc(6000 + sizeof kTail);
  for (int i = 0; i < 3000; i++) memcpy(long_path + 2 * i, "./", 2);
  memcpy(long_path + 6000, kTail, sizeof kTail);
  attempt("long_path", try_open(long_path, 0));
  free(long_path);

  e = create_file("pe_move.txt", "move me\n");
  if (e == 0) {
    e = __wasi_path_rename(root, "pe_move.txt", root, "../pe_moved_outside");
    attempt_make("rename_outside", e, "pe_moved_outside");
    if (e == 0) (void)__wasi_path_rename(root, "../pe_moved_outside", root, "pe_move.txt");
  } else {
    control("create_inside_2", e);
  }

  e = __wasi_path_link(root, 0, "pe_inside.txt", root, "../pe_linked_outside");
  attempt_make("link_outside", e, "pe_linked_outside");
  if (e == 0) (void)__wasi_path_unlink_file(root, "../pe_linked_outside");

  cleanup();
  return failures == 0 ? 0 : 1;
}
