/* crc32: table-driven CRC-32 (IEEE 802.3, reflected, poly 0xEDB88320) over a 64 MiB buffer
 * filled by a fixed LCG, ROUNDS times (default 4, each round continuing the CRC); prints
 * "crc32 = <8 hex digits>".
 * Buffers are static (no malloc), so the module never executes memory.grow: node:wasi
 * keeps using a stale memory after a grow and crashes intermittently. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define SIZE (64u << 20)
static uint8_t buf[SIZE];

int main(int argc, char **argv) {
  int rounds = argc > 1 ? atoi(argv[1]) : 4;
  uint32_t table[256];
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    table[i] = c;
  }
  uint32_t seed = 12345;
  for (uint32_t i = 0; i < SIZE; i++) {
    seed = seed * 1103515245u + 12345u;
    buf[i] = (uint8_t)(seed >> 16);
  }
  uint32_t crc = 0xFFFFFFFFu;
  for (int r = 0; r < rounds; r++)
    for (uint32_t i = 0; i < SIZE; i++) crc = table[(crc ^ buf[i]) & 0xFF] ^ (crc >> 8);
  printf("crc32 = %08x\n", crc ^ 0xFFFFFFFFu);
  return 0;
}
