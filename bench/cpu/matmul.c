/* matmul: floating-point loops. C = A x B for N x N doubles (default N = 320), ROUNDS times
 * (default 40, B perturbed between rounds); entries are small integers so every sum is exact
 * and the checksum cannot differ between correct engines. Prints "matmul N = <checksum>".
 * Buffers are static (no malloc), so the module never executes memory.grow: node:wasi
 * keeps using a stale memory after a grow and crashes intermittently. */
#include <stdio.h>
#include <stdlib.h>

#define MAX_N 512
static double a[MAX_N * MAX_N], b[MAX_N * MAX_N], c[MAX_N * MAX_N];

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 320;
  int rounds = argc > 2 ? atoi(argv[2]) : 40;
  if (n < 1 || n > MAX_N) return 2;
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++) {
      a[i * n + j] = (double)((i * 7 + j * 3) % 11 - 5);
      b[i * n + j] = (double)((i * 5 + j * 13) % 9 - 4);
    }
  double checksum = 0;
  for (int r = 0; r < rounds; r++) {
    for (int i = 0; i < n * n; i++) c[i] = 0;
    for (int i = 0; i < n; i++)
      for (int k = 0; k < n; k++) {
        double aik = a[i * n + k];
        for (int j = 0; j < n; j++) c[i * n + j] += aik * b[k * n + j];
      }
    for (int i = 0; i < n * n; i++) checksum += c[i] * (double)(i % 17 + 1);
    b[r % (n * n)] += 1.0;
  }
  printf("matmul %d = %.1f\n", n, checksum);
  return 0;
}
