/* hello: the smallest WASI command.
 *
 * Prints "hello from wasm\n" with printf and returns 0 from main (no explicit proc_exit
 * call: wasi-libc's _start calls proc_exit(0) or simply returns).
 * A correct runtime produces: stdout "hello from wasm\n", stderr empty, exit code 0.
 */
#include <stdio.h>

int main(void) {
  printf("hello from wasm\n");
  return 0;
}
