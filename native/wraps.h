// One Init per native wrap; addon.cc calls InitWraps once per env. A new
// handle type adds its declaration and its call here.
#pragma once

#include <napi.h>

namespace asyncuv {

void InitTimer(Napi::Env env, Napi::Object exports);
// Frees the Timer slots of `env` left once its loops are closed.
void ReleaseTimers(napi_env env);
void InitLoopWatchers(Napi::Env env, Napi::Object exports);
void InitSignal(Napi::Env env, Napi::Object exports);
void InitAsync(Napi::Env env, Napi::Object exports);
void InitTcp(Napi::Env env, Napi::Object exports);
void InitUdp(Napi::Env env, Napi::Object exports);
void InitFs(Napi::Env env, Napi::Object exports);
void InitDns(Napi::Env env, Napi::Object exports);
void InitPoll(Napi::Env env, Napi::Object exports);
void InitFsPoll(Napi::Env env, Napi::Object exports);
void InitFsEvent(Napi::Env env, Napi::Object exports);
void InitPipe(Napi::Env env, Napi::Object exports);
void InitTty(Napi::Env env, Napi::Object exports);
void InitStreamFunctions(Napi::Env env, Napi::Object exports);
void InitProcess(Napi::Env env, Napi::Object exports);
#ifdef ASYNCUV_BENCH
// Benchmark builds only (bench/native/bench_echo.cc): the C++-only echo
// server that the TCP benchmarks measure against, never in a user's addon.
void InitBenchEcho(Napi::Env env, Napi::Object exports);
#endif
void InitSync(Napi::Env env, Napi::Object exports);
#ifdef ASYNCUV_SANITIZE
// The ASan build only (sanitize/sanitizer_stats.cc): ASan's live heap bytes.
void InitSanitizerStats(Napi::Env env, Napi::Object exports);
#endif

inline void InitWraps(Napi::Env env, Napi::Object exports) {
  InitTimer(env, exports);
  InitLoopWatchers(env, exports);
  InitSignal(env, exports);
  InitAsync(env, exports);
  InitTcp(env, exports);
  InitUdp(env, exports);
  InitFs(env, exports);
  InitDns(env, exports);
  InitPoll(env, exports);
  InitFsPoll(env, exports);
  InitFsEvent(env, exports);
  InitPipe(env, exports);
  InitTty(env, exports);
  InitStreamFunctions(env, exports);
  InitProcess(env, exports);
#ifdef ASYNCUV_BENCH
  InitBenchEcho(env, exports);
#endif
  InitSync(env, exports);
#ifdef ASYNCUV_SANITIZE
  InitSanitizerStats(env, exports);
#endif
}

}  // namespace asyncuv
