// FSEvent: uv_fs_event_t, change notification from the kernel (inotify on
// Linux, FSEvents/kqueue on macOS).
#include <climits>
#include <string>

#include "handle_wrap.h"
#include "wraps.h"

namespace asyncuv {
namespace {

class FsEventWrap : public HandleWrap<FsEventWrap> {
 public:
  static void Init(Napi::Env env, Napi::Object exports) {
    auto methods = BaseMethods();
    methods.push_back(InstanceMethod<&FsEventWrap::JsInit>("init"));
    methods.push_back(InstanceMethod<&FsEventWrap::Start>("start"));
    methods.push_back(InstanceMethod<&FsEventWrap::Stop>("stop"));
    methods.push_back(InstanceMethod<&FsEventWrap::GetPath>("getPath"));
    exports.Set("FSEvent", DefineClass(env, "FSEvent", methods));
  }

  explicit FsEventWrap(const Napi::CallbackInfo& info) : Base(info) {}

 private:
  Napi::Value JsInit(const Napi::CallbackInfo& info) {
    return Code(InitHandle<uv_fs_event_t>(info[0], UV_FS_EVENT, uv_fs_event_init));
  }

  // start(path, flags). libuv refuses to start an active handle (EINVAL);
  // restarting stops it first, so that a second start watches the new path.
  Napi::Value Start(const Napi::CallbackInfo& info) {
    if (!usable()) return Code(UV_EBADF);
    int64_t flags;
    const int64_t known = UV_FS_EVENT_WATCH_ENTRY | UV_FS_EVENT_STAT | UV_FS_EVENT_RECURSIVE;
    if (!info[0].IsString() || !ArgInt64(info, 1, &flags) || (flags & ~known) != 0)
      return Code(UV_EINVAL);
    std::string path = info[0].As<Napi::String>().Utf8Value();
    if (path.find('\0') != std::string::npos) return Code(UV_EINVAL);
    auto* event = As<uv_fs_event_t>();
    uv_fs_event_stop(event);
    int rc = uv_fs_event_start(event, OnEvent, path.c_str(), static_cast<unsigned>(flags));
    return StateChanged(rc);
  }

  Napi::Value Stop(const Napi::CallbackInfo& info) {
    if (!usable()) return Code(UV_EBADF);
    int rc = uv_fs_event_stop(As<uv_fs_event_t>());
    return StateChanged(rc);
  }

  // The watched path, or a negative code (EINVAL when not started).
  Napi::Value GetPath(const Napi::CallbackInfo& info) {
    if (!usable()) return Code(UV_EBADF);
    return WatchedPath(info.Env(), As<uv_fs_event_t>(), uv_fs_event_getpath);
  }

  // onevent(status, filename | null, events): events is UV_RENAME | UV_CHANGE.
  static void OnEvent(uv_fs_event_t* handle, const char* filename, int events, int status) {
    auto* wrap = FromHandle<FsEventWrap>(handle);
    if (wrap == nullptr || !wrap->loop_->CanCallJs()) return;
    Napi::Env env = wrap->loop_->env();
    Napi::HandleScope scope(env);
    napi_value name = env.Null();
    if (filename != nullptr) name = Napi::String::New(env, filename);
    napi_value argv[] = {Napi::Number::New(env, status), name, Napi::Number::New(env, events)};
    wrap->Emit(Key::kOnEvent, 3, argv);
    wrap->UpdatePin();
  }
};

}  // namespace

void InitFsEvent(Napi::Env env, Napi::Object exports) {
  FsEventWrap::Init(env, exports);
}

}  // namespace asyncuv
