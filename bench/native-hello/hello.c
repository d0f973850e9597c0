/* The native counterpart of tests/modules/hello.c for bench/ctr_run.py: linked with
 * `gcc -static -O2` and run under runc as the only file of its image, so a container start
 * costs the same work as the Wasm hello (one write to stdout, exit 0) minus the Wasm.
 * Prints "hello from native\n" and returns 0.
 */
#include <stdio.h>

int main(void) {
  printf("hello from native\n");
  return 0;
}
