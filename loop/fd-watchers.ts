// addReader/addWriter for every loop: one libuv Poll per watched fd, on the
// libuv loop the event loop runs on (UvEventLoop: its own; NodeEventLoop:
// Loop.default(), which runs embedded in Node's loop). Node has no fd
// watcher of its own, so both loops share this one.
import type { Loop } from '../handles/loop.js';
import { Poll } from '../handles/poll.js';
import { validateFunction, validateInteger } from '../handles/validate.js';
import type { Callback, ExceptionContext } from './events.js';

type Entry = [Callback<unknown[]>, unknown[]];

interface FdWatch {
  poll: Poll;
  reader: Entry | undefined;
  writer: Entry | undefined;
}

export type WatchKind = 'reader' | 'writer';

export class FdWatchers {
  readonly #uvloop: Loop;
  readonly #report: (context: ExceptionContext) => void;
  readonly #fds = new Map<number, FdWatch>();
  // Polls closed but whose close callback has not run yet (leak checks).
  #closing = 0;

  /** `report` is the loop's callExceptionHandler, for callbacks that throw. */
  constructor(uvloop: Loop, report: (context: ExceptionContext) => void) {
    this.#uvloop = uvloop;
    this.#report = report;
  }

  /** Polls open or still closing: 0 once every watch is gone. */
  get liveHandles(): number {
    return this.#fds.size + this.#closing;
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
    watch[kind] = [cb, args];
    this.#restart(fd, watch);
  }

  /** False if no such callback was registered. */
  remove(fd: number, kind: WatchKind): boolean {
    const watch = this.#fds.get(fd);
    if (watch === undefined || watch[kind] === undefined) return false;
    watch[kind] = undefined;
    this.#restart(fd, watch);
    return true;
  }

  /** Stops every watch (the loop closes). */
  closeAll(): void {
    for (const watch of this.#fds.values()) this.#close(watch);
    this.#fds.clear();
  }

  #close(watch: FdWatch): void {
    this.#closing++;
    watch.poll.close(() => this.#closing--);
  }

  #restart(fd: number, watch: FdWatch): void {
    if (watch.reader === undefined && watch.writer === undefined) {
      this.#close(watch);
      this.#fds.delete(fd);
      return;
    }
    const events = { readable: watch.reader !== undefined, writable: watch.writer !== undefined };
    watch.poll.start(events, (err, ready) => {
      // On an error both callbacks run: their next read or write sees it.
      if (err !== null || ready.readable) this.#fire(fd, watch.reader);
      // The reader may have removed the whole watch.
      const writer = this.#fds.get(fd) === watch ? watch.writer : undefined;
      if (err !== null || ready.writable) this.#fire(fd, writer);
    });
  }

  #fire(fd: number, entry: Entry | undefined): void {
    if (entry === undefined) return;
    try {
      entry[0](...entry[1]);
    } catch (exception) {
      this.#report({ message: `Exception in callback for fd ${fd}`, exception });
    }
  }
}
