// startThreadedServer: one port served by N worker threads, each running the
// served module on its own UvEventLoop, supervised from the calling thread.
//
// Rules:
// 1. The port is held by a socket of the supervisor for the server's whole
//    life: with 'reuseport' a bound, never listening SO_REUSEPORT socket
//    (it learns port 0 and keeps the port while threads restart; the kernel
//    routes connections only to listening sockets); with 'shared-socket' the
//    listening socket itself, whose fd each thread duplicates. It closes
//    after the last thread, so no thread can duplicate a reused fd number.
// 2. A thread that throws or exits on its own is reported ('error', 'exit')
//    and replaced in its slot; the replacement reports 'restart' once it
//    serves. A slot whose threads keep failing before they serve is retried
//    with a growing delay (0.1 s doubling to 5 s), not in a tight loop.
// 3. close() is the only way threads end on purpose: each stops accepting,
//    lets its connections finish (or aborts them at the deadline) and exits.
// 4. Connection counts live in shared memory (threaded-server-counters.ts);
//    the supervisor zeroes a slot's open count when its thread is gone.
import { Worker } from 'node:worker_threads';
import type http from 'node:http';
import { Loop } from '../handles/loop.js';
import { TCP, type SocketAddress } from '../handles/tcp.js';
import { UvError } from '../handles/uv-error.js';
import { UsageError } from '../errors/usage-error.js';
import { validateNumber } from '../errors/validate.js';
import type { AnyProtocol } from '../loop/protocols.js';
import { resolveHost } from '../loop/resolve.js';
import type { UvEventLoop } from '../loop/uv-event-loop.js';
import { ConnectionCounters } from './threaded-server-counters.js';
import {
  type Balance,
  type CloseMessage,
  type FailedMessage,
  reviveError,
  type ServingMessage,
  type StoppedMessage,
  type ThreadData,
} from './threaded-server-messages.js';
import {
  type CheckedOptions,
  checkOptions,
  type ThreadedServerOptions,
} from './threaded-server-options.js';

export type { Balance } from './threaded-server-messages.js';
export type { ThreadedServerOptions } from './threaded-server-options.js';

/** What setup() is told about its thread. */
export interface ThreadContext {
  /** The thread's slot, 0..threads-1 (a restarted thread has its predecessor's). */
  index: number;
  /** The thread's event loop, which serves the module (setExceptionHandler, callLater...). */
  loop: UvEventLoop;
}

/** The exports of a module served by startThreadedServer (one of the first two). */
export interface ThreadedServerModule {
  /** Served with loop.createServer on each thread's UvEventLoop. */
  protocolFactory?(): AnyProtocol;
  /**
   * Served with serveHttp on each thread's UvEventLoop: a listener, or an
   * http.Server the module made (each thread imports the module, so each
   * has its own), for what attaches to the server: a WebSocket server's
   * 'upgrade', hapi's `listener`, socket.io.
   */
  requestListener?: http.RequestListener | http.Server;
  /** Awaited once per thread, before it serves; gets opts.shared. */
  setup?(shared: unknown, thread: ThreadContext): unknown;
}

export type ThreadState = 'starting' | 'serving' | 'restarting' | 'closing' | 'closed';

export interface ThreadStats {
  index: number;
  /** The worker's threadId, or null while the slot has no thread. */
  threadId: number | null;
  state: ThreadState;
  /** Connections the slot's threads accepted since the server started. */
  accepted: number;
  /** Connections open now. */
  open: number;
  /** Threads that replaced a failed one in this slot. */
  restarts: number;
}

export interface ThreadedServerStats {
  accepted: number;
  open: number;
  threads: ThreadStats[];
}

export interface ThreadInfo {
  index: number;
  threadId: number;
}

export interface ThreadedServerEvents {
  /** A thread threw (an uncaught exception), or a restarted thread failed to start. */
  error: (err: Error, thread: ThreadInfo) => void;
  /** A thread ended without close() asking it to; it is restarted. */
  exit: (thread: ThreadInfo & { code: number }) => void;
  /** A replacement thread serves. */
  restart: (thread: ThreadInfo & { restarts: number }) => void;
}

export interface CloseOptions {
  /** Milliseconds to let open connections finish; then they are aborted. Default: no limit. */
  deadlineMs?: number;
}

interface Slot {
  index: number;
  worker: Worker | undefined;
  state: ThreadState;
  restarts: number;
  /** Threads in a row that failed before serving. */
  failures: number;
  /** Why the current thread failed to start, when it said so. */
  failure: Error | undefined;
  retry: ReturnType<typeof setTimeout> | undefined;
  exited: Promise<void>;
  /** The thread closed its listening socket (close() asked it to). */
  stopped: boolean;
}

const workerEntry = new URL('./threaded-server-worker.js', import.meta.url);
const kFirstRetryDelayMs = 100;
const kMaxRetryDelayMs = 5000;

export class ThreadedServer {
  /** The bound address (the host resolved). */
  readonly host: string;
  /** The bound port (the one picked, with port 0). */
  readonly port: number;
  /** How many threads serve. */
  readonly threads: number;
  /** How connections are spread over the threads. */
  readonly balance: Balance;
  readonly #opts: CheckedOptions;
  readonly #anchor: TCP;
  readonly #counters: ConnectionCounters;
  readonly #slots: Slot[];
  readonly #listeners: { [E in keyof ThreadedServerEvents]: Set<ThreadedServerEvents[E]> } = {
    error: new Set(),
    exit: new Set(),
    restart: new Set(),
  };
  #starting: { resolve(): void; reject(err: Error): void } | undefined;
  #closeRequested = false;
  #closing: Promise<void> | undefined;
  #portReleased: Promise<void> | undefined;

  /** @internal startThreadedServer() makes servers. */
  constructor(opts: CheckedOptions, anchor: TCP, bound: SocketAddress) {
    this.host = bound.address;
    this.port = bound.port;
    this.threads = opts.threads;
    this.balance = opts.balance;
    this.#opts = opts;
    this.#anchor = anchor;
    this.#counters = new ConnectionCounters(opts.threads);
    this.#slots = Array.from({ length: opts.threads }, (_, index) => ({
      index,
      worker: undefined,
      state: 'starting',
      restarts: 0,
      failures: 0,
      failure: undefined,
      retry: undefined,
      exited: Promise.resolve(),
      stopped: false,
    }));
  }

  /** @internal Starts the threads; resolves once all serve (if one fails: ends all, rejects). */
  async start(): Promise<void> {
    const started = new Promise<void>((resolve, reject) => (this.#starting = { resolve, reject }));
    for (const slot of this.#slots) this.#spawn(slot);
    try {
      await started;
    } catch (err) {
      await this.#closing;
      throw err;
    }
  }

  on<E extends keyof ThreadedServerEvents>(event: E, listener: ThreadedServerEvents[E]): this {
    this.#listenersOf(event).add(listener);
    return this;
  }

  off<E extends keyof ThreadedServerEvents>(event: E, listener: ThreadedServerEvents[E]): this {
    this.#listenersOf(event).delete(listener);
    return this;
  }

  /** Per-thread accepted and open connections, read from shared memory. */
  stats(): ThreadedServerStats {
    const threads = this.#slots.map((slot) => ({
      index: slot.index,
      threadId: slot.worker?.threadId ?? null,
      state: slot.state,
      ...this.#counters.read(slot.index),
      restarts: slot.restarts,
    }));
    return {
      accepted: threads.reduce((n, t) => n + t.accepted, 0),
      open: threads.reduce((n, t) => n + t.open, 0),
      threads,
    };
  }

  /**
   * Stops accepting on every thread, lets open connections finish (aborts
   * those still open after `deadlineMs`), ends the threads and releases the
   * port; resolves when all are gone. A later call returns the same
   * promise, and its deadline applies if it comes sooner.
   */
  close(opts: CloseOptions = {}): Promise<void> {
    if (typeof opts !== 'object' || opts === null) {
      throw new UsageError('ERR_INVALID_ARG_TYPE', 'close() options must be an object');
    }
    const { deadlineMs } = opts;
    if (deadlineMs !== undefined) validateNumber(deadlineMs, 'deadlineMs', 0, 2 ** 31 - 1);
    return this.#close(deadlineMs);
  }

  #close(deadlineMs: number | undefined): Promise<void> {
    const message: CloseMessage = { type: 'close', deadlineMs };
    if (this.#closing !== undefined) {
      if (deadlineMs !== undefined) {
        for (const slot of this.#slots) slot.worker?.postMessage(message);
      }
      return this.#closing;
    }
    this.#closeRequested = true;
    for (const slot of this.#slots) {
      clearTimeout(slot.retry);
      slot.state = slot.worker === undefined ? 'closed' : 'closing';
      slot.worker?.postMessage(message);
    }
    this.#releasePortWhenStopped();
    this.#closing = (async () => {
      await Promise.all(this.#slots.map((slot) => slot.exited));
      this.#releasePortWhenStopped();
      await this.#portReleased;
    })();
    return this.#closing;
  }

  /**
   * Closes the supervisor's socket once no thread accepts and none will
   * duplicate its fd again (rule 1): from then on connections are refused,
   * not left in a backlog nobody accepts from, while threads still drain.
   */
  #releasePortWhenStopped(): void {
    if (!this.#closeRequested || this.#portReleased !== undefined) return;
    if (!this.#slots.every((slot) => slot.state === 'closed' || slot.stopped)) return;
    this.#portReleased = new Promise((resolve) => this.#anchor.close(resolve));
  }

  #listenersOf<E extends keyof ThreadedServerEvents>(event: E): Set<ThreadedServerEvents[E]> {
    const set = this.#listeners[event] as Set<ThreadedServerEvents[E]> | undefined;
    if (set === undefined || !Object.hasOwn(this.#listeners, event)) {
      throw new UsageError(
        'ERR_INVALID_ARG_VALUE',
        `Unknown event ${String(event)}: a ThreadedServer emits 'error', 'exit' and 'restart'`,
      );
    }
    return set;
  }

  #spawn(slot: Slot): void {
    slot.retry = undefined;
    slot.failure = undefined;
    slot.stopped = false;
    slot.state = this.#starting !== undefined ? 'starting' : 'restarting';
    const data: ThreadData = {
      moduleUrl: this.#opts.moduleUrl,
      index: slot.index,
      address: this.host,
      port: this.port,
      backlog: this.#opts.backlog,
      ssl: this.#opts.ssl,
      shared: this.#opts.shared,
      balance: this.balance,
      fd: this.balance === 'shared-socket' ? this.#anchor.fileno() : undefined,
      counters: this.#counters.buffer,
    };
    let worker: Worker;
    try {
      worker = new Worker(workerEntry, { workerData: data });
    } catch (err) {
      // No thread (out of memory, too many threads): a failed start like any other.
      slot.failure = err as Error;
      this.#exited(slot, { index: slot.index, threadId: -1 }, 1);
      return;
    }
    slot.worker = worker;
    // Read now: a Worker's threadId is -1 once it has exited.
    const threadId = worker.threadId;
    const info = (): ThreadInfo => ({ index: slot.index, threadId });
    slot.exited = new Promise((resolve) => {
      worker.on('exit', (code) => {
        this.#exited(slot, info(), code);
        resolve();
      });
    });
    worker.on('message', (message: ServingMessage | StoppedMessage | FailedMessage) => {
      if (message.type === 'failed') slot.failure = reviveError(message.error);
      else if (message.type === 'serving') this.#serving(slot, info());
      else {
        slot.stopped = true;
        this.#releasePortWhenStopped();
      }
    });
    worker.on('error', (err) => {
      // Before it serves, the error is why it failed to start (reported on exit).
      const starting = slot.state === 'starting' || slot.state === 'restarting';
      if (this.#starting !== undefined || starting) slot.failure ??= err;
      else this.#emit('error', err, info());
    });
  }

  #serving(slot: Slot, info: ThreadInfo): void {
    const restarted = slot.state === 'restarting';
    if (slot.state === 'closing') return;
    slot.state = 'serving';
    slot.failures = 0;
    if (restarted) this.#emit('restart', { ...info, restarts: slot.restarts });
    if (this.#starting !== undefined && this.#slots.every((s) => s.state === 'serving')) {
      this.#starting.resolve();
      this.#starting = undefined;
    }
  }

  #exited(slot: Slot, info: ThreadInfo, code: number): void {
    const started = slot.state === 'serving';
    slot.worker = undefined;
    this.#counters.reset(slot.index);
    if (this.#closeRequested) {
      slot.state = 'closed';
      this.#releasePortWhenStopped();
      return;
    }
    if (this.#starting !== undefined) {
      slot.state = 'closed';
      const why = slot.failure ?? new Error(`Thread ${slot.index} exited (${code}) before serving`);
      this.#starting.reject(why);
      this.#starting = undefined;
      // At once: another thread exiting now must not be taken for a crash.
      void this.#close(0);
      return;
    }
    if (slot.failure !== undefined) this.#emit('error', slot.failure, info);
    this.#emit('exit', { ...info, code });
    slot.failures = started ? 0 : slot.failures + 1;
    slot.restarts++;
    slot.state = 'restarting';
    const backoff = kFirstRetryDelayMs * 2 ** (slot.failures - 1);
    const delay = slot.failures === 0 ? 0 : Math.min(backoff, kMaxRetryDelayMs);
    slot.retry = setTimeout(() => this.#spawn(slot), delay);
  }

  #emit<E extends keyof ThreadedServerEvents>(
    event: E,
    ...args: Parameters<ThreadedServerEvents[E]>
  ): void {
    const listeners = this.#listeners[event];
    if (event === 'error' && listeners.size === 0) {
      const [err, thread] = args as Parameters<ThreadedServerEvents['error']>;
      const who = `thread ${thread.index} (threadId ${thread.threadId})`;
      console.error(`asyncuv threaded server: ${who} failed; it is restarted.`, err);
      return;
    }
    for (const listener of [...listeners]) (listener as (...a: typeof args) => void)(...args);
  }
}

/** The address `tcp` is bound to; libuv reports a failed bind (EADDRINUSE) at the next call. */
function boundAddress(tcp: TCP, where: string): SocketAddress {
  try {
    return tcp.getsockname();
  } catch (err) {
    if (err instanceof UvError) throw new UvError(err.errno, 'bind', where);
    throw err;
  }
}

/**
 * Serves the module at `moduleUrl` on `opts.threads` worker threads, each
 * with its own UvEventLoop, all on one port. Resolves once every thread
 * serves; rejects (with every thread ended) if one fails to start.
 */
export async function startThreadedServer(
  moduleUrl: string | URL,
  opts: ThreadedServerOptions,
): Promise<ThreadedServer> {
  const checked = checkOptions(moduleUrl, opts);
  const [address] = await resolveHost(Loop.default(), checked.host);
  if (address === undefined) {
    const why = `opts.host ${checked.host} resolved to no address`;
    throw new UsageError('ERR_INVALID_ARG_VALUE', why);
  }
  const anchor = new TCP();
  let bound: SocketAddress;
  try {
    anchor.bind(address.address, checked.port, { reusePort: checked.balance === 'reuseport' });
    bound = boundAddress(anchor, `${address.address}:${checked.port}`);
  } catch (err) {
    await new Promise<void>((resolve) => anchor.close(resolve));
    throw err;
  }
  const server = new ThreadedServer(checked, anchor, bound);
  await server.start();
  return server;
}
