// fs: completion-based file I/O on a private loop (uv_fs_* with callbacks).
//
// Each function takes the loop first and returns a Promise that resolves
// with the raw outcome: a negative libuv code on failure, otherwise the
// result (an fd, a byte count, 0, a stat array or directory entries).
// handles/fs.ts turns negative codes into UvErrors. Invalid arguments are
// returned as a negative number instead of a Promise.
//
// A request in flight keeps the loop alive, pins the buffer it reads into
// or writes from (a reference released on completion), and is waited for by
// loop.close(). In env teardown the Promise is left unsettled: no JS may run.
#include <cerrno>
#include <cstring>
#include <string>

#ifdef __linux__
#include <sys/sendfile.h>
#endif

#include "bytes_arg.h"
#include "loop_wrap.h"
#include "stat_value.h"
#include "wraps.h"

namespace asyncuv {
namespace {

// kString: readlink's and realpath's result (req->ptr); kPath: mkdtemp's (req->path).
enum class Result { kNumber, kStat, kScandir, kString, kPath };

struct FsReq {
  uv_fs_t req;  // first: the uv_fs_t* libuv hands back is this FsReq
  LoopWrap* loop = nullptr;
  napi_deferred deferred = nullptr;
  napi_ref keep = nullptr;  // the buffer of a read or write
  Result kind = Result::kNumber;
};

Napi::Value Code(Napi::Env env, int rc) {
  return Napi::Number::New(env, rc);
}

napi_value ScandirToJs(napi_env env, uv_fs_t* req) {
  napi_value list;
  napi_create_array(env, &list);
  uv_dirent_t ent;
  uint32_t i = 0;
  while (uv_fs_scandir_next(req, &ent) == 0) {
    napi_value item, name, type;
    napi_create_object(env, &item);
    napi_create_string_utf8(env, ent.name, NAPI_AUTO_LENGTH, &name);
    napi_create_int32(env, static_cast<int32_t>(ent.type), &type);
    napi_set_named_property(env, item, "name", name);
    napi_set_named_property(env, item, "type", type);
    napi_set_element(env, list, i++, item);
  }
  return list;
}

// Runs on the loop's thread, inside a batch, a blocking run or loop close.
void OnFsDone(uv_fs_t* uv_req) {
  auto* r = reinterpret_cast<FsReq*>(uv_req);
  LoopWrap* loop = r->loop;
  napi_env env = loop->env();
  napi_handle_scope scope = nullptr;
  if (loop->CanCallJs()) napi_open_handle_scope(env, &scope);
  if (scope != nullptr && loop->JsCallable()) {
    napi_value result;
    if (uv_req->result < 0 || r->kind == Result::kNumber) {
      napi_create_double(env, static_cast<double>(uv_req->result), &result);
    } else if (r->kind == Result::kStat) {
      result = StatToJs(env, &uv_req->statbuf);
    } else if (r->kind == Result::kString || r->kind == Result::kPath) {
      const char* text =
          r->kind == Result::kString ? static_cast<const char*>(uv_req->ptr) : uv_req->path;
      napi_create_string_utf8(env, text != nullptr ? text : "", NAPI_AUTO_LENGTH, &result);
    } else {
      result = ScandirToJs(env, uv_req);
    }
    napi_resolve_deferred(env, r->deferred, result);
    loop->Dispatched();
  }
  // Also when JS cannot run (a request completing in env teardown): deleting
  // a reference runs no JavaScript; skipping it leaked the reference that
  // kept the buffer alive (LeakSanitizer). The deferred itself can only be
  // freed by settling it, which Node-API refuses then (test/asan/lsan.supp).
  if (r->keep != nullptr) napi_delete_reference(env, r->keep);
  if (scope != nullptr) napi_close_handle_scope(env, scope);
  uv_fs_req_cleanup(uv_req);
  delete r;
}

// Starts one request: `start(loop, req)` calls uv_fs_<op> with OnFsDone.
template <typename Start>
Napi::Value Submit(const Napi::CallbackInfo& info, Result kind, Napi::Value keep, Start start) {
  Napi::Env env = info.Env();
  LoopWrap* loop = LoopWrap::FromValue(info[0]);
  if (loop == nullptr) return Code(env, UV_EINVAL);
  if (!loop->open()) return Code(env, UV_EBADF);
  auto* r = new FsReq();
  r->loop = loop;
  r->kind = kind;
  napi_value promise;
  if (!NewPromise(env, &r->deferred, &promise)) {
    delete r;
    return Code(env, UV_ECANCELED);
  }
  int rc = start(loop->uv(), &r->req);
  if (rc < 0) {
    DropPromise(env, r->deferred);
    uv_fs_req_cleanup(&r->req);
    delete r;
    return Code(env, rc);
  }
  if (!keep.IsEmpty() && napi_create_reference(env, keep, 1, &r->keep) != napi_ok)
    r->keep = nullptr;
  loop->Touch();
  return Napi::Value(env, promise);
}

// A path argument without embedded NULs (which would silently truncate it).
bool ArgPath(const Napi::CallbackInfo& info, size_t index, std::string* out) {
  if (index >= info.Length() || !info[index].IsString()) return false;
  *out = info[index].As<Napi::String>().Utf8Value();
  return out->find('\0') == std::string::npos;
}

bool ArgInt(const Napi::CallbackInfo& info, size_t index, int64_t min, int64_t max, int64_t* out) {
  if (index >= info.Length() || !info[index].IsNumber()) return false;
  double v = info[index].As<Napi::Number>().DoubleValue();
  if (!(v >= static_cast<double>(min) && v <= static_cast<double>(max))) return false;
  if (v != static_cast<double>(static_cast<int64_t>(v))) return false;
  *out = static_cast<int64_t>(v);
  return true;
}

constexpr int64_t kMaxFd = INT32_MAX;
constexpr int64_t kMaxPosition = (int64_t{1} << 53) - 1;

// open(loop, path, flags, mode) -> fd
Napi::Value Open(const Napi::CallbackInfo& info) {
  std::string path;
  int64_t flags, mode;
  if (!ArgPath(info, 1, &path) || !ArgInt(info, 2, INT32_MIN, INT32_MAX, &flags) ||
      !ArgInt(info, 3, 0, 07777, &mode))
    return Code(info.Env(), UV_EINVAL);
  return Submit(info, Result::kNumber, Napi::Value(), [&](uv_loop_t* loop, uv_fs_t* req) {
    return uv_fs_open(loop, req, path.c_str(), static_cast<int>(flags), static_cast<int>(mode),
                      OnFsDone);
  });
}

// The fd-only requests: close, fsync, fstat.
template <int (*kOp)(uv_loop_t*, uv_fs_t*, uv_file, uv_fs_cb), Result kKind>
Napi::Value FdOp(const Napi::CallbackInfo& info) {
  int64_t fd;
  if (!ArgInt(info, 1, 0, kMaxFd, &fd)) return Code(info.Env(), UV_EINVAL);
  return Submit(info, kKind, Napi::Value(), [&](uv_loop_t* loop, uv_fs_t* req) {
    return kOp(loop, req, static_cast<uv_file>(fd), OnFsDone);
  });
}

// The path-only requests: unlink, rmdir, stat, lstat, scandir.
template <int (*kOp)(uv_loop_t*, uv_fs_t*, const char*, uv_fs_cb), Result kKind>
Napi::Value PathOp(const Napi::CallbackInfo& info) {
  std::string path;
  if (!ArgPath(info, 1, &path)) return Code(info.Env(), UV_EINVAL);
  return Submit(info, kKind, Napi::Value(), [&](uv_loop_t* loop, uv_fs_t* req) {
    return kOp(loop, req, path.c_str(), OnFsDone);
  });
}

int Scandir(uv_loop_t* loop, uv_fs_t* req, const char* path, uv_fs_cb cb) {
  return uv_fs_scandir(loop, req, path, 0, cb);
}

// read(loop, fd, buffer, offset, length, position) / write(...) -> bytes
template <bool kWrite>
Napi::Value ReadWrite(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t fd, offset, length, position;
  uv_buf_t buf;
  if (!ArgInt(info, 1, 0, kMaxFd, &fd) || !ArgBytes(info[2], &buf) ||
      !ArgInt(info, 3, 0, buf.len, &offset) || !ArgInt(info, 4, 0, buf.len - offset, &length) ||
      !ArgInt(info, 5, -1, kMaxPosition, &position))
    return Code(env, UV_EINVAL);
  uv_buf_t part = uv_buf_init(buf.base + offset, static_cast<unsigned int>(length));
  return Submit(info, Result::kNumber, info[2], [&](uv_loop_t* loop, uv_fs_t* req) {
    // libuv copies the uv_buf_t array itself; the bytes stay in the kept buffer.
    auto file = static_cast<uv_file>(fd);
    if (kWrite) return uv_fs_write(loop, req, file, &part, 1, position, OnFsDone);
    return uv_fs_read(loop, req, file, &part, 1, position, OnFsDone);
  });
}

// ftruncate(loop, fd, length)
Napi::Value Ftruncate(const Napi::CallbackInfo& info) {
  int64_t fd, length;
  if (!ArgInt(info, 1, 0, kMaxFd, &fd) || !ArgInt(info, 2, 0, kMaxPosition, &length))
    return Code(info.Env(), UV_EINVAL);
  return Submit(info, Result::kNumber, Napi::Value(), [&](uv_loop_t* loop, uv_fs_t* req) {
    return uv_fs_ftruncate(loop, req, static_cast<uv_file>(fd), length, OnFsDone);
  });
}

// rename(loop, from, to)
Napi::Value Rename(const Napi::CallbackInfo& info) {
  std::string from, to;
  if (!ArgPath(info, 1, &from) || !ArgPath(info, 2, &to)) return Code(info.Env(), UV_EINVAL);
  return Submit(info, Result::kNumber, Napi::Value(), [&](uv_loop_t* loop, uv_fs_t* req) {
    return uv_fs_rename(loop, req, from.c_str(), to.c_str(), OnFsDone);
  });
}

// mkdir(loop, path, mode)
Napi::Value Mkdir(const Napi::CallbackInfo& info) {
  std::string path;
  int64_t mode;
  if (!ArgPath(info, 1, &path) || !ArgInt(info, 2, 0, 07777, &mode))
    return Code(info.Env(), UV_EINVAL);
  return Submit(info, Result::kNumber, Napi::Value(), [&](uv_loop_t* loop, uv_fs_t* req) {
    return uv_fs_mkdir(loop, req, path.c_str(), static_cast<int>(mode), OnFsDone);
  });
}

// chmod(loop, path, mode) / fchmod(loop, fd, mode)
Napi::Value Chmod(const Napi::CallbackInfo& info) {
  std::string path;
  int64_t mode;
  if (!ArgPath(info, 1, &path) || !ArgInt(info, 2, 0, 07777, &mode))
    return Code(info.Env(), UV_EINVAL);
  return Submit(info, Result::kNumber, Napi::Value(), [&](uv_loop_t* loop, uv_fs_t* req) {
    return uv_fs_chmod(loop, req, path.c_str(), static_cast<int>(mode), OnFsDone);
  });
}

Napi::Value Fchmod(const Napi::CallbackInfo& info) {
  int64_t fd, mode;
  if (!ArgInt(info, 1, 0, kMaxFd, &fd) || !ArgInt(info, 2, 0, 07777, &mode))
    return Code(info.Env(), UV_EINVAL);
  return Submit(info, Result::kNumber, Napi::Value(), [&](uv_loop_t* loop, uv_fs_t* req) {
    return uv_fs_fchmod(loop, req, static_cast<uv_file>(fd), static_cast<int>(mode), OnFsDone);
  });
}

// chown/lchown(loop, path, uid, gid), fchown(loop, fd, uid, gid); -1 keeps an id.
template <int (*kOp)(uv_loop_t*, uv_fs_t*, const char*, uv_uid_t, uv_gid_t, uv_fs_cb)>
Napi::Value PathChown(const Napi::CallbackInfo& info) {
  std::string path;
  int64_t uid, gid;
  if (!ArgPath(info, 1, &path) || !ArgInt(info, 2, -1, UINT32_MAX, &uid) ||
      !ArgInt(info, 3, -1, UINT32_MAX, &gid))
    return Code(info.Env(), UV_EINVAL);
  return Submit(info, Result::kNumber, Napi::Value(), [&](uv_loop_t* loop, uv_fs_t* req) {
    return kOp(loop, req, path.c_str(), static_cast<uv_uid_t>(uid), static_cast<uv_gid_t>(gid),
               OnFsDone);
  });
}

Napi::Value Fchown(const Napi::CallbackInfo& info) {
  int64_t fd, uid, gid;
  if (!ArgInt(info, 1, 0, kMaxFd, &fd) || !ArgInt(info, 2, -1, UINT32_MAX, &uid) ||
      !ArgInt(info, 3, -1, UINT32_MAX, &gid))
    return Code(info.Env(), UV_EINVAL);
  return Submit(info, Result::kNumber, Napi::Value(), [&](uv_loop_t* loop, uv_fs_t* req) {
    return uv_fs_fchown(loop, req, static_cast<uv_file>(fd), static_cast<uv_uid_t>(uid),
                        static_cast<uv_gid_t>(gid), OnFsDone);
  });
}

// link(loop, existing, new) / symlink(loop, target, path)
Napi::Value Link(const Napi::CallbackInfo& info) {
  std::string from, to;
  if (!ArgPath(info, 1, &from) || !ArgPath(info, 2, &to)) return Code(info.Env(), UV_EINVAL);
  return Submit(info, Result::kNumber, Napi::Value(), [&](uv_loop_t* loop, uv_fs_t* req) {
    return uv_fs_link(loop, req, from.c_str(), to.c_str(), OnFsDone);
  });
}

Napi::Value Symlink(const Napi::CallbackInfo& info) {
  std::string target, path;
  if (!ArgPath(info, 1, &target) || !ArgPath(info, 2, &path)) return Code(info.Env(), UV_EINVAL);
  return Submit(info, Result::kNumber, Napi::Value(), [&](uv_loop_t* loop, uv_fs_t* req) {
    return uv_fs_symlink(loop, req, target.c_str(), path.c_str(), 0, OnFsDone);
  });
}

int Readlink(uv_loop_t* loop, uv_fs_t* req, const char* path, uv_fs_cb cb) {
  return uv_fs_readlink(loop, req, path, cb);
}

int Realpath(uv_loop_t* loop, uv_fs_t* req, const char* path, uv_fs_cb cb) {
  return uv_fs_realpath(loop, req, path, cb);
}

int Mkdtemp(uv_loop_t* loop, uv_fs_t* req, const char* tpl, uv_fs_cb cb) {
  return uv_fs_mkdtemp(loop, req, tpl, cb);
}

// utime/lutime(loop, path, atime, mtime), futime(loop, fd, atime, mtime): seconds.
template <int (*kOp)(uv_loop_t*, uv_fs_t*, const char*, double, double, uv_fs_cb)>
Napi::Value PathUtime(const Napi::CallbackInfo& info) {
  std::string path;
  if (!ArgPath(info, 1, &path) || info.Length() < 4 || !info[2].IsNumber() || !info[3].IsNumber())
    return Code(info.Env(), UV_EINVAL);
  double atime = info[2].As<Napi::Number>().DoubleValue();
  double mtime = info[3].As<Napi::Number>().DoubleValue();
  return Submit(info, Result::kNumber, Napi::Value(), [&](uv_loop_t* loop, uv_fs_t* req) {
    return kOp(loop, req, path.c_str(), atime, mtime, OnFsDone);
  });
}

Napi::Value Futime(const Napi::CallbackInfo& info) {
  int64_t fd;
  if (!ArgInt(info, 1, 0, kMaxFd, &fd) || info.Length() < 4 || !info[2].IsNumber() ||
      !info[3].IsNumber())
    return Code(info.Env(), UV_EINVAL);
  double atime = info[2].As<Napi::Number>().DoubleValue();
  double mtime = info[3].As<Napi::Number>().DoubleValue();
  return Submit(info, Result::kNumber, Napi::Value(), [&](uv_loop_t* loop, uv_fs_t* req) {
    return uv_fs_futime(loop, req, static_cast<uv_file>(fd), atime, mtime, OnFsDone);
  });
}

// access(loop, path, mode): 0 or the failure (F_OK, R_OK, W_OK, X_OK bits).
Napi::Value Access(const Napi::CallbackInfo& info) {
  std::string path;
  int64_t mode;
  if (!ArgPath(info, 1, &path) || !ArgInt(info, 2, 0, 7, &mode)) return Code(info.Env(), UV_EINVAL);
  return Submit(info, Result::kNumber, Napi::Value(), [&](uv_loop_t* loop, uv_fs_t* req) {
    return uv_fs_access(loop, req, path.c_str(), static_cast<int>(mode), OnFsDone);
  });
}

// copyfile(loop, from, to, flags): UV_FS_COPYFILE_EXCL | _FICLONE | _FICLONE_FORCE.
Napi::Value Copyfile(const Napi::CallbackInfo& info) {
  std::string from, to;
  int64_t flags;
  if (!ArgPath(info, 1, &from) || !ArgPath(info, 2, &to) || !ArgInt(info, 3, 0, 7, &flags))
    return Code(info.Env(), UV_EINVAL);
  return Submit(info, Result::kNumber, Napi::Value(), [&](uv_loop_t* loop, uv_fs_t* req) {
    return uv_fs_copyfile(loop, req, from.c_str(), to.c_str(), static_cast<int>(flags), OnFsDone);
  });
}

// sendfile(loop, outFd, inFd, offset, length) -> bytes transferred
Napi::Value Sendfile(const Napi::CallbackInfo& info) {
  int64_t out_fd, in_fd, offset, length;
  if (!ArgInt(info, 1, 0, kMaxFd, &out_fd) || !ArgInt(info, 2, 0, kMaxFd, &in_fd) ||
      !ArgInt(info, 3, 0, kMaxPosition, &offset) || !ArgInt(info, 4, 0, kMaxPosition, &length))
    return Code(info.Env(), UV_EINVAL);
  return Submit(info, Result::kNumber, Napi::Value(), [&](uv_loop_t* loop, uv_fs_t* req) {
    return uv_fs_sendfile(loop, req, static_cast<uv_file>(out_fd), static_cast<uv_file>(in_fd),
                          offset, static_cast<size_t>(length), OnFsDone);
  });
}

#ifdef __linux__
// trySendfile(outFd, inFd, offset, length) -> bytes sent now, or a negative
// code (UV_EAGAIN: the non-blocking socket is full). sendfile(2) itself, on
// the calling thread: uv_fs_sendfile tries copy_file_range first, which a
// socket refuses with EINVAL, and then emulates with reads and writes that
// wait in the thread pool (poll) whenever the socket is full. Reading a
// file that is not cached blocks the thread as a read would, which is
// asyncio's and nginx's trade for zero-copy on the loop's thread.
Napi::Value TrySendfile(const Napi::CallbackInfo& info) {
  int64_t out_fd, in_fd, offset, length;
  if (!ArgInt(info, 0, 0, kMaxFd, &out_fd) || !ArgInt(info, 1, 0, kMaxFd, &in_fd) ||
      !ArgInt(info, 2, 0, kMaxPosition, &offset) || !ArgInt(info, 3, 0, kMaxPosition, &length))
    return Code(info.Env(), UV_EINVAL);
  off_t off = static_cast<off_t>(offset);
  ssize_t n;
  do {
    n = sendfile(static_cast<int>(out_fd), static_cast<int>(in_fd), &off,
                 static_cast<size_t>(length));
  } while (n < 0 && errno == EINTR);
  if (n < 0) return Code(info.Env(), uv_translate_sys_error(errno));
  return Napi::Number::New(info.Env(), static_cast<double>(n));
}
#endif

}  // namespace

void InitFs(Napi::Env env, Napi::Object exports) {
  Napi::Object fs = Napi::Object::New(env);
  fs.Set("open", Napi::Function::New(env, Open, "open"));
  fs.Set("close", Napi::Function::New(env, FdOp<uv_fs_close, Result::kNumber>, "close"));
  fs.Set("fsync", Napi::Function::New(env, FdOp<uv_fs_fsync, Result::kNumber>, "fsync"));
  fs.Set("fstat", Napi::Function::New(env, FdOp<uv_fs_fstat, Result::kStat>, "fstat"));
  fs.Set("read", Napi::Function::New(env, ReadWrite<false>, "read"));
  fs.Set("write", Napi::Function::New(env, ReadWrite<true>, "write"));
  fs.Set("ftruncate", Napi::Function::New(env, Ftruncate, "ftruncate"));
  fs.Set("stat", Napi::Function::New(env, PathOp<uv_fs_stat, Result::kStat>, "stat"));
  fs.Set("lstat", Napi::Function::New(env, PathOp<uv_fs_lstat, Result::kStat>, "lstat"));
  fs.Set("unlink", Napi::Function::New(env, PathOp<uv_fs_unlink, Result::kNumber>, "unlink"));
  fs.Set("rmdir", Napi::Function::New(env, PathOp<uv_fs_rmdir, Result::kNumber>, "rmdir"));
  fs.Set("scandir", Napi::Function::New(env, PathOp<Scandir, Result::kScandir>, "scandir"));
  fs.Set("rename", Napi::Function::New(env, Rename, "rename"));
  fs.Set("mkdir", Napi::Function::New(env, Mkdir, "mkdir"));
  fs.Set("sendfile", Napi::Function::New(env, Sendfile, "sendfile"));
  fs.Set("fdatasync",
         Napi::Function::New(env, FdOp<uv_fs_fdatasync, Result::kNumber>, "fdatasync"));
  fs.Set("chmod", Napi::Function::New(env, Chmod, "chmod"));
  fs.Set("fchmod", Napi::Function::New(env, Fchmod, "fchmod"));
  fs.Set("chown", Napi::Function::New(env, PathChown<uv_fs_chown>, "chown"));
  fs.Set("lchown", Napi::Function::New(env, PathChown<uv_fs_lchown>, "lchown"));
  fs.Set("fchown", Napi::Function::New(env, Fchown, "fchown"));
  fs.Set("link", Napi::Function::New(env, Link, "link"));
  fs.Set("symlink", Napi::Function::New(env, Symlink, "symlink"));
  fs.Set("readlink", Napi::Function::New(env, PathOp<Readlink, Result::kString>, "readlink"));
  fs.Set("realpath", Napi::Function::New(env, PathOp<Realpath, Result::kString>, "realpath"));
  fs.Set("mkdtemp", Napi::Function::New(env, PathOp<Mkdtemp, Result::kPath>, "mkdtemp"));
  fs.Set("utime", Napi::Function::New(env, PathUtime<uv_fs_utime>, "utime"));
  fs.Set("lutime", Napi::Function::New(env, PathUtime<uv_fs_lutime>, "lutime"));
  fs.Set("futime", Napi::Function::New(env, Futime, "futime"));
  fs.Set("access", Napi::Function::New(env, Access, "access"));
  fs.Set("copyfile", Napi::Function::New(env, Copyfile, "copyfile"));
#ifdef __linux__
  fs.Set("trySendfile", Napi::Function::New(env, TrySendfile, "trySendfile"));
#endif
  exports.Set("fs", fs);
}

}  // namespace asyncuv
