// Host resolution for connections, servers and datagram endpoints. IP
// literals skip the resolver; a name's addresses come in the resolver's
// order, each once. Where the names are looked up is the concrete loop's
// choice (UvEventLoop: getaddrinfo on its libuv loop; NodeEventLoop:
// node:dns).
import { isIP } from 'node:net';
import * as dns from '../handles/dns.js';
import type { Loop } from '../handles/loop.js';
import { errno, UvError } from '../handles/uv-error.js';

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** The socket type the addresses are for: a stream connection or server, or datagrams. */
export type SockType = 'stream' | 'dgram';

/** Looks up a host name (never an IP literal); duplicates are allowed. */
export type HostLookup = (host: string, socktype: SockType) => Promise<ResolvedAddress[]>;

/** `host`'s addresses: the literal itself, or what `lookup` finds, each address once. */
export async function resolveWith(
  lookup: HostLookup,
  host: string,
  socktype: SockType,
): Promise<ResolvedAddress[]> {
  const family = isIP(host);
  if (family !== 0) return [{ address: host, family: family as 4 | 6 }];
  const seen = new Set<string>();
  const out: ResolvedAddress[] = [];
  let all: ResolvedAddress[];
  try {
    all = await lookup(host, socktype);
  } catch (err) {
    throw resolverError(err, host);
  }
  for (const found of all) {
    if (seen.has(found.address)) continue;
    seen.add(found.address);
    out.push(found);
  }
  return out;
}

/** A HostLookup with getaddrinfo on `loop`. */
export function uvLookup(loop: Loop): HostLookup {
  return async (host, socktype) => {
    const { SOCK_STREAM, SOCK_DGRAM } = dns.constants;
    const hints = { socktype: socktype === 'stream' ? SOCK_STREAM : SOCK_DGRAM };
    const results = await dns.getaddrinfo(loop, host, undefined, hints);
    return results.map((r) => ({ address: r.address, family: r.family === 'IPv6' ? 6 : 4 }));
  };
}

/** `host`'s addresses, looked up with getaddrinfo on `loop`. */
export function resolveHost(
  loop: Loop,
  host: string,
  socktype: SockType = 'stream',
): Promise<ResolvedAddress[]> {
  return resolveWith(uvLookup(loop), host, socktype);
}

/** The wildcard addresses a server with no host listens on. */
export const ANY_HOSTS: readonly ResolvedAddress[] = [
  { address: '0.0.0.0', family: 4 },
  { address: '::', family: 6 },
];

/**
 * A lookup's error as getaddrinfo(3) gives it to asyncio: libuv (under
 * both loops) fails with EINVAL a name its IDNA conversion refuses (a
 * label over 63 characters, a name over 255), one getaddrinfo(3) answers
 * with EAI_NONAME; anything else is as it came.
 */
export function resolverError(err: unknown, host: string): unknown {
  if (err instanceof UvError && err.code === 'EINVAL' && err.syscall === 'getaddrinfo') {
    return new UvError(errno['EAI_NONAME']!, 'getaddrinfo', host);
  }
  return err;
}
