import { binding, type NativeHandle, type NativeLoop, type Status } from './binding.js';
import { type AsyncContext, bindToContext, captureContext } from './async-context.js';
import { Handle } from './handle.js';
import { kNative } from './internal.js';
import type { Loop } from './loop.js';
import { check, errorOf, UvError } from './uv-error.js';
import {
  invalidArgType,
  validateBoolean,
  validateFunction,
  validateInteger,
  validateOptions,
  validateString,
} from '../errors/validate.js';

/** An IP endpoint, as getsockname() and recv callbacks give it. */
export interface UdpAddress {
  address: string;
  port: number;
  family: 'IPv4' | 'IPv6';
}

export interface UdpBindOptions {
  /** Disables dual-stack on an IPv6 socket (IPV6_V6ONLY). */
  ipv6Only?: boolean;
  /** SO_REUSEADDR (SO_REUSEPORT on the BSDs): several sockets may bind one port. */
  reuseAddr?: boolean;
}

/**
 * Called once per datagram. `data` is the receiver's to keep. On a receive
 * error `err` is set and `data` and `rinfo` are null.
 */
export type UdpRecvCallback = (
  err: UvError | null,
  data: Buffer | null,
  rinfo: UdpAddress | null,
  handle: UDP,
) => void;
export type UdpSendCallback = (err: UvError | null) => void;
export type UdpData = Uint8Array | string | ReadonlyArray<Uint8Array>;

interface NativeUDP extends NativeHandle {
  onsend?: (status: number) => void;
  init(loop: NativeLoop): Status;
  bind(host: string, port: number, flags: number): Status;
  connect(host?: string, port?: number): Status;
  send(data: Uint8Array, host?: string, port?: number): Status;
  trySend(data: Uint8Array, host?: string, port?: number): Status;
  recvStart(): Status;
  recvStop(): Status;
  setOption(option: number, value: number): Status;
  setMulticastInterface(iface: string): Status;
  setMembership(group: string, iface: string | undefined, join: boolean): Status;
  getsockname(): UdpAddress | Status;
  getpeername(): UdpAddress | Status;
  sendQueueSize(): number;
  sendQueueCount(): number;
  bufferSize(which: number, value: number): Status;
  dupFileno(): Status;
}

// Mirrors the option numbers and flags of native/udp_wrap.cc and uv.h.
const kBroadcast = 0;
const kTtl = 1;
const kMulticastTtl = 2;
const kMulticastLoop = 3;
const UV_UDP_IPV6ONLY = 1;
const UV_UDP_REUSEADDR = 4;

const NativeUDPCtor = binding['UDP'] as new () => NativeUDP;

function toBytes(data: UdpData): Uint8Array {
  if (data instanceof Uint8Array) return data;
  if (typeof data === 'string') return Buffer.from(data);
  if (Array.isArray(data) && data.every((d) => d instanceof Uint8Array)) return Buffer.concat(data);
  throw invalidArgType('data', 'a Uint8Array, a string or an array of Uint8Array', data);
}

function validatePort(port: unknown, name = 'port'): asserts port is number {
  validateInteger(port, name, 0, 65535);
}

function address(result: UdpAddress | Status, syscall: string): UdpAddress {
  if (typeof result === 'number') throw new UvError(result, syscall);
  return result;
}

/**
 * uv_udp_t, a UDP socket. send() tries to send at once and only queues (a
 * copy of) the datagram when the socket is not writable: the caller may
 * reuse its buffer as soon as send() returns.
 */
export class UDP extends Handle<NativeUDP> {
  #recvCb: UdpRecvCallback | undefined;
  // recvStart()'s async context, entered for each datagram (async-context.ts).
  #recvContext: AsyncContext | undefined;
  // Callbacks of queued sends, in libuv's completion order (FIFO).
  #sendCbs: Array<UdpSendCallback | undefined> = [];
  #sendHead = 0;

  constructor(loop?: Loop) {
    const native = new NativeUDPCtor();
    super(loop, native, 'udp_init', (l) => native.init(l));
    native.onevent = (
      nread: number,
      slab?: ArrayBuffer,
      offset?: number,
      host?: string,
      port?: number,
    ) => {
      const cb = this.#recvCb;
      if (cb === undefined) return;
      const context = this.#recvContext!;
      if (nread < 0) {
        context.runInAsyncScope(cb, undefined, new UvError(nread, 'recv'), null, null, this);
        return;
      }
      const data = Buffer.from(slab!, offset!, nread);
      const from: UdpAddress = {
        address: host!,
        port: port!,
        family: host!.includes(':') ? 'IPv6' : 'IPv4',
      };
      context.runInAsyncScope(cb, undefined, null, data, from, this);
    };
    native.onsend = (status: number) => {
      const cb = this.#sendCbs[this.#sendHead];
      this.#sendCbs[this.#sendHead++] = undefined;
      if (this.#sendHead === this.#sendCbs.length) {
        this.#sendCbs.length = 0;
        this.#sendHead = 0;
      }
      cb?.(errorOf(status, 'send'));
    };
  }

  /** Binds to a numeric address; port 0 picks a free port. */
  bind(host: string, port: number, opts: UdpBindOptions = {}): void {
    this.assertOpen();
    validateString(host, 'host');
    validatePort(port);
    validateOptions(opts, 'opts');
    let flags = 0;
    if (opts.ipv6Only !== undefined) {
      validateBoolean(opts.ipv6Only, 'opts.ipv6Only');
      if (opts.ipv6Only) flags |= UV_UDP_IPV6ONLY;
    }
    if (opts.reuseAddr !== undefined) {
      validateBoolean(opts.reuseAddr, 'opts.reuseAddr');
      if (opts.reuseAddr) flags |= UV_UDP_REUSEADDR;
    }
    check(this[kNative].bind(host, port, flags), 'bind', `${host}:${port}`);
  }

  /** Fixes the peer: send() without an address goes there, others' datagrams are dropped. */
  connect(host: string, port: number): void {
    this.assertOpen();
    validateString(host, 'host');
    validatePort(port);
    check(this[kNative].connect(host, port), 'connect', `${host}:${port}`);
  }

  /** Undoes connect(). */
  disconnect(): void {
    this.assertOpen();
    check(this[kNative].connect(), 'disconnect');
  }

  /**
   * Sends one datagram to host:port (omit both on a connected socket).
   * Failures known at once (EINVAL, EMSGSIZE, EDESTADDRREQ...) throw; the
   * callback reports the outcome of the send, always asynchronously, and
   * exactly once (ECANCELED if the handle is closed first).
   */
  send(data: UdpData, host?: string, port?: number, cb?: UdpSendCallback): void;
  send(data: UdpData, cb?: UdpSendCallback): void;
  send(
    data: UdpData,
    hostOrCb?: string | UdpSendCallback,
    port?: number,
    cb?: UdpSendCallback,
  ): void {
    this.assertOpen();
    let host: string | undefined;
    if (typeof hostOrCb === 'function') {
      cb = hostOrCb;
    } else if (hostOrCb !== undefined) {
      validateString(hostOrCb, 'host');
      validatePort(port);
      host = hostOrCb;
    }
    if (cb !== undefined) validateFunction(cb, 'cb');
    const bytes = toBytes(data);
    const status =
      host === undefined ? this[kNative].send(bytes) : this[kNative].send(bytes, host, port);
    if (status < 0)
      throw new UvError(status, 'send', host === undefined ? undefined : `${host}:${port}`);
    if (status === 1) {
      this.#sendCbs.push(bindToContext(cb, 'asyncuv.UDPSend'));
    } else if (cb !== undefined) {
      queueMicrotask(() => cb(null));
    }
  }

  /**
   * Sends now or not at all: returns the bytes sent, throws UvError EAGAIN
   * if the datagram cannot leave without queueing.
   */
  trySend(data: UdpData, host?: string, port?: number): number {
    this.assertOpen();
    const bytes = toBytes(data);
    if (host === undefined) return check(this[kNative].trySend(bytes), 'try_send');
    validateString(host, 'host');
    validatePort(port);
    const sent = this[kNative].trySend(bytes, host, port);
    if (sent < 0) throw new UvError(sent, 'try_send', `${host}:${port}`);
    return sent;
  }

  /**
   * Starts receiving; binds to 0.0.0.0:0 first if the socket is not bound.
   * Calling it again while receiving replaces the callback.
   */
  recvStart(cb: UdpRecvCallback): void {
    this.assertOpen();
    validateFunction(cb, 'cb');
    this.#recvCb = cb;
    this.#recvContext = captureContext('asyncuv.UDP');
    check(this[kNative].recvStart(), 'recv_start');
  }

  recvStop(): void {
    this.assertOpen();
    check(this[kNative].recvStop(), 'recv_stop');
  }

  setBroadcast(on: boolean): void {
    this.assertOpen();
    validateBoolean(on, 'on');
    check(this[kNative].setOption(kBroadcast, on ? 1 : 0), 'setsockopt');
  }

  /** IP_TTL / IPV6_UNICAST_HOPS, 1 to 255. */
  setTTL(ttl: number): void {
    this.assertOpen();
    validateInteger(ttl, 'ttl', 1, 255);
    check(this[kNative].setOption(kTtl, ttl), 'setsockopt');
  }

  /** IP_MULTICAST_TTL / IPV6_MULTICAST_HOPS, 0 to 255. */
  setMulticastTTL(ttl: number): void {
    this.assertOpen();
    validateInteger(ttl, 'ttl', 0, 255);
    check(this[kNative].setOption(kMulticastTtl, ttl), 'setsockopt');
  }

  setMulticastLoopback(on: boolean): void {
    this.assertOpen();
    validateBoolean(on, 'on');
    check(this[kNative].setOption(kMulticastLoop, on ? 1 : 0), 'setsockopt');
  }

  /** The local interface address outgoing multicast leaves from. */
  setMulticastInterface(iface: string): void {
    this.assertOpen();
    validateString(iface, 'iface');
    check(this[kNative].setMulticastInterface(iface), 'setsockopt', iface);
  }

  addMembership(group: string, iface?: string): void {
    this.#membership(group, iface, true);
  }

  dropMembership(group: string, iface?: string): void {
    this.#membership(group, iface, false);
  }

  #membership(group: string, iface: string | undefined, join: boolean): void {
    this.assertOpen();
    validateString(group, 'group');
    if (iface !== undefined) validateString(iface, 'iface');
    check(this[kNative].setMembership(group, iface, join), 'setsockopt', group);
  }

  /**
   * @internal A new fd (close-on-exec) for this handle's socket, the
   * caller's to own and close: how NodeEventLoop hands node:dgram a UDP
   * socket given as `sock`.
   */
  dupFileno(): number {
    this.assertOpen();
    return check(this[kNative].dupFileno(), 'dup');
  }

  getsockname(): UdpAddress {
    this.assertOpen();
    return address(this[kNative].getsockname(), 'getsockname');
  }

  /** The connected peer; ENOTCONN if connect() was not called. */
  getpeername(): UdpAddress {
    this.assertOpen();
    return address(this[kNative].getpeername(), 'getpeername');
  }

  /** Bytes waiting in the send queue (0 once closed). */
  get sendQueueSize(): number {
    return this.closed ? 0 : this[kNative].sendQueueSize();
  }

  /** Datagrams waiting in the send queue (0 once closed). */
  get sendQueueCount(): number {
    return this.closed ? 0 : this[kNative].sendQueueCount();
  }

  /** SO_SNDBUF. Linux reports twice the size that was set. */
  get sendBufferSize(): number {
    this.assertOpen();
    return check(this[kNative].bufferSize(0, 0), 'getsockopt');
  }

  set sendBufferSize(size: number) {
    this.assertOpen();
    validateInteger(size, 'sendBufferSize', 1, 2 ** 31 - 1);
    check(this[kNative].bufferSize(0, size), 'setsockopt');
  }

  /** SO_RCVBUF. Linux reports twice the size that was set. */
  get recvBufferSize(): number {
    this.assertOpen();
    return check(this[kNative].bufferSize(1, 0), 'getsockopt');
  }

  set recvBufferSize(size: number) {
    this.assertOpen();
    validateInteger(size, 'recvBufferSize', 1, 2 ** 31 - 1);
    check(this[kNative].bufferSize(1, size), 'setsockopt');
  }

  /** The socket's file descriptor. */
  fileno(): number {
    this.assertOpen();
    return check(this[kNative].fileno(), 'fileno');
  }
}
