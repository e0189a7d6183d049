// Timer: uv_timer_t. Times are milliseconds, as in libuv.
#include "handle_wrap.h"
#include "wraps.h"

namespace asyncuv {
namespace {

class TimerWrap : public HandleWrap<TimerWrap> {
 public:
  static void Init(Napi::Env env, Napi::Object exports) {
    auto methods = BaseMethods();
    methods.push_back(InstanceMethod<&TimerWrap::Start>("start"));
    methods.push_back(InstanceMethod<&TimerWrap::Stop>("stop"));
    methods.push_back(InstanceMethod<&TimerWrap::Again>("again"));
    methods.push_back(InstanceMethod<&TimerWrap::GetRepeat>("getRepeat"));
    methods.push_back(InstanceMethod<&TimerWrap::SetRepeat>("setRepeat"));
    methods.push_back(InstanceMethod<&TimerWrap::GetDueIn>("getDueIn"));
    exports.Set("Timer", DefineClass(env, "Timer", methods));
  }

  // new Timer(loop) runs the init (one crossing and one unwrap fewer than an
  // init method). The constructor cannot return a status: a failed init
  // leaves it in `initStatus`, which JS checks; success stores nothing.
  explicit TimerWrap(const Napi::CallbackInfo& info) : Base(info) {
    if (IsEmpty()) return;  // orphaned (see Orphaned): acquire nothing
    int rc = InitHandle<uv_timer_t>(info[0], UV_TIMER, uv_timer_init);
    if (rc == 0) return;
    napi_env env = info.Env();
    napi_value status;
    if (napi_create_int32(env, rc, &status) == napi_ok)
      napi_set_named_property(env, info.This(), "initStatus", status);
  }

 private:

  Napi::Value Start(const Napi::CallbackInfo& info) {
    int64_t timeout, repeat;
    if (!usable()) return Code(UV_EBADF);
    if (!ArgInt64(info, 0, &timeout) || !ArgInt64(info, 1, &repeat) || timeout < 0 || repeat < 0)
      return Code(UV_EINVAL);
    int rc = uv_timer_start(As<uv_timer_t>(), OnTimer, timeout, repeat);
    return StateChanged(rc);
  }

  Napi::Value Stop(const Napi::CallbackInfo& info) {
    if (!usable()) return Code(UV_EBADF);
    int rc = uv_timer_stop(As<uv_timer_t>());
    return StateChanged(rc);
  }

  Napi::Value Again(const Napi::CallbackInfo& info) {
    if (!usable()) return Code(UV_EBADF);
    int rc = uv_timer_again(As<uv_timer_t>());
    return StateChanged(rc);
  }

  Napi::Value GetRepeat(const Napi::CallbackInfo& info) {
    if (!usable()) return Code(UV_EBADF);
    return Napi::Number::New(info.Env(),
                             static_cast<double>(uv_timer_get_repeat(As<uv_timer_t>())));
  }

  Napi::Value SetRepeat(const Napi::CallbackInfo& info) {
    int64_t repeat;
    if (!usable()) return Code(UV_EBADF);
    if (!ArgInt64(info, 0, &repeat) || repeat < 0) return Code(UV_EINVAL);
    uv_timer_set_repeat(As<uv_timer_t>(), repeat);
    return Code(0);
  }

  Napi::Value GetDueIn(const Napi::CallbackInfo& info) {
    if (!usable()) return Code(UV_EBADF);
    return Napi::Number::New(info.Env(),
                             static_cast<double>(uv_timer_get_due_in(As<uv_timer_t>())));
  }

  static void OnTimer(uv_timer_t* handle) {
    auto* wrap = FromHandle<TimerWrap>(handle);
    Napi::HandleScope scope(wrap->loop_->env());
    wrap->Emit(Key::kOnEvent);
    wrap->UpdatePin();
  }
};

}  // namespace

void InitTimer(Napi::Env env, Napi::Object exports) {
  TimerWrap::Init(env, exports);
}

}  // namespace asyncuv
