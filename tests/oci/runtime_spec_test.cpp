// parseRuntimeSpec / readRuntimeSpec / envValue: the parts of a bundle's config.json the
// shims act on, and an InvalidArgument naming the field for every malformed one.
#include "oci/runtime_spec.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "../support/scratch_dir.h"

namespace runwasi::oci {
namespace {

namespace fs = std::filesystem;

// Expects `json` to be rejected as InvalidArgument with a message containing `needle`.
void expectInvalid(std::string_view json, std::string_view needle) {
  auto spec = parseRuntimeSpec(json);
  ASSERT_FALSE(spec) << "accepted: " << json;
  EXPECT_EQ(spec.error().code, ErrorCode::kInvalidArgument) << spec.error().message;
  EXPECT_NE(spec.error().message.find(needle), std::string::npos)
      << "message \"" << spec.error().message << "\" does not contain \"" << needle << "\"";
}

TEST(RuntimeSpec, ParsesAFullSpec) {
  auto spec = parseRuntimeSpec(R"({
    "ociVersion": "1.0.2",
    "process": {
      "terminal": false,
      "user": {"uid": 0, "gid": 0},
      "args": ["/app/main.wasm#run", "--flag", "x y"],
      "env": ["PATH=/usr/bin:/bin", "A=1", "EMPTY="],
      "cwd": "/work"
    },
    "root": {"path": "/var/lib/rootfs", "readonly": true},
    "hostname": "ignored",
    "annotations": {"io.kubernetes.cri.container-type": "container", "empty": ""}
  })");
  ASSERT_TRUE(spec) << spec.error().message;
  EXPECT_FALSE(spec->process.terminal);
  EXPECT_EQ(spec->process.args, (std::vector<std::string>{"/app/main.wasm#run", "--flag", "x y"}));
  EXPECT_EQ(spec->process.env, (std::vector<std::string>{"PATH=/usr/bin:/bin", "A=1", "EMPTY="}));
  EXPECT_EQ(spec->process.cwd, "/work");
  EXPECT_EQ(spec->rootPath, "/var/lib/rootfs");
  EXPECT_TRUE(spec->rootReadonly);
  EXPECT_EQ(spec->annotations,
            (std::map<std::string, std::string>{{"io.kubernetes.cri.container-type", "container"},
                                                {"empty", ""}}));
}

TEST(RuntimeSpec, DefaultsForOptionalFields) {
  auto spec = parseRuntimeSpec(R"({"process": {"args": ["hello.wasm"]}})");
  ASSERT_TRUE(spec) << spec.error().message;
  EXPECT_EQ(spec->process.args, std::vector<std::string>{"hello.wasm"});
  EXPECT_TRUE(spec->process.env.empty());
  EXPECT_EQ(spec->process.cwd, "/");
  EXPECT_FALSE(spec->process.terminal);
  EXPECT_EQ(spec->rootPath, "rootfs");
  EXPECT_FALSE(spec->rootReadonly);
  EXPECT_TRUE(spec->annotations.empty());

  auto terminal = parseRuntimeSpec(R"({"process": {"terminal": true, "args": ["a"]}})");
  ASSERT_TRUE(terminal) << terminal.error().message;
  EXPECT_TRUE(terminal->process.terminal);
}

TEST(RuntimeSpec, NotJson) {
  expectInvalid("{\"process\": ", "not valid JSON");
  expectInvalid("", "not valid JSON");
  expectInvalid("process: {args: [a]}", "not valid JSON");
}

TEST(RuntimeSpec, NotAnObject) {
  expectInvalid("[1, 2]", "JSON object");
  expectInvalid("\"process\"", "JSON object");
  expectInvalid("null", "JSON object");
}

TEST(RuntimeSpec, NoProcess) {
  expectInvalid("{}", "process");
  expectInvalid(R"({"root": {"path": "rootfs"}})", "process is missing");
  expectInvalid(R"({"process": ["args"]})", "process is missing");
}

TEST(RuntimeSpec, NoArgs) {
  expectInvalid(R"({"process": {"cwd": "/"}})", "process.args is missing");
  expectInvalid(R"({"process": {"args": null}})", "process.args is empty");
}

TEST(RuntimeSpec, EmptyArgs) {
  expectInvalid(R"({"process": {"args": []}})", "process.args is empty");
  expectInvalid(R"({"process": {"args": ["", "x"]}})", "process.args is empty");
}

TEST(RuntimeSpec, ArgsNotStrings) {
  expectInvalid(R"({"process": {"args": ["a.wasm", 1]}})", "process.args");
  expectInvalid(R"({"process": {"args": [null]}})", "process.args");
  expectInvalid(R"({"process": {"args": "a.wasm"}})", "process.args must be an array");
}

TEST(RuntimeSpec, EnvNotAnArray) {
  expectInvalid(R"({"process": {"args": ["a"], "env": "A=1"}})", "process.env must be an array");
  expectInvalid(R"({"process": {"args": ["a"], "env": {"A": "1"}}})", "process.env");
  expectInvalid(R"({"process": {"args": ["a"], "env": ["A=1", 2]}})", "process.env");
}

TEST(RuntimeSpec, RelativeCwd) {
  expectInvalid(R"({"process": {"args": ["a"], "cwd": "work"}})", "process.cwd");
  expectInvalid(R"({"process": {"args": ["a"], "cwd": "work"}})", "\"work\"");
  expectInvalid(R"({"process": {"args": ["a"], "cwd": ""}})", "absolute");
  expectInvalid(R"({"process": {"args": ["a"], "cwd": 5}})", "process.cwd must be a string");
}

TEST(RuntimeSpec, TerminalNotABool) {
  expectInvalid(R"({"process": {"terminal": "true", "args": ["a"]}})",
                "process.terminal must be a boolean");
  expectInvalid(R"({"process": {"terminal": 1, "args": ["a"]}})", "process.terminal");
}

TEST(RuntimeSpec, RootFieldsOfTheWrongType) {
  expectInvalid(R"({"process": {"args": ["a"]}, "root": "rootfs"})", "root must be an object");
  expectInvalid(R"({"process": {"args": ["a"]}, "root": {"path": 1}})",
                "root.path must be a string");
  expectInvalid(R"({"process": {"args": ["a"]}, "root": {"readonly": "yes"}})",
                "root.readonly must be a boolean");
}

TEST(RuntimeSpec, AnnotationValueNotAString) {
  expectInvalid(R"({"process": {"args": ["a"]}, "annotations": {"ok": "x", "bad": 1}})",
                "annotation bad must be a string");
  expectInvalid(R"({"process": {"args": ["a"]}, "annotations": ["x"]})",
                "annotations must be an object");
}

class ReadRuntimeSpec : public ::testing::Test {
 protected:
  void write(const std::string& text) {
    std::ofstream out(bundle_.path() / "config.json", std::ios::binary);
    out << text;
    ASSERT_TRUE(out.good());
  }

  runwasi::testing::ScratchDir bundle_{"runtime-spec-test-"};
};

TEST_F(ReadRuntimeSpec, ReadsConfigJson) {
  write(R"({"process": {"args": ["/m.wasm"], "env": ["K=V"]}, "root": {"path": "r"}})");
  auto spec = readRuntimeSpec(bundle_.path());
  ASSERT_TRUE(spec) << spec.error().message;
  EXPECT_EQ(spec->process.args, std::vector<std::string>{"/m.wasm"});
  EXPECT_EQ(spec->process.env, std::vector<std::string>{"K=V"});
  EXPECT_EQ(spec->rootPath, "r");
}

TEST_F(ReadRuntimeSpec, MissingFileNamesThePath) {
  auto spec = readRuntimeSpec(bundle_.path());
  ASSERT_FALSE(spec);
  EXPECT_EQ(spec.error().code, ErrorCode::kNotFound) << spec.error().message;
  std::string path = (bundle_.path() / "config.json").string();
  EXPECT_NE(spec.error().message.find(path), std::string::npos) << spec.error().message;

  auto noBundle = readRuntimeSpec(bundle_.path() / "missing");
  ASSERT_FALSE(noBundle);
  EXPECT_NE(noBundle.error().message.find((bundle_.path() / "missing" / "config.json").string()),
            std::string::npos)
      << noBundle.error().message;
}

TEST_F(ReadRuntimeSpec, MalformedFileNamesThePathAndTheProblem) {
  write(R"({"process": {"args": ["/m.wasm"])");
  auto spec = readRuntimeSpec(bundle_.path());
  ASSERT_FALSE(spec);
  EXPECT_EQ(spec.error().code, ErrorCode::kInvalidArgument) << spec.error().message;
  EXPECT_NE(spec.error().message.find((bundle_.path() / "config.json").string()), std::string::npos)
      << spec.error().message;
  EXPECT_NE(spec.error().message.find("not valid JSON"), std::string::npos) << spec.error().message;

  write(R"({"process": {"args": ["/m.wasm"], "cwd": "rel"}})");
  auto relative = readRuntimeSpec(bundle_.path());
  ASSERT_FALSE(relative);
  EXPECT_EQ(relative.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(relative.error().message.find("config.json"), std::string::npos)
      << relative.error().message;
  EXPECT_NE(relative.error().message.find("process.cwd"), std::string::npos)
      << relative.error().message;
}

TEST(EnvValue, LastOneWins) {
  std::vector<std::string> env{"PATH=/a", "HOME=/root", "PATH=/b:/c"};
  EXPECT_EQ(envValue(env, "PATH"), "/b:/c");
  EXPECT_EQ(envValue(env, "HOME"), "/root");
}

TEST(EnvValue, PrefixIsNotConfused) {
  EXPECT_EQ(envValue({"PATHX=/wrong", "PATH=/right", "XPATH=/wrong"}, "PATH"), "/right");
  EXPECT_EQ(envValue({"PATHX=/wrong"}, "PATH"), "");
  EXPECT_EQ(envValue({"PATH"}, "PATH"), "");
  EXPECT_EQ(envValue({"PAT=/short"}, "PATH"), "");
}

TEST(EnvValue, AbsentEmptyAndEqualsInTheValue) {
  EXPECT_EQ(envValue({}, "A"), "");
  EXPECT_EQ(envValue({"A=1"}, "B"), "");
  EXPECT_EQ(envValue({"A=1", "A="}, "A"), "");
  EXPECT_EQ(envValue({"A=x=y"}, "A"), "x=y");
}

}  // namespace
}  // namespace runwasi::oci
