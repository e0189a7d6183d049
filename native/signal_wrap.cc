// Signal: uv_signal_t. Several loops, and Node's own process.on(signal),
// may watch one signal: libuv fans each delivery out to every watcher.
#include "handle_wrap.h"
#include "wraps.h"

namespace asyncuv {
namespace {

class SignalWrap : public HandleWrap<SignalWrap> {
 public:
  static void Init(Napi::Env env, Napi::Object exports) {
    auto methods = BaseMethods();
    methods.push_back(InstanceMethod<&SignalWrap::JsInit>("init"));
    methods.push_back(InstanceMethod<&SignalWrap::Start>("start"));
    methods.push_back(InstanceMethod<&SignalWrap::Stop>("stop"));
    exports.Set("Signal", DefineClass(env, "Signal", methods));
  }

  explicit SignalWrap(const Napi::CallbackInfo& info) : Base(info) {}

 private:
  Napi::Value JsInit(const Napi::CallbackInfo& info) {
    return Code(InitHandle<uv_signal_t>(info[0], UV_SIGNAL, uv_signal_init));
  }

  Napi::Value Start(const Napi::CallbackInfo& info) {
    int64_t signum;
    if (!usable()) return Code(UV_EBADF);
    // libuv asserts nothing here, but sigaction() rejects these: say so first.
    if (!ArgInt64(info, 0, &signum) || signum <= 0 || signum >= 65) return Code(UV_EINVAL);
    int rc = uv_signal_start(As<uv_signal_t>(), OnSignal, static_cast<int>(signum));
    return StateChanged(rc);
  }

  Napi::Value Stop(const Napi::CallbackInfo& info) {
    if (!usable()) return Code(UV_EBADF);
    int rc = uv_signal_stop(As<uv_signal_t>());
    return StateChanged(rc);
  }

  static void OnSignal(uv_signal_t* handle, int signum) {
    auto* wrap = FromHandle<SignalWrap>(handle);
    Napi::Env env = wrap->loop_->env();
    Napi::HandleScope scope(env);
    napi_value argv[] = {Napi::Number::New(env, signum)};
    wrap->Emit(Key::kOnEvent, 1, argv);
    wrap->UpdatePin();
  }
};

}  // namespace

void InitSignal(Napi::Env env, Napi::Object exports) {
  SignalWrap::Init(env, exports);
}

}  // namespace asyncuv
