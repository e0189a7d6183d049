// Node streams and asyncuv transports, both ways:
// - toDuplex(transport): a stream.Duplex over any asyncuv Transport, so
//   Node stream code (node:http, node:tls, pipeline()) runs over it;
// - fromDuplex(duplex, protocolFactory): any Protocol over any Node Duplex
//   (a tls.TLSSocket, an http upgrade socket...), with NodeTransport's
//   asyncio semantics.
import { Duplex } from 'node:stream';
import tls from 'node:tls';
import { getRunningLoop, type BaseEventLoop } from '../loop/base-event-loop.js';
import { type AnyProtocol, newProtocol, type Protocol } from '../loop/protocols.js';
import type { Transport } from '../loop/transports.js';
import { NodeEventLoop } from './node-event-loop.js';
import { NodeTransport } from './node-transport.js';
import { tlsExtra } from './node-tls.js';

type WriteCallback = (err?: Error | null) => void;

/**
 * A Duplex driven by a transport through a protocol it installs with
 * setProtocol(). Backpressure runs both ways: a write's callback is held
 * while the transport has paused writing (so Node's writableLength and
 * write()'s return value follow the transport's buffer), and push()
 * returning false pauses the transport's reading until _read().
 */
class TransportDuplex extends Duplex {
  readonly transport: Transport;
  #writePaused = false;
  #heldCallbacks: WriteCallback[] = [];
  #lost = false;

  constructor(transport: Transport) {
    // allowHalfOpen: the transport's eofReceived keeps it open for writing,
    // and end() sends our EOF only when the user ends.
    super({ allowHalfOpen: true });
    this.transport = transport;
    const protocol: Protocol = {
      dataReceived: (data) => {
        if (!this.push(data)) transport.pauseReading();
      },
      eofReceived: () => {
        this.push(null);
        return true;
      },
      pauseWriting: () => {
        this.#writePaused = true;
      },
      resumeWriting: () => {
        this.#writePaused = false;
        this.#release(null);
      },
      connectionLost: (err) => this.#connectionLost(err),
    };
    transport.setProtocol(protocol);
    if (transport.isClosing()) queueMicrotask(() => this.#connectionLost(null));
  }

  #release(err: Error | null): void {
    const held = this.#heldCallbacks;
    this.#heldCallbacks = [];
    for (const cb of held) cb(err);
  }

  #connectionLost(err: Error | null): void {
    if (this.#lost) return;
    this.#lost = true;
    if (err !== null) {
      this.#release(err);
      this.destroy(err);
      return;
    }
    const gone = Object.assign(new Error('The transport is closed'), { code: 'ERR_STREAM_DESTROYED' });
    this.#release(gone);
    // The readable side ends normally (buffered data is still read); the
    // duplex is destroyed once that end has been consumed.
    if (this.readableEnded) this.destroy();
    else {
      this.once('end', () => this.destroy());
      this.push(null);
    }
  }

  override _read(): void {
    if (!this.#lost) this.transport.resumeReading();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, cb: WriteCallback): void {
    if (this.#lost) return cb(Object.assign(new Error('The transport is closed'), { code: 'ERR_STREAM_DESTROYED' }));
    try {
      this.transport.write(chunk);
    } catch (err) {
      return cb(err as Error);
    }
    if (this.#writePaused) this.#heldCallbacks.push(cb);
    else cb();
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, cb: WriteCallback): void {
    if (this.#lost) return cb(Object.assign(new Error('The transport is closed'), { code: 'ERR_STREAM_DESTROYED' }));
    try {
      this.transport.writelines(chunks.map((c) => c.chunk));
    } catch (err) {
      return cb(err as Error);
    }
    if (this.#writePaused) this.#heldCallbacks.push(cb);
    else cb();
  }

  override _final(cb: WriteCallback): void {
    if (!this.#lost) {
      if (this.transport.canWriteEof()) this.transport.writeEof();
      else this.transport.close();
    }
    cb();
  }

  /**
   * destroy() aborts the transport (buffered data dropped). Node's own
   * auto-destroy, once both sides ended cleanly, closes it instead, so
   * that what was written before end() is still flushed.
   */
  override _destroy(err: Error | null, cb: (err: Error | null) => void): void {
    this.#release(err ?? Object.assign(new Error('The stream was destroyed'), { code: 'ERR_STREAM_DESTROYED' }));
    if (!this.#lost && !this.transport.isClosing()) {
      if (err === null && this.writableFinished) this.transport.close();
      else this.transport.abort();
    }
    cb(err);
  }

  // What node:http and friends read from a socket.
  get remoteAddress(): string | undefined {
    return this.#addr('peername')?.[0];
  }

  get remotePort(): number | undefined {
    return this.#addr('peername')?.[1];
  }

  get localAddress(): string | undefined {
    return this.#addr('sockname')?.[0];
  }

  get localPort(): number | undefined {
    return this.#addr('sockname')?.[1];
  }

  #addr(name: 'peername' | 'sockname'): [string, number] | undefined {
    const a = this.transport.getExtraInfo(name);
    return Array.isArray(a) ? a : undefined;
  }

  // Socket options node:http calls when present; the transport owns them.
  setNoDelay(): this {
    return this;
  }

  setKeepAlive(): this {
    return this;
  }
}

/** A stream.Duplex over `transport`, which from now on drives it (see TransportDuplex). */
export function toDuplex(transport: Transport): Duplex {
  return new TransportDuplex(transport);
}

let defaultLoop: NodeEventLoop | undefined;

/**
 * Runs a Protocol over any Node Duplex. The transport's callbacks go
 * through `opts.loop` (default: the running loop, else a shared
 * NodeEventLoop); connectionMade runs soon, not inside this call.
 */
export function fromDuplex<P extends AnyProtocol>(duplex: Duplex, protocolFactory: () => P, opts: { loop?: BaseEventLoop } = {}): [Transport, P] {
  const loop = opts.loop ?? (getRunningLoop() as unknown as BaseEventLoop | undefined) ?? (defaultLoop ??= new NodeEventLoop());
  const protocol = newProtocol(protocolFactory);
  const extra: Record<string, unknown> = { socket: duplex };
  const s = duplex as Partial<{ remoteAddress: string; remotePort: number; localAddress: string; localPort: number }>;
  if (s.remoteAddress !== undefined) extra['peername'] = [s.remoteAddress, s.remotePort];
  if (s.localAddress !== undefined) extra['sockname'] = [s.localAddress, s.localPort];
  if (duplex instanceof tls.TLSSocket) Object.assign(extra, tlsExtra(duplex));
  const transport = new NodeTransport(loop, duplex, protocol, { extra });
  return [transport, protocol];
}
