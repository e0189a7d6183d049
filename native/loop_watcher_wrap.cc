// Idle, Prepare and Check: the three loop-phase watchers. libuv implements
// them with one template (src/unix/loop-watcher.c); so does this file.
#include "handle_wrap.h"
#include "wraps.h"

namespace asyncuv {
namespace {

template <typename H, uv_handle_type kType, int (*kInit)(uv_loop_t*, H*),
          int (*kStart)(H*, void (*)(H*)), int (*kStop)(H*)>
class LoopWatcherWrap : public HandleWrap<LoopWatcherWrap<H, kType, kInit, kStart, kStop>> {
  using Self = LoopWatcherWrap<H, kType, kInit, kStart, kStop>;
  using Base = HandleWrap<Self>;

 public:
  static void Init(Napi::Env env, Napi::Object exports, const char* name) {
    auto methods = Base::BaseMethods();
    methods.push_back(Base::template InstanceMethod<&Self::JsInit>("init"));
    methods.push_back(Base::template InstanceMethod<&Self::Start>("start"));
    methods.push_back(Base::template InstanceMethod<&Self::Stop>("stop"));
    exports.Set(name, Base::DefineClass(env, name, methods));
  }

  explicit LoopWatcherWrap(const Napi::CallbackInfo& info) : Base(info) {}

 private:
  Napi::Value JsInit(const Napi::CallbackInfo& info) {
    return this->Code(this->template InitHandle<H>(info[0], kType, kInit));
  }

  Napi::Value Start(const Napi::CallbackInfo& info) {
    if (!this->usable()) return this->Code(UV_EBADF);
    bool was_active = uv_is_active(this->handle()) != 0;
    int rc = kStart(this->template As<H>(), OnFire);
    if (rc == 0 && !was_active) Report(true);
    return this->StateChanged(rc);
  }

  Napi::Value Stop(const Napi::CallbackInfo& info) {
    if (!this->usable()) return this->Code(UV_EBADF);
    bool was_active = uv_is_active(this->handle()) != 0;
    int rc = kStop(this->template As<H>());
    if (was_active) Report(false);
    return this->StateChanged(rc);
  }

  // uv_close stops an active watcher.
  void BeforeClose() override {
    if (uv_is_active(this->handle())) Report(false);
  }

  // Tells the loop what its light passes need (rule 9 of loop_wrap.h).
  void Report(bool active) {
    LoopWrap* loop = this->loop();
    if constexpr (kType == UV_IDLE) {
      if (active) {
        loop->IdleStarted(this->template As<H>(), OnFire);
      } else {
        loop->IdleStopped(this->template As<H>());
      }
    } else {
      loop->PhaseWatchers(active ? 1 : -1);
    }
  }

  static void OnFire(H* handle) {
    auto* wrap = HandleBase::FromHandle<Self>(handle);
    Napi::HandleScope scope(wrap->loop()->env());
    wrap->Emit(Key::kOnEvent);
    wrap->UpdatePin();
  }
};

using IdleWrap = LoopWatcherWrap<uv_idle_t, UV_IDLE, uv_idle_init, uv_idle_start, uv_idle_stop>;
using PrepareWrap =
    LoopWatcherWrap<uv_prepare_t, UV_PREPARE, uv_prepare_init, uv_prepare_start, uv_prepare_stop>;
using CheckWrap =
    LoopWatcherWrap<uv_check_t, UV_CHECK, uv_check_init, uv_check_start, uv_check_stop>;

}  // namespace

void InitLoopWatchers(Napi::Env env, Napi::Object exports) {
  IdleWrap::Init(env, exports, "Idle");
  PrepareWrap::Init(env, exports, "Prepare");
  CheckWrap::Init(env, exports, "Check");
}

}  // namespace asyncuv
