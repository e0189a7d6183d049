// Process: uv_process_t. spawn() is the init: the handle exists only for a
// child that was started.
#include <fcntl.h>

#include <string>
#include <vector>

#include "handle_wrap.h"
#include "wraps.h"

namespace asyncuv {
namespace {

// How the TS layer describes each stdio entry: [kind, value, childFlags].
enum StdioKind : int { kIgnore = 0, kInheritFd = 1, kCreatePipe = 2, kInheritStream = 3 };

// Copies of the strings uv_spawn reads, with the char* arrays it wants.
struct StringList {
  std::vector<std::string> strings;
  std::vector<char*> pointers;

  // False unless `value` is an array of strings without NULs (a NUL would
  // silently cut the string short in the child).
  bool From(Napi::Value value) {
    if (!value.IsArray()) return false;
    Napi::Array array = value.As<Napi::Array>();
    uint32_t n = array.Length();
    strings.reserve(n);
    for (uint32_t i = 0; i < n; ++i) {
      Napi::Value item = array.Get(i);
      if (!item.IsString()) return false;
      strings.push_back(item.As<Napi::String>().Utf8Value());
      if (strings.back().find('\0') != std::string::npos) return false;
    }
    for (std::string& s : strings) pointers.push_back(s.data());
    pointers.push_back(nullptr);
    return true;
  }
};

class ProcessWrap : public HandleWrap<ProcessWrap> {
  using M = InstanceMethodCallback;

 public:
  static void Init(Napi::Env env, Napi::Object exports) {
    auto methods = BaseMethods();
    methods.push_back(InstanceMethod("spawn", static_cast<M>(&ProcessWrap::Spawn)));
    methods.push_back(InstanceMethod("kill", static_cast<M>(&ProcessWrap::Kill)));
    methods.push_back(InstanceMethod("pid", static_cast<M>(&ProcessWrap::Pid)));
    exports.Set("Process", DefineClass(env, "Process", methods));
  }

  explicit ProcessWrap(const Napi::CallbackInfo& info) : Base(info) {}

 private:
  // spawn(loop, file, args, env | null, cwd | null, detached, uid | -1,
  //       gid | -1, stdio). args is the whole argv, argv[0] included. All
  // arguments are checked before anything is allocated, because libuv
  // asserts on some bad options instead of failing.
  Napi::Value Spawn(const Napi::CallbackInfo& info) {
    if (info.Length() < 9 || !info[1].IsString() || !info[8].IsArray()) return Code(UV_EINVAL);
    std::string file = info[1].As<Napi::String>().Utf8Value();
    if (file.empty() || file.find('\0') != std::string::npos) return Code(UV_EINVAL);
    StringList args, env;
    if (!args.From(info[2]) || args.strings.empty()) return Code(UV_EINVAL);
    bool has_env = !info[3].IsNull() && !info[3].IsUndefined();
    if (has_env && !env.From(info[3])) return Code(UV_EINVAL);
    std::string cwd;
    bool has_cwd = info[4].IsString();
    if (has_cwd) {
      cwd = info[4].As<Napi::String>().Utf8Value();
      if (cwd.empty() || cwd.find('\0') != std::string::npos) return Code(UV_EINVAL);
    }
    unsigned flags = ArgTruthy(info, 5) ? UV_PROCESS_DETACHED : 0;
    int64_t uid, gid;
    if (!ArgInt64(info, 6, &uid) || !ArgInt64(info, 7, &gid) || uid < -1 || uid > UINT32_MAX - 1 ||
        gid < -1 || gid > UINT32_MAX - 1)
      return Code(UV_EINVAL);
    if (uid >= 0) flags |= UV_PROCESS_SETUID;
    if (gid >= 0) flags |= UV_PROCESS_SETGID;

    LoopWrap* loop = LoopWrap::FromValue(info[0]);
    if (loop == nullptr) return Code(UV_EINVAL);
    std::vector<uv_stdio_container_t> stdio;
    std::vector<LoopWrap*> touched;
    int rc = ParseStdio(info[8].As<Napi::Array>(), loop, &stdio, &touched);
    if (rc != 0) return Code(rc);

    uv_process_options_t options = {};
    options.exit_cb = OnExit;
    options.file = file.c_str();
    options.args = args.pointers.data();
    options.env = has_env ? env.pointers.data() : nullptr;
    options.cwd = has_cwd ? cwd.c_str() : nullptr;
    options.flags = flags;
    options.stdio_count = static_cast<int>(stdio.size());
    options.stdio = stdio.data();
    options.uid = static_cast<uv_uid_t>(uid < 0 ? 0 : uid);
    options.gid = static_cast<uv_gid_t>(gid < 0 ? 0 : gid);

    rc = StartInit(info[0], UV_PROCESS);
    if (rc != 0) return Code(rc);
    rc = uv_spawn(loop_->uv(), As<uv_process_t>(), &options);
    // Pipes created for the child were opened even if the exec failed.
    for (LoopWrap* l : touched) l->Touch();
    if (rc != 0) {
      // uv_spawn has initialized the handle whatever happened, so it is in
      // the loop and must go through uv_close; it never reaches JS.
      loop_->CountHandle(UV_PROCESS, 1);
      handle_->data = nullptr;
      uv_close(handle_, OnDetachedClose);
      loop_->Touch();
      handle_ = nullptr;
      loop_ = nullptr;
      return Code(rc);
    }
    FinishInit();
    return Code(0);
  }

  // Fills `out` from [kind, value, childFlags] entries. Streams must be on
  // the process's loop; pipes to create must not be open yet, streams to
  // inherit must be.
  static int ParseStdio(Napi::Array array, LoopWrap* loop, std::vector<uv_stdio_container_t>* out,
                        std::vector<LoopWrap*>* touched) {
    uint32_t n = array.Length();
    if (n > 1024) return UV_EINVAL;
    AddonData* data = loop->data();
    for (uint32_t i = 0; i < n; ++i) {
      Napi::Value entry = array.Get(i);
      if (!entry.IsArray()) return UV_EINVAL;
      Napi::Array e = entry.As<Napi::Array>();
      Napi::Value kind_value = e.Get(0u);
      if (!kind_value.IsNumber()) return UV_EINVAL;
      int kind = kind_value.As<Napi::Number>().Int32Value();
      uv_stdio_container_t c = {};
      if (kind == kIgnore) {
        c.flags = UV_IGNORE;
      } else if (kind == kInheritFd) {
        Napi::Value fd_value = e.Get(1u);
        if (!fd_value.IsNumber()) return UV_EINVAL;
        int64_t fd = fd_value.As<Napi::Number>().Int64Value();
        if (fd < 0 || fd > INT32_MAX) return UV_EINVAL;
        // The child would fail to dup2 a closed fd; say so here.
        if (fcntl(static_cast<int>(fd), F_GETFD) == -1) return UV_EBADF;
        c.flags = UV_INHERIT_FD;
        c.data.fd = static_cast<int>(fd);
      } else if (kind == kCreatePipe || kind == kInheritStream) {
        HandleBase* handle = data->UnwrapHandle(e.Get(1u));
        if (handle == nullptr || !handle->usable()) return UV_EBADF;
        if (handle->loop() != loop) return UV_EINVAL;
        uv_handle_type type = handle->handle()->type;
        uv_os_fd_t fd;
        bool open = uv_fileno(handle->handle(), &fd) == 0;
        if (kind == kCreatePipe) {
          if (type != UV_NAMED_PIPE) return UV_EINVAL;
          if (open) return UV_EBUSY;
          Napi::Value flags_value = e.Get(2u);
          int child = flags_value.IsNumber() ? flags_value.As<Napi::Number>().Int32Value() : 0;
          c.flags = static_cast<uv_stdio_flags>(UV_CREATE_PIPE |
                                                (child & (UV_READABLE_PIPE | UV_WRITABLE_PIPE)));
          touched->push_back(handle->loop());
        } else {
          if (type != UV_NAMED_PIPE && type != UV_TCP && type != UV_TTY) return UV_EINVAL;
          if (!open) return UV_EBADF;
          c.flags = UV_INHERIT_STREAM;
        }
        c.data.stream = reinterpret_cast<uv_stream_t*>(handle->handle());
      } else {
        return UV_EINVAL;
      }
      out->push_back(c);
    }
    return 0;
  }

  // kill(signum). After the exit the pid may belong to another process
  // already: a process that has exited is ESRCH, never signalled.
  Napi::Value Kill(const Napi::CallbackInfo& info) {
    int64_t signum;
    if (!usable()) return Code(UV_EBADF);
    if (!ArgInt64(info, 0, &signum) || signum < 0 || signum > 64) return Code(UV_EINVAL);
    if (!uv_is_active(handle_)) return Code(UV_ESRCH);
    return Code(uv_process_kill(As<uv_process_t>(), static_cast<int>(signum)));
  }

  Napi::Value Pid(const Napi::CallbackInfo& info) {
    if (!usable()) return Code(UV_EBADF);
    return Code(uv_process_get_pid(As<uv_process_t>()));
  }

  // libuv has reaped the child and stopped the handle: onexit(status,
  // signal), then the wrap may be unpinned.
  static void OnExit(uv_process_t* process, int64_t exit_status, int term_signal) {
    auto* wrap = FromHandle<ProcessWrap>(process);
    if (wrap == nullptr) return;
    LoopWrap* loop = wrap->loop();
    if (loop->CanCallJs()) {
      Napi::Env env(loop->env());
      Napi::HandleScope scope(env);
      napi_value argv[] = {Napi::Number::New(env, static_cast<double>(exit_status)),
                           Napi::Number::New(env, term_signal)};
      wrap->Emit(Key::kOnExit, 2, argv);
    }
    wrap->UpdatePin();
  }
};

// pipe(): [readFd, writeFd] of a new pipe, both close-on-exec and
// blocking (uv_pipe with no flags), or a negative libuv code. The one pipe
// a child's stdout and stderr share (asyncio's stderr=STDOUT): libuv can
// create a pipe for one of the child's fds only, and the other cannot name it.
Napi::Value MakePipe(const Napi::CallbackInfo& info) {
  uv_file fds[2];
  int rc = uv_pipe(fds, 0, 0);
  if (rc != 0) return Napi::Number::New(info.Env(), rc);
  Napi::Array pair = Napi::Array::New(info.Env(), 2);
  pair.Set(0u, Napi::Number::New(info.Env(), fds[0]));
  pair.Set(1u, Napi::Number::New(info.Env(), fds[1]));
  return pair;
}

}  // namespace

void InitProcess(Napi::Env env, Napi::Object exports) {
  ProcessWrap::Init(env, exports);
  exports.Set("pipe", Napi::Function::New(env, MakePipe, "pipe"));
}

}  // namespace asyncuv
