// containerd-shim-v8-v1 as containerd runs it: the front (src/shim/front.h). It starts and
// deletes; the daemons come from the daemon binary built from main.cpp, and its engine host.
#include "shim/front.h"

int main(int argc, char** argv) {
  return runwasi::shim::runShimFront(
      argc, argv, {"containerd-shim-v8-v1", RUNWASI_VERSION, RUNWASI_GIT_REVISION},
      RUNWASI_SHIM_DAEMON_BUILD_DIR);
}
