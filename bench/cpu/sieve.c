/* sieve: memory-bound byte loops. Sieve of Eratosthenes up to LIMIT (default 50,000,000),
 * run ROUNDS times (default 4); prints "primes below LIMIT = <count> (rounds R)".
 * Checksum for the defaults: 3001134 primes.
 * Buffers are static (no malloc), so the module never executes memory.grow: node:wasi
 * keeps using a stale memory after a grow and crashes intermittently. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LIMIT 50000000L
static unsigned char composite[MAX_LIMIT];

int main(int argc, char **argv) {
  long limit = argc > 1 ? atol(argv[1]) : 50000000L;
  int rounds = argc > 2 ? atoi(argv[2]) : 4;
  if (limit < 2 || limit > MAX_LIMIT) return 2;
  long count = 0;
  for (int r = 0; r < rounds; r++) {
    memset(composite, 0, (size_t)limit);
    count = 0;
    for (int64_t i = 2; i < limit; i++) { /* 64-bit: i * i overflows a 32-bit long on wasm32 */
      if (composite[i]) continue;
      count++;
      for (int64_t j = i * i; j < limit; j += i) composite[j] = 1;
    }
  }
  printf("primes below %ld = %ld (rounds %d)\n", limit, count, rounds);
  return 0;
}
