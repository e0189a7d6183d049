import { binding } from './binding.js';
import { UsageError } from '../errors/usage-error.js';
import { bindToContext } from './async-context.js';
import { kNative } from './internal.js';
import type { Loop } from './loop.js';
import { Stream, type NativeStream } from './stream.js';
import { UvError, check, errorOf } from './uv-error.js';
import {
  invalidArgType,
  validateBoolean,
  validateFunction,
  validateInteger,
  validateOptionalBoolean,
  validateOptions,
  validateString,
} from '../errors/validate.js';

export interface SocketAddress {
  address: string;
  port: number;
  family: 'IPv4' | 'IPv6';
}

interface NativeTcp extends NativeStream {
  init(loop: unknown): number;
  bind(host: string, port: number, ipv6Only: boolean, reusePort: boolean): number;
  connect(host: string, port: number): number;
  open(fd: number, duplicate: boolean): number;
  dupFileno(): number;
  getsockname(): SocketAddress | number;
  getpeername(): SocketAddress | number;
  names(): [[string, number] | undefined, [string, number] | undefined] | number;
  setNoDelay(on: boolean): number;
  setKeepAlive(on: boolean, delaySec: number): number;
  closeReset(): number;
  bufferSize(which: 0 | 1, value: number): number;
}

export interface TcpBindOptions {
  /** Bind an IPv6 address without accepting IPv4 on it. */
  ipv6Only?: boolean;
  /** SO_REUSEPORT: several sockets (processes, loops) share the port. */
  reusePort?: boolean;
}

export interface TcpOpenOptions {
  /** Wrap a duplicate of the fd (F_DUPFD_CLOEXEC); the caller keeps the original. */
  duplicate?: boolean;
}

function address(result: SocketAddress | number, syscall: string): SocketAddress {
  if (typeof result === 'number') throw new UvError(result, syscall);
  return result;
}

/**
 * uv_tcp_t. Addresses are IP literals ('127.0.0.1', '::1'); names are
 * resolved with dns.getaddrinfo first.
 */
export class TCP extends Stream<NativeTcp> {
  constructor(loop?: Loop) {
    const native = new (binding['TCP'] as new () => NativeTcp)();
    super(loop, native, 'tcp_init', (l) => native.init(l));
  }

  bind(host: string, port: number, opts: TcpBindOptions = {}): void {
    this.assertOpen();
    validateString(host, 'host');
    validateInteger(port, 'port', 0, 65535);
    validateOptions(opts, 'opts');
    validateOptionalBoolean(opts.ipv6Only, 'opts.ipv6Only');
    validateOptionalBoolean(opts.reusePort, 'opts.reusePort');
    check(
      this[kNative].bind(host, port, opts.ipv6Only === true, opts.reusePort === true),
      'bind',
      `${host}:${port}`,
    );
  }

  /** Listens; `onConnection` runs for each incoming connection, to accept(). */
  listen(backlog: number, onConnection: (err: UvError | null) => void): void {
    validateInteger(backlog, 'backlog', 0, 65535);
    this.listenWith(backlog, onConnection);
  }

  /** Accepts a pending connection into a new, unused TCP handle. */
  accept(client: TCP): void {
    // A listening TCP socket only has TCP connections to give: another
    // handle failed in native as EBADF (a Timer) or EINVAL (a UDP).
    if (!(client instanceof TCP)) throw invalidArgType('client', 'a TCP handle', client);
    this.acceptInto(client);
  }

  connect(host: string, port: number, cb: (err: UvError | null) => void): void {
    this.assertOpen();
    validateString(host, 'host');
    validateInteger(port, 'port', 0, 65535);
    validateFunction(cb, 'cb');
    // A failed connect names the address at the end of its message, as node:net's does.
    const address = `${host}:${port}`;
    const done = bindToContext(cb, 'asyncuv.TCPConnect')!;
    check(this[kNative].connect(host, port), 'connect', address);
    // Only once libuv took the request: a refused call (EALREADY while a
    // connect is pending) must not take over the pending one's callback.
    this[kNative].onconnect = (status) => done(errorOf(status, 'connect', address));
  }

  /**
   * Wraps an existing socket fd; the handle owns it and closes it. With
   * `duplicate`, it wraps a new fd for the same socket instead and the caller
   * keeps `fd`: how several loops (threads) accept from one listening socket.
   */
  open(fd: number, opts: TcpOpenOptions = {}): void {
    this.assertOpen();
    validateInteger(fd, 'fd', 0, 2 ** 31 - 1);
    validateOptions(opts, 'opts');
    validateOptionalBoolean(opts.duplicate, 'opts.duplicate');
    check(this[kNative].open(fd, opts.duplicate === true), 'tcp_open');
  }

  /**
   * @internal A new fd (close-on-exec) for this handle's socket, the
   * caller's to own and close: how NodeEventLoop hands node:net a socket
   * bound with SO_REUSEPORT, which net's listen() cannot make before
   * Node 22.12, or a TCP handle given as `sock`.
   */
  dupFileno(): number {
    this.assertOpen();
    return check(this[kNative].dupFileno(), 'dup');
  }

  getsockname(): SocketAddress {
    this.assertOpen();
    return address(this[kNative].getsockname(), 'getsockname');
  }

  getpeername(): SocketAddress {
    this.assertOpen();
    return address(this[kNative].getpeername(), 'getpeername');
  }

  setNoDelay(on: boolean): void {
    this.assertOpen();
    validateBoolean(on, 'on');
    check(this[kNative].setNoDelay(on), 'nodelay');
  }

  setKeepAlive(on: boolean, delaySec = 60): void {
    this.assertOpen();
    validateBoolean(on, 'on');
    validateInteger(delaySec, 'delaySec', 1, 2 ** 31 - 1);
    check(this[kNative].setKeepAlive(on, delaySec), 'keepalive');
  }

  /** Closes with a reset (RST) instead of an orderly FIN. */
  closeReset(cb?: () => void): void {
    if (this.closed) return;
    if (cb !== undefined) validateFunction(cb, 'cb');
    const status = this[kNative].closeReset();
    check(status, 'close_reset');
    this.close(cb);
  }

  get sendBufferSize(): number {
    this.assertOpen();
    return check(this[kNative].bufferSize(0, 0), 'send_buffer_size');
  }

  set sendBufferSize(bytes: number) {
    this.assertOpen();
    validateInteger(bytes, 'sendBufferSize', 1, 2 ** 31 - 1);
    check(this[kNative].bufferSize(0, bytes), 'send_buffer_size');
  }

  get recvBufferSize(): number {
    this.assertOpen();
    return check(this[kNative].bufferSize(1, 0), 'recv_buffer_size');
  }

  set recvBufferSize(bytes: number) {
    this.assertOpen();
    validateInteger(bytes, 'recvBufferSize', 1, 2 ** 31 - 1);
    check(this[kNative].bufferSize(1, bytes), 'recv_buffer_size');
  }
}

/**
 * @internal The peer's and the local [address, port] of `tcp`, each
 * undefined where it has none (not connected): both names in one native
 * call, as a transport records them when it is made. A function of the
 * module, not a method, so that TCP's type stays what users see.
 */
export function tcpNames(tcp: TCP): [[string, number] | undefined, [string, number] | undefined] {
  if (tcp.closed) throw new UsageError('ERR_HANDLE_CLOSED', 'This TCP handle is closed');
  const names = tcp[kNative].names();
  if (typeof names === 'number') throw new UvError(names, 'getpeername');
  return names;
}
