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

namespace {

// Dotted decimal, as uv_ip4_name writes it, without its snprintf (one per
// connection accepted, in a server's profile).
void FormatIp4(in_addr a, char* out) {
  const auto* b = reinterpret_cast<const unsigned char*>(&a.s_addr);
  for (int i = 0; i < 4; i++) {
    unsigned v = b[i];
    if (v >= 100) *out++ = static_cast<char>('0' + v / 100);
    if (v >= 10) *out++ = static_cast<char>('0' + v / 10 % 10);
    *out++ = static_cast<char>('0' + v % 10);
    *out++ = i < 3 ? '.' : '\0';
  }
}

}  // namespace

bool SockaddrIpPort(const sockaddr* addr, char* ip, int* port) {
  if (addr->sa_family == AF_INET) {
    auto* in = reinterpret_cast<const sockaddr_in*>(addr);
    FormatIp4(in->sin_addr, ip);
    *port = ntohs(in->sin_port);
    return true;
  }
  if (addr->sa_family == AF_INET6) {
    auto* in6 = reinterpret_cast<const sockaddr_in6*>(addr);
    uv_ip6_name(in6, ip, INET6_ADDRSTRLEN);
    *port = ntohs(in6->sin6_port);
    return true;
  }
  return false;
}

Napi::Value SockaddrToJs(Napi::Env env, const sockaddr* addr) {
  char ip[INET6_ADDRSTRLEN] = {0};
  int port;
  if (!SockaddrIpPort(addr, ip, &port)) return env.Undefined();
  Napi::Object result = Napi::Object::New(env);
  result.Set("address", Napi::String::New(env, ip));
  result.Set("port", Napi::Number::New(env, port));
  result.Set("family", Napi::String::New(env, addr->sa_family == AF_INET ? "IPv4" : "IPv6"));
  return result;
}

Napi::Value SockaddrToTuple(Napi::Env env, const sockaddr* addr) {
  char ip[INET6_ADDRSTRLEN] = {0};
  int port;
  if (!SockaddrIpPort(addr, ip, &port)) return env.Undefined();
  Napi::Array tuple = Napi::Array::New(env, 2);
  tuple.Set(0u, Napi::String::New(env, ip));
  tuple.Set(1u, Napi::Number::New(env, port));
  return tuple;
}

}  // namespace asyncuv
