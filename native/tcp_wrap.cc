// TCP: uv_tcp_t, on the stream base.
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sockaddr.h"
#include "stream_wrap.h"
#include "wraps.h"

namespace asyncuv {
namespace {

class TcpWrap : public StreamWrap<TcpWrap> {
  using M = InstanceMethodCallback;

 public:
  static void Init(Napi::Env env, Napi::Object exports) {
    auto methods = StreamMethods();
    methods.push_back(InstanceMethod("init", static_cast<M>(&TcpWrap::JsInit)));
    methods.push_back(InstanceMethod("bind", static_cast<M>(&TcpWrap::Bind)));
    methods.push_back(InstanceMethod("connect", static_cast<M>(&TcpWrap::Connect)));
    methods.push_back(InstanceMethod("open", static_cast<M>(&TcpWrap::Open)));
    methods.push_back(DupFilenoMethod());
    methods.push_back(InstanceMethod("getsockname", static_cast<M>(&TcpWrap::GetSockName)));
    methods.push_back(InstanceMethod("getpeername", static_cast<M>(&TcpWrap::GetPeerName)));
    methods.push_back(InstanceMethod("names", static_cast<M>(&TcpWrap::Names)));
    methods.push_back(InstanceMethod("setNoDelay", static_cast<M>(&TcpWrap::SetNoDelay)));
    methods.push_back(InstanceMethod("setKeepAlive", static_cast<M>(&TcpWrap::SetKeepAlive)));
    methods.push_back(InstanceMethod("closeReset", static_cast<M>(&TcpWrap::CloseReset)));
    methods.push_back(InstanceMethod("bufferSize", static_cast<M>(&TcpWrap::BufferSize)));
    Napi::Function ctor = DefineClass(env, "TCP", methods);
    Register(env, ctor);
    exports.Set("TCP", ctor);
  }

  explicit TcpWrap(const Napi::CallbackInfo& info) : StreamWrap<TcpWrap>(info) {}

 private:
  Napi::Value JsInit(const Napi::CallbackInfo& info) {
    return Code(InitHandle<uv_tcp_t>(info[0], UV_TCP, uv_tcp_init));
  }

  // bind(host, port, ipv6Only, reusePort)
  Napi::Value Bind(const Napi::CallbackInfo& info) {
    if (!usable()) return Code(UV_EBADF);
    sockaddr_storage addr;
    int rc = ParseAddress(info[0], info[1], &addr);
    if (rc != 0) return Code(rc);
    unsigned flags = ArgTruthy(info, 2) ? UV_TCP_IPV6ONLY : 0;
    if (ArgTruthy(info, 3)) {
      // libuv 1.46 has no UV_TCP_REUSEPORT: make the socket ourselves, set
      // SO_REUSEPORT before bind, and hand it to libuv.
      uv_os_fd_t existing;
      if (uv_fileno(handle_, &existing) == 0) return Code(UV_EBUSY);
      int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
      if (fd < 0) return Code(uv_translate_sys_error(errno));
      int on = 1;
      if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) != 0) {
        int err = uv_translate_sys_error(errno);
        ::close(fd);
        return Code(err);
      }
      rc = uv_tcp_open(As<uv_tcp_t>(), fd);
      if (rc != 0) {
        ::close(fd);
        return Code(rc);
      }
    }
    return Code(uv_tcp_bind(As<uv_tcp_t>(), reinterpret_cast<sockaddr*>(&addr), flags));
  }

  // connect(host, port): onconnect(status) follows.
  Napi::Value Connect(const Napi::CallbackInfo& info) {
    if (!usable()) return Code(UV_EBADF);
    sockaddr_storage addr;
    int rc = ParseAddress(info[0], info[1], &addr);
    if (rc != 0) return Code(rc);
    auto* req = static_cast<uv_connect_t*>(malloc(sizeof(uv_connect_t)));
    if (req == nullptr) return Code(UV_ENOMEM);
    rc = uv_tcp_connect(req, As<uv_tcp_t>(), reinterpret_cast<sockaddr*>(&addr), OnConnect);
    if (rc != 0) {
      free(req);
      return Code(rc);
    }
    pending_reqs++;
    UpdatePin();
    loop_->Touch();
    return Code(0);
  }

  // open(fd, duplicate): wraps fd, or with `duplicate` a new fd for the same
  // socket (F_DUPFD_CLOEXEC), so that several handles (one per thread's
  // loop) can each own and close their own fd of one listening socket.
  Napi::Value Open(const Napi::CallbackInfo& info) {
    int64_t fd;
    if (!usable()) return Code(UV_EBADF);
    if (!ArgInt64(info, 0, &fd) || fd < 0 || fd > INT32_MAX) return Code(UV_EINVAL);
    // libuv takes any fd here, and aborts the process later when epoll
    // refuses to watch it (a regular file, /dev/null): only sockets pass,
    // and SO_TYPE answers ENOTSOCK for anything else.
    int type = 0;
    socklen_t len = sizeof(type);
    if (getsockopt(static_cast<int>(fd), SOL_SOCKET, SO_TYPE, &type, &len) != 0)
      return Code(uv_translate_sys_error(errno));
    if (!info[1].ToBoolean())
      return Code(uv_tcp_open(As<uv_tcp_t>(), static_cast<uv_os_sock_t>(fd)));
    int copy = fcntl(static_cast<int>(fd), F_DUPFD_CLOEXEC, 0);
    if (copy < 0) return Code(uv_translate_sys_error(errno));
    int rc = uv_tcp_open(As<uv_tcp_t>(), copy);
    if (rc != 0) ::close(copy);
    return Code(rc);
  }

  Napi::Value GetSockName(const Napi::CallbackInfo& info) { return Name(info, uv_tcp_getsockname); }
  Napi::Value GetPeerName(const Napi::CallbackInfo& info) { return Name(info, uv_tcp_getpeername); }

  Napi::Value Name(const Napi::CallbackInfo& info, int (*fn)(const uv_tcp_t*, sockaddr*, int*)) {
    if (!usable()) return Code(UV_EBADF);
    sockaddr_storage addr;
    int len = sizeof(addr);
    int rc = fn(As<uv_tcp_t>(), reinterpret_cast<sockaddr*>(&addr), &len);
    if (rc != 0) return Code(rc);
    return SockaddrToJs(info.Env(), reinterpret_cast<sockaddr*>(&addr));
  }

  // names(): [peername, sockname] of a connected socket, each an
  // [address, port] tuple, or undefined where the call fails (not
  // connected): what a transport records when it is made, in one crossing
  // and without the {address, port, family} objects of the calls above.
  Napi::Value Names(const Napi::CallbackInfo& info) {
    if (!usable()) return Code(UV_EBADF);
    Napi::Env env = info.Env();
    Napi::Array result = Napi::Array::New(env, 2);
    result.Set(0u, NameTuple(env, uv_tcp_getpeername));
    result.Set(1u, NameTuple(env, uv_tcp_getsockname));
    return result;
  }

  Napi::Value NameTuple(Napi::Env env, int (*fn)(const uv_tcp_t*, sockaddr*, int*)) {
    sockaddr_storage addr;
    int len = sizeof(addr);
    if (fn(As<uv_tcp_t>(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) return env.Undefined();
    return SockaddrToTuple(env, reinterpret_cast<sockaddr*>(&addr));
  }

  Napi::Value SetNoDelay(const Napi::CallbackInfo& info) {
    if (!usable()) return Code(UV_EBADF);
    return Code(uv_tcp_nodelay(As<uv_tcp_t>(), ArgTruthy(info, 0) ? 1 : 0));
  }

  Napi::Value SetKeepAlive(const Napi::CallbackInfo& info) {
    int64_t delay = 0;
    if (!usable()) return Code(UV_EBADF);
    bool on = ArgTruthy(info, 0);
    if (on && (!ArgInt64(info, 1, &delay) || delay < 1 || delay > INT32_MAX))
      return Code(UV_EINVAL);
    return Code(uv_tcp_keepalive(As<uv_tcp_t>(), on ? 1 : 0, static_cast<unsigned>(delay)));
  }

  // Arms a reset (RST) for the close that the caller does next, as
  // uv_tcp_close_reset does, so that the close still goes through the one
  // close path (Close) and works while a shutdown is pending, where
  // uv_tcp_close_reset refuses.
  Napi::Value CloseReset(const Napi::CallbackInfo& info) {
    if (state_ != State::kInitialized) return Code(0);
    uv_os_fd_t fd;
    if (uv_fileno(handle_, &fd) == 0) {
      linger l = {1, 0};
      if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l)) != 0) {
        return Code(uv_translate_sys_error(errno));
      }
    }
    return Code(0);
  }

  // bufferSize(which: 0 send / 1 receive, value: 0 = read)
  Napi::Value BufferSize(const Napi::CallbackInfo& info) {
    int64_t which, value;
    if (!usable()) return Code(UV_EBADF);
    if (!ArgInt64(info, 0, &which) || !ArgInt64(info, 1, &value) || value < 0 || value > INT32_MAX)
      return Code(UV_EINVAL);
    int v = static_cast<int>(value);
    int rc = which == 0 ? uv_send_buffer_size(handle_, &v) : uv_recv_buffer_size(handle_, &v);
    return Code(rc != 0 ? rc : v);
  }
};

}  // namespace

void InitTcp(Napi::Env env, Napi::Object exports) {
  TcpWrap::Init(env, exports);
}

}  // namespace asyncuv
