#include <gtest/gtest.h>

#include "oci/entrypoint.h"

namespace runwasi::oci {
namespace {

TEST(Entrypoint, DefaultsToStart) {
  Entrypoint e = parseEntrypoint("/app/hello.wasm");
  EXPECT_EQ(e.path, "/app/hello.wasm");
  EXPECT_EQ(e.func, "_start");
  EXPECT_EQ(e.name, "hello");
}

TEST(Entrypoint, FunctionAfterTheLastHash) {
  Entrypoint e = parseEntrypoint("dir#1/mod.wasm#greet");
  EXPECT_EQ(e.path, "dir#1/mod.wasm");
  EXPECT_EQ(e.func, "greet");
  EXPECT_EQ(e.name, "mod");
  EXPECT_EQ(parseEntrypoint("m.wasm#").func, "_start");
}

}  // namespace
}  // namespace runwasi::oci
