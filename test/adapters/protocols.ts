// Small protocols the adapter tests share: they record what the transport
// tells them, so tests can assert the call order afterwards.
import type { Protocol, Transport } from 'asyncuv';

/** Echoes every byte back; records its calls. */
export class EchoProtocol implements Protocol {
  transport: Transport | undefined;
  calls: string[] = [];
  lost: Promise<Error | null>;
  #lost!: (err: Error | null) => void;

  constructor() {
    this.lost = new Promise((resolve) => (this.#lost = resolve));
  }

  connectionMade(t: Transport): void {
    this.transport = t;
    this.calls.push('made');
  }

  dataReceived(data: Buffer): void {
    this.transport!.write(data);
  }

  eofReceived(): void {
    this.calls.push('eof');
  }

  connectionLost(err: Error | null): void {
    this.calls.push('lost');
    this.#lost(err);
  }
}

/** Collects what arrives; resolves `ended` at EOF or when `want` bytes arrived. */
export class CollectProtocol implements Protocol {
  transport: Transport | undefined;
  chunks: Buffer[] = [];
  received = 0;
  calls: string[] = [];
  keepOpenOnEof = false;
  lost: Promise<Error | null>;
  #lost!: (err: Error | null) => void;
  #waiters: Array<{ n: number; resolve: () => void }> = [];

  constructor() {
    this.lost = new Promise((resolve) => (this.#lost = resolve));
  }

  connectionMade(t: Transport): void {
    this.transport = t;
    this.calls.push('made');
  }

  dataReceived(data: Buffer): void {
    this.chunks.push(data);
    this.received += data.length;
    this.#wake();
  }

  eofReceived(): boolean {
    this.calls.push('eof');
    return this.keepOpenOnEof;
  }

  connectionLost(err: Error | null): void {
    this.calls.push('lost');
    this.#lost(err);
  }

  pauseWriting(): void {
    this.calls.push('pause');
  }

  resumeWriting(): void {
    this.calls.push('resume');
  }

  data(): Buffer {
    return Buffer.concat(this.chunks);
  }

  /** Resolves once at least `n` bytes have arrived. */
  until(n: number): Promise<void> {
    if (this.received >= n) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ n, resolve }));
  }

  #wake(): void {
    this.#waiters = this.#waiters.filter((w) => {
      if (this.received < w.n) return true;
      w.resolve();
      return false;
    });
  }
}
