// sanitizerAllocatedBytes(): the bytes in live malloc() blocks of the whole
// process as AddressSanitizer's allocator counts them, or -1 when the
// process does not run with ASan's runtime. Under ASan, RSS also holds the
// quarantine (freed blocks kept unreused to catch use-after-free, up to
// 256 MiB by default), the shadow memory and the redzones, so a test that
// bounds the memory a process holds measures this instead of RSS there
// (scripts/slow-peer.ts). The symbol is looked up at run time: the runtime
// is preloaded into an uninstrumented node, and a normal build has none.
#include <dlfcn.h>
#include <napi.h>

#include "wraps.h"

namespace asyncuv {
namespace {

using AllocatedBytes = size_t (*)();

Napi::Value SanitizerAllocatedBytes(const Napi::CallbackInfo& info) {
  static const auto allocated = reinterpret_cast<AllocatedBytes>(
      dlsym(RTLD_DEFAULT, "__sanitizer_get_current_allocated_bytes"));
  double bytes = allocated != nullptr ? static_cast<double>(allocated()) : -1;
  return Napi::Number::New(info.Env(), bytes);
}

}  // namespace

void InitSanitizerStats(Napi::Env env, Napi::Object exports) {
  exports.Set("sanitizerAllocatedBytes",
              Napi::Function::New(env, SanitizerAllocatedBytes, "sanitizerAllocatedBytes"));
}

}  // namespace asyncuv
