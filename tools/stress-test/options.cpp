#include "options.h"

#include <charconv>
#include <cmath>
#include <optional>

#include <fmt/core.h>

namespace runwasi::stress {

const char* const kUsage =
    "usage: stress-test --image IMAGE [--mode mock|containerd] [--runtime NAME]\n"
    "                   [--count N] [--parallel M] [--warmup W] [--timeout DURATION]\n"
    "                   [--json FILE] [--namespace NS] [--address SOCK]\n"
    "                   [--work-dir DIR] [--snapshotter NAME] [--pod]\n"
    "                   [--shim PATH] [--shim-per-task] [--shim-log FILE] [--debug]\n"
    "                   [-- ARG...]\n"
    "  Runs N tasks (Create, Start, Wait, Delete), at most M at a time, after W warm-up\n"
    "  tasks (default M) that are checked but not measured. Reports tasks/s, latency\n"
    "  percentiles and every failure; exits 1 if any task failed or anything was left.\n"
    "  --mode mock (default): no containerd; IMAGE is a .wasm module, put in each task's\n"
    "    rootfs; the tool starts the runtime's shim (containerd-shim-NAME-vN on PATH or\n"
    "    beside this binary, or --shim) and serves the events it publishes. One shim\n"
    "    serves every task, as for a pod, unless --shim-per-task.\n"
    "  --mode containerd: through containerd's gRPC API at --address (default\n"
    "    /run/containerd/containerd.sock): IMAGE is an image in --namespace, as ctr run\n"
    "    takes it (a linux image unpacked for --snapshotter, default overlayfs, or a Wasm\n"
    "    image imported with --no-unpack); any runtime, runc too. A shim per task, as\n"
    "    for ctr run, unless --pod: the tasks then share one shim, as a pod's containers\n"
    "    do (they name a task the tool creates first, and never starts, in the spec\n"
    "    annotation io.kubernetes.cri.sandbox-id, which runc's shim and ours group by).\n"
    "  --runtime: io.containerd.NAME.vN; short names: runc (.v2), v8, wasm2c, null (.v1).\n"
    "  --timeout: per task (default 10s). ARGs follow the image's entrypoint, replacing\n"
    "    its Cmd (mock: follow the module).\n"
    "  --work-dir: where the tasks' bundles (mock) or stdout and stderr files\n"
    "    (containerd) go (default /dev/shm if a tmpfs, else $TMPDIR or /tmp).\n";

namespace {

tl::unexpected<Error> usage(std::string message) {
  return makeError(ErrorCode::kInvalidArgument, std::move(message));
}

Expected<size_t> parseCount(std::string_view flag, std::string_view text, size_t minimum) {
  size_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty())
    return usage(fmt::format("{} {}: not a whole number", flag, text));
  if (value < minimum) return usage(fmt::format("{} must be at least {}", flag, minimum));
  return value;
}

Expected<Mode> parseMode(std::string_view text) {
  for (Mode mode : {Mode::kMock, Mode::kContainerd})
    if (text == modeName(mode)) return mode;
  return usage(fmt::format("--mode {}: expected mock or containerd", text));
}

// One flag: its name, whether it takes a value, and what it does to the options (given
// its own name, for messages, and its value).
struct Flag {
  std::string_view name;
  bool takesValue;
  std::optional<Mode> onlyFor;  // the one mode the flag means something in
  Expected<void> (*apply)(Options&, std::string_view flag, std::string_view value);
};

template <std::string Options::*field>
Expected<void> setString(Options& o, std::string_view, std::string_view value) {
  o.*field = std::string(value);
  return {};
}

template <bool Options::*field>
Expected<void> setTrue(Options& o, std::string_view, std::string_view) {
  o.*field = true;
  return {};
}

template <auto field, size_t minimum>
Expected<void> setCount(Options& o, std::string_view flag, std::string_view value) {
  TRY(o.*field, parseCount(flag, value, minimum));
  return {};
}

Expected<void> setMode(Options& o, std::string_view, std::string_view value) {
  TRY(o.mode, parseMode(value));
  return {};
}

Expected<void> setTimeout(Options& o, std::string_view, std::string_view value) {
  TRY(o.timeout, parseDuration(value));
  return {};
}

constexpr std::optional<Mode> kAny, kMockOnly = Mode::kMock, kContainerdOnly = Mode::kContainerd;

constexpr Flag kFlags[] = {
    {"--mode", true, kAny, setMode},
    {"--runtime", true, kAny, setString<&Options::runtime>},
    {"--image", true, kAny, setString<&Options::image>},
    {"--count", true, kAny, setCount<&Options::count, 1>},
    {"--parallel", true, kAny, setCount<&Options::parallel, 1>},
    {"--warmup", true, kAny, setCount<&Options::warmup, 0>},
    {"--timeout", true, kAny, setTimeout},
    {"--json", true, kAny, setString<&Options::json>},
    {"--namespace", true, kAny, setString<&Options::ns>},
    {"--work-dir", true, kAny, setString<&Options::workDir>},
    {"--address", true, kContainerdOnly, setString<&Options::address>},
    {"--snapshotter", true, kContainerdOnly, setString<&Options::snapshotter>},
    {"--pod", false, kContainerdOnly, setTrue<&Options::pod>},
    {"--shim", true, kMockOnly, setString<&Options::shim>},
    {"--shim-per-task", false, kMockOnly, setTrue<&Options::shimPerTask>},
    {"--shim-log", true, kMockOnly, setString<&Options::shimLog>},
    {"--debug", false, kMockOnly, setTrue<&Options::debug>},
};

constexpr std::string_view kModeNames[] = {"mock", "containerd"};  // by Mode

}  // namespace

std::string_view modeName(Mode mode) {
  return kModeNames[static_cast<size_t>(mode)];
}

Expected<std::chrono::milliseconds> parseDuration(std::string_view text) {
  // The longest unit suffix first: "ms" before "m" and "s".
  static constexpr std::pair<std::string_view, double> kUnits[] = {
      {"ms", 1.0}, {"s", 1000.0}, {"m", 60'000.0}, {"", 1000.0}};
  for (auto [suffix, msPerUnit] : kUnits) {
    if (!text.ends_with(suffix)) continue;
    std::string_view number = text.substr(0, text.size() - suffix.size());
    double value = 0;
    auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
    if (ec != std::errc() || end != number.data() + number.size() || number.empty()) break;
    double ms = value * msPerUnit;
    if (!std::isfinite(ms) || ms < 1 || ms > 1e12) break;
    return std::chrono::milliseconds(static_cast<int64_t>(std::llround(ms)));
  }
  return usage(
      fmt::format("bad duration \"{}\": expected e.g. 500ms, 10s, 2m (at least 1ms)", text));
}

std::string fullRuntimeName(std::string_view runtime) {
  if (runtime.empty() || runtime.find_first_of("./") != std::string_view::npos)
    return std::string(runtime);
  if (runtime == "runc") return "io.containerd.runc.v2";
  return fmt::format("io.containerd.{}.v1", runtime);
}

Expected<std::string> shimBinaryName(std::string_view runtime) {
  size_t last = runtime.rfind('.');
  if (last == std::string_view::npos || last == 0 || last + 1 == runtime.size())
    return usage(
        fmt::format("runtime \"{}\" is not of the form io.containerd.NAME.VERSION", runtime));
  size_t before = runtime.rfind('.', last - 1);
  std::string_view name =
      runtime.substr(before == std::string_view::npos ? 0 : before + 1,
                     last - (before == std::string_view::npos ? 0 : before + 1));
  if (name.empty())
    return usage(
        fmt::format("runtime \"{}\" is not of the form io.containerd.NAME.VERSION", runtime));
  return fmt::format("containerd-shim-{}-{}", name, runtime.substr(last + 1));
}

Expected<Options> parseOptions(std::span<const std::string> args) {
  Options o;
  // Flags of one mode, checked once the mode is known (it may come after them).
  std::vector<const Flag*> modeFlagsGiven;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view a = args[i];
    if (a == "-h" || a == "--help") {
      o.help = true;
      return o;
    }
    if (a == "--") {
      o.args.assign(args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
      break;
    }
    std::string_view name = a.substr(0, a.find('='));
    const Flag* flag = nullptr;
    for (const Flag& f : kFlags)
      if (f.name == name) flag = &f;
    if (!flag) return usage(fmt::format("unknown argument \"{}\"", a));
    std::string_view value;
    if (name.size() < a.size()) {
      if (!flag->takesValue) return usage(fmt::format("{} takes no value", name));
      value = a.substr(name.size() + 1);
    } else if (flag->takesValue) {
      if (i + 1 >= args.size()) return usage(fmt::format("{} needs a value", name));
      value = args[++i];
    }
    if (flag->onlyFor) modeFlagsGiven.push_back(flag);
    TRY_VOID(flag->apply(o, flag->name, value));
  }
  if (o.image.empty()) return usage("missing --image");
  for (const Flag* flag : modeFlagsGiven)
    if (*flag->onlyFor != o.mode)
      return usage(fmt::format("{} is only for --mode {}", flag->name, modeName(*flag->onlyFor)));
  if (o.runtime.empty()) return usage("--runtime is empty");
  o.runtime = fullRuntimeName(o.runtime);
  return o;
}

}  // namespace runwasi::stress
