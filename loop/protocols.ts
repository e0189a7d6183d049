// Protocol contracts (asyncio.protocols), camelCased. Every method is
// optional except where noted. The loop calls them in this order:
//
//   connectionMade -> dataReceived* -> eofReceived? -> connectionLost
//
// connectionLost is called exactly once, always from a later callback (never
// from inside the call that caused it), with null for a normal close or the
// error that ended the connection. pauseWriting / resumeWriting bracket the
// times the transport's write buffer is above its high-water mark.
import { UsageError } from '../errors/usage-error.js';
import type { DatagramTransport, SubprocessTransport, Transport } from './transports.js';

export interface BaseProtocol {
  connectionMade?(transport: Transport): void;
  connectionLost?(err: Error | null): void;
  /** The transport's buffer went above the high-water mark. */
  pauseWriting?(): void;
  /** ...and drained to the low-water mark. */
  resumeWriting?(): void;
}

/** A stream protocol: bytes arrive as Buffers that are the protocol's to keep. */
export interface Protocol extends BaseProtocol {
  dataReceived?(data: Buffer): void;
  /**
   * The peer closed its writing side. Return true to keep the transport
   * open for writing (half-close); anything else closes it.
   */
  eofReceived?(): boolean | void;
}

/**
 * A stream protocol that supplies the memory reads land in (no copy):
 * getBuffer(sizeHint) returns where the next read goes, bufferUpdated(n)
 * says n bytes arrived at its start.
 */
export interface BufferedProtocol extends BaseProtocol {
  getBuffer(sizeHint: number): Uint8Array;
  bufferUpdated(nbytes: number): void;
  eofReceived?(): boolean | void;
}

export type Address = [host: string, port: number];

export interface DatagramProtocol {
  connectionMade?(transport: DatagramTransport): void;
  datagramReceived?(data: Buffer, addr: Address): void;
  /** A send or receive failed (e.g. ECONNREFUSED on a connected endpoint). */
  errorReceived?(err: Error): void;
  connectionLost?(err: Error | null): void;
  pauseWriting?(): void;
  resumeWriting?(): void;
}

/**
 * Order: connectionMade -> pipeDataReceived* / pipeConnectionLost per pipe
 * -> processExited -> (once every pipe is lost too) connectionLost.
 * pauseWriting / resumeWriting are the stdin pipe's flow control.
 */
export interface SubprocessProtocol {
  connectionMade?(transport: SubprocessTransport): void;
  pipeDataReceived?(fd: number, data: Buffer): void;
  pipeConnectionLost?(fd: number, err: Error | null): void;
  processExited?(): void;
  connectionLost?(err: Error | null): void;
  /** The child's stdin pipe buffers more than its high-water mark... */
  pauseWriting?(): void;
  /** ...and drained to its low-water mark (asyncio forwards both from the pipe). */
  resumeWriting?(): void;
}

export type AnyProtocol = Protocol | BufferedProtocol;

/**
 * @internal A method of asyncuv's own protocols (toDuplex's), called when
 * the transport's loop closed under it: user protocols hear nothing then,
 * but a Node stream over the transport must end (node:http, node:tls).
 */
export const kLoopClosed = Symbol('asyncuv.loopClosed');

/** @internal Tells an internal protocol that its transport went with its loop. */
export function notifyLoopClosed(protocol: object): void {
  const hook = (protocol as { [kLoopClosed]?: () => void })[kLoopClosed];
  if (typeof hook === 'function') hook.call(protocol);
}

/** True when the protocol reads into its own buffers. */
export function isBufferedProtocol(p: object): p is BufferedProtocol {
  return (
    typeof (p as BufferedProtocol).getBuffer === 'function' &&
    typeof (p as BufferedProtocol).bufferUpdated === 'function'
  );
}

/**
 * Calls a protocol factory and checks that it made an object (every
 * protocol method is optional, so that is all there is to check). Without
 * this, a factory returning undefined made a transport whose every callback
 * failed later, in the exception handler, with an unclear TypeError. If the
 * factory throws or returns a non-object, `cleanup` releases what the
 * caller had already opened for the connection (socket, pipe, fd), so
 * nothing leaks, and the error propagates to the caller.
 */
export function newProtocol<P>(factory: () => P, cleanup?: () => void): P {
  let protocol: P;
  try {
    protocol = factory();
    if ((typeof protocol !== 'object' && typeof protocol !== 'function') || protocol === null) {
      throw new UsageError(
        'ERR_INVALID_RETURN_VALUE',
        `The protocol factory must return a protocol object. Returned ${protocol === null ? 'null' : typeof protocol}`,
      );
    }
  } catch (err) {
    cleanup?.();
    throw err;
  }
  return protocol;
}
