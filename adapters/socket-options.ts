// What toDuplex()'s stream forwards to the socket under a transport, with
// net.Socket's meaning: the socket is the transport's
// getExtraInfo('socket'), a handles/ TCP or Pipe (UvEventLoop) or a
// net.Socket (NodeEventLoop; on TLS transports the TCP socket under the
// TLS layer, as in asyncio). Anything else (a user Duplex) has no such
// options, and the calls do nothing, as net.Socket's do on a pipe.
import { isIP, Socket } from 'node:net';
import { Handle } from '../handles/handle.js';
import { TCP } from '../handles/tcp.js';
import { kernelKeepAliveSec } from '../loop/keep-alive.js';
import type { Transport } from '../loop/transports.js';

/** net.Socket's address(): { address, family, port }, or {} for a socket with no IP address. */
export interface AddressInfo {
  address?: string;
  family?: 'IPv4' | 'IPv6';
  port?: number;
}

function socketOf(transport: Transport): unknown {
  return transport.getExtraInfo('socket');
}

/** An asyncio address tuple as net.Socket reports one; {} for a path or nothing. */
export function addressInfo(tuple: unknown): AddressInfo {
  if (!Array.isArray(tuple) || typeof tuple[0] !== 'string') return {};
  const family = isIP(tuple[0]);
  if (family === 0) return {};
  return { address: tuple[0], family: family === 6 ? 'IPv6' : 'IPv4', port: tuple[1] as number };
}

/** TCP_NODELAY on or off (net.Socket#setNoDelay). */
export function setNoDelay(transport: Transport, on: boolean): void {
  const socket = socketOf(transport);
  if (socket instanceof TCP) {
    if (!socket.closed) socket.setNoDelay(on);
  } else if (socket instanceof Socket) {
    socket.setNoDelay(on);
  }
}

/**
 * SO_KEEPALIVE (net.Socket#setKeepAlive): `initialDelayMs` is rounded
 * down to seconds; 0 leaves the delay as it was (at first the kernel's).
 * Returns the delay now in force, in seconds, for the next call.
 */
export function setKeepAlive(
  transport: Transport,
  enable: boolean,
  initialDelayMs: number,
  previousSec: number | undefined,
): number | undefined {
  const socket = socketOf(transport);
  const delaySec = Math.trunc(initialDelayMs / 1000) || previousSec;
  if (socket instanceof TCP) {
    if (socket.closed) return previousSec;
    const sec = delaySec ?? kernelKeepAliveSec();
    socket.setKeepAlive(enable, sec);
    return sec;
  }
  if (socket instanceof Socket) socket.setKeepAlive(enable, initialDelayMs);
  return delaySec;
}

/** Whether the socket keeps the process alive (net.Socket#ref / #unref). */
export function setRef(transport: Transport, ref: boolean): void {
  const socket = socketOf(transport);
  if (socket instanceof Handle) {
    if (socket.closed) return;
    if (ref) socket.ref();
    else socket.unref();
  } else if (socket instanceof Socket) {
    if (ref) socket.ref();
    else socket.unref();
  }
}
