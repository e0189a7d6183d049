// What every transport shares, on every loop (uvloop's UVBaseTransport):
// the protocol and the extra info, the registration with the loop (what
// close() releases and liveResources() counts), the deferred start
// (connectionMade from a later callback, then `ready`), fatal errors, and
// connectionLost exactly once. WriteTransportBase adds what every stream
// transport's writing side shares: bytes from strings, write/writelines,
// write-buffer limits. A concrete transport adds only its mechanics.
//
// The rules of the start: connectionMade runs from the ready queue, never
// inside the call that made the transport. An exception from it is fatal:
// reported, the transport closes, and `ready` gets the exception. A
// transport closed before it ran still gets connectionMade (connectionLost
// follows, as asyncio orders them), and `ready` the error that closed it.
// A loop that closes before it ran drops it: the socket closes, nobody is
// told, and `ready` gets ERR_LOOP_CLOSED.
import { UsageError } from '../errors/usage-error.js';
import { type AsyncContext, captureContext } from '../handles/async-context.js';
import { invalidArgType } from '../errors/validate.js';
import type { EventLoopCore } from './event-loop-core.js';
import { loopClosed } from './errors.js';
import type { ResourceKind } from './events.js';
import { type BufferedProtocol, notifyLoopClosed } from './protocols.js';
import type { ExtraInfo, ExtraInfoValue, WriteBufferLimits } from './transports.js';
import { extraInfo } from './extra-info.js';
import { watchUnclosed } from './unclosed-warning.js';
import { WriteFlow } from './write-flow.js';

/** Who learns that a transport is gone (its server, for waitClosed). */
export interface TransportOwner {
  /** `transport` is gone (called once, before its connectionLost). */
  detach(transport: object): void;
}

/** What every transport is made with. */
export interface TransportOptions<P extends object> {
  loop: EventLoopCore;
  protocol: P;
  /** getExtraInfo()'s table. */
  extra?: Record<string, unknown> | undefined;
  /** What liveResources() counts it as; none for a subprocess's pipes (the subprocess counts). */
  kind?: ResourceKind | undefined;
  owner?: TransportOwner | undefined;
  /** Called once, after connectionMade (or with the error that prevented it). */
  ready?: ((err: Error | null) => void) | undefined;
  /** false when the protocol already saw connectionMade (startTls). */
  callConnectionMade?: boolean | undefined;
  /**
   * The async context its protocol's methods run in: the server's for the
   * connections it accepts; by default the current one (the call that
   * made the transport).
   */
  context?: AsyncContext | undefined;
}

/** The protocol methods every transport calls. */
interface CommonProtocol {
  connectionMade?(transport: never): void;
  connectionLost?(err: Error | null): void;
  pauseWriting?(): void;
  resumeWriting?(): void;
}

/** `exception` as an Error (user code may throw anything). */
function asError(exception: unknown): Error {
  return exception instanceof Error ? exception : new Error(String(exception));
}

/**
 * Makes a transport with `make(ready)` and settles once its start is over:
 * with `[transport, protocol]` once connectionMade ran, or with what
 * prevented it (connectionMade threw, the transport or its loop closed).
 */
export function whenStarted<T, P>(
  protocol: P,
  make: (ready: (err: Error | null) => void) => T,
): Promise<[T, P]> {
  return new Promise((resolve, reject) => {
    // `ready` runs from a later callback, never inside make().
    const transport: T = make((err) => {
      if (err === null) resolve([transport, protocol]);
      else reject(err);
    });
  });
}

/** `P`: the protocol it drives; `Info`: what getExtraInfo() answers. */
export abstract class TransportBase<P extends object, Info = ExtraInfo> {
  protected readonly loop: EventLoopCore;
  #protocol: P;
  readonly #extra: Record<string, unknown>;
  readonly #owner: TransportOwner | undefined;
  #ready: ((err: Error | null) => void) | undefined;
  readonly #callConnectionMade: boolean;
  readonly #kind: ResourceKind | undefined;
  #release: (() => void) | undefined;
  #unwatch: () => void = noop;
  /** close() or abort() was called, or the transport failed. */
  protected closing = false;
  /** connectionLost is decided: nothing more reaches the protocol but it. */
  protected lost = false;
  /** What closed the transport before connectionMade ran, for `ready`. */
  protected lostError: Error | null = null;
  #flow: WriteFlow | undefined;
  // Every protocol method runs in it (handles/async-context.ts): what
  // AsyncLocalStorage held where the connection was made, whichever
  // callback of the loop or the caller's code leads to the call.
  readonly #context: AsyncContext;
  #lostWith: Error | null = null;
  readonly #lostNow = (): void => this.connectionLost(this.#lostWith);
  readonly #detach = (): void => this.#owner?.detach(this);

  protected constructor(opts: TransportOptions<P>) {
    this.loop = opts.loop;
    this.#protocol = opts.protocol;
    this.#extra = opts.extra ?? {};
    this.#owner = opts.owner;
    this.#ready = opts.ready;
    this.#callConnectionMade = opts.callConnectionMade !== false;
    this.#kind = opts.kind;
    this.#context = opts.context ?? captureContext('asyncuv.Transport');
  }

  /** @internal The async context its protocol's methods run in. */
  get context(): AsyncContext {
    return this.#context;
  }

  /** An I/O callback, through the loop's dispatch(), in the transport's context. */
  protected dispatch<T, R>(fn: (arg: T) => R, arg: T): R {
    return this.loop.dispatch(fn, arg, this.#context);
  }

  /** `fn` run in the transport's context (for callbacks of the caller's calls). */
  protected inContext(fn: () => void): void {
    this.#context.runInAsyncScope(fn, this);
  }

  /**
   * Registers the transport with its loop and schedules its start. Called
   * by the concrete constructor once its own fields are set: on a closed
   * loop the start is dropped at once, and dropping closes the socket.
   */
  protected scheduleStart(what: string): void {
    this.#release = this.loop.track(this, this.#kind);
    this.#unwatch = watchUnclosed(this.loop.getDebug(), this, what);
    this.loop.scheduleSoon(
      () => this.#start(),
      [],
      () => this.#dropped(),
      this.#context,
    );
  }

  /** Closes (flushing what is queued, where there is a queue); connectionLost follows. */
  abstract close(): void;
  /** After connectionMade: start reading (receiving); not called if it closed meanwhile. */
  protected abstract beginIo(): void;
  /** Closes the socket at once, dropping what is queued, and tells nobody (the loop closed). */
  protected abstract closeAtOnce(): void;
  /** Closes at once with `err` (null for abort): connectionLost(err) follows. */
  protected abstract forceClose(err: Error | null): void;

  #start(): void {
    const ready = this.#ready;
    this.#ready = undefined;
    const protocol = this.#protocol as CommonProtocol;
    if (this.lost) {
      // Closed before connectionMade ran: connectionLost is still coming,
      // so the protocol gets connectionMade first, as asyncio orders them.
      if (this.#callConnectionMade) {
        this.callProtocol('connectionMade', () => protocol.connectionMade?.(this as never));
      }
      ready?.(this.lostError ?? closedBeforeStart());
      return;
    }
    if (this.#callConnectionMade) {
      try {
        protocol.connectionMade?.(this as never);
      } catch (exception) {
        this.fatal(exception, 'Fatal error: protocol.connectionMade() call failed.');
        ready?.(asError(exception));
        return;
      }
    }
    if (!this.closing) this.beginIo();
    ready?.(null);
  }

  #dropped(): void {
    const ready = this.#ready;
    this.#ready = undefined;
    if (!this.lost) {
      this.lost = true;
      this.closing = true;
      this.closeAtOnce();
    }
    this.forget();
    ready?.(loopClosed());
  }

  /** Reports `exception` from the protocol, then closes at once with it. */
  protected fatal(exception: unknown, message: string): void {
    this.report(message, exception);
    this.forceClose(asError(exception));
  }

  /**
   * A BufferedProtocol's buffer for the next read. A getBuffer() that throws
   * or returns no usable buffer (empty, not a Uint8Array) is fatal: the
   * transport closes with the error, and this returns undefined.
   */
  protected bufferFrom(protocol: BufferedProtocol, sizeHint: number): Uint8Array | undefined {
    let buffer: Uint8Array;
    try {
      buffer = protocol.getBuffer(sizeHint);
      if (!(buffer instanceof Uint8Array) || buffer.byteLength === 0) {
        const why = 'getBuffer() returned an empty or non-Uint8Array buffer';
        throw new UsageError('ERR_INVALID_RETURN_VALUE', why);
      }
    } catch (exception) {
      this.fatal(exception, 'Fatal error: protocol.getBuffer() call failed.');
      return undefined;
    }
    return buffer;
  }

  /** Calls the protocol; an exception goes to the loop's handler ('protocol.<what>() failed'). */
  protected callProtocol(what: string, call: () => void): void {
    try {
      this.#context.runInAsyncScope(call);
    } catch (exception) {
      this.report(`protocol.${what}() failed`, exception);
    }
  }

  /** Reports to the loop's exception handler, naming this transport and its protocol. */
  protected report(message: string, exception: unknown): void {
    const context = { message, exception, transport: this, protocol: this.#protocol };
    this.loop.callExceptionHandler(context);
  }

  /** The transport is gone: the loop stops counting it and close() no longer releases it. */
  protected release(): void {
    const release = this.#release;
    this.#release = undefined;
    release?.();
    this.#unwatch();
  }

  /** Gone without connectionLost: released, and the owner told. */
  protected forget(): void {
    this.release();
    this.#detach();
  }

  /**
   * Gone, with connectionLost(err) now (the caller is a later callback
   * already): the owner learns first, and a closed loop tells nobody.
   */
  protected connectionLost(err: Error | null): void {
    this.forget();
    if (this.loop.isClosed()) return;
    const protocol = this.#protocol as CommonProtocol;
    this.callProtocol('connectionLost', () => protocol.connectionLost?.(err));
  }

  /** Gone now, with connectionLost(err) from the ready queue. */
  protected deliverLost(err: Error | null): void {
    this.release();
    this.#lostWith = err;
    this.loop.scheduleSoon(this.#lostNow, [], this.#detach, this.#context);
  }

  /** Bytes written and not yet sent: what the write-buffer limits measure. */
  protected bufferedBytes(): number {
    return 0;
  }

  /** The write-buffer limits, made on first use (not every transport writes). */
  protected get flow(): WriteFlow {
    if (this.#flow === undefined) {
      const protocol = (): CommonProtocol => this.#protocol as CommonProtocol;
      const size = (): number => this.bufferedBytes();
      this.#flow = new WriteFlow(this.loop, this, size, protocol, this.#context);
    }
    return this.#flow;
  }

  /** Bytes for `data`; ERR_INVALID_ARG_TYPE for anything but bytes or a string. */
  protected toBytes(data: Uint8Array | string, what: string): Uint8Array {
    if (data instanceof Uint8Array) return data;
    if (typeof data === 'string') return Buffer.from(data);
    throw new UsageError('ERR_INVALID_ARG_TYPE', `${what} must be a Uint8Array or a string`);
  }

  /** @internal The loop closed: close now, dropping queued writes, and tell nobody. */
  closeWithLoop(): void {
    if (this.lost) return;
    this.forceClose(null);
    notifyLoopClosed(this.#protocol);
  }

  isClosing(): boolean {
    return this.closing;
  }

  /** @internal True while this transport is open and its I/O uses `fd` (addReader refuses it). */
  usesFd(_fd: number): boolean {
    return false;
  }

  getExtraInfo<K extends string, D = undefined>(name: K, dflt?: D): ExtraInfoValue<Info, K, D> {
    return extraInfo<Info, K, D>(this.#extra, name, dflt);
  }

  protected get protocol(): P {
    return this.#protocol;
  }

  setProtocol(protocol: P): void {
    // Every later event would fail on it, reported as the protocol's error.
    if (typeof protocol !== 'object' || protocol === null) {
      throw invalidArgType('protocol', 'an object', protocol);
    }
    this.#protocol = protocol;
  }

  getProtocol(): P {
    return this.#protocol;
  }
}

/** What every stream transport's writing side shares. */
export abstract class WriteTransportBase<P extends object> extends TransportBase<P> {
  /** writeEof() was called: write() throws ERR_TRANSPORT_EOF from now on. */
  protected eofWritten = false;

  /** Sends `data` (one buffer or several, in order; never empty). */
  protected abstract send(data: Uint8Array | Uint8Array[]): void;

  write(data: Uint8Array | string): void {
    const bytes = this.toBytes(data, 'data');
    if (this.eofWritten) throw afterEof('write');
    if (this.lost || bytes.byteLength === 0) return;
    this.send(bytes);
  }

  writelines(list: Iterable<Uint8Array | string>): void {
    const parts: Uint8Array[] = [];
    for (const item of list) parts.push(this.toBytes(item, 'each item'));
    if (this.eofWritten) throw afterEof('writelines');
    if (this.lost || parts.length === 0) return;
    this.send(parts.length === 1 ? parts[0]! : parts);
  }

  /** Closes at once, dropping what is queued; connectionLost(null) follows. */
  abort(): void {
    this.forceClose(null);
  }

  getWriteBufferSize(): number {
    return this.bufferedBytes();
  }

  /** @internal The protocol was told pauseWriting and not yet resumeWriting. */
  get writingPaused(): boolean {
    return this.flow.paused;
  }

  setWriteBufferLimits(limits: WriteBufferLimits = {}): void {
    this.flow.setLimits(limits);
  }

  getWriteBufferLimits(): [number, number] {
    return this.flow.limits();
  }
}

function afterEof(method: string): UsageError {
  return new UsageError('ERR_TRANSPORT_EOF', `Cannot call ${method}() after writeEof()`);
}

function closedBeforeStart(): UsageError {
  return new UsageError('ERR_TRANSPORT_CLOSED', 'The connection closed before connectionMade');
}

function noop(): void {}
