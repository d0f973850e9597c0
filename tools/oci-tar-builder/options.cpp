#include "options.h"

#include <fmt/core.h>

namespace runwasi::oci_tar_builder {

const char* const kUsage =
    "usage: oci-tar-builder --name NAME[:TAG] [--repo REPO] [--tag TAG]\n"
    "                       --module FILE.wasm [--module FILE.wasm]...\n"
    "                       [--format rootfs|runwasi|artifact] [--as-artifact]\n"
    "                       [--layer TYPE=PATH]... [--entrypoint PATH[#FUNC]] [--cmd ARG]...\n"
    "                       -o OUT.tar\n"
    "  The image is named [REPO/]NAME[:TAG] (--repo alone names it REPO[:TAG]), normalized\n"
    "  as docker does (app -> docker.io/library/app:latest).\n"
    "  --format rootfs (default): linux/amd64, each module in the rootfs tar layer as\n"
    "    /<basename>; `ctr images import` unpacks it and `ctr run` starts it.\n"
    "  --format runwasi: wasip1/wasm, each module a layer of media type\n"
    "    application/vnd.bytecodealliance.wasm.component.layer.v0+wasm; for CRI, imported\n"
    "    with `ctr images import --all-platforms --no-unpack`.\n"
    "  --format artifact, --as-artifact: the CNCF Wasm OCI artifact (config\n"
    "    application/vnd.wasm.config.v0+json, layers application/wasm); no entrypoint or cmd.\n"
    "  --layer TYPE=PATH (Wasm formats): PATH stored as a layer of media type TYPE, after\n"
    "    the modules; tar layers (.tar, .tar+gzip) are listed in the config's diff_ids.\n"
    "  The entrypoint defaults to /<first module's basename>.\n";

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

struct FormatName {
  std::string_view name;
  oci::ImageFormat format;
};
constexpr FormatName kFormats[] = {{"rootfs", oci::ImageFormat::kRootfs},
                                   {"runwasi", oci::ImageFormat::kRunwasi},
                                   {"artifact", oci::ImageFormat::kWasmArtifact}};

Expected<oci::ImageFormat> parseFormat(std::string_view name) {
  for (const auto& f : kFormats)
    if (f.name == name) return f.format;
  return usage(fmt::format("--format {}: expected rootfs, runwasi or artifact", name));
}

// TYPE=PATH, split at the first '=' (a media type has none).
Expected<LayerOption> parseLayer(const std::string& spec) {
  size_t eq = spec.find('=');
  if (eq == std::string::npos) return usage(fmt::format("--layer {}: expected TYPE=PATH", spec));
  LayerOption layer{spec.substr(0, eq), spec.substr(eq + 1)};
  if (layer.mediaType.empty()) return usage(fmt::format("--layer {}: empty media type", spec));
  if (layer.path.empty()) return usage(fmt::format("--layer {}: empty path", spec));
  if (!oci::isMediaType(layer.mediaType))
    return usage(fmt::format("--layer {}: \"{}\" is not a media type (type/subtype, e.g. {})", spec,
                             layer.mediaType, oci::media_type::kLayerTar));
  return layer;
}

// The combinations that cannot make an image, once every flag is known.
Expected<void> checkCombination(const Options& o, const std::optional<oci::ImageFormat>& format,
                                bool asArtifact) {
  if (asArtifact && format && *format != oci::ImageFormat::kWasmArtifact)
    return usage("--as-artifact contradicts --format");
  if (o.format == oci::ImageFormat::kRootfs && !o.layers.empty())
    return usage("--layer needs a Wasm format (--format runwasi or --as-artifact)");
  if (o.format == oci::ImageFormat::kWasmArtifact && (o.entrypoint || !o.cmd.empty()))
    return usage(
        "--entrypoint and --cmd do not apply to the Wasm artifact (its config has "
        "neither)");
  return {};
}

}  // namespace

Expected<Options> parseOptions(const std::vector<std::string>& args) {
  Options o;
  std::optional<std::string> name, repo, tag;
  std::optional<oci::ImageFormat> format;
  bool asArtifact = false;
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
      TRY(LayerOption layer, parseLayer(spec));
      o.layers.push_back(std::move(layer));
    } else if (takes("--format")) {
      TRY(std::string formatName, value("--format"));
      TRY(format, parseFormat(formatName));
    } else if (a == "--as-artifact") {
      asArtifact = true;
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
  o.format = asArtifact ? oci::ImageFormat::kWasmArtifact : format.value_or(o.format);
  TRY_VOID(checkCombination(o, format, asArtifact));
  TRY(std::string full, imageName(name, repo, tag));
  TRY(o.reference, oci::parseImageReference(full));
  if (o.output.empty()) return usage("missing -o OUT.tar");
  if (o.modules.empty()) return usage("missing --module FILE.wasm");
  return o;
}

}  // namespace runwasi::oci_tar_builder
