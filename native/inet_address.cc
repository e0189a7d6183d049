#include "inet_address.h"

#include <cstring>

namespace asyncuv {
namespace inet {

int ParseAddress(Napi::Value host, Napi::Value port, sockaddr_storage* out) {
  if (!host.IsString() || !port.IsNumber()) return UV_EINVAL;
  double p = port.As<Napi::Number>().DoubleValue();
  if (!(p >= 0 && p <= 65535) || p != static_cast<int>(p)) return UV_EINVAL;
  // The longest numeric IPv6 address with a scope fits easily; anything that
  // does not fit is not a numeric address.
  char buf[INET6_ADDRSTRLEN + 64];
  size_t len = 0;
  if (napi_get_value_string_utf8(host.Env(), host, buf, sizeof(buf), &len) != napi_ok) {
    return UV_EINVAL;
  }
  if (len >= sizeof(buf) - 1) return UV_EINVAL;
  memset(out, 0, sizeof(*out));
  int iport = static_cast<int>(p);
  if (uv_ip4_addr(buf, iport, reinterpret_cast<sockaddr_in*>(out)) == 0) return 0;
  if (uv_ip6_addr(buf, iport, reinterpret_cast<sockaddr_in6*>(out)) == 0) return 0;
  return UV_EINVAL;
}

int FormatAddress(const sockaddr* addr, char* buf, size_t size, int* port) {
  if (addr->sa_family == AF_INET) {
    auto* in = reinterpret_cast<const sockaddr_in*>(addr);
    uv_ip4_name(in, buf, size);
    *port = ntohs(in->sin_port);
    return 0;
  }
  if (addr->sa_family == AF_INET6) {
    auto* in6 = reinterpret_cast<const sockaddr_in6*>(addr);
    uv_ip6_name(in6, buf, size);
    *port = ntohs(in6->sin6_port);
    return 0;
  }
  return UV_EAFNOSUPPORT;
}

Napi::Value AddressToJs(Napi::Env env, const sockaddr* addr) {
  char ip[INET6_ADDRSTRLEN];
  int port = 0;
  int rc = FormatAddress(addr, ip, sizeof(ip), &port);
  if (rc != 0) return Napi::Number::New(env, rc);
  Napi::Object result = Napi::Object::New(env);
  result.Set("address", Napi::String::New(env, ip));
  result.Set("port", Napi::Number::New(env, port));
  result.Set("family", Napi::String::New(env, addr->sa_family == AF_INET ? "IPv4" : "IPv6"));
  return result;
}

}  // namespace inet
}  // namespace asyncuv
