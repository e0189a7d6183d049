#include "stream_wrap.h"

#include <cstring>

namespace asyncuv {

namespace {

// A queued write and the bytes it still has to write, in one allocation.
struct WriteReq {
  uv_write_t req;
  uv_handle_t* held;  // the send handle while libuv may still read it
  char data[1];
};

}  // namespace

StreamBase::~StreamBase() {
  ReleaseReadBuffer();
  ReleaseId();
}

double StreamBase::Id() {
  if (id_ == 0 && usable()) {
    id_owner_ = loop_->data();
    id_ = id_owner_->stream_ids.Add(this);
  }
  return id_;
}

void StreamBase::Register() {
  if (registered_ || !usable() || !loop_->CanCallJs()) return;
  double id = Id();
  napi_env env = loop_->env();
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value registry = loop_->data()->stream_ids.Registry();
  napi_value self = JsValue();
  registered_ = registry != nullptr && self != nullptr &&
                napi_set_element(env, registry, StreamIds::SlotOf(id), self) == napi_ok;
  napi_close_handle_scope(env, scope);
}

void StreamBase::Unregister() {
  if (!registered_) return;
  registered_ = false;
  // In env teardown the registry goes with the env.
  if (loop_ == nullptr || !loop_->CanCallJs()) return;
  napi_env env = loop_->env();
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value registry = loop_->data()->stream_ids.Registry();
  napi_value undefined;
  if (registry != nullptr && napi_get_undefined(env, &undefined) == napi_ok) {
    napi_set_element(env, registry, StreamIds::SlotOf(id_), undefined);
  }
  napi_close_handle_scope(env, scope);
}

int StreamBase::ReadResume() {
  if (!usable()) return UV_EBADF;
  Register();
  if (!registered_) return UV_ENOSYS;  // no dispatcher to deliver it
  Queue(0, 0);
  return 0;
}

void StreamBase::Queue(ssize_t nread, size_t offset) {
  batch_reads_++;
  pending_reqs++;  // rule 2: pinned, so registered, until delivered
  UpdatePin();
  if (nread == 0) {
    loop_->QueueResume(id_);
  } else {
    loop_->QueueRead(id_, nread, offset);
  }
}

void StreamBase::ReleaseId() {
  if (id_owner_ != nullptr) id_owner_->stream_ids.Remove(id_);
  id_owner_ = nullptr;
  id_ = 0;
}

namespace {

// The bytes of a write argument: any view (what the JS side passes is a
// Uint8Array) by napi_get_buffer_info, which reads its byte length and data
// without napi_get_typedarray_info's probe of the element type; an
// ArrayBuffer through ArgBytes.
bool WriteBytes(napi_env env, napi_value value, uv_buf_t* out) {
  size_t length = 0;
  void* data = nullptr;
  if (napi_get_buffer_info(env, value, &data, &length) == napi_ok &&
      (data != nullptr || length == 0) && length <= UINT32_MAX) {
    *out = uv_buf_init(static_cast<char*>(data), static_cast<unsigned>(length));
    return true;
  }
  return ArgBytes(Napi::Value(env, value), out);
}

napi_value Status(napi_env env, int rc) {
  napi_value result = nullptr;
  napi_create_int32(env, rc, &result);
  return result;
}

// The stream named by argument 0, with argument 1; `ids` is the function's data.
StreamBase* StreamArgs(napi_env env, napi_callback_info info, napi_value* arg) {
  size_t argc = 2;
  napi_value argv[2];
  void* ids = nullptr;
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, &ids) != napi_ok) return nullptr;
  double id = 0;
  if (argc < 2 || napi_get_value_double(env, argv[0], &id) != napi_ok) return nullptr;
  *arg = argv[1];
  return static_cast<StreamIds*>(ids)->Find(id);
}

// What a write by id returns: undefined when every byte was written now
// (rule 4: no number to make in the common case), else Write's status.
napi_value WriteStatus(napi_env env, int rc) {
  return rc == 0 ? nullptr : Status(env, rc);
}

// streamWrite(id, view): as the instance method writeBuffer(view).
napi_value StreamWrite(napi_env env, napi_callback_info info) {
  napi_value view;
  StreamBase* stream = StreamArgs(env, info, &view);
  if (stream == nullptr) return Status(env, UV_EBADF);
  uv_buf_t buf;
  if (!WriteBytes(env, view, &buf)) return Status(env, UV_EINVAL);
  return WriteStatus(env, stream->Write(&buf, 1, nullptr));
}

// streamWritev(id, views): as the instance method writev(views).
napi_value StreamWritev(napi_env env, napi_callback_info info) {
  napi_value array;
  StreamBase* stream = StreamArgs(env, info, &array);
  if (stream == nullptr) return Status(env, UV_EBADF);
  bool is_array = false;
  uint32_t n = 0;
  if (napi_is_array(env, array, &is_array) != napi_ok || !is_array ||
      napi_get_array_length(env, array, &n) != napi_ok) {
    return Status(env, UV_EINVAL);
  }
  if (n == 0) return nullptr;
  uv_buf_t stack[64];
  uv_buf_t* bufs = n <= 64 ? stack : static_cast<uv_buf_t*>(malloc(n * sizeof(uv_buf_t)));
  if (bufs == nullptr) return Status(env, UV_ENOMEM);
  int rc = 0;
  for (uint32_t i = 0; i < n && rc == 0; ++i) {
    napi_value item;
    if (napi_get_element(env, array, i, &item) != napi_ok || !WriteBytes(env, item, &bufs[i])) {
      rc = UV_EINVAL;
    }
  }
  if (rc == 0) rc = stream->Write(bufs, n, nullptr);
  if (bufs != stack) free(bufs);
  return WriteStatus(env, rc);
}

// setReadDispatcher(fn): the function that delivers a loop's queued reads
// (loop_wrap.h rule 10), once per env.
napi_value SetReadDispatcher(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value fn;
  void* ids = nullptr;
  if (napi_get_cb_info(env, info, &argc, &fn, nullptr, &ids) != napi_ok || argc < 1) {
    return Status(env, UV_EINVAL);
  }
  return Status(env, static_cast<StreamIds*>(ids)->SetDispatcher(env, fn) ? 0 : UV_EINVAL);
}

}  // namespace

void InitStreamFunctions(Napi::Env env, Napi::Object exports) {
  StreamIds* ids = &AddonData::Get(env)->stream_ids;
  struct Entry {
    const char* name;
    napi_callback cb;
  };
  for (Entry entry : {Entry{"streamWrite", StreamWrite}, Entry{"streamWritev", StreamWritev},
                      Entry{"setReadDispatcher", SetReadDispatcher}}) {
    napi_value fn;
    if (napi_create_function(env, entry.name, NAPI_AUTO_LENGTH, entry.cb, ids, &fn) == napi_ok) {
      napi_set_named_property(env, exports, entry.name, fn);
    }
  }
}

int StreamBase::Write(const uv_buf_t* bufs, size_t nbufs, uv_stream_t* send_handle) {
  if (!usable()) return UV_EBADF;
  if (listening_) return UV_ENOTCONN;
  size_t total = 0;
  for (size_t i = 0; i < nbufs; ++i) total += bufs[i].len;
  size_t written = 0;
  if (send_handle == nullptr) {
    int rc = uv_try_write(stream(), bufs, static_cast<unsigned>(nbufs));
    if (rc >= 0) {
      written = static_cast<size_t>(rc);
    } else if (rc != UV_EAGAIN && rc != UV_ENOSYS) {
      return rc;
    }
    if (written == total) return 0;
  }
  size_t rest = total - written;
  auto* req = static_cast<WriteReq*>(malloc(offsetof(WriteReq, data) + (rest > 0 ? rest : 1)));
  if (req == nullptr) return UV_ENOMEM;
  // Copy what was not written, skipping the `written` bytes already sent.
  size_t skip = written, at = 0;
  for (size_t i = 0; i < nbufs; ++i) {
    size_t len = bufs[i].len;
    if (skip >= len) {
      skip -= len;
      continue;
    }
    memcpy(req->data + at, bufs[i].base + skip, len - skip);
    at += len - skip;
    skip = 0;
  }
  uv_buf_t buf = uv_buf_init(req->data, static_cast<unsigned>(rest));
  int rc = send_handle != nullptr ? uv_write2(&req->req, stream(), &buf, 1, send_handle, OnWrite)
                                  : uv_write(&req->req, stream(), &buf, 1, OnWrite);
  if (rc != 0) {
    free(req);
    return rc;
  }
  req->held = nullptr;
  if (req->req.send_handle != nullptr) {
    // Not sent yet (the pipe is backed up): keep the handle's memory valid.
    req->held = reinterpret_cast<uv_handle_t*>(send_handle);
    loop_->data()->HoldHandle(req->held);
  }
  pending_reqs++;
  UpdatePin();
  loop_->Touch();
  return 1;
}

void StreamBase::OnWrite(uv_write_t* req, int status) {
  auto* wrap = FromHandle<StreamBase>(req->handle);
  auto* write = reinterpret_cast<WriteReq*>(req);
  if (write->held != nullptr) {
    static_cast<LoopWrap*>(req->handle->loop->data)->data()->ReleaseHandle(write->held);
  }
  free(write);
  if (wrap == nullptr) return;
  wrap->pending_reqs--;
  wrap->EmitStatus(Key::kOnWrite, status);
}

void StreamBase::EmitStatus(Key key, int status) {
  if (loop_->CanCallJs()) {
    Napi::Env env(loop_->env());
    Napi::HandleScope scope(env);
    napi_value argv[] = {Napi::Number::New(env, status)};
    Emit(key, 1, argv);
  }
  UpdatePin();
}

int StreamBase::ReadStart() {
  if (!usable()) return UV_EBADF;
  if (listening_) return UV_ENOTCONN;
  int rc = uv_read_start(stream(), OnAlloc, OnRead);
  if (rc == 0 || rc == UV_EALREADY) Register();
  UpdatePin();
  loop_->Touch();
  return rc;
}

int StreamBase::ReadStop() {
  if (!usable()) return UV_EBADF;
  int rc = uv_read_stop(stream());
  UpdatePin();
  loop_->Touch();
  return rc;
}

int StreamBase::SetReadBuffer(Napi::Value view) {
  if (!usable()) return UV_EBADF;
  if (view.IsUndefined() || view.IsNull()) {
    ReleaseReadBuffer();
    return 0;
  }
  if (!view.IsTypedArray()) return UV_EINVAL;
  Napi::TypedArray array = view.As<Napi::TypedArray>();
  if (array.TypedArrayType() != napi_uint8_array || array.ByteLength() == 0) return UV_EINVAL;
  napi_env env = loop_->env();
  void* data = nullptr;
  size_t length = 0;
  napi_typedarray_type type;
  napi_value ab;
  size_t offset;
  napi_get_typedarray_info(env, view, &type, &length, &data, &ab, &offset);
  ReleaseReadBuffer();
  napi_create_reference(env, view, 1, &read_buffer_);
  read_data_ = static_cast<char*>(data);
  read_length_ = length;
  return 0;
}

void StreamBase::ReleaseReadBuffer() {
  // Also in env teardown (from the wrap's finalizer): deleting a reference
  // runs no JavaScript and the env is valid until its finalizers are done.
  // Skipping it there leaked the reference (LeakSanitizer).
  if (read_buffer_ != nullptr && loop_ != nullptr) {
    napi_delete_reference(loop_->env(), read_buffer_);
  }
  read_buffer_ = nullptr;
  read_data_ = nullptr;
  read_length_ = 0;
}

void StreamBase::OnAlloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf) {
  auto* wrap = FromHandle<StreamBase>(handle);
  // Rule 2: not while queued reads, which JS copies into that buffer, wait.
  wrap->alloc_in_buffer_ = wrap->read_data_ != nullptr && wrap->batch_reads_ == 0;
  if (wrap->alloc_in_buffer_) {
    *buf = uv_buf_init(wrap->read_data_, static_cast<unsigned>(wrap->read_length_));
    return;
  }
  *buf = wrap->loop_->SlabAlloc(suggested);
}

void StreamBase::OnRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  if (nread == 0) return;  // EAGAIN: nothing read, nothing to say
  auto* wrap = FromHandle<StreamBase>(stream);
  LoopWrap* loop = wrap->loop_;
  if (!loop->CanCallJs()) return;
  bool in_slab = nread > 0 && !wrap->alloc_in_buffer_ && buf->base != nullptr;
  // Not an IPC pipe's: the handles a read carries are accepted from its
  // callback, and a later read of the batch would queue more of them first.
  bool ipc = stream->type == UV_NAMED_PIPE && reinterpret_cast<uv_pipe_t*>(stream)->ipc;
  if (wrap->registered_ && !ipc && (in_slab || nread < 0)) {  // rule 2
    wrap->Queue(nread, in_slab ? loop->SlabCommit(static_cast<size_t>(nread)) : 0);
    return;
  }
  // At once, after the reads queued before it: a read into the caller's
  // buffer, an IPC pipe's, or a stream that is not registered (no dispatcher).
  loop->FlushReads();
  Napi::Env env(loop->env());
  Napi::HandleScope scope(env);
  if (in_slab) {
    size_t offset = loop->SlabCommit(static_cast<size_t>(nread));
    napi_value argv[] = {Napi::Number::New(env, static_cast<double>(nread)), loop->SlabValue(),
                         Napi::Number::New(env, static_cast<double>(offset))};
    wrap->Emit(Key::kOnRead, 3, argv);
  } else {
    napi_value argv[] = {Napi::Number::New(env, static_cast<double>(nread))};
    wrap->Emit(Key::kOnRead, 1, argv);
  }
  wrap->UpdatePin();
}

int StreamBase::Shutdown() {
  if (!usable()) return UV_EBADF;
  if (listening_) return UV_ENOTCONN;
  auto* req = static_cast<uv_shutdown_t*>(malloc(sizeof(uv_shutdown_t)));
  if (req == nullptr) return UV_ENOMEM;
  int rc = uv_shutdown(req, stream(), OnShutdown);
  if (rc != 0) {
    free(req);
    return rc;
  }
  pending_reqs++;
  UpdatePin();
  loop_->Touch();
  return 0;
}

void StreamBase::OnShutdown(uv_shutdown_t* req, int status) {
  auto* wrap = FromHandle<StreamBase>(req->handle);
  free(req);
  if (wrap == nullptr) return;
  wrap->pending_reqs--;
  wrap->EmitStatus(Key::kOnShutdown, status);
}

void StreamBase::OnConnect(uv_connect_t* req, int status) {
  auto* wrap = FromHandle<StreamBase>(req->handle);
  free(req);
  if (wrap == nullptr) return;
  wrap->pending_reqs--;
  wrap->EmitStatus(Key::kOnConnect, status);
}

int StreamBase::Listen(int backlog) {
  if (!usable()) return UV_EBADF;
  // Reads or requests in flight would run on the accept path: see listening_.
  if (!listening_ && (uv_is_active(handle_) || pending_reqs > 0)) return UV_EBUSY;
  int rc = uv_listen(stream(), backlog, OnConnection);
  if (rc == 0) listening_ = true;
  UpdatePin();
  loop_->Touch();
  return rc;
}

void StreamBase::OnConnection(uv_stream_t* server, int status) {
  auto* wrap = FromHandle<StreamBase>(server);
  wrap->EmitStatus(Key::kOnConnection, status);
}

int StreamBase::Accept(HandleBase* client) {
  if (!usable()) return UV_EBADF;
  if (client == nullptr || !client->usable()) return UV_EBADF;
  // libuv asserts both handles share a loop; we say EINVAL instead.
  if (client->loop() != loop_) return UV_EINVAL;
  uv_handle_type type = client->handle()->type;
  bool ipc = handle_->type == UV_NAMED_PIPE && reinterpret_cast<uv_pipe_t*>(handle_)->ipc;
  if (ipc) {
    // The client must be of the type of the handle that was passed.
    if (uv_pipe_pending_count(reinterpret_cast<uv_pipe_t*>(handle_)) == 0) return UV_EAGAIN;
    if (type != uv_pipe_pending_type(reinterpret_cast<uv_pipe_t*>(handle_))) return UV_EINVAL;
  } else if (type != handle_->type) {
    return UV_EINVAL;
  }
  int rc = uv_accept(stream(), reinterpret_cast<uv_stream_t*>(client->handle()));
  client->loop()->Touch();
  return rc;
}

}  // namespace asyncuv
