/* memory_grow: linear memory grows on demand (memory.grow through malloc).
 *
 * Allocates argv[1] MiB (default 64) as 1 MiB blocks with malloc, writes a pattern into
 * every byte, reads it all back, then prints "grew <N> pages\n" where N is the number of
 * 64 KiB wasm pages memory.size increased by: N >= 16 * MiB (>= 1024 for the default;
 * exactly 16 * MiB with Debian's wasi-libc, whose malloc grows memory in whole blocks).
 * A correct runtime produces: that line on stdout, stderr empty, exit code 0.
 * If malloc fails (memory.grow returned -1) or a byte reads back wrong it prints
 * "memory_grow: ..." to stderr and exits 1. Bad argument: exit 2.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define BLOCK (1024 * 1024)
#define MAX_BLOCKS 4096

static uint8_t *blocks[MAX_BLOCKS];

int main(int argc, char **argv) {
  long mib = 64;
  if (argc > 1) {
    mib = strtol(argv[1], NULL, 10);
    if (mib <= 0 || mib > MAX_BLOCKS) {
      fprintf(stderr, "memory_grow: MiB must be 1..%d\n", MAX_BLOCKS);
      return 2;
    }
  }
  size_t before = __builtin_wasm_memory_size(0);
  for (long i = 0; i < mib; i++) {
    blocks[i] = malloc(BLOCK);
    if (!blocks[i]) {
      fprintf(stderr, "memory_grow: malloc failed after %ld MiB\n", i);
      return 1;
    }
    for (size_t j = 0; j < BLOCK; j++) blocks[i][j] = (uint8_t)(i * 31 + j);
  }
  for (long i = 0; i < mib; i++)
    for (size_t j = 0; j < BLOCK; j++)
      if (blocks[i][j] != (uint8_t)(i * 31 + j)) {
        fprintf(stderr, "memory_grow: bad byte in block %ld at %zu\n", i, j);
        return 1;
      }
  size_t after = __builtin_wasm_memory_size(0);
  printf("grew %zu pages\n", after - before);
  return 0;
}
