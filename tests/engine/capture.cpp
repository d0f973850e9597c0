#include "capture.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>

#include "common/file.h"
#include "engine/artifact_cache.h"

namespace runwasi::testing {

std::filesystem::path modulePath(std::string_view name) {
  return std::filesystem::path(RUNWASI_TEST_MODULES_DIR) / (std::string(name) + ".wasm");
}

MemFile::MemFile(std::string_view content) : fd_(::memfd_create("test-stdio", MFD_CLOEXEC)) {
  if (!content.empty() &&
      ::write(fd_.get(), content.data(), content.size()) != static_cast<ssize_t>(content.size()))
    std::abort();
  ::lseek(fd_.get(), 0, SEEK_SET);
}

std::string MemFile::contents() const {
  auto bytes = readFd(fd_.get(), "memfd");
  return bytes ? std::string(bytes->begin(), bytes->end()) : std::string("<unreadable>");
}

RunOutput runModule(engine::Engine& engine, std::string_view module, const RunSpec& spec) {
  MemFile in(spec.stdinData), out, err;
  auto fail = [&](Error e) {
    return RunOutput{tl::unexpected(std::move(e)), out.contents(), err.contents()};
  };

  std::filesystem::path path = modulePath(module);
  auto bytes = readFile(path);
  if (!bytes) return fail(bytes.error());
  engine::ModuleSource source = engine::makeModuleSource(path.string(), std::move(*bytes));

  wasi::Config config;
  config.args.push_back(std::string(module) + ".wasm");
  config.args.insert(config.args.end(), spec.args.begin(), spec.args.end());
  config.env = spec.env;
  config.preopens = spec.preopens;
  config.stdinFd = in.fd();
  config.stdoutFd = spec.stdoutFd >= 0 ? spec.stdoutFd : out.fd();
  config.stderrFd = err.fd();
  auto host = wasi::Host::create(std::move(config));
  if (!host) return fail(host.error());

  UniqueFd artifact;
  if (spec.precompiled) {
    auto a =
        engine::precompiledArtifact(engine, source, engine::ArtifactCache(RUNWASI_TEST_CACHE_DIR));
    if (!a) return fail(a.error());
    artifact = std::move(*a);
  }
  engine::RunOptions options;
  options.function = spec.function;
  options.stubUnknownImports = spec.stubUnknownImports;
  options.beforeInstantiate = spec.beforeInstantiate;
  auto result = engine.run(source, artifact.get(), options, **host);
  host->reset();  // closes the guest's fds, flushing nothing: writes went straight to the memfds
  return RunOutput{std::move(result), out.contents(), err.contents()};
}

}  // namespace runwasi::testing
