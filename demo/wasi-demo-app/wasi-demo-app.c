/* wasi-demo-app: the demo workload, a small WASI command.
 *
 *   wasi-demo-app echo ARGS...          print ARGS joined by spaces
 *   wasi-demo-app sleep SECONDS         sleep (fractions allowed), then return
 *   wasi-demo-app exit CODE             exit with CODE
 *   wasi-demo-app write FILE CONTENT... write CONTENT (joined by spaces) to FILE
 *   wasi-demo-app daemon                print a verse every second, forever (the default)
 * Anything else prints an error and exits 2. Prints "exiting" to stderr at the end.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char* const kVerses[] = {
    "This is a song that never ends.",
    "Yes, it goes on and on, my friends.",
    "Some people started singing it not knowing what it was,",
    "So they'll continue singing it forever just because...",
};

static int finish(int code) {
  fflush(stdout);
  fprintf(stderr, "exiting\n");
  return code;
}

static void sleepSeconds(double seconds) {
  struct timespec ts;
  ts.tv_sec = (time_t)seconds;
  ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

static int daemon(void) {
  for (unsigned i = 0;; ++i) {
    printf("%s\n", kVerses[i % (sizeof kVerses / sizeof kVerses[0])]);
    fflush(stdout);
    sleepSeconds(1);
  }
}

static int writeFile(const char* path, int argc, char** argv) {
  FILE* f = fopen(path, "w");
  if (!f) {
    fprintf(stderr, "wasi-demo-app: cannot open %s: %s\n", path, strerror(errno));
    return finish(1);
  }
  for (int i = 0; i < argc; ++i) fprintf(f, "%s%s", i ? " " : "", argv[i]);
  if (fclose(f) != 0) {
    fprintf(stderr, "wasi-demo-app: cannot write %s: %s\n", path, strerror(errno));
    return finish(1);
  }
  return finish(0);
}

int main(int argc, char** argv) {
  const char* cmd = argc > 1 ? argv[1] : "daemon";
  if (strcmp(cmd, "echo") == 0) {
    for (int i = 2; i < argc; ++i) printf("%s%s", i > 2 ? " " : "", argv[i]);
    printf("\n");
    return finish(0);
  }
  if (strcmp(cmd, "sleep") == 0 && argc == 3) {
    sleepSeconds(atof(argv[2]));
    return finish(0);
  }
  if (strcmp(cmd, "exit") == 0 && argc == 3) {
    fflush(stdout);
    return finish(atoi(argv[2]));
  }
  if (strcmp(cmd, "write") == 0 && argc >= 3) return writeFile(argv[2], argc - 3, argv + 3);
  if (strcmp(cmd, "daemon") == 0) return daemon();
  fprintf(stderr, "wasi-demo-app: unknown command \"%s\" (echo, sleep, exit, write, daemon)\n", cmd);
  return finish(2);
}
