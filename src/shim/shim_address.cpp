#include "shim/shim_address.h"

#include <unistd.h>

#include <cerrno>
#include <span>
#include <vector>

#include "common/file.h"
#include "ttrpc/unix_socket.h"

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
  std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(joined.data()), joined.size());
  return "unix://" + std::string(kSocketDir) + "/" + sha256Hex(bytes);
}

Expected<std::string> socketPathOf(std::string_view address) {
  constexpr std::string_view kScheme = "unix://";
  if (!address.starts_with(kScheme) || address.size() == kScheme.size()) {
    return makeError(ErrorCode::kInvalidArgument,
                     "shim address '" + std::string(address) + "' is not unix://PATH");
  }
  return std::string(address.substr(kScheme.size()));
}

bool canConnect(const std::string& path) {
  // A connect to a listening unix socket completes from the backlog at once, even before
  // the daemon accepts; a file without a listener refuses at once.
  return ttrpc::connectUnix(path).has_value();
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
