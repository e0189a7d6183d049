// BENCHMARK ONLY. benchEchoServer(loop, host, port): a TCP echo server that
// lives entirely in C++ on a private asyncuv loop, with no JavaScript per
// connection or per message. It is the ceiling the JS-facing TCP handle is
// measured against (bench/tcp-echo.bench.ts); it is not part of the API and
// is not exported from any entry point.
//
// Its handles are plain uv_tcp_t, not HandleWraps. Their data is nullptr
// because LoopWrap's close walk treats a non-null data as a HandleBase; a
// handle with nullptr data is closed there with HandleBase::OnDetachedClose,
// which free()s the handle and decrements the loop's live count. So:
// 1. every handle is the first member of a malloc'd struct (free(handle)
//    frees the whole struct) and is counted with CountHandle on init;
// 2. the server's own close path runs only while the loop is open; once the
//    loop has closed, its walk has already freed every handle here;
// 3. the server's state is owned by its close() function (freed when that is
//    collected), which is pinned from creation until close() was called and
//    every handle closed, so nothing a handle points to goes away first.
// Everything runs on the thread of the env that owns the loop.
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>

#include "handle_wrap.h"
#include "loop_wrap.h"
#include "wraps.h"

namespace asyncuv {
namespace {

// One read buffer per server: every read is echoed or copied before the read
// callback returns, so reads never need memory of their own.
constexpr size_t kSlabSize = 64 * 1024;
// A connection whose peer does not read stops being read above this much
// queued data, and resumes below half of it.
constexpr size_t kHighWater = 1 << 20;

struct EchoServer;

// The listener and every connection. Connections are linked into their
// server's list; the listener is not.
struct EchoSocket {
  uv_tcp_t tcp;  // first, see rule 1
  EchoServer* server;
  EchoSocket* prev;
  EchoSocket* next;
  bool reading;
};

// A queued write owns a copy of the bytes uv_try_write could not send.
struct EchoWrite {
  uv_write_t req;
  char* bytes() { return reinterpret_cast<char*>(this + 1); }
};

struct EchoServer {
  LoopWrap* loop = nullptr;
  napi_env env = nullptr;
  napi_ref loop_ref = nullptr;   // keeps the LoopWrap alive while we point at it
  napi_ref self_ref = nullptr;   // rule 3
  napi_ref on_closed = nullptr;  // close(cb)'s callback
  EchoSocket* listener = nullptr;
  EchoSocket* conns = nullptr;
  int open_handles = 0;  // handles whose close callback has not run yet
  bool closing = false;
  bool finished = false;  // close callback called and pin released
  char slab[kSlabSize];
};

static_assert(offsetof(EchoSocket, tcp) == 0, "free(handle) must free the whole socket");

EchoSocket* ConnOf(uv_stream_t* stream) {
  return reinterpret_cast<EchoSocket*>(stream);
}

uv_handle_t* AsHandle(uv_tcp_t* tcp) {
  return reinterpret_cast<uv_handle_t*>(tcp);
}

// Rule 3: once closing and the last handle is gone, the server is released.
void MaybeFinishClose(EchoServer* server) {
  if (!server->closing || server->finished || server->open_handles > 0) return;
  server->finished = true;
  napi_env env = server->env;
  napi_ref cb_ref = server->on_closed;
  server->on_closed = nullptr;
  if (server->loop->CanCallJs()) {
    if (cb_ref != nullptr) {
      Napi::HandleScope scope(env);
      napi_value cb;
      napi_value global;
      napi_get_reference_value(env, cb_ref, &cb);
      napi_get_global(env, &global);
      server->loop->CallJs(global, cb, 0, nullptr);
    }
    if (cb_ref != nullptr) napi_delete_reference(env, cb_ref);
    uint32_t count;
    napi_reference_unref(env, server->self_ref, &count);
  }
}

void OnHandleClosed(uv_handle_t* handle) {
  auto* loop = static_cast<LoopWrap*>(handle->loop->data);
  loop->CountHandle(handle->type, -1);
  auto* socket = reinterpret_cast<EchoSocket*>(handle);
  EchoServer* server = socket->server;
  if (server->listener == socket) {
    server->listener = nullptr;
  } else {
    if (socket->prev != nullptr) socket->prev->next = socket->next;
    if (socket->next != nullptr) socket->next->prev = socket->prev;
    if (server->conns == socket) server->conns = socket->next;
  }
  free(handle);
  // After a close() that found the loop closed, the count is already 0.
  if (server->open_handles > 0) server->open_handles--;
  MaybeFinishClose(server);
}

void CloseConn(EchoSocket* conn) {
  auto* handle = AsHandle(&conn->tcp);
  if (!uv_is_closing(handle)) uv_close(handle, OnHandleClosed);
}

void OnAlloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf) {
  EchoServer* server = reinterpret_cast<EchoSocket*>(handle)->server;
  *buf = uv_buf_init(server->slab, kSlabSize);
}

void OnRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);

void OnWrite(uv_write_t* req, int status) {
  auto* stream = req->handle;
  free(req);
  // Cancelled writes (ECANCELED) belong to a connection that is closing.
  if (status < 0) {
    if (status != UV_ECANCELED) CloseConn(ConnOf(stream));
    return;
  }
  EchoSocket* conn = ConnOf(stream);
  if (!conn->reading && stream->write_queue_size < kHighWater / 2 &&
      !uv_is_closing(reinterpret_cast<uv_handle_t*>(stream))) {
    conn->reading = uv_read_start(stream, OnAlloc, OnRead) == 0;
  }
}

// Sends what the socket takes now; copies and queues the rest.
void Echo(EchoSocket* conn, const char* data, size_t length) {
  auto* stream = reinterpret_cast<uv_stream_t*>(&conn->tcp);
  uv_buf_t buf = uv_buf_init(const_cast<char*>(data), static_cast<unsigned int>(length));
  int written = uv_try_write(stream, &buf, 1);
  if (written == static_cast<int>(length)) return;
  if (written < 0 && written != UV_EAGAIN) {
    CloseConn(conn);
    return;
  }
  size_t sent = written > 0 ? static_cast<size_t>(written) : 0;
  size_t rest = length - sent;
  auto* write = static_cast<EchoWrite*>(malloc(sizeof(EchoWrite) + rest));
  if (write == nullptr) {
    CloseConn(conn);
    return;
  }
  memcpy(write->bytes(), data + sent, rest);
  uv_buf_t queued = uv_buf_init(write->bytes(), static_cast<unsigned int>(rest));
  if (uv_write(&write->req, stream, &queued, 1, OnWrite) != 0) {
    free(write);
    CloseConn(conn);
    return;
  }
  if (stream->write_queue_size > kHighWater) {
    uv_read_stop(stream);
    conn->reading = false;
  }
}

void OnRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  if (nread > 0) {
    Echo(ConnOf(stream), buf->base, static_cast<size_t>(nread));
  } else if (nread < 0) {  // EOF or a read error: the peer is done
    CloseConn(ConnOf(stream));
  }
}

void OnConnection(uv_stream_t* listener_stream, int status) {
  if (status < 0) return;  // e.g. EMFILE: the client sees the refusal
  EchoServer* server = reinterpret_cast<EchoSocket*>(listener_stream)->server;
  auto* conn = static_cast<EchoSocket*>(calloc(1, sizeof(EchoSocket)));
  if (conn == nullptr) return;
  if (uv_tcp_init(server->loop->uv(), &conn->tcp) != 0) {
    free(conn);
    return;
  }
  conn->tcp.data = nullptr;  // rule 1
  server->loop->CountHandle(UV_TCP, 1);
  server->open_handles++;
  conn->server = server;
  conn->next = server->conns;
  if (conn->next != nullptr) conn->next->prev = conn;
  server->conns = conn;
  auto* stream = reinterpret_cast<uv_stream_t*>(&conn->tcp);
  if (uv_accept(listener_stream, stream) != 0) {
    CloseConn(conn);
    return;
  }
  uv_tcp_nodelay(&conn->tcp, 1);
  conn->reading = uv_read_start(stream, OnAlloc, OnRead) == 0;
  if (!conn->reading) CloseConn(conn);
}

// close(cb?): stops listening and closes every connection; cb runs once all
// are closed. A second call does nothing.
Napi::Value Close(const Napi::CallbackInfo& info) {
  auto* server = static_cast<EchoServer*>(info.Data());
  Napi::Env env = info.Env();
  if (server->closing) return env.Undefined();
  server->closing = true;
  if (info[0].IsFunction()) napi_create_reference(env, info[0], 1, &server->on_closed);
  if (!server->loop->open()) {
    // Rule 2: the loop's close walk has freed every handle already.
    server->listener = nullptr;
    server->conns = nullptr;
    server->open_handles = 0;
    MaybeFinishClose(server);
    return env.Undefined();
  }
  if (server->listener != nullptr) uv_close(AsHandle(&server->listener->tcp), OnHandleClosed);
  for (EchoSocket* conn = server->conns; conn != nullptr; conn = conn->next) CloseConn(conn);
  server->loop->Touch();
  return env.Undefined();
}

void Finalize(napi_env env, void* data, void* hint) {
  auto* server = static_cast<EchoServer*>(data);
  // Reached after close() finished, or in env teardown, when every handle of
  // the loop has been freed by the loop's own teardown.
  if (server->loop_ref != nullptr) napi_delete_reference(env, server->loop_ref);
  if (server->self_ref != nullptr) napi_delete_reference(env, server->self_ref);
  if (server->on_closed != nullptr) napi_delete_reference(env, server->on_closed);
  delete server;
}

int Listen(EchoServer* server, const std::string& host, int port, int* bound_port) {
  sockaddr_storage addr{};
  int rc = uv_ip4_addr(host.c_str(), port, reinterpret_cast<sockaddr_in*>(&addr));
  if (rc != 0) rc = uv_ip6_addr(host.c_str(), port, reinterpret_cast<sockaddr_in6*>(&addr));
  if (rc != 0) return rc;
  auto* listener = static_cast<EchoSocket*>(calloc(1, sizeof(EchoSocket)));
  if (listener == nullptr) return UV_ENOMEM;
  rc = uv_tcp_init(server->loop->uv(), &listener->tcp);
  if (rc != 0) {
    free(listener);
    return rc;
  }
  listener->tcp.data = nullptr;  // rule 1
  listener->server = server;
  server->listener = listener;
  server->loop->CountHandle(UV_TCP, 1);
  server->open_handles++;
  auto* stream = reinterpret_cast<uv_stream_t*>(&listener->tcp);
  rc = uv_tcp_bind(&listener->tcp, reinterpret_cast<sockaddr*>(&addr), 0);
  if (rc == 0) rc = uv_listen(stream, 511, OnConnection);
  if (rc == 0) {
    sockaddr_storage name{};
    int len = sizeof(name);
    rc = uv_tcp_getsockname(&listener->tcp, reinterpret_cast<sockaddr*>(&name), &len);
    *bound_port =
        ntohs(name.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&name)->sin6_port
                                         : reinterpret_cast<sockaddr_in*>(&name)->sin_port);
  }
  return rc;
}

// benchEchoServer(loop, host, port) -> { port, close(cb?) } or a negative
// libuv error code.
Napi::Value BenchEchoServer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  LoopWrap* loop = LoopWrap::FromValue(info[0]);
  int64_t port;
  if (loop == nullptr || !info[1].IsString() || !ArgInt64(info, 2, &port) || port < 0 ||
      port > 65535) {
    return Napi::Number::New(env, UV_EINVAL);
  }
  if (!loop->open()) return Napi::Number::New(env, UV_EBADF);
  auto* server = new EchoServer;
  server->loop = loop;
  server->env = env;
  int bound_port = 0;
  int rc =
      Listen(server, info[1].As<Napi::String>().Utf8Value(), static_cast<int>(port), &bound_port);
  if (rc != 0) {
    // Abort: the listener, if it was created, closes through the usual path
    // and nothing is left registered once it has.
    if (server->listener != nullptr) {
      server->closing = true;
      server->listener->server = nullptr;
      uv_close(AsHandle(&server->listener->tcp), HandleBase::OnDetachedClose);
      loop->Touch();
    }
    delete server;
    return Napi::Number::New(env, rc);
  }
  // Rule 3: close() owns the server, so it stays callable for as long as
  // anyone holds it, even without the result object.
  Napi::Function close = Napi::Function::New(env, Close, "close", server);
  Napi::Object result = Napi::Object::New(env);
  result.Set("port", Napi::Number::New(env, bound_port));
  result.Set("close", close);
  napi_create_reference(env, info[0], 1, &server->loop_ref);
  napi_create_reference(env, close, 1, &server->self_ref);
  napi_add_finalizer(env, close, server, Finalize, nullptr, nullptr);
  loop->Touch();
  return result;
}

}  // namespace

void InitBenchEcho(Napi::Env env, Napi::Object exports) {
  exports.Set("benchEchoServer", Napi::Function::New(env, BenchEchoServer, "benchEchoServer"));
}

}  // namespace asyncuv
