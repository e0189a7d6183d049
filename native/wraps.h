// One Init per native wrap; addon.cc calls InitWraps once per env. A new
// handle type adds its Init here and in wraps.cc.
#pragma once

#include <napi.h>

namespace asyncuv {

void InitTimer(Napi::Env env, Napi::Object exports);
void InitLoopWatchers(Napi::Env env, Napi::Object exports);
void InitSignal(Napi::Env env, Napi::Object exports);
void InitAsync(Napi::Env env, Napi::Object exports);
void InitSync(Napi::Env env, Napi::Object exports);

inline void InitWraps(Napi::Env env, Napi::Object exports) {
  InitTimer(env, exports);
  InitLoopWatchers(env, exports);
  InitSignal(env, exports);
  InitAsync(env, exports);
  InitSync(env, exports);
}

}  // namespace asyncuv
