// IP addresses across the JS boundary: "host" strings and port numbers in,
// { address, port, family } objects out. Numeric addresses only; names are
// resolved by dns.getaddrinfo, never implicitly.
#pragma once

#include <napi.h>
#include <uv.h>

namespace asyncuv {
namespace inet {

// Parses a numeric IPv4 or IPv6 address (IPv6 may carry a %scope) and a port
// into `out`. Returns 0 or UV_EINVAL. Does not allocate.
int ParseAddress(Napi::Value host, Napi::Value port, sockaddr_storage* out);

// Writes the numeric form of `addr` into `buf` and its port into `port`.
// Returns 0 or UV_EAFNOSUPPORT for families other than IPv4 and IPv6.
int FormatAddress(const sockaddr* addr, char* buf, size_t size, int* port);

// { address, port, family: 'IPv4' | 'IPv6' }, or a negative libuv code.
Napi::Value AddressToJs(Napi::Env env, const sockaddr* addr);

}  // namespace inet
}  // namespace asyncuv
