// Transport contracts (asyncio.transports), camelCased.
import type { Address, AnyProtocol, DatagramProtocol, SubprocessProtocol } from './protocols.js';

export interface BaseTransport {
  /** 'peername', 'sockname', 'socket', 'pipe', 'subprocess', 'sslcontext', 'peercert', ... */
  getExtraInfo<T = unknown>(name: string, dflt?: T): T | undefined;
  isClosing(): boolean;
  /** Flushes buffered writes, then closes; connectionLost(null) follows. */
  close(): void;
  setProtocol(protocol: AnyProtocol): void;
  getProtocol(): AnyProtocol;
}

export interface ReadTransport extends BaseTransport {
  isReading(): boolean;
  pauseReading(): void;
  resumeReading(): void;
}

export interface WriteBufferLimits {
  /** pauseWriting() once the buffer is strictly above this; default 64 KiB. */
  high?: number;
  /** resumeWriting() once it is at or below this; default high / 4. */
  low?: number;
}

export interface WriteTransport extends BaseTransport {
  write(data: Uint8Array | string): void;
  writelines(list: Iterable<Uint8Array | string>): void;
  writeEof(): void;
  canWriteEof(): boolean;
  /** Closes at once: buffered data is dropped; connectionLost(null) follows. */
  abort(): void;
  setWriteBufferLimits(limits?: WriteBufferLimits): void;
  getWriteBufferSize(): number;
  getWriteBufferLimits(): [low: number, high: number];
}

export interface Transport extends ReadTransport, WriteTransport {}

export interface DatagramTransport extends BaseTransport {
  /** Sends one datagram; `addr` is required unless the endpoint is connected. */
  sendto(data: Uint8Array | string, addr?: Address): void;
  abort(): void;
  getWriteBufferSize(): number;
  getProtocol(): DatagramProtocol & AnyProtocol;
}

export interface SubprocessTransport {
  getPid(): number;
  /** null while running; the exit code, or -signum if a signal ended it. */
  getReturncode(): number | null;
  /** The transport of the child's fd 0, 1 or 2, if it is a pipe. */
  getPipeTransport(fd: number): WriteTransport | ReadTransport | null;
  sendSignal(signal: number | string): void;
  terminate(): void;
  kill(): void;
  close(): void;
  isClosing(): boolean;
  getExtraInfo<T = unknown>(name: string, dflt?: T): T | undefined;
  getProtocol(): SubprocessProtocol;
  /** Resolves with the return code once the child has exited. */
  wait(): Promise<number>;
}
