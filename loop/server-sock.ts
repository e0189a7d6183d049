// asyncio's `sock=`: a handle the caller made (bound or connected already)
// that a loop's creator takes over instead of making its own:
// createServer's and createUnixServer's (bound), createConnection's,
// createUnixConnection's and connectAcceptedSocket's (connected), and
// createDatagramEndpoint's (bound). The checks every loop makes before it
// takes one: each throws a UsageError (a closed handle: its own
// ERR_HANDLE_CLOSED) and leaves the handle the caller's.
import { UsageError } from '../errors/usage-error.js';
import { invalidArgType } from '../errors/validate.js';
import type { Handle } from '../handles/handle.js';
import type { Loop } from '../handles/loop.js';
import { Pipe } from '../handles/pipe.js';
import { type SocketAddress, TCP } from '../handles/tcp.js';
import { UDP, type UdpAddress } from '../handles/udp.js';
import { UvError } from '../handles/uv-error.js';

/** What `sock` must be, for the message of the type error. */
const kExpected = { tcp: 'a TCP handle', unix: 'a Pipe handle', either: 'a TCP or Pipe handle' };

function invalid(why: string): UsageError {
  return new UsageError('ERR_INVALID_ARG_VALUE', why);
}

/**
 * `query`'s answer, or undefined where the socket has none (a UvError:
 * not bound, not connected, not a socket); a closed handle throws its own
 * ERR_HANDLE_CLOSED.
 */
function askSocket<T>(query: () => T): T | undefined {
  try {
    return query();
  } catch (err) {
    if (!(err instanceof UvError)) throw err;
    return undefined;
  }
}

// Handles a transport or server of a loop uses (given as `sock` or made by
// the loop): the sock operations (sock-ops.ts) refuse them, since they would
// fight the transport over the read callback. Weak: a handle is marked once
// and forgotten with it.
const claimed = new WeakSet<Handle>();

/** Marks `handle` as used by a transport or server of a loop, for good. */
export function claimSock(handle: Handle): void {
  claimed.add(handle);
}

/** Whether a transport or server of a loop uses `handle` (claimSock). */
export function isClaimed(handle: Handle): boolean {
  return claimed.has(handle);
}

/** Pipes that pass handles are not sockets of a stream transport or server. */
export function checkNotIpc(sock: Pipe): void {
  // getsockname first: a closed Pipe says so itself (ipc is false once closed).
  askSocket(() => sock.getsockname());
  if (sock.ipc) throw invalid('sock must not be an IPC pipe (new Pipe(loop, true))');
}

/** UvEventLoop's rule: a handle of its own libuv Loop, which runs its callbacks. */
export function checkSockLoop(sock: Handle, loop: Loop): void {
  if (sock.loop !== loop) {
    throw invalid(`sock must be a ${sock.constructor.name} of this loop's Loop`);
  }
}

/**
 * The address createServer's `sock`, a TCP handle, is bound to; host must
 * be null and port 0 beside it (the socket is bound already).
 */
export function serverSockAddress(sock: unknown, host: unknown, port: number): SocketAddress {
  if (!(sock instanceof TCP)) throw invalidArgType('sock', kExpected.tcp, sock);
  if (host !== null || port !== 0) {
    throw invalid('With sock, host must be null and port 0: the socket is already bound');
  }
  const address = askSocket(() => sock.getsockname());
  if (address === undefined || address.port === 0) {
    throw invalid('sock must be bound (bind or open it first)');
  }
  return address;
}

/**
 * The name createUnixServer's `sock`, a Pipe (not IPC), is bound to (an
 * abstract name keeps its leading '\0'); path must not be given beside it.
 */
export function unixServerSockPath(sock: unknown, path: unknown): string {
  if (!(sock instanceof Pipe)) throw invalidArgType('sock', kExpected.unix, sock);
  if (path !== null && path !== undefined) {
    throw invalid('With sock, path must be null: the socket is already bound');
  }
  checkNotIpc(sock);
  const name = askSocket(() => sock.getsockname());
  if (name === undefined || name === '') {
    throw invalid('sock must be a bound Unix socket (bind or open it first)');
  }
  return name;
}

/**
 * Checks a connected `sock`: connectAcceptedSocket's (`either`: a TCP
 * handle or a Pipe), createConnection's (`tcp`), createUnixConnection's
 * (`unix`). A Pipe must be a connected socket, not IPC (a pipe or FIFO
 * has no peer: ENOTSOCK).
 */
export function connectedSock(
  sock: unknown,
  kind: 'tcp' | 'unix' | 'either',
): asserts sock is TCP | Pipe {
  const ok = (kind !== 'unix' && sock instanceof TCP) || (kind !== 'tcp' && sock instanceof Pipe);
  if (!ok) throw invalidArgType('sock', kExpected[kind], sock);
  if (sock instanceof Pipe) checkNotIpc(sock);
  const peer = askSocket(() => (sock as TCP | Pipe).getpeername());
  if (peer === undefined) throw invalid('sock must be connected (accept or connect it first)');
}

/**
 * With `sock`, createConnection's host and port, and createUnixConnection's
 * path, must be absent (null or undefined), and so must localAddr: the
 * socket is connected already.
 */
export function checkNoAddressWithSock(
  given: Record<string, unknown>,
  method: 'createConnection' | 'createUnixConnection',
): void {
  const names = Object.keys(given).filter((k) => given[k] !== null && given[k] !== undefined);
  if (names.length > 0) {
    throw invalid(
      `${method}: ${names.join(', ')} and sock cannot be given together: the socket is already connected`,
    );
  }
}

/**
 * createDatagramEndpoint's `sock`: a bound UDP handle. Its peer, when it is
 * connected, becomes the endpoint's remote address. The options that make
 * a socket (localAddr, remoteAddr, reusePort, allowBroadcast, family) must
 * not be given beside it, as asyncio's ValueError ("socket modifier keyword
 * arguments can not be used when sock is specified").
 */
export function datagramSock(
  sock: unknown,
  opts: Record<string, unknown>,
): { local: UdpAddress; remote: UdpAddress | undefined } {
  if (!(sock instanceof UDP)) throw invalidArgType('sock', 'a UDP handle', sock);
  const modifiers = ['localAddr', 'remoteAddr', 'reusePort', 'allowBroadcast', 'family'];
  const given = modifiers.filter((k) => opts[k] !== undefined);
  if (given.length > 0) {
    throw invalid(`${given.join(', ')} cannot be given with sock: the socket is already made`);
  }
  const local = askSocket(() => sock.getsockname());
  if (local === undefined || local.port === 0) {
    throw invalid('sock must be bound (bind it first)');
  }
  return { local, remote: askSocket(() => sock.getpeername()) };
}
