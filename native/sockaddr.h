// Socket addresses between JS ({ address, port, family }) and sockaddr.
#pragma once

#include <napi.h>
#include <uv.h>

namespace asyncuv {

// Parses an IPv4 or IPv6 literal (a ':' means IPv6) and a port into `out`.
// Host names are not resolved here: that is dns.getaddrinfo's job.
int ParseAddress(const Napi::Value& host, const Napi::Value& port, sockaddr_storage* out);

// The address of an IPv4 or IPv6 sockaddr as text into `ip` (at least
// INET6_ADDRSTRLEN bytes) and its port; false for other families.
bool SockaddrIpPort(const sockaddr* addr, char* ip, int* port);

// { address, port, family: 'IPv4' | 'IPv6' }, or undefined for other families.
Napi::Value SockaddrToJs(Napi::Env env, const sockaddr* addr);

// [address, port], or undefined for other families.
Napi::Value SockaddrToTuple(Napi::Env env, const sockaddr* addr);

}  // namespace asyncuv
