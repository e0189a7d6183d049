// Linked into the ASan build only (ASYNCUV_SANITIZE, scripts/test-asan.sh).
//
// sanitizerAllocatedBytes(): the bytes in live malloc() blocks of the whole
// process as AddressSanitizer's allocator counts them. Under ASan, RSS also
// holds the quarantine (freed blocks kept unreused to catch use-after-free,
// up to 256 MiB by default), the shadow memory and the redzones, so a test
// that bounds the memory a process holds measures this instead of RSS there
// (scripts/slow-peer.ts). Other builds do not have the function.
#include <napi.h>
#include <sanitizer/allocator_interface.h>

#include "wraps.h"

namespace asyncuv {
namespace {

Napi::Value SanitizerAllocatedBytes(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(),
                           static_cast<double>(__sanitizer_get_current_allocated_bytes()));
}

}  // namespace

void InitSanitizerStats(Napi::Env env, Napi::Object exports) {
  exports.Set("sanitizerAllocatedBytes",
              Napi::Function::New(env, SanitizerAllocatedBytes, "sanitizerAllocatedBytes"));
}

}  // namespace asyncuv
