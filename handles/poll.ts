import { binding, type NativeHandle, type NativeLoop, type Status } from './binding.js';
import { bindToContext } from './async-context.js';
import { Handle, loopArg } from './handle.js';
import { kNative } from './internal.js';
import type { Loop } from './loop.js';
import { check, errno, errorOf, UvError } from './uv-error.js';
import {
  invalidArgType,
  validateFunction,
  validateInteger,
  validateOptionalBoolean,
} from '../errors/validate.js';

export interface PollEvents {
  readable?: boolean;
  writable?: boolean;
  /** The peer closed its end (EPOLLRDHUP); only reported when asked for. */
  disconnect?: boolean;
  /** Urgent (out-of-band) data is readable. */
  prioritized?: boolean;
}

/** `events` says which conditions hold now; on an error the poll is already stopped. */
export type PollCallback = (
  err: UvError | null,
  events: Required<PollEvents>,
  handle: Poll,
) => void;

interface NativePoll extends NativeHandle {
  init(loop: NativeLoop, fd: number): Status;
  start(events: number): Status;
  stop(): Status;
  ownFd(): Status;
}

const NativePollCtor = binding['Poll'] as new () => NativePoll;

// uv_poll_event
const UV_READABLE = 1;
const UV_WRITABLE = 2;
const UV_DISCONNECT = 4;
const UV_PRIORITIZED = 8;

/**
 * The fds watched by a Poll, per loop. libuv supports one watcher per fd
 * and loop and misbehaves with two (the second never fires), so a second
 * Poll on an fd is refused. Weak references let an unreachable, inactive
 * Poll be collected (and closed by its finalizer) as any other handle.
 */
const polledFds = new WeakMap<Loop, Map<number, WeakRef<Poll>>>();

function fdOwner(loop: Loop, fd: number): Poll | undefined {
  const poll = polledFds.get(loop)?.get(fd)?.deref();
  return poll !== undefined && !poll.closed ? poll : undefined;
}

function toEvents(events: number): Required<PollEvents> {
  return {
    readable: (events & UV_READABLE) !== 0,
    writable: (events & UV_WRITABLE) !== 0,
    disconnect: (events & UV_DISCONNECT) !== 0,
    prioritized: (events & UV_PRIORITIZED) !== 0,
  };
}

/**
 * uv_poll_t: readiness of a file descriptor owned by someone else (a
 * socket from another library, a pipe, a tty). One Poll per fd and loop;
 * close the Poll before closing the fd. The fd is set to non-blocking.
 */
export class Poll extends Handle<NativePoll> {
  readonly fd: number;
  #cb: PollCallback | undefined;

  constructor(loop: Loop | undefined, fd: number) {
    const l = loopArg(loop);
    validateInteger(fd, 'fd', 0, 2 ** 31 - 1);
    if (fdOwner(l, fd) !== undefined) {
      throw new UvError(
        errno['EEXIST']!,
        'poll_init',
        `(fd ${fd} is already watched by a Poll on this loop)`,
      );
    }
    const native = new NativePollCtor();
    super(l, native, 'poll_init', (nl) => native.init(nl, fd));
    this.fd = fd;
    let fds = polledFds.get(l);
    if (fds === undefined) {
      fds = new Map();
      polledFds.set(l, fds);
    }
    fds.set(fd, new WeakRef(this));
    native.onevent = (status: number, events: number) => {
      this.#cb?.(errorOf(status, 'poll'), toEvents(events), this);
    };
  }

  /** Watches for the given events (replacing earlier ones). At least one must be asked for. */
  start(events: PollEvents, cb: PollCallback): void {
    this.assertOpen();
    if (typeof events !== 'object' || events === null)
      throw invalidArgType('events', 'an object', events);
    validateFunction(cb, 'cb');
    // Booleans, as the type says: a truthy string or number was watched as true.
    for (const name of ['readable', 'writable', 'disconnect', 'prioritized'] as const)
      validateOptionalBoolean(events[name], `events.${name}`);
    const mask =
      (events.readable ? UV_READABLE : 0) |
      (events.writable ? UV_WRITABLE : 0) |
      (events.disconnect ? UV_DISCONNECT : 0) |
      (events.prioritized ? UV_PRIORITIZED : 0);
    if (mask === 0)
      throw invalidArgType('events', 'an object asking for at least one event', events);
    this.#cb = bindToContext(cb, 'asyncuv.Poll');
    check(this[kNative].start(mask), 'poll_start');
  }

  stop(): void {
    this.assertOpen();
    check(this[kNative].stop(), 'poll_stop');
  }

  /** Closes the handle; the fd is free for a new Poll at once. */
  override close(cb?: () => void): void {
    const wasOpen = !this.closed;
    super.close(cb);
    if (wasOpen) {
      const fds = polledFds.get(this.loop);
      if (fds?.get(this.fd)?.deref() === this) fds.delete(this.fd);
    }
  }
}

/**
 * @internal Hands `poll`'s fd to it: closed when the Poll closes, also by
 * its Loop's close (a worker's teardown), once it has left the epoll set.
 * For fds the library makes for itself (sendfile's duplicate of a socket).
 */
export function pollOwnsFd(poll: Poll): void {
  check(poll[kNative].ownFd(), 'poll_own_fd');
}
