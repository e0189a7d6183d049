// createServer's `sock` (asyncio's sock=): a TCP handle bound already,
// which the server then listens on, accepts from and closes; and
// connectAcceptedSocket's, one connected already. The checks every loop
// makes before it takes one.
import { UsageError } from '../errors/usage-error.js';
import { invalidArgType } from '../errors/validate.js';
import type { Loop } from '../handles/loop.js';
import { type SocketAddress, TCP } from '../handles/tcp.js';
import { UvError } from '../handles/uv-error.js';

/**
 * The address `sock` is bound to. Throws a UsageError, leaving the handle
 * the caller's, for what is not a TCP handle, a host or port beside it
 * (the socket is bound already), a closed handle and one not bound.
 */
export function serverSockAddress(sock: unknown, host: unknown, port: number): SocketAddress {
  if (!(sock instanceof TCP)) throw invalidArgType('sock', 'a TCP handle', sock);
  if (host !== null || port !== 0) {
    const why = 'With sock, host must be null and port 0: the socket is already bound';
    throw new UsageError('ERR_INVALID_ARG_VALUE', why);
  }
  let address: SocketAddress | undefined;
  try {
    address = sock.getsockname();
  } catch (err) {
    if (!(err instanceof UvError)) throw err; // a closed handle says so itself
  }
  if (address === undefined || address.port === 0) {
    throw new UsageError('ERR_INVALID_ARG_VALUE', 'sock must be bound (bind or open it first)');
  }
  return address;
}

/**
 * Checks connectAcceptedSocket's `sock`: a TCP handle (of `loop`, when
 * given) that is connected. Throws a UsageError, leaving it the caller's.
 */
export function connectedSock(sock: unknown, loop?: Loop): asserts sock is TCP {
  if (!(sock instanceof TCP)) throw invalidArgType('sock', 'a TCP handle', sock);
  if (loop !== undefined && sock.loop !== loop) {
    throw new UsageError('ERR_INVALID_ARG_VALUE', "sock must be a TCP of this loop's Loop");
  }
  try {
    sock.getpeername();
  } catch (err) {
    if (!(err instanceof UvError)) throw err; // a closed handle says so itself
    throw new UsageError(
      'ERR_INVALID_ARG_VALUE',
      'sock must be connected (accept or connect it first)',
    );
  }
}
