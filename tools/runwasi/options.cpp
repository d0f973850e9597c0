#include "options.h"

#include <fmt/core.h>

namespace runwasi::cli {

const char* const kUsage =
    "usage: runwasi run [--engine NAME] [--dir HOST[::GUEST]]... [--env K=V]... [--inherit-env]\n"
    "                   [--cache-dir DIR] [--no-cache] [--stub-unknown-imports] [-v]\n"
    "                   module.wasm[#func] [args...]\n"
    "       runwasi compile [--engine NAME] [--cache-dir DIR] module.wasm...\n"
    "       runwasi --version\n";

namespace {

tl::unexpected<Error> usage(std::string message) {
  return makeError(ErrorCode::kInvalidArgument, std::move(message));
}

// "--name=value" or "--name value": the value, advancing i past it when separate.
Expected<std::string> value(const std::vector<std::string>& args, size_t& i,
                            std::string_view name) {
  const std::string& arg = args[i];
  if (arg.size() > name.size() && arg[name.size()] == '=') return arg.substr(name.size() + 1);
  if (i + 1 >= args.size()) return usage(fmt::format("{} needs a value", name));
  return args[++i];
}

Expected<wasi::Preopen> parseDir(const std::string& spec) {
  size_t sep = spec.find("::");
  wasi::Preopen p;
  p.hostPath = spec.substr(0, sep);
  p.guestPath = sep == std::string::npos ? spec : spec.substr(sep + 2);
  if (p.hostPath.empty() || p.guestPath.empty())
    return usage(fmt::format("--dir {}: expected HOST or HOST::GUEST", spec));
  return p;
}

}  // namespace

Expected<Options> parseOptions(const std::vector<std::string>& args) {
  Options o;
  if (args.empty()) return usage("missing command");
  const std::string& cmd = args[0];
  if (cmd == "--version" || cmd == "version") {
    o.command = Command::kVersion;
    return o;
  }
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    o.command = Command::kHelp;
    return o;
  }
  if (cmd == "run") {
    o.command = Command::kRun;
  } else if (cmd == "compile") {
    o.command = Command::kCompile;
  } else {
    return usage(fmt::format("unknown command \"{}\"", cmd));
  }

  size_t i = 1;
  for (; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto is = [&](std::string_view name) {
      return a == name || (a.starts_with(name) && a.size() > name.size() && a[name.size()] == '=');
    };
    if (a == "--") {
      ++i;
      break;
    }
    if (a.empty() || a[0] != '-') break;
    if (is("--engine")) {
      TRY(o.engine, value(args, i, "--engine"));
    } else if (is("--dir")) {
      TRY(std::string spec, value(args, i, "--dir"));
      TRY(wasi::Preopen p, parseDir(spec));
      o.dirs.push_back(std::move(p));
    } else if (is("--env")) {
      TRY(std::string kv, value(args, i, "--env"));
      if (kv.find('=') == std::string::npos || kv[0] == '=')
        return usage(fmt::format("--env {}: expected KEY=VALUE", kv));
      o.env.push_back(std::move(kv));
    } else if (a == "--inherit-env") {
      o.inheritEnv = true;
    } else if (is("--cache-dir")) {
      TRY(o.cacheDir, value(args, i, "--cache-dir"));
    } else if (a == "--no-cache") {
      o.useCache = false;
    } else if (a == "--stub-unknown-imports") {
      o.stubUnknownImports = true;
    } else if (a == "-v" || a == "--verbose") {
      o.verbose = true;
    } else {
      return usage(fmt::format("unknown option \"{}\"", a));
    }
  }
  if (i >= args.size()) return usage("missing module");
  if (o.command == Command::kRun) {
    o.modules.push_back(args[i]);
    o.guestArgs.assign(args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
  } else {
    o.modules.assign(args.begin() + static_cast<std::ptrdiff_t>(i), args.end());
  }
  return o;
}

}  // namespace runwasi::cli
