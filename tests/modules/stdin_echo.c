/* stdin_echo: copies stdin to stdout until EOF (fd_read on fd 0, fd_write on fd 1).
 *
 * Reads in 64 KiB chunks and writes every byte back, handling short writes.
 * A correct runtime produces: stdout byte-identical to stdin, stderr empty, exit code 0.
 * With stdin at EOF immediately (e.g. /dev/null) stdout is empty and the exit code is 0.
 * On a read or write error it prints "stdin_echo: <op>: <strerror>" to stderr, exits 1.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static char buf[65536];

int main(void) {
  for (;;) {
    ssize_t n = read(0, buf, sizeof buf);
    if (n == 0) return 0;
    if (n < 0) {
      fprintf(stderr, "stdin_echo: read: %s\n", strerror(errno));
      return 1;
    }
    for (ssize_t off = 0; off < n;) {
      ssize_t w = write(1, buf + off, (size_t)(n - off));
      if (w <= 0) {
        fprintf(stderr, "stdin_echo: write: %s\n", strerror(errno));
        return 1;
      }
      off += w;
    }
  }
}
