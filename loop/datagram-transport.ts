// The datagram transport over a handles/ UDP socket (asyncio's
// _SelectorDatagramTransport semantics): sendto, errorReceived for
// send/receive errors, connectionLost exactly once and deferred.
import type { UDP, UdpAddress } from '../handles/udp.js';
import { UsageError } from '../errors/usage-error.js';
import type { UvError } from '../handles/uv-error.js';
import type { BaseEventLoop } from './base-event-loop.js';
import {
  type Address, type AnyProtocol, type DatagramProtocol, notifyLoopClosed,
} from './protocols.js';
import type { DatagramExtraInfo, DatagramTransport, ExtraInfoValue } from './transports.js';
import { loopClosed } from './errors.js';
import { WriteFlow } from './write-flow.js';
import { extraInfo } from './extra-info.js';

export class UdpTransport implements DatagramTransport {
  readonly #loop: BaseEventLoop;
  readonly #udp: UDP;
  #protocol: DatagramProtocol;
  readonly #extra: Record<string, unknown>;
  readonly #remote: Address | undefined;
  #closing = false;
  #lost = false;
  #queued = 0;
  readonly #flow: WriteFlow;
  readonly #onSent = (err: UvError | null): void => this.#sent(err);
  readonly #untrack: () => void;
  // Counts this endpoint out of the loop's liveResources().
  readonly #gone: () => void;

  constructor(loop: BaseEventLoop, udp: UDP, protocol: DatagramProtocol, extra: Record<string, unknown>, remote: Address | undefined, ready: (err?: Error) => void) {
    this.#loop = loop;
    this.#udp = udp;
    this.#protocol = protocol;
    this.#extra = extra;
    this.#remote = remote;
    this.#flow = new WriteFlow(loop, this, () => this.getWriteBufferSize(), () => this.#protocol);
    this.#untrack = loop.track(this);
    this.#gone = loop.trackResource('datagram');
    loop.scheduleSoon(() => {
      if (this.#lost) return ready();
      try {
        this.#protocol.connectionMade?.(this);
      } catch (exception) {
        this.#loop.callExceptionHandler({ message: 'protocol.connectionMade() failed', exception, transport: this, protocol: this.#protocol });
      }
      if (!this.#closing) udp.recvStart((err, data, rinfo) => this.#received(err, data, rinfo));
      ready();
    }, [], () => {
      // The loop closed before connectionMade could run: close the socket
      // and fail createDatagramEndpoint instead of leaving it pending.
      this.#lost = true;
      this.#closing = true;
      this.#untrack();
      if (!udp.closed) udp.close();
      this.#gone();
      ready(loopClosed());
    });
  }

  #received(err: UvError | null, data: Buffer | null, rinfo: UdpAddress | null): void {
    if (err !== null) {
      this.#errorReceived(err);
      return;
    }
    if (data === null || rinfo === null) return;
    try {
      this.#protocol.datagramReceived?.(data, [rinfo.address, rinfo.port]);
    } catch (exception) {
      this.#loop.callExceptionHandler({ message: 'protocol.datagramReceived() failed', exception, transport: this, protocol: this.#protocol });
    }
  }

  #errorReceived(err: Error): void {
    try {
      this.#protocol.errorReceived?.(err);
    } catch (exception) {
      this.#loop.callExceptionHandler({ message: 'protocol.errorReceived() failed', exception, transport: this, protocol: this.#protocol });
    }
  }

  sendto(data: Uint8Array | string, addr?: Address): void {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    if (!(bytes instanceof Uint8Array)) throw new UsageError('ERR_INVALID_ARG_TYPE', 'data must be a Uint8Array or a string');
    if (this.#remote !== undefined && addr !== undefined && (addr[0] !== this.#remote[0] || addr[1] !== this.#remote[1])) {
      throw new UsageError('ERR_INVALID_ARG_VALUE', `Invalid address: must be undefined or ${this.#remote.join(':')}`);
    }
    if (this.#remote === undefined && addr === undefined) {
      throw new UsageError('ERR_INVALID_ARG_VALUE', 'sendto() needs an address on an unconnected endpoint');
    }
    if (this.#lost || this.#closing) return;
    try {
      // send() tries at once and copies only what it must queue.
      if (addr === undefined || this.#remote !== undefined) this.#udp.send(bytes, this.#onSent);
      else this.#udp.send(bytes, addr[0], addr[1], this.#onSent);
    } catch (err) {
      // As asyncio: a send error is reported, the endpoint stays usable.
      this.#errorReceived(err as Error);
      return;
    }
    this.#queued++;
    this.#flow.maybePause();
  }

  #sent(err: UvError | null): void {
    this.#queued--;
    if (err !== null && err.code !== 'ECANCELED') this.#errorReceived(err);
    this.#flow.maybeResume();
    if (this.#closing && this.#queued === 0) this.#finish(null);
  }

  getWriteBufferSize(): number {
    return this.#udp.closed ? 0 : this.#udp.sendQueueSize;
  }

  close(): void {
    if (this.#closing) return;
    this.#closing = true;
    if (!this.#udp.closed) this.#udp.recvStop();
    if (this.#queued === 0) this.#finish(null);
  }

  abort(): void {
    this.#closing = true;
    this.#finish(null);
  }

  #finish(err: Error | null): void {
    if (this.#lost) return;
    this.#lost = true;
    this.#untrack();
    this.#udp.close(() => {
      this.#gone();
      // The loop closed meanwhile: it runs nothing any more.
      if (this.#loop.isClosed()) return;
      try {
        this.#protocol.connectionLost?.(err);
      } catch (exception) {
        this.#loop.callExceptionHandler({ message: 'protocol.connectionLost() failed', exception, transport: this, protocol: this.#protocol });
      }
    });
  }

  /** @internal The loop closed: close the socket now, dropping queued sends, and tell nobody. */
  closeWithLoop(): void {
    if (this.#lost) return;
    this.#closing = true;
    this.#finish(null);
    notifyLoopClosed(this.#protocol);
  }

  isClosing(): boolean {
    return this.#closing;
  }

  getExtraInfo<K extends string, D = undefined>(name: K, dflt?: D): ExtraInfoValue<DatagramExtraInfo, K, D> {
    return extraInfo<DatagramExtraInfo, K, D>(this.#extra, name, dflt);
  }

  setProtocol(protocol: AnyProtocol | DatagramProtocol): void {
    this.#protocol = protocol as DatagramProtocol;
  }

  getProtocol(): DatagramProtocol & AnyProtocol {
    return this.#protocol as DatagramProtocol & AnyProtocol;
  }
}
