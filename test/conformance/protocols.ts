// Recording protocols, after the ones CPython's test_events.py uses. They
// note every call out of order in `violations` instead of throwing (a throw
// would land in the loop's exception handler, far from the test), and each
// test asserts that list is empty.
import type {
  Address,
  DatagramTransport,
  Protocol,
  SubprocessProtocol,
  SubprocessTransport,
  Transport,
  WriteTransport,
} from 'asyncuv';
import { future } from './harness.js';

export const HTTP_REQUEST = 'GET / HTTP/1.0\r\nHost: example.com\r\n\r\n';

/** INITIAL -> CONNECTED -> EOF? -> CLOSED, counting bytes. */
export class MyProto implements Protocol {
  state: 'INITIAL' | 'CONNECTED' | 'EOF' | 'CLOSED' = 'INITIAL';
  transport: Transport | undefined;
  nbytes = 0;
  data: Buffer[] = [];
  lostWith: Error | null | undefined;
  lostCalls = 0;
  violations: string[] = [];
  readonly #done = future();
  /** Resolves when connectionLost ran. */
  readonly done = this.#done.promise;

  constructor(readonly greeting: string | null = HTTP_REQUEST) {}

  #expect(ok: boolean, what: string): void {
    if (!ok) this.violations.push(`${what} in state ${this.state}`);
  }

  connectionMade(transport: Transport): void {
    this.#expect(this.state === 'INITIAL', 'connectionMade');
    this.transport = transport;
    this.state = 'CONNECTED';
    if (this.greeting !== null) transport.write(this.greeting);
  }

  dataReceived(data: Buffer): void {
    this.#expect(this.state === 'CONNECTED', 'dataReceived');
    this.nbytes += data.length;
    this.data.push(data);
  }

  eofReceived(): void {
    this.#expect(this.state === 'CONNECTED', 'eofReceived');
    this.state = 'EOF';
  }

  connectionLost(err: Error | null): void {
    this.#expect(this.state === 'CONNECTED' || this.state === 'EOF', 'connectionLost');
    this.state = 'CLOSED';
    this.lostWith = err;
    this.lostCalls++;
    this.#done.resolve();
  }

  received(): string {
    return Buffer.concat(this.data).toString();
  }
}

/**
 * Records the order of a stream protocol's calls: 'made', 'data' (once per
 * run of reads), 'eof', 'pause', 'resume', 'lost'; keeps the bytes and what
 * connectionLost got. With `pauseAtOnce` it pauses reading inside
 * connectionMade, before any byte can arrive.
 */
export class CallLog implements Protocol {
  calls: string[] = [];
  data: Buffer[] = [];
  transport: Transport | undefined;
  readonly lost = future<Error | null>();

  constructor(readonly pauseAtOnce = false) {}

  connectionMade(transport: Transport): void {
    this.transport = transport;
    this.calls.push('made');
    if (this.pauseAtOnce) transport.pauseReading();
  }
  dataReceived(data: Buffer): void {
    if (this.calls.at(-1) !== 'data') this.calls.push('data');
    this.data.push(data);
  }
  eofReceived(): void {
    this.calls.push('eof');
  }
  pauseWriting(): void {
    this.calls.push('pause');
  }
  resumeWriting(): void {
    this.calls.push('resume');
  }
  connectionLost(err: Error | null): void {
    this.calls.push('lost');
    this.lost.resolve(err);
  }
}

/** INITIAL -> INITIALIZED -> CLOSED, counting datagram bytes. */
export class MyDatagramProto {
  state: 'INITIAL' | 'INITIALIZED' | 'CLOSED' = 'INITIAL';
  transport: DatagramTransport | undefined;
  nbytes = 0;
  datagrams: Array<[Buffer, Address]> = [];
  errors: Error[] = [];
  violations: string[] = [];
  readonly #done = future();
  readonly done = this.#done.promise;

  connectionMade(transport: DatagramTransport): void {
    if (this.state !== 'INITIAL') this.violations.push(`connectionMade in ${this.state}`);
    this.transport = transport;
    this.state = 'INITIALIZED';
  }

  datagramReceived(data: Buffer, addr: Address): void {
    if (this.state !== 'INITIALIZED') this.violations.push(`datagramReceived in ${this.state}`);
    this.nbytes += data.length;
    this.datagrams.push([data, addr]);
  }

  errorReceived(err: Error): void {
    if (this.state !== 'INITIALIZED') this.violations.push(`errorReceived in ${this.state}`);
    this.errors.push(err);
  }

  connectionLost(_err: Error | null): void {
    if (this.state !== 'INITIALIZED') this.violations.push(`connectionLost in ${this.state}`);
    this.state = 'CLOSED';
    this.#done.resolve();
  }
}

/** INITIAL -> CONNECTED -> CLOSED, with per-fd data and pipe states. */
export class MySubprocessProtocol implements SubprocessProtocol {
  state: 'INITIAL' | 'CONNECTED' | 'CLOSED' = 'INITIAL';
  transport: SubprocessTransport | undefined;
  data: Record<number, Buffer> = { 1: Buffer.alloc(0), 2: Buffer.alloc(0) };
  pipesLost: Record<number, Error | null> = {};
  exited = false;
  violations: string[] = [];
  readonly #connected = future();
  readonly #completed = future();
  readonly #lost = future();
  /** connectionMade ran. */
  readonly connected = this.#connected.promise;
  /** processExited ran. */
  readonly completed = this.#completed.promise;
  /** connectionLost ran. */
  readonly disconnected = this.#lost.promise;

  connectionMade(transport: SubprocessTransport): void {
    if (this.state !== 'INITIAL') this.violations.push(`connectionMade in ${this.state}`);
    this.transport = transport;
    this.state = 'CONNECTED';
    this.#connected.resolve();
  }

  pipeDataReceived(fd: number, data: Buffer): void {
    if (this.state !== 'CONNECTED') this.violations.push(`pipeDataReceived in ${this.state}`);
    this.data[fd] = Buffer.concat([this.data[fd] ?? Buffer.alloc(0), data]);
  }

  pipeConnectionLost(fd: number, err: Error | null): void {
    if (this.state !== 'CONNECTED') this.violations.push(`pipeConnectionLost in ${this.state}`);
    this.pipesLost[fd] = err;
  }

  processExited(): void {
    if (this.state !== 'CONNECTED') this.violations.push(`processExited in ${this.state}`);
    this.exited = true;
    this.#completed.resolve();
  }

  connectionLost(_err: Error | null): void {
    if (this.state !== 'CONNECTED') this.violations.push(`connectionLost in ${this.state}`);
    this.state = 'CLOSED';
    this.#lost.resolve();
  }
}

/** MySubprocessProtocol that also follows the stdin pipe's flow control. */
export class FlowSubprocessProtocol extends MySubprocessProtocol {
  pauses = 0;
  resumes = 0;
  #resumed: { promise: Promise<void>; resolve: () => void } | undefined;

  pauseWriting(): void {
    this.pauses++;
    this.#resumed = future();
  }

  resumeWriting(): void {
    this.resumes++;
    this.#resumed?.resolve();
    this.#resumed = undefined;
  }

  /** Resolves at once, or once resumeWriting() follows a pauseWriting(). */
  writable(): Promise<void> {
    return this.#resumed?.promise ?? Promise.resolve();
  }
}

/** CPython's MyWritePipeProto: INITIAL -> CONNECTED -> CLOSED. */
export class MyWritePipeProto implements Protocol {
  state = 'INITIAL';
  transport: WriteTransport | undefined;
  readonly lost = future<Error | null>();
  connectionMade(t: Transport): void {
    this.transport = t;
    this.state = 'CONNECTED';
  }
  connectionLost(err: Error | null): void {
    this.state = 'CLOSED';
    this.lost.resolve(err);
  }
}

/** Collects what it reads as text, and settles `lost` with connectionLost's error. */
export class Collect implements Protocol {
  data = '';
  readonly lost = future<Error | null>();
  dataReceived(data: Buffer): void {
    this.data += data.toString();
  }
  connectionLost(err: Error | null): void {
    this.lost.resolve(err);
  }
}
