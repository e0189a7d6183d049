// Module entry: registers every wrap and the env teardown hook.
#include "addon.h"

#include "loop_wrap.h"
#include "wraps.h"

namespace asyncuv {

namespace {

const char* const kKeyNames[] = {"onevent", "onclose",    "onread", "onconnection", "onconnect",
                                 "onwrite", "onshutdown", "onsend", "onexit"};
static_assert(sizeof(kKeyNames) / sizeof(kKeyNames[0]) == static_cast<int>(Key::kCount),
              "one name per Key");

// Env teardown (worker exit, terminate(), process exit). It must not run JS.
// Every private loop is closed synchronously; the driver handles live on
// Node's loop and close asynchronously, which is why this is an async hook.
void OnEnvCleanup(napi_async_cleanup_hook_handle handle, void* arg) {
  auto* data = static_cast<AddonData*>(arg);
  data->tearing_down = true;
  data->cleanup_hook = handle;
  // Teardown() removes the loop from data->loops; iterate over a copy.
  std::vector<LoopWrap*> loops = data->loops;
  for (LoopWrap* loop : loops) loop->Teardown();
  ReleaseTimers(data->env);
  if (data->drivers_closing == 0) {
    data->cleanup_hook = nullptr;
    napi_remove_async_cleanup_hook(handle);
  }
}

// The property names of Key, for the loader that makes the emitters.
Napi::Value CallbackNames(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array names = Napi::Array::New(env, static_cast<size_t>(Key::kCount));
  for (uint32_t i = 0; i < static_cast<uint32_t>(Key::kCount); ++i) names.Set(i, kKeyNames[i]);
  return names;
}

// setEmitters(functions): 0, or EINVAL for anything but Key::kCount functions.
Napi::Value SetEmitters(const Napi::CallbackInfo& info) {
  bool ok = AddonData::Get(info.Env())->SetEmitters(info[0]);
  return Napi::Number::New(info.Env(), ok ? 0 : UV_EINVAL);
}

// uv_err_name_r, not uv_err_name: for a code libuv does not know, the
// latter returns a string it allocates and nobody frees.
Napi::Value ErrName(const Napi::CallbackInfo& info) {
  int code = info[0].As<Napi::Number>().Int32Value();
  char name[64];
  return Napi::String::New(info.Env(), uv_err_name_r(code, name, sizeof(name)));
}

Napi::Value StrError(const Napi::CallbackInfo& info) {
  int code = info[0].As<Napi::Number>().Int32Value();
  return Napi::String::New(info.Env(), uv_strerror(code));
}

// Error names and numbers of this libuv build, so the TS side maps codes
// without hard-coding platform numbers.
Napi::Value ErrorTable(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object table = Napi::Object::New(env);
#define ASYNCUV_ERR_ENTRY(name, _) table.Set(#name, Napi::Number::New(env, UV_##name));
  UV_ERRNO_MAP(ASYNCUV_ERR_ENTRY)
#undef ASYNCUV_ERR_ENTRY
  return table;
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* data = new AddonData(env);
  napi_set_instance_data(
      env, data, [](napi_env, void* d, void*) { delete static_cast<AddonData*>(d); }, nullptr);
  napi_add_async_cleanup_hook(env, OnEnvCleanup, data, nullptr);

  exports.Set("callbackNames", Napi::Function::New(env, CallbackNames, "callbackNames"));
  exports.Set("setEmitters", Napi::Function::New(env, SetEmitters, "setEmitters"));
  exports.Set("errname", Napi::Function::New(env, ErrName, "errname"));
  exports.Set("strerror", Napi::Function::New(env, StrError, "strerror"));
  exports.Set("errors", Napi::Function::New(env, ErrorTable, "errors"));
  exports.Set("uvVersion", Napi::String::New(env, uv_version_string()));
  LoopWrap::Init(env, exports);
  InitWraps(env, exports);
  return exports;
}

AddonData::AddonData(napi_env e) : env(e) {}

AddonData::~AddonData() {
  for (Orphan& orphan : orphans_) orphan.destroy(orphan.object);
  for (napi_ref& ref : emitters_) {
    if (ref != nullptr) napi_delete_reference(env, ref);
  }
  for (HandleClass& cls : handle_classes) napi_delete_reference(env, cls.ctor);
  if (timer_dispatcher != nullptr) napi_delete_reference(env, timer_dispatcher);
}

void AddonData::RegisterHandleClass(napi_value ctor,
                                    HandleBase* (*unwrap)(napi_env env, napi_value value)) {
  // No ctor when the class could not be defined (an env stopping while the
  // addon loads): nothing to register.
  napi_ref ref = nullptr;
  if (ctor == nullptr || napi_create_reference(env, ctor, 1, &ref) != napi_ok) return;
  handle_classes.push_back({ref, unwrap});
}

void AddonData::AdoptOrphan(void* object, void (*destroy)(void* object)) {
  orphans_.push_back({object, destroy});
}

HandleBase* AddonData::UnwrapHandle(napi_value value) {
  napi_valuetype type;
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_object) return nullptr;
  for (HandleClass& cls : handle_classes) {
    napi_value ctor = nullptr;
    bool is = false;
    if (napi_get_reference_value(env, cls.ctor, &ctor) != napi_ok || ctor == nullptr) continue;
    if (napi_instanceof(env, value, ctor, &is) == napi_ok && is) return cls.unwrap(env, value);
  }
  return nullptr;
}

AddonData* AddonData::Get(napi_env env) {
  void* data = nullptr;
  napi_get_instance_data(env, &data);
  return static_cast<AddonData*>(data);
}

napi_value AddonData::Emitter(Key key) {
  napi_ref ref = emitters_[static_cast<int>(key)];
  napi_value fn = nullptr;
  if (ref == nullptr || napi_get_reference_value(env, ref, &fn) != napi_ok) return nullptr;
  return fn;
}

bool AddonData::SetEmitters(napi_value emitters) {
  constexpr uint32_t count = static_cast<uint32_t>(Key::kCount);
  bool is_array = false;
  uint32_t length = 0;
  if (napi_is_array(env, emitters, &is_array) != napi_ok || !is_array ||
      napi_get_array_length(env, emitters, &length) != napi_ok || length != count) {
    return false;
  }
  napi_value fns[count];
  for (uint32_t i = 0; i < count; ++i) {
    napi_valuetype type = napi_undefined;
    if (napi_get_element(env, emitters, i, &fns[i]) != napi_ok ||
        napi_typeof(env, fns[i], &type) != napi_ok || type != napi_function) {
      return false;
    }
  }
  for (uint32_t i = 0; i < count; ++i) {
    napi_ref ref = nullptr;
    if (napi_create_reference(env, fns[i], 1, &ref) != napi_ok) return false;
    if (emitters_[i] != nullptr) napi_delete_reference(env, emitters_[i]);
    emitters_[i] = ref;
  }
  return true;
}

void AddonData::HoldHandle(uv_handle_t* handle) {
  holds_[handle].count++;
}

void AddonData::ReleaseHandle(uv_handle_t* handle) {
  auto it = holds_.find(handle);
  if (it == holds_.end() || --it->second.count > 0) return;
  bool closed = it->second.closed;
  holds_.erase(it);
  if (closed) free(handle);
}

void AddonData::FreeHandle(uv_handle_t* handle) {
  auto it = holds_.find(handle);
  if (it != holds_.end()) {
    it->second.closed = true;
  } else {
    free(handle);
  }
}

void TeardownStepDone(AddonData* data) {
  if (--data->drivers_closing == 0 && data->cleanup_hook != nullptr) {
    napi_async_cleanup_hook_handle hook = data->cleanup_hook;
    data->cleanup_hook = nullptr;
    napi_remove_async_cleanup_hook(hook);
  }
}

}  // namespace asyncuv

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) {
  return asyncuv::Init(env, exports);
}

NODE_API_MODULE(asyncuv, InitAddon)
