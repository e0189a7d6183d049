// StreamBase / StreamWrap<T>: what TCP, Pipe and TTY share (uv_stream_t).
//
// Rules, on top of handle_wrap.h's:
// 1. Writes try uv_try_write first; only the bytes not written now are
//    copied, into one allocation with the request, so the caller may reuse
//    its buffer as soon as write returns. Write returns 0 (all written now),
//    1 (queued: `onwrite(status)` follows, in order, exactly once, with
//    UV_ECANCELED if the handle closes first) or a negative error.
// 2. Reads land in the loop's slab (LoopWrap::SlabAlloc): `onread(nread,
//    slab, offset)`, and JS delivers a view of those bytes, which are never
//    written again. With a caller-supplied buffer (SetReadBuffer) reads land
//    there instead and `onread(nread)` carries only the count. EOF and
//    errors are `onread(negative code)`. Slab reads, EOF and errors are
//    queued and reach `onread` in batches (loop_wrap.h rule 10), through the
//    env's read dispatcher, which finds the stream in the registry
//    (stream_ids.h): a stream is registered from ReadStart until it is
//    unpinned or closes, and each queued read pins it (a pending request).
//    A read into a caller's buffer, and an IPC pipe's read (the handles it
//    carries are accepted from its callback), is delivered at once, after
//    the queue; a stream with reads in the queue reads into the slab
//    meanwhile, so the queue's bytes never overwrite a newer read. `onread(0)` is a resume
//    that JS queued (readResume): the stream delivers what it held back
//    while it was not reading.
// 3. Every request (write, shutdown, connect) counts in pending_reqs, which
//    keeps the wrap pinned until its callback has run.
// 4. The hot write entry is by id, not by method: `id()` gives the stream a
//    number (StreamIds) once, and the module functions streamWrite(id, view)
//    and streamWritev(id, views) find the wrap by it, which is cheaper than
//    the napi_unwrap of every instance method call. They return undefined
//    when every byte was written now, else as rule 1 (1 or a negative code). The id is forgotten
//    when the handle starts closing (writes are EBADF from then on anyway)
//    or when the wrap is destroyed, so it never finds a stale wrap.
#pragma once

#include "bytes_arg.h"
#include "handle_wrap.h"

namespace asyncuv {

class StreamBase : public HandleBase {
 public:
  uv_stream_t* stream() const { return reinterpret_cast<uv_stream_t*>(handle_); }

  int Write(const uv_buf_t* bufs, size_t nbufs, uv_stream_t* send_handle);
  int ReadStart();
  int ReadStop();
  int Shutdown();
  int Listen(int backlog);
  int Accept(HandleBase* client);
  // A Uint8Array to read into, or null/undefined to go back to the slab.
  int SetReadBuffer(Napi::Value view);
  // Rule 4: this stream's id, given out on first use; 0 once it is closing.
  double Id();
  // Rule 2: queues a resume (onread(0)) and registers the stream.
  int ReadResume();
  // Rule 2: a queued read of this stream was delivered or dropped.
  void ReadDelivered() {
    batch_reads_--;
    pending_reqs--;
    UpdatePin();
  }

  // For subclasses that issue connect requests.
  static void OnConnect(uv_connect_t* req, int status);

  ~StreamBase() override;

 protected:
  // Releases the read buffer while the loop is certainly alive: once the
  // handle is closed, the loop may be closed and its wrap collected before
  // this wrap's finalizer runs, which then read a freed LoopWrap to find
  // the env (UBSan: invalid vptr in ReleaseReadBuffer from ~StreamBase).
  void BeforeClose() override {
    ReleaseReadBuffer();
    Unregister();
    ReleaseId();
  }
  // Rule 2: the registry entry, set while reading and cleared once the wrap
  // may be collected (StreamWrap::SetPinned) or closes.
  void Register();
  void Unregister();

 private:
  static void OnAlloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void OnRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void OnWrite(uv_write_t* req, int status);
  static void OnShutdown(uv_shutdown_t* req, int status);
  static void OnConnection(uv_stream_t* server, int status);
  void EmitStatus(Key key, int status);
  void ReleaseReadBuffer();
  void ReleaseId();
  void Queue(ssize_t nread, size_t offset);

  napi_ref read_buffer_ = nullptr;
  char* read_data_ = nullptr;
  size_t read_length_ = 0;
  // A listening stream shares its io watcher with the accept path: reading,
  // writing or shutting it down (possible when it came from open() or an
  // IPC accept, which mark it readable and writable) arms POLLOUT there and
  // libuv aborts in uv__server_io. Those calls are ENOTCONN instead.
  bool listening_ = false;
  // Rule 4. The ids' owner is kept apart from loop_: the loop may be gone
  // before this wrap's finalizer runs, the env's addon data is not.
  AddonData* id_owner_ = nullptr;
  double id_ = 0;
  bool registered_ = false;
  bool alloc_in_buffer_ = false;  // the last OnAlloc gave the caller's buffer
  int batch_reads_ = 0;           // rule 2: reads of this stream in the loop's queue
};

template <typename T>
class StreamWrap : public HandleWrap<T, StreamBase> {
  using W = Napi::ObjectWrap<T>;
  using M = typename W::InstanceMethodCallback;
  using Self = StreamWrap<T>;

 public:
  using Base = HandleWrap<T, StreamBase>;
  explicit StreamWrap(const Napi::CallbackInfo& info) : Base(info) {}

  // Handle methods plus the stream methods; subclasses append theirs.
  static std::vector<typename W::PropertyDescriptor> StreamMethods() {
    auto methods = Base::BaseMethods();
    methods.push_back(W::InstanceMethod("readStart", static_cast<M>(&Self::JsReadStart)));
    methods.push_back(W::InstanceMethod("readStop", static_cast<M>(&Self::JsReadStop)));
    methods.push_back(W::InstanceMethod("setReadBuffer", static_cast<M>(&Self::JsSetReadBuffer)));
    methods.push_back(W::InstanceMethod("writeBuffer", static_cast<M>(&Self::JsWriteBuffer)));
    methods.push_back(W::InstanceMethod("writeString", static_cast<M>(&Self::JsWriteString)));
    methods.push_back(W::InstanceMethod("tryWrite", static_cast<M>(&Self::JsTryWrite)));
    methods.push_back(W::InstanceMethod("shutdown", static_cast<M>(&Self::JsShutdown)));
    methods.push_back(W::InstanceMethod("listen", static_cast<M>(&Self::JsListen)));
    methods.push_back(W::InstanceMethod("accept", static_cast<M>(&Self::JsAccept)));
    methods.push_back(W::InstanceMethod("writeQueueSize", static_cast<M>(&Self::JsWriteQueueSize)));
    methods.push_back(W::InstanceMethod("isReadable", static_cast<M>(&Self::JsIsReadable)));
    methods.push_back(W::InstanceMethod("isWritable", static_cast<M>(&Self::JsIsWritable)));
    methods.push_back(W::InstanceMethod("id", static_cast<M>(&Self::JsId)));
    methods.push_back(W::InstanceMethod("readResume", static_cast<M>(&Self::JsReadResume)));
    return methods;
  }

 protected:
  void SetPinned(bool pinned) override {
    Base::SetPinned(pinned);
    if (!pinned) this->Unregister();  // rule 2: collectable again
  }

  // The optional send handle of writes on IPC pipes: argument `index`.
  uv_stream_t* SendHandleArg(const Napi::CallbackInfo& info, size_t index, int* error);

 private:
  Napi::Value JsReadStart(const Napi::CallbackInfo& info) { return this->Code(this->ReadStart()); }
  Napi::Value JsReadStop(const Napi::CallbackInfo& info) { return this->Code(this->ReadStop()); }
  Napi::Value JsReadResume(const Napi::CallbackInfo& info) {
    return this->Code(this->ReadResume());
  }
  Napi::Value JsSetReadBuffer(const Napi::CallbackInfo& info) {
    return this->Code(this->SetReadBuffer(info[0]));
  }
  Napi::Value JsShutdown(const Napi::CallbackInfo& info) { return this->Code(this->Shutdown()); }
  Napi::Value JsListen(const Napi::CallbackInfo& info) {
    int64_t backlog;
    if (!ArgInt64(info, 0, &backlog) || backlog < 0 || backlog > 65535)
      return this->Code(UV_EINVAL);
    return this->Code(this->Listen(static_cast<int>(backlog)));
  }
  Napi::Value JsAccept(const Napi::CallbackInfo& info) {
    HandleBase* client = AddonData::Get(info.Env())->UnwrapHandle(info[0]);
    return this->Code(this->Accept(client));
  }

  // writeBuffer(view, sendHandle?)
  Napi::Value JsWriteBuffer(const Napi::CallbackInfo& info) {
    uv_buf_t buf;
    if (!ArgBytes(info[0], &buf)) return this->Code(UV_EINVAL);
    int error = 0;
    uv_stream_t* send_handle = SendHandleArg(info, 1, &error);
    if (error != 0) return this->Code(error);
    return this->Code(this->Write(&buf, 1, send_handle));
  }

  // writeString(string, sendHandle?): UTF-8.
  Napi::Value JsWriteString(const Napi::CallbackInfo& info) {
    if (!info[0].IsString()) return this->Code(UV_EINVAL);
    napi_env env = info.Env();
    size_t length = 0;
    napi_get_value_string_utf8(env, info[0], nullptr, 0, &length);
    char stack[16384];
    char* data = length < sizeof(stack) ? stack : static_cast<char*>(malloc(length + 1));
    if (data == nullptr) return this->Code(UV_ENOMEM);
    napi_get_value_string_utf8(env, info[0], data, length + 1, &length);
    int error = 0;
    uv_stream_t* send_handle = SendHandleArg(info, 1, &error);
    uv_buf_t buf = uv_buf_init(data, static_cast<unsigned>(length));
    int rc = error != 0 ? error : this->Write(&buf, 1, send_handle);
    if (data != stack) free(data);
    return this->Code(rc);
  }

  // tryWrite(view): bytes written now, or a negative code (UV_EAGAIN: none).
  Napi::Value JsTryWrite(const Napi::CallbackInfo& info) {
    if (!this->usable()) return this->Code(UV_EBADF);
    uv_buf_t buf;
    if (!ArgBytes(info[0], &buf)) return this->Code(UV_EINVAL);
    return this->Code(uv_try_write(this->stream(), &buf, 1));
  }

  Napi::Value JsWriteQueueSize(const Napi::CallbackInfo& info) {
    size_t size = this->usable() ? uv_stream_get_write_queue_size(this->stream()) : 0;
    return Napi::Number::New(info.Env(), static_cast<double>(size));
  }
  Napi::Value JsIsReadable(const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), this->usable() && uv_is_readable(this->stream()));
  }
  Napi::Value JsId(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), this->Id());
  }
  Napi::Value JsIsWritable(const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), this->usable() && uv_is_writable(this->stream()));
  }
};

template <typename T>
uv_stream_t* StreamWrap<T>::SendHandleArg(const Napi::CallbackInfo& info, size_t index,
                                          int* error) {
  if (index >= info.Length() || info[index].IsUndefined() || info[index].IsNull()) return nullptr;
  HandleBase* handle = AddonData::Get(info.Env())->UnwrapHandle(info[index]);
  if (handle == nullptr || !handle->usable()) {
    *error = UV_EBADF;
    return nullptr;
  }
  uv_handle_type type = handle->handle()->type;
  if (type != UV_TCP && type != UV_NAMED_PIPE && type != UV_UDP) {
    *error = UV_EINVAL;
    return nullptr;
  }
  if (this->handle_->type != UV_NAMED_PIPE || !reinterpret_cast<uv_pipe_t*>(this->handle_)->ipc) {
    *error = UV_EINVAL;  // only IPC pipes carry handles
    return nullptr;
  }
  return reinterpret_cast<uv_stream_t*>(handle->handle());
}

}  // namespace asyncuv
