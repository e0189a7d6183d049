// FSPoll: uv_fs_poll_t, a path's status compared at an interval (stat
// polling; works where inotify does not, e.g. network file systems).
#include <climits>
#include <string>

#include "handle_wrap.h"
#include "stat_value.h"
#include "wraps.h"

namespace asyncuv {
namespace {

class FsPollWrap : public HandleWrap<FsPollWrap> {
 public:
  static void Init(Napi::Env env, Napi::Object exports) {
    auto methods = BaseMethods();
    methods.push_back(InstanceMethod<&FsPollWrap::JsInit>("init"));
    methods.push_back(InstanceMethod<&FsPollWrap::Start>("start"));
    methods.push_back(InstanceMethod<&FsPollWrap::Stop>("stop"));
    methods.push_back(InstanceMethod<&FsPollWrap::GetPath>("getPath"));
    exports.Set("FSPoll", DefineClass(env, "FSPoll", methods));
  }

  explicit FsPollWrap(const Napi::CallbackInfo& info) : Base(info) {}

 private:
  Napi::Value JsInit(const Napi::CallbackInfo& info) {
    return Code(InitHandle<uv_fs_poll_t>(info[0], UV_FS_POLL, uv_fs_poll_init));
  }

  // start(path, intervalMs). Restarting an active poll first stops it, so
  // that a second start watches the new path instead of failing.
  Napi::Value Start(const Napi::CallbackInfo& info) {
    if (!usable()) return Code(UV_EBADF);
    int64_t interval;
    if (!info[0].IsString() || !ArgInt64(info, 1, &interval) || interval < 1 || interval > UINT_MAX)
      return Code(UV_EINVAL);
    std::string path = info[0].As<Napi::String>().Utf8Value();
    if (path.find('\0') != std::string::npos) return Code(UV_EINVAL);
    auto* poll = As<uv_fs_poll_t>();
    uv_fs_poll_stop(poll);
    int rc = uv_fs_poll_start(poll, OnChange, path.c_str(), static_cast<unsigned>(interval));
    return StateChanged(rc);
  }

  Napi::Value Stop(const Napi::CallbackInfo& info) {
    if (!usable()) return Code(UV_EBADF);
    int rc = uv_fs_poll_stop(As<uv_fs_poll_t>());
    return StateChanged(rc);
  }

  // The watched path, or a negative code (EINVAL when not started).
  Napi::Value GetPath(const Napi::CallbackInfo& info) {
    if (!usable()) return Code(UV_EBADF);
    return WatchedPath(info.Env(), As<uv_fs_poll_t>(), uv_fs_poll_getpath);
  }

  // onevent(status, prev, curr): stat arrays of native/stat_value.h.
  static void OnChange(uv_fs_poll_t* handle, int status, const uv_stat_t* prev,
                       const uv_stat_t* curr) {
    auto* wrap = FromHandle<FsPollWrap>(handle);
    if (wrap == nullptr || !wrap->loop_->CanCallJs()) return;
    napi_env env = wrap->loop_->env();
    Napi::HandleScope scope(env);
    napi_value argv[] = {Napi::Number::New(env, status), StatToJs(env, prev), StatToJs(env, curr)};
    wrap->Emit(Key::kOnEvent, 3, argv);
    wrap->UpdatePin();
  }
};

}  // namespace

void InitFsPoll(Napi::Env env, Napi::Object exports) {
  FsPollWrap::Init(env, exports);
}

}  // namespace asyncuv
