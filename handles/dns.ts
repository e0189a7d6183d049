// dns: name resolution on a private loop (uv_getaddrinfo / uv_getnameinfo,
// run on libuv's threadpool). Both return Promises; failures reject with a
// UvError whose code is libuv's EAI_* name ('EAI_NONAME', 'EAI_AGAIN', ...).
import { binding, type NativeLoop } from './binding.js';
import { loopArg } from './handle.js';
import { kNative } from './internal.js';
import type { Loop } from './loop.js';
import { UsageError } from '../errors/usage-error.js';
import { errno, UvError } from './uv-error.js';
import { invalidArgType, validateInteger, validateString } from '../errors/validate.js';

export interface AddrInfo {
  address: string;
  family: 'IPv4' | 'IPv6';
  port: number;
  /** SOCK_STREAM, SOCK_DGRAM, ... (see dns.constants) */
  socktype: number;
  /** IPPROTO_TCP, IPPROTO_UDP, ... (see dns.constants) */
  protocol: number;
  /** Set on the first entry when AI_CANONNAME was asked for. */
  canonname?: string;
}

export interface AddrInfoHints {
  /** 0 (either), 4 or 'IPv4', 6 or 'IPv6'. */
  family?: 0 | 4 | 6 | 'IPv4' | 'IPv6';
  socktype?: number;
  protocol?: number;
  /** AI_* flags, or'ed (see dns.constants). */
  flags?: number;
}

export interface NameInfo {
  host: string;
  service: string;
}

type Pending<T> = Promise<T | number> | number;

interface NativeDns {
  getaddrinfo(
    loop: NativeLoop,
    host: string | undefined,
    service: string | undefined,
    family: number,
    socktype: number,
    protocol: number,
    flags: number,
  ): Pending<AddrInfo[]>;
  getnameinfo(loop: NativeLoop, address: string, port: number, flags: number): Pending<NameInfo>;
  constants: DnsConstants;
}

/** The names of dns.constants; values are this platform's. */
export interface DnsConstants {
  readonly AI_PASSIVE: number;
  readonly AI_CANONNAME: number;
  readonly AI_NUMERICHOST: number;
  readonly AI_NUMERICSERV: number;
  readonly AI_V4MAPPED: number;
  readonly AI_ALL: number;
  readonly AI_ADDRCONFIG: number;
  readonly NI_NUMERICHOST: number;
  readonly NI_NUMERICSERV: number;
  readonly NI_NOFQDN: number;
  readonly NI_NAMEREQD: number;
  readonly NI_DGRAM: number;
  readonly SOCK_STREAM: number;
  readonly SOCK_DGRAM: number;
  readonly SOCK_RAW: number;
  readonly IPPROTO_TCP: number;
  readonly IPPROTO_UDP: number;
}

const native = binding['dns'] as NativeDns;

/** AI_*, NI_*, SOCK_* and IPPROTO_* with this platform's values. */
export const constants: DnsConstants = Object.freeze({ ...native.constants });

async function settle<T>(pending: Pending<T>, syscall: string, detail: string): Promise<T> {
  const result = await pending;
  if (typeof result === 'number') throw new UvError(result, syscall, detail);
  return result;
}

function toFamily(family: unknown): number {
  switch (family) {
    case undefined:
    case 0:
      return 0;
    case 4:
    case 'IPv4':
      return 4;
    case 6:
    case 'IPv6':
      return 6;
    default:
      throw new UsageError(
        'ERR_INVALID_ARG_VALUE',
        `The "hints.family" option must be 0, 4, 6, 'IPv4' or 'IPv6'. Received ${String(family)}`,
      );
  }
}

function hintNumber(value: unknown, name: string): number {
  if (value === undefined) return 0;
  validateInteger(value, name, 0, 2 ** 31 - 1);
  return value;
}

/**
 * Resolves `host` (and `port`, a number or a service name) to addresses,
 * as getaddrinfo(3) does: /etc/hosts, then DNS. `host` may be undefined
 * when a port is given (with AI_PASSIVE: the wildcard address).
 */
export async function getaddrinfo(
  loop: Loop | undefined,
  host: string | undefined,
  port?: number | string,
  hints: AddrInfoHints = {},
): Promise<AddrInfo[]> {
  if (host !== undefined) validateString(host, 'host');
  let service: string | undefined;
  if (typeof port === 'number') {
    validateInteger(port, 'port', 0, 65535);
    service = String(port);
  } else if (typeof port === 'string') {
    service = port;
  } else if (port !== undefined) {
    throw invalidArgType('port', 'a number or a string', port);
  }
  if (host === undefined && service === undefined) {
    throw new UsageError('ERR_INVALID_ARG_VALUE', 'getaddrinfo needs a host, a port, or both');
  }
  if (typeof hints !== 'object' || hints === null)
    throw invalidArgType('hints', 'an object', hints);
  const pending = native.getaddrinfo(
    loopArg(loop)[kNative],
    host,
    service,
    toFamily(hints.family),
    hintNumber(hints.socktype, 'hints.socktype'),
    hintNumber(hints.protocol, 'hints.protocol'),
    hintNumber(hints.flags, 'hints.flags'),
  );
  return settle(pending, 'getaddrinfo', host ?? '');
}

/** The host name and service name of a numeric address and port. */
export async function getnameinfo(
  loop: Loop | undefined,
  address: string,
  port: number,
  flags = 0,
): Promise<NameInfo> {
  validateString(address, 'address');
  validateInteger(port, 'port', 0, 65535);
  validateInteger(flags, 'flags', 0, 2 ** 31 - 1);
  const pending = native.getnameinfo(loopArg(loop)[kNative], address, port, flags);
  if (pending === errno['EINVAL']) {
    // EINVAL before any lookup: the address is not numeric.
    throw new UsageError(
      'ERR_INVALID_ARG_VALUE',
      `The "address" argument must be a numeric IP address. Received ${address}`,
    );
  }
  return settle(pending, 'getnameinfo', address);
}
