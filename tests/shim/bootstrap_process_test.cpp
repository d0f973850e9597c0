// start / reuse / delete end to end: this test binary doubles as a shim. Run with
// RUNWASI_BOOTSTRAP_TEST_SHIM=1 it is "containerd-shim-test-v1": runShim with a daemon that
// serves one ttrpc test method, before any test runs (see ShimMode below).
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/fd_message.h"
#include "common/file.h"
#include "common/temp_dir.h"
#include "github.com/containerd/containerd/runtime/v2/task/shim.pb.h"
#include "engine/null/null_engine.h"
#include "sandbox/cgroup.h"
#include "shim/bootstrap.h"
#include "shim/engine_host.h"
#include "shim/front.h"
#include "shim/shim_address.h"
#include "ttrpc/client.h"
#include "ttrpc/server.h"

namespace runwasi::shim {
namespace {

namespace fs = std::filesystem;

constexpr char kShimModeEnv[] = "RUNWASI_BOOTSTRAP_TEST_SHIM";
constexpr char kHostEnv[] = "RUNWASI_BOOTSTRAP_TEST_HOST";
// Set to a directory: the shim runs as the front (front.h), its daemon binary looked up there.
constexpr char kFrontEnv[] = "RUNWASI_BOOTSTRAP_TEST_FRONT";
constexpr char kShimName[] = "containerd-shim-test-v1";
constexpr char kTestService[] = "runwasi.test.Bootstrap";
constexpr char kFakeTtrpc[] = "/run/bootstrap-test/ttrpc.sock";

// The trivial daemon: answers Describe with what it was started with.
int testDaemon(DaemonContext& context) {
  auto server = ttrpc::Server::create();
  if (!server) return 2;
  (*server)->addMethod(
      kTestService, "Describe", [&context](const ttrpc::Call&) -> ttrpc::StatusOr<std::string> {
        std::error_code ec;
        return "id=" + context.flags.id + "\nns=" + context.flags.ns +
               "\nbundle=" + context.bundle.string() + "\ncwd=" + fs::current_path(ec).string() +
               "\nttrpc=" + context.ttrpcAddress + "\nsocket=" + context.socketPath +
               "\noptions=" + context.runtimeOptions + "\nhosted=" + (context.engine ? "1" : "0") +
               "\nparent=" + std::to_string(::getppid()) + "\n";
      });
  if (!(*server)->listen(std::move(context.listener))) return 3;
  return (*server)->run() ? 0 : 4;
}

// stdout as the shim's caller gave it; until ShimMode runs, fd 1 is /dev/null so that
// what gtest_main prints first never mixes into start's answer to containerd.
int savedStdout = -1;

// Runs the shim before any test when the environment says so.
class ShimMode : public ::testing::Environment {
 public:
  void SetUp() override {
    std::fflush(stdout);
    ::dup2(savedStdout, STDOUT_FILENO);
    ::close(savedStdout);
    auto cmdline = readFile("/proc/self/cmdline");
    std::vector<std::string> args;
    std::string current;
    for (uint8_t c : cmdline.value_or(Bytes{})) {
      if (c == 0) {
        args.push_back(std::move(current));
        current.clear();
      } else {
        current.push_back(static_cast<char>(c));
      }
    }
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    ShimIdentity identity{kShimName, "9.8.7", "test-rev"};
    // With an engine host (the null engine) when the environment says so.
    std::optional<EngineHost> host;
    if (std::getenv(kHostEnv) != nullptr)
      host.emplace(identity, [] { return Expected<std::unique_ptr<engine::Engine>>(engine::makeNullEngine()); },
                   testDaemon);
    int code;
    if (const char* front = std::getenv(kFrontEnv)) {
      // The daemon binary it execs (this binary again) must run as the shim, not the front.
      std::string dir = front;
      ::unsetenv(kFrontEnv);
      code = runShimFront(static_cast<int>(args.size()), argv.data(), identity, dir);
    } else {
      code = runShim(static_cast<int>(args.size()), argv.data(), identity, testDaemon,
                     host ? &*host : nullptr);
    }
    std::fflush(stdout);
    std::fflush(stderr);
    ::_exit(code);
  }
};

[[maybe_unused]] const bool kShimModeRegistered = [] {
  if (std::getenv(kShimModeEnv) == nullptr) return false;
  savedStdout = ::fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
  int devNull = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  ::dup2(devNull, STDOUT_FILENO);
  ::close(devNull);
  auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
  delete listeners.Release(listeners.default_result_printer());
  ::testing::AddGlobalTestEnvironment(new ShimMode);
  return true;
}();

struct ShimRun {
  int exitCode = -1;
  std::string out;
  std::string err;
};

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The value of `key` in a Describe answer.
std::string field(const std::string& described, const std::string& key) {
  std::string text = "\n" + described;
  size_t at = text.find("\n" + key + "=");
  if (at == std::string::npos) return "";
  at += key.size() + 2;
  return text.substr(at, text.find('\n', at) - at);
}

class BootstrapProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Daemons outlive the start process that forks them: as a subreaper this process
    // gets them back, so TearDown can reap them after killing them by PID.
    ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    ns_ = "bootstrap-test-" + std::to_string(::getpid()) + "-" + info->name();
    containerdAddress_ = "/run/bootstrap-test-" + std::to_string(::getpid()) + "/containerd.sock";
    auto scratch = TempDir::create("bootstrap-proc-");
    ASSERT_TRUE(scratch) << scratch.error().message;
    scratch_.emplace(std::move(*scratch));
  }

  void TearDown() override {
    for (pid_t pid : hostPids()) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    for (pid_t pid : daemonPids()) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    for (const std::string& group : groups_) {
      auto path = socketPathOf(address(group));
      if (path) (void)removeSocket(*path);
    }
    ::prctl(PR_SET_CHILD_SUBREAPER, 0);
  }

  // A unique group name for this test (sockets in /run/containerd/s are real).
  std::string group(const std::string& name) {
    std::string g = ns_ + "-" + name;
    groups_.insert(g);
    return g;
  }
  std::string address(const std::string& group) const {
    return socketAddress(containerdAddress_, ns_, group);
  }

  fs::path bundle(const std::string& id, const std::string& config) {
    fs::path dir = scratch_->path() / id;
    fs::create_directories(dir);
    std::ofstream(dir / "config.json") << config;
    return dir;
  }
  fs::path podBundle(const std::string& id, const std::string& group) {
    return bundle(id, R"({"ociVersion":"1.0.2","annotations":{"io.kubernetes.cri.sandbox-id":")" +
                          group + R"("}})");
  }

  // Runs this binary as the shim, as containerd would: cwd = bundle, options on stdin.
  ShimRun runShimBinary(std::vector<std::string> args, const fs::path& cwd,
                        const std::string& stdinData = "",
                        const std::vector<std::string>& extraEnv = {}) {
    static std::atomic<int> counter{0};
    fs::path io = scratch_->path() / ("io-" + std::to_string(counter++));
    fs::create_directories(io);
    std::ofstream(io / "stdin") << stdinData;
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e) {
      if (std::strncmp(*e, "GTEST_", 6) != 0 && std::strncmp(*e, "TTRPC_ADDRESS=", 14) != 0) {
        env.emplace_back(*e);
      }
    }
    env.push_back(std::string(kShimModeEnv) + "=1");
    env.push_back(std::string("TTRPC_ADDRESS=") + kFakeTtrpc);
    env.insert(env.end(), extraEnv.begin(), extraEnv.end());
    args.insert(args.begin(), kShimName);
    std::vector<char*> argv, envp;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    std::string in = (io / "stdin").string(), out = (io / "stdout").string(),
                err = (io / "stderr").string(), dir = cwd.string();

    pid_t pid = ::fork();
    if (pid == 0) {
      int i = ::open(in.c_str(), O_RDONLY);
      int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (i < 0 || o < 0 || e < 0 || ::chdir(dir.c_str()) != 0) ::_exit(126);
      ::dup2(i, 0);
      ::dup2(o, 1);
      ::dup2(e, 2);
      ::execve("/proc/self/exe", argv.data(), envp.data());
      ::_exit(127);
    }
    ShimRun run;
    int status = 0;
    if (pid > 0 && ::waitpid(pid, &status, 0) == pid && WIFEXITED(status)) {
      run.exitCode = WEXITSTATUS(status);
    }
    run.out = slurp(io / "stdout");
    run.err = slurp(io / "stderr");
    return run;
  }

  std::vector<std::string> shimArgs(const std::string& id, const std::string& action) {
    return {
        "-namespace", ns_, "-address", containerdAddress_, "-publish-binary", "/usr/bin/containerd",
        "-id",        id,  action};
  }

  // The live daemons of this test: processes whose command line is ours (start's fork
  // keeps start's command line; runShimBinary has reaped every start process by then, and
  // zombies have an empty command line).
  std::vector<pid_t> daemonPids() const {
    std::vector<pid_t> pids;
    std::string marker = std::string("-namespace") + '\0' + ns_ + '\0';
    DIR* proc = ::opendir("/proc");
    if (proc == nullptr) return pids;
    while (dirent* entry = ::readdir(proc)) {
      pid_t pid = std::atoi(entry->d_name);
      if (pid <= 0) continue;
      std::string cmdline = slurp(fs::path("/proc") / entry->d_name / "cmdline");
      if (cmdline.find(marker) != std::string::npos) pids.push_back(pid);
    }
    ::closedir(proc);
    return pids;
  }

  // Engine hosts of this binary that are this process's children (the subreaper's).
  std::vector<pid_t> hostPids() const {
    std::vector<pid_t> pids;
    std::string cmdline = std::string(kShimName) + '\0' + "engine-host" + '\0';  // then NULs
    DIR* proc = ::opendir("/proc");
    if (proc == nullptr) return pids;
    while (dirent* entry = ::readdir(proc)) {
      pid_t pid = std::atoi(entry->d_name);
      if (pid <= 0 || !slurp(fs::path("/proc") / entry->d_name / "cmdline").starts_with(cmdline))
        continue;
      std::string stat = slurp(fs::path("/proc") / entry->d_name / "stat");
      size_t close = stat.rfind(')');
      pid_t parent = close == std::string::npos ? 0 : std::atoi(stat.c_str() + close + 4);
      if (parent == ::getpid()) pids.push_back(pid);
    }
    ::closedir(proc);
    return pids;
  }

  // Calls the daemon's Describe on the address.
  std::string describe(const std::string& address) {
    auto path = socketPathOf(address);
    if (!path) return "bad address " + address;
    auto client = ttrpc::Client::connect(*path);
    if (!client) return "connect: " + client.error().message;
    auto answer = (*client)->call(kTestService, "Describe", "", std::chrono::seconds(10));
    if (!answer) return "call: " + answer.error().message;
    return *answer;
  }

  // Starts pods (id and group PREFIX1, PREFIX2, ...; `options` on stdin) with `env` until
  // one's daemon is hosted, i.e. until the host an earlier start launched listens; at most
  // 99 starts, or until one fails. The last start's run, group and Describe answer.
  struct HostedStart {
    ShimRun run;
    std::string group;
    std::string described;
  };
  HostedStart startUntilHosted(const std::vector<std::string>& env, const std::string& prefix,
                               const std::string& options = "") {
    HostedStart last;
    for (int i = 1; i < 100; ++i) {
      std::string id = prefix + std::to_string(i);
      last.group = group(id);
      last.run = runShimBinary(shimArgs(id, "start"), podBundle(id, last.group), options, env);
      if (last.run.exitCode != 0) return last;
      last.described = describe(address(last.group));
      if (field(last.described, "hosted") == "1") return last;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return last;
  }

  // The environment entry that makes the shim a front whose daemon binary is this test
  // binary, under the shim's name in a directory of its own.
  std::string frontEnv() {
    fs::path dir = scratch_->path() / "daemons";
    if (!fs::exists(dir / kShimName)) {
      fs::create_directories(dir);
      fs::create_symlink(fs::read_symlink("/proc/self/exe"), dir / kShimName);
    }
    return std::string(kFrontEnv) + "=" + dir.string();
  }

  // A start that failed: exit 1, nothing printed on stdout, neither the pod's socket nor a
  // daemon left.
  void expectFailedStartLeftNothing(const ShimRun& run, const std::string& pod) {
    EXPECT_EQ(run.exitCode, 1);
    EXPECT_EQ(run.out, "");
    auto path = socketPathOf(address(pod));
    ASSERT_TRUE(path);
    EXPECT_FALSE(fs::exists(*path)) << "the socket is removed again";
    EXPECT_TRUE(daemonPids().empty());
  }

  std::string ns_;
  std::string containerdAddress_;
  std::optional<TempDir> scratch_;
  std::set<std::string> groups_;
};

TEST_F(BootstrapProcessTest, VersionFlag) {
  ShimRun run = runShimBinary({"-v"}, scratch_->path());
  EXPECT_EQ(run.exitCode, 0) << run.err;
  EXPECT_EQ(run.out, std::string(kShimName) + ":\n  Version:  9.8.7\n  Revision: test-rev\n\n");
}

TEST_F(BootstrapProcessTest, UnknownFlagFailsClearly) {
  ShimRun run = runShimBinary({"-namespace", ns_, "-frobnicate", "start"}, scratch_->path());
  EXPECT_EQ(run.exitCode, 1);
  EXPECT_EQ(run.out, "");
  EXPECT_EQ(run.err, std::string(kShimName) + ": flag provided but not defined: -frobnicate\n");
}

TEST_F(BootstrapProcessTest, StartServesThenReusesTheGroupsDaemon) {
  std::string pod = group("pod");
  fs::path first = podBundle("c1", pod);
  ShimRun start = runShimBinary(shimArgs("c1", "start"), first, "options-any-bytes");
  ASSERT_EQ(start.exitCode, 0) << start.err;
  EXPECT_EQ(start.out, address(pod));  // nothing else: containerd reads it as the address
  EXPECT_EQ(start.err, "");
  EXPECT_EQ(slurp(first / "address"), address(pod));
  ASSERT_EQ(daemonPids().size(), 1u);

  std::string described = describe(address(pod));
  auto socket = socketPathOf(address(pod));
  ASSERT_TRUE(socket);
  EXPECT_EQ(described, "id=c1\nns=" + ns_ + "\nbundle=" + first.string() +
                           "\ncwd=" + first.string() + "\nttrpc=" + kFakeTtrpc +
                           "\nsocket=" + *socket + "\noptions=options-any-bytes\nhosted=0\nparent=" +
                           std::to_string(::getpid()) + "\n");
  struct stat st {};
  ASSERT_EQ(::stat(socket->c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // One point above start's parent (here: this process), as containerd's shims do.
  auto own = std::stoi(slurp("/proc/self/oom_score_adj"));
  EXPECT_EQ(std::stoi(slurp("/proc/" + std::to_string(daemonPids().front()) + "/oom_score_adj")),
            std::min(own + 1, 1000));

  // A second container of the pod joins the running daemon.
  fs::path second = podBundle("c2", pod);
  ShimRun again = runShimBinary(shimArgs("c2", "start"), second);
  ASSERT_EQ(again.exitCode, 0) << again.err;
  EXPECT_EQ(again.out, address(pod));
  EXPECT_EQ(slurp(second / "address"), address(pod));
  EXPECT_EQ(daemonPids().size(), 1u);
  EXPECT_NE(describe(address(pod)).find("id=c1\n"), std::string::npos);
}

// Containers of a new pod started at once: one daemon for all, every start prints its
// address (without the start lock, a start could take another's socket, bound but not yet
// listening, for a dead daemon's).
TEST_F(BootstrapProcessTest, ConcurrentStartsOfOneGroupShareOneDaemon) {
  std::string pod = group("burst");
  constexpr int kStarts = 6;
  std::vector<fs::path> bundles;
  for (int i = 0; i < kStarts; ++i) bundles.push_back(podBundle("c" + std::to_string(i), pod));
  std::vector<ShimRun> runs(kStarts);
  std::vector<std::thread> threads;
  for (int i = 0; i < kStarts; ++i) {
    threads.emplace_back([&, i] {
      runs[i] = runShimBinary(shimArgs("c" + std::to_string(i), "start"), bundles[i]);
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < kStarts; ++i) {
    EXPECT_EQ(runs[i].exitCode, 0) << i << ": " << runs[i].err;
    EXPECT_EQ(runs[i].out, address(pod)) << i;
  }
  EXPECT_NE(describe(address(pod)).find("id=c"), std::string::npos);
  EXPECT_EQ(daemonPids().size(), 1u);
}

TEST_F(BootstrapProcessTest, DifferentGroupsGetDifferentDaemons) {
  std::string a = group("a"), b = group("b");
  ShimRun runA = runShimBinary(shimArgs("ca", "start"), podBundle("ca", a));
  ShimRun runB = runShimBinary(shimArgs("cb", "start"), podBundle("cb", b));
  ASSERT_EQ(runA.exitCode, 0) << runA.err;
  ASSERT_EQ(runB.exitCode, 0) << runB.err;
  EXPECT_EQ(runA.out, address(a));
  EXPECT_EQ(runB.out, address(b));
  EXPECT_NE(runA.out, runB.out);
  EXPECT_EQ(daemonPids().size(), 2u);
  EXPECT_NE(describe(runB.out).find("id=cb\n"), std::string::npos);
}

TEST_F(BootstrapProcessTest, WithoutAnnotationTheIdIsTheGroup) {
  std::string id = group("solo");  // registered for cleanup: the id is the group
  ShimRun run = runShimBinary(shimArgs(id, "start"), bundle(id, R"({"ociVersion":"1.0.2"})"));
  ASSERT_EQ(run.exitCode, 0) << run.err;
  EXPECT_EQ(run.out, address(id));
}

// A socket file nobody listens on, as a SIGKILLed daemon leaves it.
void makeStaleSocket(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0) << path;
  ::close(fd);
}

TEST_F(BootstrapProcessTest, StartReplacesAStaleSocket) {
  std::string pod = group("stale");
  auto path = socketPathOf(address(pod));
  ASSERT_TRUE(path);
  fs::create_directories(fs::path(*path).parent_path());
  makeStaleSocket(*path);
  ShimRun run = runShimBinary(shimArgs("c1", "start"), podBundle("c1", pod));
  ASSERT_EQ(run.exitCode, 0) << run.err;
  EXPECT_EQ(daemonPids().size(), 1u);
  EXPECT_NE(describe(address(pod)).find("id=c1\n"), std::string::npos);
}

TEST_F(BootstrapProcessTest, DeleteRemovesAStaleSocketAndPrintsADeleteResponse) {
  std::string pod = group("del");
  fs::path dir = podBundle("c1", pod);
  auto path = socketPathOf(address(pod));
  ASSERT_TRUE(path);
  fs::create_directories(fs::path(*path).parent_path());
  makeStaleSocket(*path);

  auto before = std::chrono::system_clock::now();
  for (int round = 0; round < 2; ++round) {  // idempotent
    ShimRun run = runShimBinary({"-namespace", ns_, "-address", containerdAddress_, "-id", "c1",
                                 "-bundle", dir.string(), "delete"},
                                dir);
    ASSERT_EQ(run.exitCode, 0) << run.err;
    containerd::task::v2::DeleteResponse response;
    ASSERT_TRUE(response.ParseFromString(run.out));
    EXPECT_EQ(response.pid(), 0u);
    EXPECT_EQ(response.exit_status(), 137u);
    auto exitedAt =
        std::chrono::system_clock::time_point(std::chrono::seconds(response.exited_at().seconds()));
    EXPECT_GE(exitedAt, std::chrono::time_point_cast<std::chrono::seconds>(before));
    EXPECT_LE(exitedAt, std::chrono::system_clock::now());
    EXPECT_FALSE(fs::exists(*path));
  }
}

// A daemon that died (SIGKILL) left its container's cgroup: delete removes it. Where it is
// gone already (the daemon removed it), delete makes no directory in any hierarchy.
TEST_F(BootstrapProcessTest, DeleteRemovesTheCgroupADeadDaemonLeftAndMakesNone) {
  std::string parent = "/runwasi-test/" + group("cg");
  std::string path = parent + "/ctr";
  fs::path dir = bundle(group("cg"), R"({"ociVersion":"1.0.2","root":{"path":"rootfs"},)"
                                     R"("process":{"args":["/x.wasm"],"cwd":"/"},)"
                                     R"("linux":{"cgroupsPath":")" + path + R"("}})");
  std::vector<std::string> args = {"-namespace", ns_, "-address", containerdAddress_, "-id",
                                   "c1", "-bundle", dir.string(), "delete"};

  ShimRun none = runShimBinary(args, dir);
  ASSERT_EQ(none.exitCode, 0) << none.err;
  auto made = sandbox::openCgroup(parent, "c1");
  EXPECT_FALSE(made) << "delete made cgroup " << parent;
  if (made) (void)(*made)->destroy();

  auto left = sandbox::createCgroup(sandbox::CgroupDriver::kCgroupfs, path, "c1", {});
  ASSERT_TRUE(left) << left.error().message;
  ShimRun run = runShimBinary(args, dir);
  ASSERT_EQ(run.exitCode, 0) << run.err;
  auto after = sandbox::openCgroup(path, "c1");
  ASSERT_FALSE(after) << "delete left cgroup " << path;
  EXPECT_EQ(after.error().code, ErrorCode::kNotFound) << after.error().message;
  (void)(*left)->destroy();  // the parent it made
}

TEST_F(BootstrapProcessTest, DeleteLeavesALiveDaemonsSocket) {
  std::string pod = group("live");
  ShimRun start = runShimBinary(shimArgs("c1", "start"), podBundle("c1", pod));
  ASSERT_EQ(start.exitCode, 0) << start.err;
  fs::path second = podBundle("c2", pod);
  ShimRun del = runShimBinary(shimArgs("c2", "delete"), second);
  ASSERT_EQ(del.exitCode, 0) << del.err;
  EXPECT_NE(describe(address(pod)).find("id=c1\n"), std::string::npos);
}

TEST_F(BootstrapProcessTest, DeleteOfAnEmptyOrMissingBundleSucceeds) {
  fs::path gone = scratch_->path() / "gone";
  ShimRun run = runShimBinary({"-namespace", ns_, "-address", containerdAddress_, "-id",
                               group("gone"), "-bundle", gone.string(), "delete"},
                              scratch_->path());
  ASSERT_EQ(run.exitCode, 0) << run.err;
  containerd::task::v2::DeleteResponse response;
  EXPECT_TRUE(response.ParseFromString(run.out));
  EXPECT_EQ(response.exit_status(), 137u);
}

// The front (front.h): -v and delete as the shim binary's, start through the engine host
// when one runs, else through the daemon binary's `daemon` action.
TEST_F(BootstrapProcessTest, FrontPrintsTheShimsVersion) {
  ShimRun run = runShimBinary({"-v"}, scratch_->path(), "", {frontEnv()});
  EXPECT_EQ(run.exitCode, 0) << run.err;
  EXPECT_EQ(run.out, std::string(kShimName) + ":\n  Version:  9.8.7\n  Revision: test-rev\n\n");
}

TEST_F(BootstrapProcessTest, FrontWithoutAHostExecsTheDaemonBinary) {
  std::string pod = group("front");
  ShimRun run = runShimBinary(shimArgs("c1", "start"), podBundle("c1", pod), "the-options",
                              {frontEnv(), "RUNWASI_ENGINE_HOST=0"});
  ASSERT_EQ(run.exitCode, 0) << run.err;
  EXPECT_EQ(run.out, address(pod));
  std::string described = describe(address(pod));
  EXPECT_EQ(field(described, "id"), "c1") << described;
  EXPECT_EQ(field(described, "options"), "the-options") << described;
  EXPECT_EQ(field(described, "hosted"), "0") << described;
  EXPECT_EQ(field(described, "ttrpc"), kFakeTtrpc) << described;
  EXPECT_EQ(field(described, "bundle"), (scratch_->path() / "c1").string()) << described;
  auto path = socketPathOf(address(pod));
  ASSERT_TRUE(path);
  EXPECT_EQ(field(described, "socket"), *path) << described;
  std::vector<pid_t> daemons = daemonPids();
  ASSERT_EQ(daemons.size(), 1u);
  std::string cmdline = slurp(fs::path("/proc") / std::to_string(daemons[0]) / "cmdline");
  EXPECT_EQ(cmdline.find(std::string(kShimName) + '\0' + "daemon" + '\0' + *path + '\0'), 0u)
      << "the daemon binary's hidden action, then start's arguments";
  // A second container of the pod joins the daemon, as with the shim binary itself.
  ShimRun second = runShimBinary(shimArgs("c2", "start"), podBundle("c2", pod), "",
                                 {frontEnv(), "RUNWASI_ENGINE_HOST=0"});
  ASSERT_EQ(second.exitCode, 0) << second.err;
  EXPECT_EQ(daemonPids().size(), 1u);
}

TEST_F(BootstrapProcessTest, FrontStartsItsDaemonsThroughTheEngineHost) {
  std::string env = std::string(kHostEnv) + "=1";
  HostedStart hosted = startUntilHosted({frontEnv(), env}, "fronted", "opts");
  ASSERT_EQ(hosted.run.exitCode, 0) << hosted.run.err;
  ASSERT_EQ(field(hosted.described, "hosted"), "1") << hosted.described;
  EXPECT_EQ(field(hosted.described, "options"), "opts") << hosted.described;
  EXPECT_EQ(hostPids().size(), 1u) << "the front launched the daemon binary's host";
}

TEST_F(BootstrapProcessTest, FrontWithoutItsDaemonBinaryFailsStartClearly) {
  std::string pod = group("nodaemon");
  fs::path empty = scratch_->path() / "no-daemons";
  fs::create_directories(empty);
  fs::path dir = podBundle("c1", pod);
  ShimRun run = runShimBinary(shimArgs("c1", "start"), dir, "",
                              {std::string(kFrontEnv) + "=" + empty.string()});
  expectFailedStartLeftNothing(run, pod);
  EXPECT_NE(run.err.find(std::string(kShimName) + ": the shim daemon binary " + kShimName +
                         " is in none of: "),
            std::string::npos)
      << run.err;
  EXPECT_NE(run.err.find(empty.string()), std::string::npos) << run.err;
  EXPECT_FALSE(fs::exists(dir / "address"));
}

TEST_F(BootstrapProcessTest, FrontWhoseDaemonBinaryCannotRunFailsStartWithTheExecError) {
  std::string pod = group("badexec");
  fs::path daemons = scratch_->path() / "bad-daemons";
  fs::create_directories(daemons);
  std::ofstream(daemons / kShimName) << "not a program\n";
  fs::permissions(daemons / kShimName, fs::perms::owner_all);
  fs::path dir = podBundle("c1", pod);
  ShimRun run = runShimBinary(shimArgs("c1", "start"), dir, "",
                              {std::string(kFrontEnv) + "=" + daemons.string(),
                               "RUNWASI_ENGINE_HOST=0"});
  expectFailedStartLeftNothing(run, pod);
  EXPECT_NE(run.err.find("exec " + (daemons / kShimName).string() + ": Exec format error"),
            std::string::npos)
      << run.err;
  EXPECT_FALSE(fs::exists(dir / "address")) << "the address file is removed again";
}

TEST_F(BootstrapProcessTest, FrontDeletePrintsADeleteResponse) {
  fs::path dir = podBundle("c1", group("frontdel"));
  ShimRun run = runShimBinary(shimArgs("c1", "delete"), dir, "", {frontEnv()});
  ASSERT_EQ(run.exitCode, 0) << run.err;
  containerd::task::v2::DeleteResponse response;
  ASSERT_TRUE(response.ParseFromString(run.out));
  EXPECT_EQ(response.exit_status(), 137u);
  EXPECT_GT(response.exited_at().seconds(), 0);
}

TEST_F(BootstrapProcessTest, TheDaemonActionWithoutAListeningSocketFails) {
  std::vector<std::string> args = {"daemon", "/run/containerd/s/none"};
  for (std::string& arg : shimArgs("c1", "start")) args.push_back(std::move(arg));
  ShimRun run = runShimBinary(args, scratch_->path());
  EXPECT_EQ(run.exitCode, 1);
  EXPECT_NE(run.err.find(std::string(kShimName) +
                         ": the daemon action needs the shim's listening socket as fd 3"),
            std::string::npos)
      << run.err;
  EXPECT_TRUE(daemonPids().empty());
}

TEST_F(BootstrapProcessTest, BadConfigJsonFailsStartClearly) {
  std::string pod = group("bad");
  fs::path dir = bundle(pod, "{\"annotations\": {");
  ShimRun run = runShimBinary(shimArgs(pod, "start"), dir);
  expectFailedStartLeftNothing(run, pod);
  EXPECT_NE(run.err.find(std::string(kShimName) + ": "), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("config.json is not valid JSON"), std::string::npos) << run.err;
  EXPECT_FALSE(fs::exists(dir / "address"));
}

// The daemon is start's fork: nothing of start's descriptors (containerd's pipes, the
// caller's files) may stay open in it, only stdio on /dev/null and its own sockets.
TEST_F(BootstrapProcessTest, TheDaemonKeepsOnlyItsSocketAndDevNull) {
  std::string pod = group("fds");
  ShimRun run = runShimBinary(shimArgs("c1", "start"), podBundle("c1", pod));
  ASSERT_EQ(run.exitCode, 0) << run.err;
  ASSERT_EQ(describe(address(pod)).substr(0, 6), "id=c1\n");  // serving: set up done
  ASSERT_EQ(daemonPids().size(), 1u);
  pid_t daemon = daemonPids().front();
  EXPECT_EQ(::getsid(daemon), daemon);  // a session of its own
  fs::path fds = fs::path("/proc") / std::to_string(daemon) / "fd";
  std::error_code ec;
  for (int stdio = 0; stdio <= 2; ++stdio)
    EXPECT_EQ(fs::read_symlink(fds / std::to_string(stdio), ec), "/dev/null") << stdio;
  EXPECT_TRUE(fs::read_symlink(fds / "3", ec).string().starts_with("socket:")) << ec.message();
  for (const auto& entry : fs::directory_iterator(fds, ec)) {
    std::string target = fs::read_symlink(entry.path(), ec).string();
    EXPECT_TRUE(target == "/dev/null" || target.starts_with("socket:") ||
                target.starts_with("anon_inode:"))
        << "fd " << entry.path().filename() << " -> " << target;
  }
}

}  // namespace
}  // namespace runwasi::shim

namespace runwasi::shim {
namespace {

// With an engine host: the first start forks its daemon itself and launches the host; once
// the host listens, starts hand their daemon to it. A hosted daemon got everything a
// start-forked one gets (flags, bundle and cwd, $TTRPC_ADDRESS, socket, options, command
// line, OOM score), is the host's child, and keeps serving when the host is killed.
TEST_F(BootstrapProcessTest, EngineHostForksTheDaemonsOnceItListens) {
  std::vector<std::string> hostEnv = {std::string(kHostEnv) + "=1"};
  std::string first = group("first");
  ShimRun run = runShimBinary(shimArgs("h0", "start"), podBundle("h0", first), "", hostEnv);
  ASSERT_EQ(run.exitCode, 0) << run.err;
  EXPECT_EQ(field(describe(address(first)), "hosted"), "0");

  HostedStart started = startUntilHosted(hostEnv, "h", "opts");
  run = started.run;
  const std::string& pod = started.group;
  const std::string& described = started.described;
  ASSERT_EQ(run.exitCode, 0) << run.err;
  ASSERT_EQ(field(described, "hosted"), "1") << "no start was hosted: " << described;
  std::vector<pid_t> hosts = hostPids();
  ASSERT_EQ(hosts.size(), 1u);
  EXPECT_EQ(field(described, "parent"), std::to_string(hosts[0]));
  fs::path bundle = scratch_->path() / field(described, "id");
  auto socket = socketPathOf(address(pod));
  ASSERT_TRUE(socket);
  EXPECT_EQ(field(described, "ns"), ns_);
  EXPECT_EQ(field(described, "bundle"), bundle.string());
  EXPECT_EQ(field(described, "cwd"), bundle.string());
  EXPECT_EQ(field(described, "ttrpc"), kFakeTtrpc);
  EXPECT_EQ(field(described, "socket"), *socket);
  EXPECT_EQ(field(described, "options"), "opts");
  EXPECT_EQ(run.out, address(pod));
  EXPECT_EQ(run.err, "");

  // Found by its command line (start's), like every daemon; the OOM score as start's fork.
  std::vector<pid_t> daemons = daemonPids();
  pid_t hosted = -1;
  for (pid_t pid : daemons)
    if (slurp("/proc/" + std::to_string(pid) + "/cmdline").find(field(described, "id")) !=
        std::string::npos)
      hosted = pid;
  ASSERT_GT(hosted, 0) << "the hosted daemon does not show start's command line";
  auto own = std::stoi(slurp("/proc/self/oom_score_adj"));
  EXPECT_EQ(std::stoi(slurp("/proc/" + std::to_string(hosted) + "/oom_score_adj")),
            std::min(own + 1, 1000));

  // The host dies: its daemons serve on; the next start forks its own daemon.
  ASSERT_EQ(::kill(hosts[0], SIGKILL), 0);
  ::waitpid(hosts[0], nullptr, 0);
  EXPECT_EQ(field(describe(address(pod)), "options"), "opts");
  std::string after = group("after");
  run = runShimBinary(shimArgs("z1", "start"), podBundle("z1", after), "", hostEnv);
  ASSERT_EQ(run.exitCode, 0) << run.err;
  EXPECT_EQ(field(describe(address(after)), "hosted"), "0");
}

// RUNWASI_ENGINE_HOST=0 in start's environment: no host is used or launched. A start whose
// process differs from the host's (here: a lower open-files limit) is refused by the host
// and forks its daemon itself; one with other engine settings is not served by it.
TEST_F(BootstrapProcessTest, EngineHostIsSkippedWhenDisabledOrDifferent) {
  std::vector<std::string> off = {std::string(kHostEnv) + "=1", "RUNWASI_ENGINE_HOST=0"};
  std::string a = group("off");
  ShimRun run = runShimBinary(shimArgs("o1", "start"), podBundle("o1", a), "", off);
  ASSERT_EQ(run.exitCode, 0) << run.err;
  EXPECT_EQ(field(describe(address(a)), "hosted"), "0");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(hostPids().size(), 0u) << "a host was launched";

  // A host, then a start with another RLIMIT_NOFILE.
  std::vector<std::string> on = {std::string(kHostEnv) + "=1"};
  HostedStart warm = startUntilHosted(on, "w");
  ASSERT_EQ(warm.run.exitCode, 0) << warm.run.err;
  ASSERT_EQ(field(warm.described, "hosted"), "1") << warm.described;
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
  rlimit lower = saved;
  lower.rlim_cur = std::min<rlim_t>(saved.rlim_cur, 512) - 1;
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &lower), 0);
  std::string b = group("different");
  run = runShimBinary(shimArgs("d1", "start"), podBundle("d1", b), "", on);
  ::setrlimit(RLIMIT_NOFILE, &saved);
  ASSERT_EQ(run.exitCode, 0) << run.err;
  EXPECT_EQ(field(describe(address(b)), "hosted"), "0");

  // Other engine settings in the environment (e.g. RUNWASI_V8_EXTRA_FLAGS): another host.
  std::vector<std::string> flags = on;
  flags.push_back("RUNWASI_V8_EXTRA_FLAGS=--stack-size=900");
  std::string c = group("other-flags");
  run = runShimBinary(shimArgs("f1", "start"), podBundle("f1", c), "", flags);
  ASSERT_EQ(run.exitCode, 0) << run.err;
  EXPECT_EQ(field(describe(address(c)), "hosted"), "0");
}

// Requests that are not a start's (no listening socket, not JSON) get an error reply and
// no daemon; the host serves the next start.
TEST_F(BootstrapProcessTest, EngineHostAnswersBadRequestsWithAnError) {
  std::vector<std::string> on = {std::string(kHostEnv) + "=1"};
  HostedStart warm = startUntilHosted(on, "w");
  ASSERT_EQ(warm.run.exitCode, 0) << warm.run.err;
  ASSERT_EQ(field(warm.described, "hosted"), "1") << warm.described;
  size_t daemons = daemonPids().size();

  // The host's name as the shims compute it: this binary, and their RUNWASI_* settings.
  ::setenv(kShimModeEnv, "1", 1);
  ::setenv(kHostEnv, "1", 1);
  std::string name =
      EngineHost({kShimName, "9.8.7", "test-rev"}, nullptr, nullptr).socketName();
  ::unsetenv(kShimModeEnv);
  ::unsetenv(kHostEnv);
  auto ask = [&](const std::string& data, int fd) -> std::string {
    UniqueFd socket(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path + 1, name.data(), name.size());
    auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
    if (::connect(socket.get(), reinterpret_cast<sockaddr*>(&address), length) != 0)
      return std::string("connect: ") + std::strerror(errno);
    std::vector<int> fds;
    if (fd >= 0) fds.push_back(fd);
    if (!sendFdMessage(socket.get(), data, fds, "engine host")) return "send failed";
    std::vector<UniqueFd> none;
    return receiveFdMessage(socket.get(), none, 1 << 20, "engine host").value_or("no reply");
  };
  EXPECT_EQ(ask("{}", -1), R"({"error":"no start request"})");
  UniqueFd devNull(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  std::string reply = ask("not json", devNull.get());
  EXPECT_NE(reply.find(R"({"error":"bad start request: )"), std::string::npos) << reply;
  EXPECT_EQ(daemonPids().size(), daemons);

  std::string g = group("after-bad");
  ASSERT_EQ(runShimBinary(shimArgs("ab", "start"), podBundle("ab", g), "", on).exitCode, 0);
  EXPECT_EQ(field(describe(address(g)), "hosted"), "1");
}

// What the host compares: the same for two processes alike, different for a child with
// another open-files limit; an error for a process that is gone.
TEST(EngineHostIdentity, DiffersWhereADaemonWouldInheritSomethingElse) {
  auto own = inheritedIdentity(::getpid());
  ASSERT_TRUE(own) << own.error().message;
  EXPECT_NE(own->find("ns mnt: mnt:["), std::string::npos) << *own;
  EXPECT_NE(own->find("Max open files"), std::string::npos) << *own;
  int ready[2];
  ASSERT_EQ(::pipe2(ready, O_CLOEXEC), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    rlimit lower{};
    ::getrlimit(RLIMIT_NOFILE, &lower);
    lower.rlim_cur = lower.rlim_cur > 100 ? lower.rlim_cur - 1 : 50;
    ::setrlimit(RLIMIT_NOFILE, &lower);
    (void)!::write(ready[1], "x", 1);
    ::pause();
    ::_exit(0);
  }
  ::close(ready[1]);
  char c;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  ::close(ready[0]);
  auto theirs = inheritedIdentity(child);
  ASSERT_TRUE(theirs) << theirs.error().message;
  EXPECT_NE(*theirs, *own);
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  EXPECT_FALSE(inheritedIdentity(child));
  EXPECT_EQ(inheritedIdentity(::getpid()).value_or(""), *own);
}

// The host action of a binary without a host is an error, not a hang.
TEST_F(BootstrapProcessTest, EngineHostActionWithoutAHostFails) {
  ShimRun run = runShimBinary({"engine-host"}, scratch_->path());
  EXPECT_EQ(run.exitCode, 1);
  EXPECT_EQ(run.err, std::string(kShimName) + ": this shim has no engine host\n");
}

}  // namespace
}  // namespace runwasi::shim
