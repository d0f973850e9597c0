#include "options.h"

#include <fmt/core.h>

namespace runwasi::oci_tar_builder {

const char* const kUsage =
    "usage: oci-tar-builder --name NAME[:TAG] [--repo REPO] [--tag TAG]\n"
    "                       --module FILE.wasm [--module FILE.wasm]...\n"
    "                       [--entrypoint PATH] [--cmd ARG]... -o OUT.tar\n"
    "  The image is named [REPO/]NAME[:TAG] (--repo alone names it REPO[:TAG]), normalized\n"
    "  as docker does (app -> docker.io/library/app:latest). Each module goes into the\n"
    "  rootfs layer as /<basename>; the entrypoint defaults to the first one.\n";

namespace {

tl::unexpected<Error> usage(std::string message) {
  return makeError(ErrorCode::kInvalidArgument, std::move(message));
}

// The name the flags ask for, before normalization: [REPO/]NAME[:TAG].
Expected<std::string> imageName(const std::optional<std::string>& name,
                                const std::optional<std::string>& repo,
                                const std::optional<std::string>& tag) {
  if (!name && !repo) return usage("missing --name (or --repo)");
  std::string full = repo && name ? *repo + "/" + *name : name ? *name : *repo;
  if (tag) {
    size_t slash = full.rfind('/');
    size_t colon = full.rfind(':');
    if (colon != std::string::npos && (slash == std::string::npos || colon > slash))
      return usage(fmt::format("--tag {} given for \"{}\", which already has a tag", *tag, full));
    full += ":" + *tag;
  }
  return full;
}

}  // namespace

Expected<Options> parseOptions(const std::vector<std::string>& args) {
  Options o;
  std::optional<std::string> name, repo, tag;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-h" || a == "--help") {
      o.help = true;
      return o;
    }
    // "--flag VALUE" or "--flag=VALUE".
    auto takes = [&](std::string_view flag) {
      return a == flag || a.starts_with(fmt::format("{}=", flag));
    };
    auto value = [&](std::string_view flag) -> Expected<std::string> {
      if (a.size() > flag.size()) return a.substr(flag.size() + 1);
      if (i + 1 >= args.size()) return usage(fmt::format("{} needs a value", flag));
      return args[++i];
    };
    if (takes("--name")) {
      TRY(name, value("--name"));
    } else if (takes("--repo")) {
      TRY(repo, value("--repo"));
    } else if (takes("--tag")) {
      TRY(tag, value("--tag"));
    } else if (takes("--module")) {
      TRY(std::string path, value("--module"));
      o.modules.push_back(std::move(path));
    } else if (takes("--layer")) {
      TRY(std::string spec, value("--layer"));
      o.layers.push_back(std::move(spec));
    } else if (takes("--entrypoint")) {
      TRY(o.entrypoint, value("--entrypoint"));
    } else if (takes("--cmd")) {
      TRY(std::string arg, value("--cmd"));
      o.cmd.push_back(std::move(arg));
    } else if (takes("-o") || takes("--output")) {
      TRY(o.output, value(a.starts_with("--") ? "--output" : "-o"));
    } else {
      return usage(fmt::format("unknown argument \"{}\"", a));
    }
  }
  if (!o.layers.empty())
    return makeError(ErrorCode::kUnimplemented,
                     fmt::format("--layer {}: extra layers are not supported yet; put the module "
                                 "in the rootfs with --module",
                                 o.layers.front()));
  TRY(std::string full, imageName(name, repo, tag));
  TRY(o.reference, oci::parseImageReference(full));
  if (o.output.empty()) return usage("missing -o OUT.tar");
  if (o.modules.empty()) return usage("missing --module FILE.wasm");
  return o;
}

}  // namespace runwasi::oci_tar_builder
