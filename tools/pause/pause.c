/* pause: the process that holds a Kubernetes pod's namespaces (the CRI sandbox container),
 * what registry.k8s.io/pause does. Sleeps in pause() until SIGINT or SIGTERM, then exits 0;
 * as the pod's pid 1 (a shared pid namespace) it reaps every orphan that is handed to it.
 * Static, so its image holds just this file. `pause -v` prints its name and exits.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void stop(int signo) {
  static const char kMessage[] = "pause: stopping\n";
  (void)signo;
  (void)!write(STDERR_FILENO, kMessage, sizeof kMessage - 1);
  _exit(0);
}

static void reap(int signo) {
  (void)signo;
  int saved = errno;
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
  errno = saved;
}

static int handle(int signo, void (*handler)(int)) {
  struct sigaction action;
  memset(&action, 0, sizeof action);
  action.sa_handler = handler;
  action.sa_flags = SA_RESTART | (signo == SIGCHLD ? SA_NOCLDSTOP : 0);
  sigemptyset(&action.sa_mask);
  if (sigaction(signo, &action, NULL) != 0) {
    fprintf(stderr, "pause: sigaction(%d): %s\n", signo, strerror(errno));
    return -1;
  }
  return 0;
}

int main(int argc, char** argv) {
  if (argc == 2 && strcmp(argv[1], "-v") == 0) {
    printf("pause (runwasi-cpp)\n");
    return 0;
  }
  if (argc != 1) {
    fprintf(stderr, "usage: pause [-v]\n");
    return 2;
  }
  if (handle(SIGINT, stop) != 0 || handle(SIGTERM, stop) != 0 || handle(SIGCHLD, reap) != 0)
    return 1;
  /* Children already gone before the handler was installed. */
  reap(SIGCHLD);
  for (;;) pause();
}
