// The V8 engine as a plugin (see plugin.h): runwasi-engine-v8.so.
#include "engine/plugin.h"
#include "engine/v8/v8_engine.h"

RUNWASI_PLUGIN_EXPORT const char* runwasi_engine_plugin_abi() {
  return RUNWASI_PLUGIN_ABI;
}

RUNWASI_PLUGIN_EXPORT runwasi::engine::Engine* runwasi_engine_plugin_create() {
  return runwasi::engine::makeV8Engine().release();
}
