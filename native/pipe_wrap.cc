// Pipe: uv_pipe_t (Unix domain sockets and pipes), on the stream base. IPC
// pipes pass handles: writes take a send handle (StreamWrap::SendHandleArg),
// and the receiver accepts pending handles with the stream base's Accept,
// which checks the client's type against uv_pipe_pending_type.
#include <fcntl.h>
#include <limits.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <string>

#include "stream_wrap.h"
#include "wraps.h"

namespace asyncuv {
namespace {

// Reads a JS string argument as bytes: names may hold NULs (abstract socket
// names start with one), so the length is kept rather than relying on strlen.
bool ArgName(const Napi::CallbackInfo& info, size_t index, std::string* out) {
  if (index >= info.Length() || !info[index].IsString()) return false;
  *out = info[index].As<Napi::String>().Utf8Value();
  return !out->empty();
}

// libuv 1.46 binds and connects abstract names with the whole NUL-padded
// sun_path as the address, so its '\0name' is a different socket from the
// '\0name' of every other program (Python, socat, and libuv itself since
// libuv/libuv#4266, merged after 1.46). Abstract
// names therefore get their own socket here, addressed with the exact
// length, and are handed to libuv with uv_pipe_open.
bool IsAbstract(const std::string& name) {
  return !name.empty() && name[0] == '\0';
}

// A path must leave room for its NUL in sun_path: libuv 1.46 takes exactly
// 108 bytes and then reads past sun_path with strlen in getsockname.
bool PathFits(const std::string& name) {
  return IsAbstract(name) || name.size() < sizeof(sockaddr_un::sun_path);
}

// A non-blocking, close-on-exec Unix stream socket and the exact address of
// `name`, or a negative code.
int AbstractSocket(const std::string& name, sockaddr_un* addr, socklen_t* len) {
  if (name.size() > sizeof(addr->sun_path)) return UV_EINVAL;
  memset(addr, 0, sizeof(*addr));
  addr->sun_family = AF_UNIX;
  memcpy(addr->sun_path, name.data(), name.size());
  *len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size());
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  return fd < 0 ? uv_translate_sys_error(errno) : fd;
}

const char* PendingTypeName(uv_handle_type type) {
  switch (type) {
    case UV_TCP:
      return "tcp";
    case UV_NAMED_PIPE:
      return "pipe";
    case UV_UDP:
      return "udp";
    default:
      return nullptr;
  }
}

class PipeWrap : public StreamWrap<PipeWrap> {
  using M = InstanceMethodCallback;

 public:
  static void Init(Napi::Env env, Napi::Object exports) {
    auto methods = StreamMethods();
    methods.push_back(InstanceMethod("init", static_cast<M>(&PipeWrap::JsInit)));
    methods.push_back(InstanceMethod("bind", static_cast<M>(&PipeWrap::Bind)));
    methods.push_back(InstanceMethod("connect", static_cast<M>(&PipeWrap::Connect)));
    methods.push_back(InstanceMethod("open", static_cast<M>(&PipeWrap::Open)));
    methods.push_back(
        InstanceMethod("connectAbstract", static_cast<M>(&PipeWrap::ConnectAbstract)));
    methods.push_back(InstanceMethod("chmod", static_cast<M>(&PipeWrap::Chmod)));
    methods.push_back(InstanceMethod("getsockname", static_cast<M>(&PipeWrap::GetSockName)));
    methods.push_back(InstanceMethod("getpeername", static_cast<M>(&PipeWrap::GetPeerName)));
    methods.push_back(InstanceMethod("pendingCount", static_cast<M>(&PipeWrap::PendingCount)));
    methods.push_back(InstanceMethod("pendingType", static_cast<M>(&PipeWrap::PendingType)));
    methods.push_back(InstanceMethod("isIpc", static_cast<M>(&PipeWrap::IsIpc)));
    methods.push_back(DupFilenoMethod());
    Napi::Function ctor = DefineClass(env, "Pipe", methods);
    Register(env, ctor);
    exports.Set("Pipe", ctor);
  }

  explicit PipeWrap(const Napi::CallbackInfo& info) : StreamWrap<PipeWrap>(info) {}

 private:
  // init(loop, ipc)
  Napi::Value JsInit(const Napi::CallbackInfo& info) {
    int rc = StartInit(info[0], UV_NAMED_PIPE);
    if (rc != 0) return Code(rc);
    rc = uv_pipe_init(loop_->uv(), As<uv_pipe_t>(), ArgTruthy(info, 1) ? 1 : 0);
    if (rc != 0) {
      AbortInit();
      return Code(rc);
    }
    FinishInit();
    return Code(0);
  }

  // bind(name). UV_PIPE_NO_TRUNCATE: a name longer than sun_path is an error
  // (EINVAL), not silently another socket's name.
  Napi::Value Bind(const Napi::CallbackInfo& info) {
    if (!usable()) return Code(UV_EBADF);
    std::string name;
    if (!ArgName(info, 0, &name) || !PathFits(name)) return Code(UV_EINVAL);
    if (!IsAbstract(name)) {
      return Code(uv_pipe_bind2(As<uv_pipe_t>(), name.data(), name.size(), UV_PIPE_NO_TRUNCATE));
    }
    uv_os_fd_t existing;
    if (uv_fileno(handle_, &existing) == 0) return Code(UV_EINVAL);  // bound already, as libuv says
    sockaddr_un addr;
    socklen_t len;
    int fd = AbstractSocket(name, &addr, &len);
    if (fd < 0) return Code(fd);
    int rc = 0;
    if (bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0) {
      rc = uv_translate_sys_error(errno);
    } else {
      rc = uv_pipe_open(As<uv_pipe_t>(), fd);
    }
    if (rc != 0) ::close(fd);
    return Code(rc);
  }

  // connectAbstract(name) -> [status, connectStatus]: a non-zero status is a
  // usage failure (thrown by JS); connectStatus is the connect(2) result that
  // JS reports through the callback. Unix sockets connect at once or fail at
  // once (a full backlog is EAGAIN, never EINPROGRESS), so no request is
  // needed.
  Napi::Value ConnectAbstract(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto result = [&](int status, int connect_status) {
      Napi::Array array = Napi::Array::New(env, 2);
      array.Set(0u, Napi::Number::New(env, status));
      array.Set(1u, Napi::Number::New(env, connect_status));
      return array;
    };
    if (!usable()) return result(UV_EBADF, 0);
    std::string name;
    if (!ArgName(info, 0, &name) || !IsAbstract(name)) return result(UV_EINVAL, 0);
    uv_os_fd_t existing;
    if (uv_fileno(handle_, &existing) == 0) return result(UV_EISCONN, 0);
    sockaddr_un addr;
    socklen_t len;
    int fd = AbstractSocket(name, &addr, &len);
    if (fd < 0) return result(fd, 0);
    int rc;
    do {
      rc = connect(fd, reinterpret_cast<sockaddr*>(&addr), len);
    } while (rc != 0 && errno == EINTR);
    if (rc != 0) {
      int err = uv_translate_sys_error(errno);
      ::close(fd);
      return result(0, err);
    }
    rc = uv_pipe_open(As<uv_pipe_t>(), fd);
    if (rc != 0) {
      ::close(fd);
      return result(rc, 0);
    }
    loop_->Touch();
    return result(0, 0);
  }

  // connect(name): onconnect(status) follows; refused or missing names are
  // reported there, not here.
  Napi::Value Connect(const Napi::CallbackInfo& info) {
    if (!usable()) return Code(UV_EBADF);
    std::string name;
    if (!ArgName(info, 0, &name) || !PathFits(name)) return Code(UV_EINVAL);
    auto* req = static_cast<uv_connect_t*>(malloc(sizeof(uv_connect_t)));
    if (req == nullptr) return Code(UV_ENOMEM);
    int rc = uv_pipe_connect2(req, As<uv_pipe_t>(), name.data(), name.size(), UV_PIPE_NO_TRUNCATE,
                              OnConnect);
    if (rc != 0) {
      free(req);
      return Code(rc);
    }
    pending_reqs++;
    UpdatePin();
    loop_->Touch();
    return Code(0);
  }

  Napi::Value Open(const Napi::CallbackInfo& info) {
    int64_t fd;
    if (!usable()) return Code(UV_EBADF);
    if (!ArgInt64(info, 0, &fd) || fd < 0 || fd > INT32_MAX) return Code(UV_EINVAL);
    int file = static_cast<int>(fd);
    if (fcntl(file, F_GETFD) == -1) return Code(UV_EBADF);
    // libuv takes any fd here, and aborts the process later when epoll
    // refuses to watch it (a regular file, /dev/null): only what epoll
    // watches passes (FIFOs, sockets, terminals).
    uv_handle_type type = uv_guess_handle(file);
    if (type != UV_NAMED_PIPE && type != UV_TCP && type != UV_UDP && type != UV_TTY)
      return Code(UV_EINVAL);
    int rc = uv_pipe_open(As<uv_pipe_t>(), file);
    loop_->Touch();
    return Code(rc);
  }

  // chmod(flags): UV_READABLE | UV_WRITABLE. The socket's mode becomes
  // exactly r--r--r--, -w--w--w- or rw-rw-rw-, as uv_pipe_chmod does from
  // libuv 1.51 on; older libuv (Node 20's) added the bits to the old mode
  // after a stat, a race that 1.51 removed. Done here so that every Node
  // gives the same mode: fchmod where the kernel takes it for a socket, and
  // chmod on the bound path, as libuv does.
  Napi::Value Chmod(const Napi::CallbackInfo& info) {
    int64_t flags;
    if (!usable()) return Code(UV_EBADF);
    if (!ArgInt64(info, 0, &flags) || flags < 1 || flags > (UV_READABLE | UV_WRITABLE))
      return Code(UV_EINVAL);
    mode_t mode = 0;
    if (flags & UV_READABLE) mode |= S_IRUSR | S_IRGRP | S_IROTH;
    if (flags & UV_WRITABLE) mode |= S_IWUSR | S_IWGRP | S_IWOTH;
    uv_os_fd_t fd;
    int rc = uv_fileno(As<uv_handle_t>(), &fd);
    if (rc != 0) return Code(rc);
    if (fchmod(fd, mode) != 0 && errno != EINVAL && errno != EOPNOTSUPP)
      return Code(uv_translate_sys_error(errno));
    char name[PATH_MAX];
    size_t len = sizeof(name);
    rc = uv_pipe_getsockname(As<uv_pipe_t>(), name, &len);
    if (rc != 0) return Code(rc);
    if (chmod(name, mode) != 0) return Code(uv_translate_sys_error(errno));
    return Code(0);
  }

  Napi::Value GetSockName(const Napi::CallbackInfo& info) {
    return Name(info, uv_pipe_getsockname);
  }
  Napi::Value GetPeerName(const Napi::CallbackInfo& info) {
    return Name(info, uv_pipe_getpeername);
  }

  // The name as a string (abstract names keep their leading NUL), '' for an
  // unnamed socket, or a negative code.
  Napi::Value Name(const Napi::CallbackInfo& info, int (*fn)(const uv_pipe_t*, char*, size_t*)) {
    if (!usable()) return Code(UV_EBADF);
    char stack[256];
    size_t size = sizeof(stack);
    int rc = fn(As<uv_pipe_t>(), stack, &size);
    if (rc == UV_ENOBUFS) {
      // `size` now holds what is needed (plus room for a terminating NUL).
      std::string big(size + 1, '\0');
      size = big.size();
      rc = fn(As<uv_pipe_t>(), big.data(), &size);
      if (rc != 0) return Code(rc);
      return Napi::String::New(info.Env(), big.data(), size);
    }
    if (rc != 0) return Code(rc);
    return Napi::String::New(info.Env(), stack, size);
  }

  Napi::Value PendingCount(const Napi::CallbackInfo& info) {
    if (!usable()) return Code(UV_EBADF);
    return Code(uv_pipe_pending_count(As<uv_pipe_t>()));
  }

  // 'tcp' | 'pipe' | 'udp', or null when nothing is pending.
  Napi::Value PendingType(const Napi::CallbackInfo& info) {
    if (!usable() || uv_pipe_pending_count(As<uv_pipe_t>()) == 0) return info.Env().Null();
    const char* name = PendingTypeName(uv_pipe_pending_type(As<uv_pipe_t>()));
    if (name == nullptr) return info.Env().Null();
    return Napi::String::New(info.Env(), name);
  }

  Napi::Value IsIpc(const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), usable() && As<uv_pipe_t>()->ipc != 0);
  }
};

}  // namespace

namespace {

// dup(fd): a close-on-exec duplicate of `fd` (the same open file), or a
// negative libuv code. A second watcher on a file whose fd a handle of the
// same libuv loop already uses needs an fd of its own: libuv keeps one
// watcher per fd and loop.
Napi::Value DupFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) return Napi::Number::New(env, UV_EINVAL);
  int64_t fd = info[0].As<Napi::Number>().Int64Value();
  if (fd < 0 || fd > INT_MAX) return Napi::Number::New(env, UV_EBADF);
  int dup = fcntl(static_cast<int>(fd), F_DUPFD_CLOEXEC, 0);
  if (dup < 0) return Napi::Number::New(env, uv_translate_sys_error(errno));
  return Napi::Number::New(env, dup);
}

}  // namespace

void InitPipe(Napi::Env env, Napi::Object exports) {
  PipeWrap::Init(env, exports);
  exports.Set("dup", Napi::Function::New(env, DupFd, "dup"));
}

}  // namespace asyncuv
