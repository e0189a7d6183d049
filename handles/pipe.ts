import { binding } from './binding.js';
import { bindToContext } from './async-context.js';
import { Handle } from './handle.js';
import { kNative } from './internal.js';
import type { Loop } from './loop.js';
import { Stream, type NativeStream, type WriteCallback, type WriteData } from './stream.js';
import { TCP } from './tcp.js';
import { UDP } from './udp.js';
import { UsageError } from '../errors/usage-error.js';
import { UvError, check, errno, errorOf } from './uv-error.js';
import {
  invalidArgType,
  validateFunction,
  validateInteger,
  validateString,
} from '../errors/validate.js';

/** The native side of a Pipe (native/pipe_wrap.cc). */
export interface NativePipe extends NativeStream {
  init(loop: unknown, ipc: boolean): number;
  bind(name: string): number;
  connect(name: string): number;
  connectAbstract(name: string): [number, number];
  open(fd: number): number;
  chmod(flags: number): number;
  getsockname(): string | number;
  getpeername(): string | number;
  pendingCount(): number;
  pendingType(): PendingType | null;
  isIpc(): boolean;
  dupFileno(): number;
}

/** The kind of handle waiting to be accepted on an IPC pipe. */
export type PendingType = 'tcp' | 'pipe' | 'udp';

/**
 * @internal A close-on-exec duplicate of `fd` (the same open file), the
 * caller's to close: a second watcher of a file whose fd a handle of the
 * same libuv loop uses (libuv keeps one watcher per fd and loop). A
 * UvError EBADF for an fd that is not open.
 */
export function duplicateFd(fd: number): number {
  const dup = (binding['dup'] as (fd: number) => number)(fd);
  if (dup < 0) throw new UvError(dup, 'dup');
  return dup;
}

/** Who may connect to a bound pipe, for chmod(). */
export type PipeMode = 'r' | 'w' | 'rw';

// libuv's UV_READABLE / UV_WRITABLE, the flags uv_pipe_chmod takes.
const chmodFlags: Record<PipeMode, number> = { r: 1, w: 2, rw: 3 };

function name(result: string | number, syscall: string): string {
  if (typeof result === 'number') throw new UvError(result, syscall);
  return result;
}

/** The size of write data; -1 for what write() itself will reject. */
function byteLength(data: WriteData): number {
  if (typeof data === 'string') return Buffer.byteLength(data);
  if (data instanceof Uint8Array) return data.byteLength;
  if (Array.isArray(data))
    return data.reduce(
      (n: number, b: unknown) => n + (b instanceof Uint8Array ? b.byteLength : 1),
      0,
    );
  return -1;
}

/** Names are paths, or Linux abstract names starting with '\0'; no other NULs. */
function validateName(value: unknown, argName: string): asserts value is string {
  validateString(value, argName);
  if (value.length === 0 || value.indexOf('\0', 1) !== -1) {
    throw new UsageError(
      'ERR_INVALID_ARG_VALUE',
      `The "${argName}" argument must be a non-empty path, or an abstract name starting with '\\0' and holding no other NUL. Received ${JSON.stringify(value)}`,
    );
  }
}

/**
 * uv_pipe_t: Unix domain sockets (paths, or Linux abstract names that start
 * with '\0') and pipes opened from an fd.
 *
 * An IPC pipe (`new Pipe(loop, true)`) also carries handles: write(data, cb,
 * handle) passes a TCP, Pipe or UDP handle along with the bytes, and the
 * receiver, in the read callback that delivers those bytes, checks
 * pendingCount()/pendingType() and accepts each pending handle into a new,
 * unused handle of that type. Both ends of an IPC channel must be IPC pipes.
 */
export class Pipe extends Stream<NativePipe> {
  #connecting = false;

  constructor(loop?: Loop, ipc = false) {
    if (typeof ipc !== 'boolean') throw invalidArgType('ipc', 'a boolean', ipc);
    const native = new (binding['Pipe'] as new () => NativePipe)();
    super(loop, native, 'pipe_init', (l) => native.init(l, ipc));
  }

  /** True for pipes that pass handles. */
  get ipc(): boolean {
    return !this.closed && this[kNative].isIpc();
  }

  /**
   * Binds to a path (created as a socket file, removed again on close) or
   * an abstract name ('\0name', Linux). A name longer than the platform's
   * limit (107 bytes on Linux) is EINVAL, never silently truncated.
   */
  bind(path: string): void {
    this.assertOpen();
    validateName(path, 'path');
    check(this[kNative].bind(path), 'bind', JSON.stringify(path));
  }

  /** Listens; `onConnection` runs for each incoming connection, to accept(). */
  listen(backlog: number, onConnection: (err: UvError | null) => void): void {
    validateInteger(backlog, 'backlog', 0, 65535);
    this.listenWith(backlog, onConnection);
  }

  /**
   * Accepts a pending connection into a new, unused Pipe. On an IPC pipe,
   * accepts the next pending handle instead: `client` must be a new handle
   * of the type pendingType() names (TCP, Pipe or UDP).
   */
  accept(client: Handle): void {
    this.acceptInto(client);
  }

  /** Connects to a path or an abstract name; ENOENT, ECONNREFUSED arrive in `cb`. */
  connect(path: string, cb: (err: UvError | null) => void): void {
    this.assertOpen();
    validateName(path, 'path');
    validateFunction(cb, 'cb');
    if (path[0] === '\0') {
      // Connected (or refused) at once by native code, see pipe_wrap.cc;
      // the callback still runs later, never inside connect().
      const [status, connectStatus] = this[kNative].connectAbstract(path);
      check(status, 'connect', JSON.stringify(path));
      queueMicrotask(() => cb(errorOf(connectStatus, 'connect', JSON.stringify(path))));
      return;
    }
    // libuv 1.46 takes a second connect on a connecting pipe and drops the
    // first request, which then keeps the loop alive forever: refuse it.
    if (this.#connecting) throw new UvError(errno['EALREADY']!, 'connect', JSON.stringify(path));
    const done = bindToContext(cb, 'asyncuv.PipeConnect')!;
    this[kNative].onconnect = (status) => {
      this.#connecting = false;
      done(errorOf(status, 'connect', JSON.stringify(path)));
    };
    check(this[kNative].connect(path), 'connect', JSON.stringify(path));
    this.#connecting = true;
  }

  /** Wraps an existing fd (a pipe or a Unix socket); it is set non-blocking. */
  open(fd: number): void {
    this.assertOpen();
    validateInteger(fd, 'fd', 0, 2 ** 31 - 1);
    check(this[kNative].open(fd), 'pipe_open');
  }

  /**
   * Sets the mode of a bound socket file to readable (`r--r--r--`), writable
   * (`-w--w--w-`) or both (`rw-rw-rw-`) for everyone, as libuv 1.51 and
   * later do, on every Node version.
   */
  chmod(mode: PipeMode): void {
    this.assertOpen();
    // hasOwn: inherited keys ('constructor') are not modes (they reached libuv as EINVAL).
    const flags =
      typeof mode === 'string' && Object.hasOwn(chmodFlags, mode) ? chmodFlags[mode] : undefined;
    if (flags === undefined) {
      throw new UsageError(
        'ERR_INVALID_ARG_VALUE',
        `The "mode" argument must be 'r', 'w' or 'rw'. Received ${String(mode)}`,
      );
    }
    check(this[kNative].chmod(flags), 'chmod');
  }

  /**
   * @internal A new fd (close-on-exec) for this handle's socket, the
   * caller's to own and close: how NodeEventLoop hands node:net a Unix
   * socket given as `sock`.
   */
  dupFileno(): number {
    this.assertOpen();
    return check(this[kNative].dupFileno(), 'dup');
  }

  /** The bound name ('' if unbound); abstract names keep their leading '\0'. */
  getsockname(): string {
    this.assertOpen();
    return name(this[kNative].getsockname(), 'getsockname');
  }

  /** The peer's name ('' for an unnamed peer, such as a connecting client). */
  getpeername(): string {
    this.assertOpen();
    return name(this[kNative].getpeername(), 'getpeername');
  }

  /** Handles received and not yet accepted (IPC pipes). */
  pendingCount(): number {
    this.assertOpen();
    return check(this[kNative].pendingCount(), 'pending_count');
  }

  /** The type of the next handle to accept, or null if none is pending. */
  pendingType(): PendingType | null {
    this.assertOpen();
    return this[kNative].pendingType();
  }

  /**
   * Writes bytes; on an IPC pipe, `sendHandle` travels with them. Keep the
   * handle open until `cb` runs (close it there if this process no longer
   * needs it): a handle closed while the write still waits in line is not
   * sent, and `cb` gets EBADF. Data sent with a handle must not be empty:
   * the handle rides on the bytes.
   */
  override write(data: WriteData, cb?: WriteCallback, sendHandle?: TCP | Pipe | UDP): void {
    if (sendHandle === undefined) {
      this.writeWith(data, cb, undefined);
      return;
    }
    // The kinds a Unix socket can carry: another handle (a Timer, a TTY)
    // reached libuv's checks and failed there as EBADF or EINVAL.
    if (!(sendHandle instanceof TCP || sendHandle instanceof Pipe || sendHandle instanceof UDP))
      throw invalidArgType('sendHandle', 'a TCP, Pipe or UDP handle', sendHandle);
    if (sendHandle.closed)
      throw new UsageError('ERR_HANDLE_CLOSED', 'The handle to send is closed');
    if (!this.closed && !this.ipc)
      throw new UsageError(
        'ERR_INVALID_ARG_VALUE',
        'Only IPC pipes (new Pipe(loop, true)) can send handles',
      );
    if (byteLength(data) === 0)
      throw new UsageError('ERR_INVALID_ARG_VALUE', 'Data sent with a handle must not be empty');
    this.writeWith(data, cb, sendHandle[kNative]);
  }
}
