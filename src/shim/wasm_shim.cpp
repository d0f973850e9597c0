#include "shim/wasm_shim.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <optional>

#include "common/log.h"
#include "shim/engine_host.h"
#include "shim/event_publisher.h"
#include "shim/instance.h"
#include "shim/reaper.h"
#include "shim/task_service.h"
#include "shim/zygote_engine.h"
#include "ttrpc/server.h"

namespace runwasi::shim {
namespace {

// containerd reads the shim's log from the bundle's `log` FIFO (it opened the read end
// before running `start`). Non-blocking: a containerd that stops reading must not stall
// the shim; lines are dropped instead.
void logToBundle(const std::filesystem::path& bundle) {
  UniqueFd fifo(::open((bundle / "log").c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
  if (!fifo) return;  // no reader or no FIFO (not run by containerd): stderr stays /dev/null
  ::dup2(fifo.get(), STDERR_FILENO);
}

}  // namespace

int runWasmDaemon(DaemonContext& context, const ShimIdentity& identity,
                  const sandbox::EngineFactory& makeEngine) {
  ::signal(SIGPIPE, SIG_IGN);  // a FIFO or socket whose reader went away is an error, not death
  logToBundle(context.bundle);
  log::setLevel(context.flags.debug ? log::Level::kDebug : log::Level::kInfo);
  if (::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0)
    log::warn("cannot become a child subreaper: {}", std::strerror(errno));

  // Order matters: the zygote is forked while this process has one thread, and every
  // thread made afterwards inherits SIGCHLD blocked, so only the reaper sees it.
  if (auto blocked = Reaper::blockSigchld(); !blocked) {
    log::error("{}", blocked.error().message);
    return 1;
  }
  // The zygote first, at once: it loads and prepares the engine (V8: libnode, tens of ms)
  // while this process starts serving; the shim itself never loads the engine's runtime
  // (ZygoteEngine: what Create needs of the engine comes in the zygote's hello).
  // A daemon the engine host forked takes over the host's loaded engine.
  auto zygote = sandbox::Zygote::start(context.engine ? context.engine : makeEngine);
  if (!zygote) {
    log::error("{}", zygote.error().message);
    return 1;
  }
  ZygoteEngine engine(*zygote);
  auto reaper = Reaper::start();
  if (!reaper) {
    log::error("{}", reaper.error().message);
    return 1;
  }

  std::unique_ptr<EventPublisher> events;
  if (!context.ttrpcAddress.empty()) {
    auto made = EventPublisher::create(context.ttrpcAddress, context.flags.ns);
    if (made) {
      events = std::move(*made);
    } else {
      log::warn("events will not be published: {}", made.error().message);
    }
  } else {
    log::warn("TTRPC_ADDRESS is not set: events will not be published");
  }

  // containerd's gRPC API, for modules that come as image layers: its client is loaded by
  // the first Create that needs it (a shim whose containers all have their module in the
  // rootfs never maps gRPC: its ~10 ms of loading would compete with every start).
  std::optional<ContainerdLink> containerd;
  if (!context.flags.address.empty()) containerd.emplace(context.flags.address, context.flags.ns);

  InstanceEnvironment env;
  env.shimName = identity.name;
  env.zygote = &*zygote;
  env.reaper = reaper->get();
  env.engine = &engine;
  env.containerd = containerd ? &*containerd : nullptr;

  ttrpc::Server* serverPtr = nullptr;
  TaskService tasks(env, events.get(), [&serverPtr] {
    if (serverPtr) serverPtr->stop();
  });
  ttrpc::ServerOptions options;
  // containerd hung up and nothing is left to serve: nobody will send Shutdown.
  options.onIdle = [&tasks, &serverPtr] {
    if (tasks.taskCount() == 0 && serverPtr) serverPtr->stop();
  };
  auto server = ttrpc::Server::create(std::move(options));
  if (!server) {
    log::error("{}", server.error().message);
    return 1;
  }
  serverPtr = server->get();
  tasks.registerWith(**server);
  if (auto listening = (*server)->listen(std::move(context.listener)); !listening) {
    log::error("{}", listening.error().message);
    return 1;
  }
  log::info("{} {} serving {} (namespace {})", identity.name, identity.version,
            context.socketPath, context.flags.ns);
  auto ran = (*server)->run();
  if (!ran) log::error("ttrpc server: {}", ran.error().message);

  // Tasks left only when the server failed or containerd vanished: leave nothing running.
  tasks.killAll(std::chrono::seconds(5));
  if (events) {
    if (auto flushed = events->flush(std::chrono::seconds(2)); !flushed)
      log::warn("{}", flushed.error().message);
    events->stop();
  }
  server->reset();
  zygote->stop();
  (*reaper)->stop();
  ::unlink(context.socketPath.c_str());
  log::info("{} exiting", identity.name);
  return ran ? 0 : 1;
}

int runWasmShim(int argc, char** argv, const ShimIdentity& identity,
                sandbox::EngineFactory makeEngine, WasmShimOptions options) {
  DaemonMain daemonMain = [&](DaemonContext& context) {
    return runWasmDaemon(context, identity, makeEngine);
  };
  std::optional<EngineHost> host;
  if (options.engineHost) host.emplace(identity, makeEngine, daemonMain);
  return runShim(argc, argv, identity, daemonMain, host ? &*host : nullptr);
}

}  // namespace runwasi::shim
