/* fib: call-heavy recursion. Computes fib(N) by naive double recursion (default N = 43)
 * and prints "fib(N) = <value>". Checksum for N = 43: 433494437. */
#include <stdio.h>
#include <stdlib.h>

static unsigned long long fib(int n) {
  return n < 2 ? (unsigned long long)n : fib(n - 1) + fib(n - 2);
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 43;
  printf("fib(%d) = %llu\n", n, fib(n));
  return 0;
}
