/* args_env: echoes the command line and the environment.
 *
 * Prints, one line each:
 *   "argc=<argc>"
 *   "argv[<i>]=<argv[i]>"   for i = 0 .. argc-1 (argv[0] is whatever the runtime passes
 *                            as the program name)
 *   "env=<K>=<V>"            for every environment entry, in the order the runtime gave
 * A correct runtime produces: exactly those lines on stdout, stderr empty, exit code 0.
 * Example: `runwasi run --env A=1 args_env.wasm x "y z"` prints
 *   argc=3 / argv[0]=args_env.wasm (or similar) / argv[1]=x / argv[2]=y z / env=A=1
 */
#include <stdio.h>

extern char **environ;

int main(int argc, char **argv) {
  printf("argc=%d\n", argc);
  for (int i = 0; i < argc; i++) printf("argv[%d]=%s\n", i, argv[i]);
  for (char **e = environ; e && *e; e++) printf("env=%s\n", *e);
  return 0;
}
