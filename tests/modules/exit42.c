/* exit42: a non-zero exit status through proc_exit.
 *
 * Prints "exiting with 42\n", flushes stdout, then calls __wasi_proc_exit(42) directly,
 * so the exit happens from inside a host call, not by returning from _start.
 * A correct runtime produces: stdout "exiting with 42\n", stderr empty, exit code 42.
 */
#include <stdio.h>
#include <wasi/api.h>

int main(void) {
  printf("exiting with 42\n");
  fflush(stdout);
  __wasi_proc_exit(42);
}
