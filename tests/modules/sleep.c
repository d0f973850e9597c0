/* sleep: sleeps argv[1] milliseconds (default 100) and reports how long it took.
 *
 * Uses nanosleep(), which wasi-libc implements with clock_nanosleep -> poll_oneoff (one
 * relative clock subscription on CLOCK_MONOTONIC), and measures the elapsed time with
 * clock_gettime(CLOCK_MONOTONIC) -> clock_time_get.
 * A correct runtime produces: stdout "slept <N> ms\n" where N is the elapsed whole
 * milliseconds, N >= the requested time (a little more is normal; requested - 1 is
 * tolerated because hosts with millisecond timers, such as node's libuv, can wake a
 * fraction of a millisecond early), stderr empty, exit code 0.
 * If the sleep returns more than 1 ms early or fails, it prints
 * "sleep: ..." to stderr and exits 1. Bad argument: message on stderr, exit 2.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv) {
  long ms = 100;
  if (argc > 1) {
    char *end;
    ms = strtol(argv[1], &end, 10);
    if (*argv[1] == '\0' || *end != '\0' || ms < 0) {
      fprintf(stderr, "sleep: bad milliseconds '%s'\n", argv[1]);
      return 2;
    }
  }
  struct timespec req = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
  long long start = now_ns();
  if (nanosleep(&req, NULL) != 0) {
    fprintf(stderr, "sleep: nanosleep: %s\n", strerror(errno));
    return 1;
  }
  long long elapsed_ns = now_ns() - start;
  long long elapsed_ms = elapsed_ns / 1000000LL;
  printf("slept %lld ms\n", elapsed_ms);
  if (elapsed_ns + 1000000LL < ms * 1000000LL) {
    fprintf(stderr, "sleep: woke after %lld ms, asked for %ld ms\n", elapsed_ms, ms);
    return 1;
  }
  return 0;
}
