// dns: uv_getaddrinfo and uv_getnameinfo on a private loop (the lookups run
// on libuv's threadpool; completion comes back on the loop's thread).
//
// Both return a Promise that resolves with the result or with a negative
// libuv code (UV_EAI_NONAME, ...); handles/dns.ts builds the UvError.
// Invalid arguments are returned as a negative number instead of a Promise.
// A lookup in flight keeps its loop alive and is waited for by loop.close();
// in env teardown its Promise is left unsettled, as no JS may run.
#include <netdb.h>

#include <string>

#include "inet_address.h"
#include "loop_wrap.h"
#include "wraps.h"

namespace asyncuv {
namespace {

template <typename Req>
struct DnsReq {
  Req req;  // first: the request libuv hands back is this DnsReq
  LoopWrap* loop = nullptr;
  napi_deferred deferred = nullptr;
};

using AddrInfoReq = DnsReq<uv_getaddrinfo_t>;
using NameInfoReq = DnsReq<uv_getnameinfo_t>;

Napi::Value Code(Napi::Env env, int rc) {
  return Napi::Number::New(env, rc);
}

// Resolves the request's Promise if JS may run, then frees the request.
template <typename R, typename MakeResult>
void Settle(R* r, int status, MakeResult make_result) {
  LoopWrap* loop = r->loop;
  napi_env env = loop->env();
  napi_handle_scope scope = nullptr;
  if (loop->CanCallJs()) napi_open_handle_scope(env, &scope);
  if (scope != nullptr && loop->JsCallable()) {
    napi_value result = status < 0 ? static_cast<napi_value>(Code(env, status)) : make_result(env);
    napi_resolve_deferred(env, r->deferred, result);
    loop->Dispatched();
  }
  if (scope != nullptr) napi_close_handle_scope(env, scope);
  delete r;
}

// Runs on the loop's thread.
void OnAddrInfo(uv_getaddrinfo_t* req, int status, addrinfo* res) {
  Settle(reinterpret_cast<AddrInfoReq*>(req), status, [res](napi_env e) -> napi_value {
    Napi::Env env(e);
    Napi::Array list = Napi::Array::New(env);
    uint32_t n = 0;
    for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
      if (ai->ai_addr == nullptr) continue;
      Napi::Value entry = inet::AddressToJs(env, ai->ai_addr);
      if (!entry.IsObject()) continue;  // not IPv4 or IPv6
      Napi::Object obj = entry.As<Napi::Object>();
      obj.Set("socktype", Napi::Number::New(env, ai->ai_socktype));
      obj.Set("protocol", Napi::Number::New(env, ai->ai_protocol));
      if (ai->ai_canonname != nullptr) {
        obj.Set("canonname", Napi::String::New(env, ai->ai_canonname));
      }
      list.Set(n++, obj);
    }
    return list;
  });
  uv_freeaddrinfo(res);
}

// getaddrinfo(loop, host | undefined, service | undefined, family, socktype, protocol, flags)
// family is 0, 4 or 6.
Napi::Value GetAddrInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  LoopWrap* loop = LoopWrap::FromValue(info[0]);
  if (loop == nullptr) return Code(env, UV_EINVAL);
  if (!loop->open()) return Code(env, UV_EBADF);
  std::string host, service;
  bool has_host = info[1].IsString();
  bool has_service = info[2].IsString();
  if ((!has_host && !info[1].IsUndefined()) || (!has_service && !info[2].IsUndefined()) ||
      (!has_host && !has_service))
    return Code(env, UV_EINVAL);
  if (has_host) host = info[1].As<Napi::String>().Utf8Value();
  if (has_service) service = info[2].As<Napi::String>().Utf8Value();
  if (host.find('\0') != std::string::npos || service.find('\0') != std::string::npos)
    return Code(env, UV_EINVAL);
  int32_t numbers[4];
  for (int i = 0; i < 4; i++) {
    if (!info[3 + i].IsNumber()) return Code(env, UV_EINVAL);
    numbers[i] = info[3 + i].As<Napi::Number>().Int32Value();
  }
  addrinfo hints{};
  switch (numbers[0]) {
    case 0:
      hints.ai_family = AF_UNSPEC;
      break;
    case 4:
      hints.ai_family = AF_INET;
      break;
    case 6:
      hints.ai_family = AF_INET6;
      break;
    default:
      return Code(env, UV_EINVAL);
  }
  hints.ai_socktype = numbers[1];
  hints.ai_protocol = numbers[2];
  hints.ai_flags = numbers[3];
  auto* r = new AddrInfoReq();
  r->loop = loop;
  napi_value promise;
  if (!NewPromise(env, &r->deferred, &promise)) {
    delete r;
    return Code(env, UV_ECANCELED);
  }
  // libuv copies host, service and hints into the request.
  int rc = uv_getaddrinfo(loop->uv(), &r->req, OnAddrInfo, has_host ? host.c_str() : nullptr,
                          has_service ? service.c_str() : nullptr, &hints);
  if (rc != 0) {
    DropPromise(env, r->deferred);
    delete r;
    return Code(env, rc);
  }
  loop->Touch();
  return Napi::Value(env, promise);
}

// Runs on the loop's thread.
void OnNameInfo(uv_getnameinfo_t* req, int status, const char* hostname, const char* service) {
  Settle(reinterpret_cast<NameInfoReq*>(req), status, [&](napi_env e) -> napi_value {
    Napi::Env env(e);
    Napi::Object obj = Napi::Object::New(env);
    obj.Set("host", Napi::String::New(env, hostname));
    obj.Set("service", Napi::String::New(env, service));
    return obj;
  });
}

// getnameinfo(loop, address, port, flags)
Napi::Value GetNameInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  LoopWrap* loop = LoopWrap::FromValue(info[0]);
  if (loop == nullptr) return Code(env, UV_EINVAL);
  if (!loop->open()) return Code(env, UV_EBADF);
  sockaddr_storage addr;
  int rc = inet::ParseAddress(info[1], info[2], &addr);
  if (rc != 0) return Code(env, rc);
  if (!info[3].IsNumber()) return Code(env, UV_EINVAL);
  int flags = info[3].As<Napi::Number>().Int32Value();
  auto* r = new NameInfoReq();
  r->loop = loop;
  napi_value promise;
  if (!NewPromise(env, &r->deferred, &promise)) {
    delete r;
    return Code(env, UV_ECANCELED);
  }
  rc = uv_getnameinfo(loop->uv(), &r->req, OnNameInfo, reinterpret_cast<sockaddr*>(&addr), flags);
  if (rc != 0) {
    DropPromise(env, r->deferred);
    delete r;
    return Code(env, rc);
  }
  loop->Touch();
  return Napi::Value(env, promise);
}

}  // namespace

void InitDns(Napi::Env env, Napi::Object exports) {
  Napi::Object dns = Napi::Object::New(env);
  dns.Set("getaddrinfo", Napi::Function::New(env, GetAddrInfo, "getaddrinfo"));
  dns.Set("getnameinfo", Napi::Function::New(env, GetNameInfo, "getnameinfo"));
  // This platform's numbers for the hint and flag constants.
  Napi::Object constants = Napi::Object::New(env);
#define ASYNCUV_CONSTANT(name) constants.Set(#name, Napi::Number::New(env, name));
  ASYNCUV_CONSTANT(AI_PASSIVE)
  ASYNCUV_CONSTANT(AI_CANONNAME)
  ASYNCUV_CONSTANT(AI_NUMERICHOST)
  ASYNCUV_CONSTANT(AI_NUMERICSERV)
  ASYNCUV_CONSTANT(AI_V4MAPPED)
  ASYNCUV_CONSTANT(AI_ALL)
  ASYNCUV_CONSTANT(AI_ADDRCONFIG)
  ASYNCUV_CONSTANT(NI_NUMERICHOST)
  ASYNCUV_CONSTANT(NI_NUMERICSERV)
  ASYNCUV_CONSTANT(NI_NOFQDN)
  ASYNCUV_CONSTANT(NI_NAMEREQD)
  ASYNCUV_CONSTANT(NI_DGRAM)
  ASYNCUV_CONSTANT(SOCK_STREAM)
  ASYNCUV_CONSTANT(SOCK_DGRAM)
  ASYNCUV_CONSTANT(SOCK_RAW)
  ASYNCUV_CONSTANT(IPPROTO_TCP)
  ASYNCUV_CONSTANT(IPPROTO_UDP)
#undef ASYNCUV_CONSTANT
  dns.Set("constants", constants);
  exports.Set("dns", dns);
}

}  // namespace asyncuv
