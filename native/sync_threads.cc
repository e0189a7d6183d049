// Thread identity and liveness for the sync primitives (sync/).
//
// The primitives keep their state in SharedArrayBuffers and store the id of
// the owning thread in a lock word. An id alone cannot tell a waiter that
// the owner died holding the lock, so this file keeps a process-wide set of
// the ids of threads whose env is still alive. Each env (main thread or
// worker) gets a fresh id when the addon is initialized in it, and an env
// cleanup hook removes that id when the env is torn down: on natural worker
// exit, on worker.terminate() and on process exit. Ids are never reused, so
// a stale id in a lock word can never name a newer, live thread.
//
// The set is read by waiters whose timed wait slice expired (rarely) and
// written twice per thread lifetime, hence a libuv rwlock.
#include <napi.h>
#include <uv.h>

#include <atomic>
#include <cstdint>
#include <unordered_set>

#include "wraps.h"

namespace asyncuv {
namespace {

// The lock words keep the owner id in their low 30 bits (sync/word-lock.ts).
constexpr int32_t kMaxThreadId = (1 << 30) - 1;

uv_once_t registry_once = UV_ONCE_INIT;
uv_rwlock_t registry_lock;
// Leaked on purpose: workers may still tear down while the process exits.
std::unordered_set<int32_t>* live_threads = nullptr;
std::atomic<int32_t> next_thread_id{1};

void InitRegistry() {
  uv_rwlock_init(&registry_lock);
  live_threads = new std::unordered_set<int32_t>();
}

// Runs on the env's own thread while the env is torn down; no JS runs.
void OnEnvCleanup(void* arg) {
  auto id = static_cast<int32_t>(reinterpret_cast<intptr_t>(arg));
  uv_rwlock_wrlock(&registry_lock);
  live_threads->erase(id);
  uv_rwlock_wrunlock(&registry_lock);
}

// isThreadAlive(id: number): boolean. Runs on any JS thread. Anything that
// is not a known id (wrong type, out of range) is reported as not alive.
Napi::Value IsThreadAlive(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber()) return Napi::Boolean::New(env, false);
  int32_t id = info[0].As<Napi::Number>().Int32Value();
  uv_rwlock_rdlock(&registry_lock);
  bool alive = live_threads->count(id) != 0;
  uv_rwlock_rdunlock(&registry_lock);
  return Napi::Boolean::New(env, alive);
}

}  // namespace

// Runs once per env, on its thread, when the addon is loaded there.
void InitSync(Napi::Env env, Napi::Object exports) {
  uv_once(&registry_once, InitRegistry);
  int32_t id = next_thread_id.fetch_add(1);
  if (id > kMaxThreadId) {
    // 2^30 threads in one process: ids would no longer fit the lock words.
    // Such a thread cannot use the sync primitives (syncThreadId is 0, which
    // the TS layer refuses) rather than alias another thread's id.
    exports.Set("syncThreadId", Napi::Number::New(env, 0));
  } else {
    uv_rwlock_wrlock(&registry_lock);
    live_threads->insert(id);
    uv_rwlock_wrunlock(&registry_lock);
    void* arg = reinterpret_cast<void*>(static_cast<intptr_t>(id));
    napi_add_env_cleanup_hook(env, OnEnvCleanup, arg);
    exports.Set("syncThreadId", Napi::Number::New(env, id));
  }
  exports.Set("isThreadAlive", Napi::Function::New(env, IsThreadAlive, "isThreadAlive"));
}

}  // namespace asyncuv
