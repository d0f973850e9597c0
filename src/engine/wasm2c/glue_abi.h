// The C ABI between the engine (C++) and the generated glue inside each module's .so.
// One definition serves both sides: the C++ engine compiles RUNWASI_W2C_ABI_DEFS, and the
// glue generator pastes its text (RUNWASI_W2C_ABI_TEXT) into every generated glue file.
#pragma once

#include <cstdint>

// Bumped whenever anything below changes: a .so built for another ABI is never loaded.
#define RUNWASI_W2C_ABI_VERSION 1

// clang-format off
#define RUNWASI_W2C_ABI_DEFS                                                                  \
  /* Filled by the engine for one run. `call` is the WASI dispatch: it returns the errno  */  \
  /* and sets *unwind when the guest must stop (proc_exit, host failure). It returns      */  \
  /* normally, always: the glue longjmps afterwards, never from inside the host.          */  \
  typedef struct runwasi_w2c_host {                                                           \
    void* ctx;                                                                                \
    uint32_t (*call)(void* ctx, uint32_t function_id, uint8_t* memory, uint64_t memory_size, \
                     const uint64_t* args, int* unwind);                                      \
  } runwasi_w2c_host;                                                                         \
  /* How a run ended. */                                                                      \
  enum runwasi_w2c_status {                                                                   \
    RUNWASI_W2C_RETURNED = 0,       /* the export returned */                                 \
    RUNWASI_W2C_UNWOUND = 1,        /* the host asked to stop (proc_exit) */                  \
    RUNWASI_W2C_TRAPPED = 2,        /* a wasm trap; trap holds the wasm_rt_trap_t */          \
    RUNWASI_W2C_STUB_CALLED = 3,    /* a stubbed non-WASI import was called; detail names it */ \
    RUNWASI_W2C_NO_SUCH_EXPORT = 4, /* no exported () -> () function of that name */          \
  };                                                                                          \
  typedef struct runwasi_w2c_outcome {                                                        \
    int32_t status;                                                                           \
    uint32_t trap;                                                                            \
    const char* detail; /* static storage inside the .so; valid until dlclose */             \
  } runwasi_w2c_outcome;                                                                      \
  /* What the .so says about itself (checked after dlopen). */                               \
  typedef struct runwasi_w2c_module_info {                                                           \
    uint32_t abi_version;                                                                     \
    const char* module_digest;                                                                \
    const char* load_key;                                                                     \
  } runwasi_w2c_module_info;                                                                       \
  typedef int32_t (*runwasi_w2c_run_fn)(const runwasi_w2c_host* host, const char* export_name, \
                                        runwasi_w2c_outcome* outcome);
// clang-format on

#define RUNWASI_W2C_STRINGIFY_(...) #__VA_ARGS__
#define RUNWASI_W2C_STRINGIFY(...) RUNWASI_W2C_STRINGIFY_(__VA_ARGS__)
#define RUNWASI_W2C_ABI_TEXT RUNWASI_W2C_STRINGIFY(RUNWASI_W2C_ABI_DEFS)

// The symbols every glue file exports.
#define RUNWASI_W2C_RUN_SYMBOL "runwasi_w2c_run"
#define RUNWASI_W2C_INFO_SYMBOL "runwasi_w2c_info"

extern "C" {
RUNWASI_W2C_ABI_DEFS
}
