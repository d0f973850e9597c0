/* random: random_get works and is not constant.
 *
 * Calls __wasi_random_get for 32 bytes twice and prints each buffer as 64 lowercase hex
 * digits on its own line.
 * A correct runtime produces: stdout two lines of 64 hex digits that differ, stderr
 * empty, exit code 0. If random_get returns an error, or a buffer is all zero, or both
 * buffers are equal, it prints "random: ..." to stderr and exits 1.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <wasi/api.h>

static int fill(uint8_t *buf, size_t len) {
  __wasi_errno_t err = __wasi_random_get(buf, len);
  if (err != 0) {
    fprintf(stderr, "random: random_get failed with WASI errno %u\n", (unsigned)err);
    return 0;
  }
  for (size_t i = 0; i < len; i++) printf("%02x", buf[i]);
  printf("\n");
  for (size_t i = 0; i < len; i++)
    if (buf[i] != 0) return 1;
  fprintf(stderr, "random: random_get returned all zero bytes\n");
  return 0;
}

int main(void) {
  uint8_t a[32], b[32];
  if (!fill(a, sizeof a) || !fill(b, sizeof b)) return 1;
  if (memcmp(a, b, sizeof a) == 0) {
    fprintf(stderr, "random: two random_get calls returned the same bytes\n");
    return 1;
  }
  return 0;
}
