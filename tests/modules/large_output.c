/* large_output: writes a large, checkable byte stream to stdout.
 *
 * Writes exactly argv[1] bytes (default 10485760 = 10 MiB) to fd 1 with write(), in
 * 64 KiB chunks, handling short writes. Byte i of the stream is
 *     (i % 64 == 63) ? '\n' : ALPHABET[i % 64]
 * with ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
 * i.e. 64-byte lines of 63 characters plus a newline; a size that is not a multiple of 64
 * ends with a partial line. Python to regenerate it:
 *     A = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
 *     line = A[:63] + b"\n"; data = (line * (n // 64 + 1))[:n]
 * For the default size: sha256 = 4e4714aa1dbc252803a21aa49508f7d93fb50b665d80469d4f95b07ada244213
 * A correct runtime produces: exactly that stdout, stderr empty, exit code 0.
 * A write error prints "large_output: write: <strerror>" to stderr, exit 1; bad size: exit 2.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static char chunk[65536]; /* a multiple of 64, so every chunk starts at a line start */

int main(int argc, char **argv) {
  long long total = 10LL * 1024 * 1024;
  if (argc > 1) {
    char *end;
    total = strtoll(argv[1], &end, 10);
    if (*argv[1] == '\0' || *end != '\0' || total < 0) {
      fprintf(stderr, "large_output: bad size '%s'\n", argv[1]);
      return 2;
    }
  }
  for (size_t i = 0; i < sizeof chunk; i++) chunk[i] = (i % 64 == 63) ? '\n' : kAlphabet[i % 64];
  for (long long done = 0; done < total;) {
    size_t len = sizeof chunk;
    if ((long long)len > total - done) len = (size_t)(total - done);
    for (size_t off = 0; off < len;) {
      ssize_t w = write(1, chunk + off, len - off);
      if (w <= 0) {
        fprintf(stderr, "large_output: write: %s\n", strerror(errno));
        return 1;
      }
      off += (size_t)w;
    }
    done += (long long)len;
  }
  return 0;
}
