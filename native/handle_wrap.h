// HandleBase / HandleWrap<T>: what every libuv handle wrap shares.
//
// Rules (after Node's src/handle_wrap.h):
// 1. Init is three-phase: StartInit() checks the loop and allocates the uv
//    handle, the subclass calls uv_<type>_init, then FinishInit() registers
//    it, or AbortInit() frees it so nothing half-built stays behind.
// 2. State goes initialized -> closing -> closed. Close() twice is a no-op.
// 3. The uv handle is malloc'd on its own and freed only in libuv's close
//    callback, so a wrap may be collected while libuv still owns memory.
// 4. The JS object is pinned (a strong reference) while libuv may still call
//    back into it: while the handle is active, has requests in flight, or is
//    closing. UpdatePin() re-evaluates that after every change.
// 5. A wrap collected while initialized (inactive and unreachable) detaches
//    from its uv handle and closes it; libuv frees it later.
// 6. Native methods never throw for runtime failures: they return 0 or a
//    negative libuv error code, and the TS layer builds the error.
// 7. Everything runs on the thread of the env that owns the loop.
// 8. An internal handle (internal_: a loop's Timer-list driver) is a handle
//    of the loop that no JS object owns: it is not counted, not listed and
//    never calls JS. loop.close() closes it like any other, and libuv's close
//    callback deletes it.
#pragma once

#include <napi.h>
#include <uv.h>

#include <climits>
#include <cstdlib>
#include <string>
#include <vector>

#include "addon.h"
#include "loop_wrap.h"

namespace asyncuv {

class HandleBase {
 public:
  enum class State { kUninitialized, kInitialized, kClosing, kClosed };

  virtual ~HandleBase() = default;

  uv_handle_t* handle() const { return handle_; }
  template <typename H>
  H* As() const {
    return reinterpret_cast<H*>(handle_);
  }
  LoopWrap* loop() const { return loop_; }
  // True while methods other than close may run.
  bool usable() const { return state_ == State::kInitialized; }

  // Starts closing. `notify`: call `onclose` once closed. Closes that nobody
  // waits for (close() without a callback, the loop closing every handle, a
  // collected wrap) make no call into JS.
  void Close(bool notify = false);
  void UpdatePin();
  // Calls the JS function stored under `key` on this wrap's JS object. The
  // caller has opened a handle scope. Nothing happens in env teardown.
  void Emit(Key key, size_t argc = 0, const napi_value* argv = nullptr);
  // The same for a handle of `loop` whose JS object is `recv` (null: none).
  static void EmitTo(LoopWrap* loop, napi_value recv, Key key, size_t argc = 0,
                     const napi_value* argv = nullptr);
  // The JS object that owns this wrap (its `owner` property), or undefined.
  Napi::Value Owner();

  // The bodies of the methods every handle has (HandleWrap's instance
  // methods, the Timer functions of timer_wrap.cc): 0 or a negative libuv
  // code, EBADF once closing; the answers are false once closing.
  int SetRef(bool ref);
  bool HasRef() const { return usable() && uv_has_ref(handle_); }
  bool IsActive() const { return usable() && Active(); }
  // The fd, or a negative code.
  int Fileno() const;
  // A new fd (F_DUPFD_CLOEXEC) for the handle's socket, the caller's to own
  // and close (the handle keeps its own), or a negative code: how a socket
  // handle of asyncuv is handed to node:net or node:dgram, which close the
  // fd they are given. Registered by the socket wraps (TCP, Pipe, UDP)
  // with DupFilenoMethod().
  int DupFileno() const;

  // The wrap behind a uv handle's data. data holds a HandleBase*, which is
  // not the address of the (multiply inherited) wrap: always cast through it.
  template <typename W, typename H>
  static W* FromHandle(H* handle) {
    return static_cast<W*>(static_cast<HandleBase*>(handle->data));
  }

  static void OnClose(uv_handle_t* handle);
  static void OnDetachedClose(uv_handle_t* handle);

  // Requests (writes, connects, ...) libuv still owns; each pins the wrap.
  int pending_reqs = 0;

 protected:
  int StartInit(Napi::Value loop_value, uv_handle_type type);
  int StartInit(LoopWrap* loop, uv_handle_type type);
  // All three phases around one `uv_<type>_init(loop, handle)` call; `loop`
  // is the JS Loop's native half or a LoopWrap*.
  template <typename H, typename L>
  int InitHandle(L loop, uv_handle_type type, int (*init)(uv_loop_t*, H*)) {
    int rc = StartInit(loop, type);
    if (rc != 0) return rc;
    rc = init(loop_->uv(), As<H>());
    if (rc != 0) {
      AbortInit();
      return rc;
    }
    FinishInit();
    return 0;
  }
  void AbortInit();
  void FinishInit();
  // Rule 5; called from the ObjectWrap destructor.
  void Detach();

  // Runs once, when close starts, before uv_close.
  virtual void BeforeClose() {}
  // What uv_is_active answers for this handle (the Timer-list driver: its uv timer).
  virtual bool Active() const { return uv_is_active(handle_) != 0; }
  virtual napi_value JsValue() = 0;
  virtual void SetPinned(bool pinned) = 0;

  LoopWrap* loop_ = nullptr;
  uv_handle_t* handle_ = nullptr;
  State state_ = State::kUninitialized;
  bool pinned_ = false;
  bool notify_close_ = false;
  bool internal_ = false;  // rule 8
};

// B is HandleBase or a subclass of it that holds shared non-template logic
// (StreamBase); T is the concrete wrap.
template <typename T, typename B = HandleBase>
class HandleWrap : public Napi::ObjectWrap<T>, public B {
 public:
  using Base = HandleWrap<T, B>;
  // Subclass constructors do nothing (init is a method), so an orphan needs
  // no further care there.
  explicit HandleWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<T>(info) {
    Orphaned(this, info.Env());
  }
  ~HandleWrap() override { this->Detach(); }

  // Registers T so that instances can be passed to native methods (accept,
  // IPC sends) and found again with AddonData::UnwrapHandle.
  static void Register(Napi::Env env, Napi::Function ctor) {
    AddonData::Get(env)->RegisterHandleClass(ctor, [](napi_env e, napi_value value) -> HandleBase* {
      void* wrap = nullptr;
      if (napi_unwrap(e, value, &wrap) != napi_ok || wrap == nullptr) return nullptr;
      return static_cast<HandleBase*>(static_cast<T*>(wrap));
    });
  }

  // The methods every handle has; subclasses append theirs.
  static std::vector<typename Napi::ObjectWrap<T>::PropertyDescriptor> BaseMethods() {
    using W = Napi::ObjectWrap<T>;
    // Base-class member pointers convert to T's implicitly.
    using M = typename W::InstanceMethodCallback;
    return {W::InstanceMethod("close", static_cast<M>(&Base::JsClose)),
            W::InstanceMethod("ref", static_cast<M>(&Base::JsRef)),
            W::InstanceMethod("unref", static_cast<M>(&Base::JsUnref)),
            W::InstanceMethod("hasRef", static_cast<M>(&Base::JsHasRef)),
            W::InstanceMethod("isActive", static_cast<M>(&Base::JsIsActive)),
            W::InstanceMethod("fileno", static_cast<M>(&Base::JsFileno))};
  }

  // dupFileno(), for the wraps of sockets.
  static typename Napi::ObjectWrap<T>::PropertyDescriptor DupFilenoMethod() {
    using W = Napi::ObjectWrap<T>;
    using M = typename W::InstanceMethodCallback;
    return W::InstanceMethod("dupFileno", static_cast<M>(&Base::JsDupFileno));
  }

 protected:
  napi_value JsValue() override { return this->Value(); }
  // The C API, not Ref()/Unref(): between a collection and its finalizer
  // (which runs later, from an immediate) the wrap's JS object is gone,
  // napi_reference_ref leaves the count at 0 and the matching unref fails.
  // Ref()/Unref() would turn that failure into a pending JS exception that
  // makes every later N-API call of the batch fail, stalling every loop.
  void SetPinned(bool pinned) override {
    uint32_t count = 0;
    napi_ref ref = *this;
    if (pinned) {
      napi_reference_ref(this->Env(), ref, &count);
    } else {
      napi_reference_unref(this->Env(), ref, &count);
    }
  }

  Napi::Value Code(int rc) { return Napi::Number::New(this->Env(), rc); }

  // The epilogue of every call that may start or stop the handle: re-pin
  // (rule 4), let the loop re-arm, return the status.
  Napi::Value StateChanged(int rc) {
    this->UpdatePin();
    this->loop_->Touch();
    return Code(rc);
  }

 private:
  // close(notify): `notify` true when JS set an onclose to call.
  Napi::Value JsClose(const Napi::CallbackInfo& info) {
    bool notify = false;
    if (info.Length() > 0 && napi_get_value_bool(info.Env(), info[0], &notify) != napi_ok) {
      notify = false;
    }
    this->Close(notify);
    return info.Env().Undefined();
  }
  Napi::Value JsRef(const Napi::CallbackInfo& info) { return Code(this->SetRef(true)); }
  Napi::Value JsUnref(const Napi::CallbackInfo& info) { return Code(this->SetRef(false)); }
  Napi::Value JsHasRef(const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), this->HasRef());
  }
  Napi::Value JsIsActive(const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), this->IsActive());
  }
  Napi::Value JsFileno(const Napi::CallbackInfo& info) { return Code(this->Fileno()); }
  Napi::Value JsDupFileno(const Napi::CallbackInfo& info) { return Code(this->DupFileno()); }
};

// The path a uv_fs_event_t / uv_fs_poll_t watches (uv_*_getpath), or a
// negative code (EINVAL when not started).
template <typename H>
Napi::Value WatchedPath(Napi::Env env, H* handle, int (*getpath)(H*, char*, size_t*)) {
  std::string buf(PATH_MAX + 1, '\0');
  size_t size = buf.size();
  int rc = getpath(handle, &buf[0], &size);
  if (rc == UV_ENOBUFS) {  // size now holds the length needed, with the NUL
    buf.resize(size);
    rc = getpath(handle, &buf[0], &size);
  }
  if (rc != 0) return Napi::Number::New(env, rc);
  return Napi::String::New(env, buf.data(), size);
}

// Reads a JS number argument as an integer, or returns false.
bool ArgInt64(const Napi::CallbackInfo& info, size_t index, int64_t* out);

// The truthiness of an argument; false if it is missing, or if Node-API
// refuses the coercion (an env stopping), where Value::ToBoolean() would
// hand back an empty value whose use is a fatal error.
bool ArgTruthy(const Napi::CallbackInfo& info, size_t index);

}  // namespace asyncuv
