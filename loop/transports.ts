// Transport contracts (asyncio.transports), camelCased.
import type { ChildProcess } from 'node:child_process';
import type dgram from 'node:dgram';
import type { Duplex, Readable, Writable } from 'node:stream';
import type tls from 'node:tls';
import type { Pipe } from '../handles/pipe.js';
import type { Process } from '../handles/process.js';
import type { Stream } from '../handles/stream.js';
import type { UDP } from '../handles/udp.js';
import type { Address, AnyProtocol, DatagramProtocol, SubprocessProtocol } from './protocols.js';

/**
 * What a stream transport's getExtraInfo(name) answers, by name (asyncio's
 * names). A name the transport does not have answers the default.
 */
export interface ExtraInfo {
  /** The peer: `[host, port]` over TCP, the socket path over a Unix socket ('' if unnamed). */
  peername: Address | string;
  /** The local end: `[host, port]` over TCP, the socket path over a Unix socket. */
  sockname: Address | string;
  /** UvEventLoop: the TCP or Pipe handle. NodeEventLoop: the net.Socket (or the Duplex). */
  socket: Stream | Duplex;
  /** Pipe transports: UvEventLoop's Pipe handle, or NodeEventLoop's stream for the fd. */
  pipe: Pipe | Readable | Writable;
  /** TLS: the secure context in use, as asyncio's 'sslcontext'. */
  sslcontext: tls.SecureContext | null;
  /** TLS: the peer's certificate, null if it sent none. */
  peercert: tls.PeerCertificate | null;
  /** TLS: the negotiated cipher. */
  cipher: tls.CipherNameAndProtocol;
  /** TLS: always null (no TLS compression). */
  compression: null;
  /** TLS: the tls.TLSSocket doing the encryption. */
  ssl_object: tls.TLSSocket;
  /** TLS: the protocol version ('TLSv1.3', ...). */
  tls_protocol: string | null;
}

/** What a datagram transport's getExtraInfo(name) answers. */
export interface DatagramExtraInfo {
  /** The connected peer (remoteAddr), if any. */
  peername: Address;
  sockname: Address;
  /** UvEventLoop: the UDP handle. NodeEventLoop: the dgram.Socket. */
  socket: UDP | dgram.Socket;
}

/** What a subprocess transport's getExtraInfo(name) answers. */
export interface SubprocessExtraInfo {
  /** UvEventLoop: the Process handle. NodeEventLoop: the ChildProcess. */
  subprocess: Process | ChildProcess;
}

/**
 * The type of getExtraInfo(name, dflt): the documented type for a name of
 * `Info`, `unknown` for any other name, or the default. NoInfer: the default
 * is what the caller passed, never guessed from the variable being
 * assigned (`const s: object = t.getExtraInfo('socket')` would otherwise
 * hide the undefined).
 */
export type ExtraInfoValue<Info, K extends string, D> =
  (K extends keyof Info ? Info[K] : unknown) | NoInfer<D>;

/** `Info` maps the names getExtraInfo() documents to their types. */
export interface BaseTransport<Info = ExtraInfo> {
  /** 'peername', 'sockname', 'socket', 'pipe', 'sslcontext', 'peercert', ... (see ExtraInfo). */
  getExtraInfo<K extends string, D = undefined>(name: K, dflt?: D): ExtraInfoValue<Info, K, D>;
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

/** getExtraInfo(): 'peername', 'sockname', 'socket' (see DatagramExtraInfo). */
export interface DatagramTransport extends BaseTransport<DatagramExtraInfo> {
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
  /** The transport of the child's stdin, if it is a pipe. */
  getPipeTransport(fd: 0): WriteTransport | null;
  /** The transport of the child's stdout or stderr, if it is a pipe. */
  getPipeTransport(fd: 1 | 2): ReadTransport | null;
  getPipeTransport(fd: number): WriteTransport | ReadTransport | null;
  sendSignal(signal: number | string): void;
  terminate(): void;
  kill(): void;
  close(): void;
  isClosing(): boolean;
  /** 'subprocess' (see SubprocessExtraInfo). */
  getExtraInfo<K extends string, D = undefined>(
    name: K,
    dflt?: D,
  ): ExtraInfoValue<SubprocessExtraInfo, K, D>;
  getProtocol(): SubprocessProtocol;
  /** Resolves with the return code once the child has exited. */
  wait(): Promise<number>;
}
