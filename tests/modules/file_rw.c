/* file_rw: file I/O through a preopened directory (path_open, fd_write, fd_read, fd_seek,
 * fd_readdir, fd_close). Guest paths are resolved by wasi-libc against the preopens, so run
 * it with e.g. `--dir /tmp/x::/data` and pass guest paths such as /data/out.txt.
 *
 * Argument protocol (argv[0] is the program name):
 *   file_rw PATH CONTENT     create or truncate PATH, write CONTENT, close it, open it
 *                            again, read it all back and compare.
 *                            Correct runtime: stdout "CONTENT\n" (the bytes read back plus
 *                            a newline), stderr empty, exit 0; the host file holds exactly
 *                            CONTENT (no newline).
 *   file_rw --read PATH      print the content of an existing file verbatim (nothing added).
 *                            Correct runtime: stdout = the file's bytes, exit 0.
 *   file_rw --list DIR       print the names in DIR except "." and "..", sorted bytewise,
 *                            one per line. Correct runtime: those lines, exit 0.
 * Errors: "file_rw: <what> <path>: <strerror>" or "file_rw: mismatch: ..." on stderr and
 * exit 1 (e.g. --read of a missing file, or writing into a read-only or absent preopen).
 * A bad command line prints usage to stderr and exits 2.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int fail(const char *what, const char *path) {
  fprintf(stderr, "file_rw: %s %s: %s\n", what, path, strerror(errno));
  return 1;
}

/* Reads the whole of fd into a malloc'd buffer; returns its length or -1. */
static long read_all(int fd, char **out) {
  size_t cap = 4096, len = 0;
  char *buf = malloc(cap);
  for (;;) {
    if (len == cap) buf = realloc(buf, cap *= 2);
    ssize_t n = read(fd, buf + len, cap - len);
    if (n < 0) {
      free(buf);
      return -1;
    }
    if (n == 0) break;
    len += (size_t)n;
  }
  *out = buf;
  return (long)len;
}

static int write_all(int fd, const char *data, size_t len) {
  for (size_t off = 0; off < len;) {
    ssize_t w = write(fd, data + off, len - off);
    if (w <= 0) return -1;
    off += (size_t)w;
  }
  return 0;
}

static int write_and_verify(const char *path, const char *content) {
  size_t len = strlen(content);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return fail("open for writing", path);
  if (write_all(fd, content, len) != 0) return fail("write", path);
  if (close(fd) != 0) return fail("close", path);

  fd = open(path, O_RDONLY);
  if (fd < 0) return fail("open for reading", path);
  char *back;
  long n = read_all(fd, &back);
  if (n < 0) return fail("read", path);
  close(fd);
  if ((size_t)n != len || memcmp(back, content, len) != 0) {
    fprintf(stderr, "file_rw: mismatch: wrote %zu bytes, read back %ld bytes\n", len, n);
    return 1;
  }
  fwrite(back, 1, (size_t)n, stdout);
  printf("\n");
  free(back);
  return 0;
}

static int read_file(const char *path) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) return fail("open", path);
  char *data;
  long n = read_all(fd, &data);
  if (n < 0) return fail("read", path);
  close(fd);
  fwrite(data, 1, (size_t)n, stdout);
  free(data);
  return 0;
}

static int by_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static int list_dir(const char *path) {
  DIR *dir = opendir(path);
  if (!dir) return fail("opendir", path);
  char **names = NULL;
  size_t count = 0;
  struct dirent *ent;
  errno = 0;
  while ((ent = readdir(dir)) != NULL) {
    if (strcmp(ent->d_name, ".") == 0 || strcmp(ent->d_name, "..") == 0) continue;
    names = realloc(names, (count + 1) * sizeof *names);
    names[count++] = strdup(ent->d_name);
  }
  if (errno != 0) return fail("readdir", path);
  closedir(dir);
  qsort(names, count, sizeof *names, by_name);
  for (size_t i = 0; i < count; i++) printf("%s\n", names[i]);
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "--read") == 0) return read_file(argv[2]);
  if (argc == 3 && strcmp(argv[1], "--list") == 0) return list_dir(argv[2]);
  if (argc == 3 && argv[1][0] != '-') return write_and_verify(argv[1], argv[2]);
  fprintf(stderr, "usage: file_rw PATH CONTENT | file_rw --read PATH | file_rw --list DIR\n");
  return 2;
}
