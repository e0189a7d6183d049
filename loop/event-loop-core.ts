// The scheduling every event loop shares: the ready queue, the timer heap,
// running and stopping, closing, debug mode, and the registry of what the
// loop holds (what close() releases and liveResources() counts). A
// concrete loop supplies how to get called back (scheduleRun, armTimer,
// wakeup). BaseEventLoop builds the I/O algorithms on top of this.
import { performance } from 'node:perf_hooks';
import type { AsyncContext } from '../handles/async-context.js';
import { UsageError } from '../errors/usage-error.js';
import { validateFunction, validateNumber } from '../errors/validate.js';
import { type AbortOptions, raceAbort, signalOf, throwIfAborted } from './abort.js';
import { loopClosed, loopRunning } from './errors.js';
import {
  type Callback,
  CallbackHandle,
  ContextHandle,
  kNoArgs,
  TimerHandle,
  type ExceptionContext,
  type ResourceKind,
} from './events.js';
import { TimerQueue } from './timer-queue.js';

/** Callbacks slower than this (seconds) are reported in debug mode. */
const SLOW_CALLBACK_DURATION = 0.1;
// Timers due within this much of now run in this iteration (libuv and
// performance.now() disagree by up to a millisecond of rounding).
const CLOCK_RESOLUTION = 0.001;
// The longest single wait armTimer is asked for: Node's setTimeout limit.
const kMaxArmMs = 2 ** 31 - 1;

let runningCore: EventLoopCore | undefined;

/** @internal The loop whose runForever/runUntilComplete is in progress, if any. */
export function currentLoop(): EventLoopCore | undefined {
  return runningCore;
}

/**
 * @internal Something a loop holds until it is gone: a transport, datagram
 * endpoint, subprocess, server or signal handler. closeWithLoop() releases
 * it at once when the loop closes (sockets and pipes closed, queued writes
 * dropped, a running child killed, a server no longer listening) and calls
 * no protocol method: a closed loop runs nothing.
 */
export interface LoopResource {
  closeWithLoop(): void;
  /** True while its I/O uses `fd` (a transport that is not closing). */
  usesFd?(fd: number): boolean;
}

interface Registration {
  // Weak: a transport dropped unclosed may still be collected (and reported
  // in debug mode); one that is alive is released by close().
  readonly ref: WeakRef<LoopResource>;
  // Strong, for what hold() registers: nothing else keeps it alive.
  readonly held: LoopResource | undefined;
  readonly kind: ResourceKind | undefined;
}

export abstract class EventLoopCore {
  // The ready queue: a deque (array + head) drained FIFO, one snapshot per
  // iteration, so callbacks scheduled by callbacks run in the next one.
  #ready: CallbackHandle[] = [];
  #readyHead = 0;
  // The last cancel() disarms the concrete loop's timer: an armed timer
  // with nothing left to run would keep the process alive.
  readonly #timers = new TimerQueue(() => {
    if (this.#armedFor !== Infinity) this.#arm();
  });
  #armedFor = Infinity;
  #runScheduled = false;
  #running = false;
  // stop() from outside the loop's callbacks: the stop takes effect at the
  // end of the next iteration (asyncio's "runs the current batch").
  #stopping = false;
  // stop() from inside a callback of the loop: the stop takes effect when
  // that callback returns, and nothing else of the loop runs before the
  // code awaiting runForever() resumes.
  #stopAtReturn = false;
  // stop() while not running: the next runForever() runs one iteration and
  // returns (asyncio's pre-stopped loop). Kept apart from #stopping, which
  // the iterations this loop runs while not running would spend.
  #preStopped = false;
  // Callbacks of this loop on the stack: runOnce's, and I/O callbacks run
  // through dispatch().
  #depth = 0;
  // The loop has stopped and the code awaiting runForever() has not run
  // yet: what would call back into the loop's protocols waits (resuming).
  #resuming = false;
  #closed = false;
  #stopWaiters: Array<() => void> = [];
  // What the loop holds (track()): close() releases each one still here.
  readonly #resources = new Set<Registration>();
  // How many of them there are by kind, for liveResources(). Counted
  // strongly: a resource collected without being released still counts.
  readonly #live = new Map<ResourceKind, number>();
  #debug = process.env['ASYNCUV_DEBUG'] !== undefined && process.env['ASYNCUV_DEBUG'] !== '';

  /** Have runOnce() called soon (the next iteration of the underlying loop). */
  protected abstract scheduleRun(): void;
  /** Have timerFired() called after `delayMs`, or never (null). One timer only. */
  protected abstract armTimer(delayMs: number | null): void;
  /** Wake the loop from outside its own callbacks. */
  protected abstract wakeup(): void;
  /** Release what the concrete loop schedules with (its handles, Node timers). */
  protected abstract closeScheduling(): void;
  /** Adds what the loop counts besides its registry (watched fds) to liveResources(). */
  protected abstract countOthers(out: Partial<Record<ResourceKind, number>>): void;
  /** Reports an error to the loop's exception handler. */
  abstract callExceptionHandler(context: ExceptionContext): void;

  liveResources(): Partial<Record<ResourceKind, number>> {
    const out: Partial<Record<ResourceKind, number>> = {};
    for (const [kind, n] of this.#live) if (n > 0) out[kind] = n;
    this.countOthers(out);
    // Due timers wait in the ready queue with the callbacks; cancelled
    // entries stay there (callback unset) until the next iteration skips them.
    let timers = this.#timers.size;
    let callbacks = 0;
    for (let i = this.#readyHead; i < this.#ready.length; i++) {
      const handle = this.#ready[i];
      if (handle?.callback === undefined) continue;
      if (handle instanceof TimerHandle) timers++;
      else callbacks++;
    }
    if (timers > 0) out.timer = timers;
    if (callbacks > 0) out.callback = callbacks;
    return out;
  }

  /**
   * @internal Registers what close() must release and liveResources()
   * counts as `kind` (nothing counts a resource with no kind: a
   * subprocess's pipes, which the subprocess counts). The returned
   * function, called once the resource is gone, unregisters it; later calls
   * do nothing. On a closed loop nothing is registered: the resource's
   * start is dropped instead.
   */
  track(resource: LoopResource, kind?: ResourceKind): () => void {
    return this.#register(resource, undefined, kind);
  }

  /**
   * @internal track() for a resource that nothing else references (a signal
   * handler's or a handshake's closer, the fd watchers' release): the loop
   * holds it strongly, since a weak entry could be collected before close()
   * and what it releases (a listener, a keep-alive timer) would then stay.
   */
  hold(resource: LoopResource, kind?: ResourceKind): () => void {
    return this.#register(resource, resource, kind);
  }

  /**
   * @internal The live resource whose I/O uses `fd` (a transport that is
   * not closing), if any: asyncio's _ensure_fd_no_transport.
   */
  protected resourceUsingFd(fd: number): LoopResource | undefined {
    for (const entry of this.#resources) {
      const resource = entry.ref.deref();
      if (resource?.usesFd?.(fd) === true) return resource;
    }
    return undefined;
  }

  #register(
    resource: LoopResource,
    held: LoopResource | undefined,
    kind: ResourceKind | undefined,
  ): () => void {
    if (this.#closed) return noop;
    const entry: Registration = { ref: new WeakRef(resource), held, kind };
    this.#resources.add(entry);
    if (kind !== undefined) this.#live.set(kind, (this.#live.get(kind) ?? 0) + 1);
    return () => {
      if (!this.#resources.delete(entry) || kind === undefined) return;
      this.#live.set(kind, this.#live.get(kind)! - 1);
    };
  }

  /**
   * True while an I/O callback of the concrete loop runs that did not go
   * through dispatch() (UvEventLoop: any callback of its libuv loop's batch).
   */
  protected inIoCallback(): boolean {
    return false;
  }

  /**
   * Makes the code awaiting runForever() run before the concrete loop calls
   * back again (UvEventLoop: drain microtasks as soon as the current native
   * callback returns, not at the end of the batch). Node's own callbacks
   * drain microtasks after each one: nothing to do there.
   */
  protected yieldToAwaiters(): void {}

  time(): number {
    return performance.now() / 1000;
  }

  isRunning(): boolean {
    return this.#running;
  }

  isClosed(): boolean {
    return this.#closed;
  }

  getDebug(): boolean {
    return this.#debug;
  }

  setDebug(enabled: boolean): void {
    this.#debug = Boolean(enabled);
  }

  callSoon<A extends unknown[]>(cb: Callback<A>, ...args: A): CallbackHandle {
    this.checkClosed();
    validateFunction(cb, 'callback');
    return this.scheduleSoon(cb as Callback<unknown[]>, args.length === 0 ? kNoArgs : args);
  }

  callSoonThreadsafe<A extends unknown[]>(cb: Callback<A>, ...args: A): CallbackHandle {
    const handle = this.callSoon(cb, ...args);
    this.wakeup();
    return handle;
  }

  callLater<A extends unknown[]>(delay: number, cb: Callback<A>, ...args: A): TimerHandle {
    this.checkClosed();
    validateNumber(delay, 'delay', -Infinity, Infinity);
    validateFunction(cb, 'callback');
    return this.#schedule(this.time() + Math.max(0, delay), cb as Callback<unknown[]>, args);
  }

  callAt<A extends unknown[]>(when: number, cb: Callback<A>, ...args: A): TimerHandle {
    this.checkClosed();
    validateNumber(when, 'when', -Infinity, Infinity);
    validateFunction(cb, 'callback');
    return this.#schedule(when, cb as Callback<unknown[]>, args);
  }

  #schedule(when: number, cb: Callback<unknown[]>, args: readonly unknown[]): TimerHandle {
    // Most timers take no arguments: they share one empty list.
    const handle = new TimerHandle(when, cb, args.length === 0 ? kNoArgs : args);
    this.#timers.push(handle);
    if (when < this.#armedFor) this.#arm();
    return handle;
  }

  /**
   * @internal callSoon without the checks, for the loop's own work. On a
   * closed loop the callback is dropped (returned cancelled): a transport
   * that finishes closing after its loop has nowhere left to run, and
   * throwing would only surface inside some stream or handle callback.
   * `context`: the async context to run in (a transport's), else the
   * current one, as callSoon's.
   */
  scheduleSoon(
    cb: Callback<unknown[]>,
    args: readonly unknown[],
    onDropped?: () => void,
    context?: AsyncContext,
  ): CallbackHandle {
    // A plain CallbackHandle unless there is a context or onDropped to keep:
    // every handle is as small as what it needs.
    const handle =
      context === undefined && onDropped === undefined
        ? new CallbackHandle(cb, args)
        : new ContextHandle(cb, args, context, onDropped);
    if (this.#closed) {
      handle.cancel();
      onDropped?.();
      return handle;
    }
    // A transport's start (connectionMade, then the promise that waits for
    // it) must learn that close() dropped it (onDropped), or that promise
    // never settles.
    this.#ready.push(handle);
    if (!this.#runScheduled) {
      this.#runScheduled = true;
      this.scheduleRun();
    }
    return handle;
  }

  #arm(): void {
    const next = this.#timers.nextWhen();
    this.#armedFor = next;
    if (next === Infinity) {
      this.armTimer(null);
      return;
    }
    // Clamped: a far deadline (callLater(1e300)) is beyond what Timer.start
    // and setTimeout take (Timer throws on it; setTimeout fires at once on
    // overflow). Firing early is harmless: nothing is due, and runOnce
    // re-arms for the rest.
    const delayMs = Math.ceil((next - this.time()) * 1000);
    this.armTimer(Math.min(kMaxArmMs, Math.max(0, delayMs)));
  }

  /** One iteration: move due timers to the ready queue, run a snapshot of it. */
  protected runOnce(): void {
    this.#runScheduled = false;
    const timers = this.#timers;
    if (timers.size > 0) timers.takeDue(this.time() + CLOCK_RESOLUTION, this.#ready);
    const ready = this.#ready;
    const stop = ready.length;
    const debug = this.#debug;
    // Several loops can be 'running' at once in one thread (runForever does
    // not block), so a callback must see the loop that runs it.
    if (this.#running) runningCore = this;
    this.#depth++;
    try {
      // A stop() from a callback ends the iteration: the callbacks still
      // queued run after the code awaiting runForever() resumed.
      while (this.#readyHead < stop && !this.#stopAtReturn) {
        const handle = ready[this.#readyHead]!;
        ready[this.#readyHead++] = undefined as never;
        const cb = handle.callback;
        if (cb === undefined) continue;
        handle.callback = undefined;
        const started = debug ? this.time() : 0;
        try {
          const args = handle.args;
          // A ContextHandle's context, else the handle's own (it is the
          // AsyncResource of the call that scheduled it).
          const context = (handle as ContextHandle).context ?? handle;
          const result: unknown =
            args.length === 0
              ? context.runInAsyncScope(cb)
              : context.runInAsyncScope(cb, undefined, ...args);
          if (result !== undefined) {
            watchAsyncOutcome(cb, result, (exception) => {
              const message = `Exception in callback ${cb.name || 'anonymous'}`;
              this.callExceptionHandler({ message, exception, handle });
            });
          }
        } catch (exception) {
          const message = `Exception in callback ${cb.name || 'anonymous'}`;
          this.callExceptionHandler({ message, exception, handle });
        }
        if (debug) {
          const took = this.time() - started;
          if (took >= SLOW_CALLBACK_DURATION) {
            const name = cb.name || 'anonymous';
            console.warn(`asyncuv: executing callback ${name} took ${took.toFixed(3)} seconds`);
          }
        }
        // close() from a callback (allowed while the loop is not running)
        // dropped the queue: nothing of this loop runs any more.
        if (this.#closed) return;
      }
    } finally {
      this.#depth--;
    }
    if (this.#readyHead === ready.length) {
      ready.length = 0;
      this.#readyHead = 0;
    } else if (this.#readyHead > 1024) {
      ready.splice(0, this.#readyHead);
      this.#readyHead = 0;
    }
    if (ready.length > this.#readyHead && !this.#runScheduled) {
      this.#runScheduled = true;
      this.scheduleRun();
    }
    // Re-arm only when the earliest deadline changed (or the timer fired,
    // see timerFired): arming is a call into the native loop.
    if (timers.nextWhen() !== this.#armedFor) this.#arm();
    if (this.#stopping || this.#stopAtReturn) this.#finishStop();
  }

  /**
   * @internal Runs an I/O callback of this loop (a socket event of
   * NodeEventLoop's transports): a stop() inside it takes effect when it
   * returns, as for the ready queue's callbacks. It runs in `context` (the
   * transport's) when given.
   */
  dispatch<T, R>(fn: (arg: T) => R, arg: T, context?: AsyncContext): R {
    this.#depth++;
    try {
      return context === undefined ? fn(arg) : context.runInAsyncScope(fn, undefined, arg);
    } finally {
      if (--this.#depth === 0 && this.#stopAtReturn) this.#finishStop();
    }
  }

  /**
   * @internal True from the moment the loop stopped until the code awaiting
   * runForever() has resumed (within the same microtask checkpoint): a
   * transport holds what it would deliver meanwhile and delivers it later.
   */
  get resuming(): boolean {
    return this.#resuming;
  }

  /** @internal A stop() is pending, to take effect when the current callback returns. */
  get stopPending(): boolean {
    return this.#stopAtReturn;
  }

  /** The concrete loop's timer fired: it is no longer armed. */
  protected timerFired(): void {
    this.#armedFor = Infinity;
    this.runOnce();
  }

  runForever(): Promise<void> {
    this.checkClosed();
    if (this.#running) throw loopRunning();
    this.#running = true;
    runningCore = this;
    const stopped = new Promise<void>((resolve) => this.#stopWaiters.push(resolve));
    if (this.#preStopped) {
      // As a stop() from outside: the callbacks already queued run first.
      this.#preStopped = false;
      this.#stopping = true;
      if (!this.#runScheduled) {
        this.#runScheduled = true;
        this.scheduleRun();
      }
    }
    return stopped;
  }

  /** Runs the loop until `work` settles; `signal` aborts the wait (AbortError), not the work. */
  async runUntilComplete<T>(
    work: Promise<T> | (() => Promise<T>),
    opts?: AbortOptions,
  ): Promise<T> {
    this.checkClosed();
    const signal = signalOf(opts);
    if (this.#running) throw loopRunning();
    throwIfAborted(signal);
    // The loop is running before the work starts, so the work sees
    // isRunning() and may stop() it.
    const stopped = this.runForever().then(() => {
      throw new UsageError('ERR_LOOP_STOPPED', 'Event loop stopped before the work completed');
    });
    try {
      const promise = typeof work === 'function' ? work() : work;
      if (!isThenable(promise)) {
        const why = 'runUntilComplete() takes a Promise or a function returning one';
        throw new UsageError('ERR_INVALID_ARG_TYPE', why);
      }
      return await Promise.race([raceAbort(Promise.resolve(promise), signal), stopped]);
    } finally {
      // A stop() still pending is spent with this run, as in asyncio.
      this.#stopping = false;
      this.#stopAtReturn = false;
      if (this.#running) {
        this.#running = false;
        this.#releaseWaiters();
      }
      stopped.catch(() => {});
    }
  }

  /**
   * Stops runForever(). From a callback of the loop, the stop takes effect
   * when that callback returns, and no other callback of the loop runs
   * before the code awaiting runForever() resumes (callbacks still queued
   * run after it). From anywhere else, the next iteration runs first (so
   * callbacks queued before stop() run), as asyncio's stop() does. On a
   * loop that is not running, the next runForever() (or runUntilComplete)
   * runs one iteration and returns, as asyncio's does after a stop().
   */
  stop(): void {
    if (!this.#running) {
      if (!this.#closed) this.#preStopped = true;
      return;
    }
    if (this.#stopAtReturn) return;
    if (this.#depth > 0) {
      this.#stopAtReturn = true; // runOnce or dispatch() finishes it
      return;
    }
    if (this.inIoCallback()) {
      // The concrete loop's callback ends when this JS call returns, and it
      // drains microtasks right then (yieldToAwaiters): the stop takes
      // effect there, and the awaiting code runs in the same drain.
      this.#stopAtReturn = true;
      queueMicrotask(() => {
        if (this.#stopAtReturn) this.#finishStop();
      });
      this.yieldToAwaiters();
      return;
    }
    this.#stopping = true;
    if (!this.#runScheduled) {
      this.#runScheduled = true;
      this.scheduleRun();
    }
  }

  #finishStop(): void {
    this.#stopping = false;
    this.#stopAtReturn = false;
    if (!this.#running) return;
    this.#running = false;
    this.#resuming = true;
    // resolve() queues the awaiting code's continuation; this microtask
    // comes after it.
    this.#releaseWaiters();
    queueMicrotask(() => {
      this.#resuming = false;
    });
    this.yieldToAwaiters();
  }

  #releaseWaiters(): void {
    if (runningCore === this) runningCore = undefined;
    const waiters = this.#stopWaiters;
    this.#stopWaiters = [];
    for (const resolve of waiters) resolve();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  close(): void {
    if (this.#running) {
      throw new UsageError('ERR_LOOP_RUNNING', 'Cannot close a running event loop');
    }
    if (this.#closed) return;
    this.#closed = true;
    const dropped: Array<() => void> = [];
    for (let i = this.#readyHead; i < this.#ready.length; i++) {
      const handle = this.#ready[i];
      if (handle === undefined) continue;
      const onDropped = (handle as ContextHandle).onDropped;
      if (onDropped !== undefined && handle.callback !== undefined) dropped.push(onDropped);
      handle.cancel();
    }
    this.#ready = [];
    this.#readyHead = 0;
    this.#timers.clear();
    this.armTimer(null);
    // Starts first (they fail whoever awaits them with ERR_LOOP_CLOSED),
    // then whatever is still open: in JavaScript an open socket, pipe or
    // child keeps the process alive, so a closed loop lets go of them all.
    for (const onDropped of dropped) {
      try {
        onDropped();
      } catch (exception) {
        const message = 'Error while dropping a scheduled start';
        this.callExceptionHandler({ message, exception });
      }
    }
    // Each stays registered until it is gone (liveResources counts it until
    // then); closeWithLoop() of one that is already closing does nothing.
    for (const { ref } of [...this.#resources]) {
      try {
        ref.deref()?.closeWithLoop();
      } catch (exception) {
        const message = 'Error while closing a transport with its loop';
        this.callExceptionHandler({ message, exception });
      }
    }
    this.closeScheduling();
  }

  /** Throws ERR_LOOP_CLOSED once close() was called. */
  protected checkClosed(): void {
    if (this.#closed) throw loopClosed();
  }

  /**
   * `start`, except that once close() was called its failure is
   * ERR_LOOP_CLOSED, as every start in flight: close() cut it short (it
   * closed what the start was using), whatever that reported (a reset).
   */
  protected async closedWins<T>(start: Promise<T>): Promise<T> {
    try {
      return await start;
    } catch (err) {
      this.checkClosed();
      throw err;
    }
  }
}

function noop(): void {}

/** The constructor of async functions (not a global); bound ones inherit it. */
const AsyncFunction = (async () => {}).constructor;

/**
 * A loop callback's async outcome: the Promise an async function returns is
 * the callback's own, so its rejection is the callback's exception and goes
 * to `report` (asyncio refuses coroutine functions as callbacks; in
 * JavaScript an async function is an ordinary one, and its rejection would
 * otherwise be the process's unhandled rejection). A plain function that
 * returns a promise hands back one that its maker may handle elsewhere
 * (`() => writer.drain()`): that one is left to its maker, as it would be
 * without the loop.
 */
export function watchAsyncOutcome(
  cb: (...args: never[]) => unknown,
  result: unknown,
  report: (exception: unknown) => void,
): void {
  if (result instanceof Promise && cb.constructor === AsyncFunction) {
    result.then(undefined, report);
  }
}

function isThenable(value: unknown): boolean {
  if (value instanceof Promise) return true;
  if (typeof value !== 'object' || value === null) return false;
  return typeof (value as PromiseLike<unknown>).then === 'function';
}
