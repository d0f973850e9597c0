#include "options.h"

#include <charconv>
#include <cmath>

#include <fmt/core.h>

namespace runwasi::stress {

const char* const kUsage =
    "usage: stress-test --image IMAGE [--mode mock|containerd] [--runtime NAME]\n"
    "                   [--count N] [--parallel M] [--warmup W] [--timeout DURATION]\n"
    "                   [--json FILE] [--namespace NS] [--address SOCK]\n"
    "                   [--shim PATH] [--shim-per-task] [--shim-log FILE] [--debug]\n"
    "                   [--work-dir DIR] [-- ARG...]\n"
    "  Runs N tasks (Create, Start, Wait, Delete), at most M at a time, after W warm-up\n"
    "  tasks (default M) that are checked but not measured. Reports tasks/s, latency\n"
    "  percentiles and every failure; exits 1 if any task failed or anything was left.\n"
    "  --mode mock (default): no containerd; IMAGE is a .wasm module, put in each task's\n"
    "    rootfs; the tool starts the runtime's shim (containerd-shim-NAME-vN on PATH or\n"
    "    beside this binary, or --shim) and serves the events it publishes. One shim\n"
    "    serves every task, as for a pod, unless --shim-per-task.\n"
    "  --mode containerd: through containerd at --address (IMAGE: an image reference).\n"
    "  --timeout: per task (default 10s). ARGs follow the entrypoint in the task's args.\n"
    "  --work-dir: where the mock's bundles go (default /dev/shm if a tmpfs, else /tmp).\n";

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
  bool mockOnly;
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

constexpr Flag kFlags[] = {
    {"--mode", true, false, setMode},
    {"--runtime", true, false, setString<&Options::runtime>},
    {"--image", true, false, setString<&Options::image>},
    {"--count", true, false, setCount<&Options::count, 1>},
    {"--parallel", true, false, setCount<&Options::parallel, 1>},
    {"--warmup", true, false, setCount<&Options::warmup, 0>},
    {"--timeout", true, false, setTimeout},
    {"--json", true, false, setString<&Options::json>},
    {"--namespace", true, false, setString<&Options::ns>},
    {"--address", true, false, setString<&Options::address>},
    {"--shim", true, true, setString<&Options::shim>},
    {"--shim-per-task", false, true, setTrue<&Options::shimPerTask>},
    {"--shim-log", true, true, setString<&Options::shimLog>},
    {"--debug", false, true, setTrue<&Options::debug>},
    {"--work-dir", true, true, setString<&Options::workDir>},
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
  std::vector<std::string_view> mockOnlyGiven;
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
    if (flag->mockOnly) mockOnlyGiven.push_back(flag->name);
    TRY_VOID(flag->apply(o, flag->name, value));
  }
  if (o.image.empty()) return usage("missing --image");
  if (o.mode != Mode::kMock && !mockOnlyGiven.empty())
    return usage(fmt::format("{} is only for --mode mock", mockOnlyGiven.front()));
  if (o.runtime.empty()) return usage("--runtime is empty");
  return o;
}

}  // namespace runwasi::stress
