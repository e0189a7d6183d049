// The datagram transport over a handles/ UDP socket (asyncio's
// _SelectorDatagramTransport semantics): sendto, errorReceived for
// send/receive errors, connectionLost exactly once and deferred. What every
// transport shares is in transport-base.ts.
import type { UDP, UdpAddress } from '../handles/udp.js';
import type { UvError } from '../handles/uv-error.js';
import { DatagramTransportBase, type DatagramTransportOptions } from './datagram-transport-base.js';
import type { Address } from './protocols.js';
import { claimSock } from './server-sock.js';

export interface UdpTransportOptions extends DatagramTransportOptions {
  udp: UDP;
}

export class UdpTransport extends DatagramTransportBase {
  readonly #udp: UDP;
  #queued = 0;
  readonly #onSent = (err: UvError | null): void => this.#sent(err);
  readonly #onReceived = (
    err: UvError | null,
    data: Buffer | null,
    from: UdpAddress | null,
  ): void => this.#received(err, data, from);

  constructor(opts: UdpTransportOptions) {
    super(opts);
    this.#udp = opts.udp;
    claimSock(opts.udp);
    this.scheduleStart('A datagram transport');
  }

  protected beginIo(): void {
    this.#udp.recvStart(this.#onReceived);
  }

  protected closeAtOnce(): void {
    if (!this.#udp.closed) this.#udp.close();
  }

  override usesFd(fd: number): boolean {
    if (this.closing || this.#udp.closed) return false;
    try {
      return this.#udp.fileno() === fd;
    } catch {
      return false; // no fd (EBADF): not bound yet
    }
  }

  #received(err: UvError | null, data: Buffer | null, from: UdpAddress | null): void {
    if (err !== null) {
      this.#errorReceived(err);
      return;
    }
    if (data === null || from === null) return;
    const protocol = this.protocol;
    this.callProtocol('datagramReceived', () => {
      protocol.datagramReceived?.(data, [from.address, from.port]);
    });
  }

  #errorReceived(err: Error): void {
    const protocol = this.protocol;
    this.callProtocol('errorReceived', () => protocol.errorReceived?.(err));
  }

  protected send(bytes: Uint8Array, addr: Address | undefined): void {
    try {
      // send() tries at once and copies only what it must queue.
      if (addr === undefined) this.#udp.send(bytes, this.#onSent);
      else this.#udp.send(bytes, addr[0], addr[1], this.#onSent);
    } catch (err) {
      // As asyncio: a send error is reported, the endpoint stays usable.
      this.#errorReceived(err as Error);
      return;
    }
    this.#queued++;
    this.flow.maybePause();
  }

  #sent(err: UvError | null): void {
    this.#queued--;
    if (err !== null && err.code !== 'ECANCELED') this.#errorReceived(err);
    this.flow.maybeResume();
    if (this.closing && this.#queued === 0) this.forceClose(null);
  }

  protected override bufferedBytes(): number {
    return this.#udp.closed ? 0 : this.#udp.sendQueueSize;
  }

  close(): void {
    if (this.closing) return;
    this.closing = true;
    if (!this.#udp.closed) this.#udp.recvStop();
    if (this.#queued === 0) this.forceClose(null);
  }

  protected forceClose(err: Error | null): void {
    if (this.lost) return;
    this.closing = true;
    this.lost = true;
    this.lostError = err;
    this.#udp.close(() => this.connectionLost(err));
  }
}
