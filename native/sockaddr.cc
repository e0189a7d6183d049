#include "sockaddr.h"

#include <cmath>
#include <cstring>
#include <string>

namespace asyncuv {

int ParseAddress(const Napi::Value& host, const Napi::Value& port, sockaddr_storage* out) {
  if (!host.IsString() || !port.IsNumber()) return UV_EINVAL;
  double p = port.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(p) || p < 0 || p > 65535 || p != std::floor(p)) return UV_EINVAL;
  std::string h = host.As<Napi::String>().Utf8Value();
  memset(out, 0, sizeof(*out));
  if (h.find(':') != std::string::npos) {
    return uv_ip6_addr(h.c_str(), static_cast<int>(p), reinterpret_cast<sockaddr_in6*>(out));
  }
  return uv_ip4_addr(h.c_str(), static_cast<int>(p), reinterpret_cast<sockaddr_in*>(out));
}

Napi::Value SockaddrToJs(Napi::Env env, const sockaddr* addr) {
  char ip[INET6_ADDRSTRLEN] = {0};
  int port;
  const char* family;
  if (addr->sa_family == AF_INET) {
    auto* in = reinterpret_cast<const sockaddr_in*>(addr);
    uv_ip4_name(in, ip, sizeof(ip));
    port = ntohs(in->sin_port);
    family = "IPv4";
  } else if (addr->sa_family == AF_INET6) {
    auto* in6 = reinterpret_cast<const sockaddr_in6*>(addr);
    uv_ip6_name(in6, ip, sizeof(ip));
    port = ntohs(in6->sin6_port);
    family = "IPv6";
  } else {
    return env.Undefined();
  }
  Napi::Object result = Napi::Object::New(env);
  result.Set("address", Napi::String::New(env, ip));
  result.Set("port", Napi::Number::New(env, port));
  result.Set("family", Napi::String::New(env, family));
  return result;
}

}  // namespace asyncuv
