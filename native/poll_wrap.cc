// Poll: uv_poll_t, readiness of a file descriptor the caller owns.
//
// libuv allows one watcher per fd and loop: uv_poll_init returns UV_EEXIST
// for an fd the loop already watches, but only once that watcher has been
// started, and a second poll started on one fd silently never fires. The
// TS layer therefore tracks fds per loop; here, arguments are validated so
// that libuv's asserts (an unknown event bit, a closing handle) are never
// reached.
//
// ownFd() hands the fd to the Poll: it is closed when the Poll closes, also
// when its Loop closes it (a worker's teardown included), after the poll
// has left the loop's epoll set. For fds the library makes for itself
// (sendfile's duplicate of a socket), which nothing else would close then.
#include <unistd.h>

#include "handle_wrap.h"
#include "wraps.h"

namespace asyncuv {
namespace {

class PollWrap : public HandleWrap<PollWrap> {
 public:
  static void Init(Napi::Env env, Napi::Object exports) {
    auto methods = BaseMethods();
    methods.push_back(InstanceMethod<&PollWrap::JsInit>("init"));
    methods.push_back(InstanceMethod<&PollWrap::Start>("start"));
    methods.push_back(InstanceMethod<&PollWrap::Stop>("stop"));
    methods.push_back(InstanceMethod<&PollWrap::OwnFd>("ownFd"));
    exports.Set("Poll", DefineClass(env, "Poll", methods));
  }

  explicit PollWrap(const Napi::CallbackInfo& info) : Base(info) {}

 protected:
  void BeforeClose() override {
    if (owned_fd_ < 0) return;
    uv_poll_stop(As<uv_poll_t>());  // out of the epoll set while the fd is open
    ::close(owned_fd_);
    owned_fd_ = -1;
  }

 private:
  int owned_fd_ = -1;

  Napi::Value OwnFd(const Napi::CallbackInfo& info) {
    if (!usable()) return Code(UV_EBADF);
    uv_os_fd_t fd;
    int rc = uv_fileno(handle_, &fd);
    if (rc == 0) owned_fd_ = fd;
    return Code(rc);
  }

  // init(loop, fd)
  Napi::Value JsInit(const Napi::CallbackInfo& info) {
    int64_t fd;
    if (!ArgInt64(info, 1, &fd) || fd < 0 || fd > INT32_MAX) return Code(UV_EINVAL);
    int rc = StartInit(info[0], UV_POLL);
    if (rc != 0) return Code(rc);
    rc = uv_poll_init(loop_->uv(), As<uv_poll_t>(), static_cast<int>(fd));
    if (rc != 0) {
      AbortInit();
      return Code(rc);
    }
    FinishInit();
    return Code(0);
  }

  // start(events): UV_READABLE | UV_WRITABLE | UV_DISCONNECT | UV_PRIORITIZED
  Napi::Value Start(const Napi::CallbackInfo& info) {
    if (!usable()) return Code(UV_EBADF);
    int64_t events;
    const int64_t all = UV_READABLE | UV_WRITABLE | UV_DISCONNECT | UV_PRIORITIZED;
    if (!ArgInt64(info, 0, &events) || (events & ~all) != 0) return Code(UV_EINVAL);
    int rc = uv_poll_start(As<uv_poll_t>(), static_cast<int>(events), OnPoll);
    return StateChanged(rc);
  }

  Napi::Value Stop(const Napi::CallbackInfo& info) {
    if (!usable()) return Code(UV_EBADF);
    int rc = uv_poll_stop(As<uv_poll_t>());
    return StateChanged(rc);
  }

  // onevent(status, events). On an error libuv has already stopped the poll.
  static void OnPoll(uv_poll_t* handle, int status, int events) {
    auto* wrap = FromHandle<PollWrap>(handle);
    if (wrap == nullptr) return;
    Napi::Env env = wrap->loop_->env();
    Napi::HandleScope scope(env);
    napi_value argv[] = {Napi::Number::New(env, status), Napi::Number::New(env, events)};
    wrap->Emit(Key::kOnEvent, 2, argv);
    wrap->UpdatePin();
  }
};

}  // namespace

void InitPoll(Napi::Env env, Napi::Object exports) {
  PollWrap::Init(env, exports);
}

}  // namespace asyncuv
