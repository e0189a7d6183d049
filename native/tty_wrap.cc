// TTY: uv_tty_t, on the stream base.
#include <fcntl.h>

#include "stream_wrap.h"
#include "wraps.h"

namespace asyncuv {
namespace {

class TtyWrap : public StreamWrap<TtyWrap> {
  using M = InstanceMethodCallback;

 public:
  static void Init(Napi::Env env, Napi::Object exports) {
    auto methods = StreamMethods();
    methods.push_back(InstanceMethod("init", static_cast<M>(&TtyWrap::JsInit)));
    methods.push_back(InstanceMethod("setMode", static_cast<M>(&TtyWrap::SetMode)));
    methods.push_back(InstanceMethod("getWinsize", static_cast<M>(&TtyWrap::GetWinsize)));
    methods.push_back(InstanceMethod("isBlocking", static_cast<M>(&TtyWrap::IsBlocking)));
    methods.push_back(StaticMethod("resetMode", &TtyWrap::ResetMode));
    methods.push_back(StaticMethod("isatty", &TtyWrap::IsTty));
    Napi::Function ctor = DefineClass(env, "TTY", methods);
    Register(env, ctor);
    exports.Set("TTY", ctor);
  }

  explicit TtyWrap(const Napi::CallbackInfo& info) : StreamWrap<TtyWrap>(info) {}

 private:
  // init(loop, fd, readable). libuv accepts pipes and sockets here too (it
  // then behaves like a pipe) and EINVAL only for files; a TTY handle over
  // something that is not a terminal is a mistake, so that is ENOTTY, and
  // a closed fd is EBADF, both checked before libuv sees the fd.
  Napi::Value JsInit(const Napi::CallbackInfo& info) {
    int64_t fd;
    if (!ArgInt64(info, 1, &fd) || fd < 0 || fd > INT32_MAX) return Code(UV_EINVAL);
    int file = static_cast<int>(fd);
    if (fcntl(file, F_GETFD) == -1) return Code(UV_EBADF);
    if (uv_guess_handle(file) != UV_TTY) return Code(UV_ENOTTY);
    int rc = StartInit(info[0], UV_TTY);
    if (rc != 0) return Code(rc);
    rc = uv_tty_init(loop_->uv(), As<uv_tty_t>(), file, ArgTruthy(info, 2) ? 1 : 0);
    if (rc != 0) {
      AbortInit();
      return Code(rc);
    }
    FinishInit();
    return Code(0);
  }

  // setMode(mode): 0 normal, 1 raw, 2 io (UV_TTY_MODE_*).
  Napi::Value SetMode(const Napi::CallbackInfo& info) {
    int64_t mode;
    if (!usable()) return Code(UV_EBADF);
    if (!ArgInt64(info, 0, &mode) || mode < UV_TTY_MODE_NORMAL || mode > UV_TTY_MODE_IO)
      return Code(UV_EINVAL);
    int rc = uv_tty_set_mode(As<uv_tty_t>(), static_cast<uv_tty_mode_t>(mode));
    if (rc == 0) mode_ = static_cast<int>(mode);
    return Code(rc);
  }

  // True when the fd libuv reads and writes is in blocking mode. libuv
  // reopens a terminal (ttyname_r) to make it non-blocking without touching
  // other processes; one it cannot reopen, such as a pty master, it keeps
  // blocking ("blocking writes"), and a read there blocks the thread in
  // read(2) once a read fills its buffer: TTY.readStart refuses that.
  Napi::Value IsBlocking(const Napi::CallbackInfo& info) {
    uv_os_fd_t fd = -1;
    if (!usable() || uv_fileno(handle(), &fd) != 0) return Napi::Boolean::New(info.Env(), false);
    int flags = fcntl(fd, F_GETFL);
    return Napi::Boolean::New(info.Env(), flags != -1 && (flags & O_NONBLOCK) == 0);
  }

  // { columns, rows }, or a negative code.
  Napi::Value GetWinsize(const Napi::CallbackInfo& info) {
    if (!usable()) return Code(UV_EBADF);
    int width = 0, height = 0;
    int rc = uv_tty_get_winsize(As<uv_tty_t>(), &width, &height);
    if (rc != 0) return Code(rc);
    Napi::Object size = Napi::Object::New(info.Env());
    size.Set("columns", Napi::Number::New(info.Env(), width));
    size.Set("rows", Napi::Number::New(info.Env(), height));
    return size;
  }

  static Napi::Value ResetMode(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), uv_tty_reset_mode());
  }

  static Napi::Value IsTty(const Napi::CallbackInfo& info) {
    int64_t fd;
    bool tty = ArgInt64(info, 0, &fd) && fd >= 0 && fd <= INT32_MAX &&
               uv_guess_handle(static_cast<int>(fd)) == UV_TTY;
    return Napi::Boolean::New(info.Env(), tty);
  }

  // A terminal left in raw mode by a closed handle would stay unusable for
  // the shell after us: closing restores the mode this handle changed.
  void BeforeClose() override {
    if (mode_ != UV_TTY_MODE_NORMAL) uv_tty_set_mode(As<uv_tty_t>(), UV_TTY_MODE_NORMAL);
    mode_ = UV_TTY_MODE_NORMAL;
    StreamBase::BeforeClose();
  }

  int mode_ = UV_TTY_MODE_NORMAL;
};

}  // namespace

void InitTty(Napi::Env env, Napi::Object exports) {
  TtyWrap::Init(env, exports);
}

}  // namespace asyncuv
