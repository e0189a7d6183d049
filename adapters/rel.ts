// A rel / pyevent style registrar on asyncuv's loop: register callbacks for
// fd readiness, timeouts and signals; each callback is re-armed for as long
// as it returns true. dispatch() runs until abort() or until nothing is
// registered any more.
import { Loop } from '../handles/loop.js';
import { Poll } from '../handles/poll.js';
import { Signal } from '../handles/signal.js';
import { Timer } from '../handles/timer.js';
import { UsageError } from '../errors/usage-error.js';
import {
  toSignalNumber,
  validateFunction,
  validateInteger,
  validateNumber,
} from '../errors/validate.js';

type EventCallback = (...args: never[]) => unknown;

/** One registration; delete() cancels it. */
export class RelEvent {
  #pending = true;
  readonly #onDelete: (event: RelEvent) => void;

  /** @internal */
  constructor(onDelete: (event: RelEvent) => void) {
    this.#onDelete = onDelete;
  }

  /** True while the callback is armed. */
  pending(): boolean {
    return this.#pending;
  }

  delete(): void {
    if (!this.#pending) return;
    this.#pending = false;
    this.#onDelete(this);
  }
}

interface FdEntry {
  poll: Poll;
  read: RelEvent | undefined;
  readCb: (() => unknown) | undefined;
  write: RelEvent | undefined;
  writeCb: (() => unknown) | undefined;
}

export class Registrar {
  readonly loop: Loop;
  readonly #fds = new Map<number, FdEntry>();
  readonly #events = new Set<RelEvent>();
  #waiters: Array<() => void> = [];
  #error: unknown;

  constructor(loop: Loop = Loop.default()) {
    this.loop = loop;
  }

  /** Calls cb(...args) whenever `fd` is readable, while it returns true. */
  read<A extends unknown[]>(fd: number, cb: (...args: A) => unknown, ...args: A): RelEvent {
    return this.#io(fd, 'read', cb as EventCallback, args);
  }

  /** Calls cb(...args) whenever `fd` is writable, while it returns true. */
  write<A extends unknown[]>(fd: number, cb: (...args: A) => unknown, ...args: A): RelEvent {
    return this.#io(fd, 'write', cb as EventCallback, args);
  }

  /** Calls cb(...args) after `sec` seconds, and again every `sec` while it returns true. */
  timeout<A extends unknown[]>(sec: number, cb: (...args: A) => unknown, ...args: A): RelEvent {
    // Bounded so that sec * 1000 is a valid Timer timeout: a larger sec
    // passed this check, then Timer.start threw after the timer and the
    // event were made, leaving a timer open and dispatch() waiting forever.
    validateNumber(sec, 'sec', 0, Math.floor(Number.MAX_SAFE_INTEGER / 1000));
    validateFunction(cb, 'cb');
    const ms = Math.round(sec * 1000);
    const timer = new Timer(this.loop);
    const event = this.#event(() => timer.close());
    timer.start(() => {
      if (!this.#fire(event, cb as EventCallback, args)) return;
      timer.start(() => this.#rearmTimer(event, timer, ms, cb as EventCallback, args), ms);
    }, ms);
    return event;
  }

  #rearmTimer(event: RelEvent, timer: Timer, ms: number, cb: EventCallback, args: unknown[]): void {
    if (this.#fire(event, cb, args))
      timer.start(() => this.#rearmTimer(event, timer, ms, cb, args), ms);
  }

  /** Calls cb(...args) on each delivery of `sig`, while it returns true. */
  signal<A extends unknown[]>(
    sig: number | string,
    cb: (...args: A) => unknown,
    ...args: A
  ): RelEvent {
    validateFunction(cb, 'cb');
    const signum = toSignalNumber(sig, 'sig');
    const handle = new Signal(this.loop);
    const event = this.#event(() => handle.close());
    try {
      handle.start(() => {
        this.#fire(event, cb as EventCallback, args);
      }, signum);
    } catch (err) {
      event.delete();
      throw err;
    }
    return event;
  }

  /**
   * Runs until abort() or until no event is pending. Rejects with the
   * first exception a callback threw (that callback is deleted).
   */
  dispatch(): Promise<void> {
    if (this.#events.size === 0) return Promise.resolve();
    return new Promise((resolve, reject) =>
      this.#waiters.push(() => {
        const error = this.#error;
        this.#error = undefined;
        if (error !== undefined) reject(error);
        else resolve();
      }),
    );
  }

  /** Deletes every event; a pending dispatch() resolves. */
  abort(): void {
    for (const event of [...this.#events]) event.delete();
    this.#wake();
  }

  #io(fd: number, kind: 'read' | 'write', cb: EventCallback, args: unknown[]): RelEvent {
    validateInteger(fd, 'fd', 0, 2 ** 31 - 1);
    validateFunction(cb, 'cb');
    let entry = this.#fds.get(fd);
    if (entry === undefined) {
      entry = {
        poll: new Poll(this.loop, fd),
        read: undefined,
        readCb: undefined,
        write: undefined,
        writeCb: undefined,
      };
      this.#fds.set(fd, entry);
    }
    if (entry[kind] !== undefined) {
      throw new UsageError(
        'ERR_ALREADY_REGISTERED',
        `A ${kind} event is already registered for fd ${fd}`,
      );
    }
    const current = entry;
    const event = this.#event(() => {
      current[kind] = undefined;
      current[`${kind}Cb`] = undefined;
      this.#restart(fd, current);
    });
    entry[kind] = event;
    entry[`${kind}Cb`] = () => this.#fire(event, cb, args);
    this.#restart(fd, entry);
    return event;
  }

  #restart(fd: number, entry: FdEntry): void {
    if (entry.read === undefined && entry.write === undefined) {
      entry.poll.close();
      this.#fds.delete(fd);
      return;
    }
    entry.poll.start(
      { readable: entry.read !== undefined, writable: entry.write !== undefined },
      (err, events) => {
        if (err !== null || events.readable) entry.readCb?.();
        if (err !== null || events.writable) entry.writeCb?.();
      },
    );
  }

  /** A new pending event; deleting it runs `cleanup` and may end dispatch(). */
  #event(cleanup: () => void): RelEvent {
    const event = new RelEvent((e) => {
      cleanup();
      this.#events.delete(e);
      if (this.#events.size === 0) this.#wake();
    });
    this.#events.add(event);
    return event;
  }

  /** Runs a callback; deletes its event unless it returned true. */
  #fire(event: RelEvent, cb: EventCallback, args: unknown[]): boolean {
    if (!event.pending()) return false;
    let again = false;
    try {
      again = (cb as (...a: unknown[]) => unknown)(...args) === true;
    } catch (err) {
      this.#error ??= err;
    }
    if (!again) {
      event.delete();
      if (this.#error !== undefined) this.#wake();
    }
    return again;
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }
}

let defaultRegistrar: Registrar | undefined;

/** The registrar the module-level functions use (on Loop.default()). */
export function registrar(): Registrar {
  if (defaultRegistrar === undefined || defaultRegistrar.loop.closed)
    defaultRegistrar = new Registrar();
  return defaultRegistrar;
}

export const rel = {
  read: <A extends unknown[]>(fd: number, cb: (...args: A) => unknown, ...args: A): RelEvent =>
    registrar().read(fd, cb, ...args),
  write: <A extends unknown[]>(fd: number, cb: (...args: A) => unknown, ...args: A): RelEvent =>
    registrar().write(fd, cb, ...args),
  timeout: <A extends unknown[]>(sec: number, cb: (...args: A) => unknown, ...args: A): RelEvent =>
    registrar().timeout(sec, cb, ...args),
  signal: <A extends unknown[]>(
    sig: number | string,
    cb: (...args: A) => unknown,
    ...args: A
  ): RelEvent => registrar().signal(sig, cb, ...args),
  dispatch: (): Promise<void> => registrar().dispatch(),
  abort: (): void => registrar().abort(),
};
