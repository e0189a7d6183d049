#include "handle_wrap.h"

#include <fcntl.h>

#include <cerrno>
#include <cmath>
#include <cstdio>

namespace asyncuv {

int HandleBase::StartInit(Napi::Value loop_value, uv_handle_type type) {
  LoopWrap* loop = LoopWrap::FromValue(loop_value);
  if (loop == nullptr) return UV_EINVAL;
  return StartInit(loop, type);
}

int HandleBase::StartInit(LoopWrap* loop, uv_handle_type type) {
  if (state_ != State::kUninitialized) return UV_EALREADY;
  if (!loop->open()) return UV_EBADF;
  handle_ = static_cast<uv_handle_t*>(calloc(1, uv_handle_size(type)));
  if (handle_ == nullptr) return UV_ENOMEM;
  loop_ = loop;
  return 0;
}

void HandleBase::AbortInit() {
  free(handle_);
  handle_ = nullptr;
  loop_ = nullptr;
}

void HandleBase::FinishInit() {
  handle_->data = this;
  state_ = State::kInitialized;
  if (!internal_) loop_->CountHandle(handle_->type, 1);
  UpdatePin();  // some handles (async) are active from init
  loop_->Touch();
}

void HandleBase::Close(bool notify) {
  if (state_ != State::kInitialized) return;
  state_ = State::kClosing;
  notify_close_ = notify;
  BeforeClose();
  UpdatePin();
  uv_close(handle_, OnClose);
  loop_->NoteClose();
  loop_->Touch();
}

void HandleBase::UpdatePin() {
  bool pin = state_ == State::kClosing ||
             (state_ == State::kInitialized && (Active() || pending_reqs > 0));
  if (pin == pinned_) return;
  pinned_ = pin;
  // In env teardown references are about to be deleted with the env.
  if (loop_ != nullptr && !loop_->CanCallJs()) return;
  SetPinned(pin);
}

void HandleBase::Emit(Key key, size_t argc, const napi_value* argv) {
  if (!loop_->CanCallJs()) return;
  EmitTo(loop_, JsValue(), key, argc, argv);
}

void HandleBase::EmitTo(LoopWrap* loop, napi_value recv, Key key, size_t argc,
                        const napi_value* argv) {
  // Null once the JS object was collected and its finalizer has not run yet
  // (a loop closing such a handle): there is nobody left to call.
  if (recv == nullptr || !loop->CanCallJs()) return;
  napi_value emitter = loop->data()->Emitter(key);
  if (emitter == nullptr) return;
  // A call the env refuses without an exception (a terminating worker) stops
  // the run: see LoopWrap::OnJsUnavailable.
  loop->CallJs(recv, emitter, argc, argv);
}

Napi::Value HandleBase::Owner() {
  napi_env env = loop_->env();
  napi_value self = JsValue();
  napi_value owner;
  if (self == nullptr || napi_get_named_property(env, self, "owner", &owner) != napi_ok) {
    return Napi::Env(env).Undefined();
  }
  return Napi::Value(env, owner);
}

int HandleBase::SetRef(bool ref) {
  if (!usable()) return UV_EBADF;
  if (ref) {
    uv_ref(handle_);
  } else {
    uv_unref(handle_);
  }
  loop_->Touch();
  return 0;
}

int HandleBase::Fileno() const {
  if (!usable()) return UV_EBADF;
  uv_os_fd_t fd;
  int rc = uv_fileno(handle_, &fd);
  return rc == 0 ? static_cast<int>(fd) : rc;
}

int HandleBase::DupFileno() const {
  int fd = Fileno();
  if (fd < 0) return fd;
  int copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  return copy < 0 ? uv_translate_sys_error(errno) : copy;
}

void HandleBase::OnClose(uv_handle_t* handle) {
  auto* wrap = static_cast<HandleBase*>(handle->data);
  auto* loop = static_cast<LoopWrap*>(handle->loop->data);
  if (wrap != nullptr && wrap->internal_) {  // rule 8
    free(handle);
    delete wrap;
    return;
  }
  loop->CountHandle(handle->type, -1);
  loop->data()->FreeHandle(handle);  // held by a queued IPC write: freed later
  if (wrap == nullptr) return;
  wrap->handle_ = nullptr;
  wrap->state_ = State::kClosed;
  if (wrap->notify_close_ && loop->CanCallJs()) {
    Napi::HandleScope scope(loop->env());
    wrap->Emit(Key::kOnClose);
  }
  wrap->UpdatePin();  // may let the wrap be collected: do not touch it after
}

void HandleBase::OnDetachedClose(uv_handle_t* handle) {
  auto* loop = static_cast<LoopWrap*>(handle->loop->data);
  loop->CountHandle(handle->type, -1);
  loop->data()->FreeHandle(handle);
}

void HandleBase::Detach() {
  if (handle_ == nullptr) return;
  if (state_ == State::kInitialized) {
    if (getenv("ASYNCUV_DEBUG") != nullptr) {
      fprintf(stderr, "asyncuv: a %s handle was garbage-collected without close()\n",
              uv_handle_type_name(handle_->type));
    }
    handle_->data = nullptr;
    uv_close(handle_, OnDetachedClose);
    loop_->NoteClose();
    loop_->Touch();
  } else if (state_ == State::kClosing) {
    // Only reachable when the env is torn down with the close in flight.
    handle_->data = nullptr;
  }
  handle_ = nullptr;
}

bool ArgInt64(const Napi::CallbackInfo& info, size_t index, int64_t* out) {
  // napi_get_value_double refuses anything but a number: no napi_typeof first.
  double value;
  if (index >= info.Length() || napi_get_value_double(info.Env(), info[index], &value) != napi_ok)
    return false;
  if (!std::isfinite(value)) return false;
  *out = static_cast<int64_t>(value);
  return true;
}

bool ArgTruthy(const Napi::CallbackInfo& info, size_t index) {
  if (index >= info.Length()) return false;
  napi_env env = info.Env();
  napi_value boolean;
  bool value = false;
  // A boolean (what the TS layer passes) is read as it is, without a coercion.
  if (napi_get_value_bool(env, info[index], &value) == napi_ok) return value;
  if (napi_coerce_to_bool(env, info[index], &boolean) != napi_ok) return false;
  if (napi_get_value_bool(env, boolean, &value) != napi_ok) return false;
  return value;
}

}  // namespace asyncuv
