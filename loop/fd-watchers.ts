// addReader/addWriter for every loop: one libuv Poll per watched fd, on the
// libuv loop the event loop runs on (UvEventLoop: its own; NodeEventLoop:
// Loop.default(), which runs embedded in Node's loop). Node has no fd
// watcher of its own, so both loops share this one.
import { type AsyncContext, captureContext } from '../handles/async-context.js';
import type { Loop } from '../handles/loop.js';
import { Poll } from '../handles/poll.js';
import { validateFunction, validateInteger } from '../errors/validate.js';
import type { BaseEventLoop } from './base-event-loop.js';
import type { Callback, ResourceKind } from './events.js';
import { watchAsyncOutcome } from './event-loop-core.js';

// The callback runs in the async context of its addReader / addWriter call.
type Entry = [Callback<unknown[]>, unknown[], AsyncContext];

interface FdWatch {
  poll: Poll;
  reader: Entry | undefined;
  writer: Entry | undefined;
}

export type WatchKind = 'reader' | 'writer';

export class FdWatchers {
  readonly #uvloop: Loop;
  readonly #loop: BaseEventLoop;
  readonly #fds = new Map<number, FdWatch>();
  // What the polls closed but not yet through their close callback watched:
  // a watch counts in liveResources() until its poll is gone.
  readonly #closing: Record<WatchKind, number> = { reader: 0, writer: 0 };

  /** The Polls live on `uvloop`; callbacks are `loop`'s (dispatch, exception handler). */
  constructor(uvloop: Loop, loop: BaseEventLoop) {
    this.#uvloop = uvloop;
    this.#loop = loop;
  }

  /**
   * A callback stopped the event loop: the code awaiting runForever() must
   * run before the libuv loop calls any other callback of its batch.
   */
  yieldToAwaiters(): void {
    this.#uvloop.requestCheckpoint();
  }

  /** Adds the watches to liveResources(): `reader`, `writer`, each until its poll has closed. */
  countResources(out: Partial<Record<ResourceKind, number>>): void {
    const count = { ...this.#closing };
    for (const watch of this.#fds.values()) {
      if (watch.reader !== undefined) count.reader++;
      if (watch.writer !== undefined) count.writer++;
    }
    if (count.reader > 0) out.reader = count.reader;
    if (count.writer > 0) out.writer = count.writer;
  }

  /** Calls `cb(...args)` whenever `fd` is readable (writable); replaces an earlier callback. */
  add(fd: number, kind: WatchKind, cb: Callback<unknown[]>, args: unknown[]): void {
    validateInteger(fd, 'fd', 0, 2 ** 31 - 1);
    validateFunction(cb, 'callback');
    let watch = this.#fds.get(fd);
    if (watch === undefined) {
      watch = { poll: new Poll(this.#uvloop, fd), reader: undefined, writer: undefined };
      this.#fds.set(fd, watch);
    }
    watch[kind] = [cb, args, captureContext('asyncuv.FdWatch')];
    this.#restart(fd, watch);
  }

  /** False if no such callback was registered. */
  remove(fd: number, kind: WatchKind): boolean {
    const watch = this.#fds.get(fd);
    if (watch === undefined || watch[kind] === undefined) return false;
    watch[kind] = undefined;
    if (watch.reader === undefined && watch.writer === undefined) this.#close(fd, watch, [kind]);
    else this.#restart(fd, watch);
    return true;
  }

  /** Stops every watch (the loop closes). */
  closeAll(): void {
    for (const [fd, watch] of this.#fds) {
      const kinds = (['reader', 'writer'] as const).filter((kind) => watch[kind] !== undefined);
      this.#close(fd, watch, kinds);
    }
  }

  /** Closes the watch's poll; `kinds` (what it watched) count as live until it is closed. */
  #close(fd: number, watch: FdWatch, kinds: readonly WatchKind[]): void {
    this.#fds.delete(fd);
    for (const kind of kinds) this.#closing[kind]++;
    watch.poll.close(() => {
      for (const kind of kinds) this.#closing[kind]--;
    });
  }

  /** Watches what the entries ask for (at least one is set). */
  #restart(fd: number, watch: FdWatch): void {
    const events = { readable: watch.reader !== undefined, writable: watch.writer !== undefined };
    // Through the loop's dispatch(): a stop() in a callback takes effect
    // when the callback returns.
    watch.poll.start(events, (err, ready) =>
      this.#loop.dispatch(() => {
        // On an error both callbacks run: their next read or write sees it.
        if (err !== null || ready.readable) this.#fire(fd, watch.reader);
        // A reader that stopped the loop ends this callback: the writer, if
        // the fd is still writable, runs on the next poll, after the code
        // awaiting runForever() (poll is level-triggered).
        if (this.#loop.stopPending) return;
        // The reader may have removed the whole watch.
        const writer = this.#fds.get(fd) === watch ? watch.writer : undefined;
        if (err !== null || ready.writable) this.#fire(fd, writer);
      }, undefined),
    );
  }

  #fire(fd: number, entry: Entry | undefined): void {
    if (entry === undefined) return;
    const report = (exception: unknown): void =>
      this.#loop.callExceptionHandler({ message: `Exception in callback for fd ${fd}`, exception });
    try {
      const result: unknown = entry[2].runInAsyncScope(entry[0], undefined, ...entry[1]);
      if (result !== undefined) watchAsyncOutcome(entry[0], result, report);
    } catch (exception) {
      report(exception);
    }
  }
}
