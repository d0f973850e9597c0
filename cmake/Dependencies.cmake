# Every dependency is a Debian package (scripts/install-deps.sh installs them).
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
find_package(OpenSSL REQUIRED)
find_package(fmt REQUIRED)
find_package(GTest REQUIRED)
# zlib (zlib1g-dev): the image builder's gzip-compressed tar layers.
find_package(ZLIB REQUIRED)

# tl::expected (libexpected-dev) is header-only.
find_path(TL_EXPECTED_INCLUDE_DIR tl/expected.hpp REQUIRED)

# V8 from Debian's libnode: /usr when `apt-get install libnode-dev` worked, otherwise the
# project-local prefix that install-deps.sh extracts the .debs into. Binaries carry an
# RPATH to the library directory either way.
set(RUNWASI_NODE_PREFIX "" CACHE PATH "prefix holding include/node and lib/<triplet>/libnode.so")
# Note: nodesource's nodejs also installs /usr/include/node (Node 20, V8 11 headers) without
# libnode; only Debian's libnode-dev pairs /usr/include/node with libnode.so.108.
if(NOT RUNWASI_NODE_PREFIX)
  if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/.deps/libnode/usr/include/node/v8.h)
    set(RUNWASI_NODE_PREFIX ${CMAKE_CURRENT_SOURCE_DIR}/.deps/libnode/usr)
  elseif(EXISTS /usr/lib/x86_64-linux-gnu/libnode.so.108 AND EXISTS /usr/share/doc/libnode-dev)
    set(RUNWASI_NODE_PREFIX /usr)
  else()
    message(FATAL_ERROR "Debian's libnode (V8 10.2) not found: run scripts/install-deps.sh")
  endif()
endif()
find_path(RUNWASI_V8_INCLUDE_DIR v8.h PATHS ${RUNWASI_NODE_PREFIX}/include/node NO_DEFAULT_PATH REQUIRED)
find_library(RUNWASI_V8_LIBRARY NAMES libnode.so.108 node
  PATHS ${RUNWASI_NODE_PREFIX}/lib/x86_64-linux-gnu NO_DEFAULT_PATH REQUIRED)
get_filename_component(RUNWASI_V8_LIBRARY_DIR ${RUNWASI_V8_LIBRARY} DIRECTORY)
add_library(runwasi_v8_deps INTERFACE)
target_include_directories(runwasi_v8_deps SYSTEM INTERFACE ${RUNWASI_V8_INCLUDE_DIR})
target_link_libraries(runwasi_v8_deps INTERFACE ${RUNWASI_V8_LIBRARY} Threads::Threads)
target_link_options(runwasi_v8_deps INTERFACE "LINKER:-rpath,${RUNWASI_V8_LIBRARY_DIR}")

# wasm2c from Debian's wabt: the translator, the runtime header and library.
find_program(WASM2C_EXECUTABLE wasm2c REQUIRED)
find_program(WAT2WASM_EXECUTABLE wat2wasm REQUIRED)
find_path(WASM_RT_INCLUDE_DIR wasm-rt.h REQUIRED)
find_library(WASM_RT_IMPL_LIBRARY libwasm-rt-impl.a REQUIRED)

# Test modules are C built for wasm32-wasi with Debian's clang + wasi-libc.
find_program(WASM_CLANG_EXECUTABLE NAMES clang clang-14 REQUIRED)

# ---- containerd shim: ttrpc and the containerd protos (src/proto, src/ttrpc) ----
# protoc + libprotobuf 3.21 (protobuf-compiler, libprotobuf-dev).
find_package(Protobuf REQUIRED)
# The stripping step before protoc (src/proto/strip_gogoproto.py) is plain python3.
find_package(Python3 REQUIRED COMPONENTS Interpreter)
# containerd's, cgroups' and google.rpc's .proto files as Debian ships them
# (golang-github-containerd-containerd-dev, golang-github-containerd-cgroups-dev,
# golang-github-gogo-googleapis-dev).
set(RUNWASI_GOCODE_DIR /usr/share/gocode/src CACHE PATH "root of Debian's Go sources holding the .proto files")
find_file(RUNWASI_SHIM_PROTO github.com/containerd/containerd/runtime/v2/task/shim.proto
  PATHS ${RUNWASI_GOCODE_DIR} NO_DEFAULT_PATH REQUIRED)
# containerd's gRPC API (src/oci's containerd client): libgrpc++ and grpc_cpp_plugin
# (libgrpc++-dev, protobuf-compiler-grpc), through gRPC's CMake config
# (/usr/lib/x86_64-linux-gnu/cmake/grpc). Only the client and what links it use them.
find_package(gRPC CONFIG REQUIRED)
get_target_property(RUNWASI_GRPC_CPP_PLUGIN gRPC::grpc_cpp_plugin LOCATION)
if(NOT EXISTS "${RUNWASI_GRPC_CPP_PLUGIN}")
  message(FATAL_ERROR "grpc_cpp_plugin not found: run scripts/install-deps.sh")
endif()
# The ttrpc frame decoder fuzz target is built with clang++ and libFuzzer
# (libclang-rt-14-dev) whatever the project's compiler is; without them it is skipped.
find_program(RUNWASI_FUZZ_CXX NAMES clang++-14 clang++)
# containerd (Debian's `containerd` package) for tests against the real thing: the ttrpc
# client talks to containerd's own ttrpc Events service. Tests skip without it.
find_program(RUNWASI_CONTAINERD_EXECUTABLE containerd)
find_program(RUNWASI_CTR_EXECUTABLE ctr)

# ---- shim bootstrap (src/shim/bootstrap*) ----
# nlohmann-json3-dev (header-only) reads the bundle's config.json. It lives in /usr/include,
# so code may include <nlohmann/json.hpp> directly; runwasi_nlohmann_json names it for
# targets that want the dependency spelled out.
find_path(NLOHMANN_JSON_INCLUDE_DIR nlohmann/json.hpp REQUIRED)
add_library(runwasi_nlohmann_json INTERFACE)
target_include_directories(runwasi_nlohmann_json SYSTEM INTERFACE ${NLOHMANN_JSON_INCLUDE_DIR})
# The revision a shim's -v reports (ShimIdentity::revision): `git describe` when CMake
# configures, else "unknown". A shim main can pass it as a compile definition.
find_program(RUNWASI_GIT_EXECUTABLE git)
set(RUNWASI_GIT_REVISION unknown)
if(RUNWASI_GIT_EXECUTABLE)
  execute_process(
    COMMAND ${RUNWASI_GIT_EXECUTABLE} describe --always --dirty
    WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}
    OUTPUT_VARIABLE runwasi_git_describe
    OUTPUT_STRIP_TRAILING_WHITESPACE
    ERROR_QUIET
    RESULT_VARIABLE runwasi_git_result)
  if(runwasi_git_result EQUAL 0 AND runwasi_git_describe)
    set(RUNWASI_GIT_REVISION ${runwasi_git_describe})
  endif()
endif()
