#include "shim/bootstrap_flags.h"

#include <optional>

namespace runwasi::shim {
namespace {

// The flags containerd 1.6's shim package defines, in one table.
struct FlagSpec {
  std::string_view name;
  std::string ShimFlags::*text = nullptr;  // value flags
  bool ShimFlags::*boolean = nullptr;      // bool flags
};

constexpr FlagSpec kFlags[] = {
    {"namespace", &ShimFlags::ns},
    {"address", &ShimFlags::address},
    {"publish-binary", &ShimFlags::publishBinary},
    {"id", &ShimFlags::id},
    {"bundle", &ShimFlags::bundle},
    {"socket", &ShimFlags::socket},
    {"debug", nullptr, &ShimFlags::debug},
    {"v", nullptr, &ShimFlags::version},
};

const FlagSpec* findFlag(std::string_view name) {
  for (const FlagSpec& spec : kFlags) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

// strconv.ParseBool, which Go's flag package uses for "-flag=value".
std::optional<bool> parseGoBool(std::string_view text) {
  for (std::string_view yes : {"1", "t", "T", "true", "TRUE", "True"}) {
    if (text == yes) return true;
  }
  for (std::string_view no : {"0", "f", "F", "false", "FALSE", "False"}) {
    if (text == no) return false;
  }
  return std::nullopt;
}

tl::unexpected<Error> usageError(std::string message) {
  return makeError(ErrorCode::kInvalidArgument, std::move(message));
}

std::optional<ShimAction> parseAction(std::string_view word) {
  if (word == "start") return ShimAction::kStart;
  if (word == "delete") return ShimAction::kDelete;
  return std::nullopt;
}

Expected<void> checkRequired(const ShimFlags& flags) {
  if (flags.version) return {};
  if (flags.action == ShimAction::kNone) {
    return usageError("no action given: expected start or delete (or -v)");
  }
  // The same message as Go's shim.
  if (flags.ns.empty()) return usageError("shim namespace cannot be empty");
  if (flags.id.empty()) return usageError("flag -id is required");
  if (flags.action != ShimAction::kDelete && flags.address.empty()) {
    return usageError("flag -address is required");
  }
  return {};
}

}  // namespace

Expected<ShimFlags> parseShimFlags(std::span<const std::string> args) {
  ShimFlags flags;
  size_t i = 0;
  for (; i < args.size(); ++i) {
    std::string_view arg = args[i];
    if (arg == "--") {
      ++i;
      break;
    }
    if (arg.size() < 2 || arg[0] != '-') break;  // the first non-flag argument
    std::string_view body = arg.substr(arg[1] == '-' ? 2 : 1);
    if (body.empty() || body[0] == '-' || body[0] == '=') {
      return usageError("bad flag syntax: " + std::string(arg));
    }
    std::optional<std::string_view> inlineValue;
    if (size_t eq = body.find('='); eq != std::string_view::npos) {
      inlineValue = body.substr(eq + 1);
      body = body.substr(0, eq);
    }
    const FlagSpec* spec = findFlag(body);
    if (spec == nullptr) {
      return usageError("flag provided but not defined: -" + std::string(body));
    }
    if (spec->boolean != nullptr) {
      std::optional<bool> value = inlineValue ? parseGoBool(*inlineValue) : true;
      if (!value) {
        return usageError("invalid boolean value \"" + std::string(*inlineValue) + "\" for -" +
                          std::string(body));
      }
      flags.*(spec->boolean) = *value;
      continue;
    }
    if (inlineValue) {
      flags.*(spec->text) = std::string(*inlineValue);
    } else if (i + 1 < args.size()) {
      flags.*(spec->text) = args[++i];
    } else {
      return usageError("flag needs an argument: -" + std::string(body));
    }
  }
  if (i < args.size()) {
    std::optional<ShimAction> action = parseAction(args[i]);
    if (!action) {
      return usageError("unknown action \"" + args[i] + "\": expected start or delete");
    }
    flags.action = *action;
    if (i + 1 < args.size()) {
      return usageError("unexpected argument \"" + args[i + 1] + "\" after the action");
    }
  }
  TRY_VOID(checkRequired(flags));
  return flags;
}

}  // namespace runwasi::shim
