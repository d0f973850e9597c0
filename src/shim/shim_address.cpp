#include "shim/shim_address.h"

#include <unistd.h>

#include <cerrno>
#include <span>
#include <vector>

#include "common/file.h"
#include "common/sha256_portable.h"
#include "ttrpc/client.h"

namespace runwasi::shim {

std::string goCleanPath(std::string_view path) {
  const bool rooted = !path.empty() && path.front() == '/';
  std::vector<std::string_view> parts;
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t end = path.find('/', pos);
    if (end == std::string_view::npos) end = path.size();
    std::string_view part = path.substr(pos, end - pos);
    pos = end + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (!parts.empty() && parts.back() != "..") {
        parts.pop_back();
      } else if (!rooted) {
        parts.push_back(part);  // a relative path keeps leading ".."; "/.." is "/"
      }
      continue;
    }
    parts.push_back(part);
  }
  std::string out = rooted ? "/" : "";
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += '/';
    out += parts[i];
  }
  return out.empty() ? "." : out;
}

std::string socketAddress(std::string_view containerdAddress, std::string_view ns,
                          std::string_view group) {
  // filepath.Join skips empty elements, joins with "/" and cleans; all empty gives "".
  std::string joined;
  for (std::string_view element : {containerdAddress, ns, group}) {
    if (element.empty()) continue;
    if (!joined.empty()) joined += '/';
    joined += element;
  }
  if (!joined.empty()) joined = goCleanPath(joined);
  return "unix://" + std::string(kSocketDir) + "/" + portableSha256Hex(joined);
}

Expected<std::string> socketPathOf(std::string_view address) {
  constexpr std::string_view kScheme = "unix://";
  if (!address.starts_with(kScheme) || address.size() == kScheme.size()) {
    return makeError(ErrorCode::kInvalidArgument,
                     "shim address '" + std::string(address) + "' is not unix://PATH");
  }
  return std::string(address.substr(kScheme.size()));
}

bool daemonAnswers(const std::string& path, std::chrono::milliseconds timeout) {
  auto client = ttrpc::Client::connect(path);
  if (!client) return false;  // nothing listens: refused at once
  // Connect with no id: a live daemon answers NotFound (or OK) in well under a millisecond.
  auto answer = (*client)->call("containerd.task.v2.Task", "Connect", "", timeout);
  if (answer) return true;
  ttrpc::Code code = answer.error().code;
  return code != ttrpc::Code::kDeadlineExceeded && code != ttrpc::Code::kUnavailable;
}

Expected<void> removeSocket(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return makeSysError("removing the socket " + path);
  }
  return {};
}

Expected<void> writeAddressFile(const std::filesystem::path& bundle, std::string_view address) {
  std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(address.data()), address.size());
  TRY_VOID(writeFileAtomic(bundle / "address", bytes));
  return {};
}

}  // namespace runwasi::shim
