// UDP: uv_udp_t.
//
// Sending tries uv_udp_try_send first, so the common case needs no request,
// no copy and no callback from libuv. Only a datagram that cannot leave now
// is queued, with a private copy of its bytes: the caller may reuse its
// buffer as soon as send() returns.
//
// Receiving slices datagrams out of a slab (a JS ArrayBuffer) in order: each
// datagram gets its own region, so a Buffer handed to JS is never written
// again. A new slab replaces the current one when less than the largest
// datagram is left; views keep the old one alive.
#include <cstring>

#include "bytes_arg.h"
#include "handle_wrap.h"
#include "inet_address.h"
#include "wraps.h"

namespace asyncuv {
namespace {

constexpr size_t kSlabSize = 256 * 1024;
constexpr size_t kMaxDatagram = 64 * 1024;

// A queued send and the copy of its bytes, in one allocation.
struct SendReq {
  uv_udp_send_t req;
  char data[1];
};

class UdpWrap : public HandleWrap<UdpWrap> {
 public:
  static void Init(Napi::Env env, Napi::Object exports) {
    auto methods = BaseMethods();
    methods.push_back(InstanceMethod<&UdpWrap::JsInit>("init"));
    methods.push_back(InstanceMethod<&UdpWrap::Bind>("bind"));
    methods.push_back(InstanceMethod<&UdpWrap::Connect>("connect"));
    methods.push_back(InstanceMethod<&UdpWrap::Send>("send"));
    methods.push_back(InstanceMethod<&UdpWrap::TrySend>("trySend"));
    methods.push_back(InstanceMethod<&UdpWrap::RecvStart>("recvStart"));
    methods.push_back(InstanceMethod<&UdpWrap::RecvStop>("recvStop"));
    methods.push_back(InstanceMethod<&UdpWrap::SetOption>("setOption"));
    methods.push_back(InstanceMethod<&UdpWrap::SetMulticastInterface>("setMulticastInterface"));
    methods.push_back(InstanceMethod<&UdpWrap::SetMembership>("setMembership"));
    methods.push_back(InstanceMethod<&UdpWrap::GetSockName>("getsockname"));
    methods.push_back(InstanceMethod<&UdpWrap::GetPeerName>("getpeername"));
    methods.push_back(InstanceMethod<&UdpWrap::SendQueueSize>("sendQueueSize"));
    methods.push_back(InstanceMethod<&UdpWrap::SendQueueCount>("sendQueueCount"));
    methods.push_back(InstanceMethod<&UdpWrap::BufferSize>("bufferSize"));
    methods.push_back(DupFilenoMethod());
    Napi::Function ctor = DefineClass(env, "UDP", methods);
    // Registered so that IPC pipes can send UDP handles and accept them.
    Register(env, ctor);
    exports.Set("UDP", ctor);
  }

  explicit UdpWrap(const Napi::CallbackInfo& info) : Base(info) {}

 private:
  // Option numbers of SetOption; handles/udp.ts mirrors them.
  enum Option { kBroadcast = 0, kTtl, kMulticastTtl, kMulticastLoop };

  Napi::Value JsInit(const Napi::CallbackInfo& info) {
    int rc = StartInit(info[0], UV_UDP);
    if (rc != 0) return Code(rc);
    rc = uv_udp_init(loop_->uv(), As<uv_udp_t>());
    if (rc != 0) {
      AbortInit();
      return Code(rc);
    }
    FinishInit();
    return Code(0);
  }

  // bind(host, port, flags)
  Napi::Value Bind(const Napi::CallbackInfo& info) {
    if (!usable()) return Code(UV_EBADF);
    sockaddr_storage addr;
    int64_t flags = 0;
    int rc = inet::ParseAddress(info[0], info[1], &addr);
    if (rc != 0) return Code(rc);
    if (!ArgInt64(info, 2, &flags) || (flags & ~(UV_UDP_IPV6ONLY | UV_UDP_REUSEADDR)) != 0)
      return Code(UV_EINVAL);
    return Code(uv_udp_bind(As<uv_udp_t>(), reinterpret_cast<sockaddr*>(&addr),
                            static_cast<unsigned>(flags)));
  }

  // connect(host, port), or connect() to disconnect.
  Napi::Value Connect(const Napi::CallbackInfo& info) {
    if (!usable()) return Code(UV_EBADF);
    if (info.Length() == 0 || info[0].IsUndefined()) {
      return Code(uv_udp_connect(As<uv_udp_t>(), nullptr));
    }
    sockaddr_storage addr;
    int rc = inet::ParseAddress(info[0], info[1], &addr);
    if (rc != 0) return Code(rc);
    return Code(uv_udp_connect(As<uv_udp_t>(), reinterpret_cast<sockaddr*>(&addr)));
  }

  // Reads (data, host?, port?) into a buffer and an optional destination;
  // an undefined host means "the connected peer".
  static int SendArgs(const Napi::CallbackInfo& info, uv_buf_t* buf, sockaddr_storage* storage,
                      const sockaddr** addr) {
    if (!ArgBytes(info[0], buf)) return UV_EINVAL;
    *addr = nullptr;
    if (info.Length() > 1 && !info[1].IsUndefined()) {
      int rc = inet::ParseAddress(info[1], info[2], storage);
      if (rc != 0) return rc;
      *addr = reinterpret_cast<const sockaddr*>(storage);
    }
    return 0;
  }

  // send(data, host?, port?): 0 when the datagram left now, 1 when it was
  // queued (its onsend comes later), or a negative code.
  Napi::Value Send(const Napi::CallbackInfo& info) {
    if (!usable()) return Code(UV_EBADF);
    uv_buf_t buf;
    sockaddr_storage storage;
    const sockaddr* addr;
    int rc = SendArgs(info, &buf, &storage, &addr);
    if (rc != 0) return Code(rc);
    auto* udp = As<uv_udp_t>();
    rc = uv_udp_try_send(udp, &buf, 1, addr);
    if (rc >= 0) return Code(0);
    if (rc != UV_EAGAIN) return Code(rc);
    auto* req = static_cast<SendReq*>(malloc(sizeof(SendReq) + buf.len));
    if (req == nullptr) return Code(UV_ENOMEM);
    if (buf.len > 0) memcpy(req->data, buf.base, buf.len);
    uv_buf_t copy = uv_buf_init(req->data, buf.len);
    rc = uv_udp_send(&req->req, udp, &copy, 1, addr, OnSend);
    if (rc != 0) {
      free(req);
      return Code(rc);
    }
    pending_reqs++;
    UpdatePin();
    loop_->Touch();
    return Code(1);
  }

  // trySend(data, host?, port?): bytes sent, or a negative code (EAGAIN
  // when the socket or the send queue is full).
  Napi::Value TrySend(const Napi::CallbackInfo& info) {
    if (!usable()) return Code(UV_EBADF);
    uv_buf_t buf;
    sockaddr_storage storage;
    const sockaddr* addr;
    int rc = SendArgs(info, &buf, &storage, &addr);
    if (rc != 0) return Code(rc);
    return Code(uv_udp_try_send(As<uv_udp_t>(), &buf, 1, addr));
  }

  Napi::Value RecvStart(const Napi::CallbackInfo& info) {
    if (!usable()) return Code(UV_EBADF);
    int rc = uv_udp_recv_start(As<uv_udp_t>(), OnAlloc, OnRecv);
    // Already receiving: the TS layer has swapped the callback, nothing else to do.
    if (rc == UV_EALREADY) rc = 0;
    return StateChanged(rc);
  }

  Napi::Value RecvStop(const Napi::CallbackInfo& info) {
    if (!usable()) return Code(UV_EBADF);
    int rc = uv_udp_recv_stop(As<uv_udp_t>());
    return StateChanged(rc);
  }

  // setOption(option, value): the integer socket options.
  Napi::Value SetOption(const Napi::CallbackInfo& info) {
    if (!usable()) return Code(UV_EBADF);
    int64_t option, value;
    if (!ArgInt64(info, 0, &option) || !ArgInt64(info, 1, &value)) return Code(UV_EINVAL);
    auto* udp = As<uv_udp_t>();
    int v = static_cast<int>(value);
    switch (option) {
      case kBroadcast:
        return Code(uv_udp_set_broadcast(udp, v != 0));
      case kTtl:
        if (value < 1 || value > 255) return Code(UV_EINVAL);
        return Code(uv_udp_set_ttl(udp, v));
      case kMulticastTtl:
        if (value < 0 || value > 255) return Code(UV_EINVAL);
        return Code(uv_udp_set_multicast_ttl(udp, v));
      case kMulticastLoop:
        return Code(uv_udp_set_multicast_loop(udp, v != 0));
      default:
        return Code(UV_EINVAL);
    }
  }

  // Copies a string argument into `buf`; false if it is not a short string.
  static bool ArgShortString(Napi::Value value, char* buf, size_t size) {
    if (!value.IsString()) return false;
    size_t len = 0;
    if (napi_get_value_string_utf8(value.Env(), value, buf, size, &len) != napi_ok) return false;
    return len < size - 1;
  }

  Napi::Value SetMulticastInterface(const Napi::CallbackInfo& info) {
    if (!usable()) return Code(UV_EBADF);
    char iface[INET6_ADDRSTRLEN + 64];
    if (!ArgShortString(info[0], iface, sizeof(iface))) return Code(UV_EINVAL);
    return Code(uv_udp_set_multicast_interface(As<uv_udp_t>(), iface));
  }

  // setMembership(group, iface | undefined, join)
  Napi::Value SetMembership(const Napi::CallbackInfo& info) {
    if (!usable()) return Code(UV_EBADF);
    char group[INET6_ADDRSTRLEN + 64];
    char iface[INET6_ADDRSTRLEN + 64];
    if (!ArgShortString(info[0], group, sizeof(group))) return Code(UV_EINVAL);
    bool has_iface = !info[1].IsUndefined();
    if (has_iface && !ArgShortString(info[1], iface, sizeof(iface))) return Code(UV_EINVAL);
    if (!info[2].IsBoolean()) return Code(UV_EINVAL);
    uv_membership membership = info[2].As<Napi::Boolean>().Value() ? UV_JOIN_GROUP : UV_LEAVE_GROUP;
    return Code(
        uv_udp_set_membership(As<uv_udp_t>(), group, has_iface ? iface : nullptr, membership));
  }

  Napi::Value GetSockName(const Napi::CallbackInfo& info) {
    if (!usable()) return Code(UV_EBADF);
    sockaddr_storage addr;
    int len = sizeof(addr);
    int rc = uv_udp_getsockname(As<uv_udp_t>(), reinterpret_cast<sockaddr*>(&addr), &len);
    if (rc != 0) return Code(rc);
    return inet::AddressToJs(info.Env(), reinterpret_cast<sockaddr*>(&addr));
  }

  Napi::Value GetPeerName(const Napi::CallbackInfo& info) {
    if (!usable()) return Code(UV_EBADF);
    sockaddr_storage addr;
    int len = sizeof(addr);
    int rc = uv_udp_getpeername(As<uv_udp_t>(), reinterpret_cast<sockaddr*>(&addr), &len);
    if (rc != 0) return Code(rc);
    return inet::AddressToJs(info.Env(), reinterpret_cast<sockaddr*>(&addr));
  }

  Napi::Value SendQueueSize(const Napi::CallbackInfo& info) {
    if (!usable()) return Code(0);
    return Napi::Number::New(info.Env(),
                             static_cast<double>(uv_udp_get_send_queue_size(As<uv_udp_t>())));
  }

  Napi::Value SendQueueCount(const Napi::CallbackInfo& info) {
    if (!usable()) return Code(0);
    return Napi::Number::New(info.Env(),
                             static_cast<double>(uv_udp_get_send_queue_count(As<uv_udp_t>())));
  }

  // bufferSize(which, value): which 0 = send, 1 = receive; value 0 reads.
  // Returns the size (Linux reports twice what was set) or a negative code.
  Napi::Value BufferSize(const Napi::CallbackInfo& info) {
    if (!usable()) return Code(UV_EBADF);
    int64_t which, value;
    if (!ArgInt64(info, 0, &which) || !ArgInt64(info, 1, &value) || value < 0 ||
        value > INT32_MAX || (which != 0 && which != 1))
      return Code(UV_EINVAL);
    int v = static_cast<int>(value);
    auto* handle = handle_;
    int rc = which == 0 ? uv_send_buffer_size(handle, &v) : uv_recv_buffer_size(handle, &v);
    if (rc != 0) return Code(rc);
    if (value != 0) {  // read back what the kernel made of it
      v = 0;
      rc = which == 0 ? uv_send_buffer_size(handle, &v) : uv_recv_buffer_size(handle, &v);
      if (rc != 0) return Code(rc);
    }
    return Code(v);
  }

  // Runs on the loop thread, inside a batch (or in loop close/teardown).
  static void OnSend(uv_udp_send_t* req, int status) {
    auto* wrap = FromHandle<UdpWrap>(req->handle);
    free(reinterpret_cast<SendReq*>(req));
    if (wrap == nullptr) return;  // detached in env teardown
    wrap->pending_reqs--;
    Napi::Env env = wrap->loop_->env();
    if (wrap->loop_->CanCallJs()) {
      Napi::HandleScope scope(env);
      napi_value argv[] = {Napi::Number::New(env, status)};
      wrap->Emit(Key::kOnSend, 1, argv);
    }
    wrap->UpdatePin();
  }

  // Makes sure the current slab has room for the largest datagram.
  bool EnsureSlab() {
    if (slab_data_ != nullptr && kSlabSize - slab_used_ >= kMaxDatagram) return true;
    if (!loop_->CanCallJs()) return false;
    napi_env env = loop_->env();
    Napi::HandleScope scope(env);
    void* data = nullptr;
    napi_value ab;
    if (napi_create_arraybuffer(env, kSlabSize, &data, &ab) != napi_ok) return false;
    slab_.Reset(Napi::ArrayBuffer(env, ab), 1);
    slab_data_ = static_cast<char*>(data);
    slab_used_ = 0;
    return true;
  }

  static void OnAlloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf) {
    auto* wrap = FromHandle<UdpWrap>(handle);
    if (wrap == nullptr || !wrap->EnsureSlab()) {
      *buf = uv_buf_init(nullptr, 0);  // libuv reports UV_ENOBUFS
      return;
    }
    *buf = uv_buf_init(wrap->slab_data_ + wrap->slab_used_, kMaxDatagram);
  }

  // onevent(nread, slab, offset, address, port, flags), or onevent(error).
  static void OnRecv(uv_udp_t* handle, ssize_t nread, const uv_buf_t* buf, const sockaddr* addr,
                     unsigned flags) {
    // Nothing more to read for now: libuv's way of saying EAGAIN.
    if (nread == 0 && addr == nullptr) return;
    auto* wrap = FromHandle<UdpWrap>(handle);
    if (wrap == nullptr || !wrap->loop_->CanCallJs()) return;
    Napi::Env env = wrap->loop_->env();
    Napi::HandleScope scope(env);
    if (nread < 0 || addr == nullptr) {
      napi_value argv[] = {Napi::Number::New(env, nread < 0 ? static_cast<double>(nread) : 0)};
      wrap->Emit(Key::kOnEvent, 1, argv);
      wrap->UpdatePin();
      return;
    }
    size_t offset = wrap->slab_used_;
    // The next datagram starts 8-byte aligned, after this one's bytes.
    wrap->slab_used_ += (static_cast<size_t>(nread) + 7) & ~static_cast<size_t>(7);
    char ip[INET6_ADDRSTRLEN];
    int port = 0;
    if (inet::FormatAddress(addr, ip, sizeof(ip), &port) != 0) ip[0] = '\0';
    napi_value argv[] = {Napi::Number::New(env, static_cast<double>(nread)),
                         wrap->slab_.Value(),
                         Napi::Number::New(env, static_cast<double>(offset)),
                         Napi::String::New(env, ip),
                         Napi::Number::New(env, port),
                         Napi::Number::New(env, flags)};
    wrap->Emit(Key::kOnEvent, 6, argv);
    wrap->UpdatePin();
  }

  Napi::Reference<Napi::ArrayBuffer> slab_;
  char* slab_data_ = nullptr;
  size_t slab_used_ = 0;
};

}  // namespace

void InitUdp(Napi::Env env, Napi::Object exports) {
  UdpWrap::Init(env, exports);
}

}  // namespace asyncuv
