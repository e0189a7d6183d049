// NodeDatagramTransport: asyncio's DatagramTransport over a dgram.Socket.
// Sends are counted until their callback so that close() can flush them
// (libuv would cancel them) and the write-buffer limits can pause and
// resume the protocol on the socket's send queue.
import type dgram from 'node:dgram';
import { UsageError } from '../errors/usage-error.js';
import type { BaseEventLoop } from '../loop/base-event-loop.js';
import { loopClosed } from '../loop/errors.js';
import {
  type Address, type AnyProtocol, type DatagramProtocol, notifyLoopClosed,
} from '../loop/protocols.js';
import { WriteFlow } from '../loop/write-flow.js';
import type { DatagramExtraInfo, DatagramTransport, ExtraInfoValue } from '../loop/transports.js';
import { toUvError } from './node-errors.js';
import { extraInfo } from '../loop/extra-info.js';

export class NodeDatagramTransport implements DatagramTransport {
  readonly #loop: BaseEventLoop;
  readonly #socket: dgram.Socket;
  #protocol: DatagramProtocol;
  readonly #extra: Record<string, unknown>;
  readonly #remote: Address | undefined;
  #closing = false;
  #lost = false;
  #sending = 0; // sends whose callback has not run yet
  #queuedBytes = 0;
  readonly #flow: WriteFlow;
  readonly #untrack: () => void;

  /** The socket is bound (and connected, with `remote`); connectionMade runs soon. */
  readonly #onGone: (() => void) | undefined;

  constructor(loop: BaseEventLoop, socket: dgram.Socket, protocol: DatagramProtocol, remote: Address | undefined, ready: (err: Error | null) => void, onGone?: () => void) {
    this.#onGone = onGone;
    this.#loop = loop;
    this.#flow = new WriteFlow(loop, this, () => this.getWriteBufferSize(), () => this.#protocol);
    this.#untrack = loop.track(this);
    this.#socket = socket;
    this.#protocol = protocol;
    this.#remote = remote;
    const local = socket.address();
    this.#extra = { socket, sockname: [local.address, local.port] as Address };
    if (remote !== undefined) {
      const peer = socket.remoteAddress();
      this.#extra['peername'] = [peer.address, peer.port] as Address;
    }
    // Through the loop's dispatch(): a stop() inside takes effect when the callback returns.
    socket.on('message', (data, rinfo) => {
      loop.dispatch(() => this.#message(data, rinfo), undefined);
    });
    socket.on('error', (err) => loop.dispatch((e) => this.#error(e), err));
    loop.scheduleSoon(() => {
      try {
        this.#protocol.connectionMade?.(this);
      } catch (exception) {
        this.#loop.callExceptionHandler({ message: 'Fatal error: protocol.connectionMade() call failed.', exception, transport: this, protocol: this.#protocol });
        this.#forceClose(exception instanceof Error ? exception : new Error(String(exception)));
        return ready(exception instanceof Error ? exception : new Error(String(exception)));
      }
      ready(null);
    }, [], () => {
      // The loop closed before connectionMade could run: close the socket
      // and fail createDatagramEndpoint instead of leaving it pending.
      this.#forceClose(null);
      ready(loopClosed());
    });
  }

  #message(data: Buffer, rinfo: dgram.RemoteInfo): void {
    if (this.#lost) return;
    try {
      this.#protocol.datagramReceived?.(data, [rinfo.address, rinfo.port]);
    } catch (exception) {
      this.#loop.callExceptionHandler({ message: 'Fatal error: protocol.datagramReceived() call failed.', exception, transport: this, protocol: this.#protocol });
      this.#forceClose(exception instanceof Error ? exception : new Error(String(exception)));
    }
  }

  /** Receive and send errors (ICMP port unreachable...) go to errorReceived; the endpoint stays open. */
  #error(err: Error): void {
    if (this.#lost) return;
    try {
      this.#protocol.errorReceived?.(toUvError(err));
    } catch (exception) {
      this.#loop.callExceptionHandler({ message: 'protocol.errorReceived() failed', exception, transport: this, protocol: this.#protocol });
    }
  }

  sendto(data: Uint8Array | string, addr?: Address): void {
    let bytes: Buffer;
    if (typeof data === 'string') bytes = Buffer.from(data);
    else if (data instanceof Uint8Array) bytes = Buffer.from(data); // ours to queue: the caller may reuse its memory
    else throw new UsageError('ERR_INVALID_ARG_TYPE', 'data must be a Uint8Array or a string');
    if (this.#remote !== undefined) {
      if (addr !== undefined && (addr[0] !== this.#remote[0] || addr[1] !== this.#remote[1])) {
        throw new UsageError('ERR_INVALID_ARG_VALUE', `Invalid address: must be undefined or ${this.#remote.join(':')}`);
      }
    } else if (addr === undefined) {
      throw new UsageError('ERR_INVALID_ARG_VALUE', 'sendto() needs an address on an unconnected endpoint');
    }
    if (this.#lost || this.#closing) return;
    this.#sending++;
    this.#queuedBytes += bytes.byteLength;
    const done = (err: Error | null): void => {
      this.#sending--;
      this.#queuedBytes -= bytes.byteLength;
      if (err !== null) this.#error(err);
      this.#flow.maybeResume();
      if (this.#closing && this.#sending === 0) this.#finishClose(null);
    };
    if (this.#remote !== undefined) this.#socket.send(bytes, done);
    else this.#socket.send(bytes, addr![1], addr![0], done);
    this.#flow.maybePause();
  }


  /** Bytes handed to Node and not yet sent. */
  getWriteBufferSize(): number {
    return this.#queuedBytes;
  }

  close(): void {
    if (this.#closing) return;
    this.#closing = true;
    if (this.#sending === 0) this.#finishClose(null);
  }

  abort(): void {
    this.#forceClose(null);
  }

  #forceClose(err: Error | null): void {
    if (this.#lost) return;
    this.#closing = true;
    this.#finishClose(err);
  }

  #finishClose(err: Error | null): void {
    if (this.#lost) return;
    this.#lost = true;
    this.#untrack();
    // dgram's close callback runs on a later tick; connectionLost is
    // additionally put through the ready queue, like every loop callback.
    this.#socket.close(() => {
      this.#onGone?.();
      this.#loop.scheduleSoon(() => {
        try {
          this.#protocol.connectionLost?.(err);
        } catch (exception) {
          this.#loop.callExceptionHandler({ message: 'protocol.connectionLost() failed', exception, transport: this, protocol: this.#protocol });
        }
      }, []);
    });
  }

  /** @internal The loop closed: close the socket now, dropping queued sends, and tell nobody. */
  closeWithLoop(): void {
    if (this.#lost) return;
    this.#forceClose(null);
    notifyLoopClosed(this.#protocol);
  }

  isClosing(): boolean {
    return this.#closing;
  }

  getExtraInfo<K extends string, D = undefined>(name: K, dflt?: D): ExtraInfoValue<DatagramExtraInfo, K, D> {
    return extraInfo<DatagramExtraInfo, K, D>(this.#extra, name, dflt);
  }

  setProtocol(protocol: AnyProtocol): void {
    this.#protocol = protocol as unknown as DatagramProtocol;
  }

  getProtocol(): DatagramProtocol & AnyProtocol {
    return this.#protocol as DatagramProtocol & AnyProtocol;
  }
}
