// Per-environment state of the addon. Node loads the shared library once per
// process, so nothing here is static: the main thread and every worker each
// get their own AddonData through napi_set_instance_data.
#pragma once

#include <napi.h>
#include <uv.h>

#include <unordered_map>
#include <vector>

#include "stream_ids.h"

namespace asyncuv {

class LoopWrap;
class HandleBase;

// The callbacks the native side makes into JS, by the property of the wrap's
// JS object that holds each (kKeyNames in addon.cc). Callbacks live as
// properties of the wrap's own JS object (never as persistent references),
// so a wrap that is not pinned can be collected together with its callback.
//
// Native code never looks a callback up by name: a lookup from C++ is a
// generic property load on a fresh key string (Node-API 9 on Node 20 cannot
// keep a reference to a string), and it cost 13% of an embedded turn. The
// binding's loader hands over one emitter function per Key once
// (setEmitters, handles/binding.ts); Emit calls the Key's emitter with the
// wrap's JS object as `this`, and the emitter calls the property's function,
// if there is one, with the same arguments, where V8's inline caches make
// the lookup nearly free.
enum class Key : int {
  kOnEvent = 0,   // the handle's main callback (timer fired, signal, async, ...)
  kOnClose,       // the close callback
  kOnRead,        // stream data
  kOnConnection,  // a listening stream has a connection
  kOnConnect,     // an outgoing connection finished
  kOnWrite,       // a queued write finished
  kOnShutdown,    // a shutdown finished
  kOnSend,        // a queued datagram send finished
  kOnExit,        // a child process exited
  kCount
};

struct AddonData {
  explicit AddonData(napi_env env);
  ~AddonData();

  static AddonData* Get(napi_env env);

  // The emitter for `key` (see Key), or nullptr before setEmitters ran.
  napi_value Emitter(Key key);
  // Keeps the emitters: an array of Key::kCount functions, in Key order.
  // Returns false, keeping nothing, for anything else.
  bool SetEmitters(napi_value emitters);

  // Handle classes that can be passed as arguments (accept, IPC sends):
  // their constructor and how to get the HandleBase out of an instance.
  struct HandleClass {
    napi_ref ctor;
    HandleBase* (*unwrap)(napi_env env, napi_value value);
  };
  void RegisterHandleClass(napi_value ctor, HandleBase* (*unwrap)(napi_env env, napi_value value));
  // The HandleBase behind a JS value of a registered class, or nullptr.
  HandleBase* UnwrapHandle(napi_value value);

  // uv_write2 keeps a pointer to the handle it sends until the bytes carrying
  // it are written. A queued IPC write holds that handle's memory, so that a
  // handle closed meanwhile is seen as closing (the write fails with EBADF)
  // instead of libuv reading freed memory and sending whatever fd is there.
  void HoldHandle(uv_handle_t* handle);
  void ReleaseHandle(uv_handle_t* handle);
  // Frees a closed uv handle now, or when the last hold on it is released.
  void FreeHandle(uv_handle_t* handle);

  // Keeps the C++ half of an object whose constructor could not wrap it (see
  // Orphaned below) until the env is torn down, then deletes it.
  void AdoptOrphan(void* object, void (*destroy)(void* object));

  napi_env env;
  std::vector<HandleClass> handle_classes;
  std::vector<LoopWrap*> loops;         // loops not yet closed, for env teardown
  StreamIds stream_ids;                 // stream_wrap.h rule 4
  bool tearing_down = false;            // no JS may run once this is set
  napi_ref timer_dispatcher = nullptr;  // timer_lists.h rule 9
  napi_async_cleanup_hook_handle cleanup_hook = nullptr;
  int drivers_closing = 0;  // driver handles on Node's loop still closing in teardown
  Napi::FunctionReference loop_ctor;

 private:
  struct Hold {
    int count = 0;
    bool closed = false;
  };
  struct Orphan {
    void* object;
    void (*destroy)(void* object);
  };
  napi_ref emitters_[static_cast<int>(Key::kCount)] = {};
  std::unordered_map<uv_handle_t*, Hold> holds_;
  std::vector<Orphan> orphans_;
};

// Call first thing in the constructor of an ObjectWrap W. Node-API refuses
// napi_wrap once the env cannot run JS any more (a worker being terminated
// while its JS still runs: a constructor called from a callback); node-addon-
// api then returns from ObjectWrap's constructor with no exception (built
// with NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS) and `new` hands back a JS
// object with no C++ half, whose methods do nothing. Nobody would ever delete
// that C++ half: it is adopted here, and the constructor must return at once
// (true) without acquiring anything else.
template <typename W>
bool Orphaned(W* wrap, napi_env env) {
  if (!wrap->IsEmpty()) return false;
  AddonData* data = AddonData::Get(env);
  if (data != nullptr)
    data->AdoptOrphan(wrap, [](void* object) { delete static_cast<W*>(object); });
  return true;
}

// Makes a Promise, or returns false (and makes nothing) when Node-API
// refuses, as it does once the env is stopping. Request starters make the
// Promise first, so that no request runs without a deferred to settle.
inline bool NewPromise(napi_env env, napi_deferred* deferred, napi_value* promise) {
  *deferred = nullptr;
  *promise = nullptr;
  return napi_create_promise(env, deferred, promise) == napi_ok && *deferred != nullptr;
}

// Settles a deferred whose Promise nobody gets: settling is the only way to
// free it.
inline void DropPromise(napi_env env, napi_deferred deferred) {
  napi_value undefined;
  napi_get_undefined(env, &undefined);
  napi_resolve_deferred(env, deferred, undefined);
}

// Called once per closed driver handle during teardown; removes the cleanup
// hook when the last one is gone. Runs on the env's thread.
void TeardownStepDone(AddonData* data);

Napi::Object Init(Napi::Env env, Napi::Object exports);

}  // namespace asyncuv
