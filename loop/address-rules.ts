// The address rules the loop's creators share (CPython's base_events.py
// applies them in create_connection, create_server and
// create_datagram_endpoint): an address is a [host, port] pair, a family
// filter fails as getaddrinfo does, a local address binds only attempts of
// its own family, and a socket path must fit sockaddr_un. Each throws the
// error the same call would get from the system, the same on both loops.
import { invalidArgType, validateInteger, validateString } from '../errors/validate.js';
import { UsageError } from '../errors/usage-error.js';
import { errno, UvError } from '../handles/uv-error.js';
import type { Address } from './protocols.js';
import type { ResolvedAddress } from './resolve.js';

/**
 * createServer's addresses of `family` only (asyncio's family=): for every
 * interface (host null) that is one wildcard; a name with none of that
 * family fails as getaddrinfo does.
 */
export function serverFamily(
  addresses: readonly ResolvedAddress[],
  family: 4 | 6 | undefined,
  host: unknown,
): readonly ResolvedAddress[] {
  if (family === undefined) return addresses;
  const of = addresses.filter((a) => a.family === family);
  if (of.length === 0) {
    throw new UvError(errno['EAI_ADDRFAMILY']!, 'getaddrinfo', String(host));
  }
  return of;
}

/** An address of the loop layer: asyncio's (host, port) tuple, as [host, port]. */
export function validateAddress(value: unknown, name: string): void {
  if (!Array.isArray(value) || value.length !== 2) {
    throw invalidArgType(name, 'a [host, port] pair', value);
  }
  validateString(value[0], `${name}[0]`);
  validateInteger(value[1], `${name}[1]`, 0, 65535);
}

/**
 * The first local address, and the first remote one of its family; with
 * only one side given, its first address. No pair of one family: a usage
 * error (asyncio's ValueError, "can not get address information").
 */
export function datagramPair<A extends ResolvedAddress>(
  locals: readonly A[] | undefined,
  remotes: readonly A[] | undefined,
): [A | undefined, A | undefined] {
  if (locals === undefined || remotes === undefined) return [locals?.[0], remotes?.[0]];
  for (const local of locals) {
    const remote = remotes.find((r) => r.family === local.family);
    if (remote !== undefined) return [local, remote];
  }
  throw new UsageError(
    'ERR_INVALID_ARG_VALUE',
    'localAddr and remoteAddr have no address of one family in common',
  );
}

/**
 * The remote addresses a local address of the same family can bind for:
 * asyncio skips, attempt by attempt, a remote address with no local one
 * of its family, and with none left fails with OSError ("no matching
 * local address with family=..."). Here that is known before any socket:
 * a UvError EAFNOSUPPORT from bind, naming the local host, the same on
 * both loops (their binds would fail differently: EINVAL from connect or
 * from bind).
 */
export function withLocalFamily(
  remotes: readonly ResolvedAddress[],
  locals: readonly ResolvedAddress[],
  localHost: string,
): ResolvedAddress[] {
  const left = remotes.filter((r) => locals.some((l) => l.family === r.family));
  if (left.length === 0) throw new UvError(errno['EAFNOSUPPORT']!, 'bind', localHost);
  return left;
}

/**
 * The local address an attempt to `remote` binds to: asyncio resolves
 * local_addr and binds each attempt to an address of the remote's family
 * (a name such as 'localhost' may resolve to ::1 first); withLocalFamily()
 * left only remotes that have one.
 */
export function localFor(
  locals: readonly ResolvedAddress[],
  remote: ResolvedAddress,
  port: number,
): Address {
  const local = locals.find((l) => l.family === remote.family)!;
  return [local.address, port];
}

/**
 * getaddrinfo of '': EAI_NONAME, as asyncio's socket.getaddrinfo('') gets
 * from getaddrinfo(3) (libuv would say EINVAL; node:dns would answer
 * nothing, deprecated).
 */
export function emptyHost(): UvError {
  return new UvError(errno['EAI_NONAME']!, 'getaddrinfo');
}

// sockaddr_un's sun_path, with its terminating NUL.
const SUN_PATH_SIZE = process.platform === 'linux' ? 108 : 104;

/**
 * A socket path too long for sockaddr_un fails with EINVAL, as libuv's bind
 * and connect do; net.Server would otherwise bind a truncated path (leaving
 * a file of another name behind) and net.Socket report ENOENT.
 */
export function checkSocketPath(path: string, syscall: 'bind' | 'connect'): void {
  if (Buffer.byteLength(path) >= SUN_PATH_SIZE) {
    throw new UvError(errno['EINVAL']!, syscall, `"${path}"`);
  }
}
