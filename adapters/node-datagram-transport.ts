// NodeDatagramTransport: asyncio's DatagramTransport over a dgram.Socket.
// What every transport shares is in loop/transport-base.ts. Sends are
// counted until their callback so that close() can flush them (libuv would
// cancel them) and the write-buffer limits can pause and resume the
// protocol on the socket's send queue.
import type dgram from 'node:dgram';
import { isIP } from 'node:net';
import { UvError, errno } from '../handles/uv-error.js';
import {
  DatagramTransportBase,
  type DatagramTransportOptions,
} from '../loop/datagram-transport-base.js';
import type { Address } from '../loop/protocols.js';
import { toUvError } from './node-errors.js';

export interface NodeDatagramOptions extends DatagramTransportOptions {
  /** Bound, and connected to `remote` if given. */
  socket: dgram.Socket;
}

export class NodeDatagramTransport extends DatagramTransportBase {
  readonly #socket: dgram.Socket;
  #sending = 0; // sends whose callback has not run yet
  #queuedBytes = 0;

  /** @internal NodeEventLoop.createDatagramEndpoint makes these. */
  constructor(opts: NodeDatagramOptions) {
    const { socket, remote } = opts;
    const local = socket.address();
    const extra: Record<string, unknown> = { socket, sockname: [local.address, local.port] };
    if (remote !== undefined) {
      const peer = socket.remoteAddress();
      extra['peername'] = [peer.address, peer.port];
    }
    super({ ...opts, extra });
    this.#socket = socket;
    // Through the loop's dispatch(): a stop() inside takes effect when the callback returns.
    socket.on('message', (data, from) => {
      this.dispatch(() => this.#message(data, from), undefined);
    });
    socket.on('error', (err) => this.dispatch((e) => this.#error(e), err));
    this.scheduleStart('A NodeDatagramTransport');
  }

  /** Node delivers messages as soon as the socket is bound. */
  protected beginIo(): void {}

  override usesFd(fd: number): boolean {
    return !this.closing && dgramFd(this.#socket) === fd;
  }

  protected closeAtOnce(): void {
    this.#socket.close();
  }

  #message(data: Buffer, from: dgram.RemoteInfo): void {
    if (this.lost) return;
    try {
      this.protocol.datagramReceived?.(data, [from.address, from.port]);
    } catch (exception) {
      this.fatal(exception, 'Fatal error: protocol.datagramReceived() call failed.');
    }
  }

  /** Receive and send errors (ICMP port unreachable...) go to errorReceived; it stays open. */
  #error(err: Error): void {
    if (this.lost) return;
    const protocol = this.protocol;
    this.callProtocol('errorReceived', () => protocol.errorReceived?.(toUvError(err)));
  }

  /** A copy, always: the bytes are queued, and the caller may reuse its memory. */
  protected override toBytes(data: Uint8Array | string, what: string): Uint8Array {
    const bytes = super.toBytes(data, what);
    return typeof data === 'string' ? bytes : Buffer.from(bytes);
  }

  protected send(bytes: Uint8Array, addr: Address | undefined): void {
    let to = addr;
    if (addr !== undefined) {
      const checked = this.#destination(addr);
      if (checked instanceof Error) return this.#error(checked);
      to = checked;
    }
    this.#sending++;
    this.#queuedBytes += bytes.byteLength;
    const done = (err: Error | null): void => {
      this.#sending--;
      this.#queuedBytes -= bytes.byteLength;
      if (err !== null) this.#error(err);
      this.flow.maybeResume();
      if (this.closing && this.#sending === 0) this.#finishClose(null);
    };
    try {
      if (to === undefined) this.#socket.send(bytes, done);
      else this.#socket.send(bytes, to[1], to[0], done);
    } catch (err) {
      // Never sent: not counted, and reported as UvEventLoop reports a send
      // that fails at once.
      this.#sending--;
      this.#queuedBytes -= bytes.byteLength;
      return this.#error(err as Error);
    }
    this.flow.maybePause();
  }

  /**
   * Where a datagram for `addr` goes, or the error libuv's send gives at
   * once (UvEventLoop reports it to errorReceived during sendto): a host
   * that is not an IP address is EINVAL (dgram would resolve it, libuv
   * sends to addresses only), port 0 is EINVAL (dgram throws a RangeError),
   * an IPv6 address from an IPv4 socket EAFNOSUPPORT. An IPv4 address from
   * an IPv6 socket is sent to its v4-mapped form, as libuv does (dgram's
   * udp6 lookup refuses it with EINVAL, so a dual-stack endpoint could not
   * reach IPv4 peers).
   */
  #destination([host, port]: Address): Address | UvError {
    const target = `${host}:${port}`;
    const family = isIP(host);
    if (family === 0 || port === 0) return new UvError(errno['EINVAL']!, 'send', target);
    const ipv6Socket = this.#socket.address().family === 'IPv6';
    if (!ipv6Socket && family === 6) return new UvError(errno['EAFNOSUPPORT']!, 'send', target);
    if (ipv6Socket && family === 4) return [`::ffff:${host}`, port];
    return [host, port];
  }

  /** Bytes handed to Node and not yet sent. */
  protected override bufferedBytes(): number {
    return this.#queuedBytes;
  }

  close(): void {
    if (this.closing) return;
    this.closing = true;
    if (this.#sending === 0) this.#finishClose(null);
  }

  protected forceClose(err: Error | null): void {
    if (this.lost) return;
    this.closing = true;
    this.#finishClose(err);
  }

  #finishClose(err: Error | null): void {
    if (this.lost) return;
    this.lost = true;
    this.lostError = err;
    // dgram's close callback runs on a later tick; connectionLost is
    // additionally put through the ready queue, like every loop callback.
    this.#socket.close(() => this.deliverLost(err));
  }
}

/**
 * The fd of a bound dgram socket, or undefined (closed, or a Node whose
 * dgram keeps it elsewhere). dgram shows its UDP handle only through the
 * deprecated `_handle` getter, which warns (DEP0112) on first use; the
 * getter returns the `handle` of the socket's state, kept under a symbol
 * named 'state symbol' in every Node from 20 to 26, read here directly.
 * addReader's check needs it (asyncio's _ensure_fd_no_transport): a
 * watcher on the fd dgram reads would take its datagrams.
 */
function dgramFd(socket: dgram.Socket): number | undefined {
  stateKey ??= Object.getOwnPropertySymbols(socket).find((s) => s.description === 'state symbol');
  if (stateKey === undefined) return undefined;
  const state = (socket as unknown as Record<symbol, { handle?: { fd?: unknown } | null }>)[
    stateKey
  ];
  const fd = state?.handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

let stateKey: symbol | undefined;
