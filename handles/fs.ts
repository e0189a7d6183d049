// fs: completion-based file I/O on a private loop. Every function takes the
// loop first (undefined means Loop.default()) and returns a Promise of the
// completed operation: read resolves once the bytes are in the buffer,
// sendfile once they were transferred. Failures reject with a UvError whose
// syscall is the operation ('open', 'read', ...).
import { constants } from 'node:fs';
import { binding } from './binding.js';
import { loopArg } from './handle.js';
import { kNative } from './internal.js';
import type { Loop } from './loop.js';
import type { NativeLoop } from './binding.js';
import { Stats } from './stats.js';
import { UsageError } from '../errors/usage-error.js';
import { UvError } from './uv-error.js';
import { invalidArgType, validateInteger, validateString } from '../errors/validate.js';

/** What native/fs_wrap.cc returns: a Promise of the raw result, or a negative code. */
type Pending<T> = Promise<T | number> | number;

interface NativeFs {
  open(loop: NativeLoop, path: string, flags: number, mode: number): Pending<number>;
  close(loop: NativeLoop, fd: number): Pending<number>;
  fsync(loop: NativeLoop, fd: number): Pending<number>;
  fstat(loop: NativeLoop, fd: number): Pending<Float64Array>;
  read(
    loop: NativeLoop,
    fd: number,
    buffer: ArrayBufferView,
    offset: number,
    length: number,
    position: number,
  ): Pending<number>;
  write(
    loop: NativeLoop,
    fd: number,
    buffer: ArrayBufferView,
    offset: number,
    length: number,
    position: number,
  ): Pending<number>;
  ftruncate(loop: NativeLoop, fd: number, length: number): Pending<number>;
  stat(loop: NativeLoop, path: string): Pending<Float64Array>;
  lstat(loop: NativeLoop, path: string): Pending<Float64Array>;
  unlink(loop: NativeLoop, path: string): Pending<number>;
  rmdir(loop: NativeLoop, path: string): Pending<number>;
  scandir(loop: NativeLoop, path: string): Pending<Array<{ name: string; type: number }>>;
  rename(loop: NativeLoop, from: string, to: string): Pending<number>;
  mkdir(loop: NativeLoop, path: string, mode: number): Pending<number>;
  sendfile(
    loop: NativeLoop,
    outFd: number,
    inFd: number,
    offset: number,
    length: number,
  ): Pending<number>;
  fdatasync(loop: NativeLoop, fd: number): Pending<number>;
  chmod(loop: NativeLoop, path: string, mode: number): Pending<number>;
  fchmod(loop: NativeLoop, fd: number, mode: number): Pending<number>;
  chown(loop: NativeLoop, path: string, uid: number, gid: number): Pending<number>;
  lchown(loop: NativeLoop, path: string, uid: number, gid: number): Pending<number>;
  fchown(loop: NativeLoop, fd: number, uid: number, gid: number): Pending<number>;
  link(loop: NativeLoop, existing: string, path: string): Pending<number>;
  symlink(loop: NativeLoop, target: string, path: string): Pending<number>;
  readlink(loop: NativeLoop, path: string): Pending<string | number>;
  realpath(loop: NativeLoop, path: string): Pending<string | number>;
  mkdtemp(loop: NativeLoop, template: string): Pending<string | number>;
  utime(loop: NativeLoop, path: string, atime: number, mtime: number): Pending<number>;
  lutime(loop: NativeLoop, path: string, atime: number, mtime: number): Pending<number>;
  futime(loop: NativeLoop, fd: number, atime: number, mtime: number): Pending<number>;
  access(loop: NativeLoop, path: string, mode: number): Pending<number>;
  copyfile(loop: NativeLoop, from: string, to: string, flags: number): Pending<number>;
}

const native = binding['fs'] as NativeFs;

/** Awaits a native request and turns a negative outcome into a UvError. */
async function settle<T>(pending: Pending<T>, syscall: string, detail?: string): Promise<T> {
  const result = await pending;
  if (typeof result === 'number' && result < 0) throw new UvError(result, syscall, detail);
  return result as T;
}

function nativeLoop(loop: Loop | undefined): NativeLoop {
  return loopArg(loop)[kNative];
}

function quote(path: string): string {
  return `'${path}'`;
}

function validateFd(fd: unknown, name = 'fd'): asserts fd is number {
  validateInteger(fd, name, 0, 2 ** 31 - 1);
}

function validatePath(path: unknown, name = 'path'): asserts path is string {
  validateString(path, name);
  if (path.includes('\0')) {
    throw new UsageError(
      'ERR_INVALID_ARG_VALUE',
      `The "${name}" argument must not contain null bytes`,
    );
  }
}

const flagStrings: Record<string, number> = {
  r: constants.O_RDONLY,
  'r+': constants.O_RDWR,
  w: constants.O_TRUNC | constants.O_CREAT | constants.O_WRONLY,
  wx: constants.O_TRUNC | constants.O_CREAT | constants.O_WRONLY | constants.O_EXCL,
  'w+': constants.O_TRUNC | constants.O_CREAT | constants.O_RDWR,
  'wx+': constants.O_TRUNC | constants.O_CREAT | constants.O_RDWR | constants.O_EXCL,
  a: constants.O_APPEND | constants.O_CREAT | constants.O_WRONLY,
  ax: constants.O_APPEND | constants.O_CREAT | constants.O_WRONLY | constants.O_EXCL,
  'a+': constants.O_APPEND | constants.O_CREAT | constants.O_RDWR,
  'ax+': constants.O_APPEND | constants.O_CREAT | constants.O_RDWR | constants.O_EXCL,
};

/** Node-style flag strings or O_* numbers (from node:fs constants). */
export type OpenFlags = number | 'r' | 'r+' | 'w' | 'wx' | 'w+' | 'wx+' | 'a' | 'ax' | 'a+' | 'ax+';

function toFlags(flags: unknown): number {
  if (typeof flags === 'number') {
    validateInteger(flags, 'flags', -(2 ** 31), 2 ** 31 - 1);
    return flags;
  }
  if (typeof flags === 'string') {
    // hasOwn: inherited keys ('constructor') are not flags (they reached libuv as EINVAL).
    const f = Object.hasOwn(flagStrings, flags) ? flagStrings[flags] : undefined;
    if (f === undefined)
      throw new UsageError('ERR_INVALID_ARG_VALUE', `Unknown file open flags: ${flags}`);
    return f;
  }
  throw invalidArgType('flags', 'a number or a string', flags);
}

/** A position for read/write: a byte offset, or null/-1 for the current position. */
function toPosition(position: unknown): number {
  if (position === null || position === undefined) return -1;
  if (typeof position === 'bigint') position = Number(position);
  validateInteger(position, 'position', -1);
  return position;
}

/** Opens a file and resolves with its descriptor. */
export async function open(
  loop: Loop | undefined,
  path: string,
  flags: OpenFlags = 'r',
  mode = 0o666,
): Promise<number> {
  validatePath(path);
  const f = toFlags(flags);
  validateInteger(mode, 'mode', 0, 0o7777);
  return settle(native.open(nativeLoop(loop), path, f, mode), 'open', quote(path));
}

export async function close(loop: Loop | undefined, fd: number): Promise<void> {
  validateFd(fd);
  await settle(native.close(nativeLoop(loop), fd), 'close');
}

/**
 * Reads up to `length` bytes at `position` (null: the current position)
 * into `buffer` at `offset`. Resolves with the bytes read, 0 at EOF. The
 * buffer is kept alive until the read completes; do not transfer or resize
 * its ArrayBuffer meanwhile.
 */
export async function read(
  loop: Loop | undefined,
  fd: number,
  buffer: ArrayBufferView,
  offset = 0,
  length: number = buffer.byteLength - offset,
  position: number | bigint | null = null,
): Promise<number> {
  validateFd(fd);
  if (!ArrayBuffer.isView(buffer)) throw invalidArgType('buffer', 'an ArrayBufferView', buffer);
  validateInteger(offset, 'offset', 0, buffer.byteLength);
  validateInteger(length, 'length', 0, buffer.byteLength - offset);
  return settle(
    native.read(nativeLoop(loop), fd, buffer, offset, length, toPosition(position)),
    'read',
  );
}

/**
 * Writes `data` (bytes `offset` to `offset + length` of a buffer, or a
 * string as UTF-8) at `position` (null: the current position). Resolves
 * with the bytes written, which may be fewer than asked.
 */
export async function write(
  loop: Loop | undefined,
  fd: number,
  data: ArrayBufferView | string,
  offset = 0,
  length?: number,
  position: number | bigint | null = null,
): Promise<number> {
  validateFd(fd);
  const buffer = typeof data === 'string' ? Buffer.from(data) : data;
  if (!ArrayBuffer.isView(buffer))
    throw invalidArgType('data', 'an ArrayBufferView or a string', data);
  validateInteger(offset, 'offset', 0, buffer.byteLength);
  const len = length ?? buffer.byteLength - offset;
  validateInteger(len, 'length', 0, buffer.byteLength - offset);
  return settle(
    native.write(nativeLoop(loop), fd, buffer, offset, len, toPosition(position)),
    'write',
  );
}

export async function stat(loop: Loop | undefined, path: string): Promise<Stats> {
  validatePath(path);
  return new Stats(await settle(native.stat(nativeLoop(loop), path), 'stat', quote(path)));
}

/** Like stat, but a symbolic link describes itself, not its target. */
export async function lstat(loop: Loop | undefined, path: string): Promise<Stats> {
  validatePath(path);
  return new Stats(await settle(native.lstat(nativeLoop(loop), path), 'lstat', quote(path)));
}

export async function fstat(loop: Loop | undefined, fd: number): Promise<Stats> {
  validateFd(fd);
  return new Stats(await settle(native.fstat(nativeLoop(loop), fd), 'fstat'));
}

export async function fsync(loop: Loop | undefined, fd: number): Promise<void> {
  validateFd(fd);
  await settle(native.fsync(nativeLoop(loop), fd), 'fsync');
}

export async function ftruncate(loop: Loop | undefined, fd: number, length = 0): Promise<void> {
  validateFd(fd);
  validateInteger(length, 'length');
  await settle(native.ftruncate(nativeLoop(loop), fd, length), 'ftruncate');
}

export async function rename(loop: Loop | undefined, from: string, to: string): Promise<void> {
  validatePath(from, 'from');
  validatePath(to, 'to');
  await settle(
    native.rename(nativeLoop(loop), from, to),
    'rename',
    `${quote(from)} -> ${quote(to)}`,
  );
}

export async function unlink(loop: Loop | undefined, path: string): Promise<void> {
  validatePath(path);
  await settle(native.unlink(nativeLoop(loop), path), 'unlink', quote(path));
}

export async function mkdir(loop: Loop | undefined, path: string, mode = 0o777): Promise<void> {
  validatePath(path);
  validateInteger(mode, 'mode', 0, 0o7777);
  await settle(native.mkdir(nativeLoop(loop), path, mode), 'mkdir', quote(path));
}

export async function rmdir(loop: Loop | undefined, path: string): Promise<void> {
  validatePath(path);
  await settle(native.rmdir(nativeLoop(loop), path), 'rmdir', quote(path));
}

/** The kind of a directory entry, from uv_dirent_type_t. */
export type DirentType = 'unknown' | 'file' | 'dir' | 'link' | 'fifo' | 'socket' | 'char' | 'block';
const direntTypes: readonly DirentType[] = [
  'unknown',
  'file',
  'dir',
  'link',
  'fifo',
  'socket',
  'char',
  'block',
];

export interface Dirent {
  name: string;
  type: DirentType;
}

/** The entries of a directory, without '.' and '..'. */
export async function scandir(loop: Loop | undefined, path: string): Promise<Dirent[]> {
  validatePath(path);
  const entries = await settle(native.scandir(nativeLoop(loop), path), 'scandir', quote(path));
  return entries.map((e) => ({ name: e.name, type: direntTypes[e.type] ?? 'unknown' }));
}

/**
 * Copies `length` bytes of `inFd` from `offset` to `outFd` (a file or a
 * socket), libuv's uv_fs_sendfile in the thread pool. Resolves with the
 * bytes transferred, which may be fewer than asked at the end of the
 * input. The input file's own position is not moved. Between files the
 * kernel copies (copy_file_range); to a socket libuv reads and writes
 * through a buffer, and waits in the thread pool while the socket is full
 * (loop.sendfile of the loop layer hands sockets to the kernel instead).
 */
export async function sendfile(
  loop: Loop | undefined,
  outFd: number,
  inFd: number,
  offset: number,
  length: number,
): Promise<number> {
  validateFd(outFd, 'outFd');
  validateFd(inFd, 'inFd');
  validateInteger(offset, 'offset');
  validateInteger(length, 'length');
  return settle(native.sendfile(nativeLoop(loop), outFd, inFd, offset, length), 'sendfile');
}

/** Like fsync, without flushing metadata that reading the data back does not need. */
export async function fdatasync(loop: Loop | undefined, fd: number): Promise<void> {
  validateFd(fd);
  await settle(native.fdatasync(nativeLoop(loop), fd), 'fdatasync');
}

/** Sets a file's permission bits (`mode`, e.g. 0o644). */
export async function chmod(loop: Loop | undefined, path: string, mode: number): Promise<void> {
  validatePath(path);
  validateInteger(mode, 'mode', 0, 0o7777);
  await settle(native.chmod(nativeLoop(loop), path, mode), 'chmod', quote(path));
}

export async function fchmod(loop: Loop | undefined, fd: number, mode: number): Promise<void> {
  validateFd(fd);
  validateInteger(mode, 'mode', 0, 0o7777);
  await settle(native.fchmod(nativeLoop(loop), fd, mode), 'fchmod');
}

function validateId(id: unknown, name: string): asserts id is number {
  validateInteger(id, name, -1, 2 ** 32 - 1);
}

/** Sets a file's owner and group; -1 leaves one as it is. */
export function chown(
  loop: Loop | undefined,
  path: string,
  uid: number,
  gid: number,
): Promise<void> {
  return ownPath('chown', loop, path, uid, gid);
}

/** Like chown, but a symbolic link's own owner changes, not its target's. */
export function lchown(
  loop: Loop | undefined,
  path: string,
  uid: number,
  gid: number,
): Promise<void> {
  return ownPath('lchown', loop, path, uid, gid);
}

async function ownPath(
  call: 'chown' | 'lchown',
  loop: Loop | undefined,
  path: string,
  uid: number,
  gid: number,
): Promise<void> {
  validatePath(path);
  validateId(uid, 'uid');
  validateId(gid, 'gid');
  await settle(native[call](nativeLoop(loop), path, uid, gid), call, quote(path));
}

export async function fchown(
  loop: Loop | undefined,
  fd: number,
  uid: number,
  gid: number,
): Promise<void> {
  validateFd(fd);
  validateId(uid, 'uid');
  validateId(gid, 'gid');
  await settle(native.fchown(nativeLoop(loop), fd, uid, gid), 'fchown');
}

/** A new hard link `path` to the file at `existing`. */
export async function link(loop: Loop | undefined, existing: string, path: string): Promise<void> {
  validatePath(existing, 'existing');
  validatePath(path);
  await settle(
    native.link(nativeLoop(loop), existing, path),
    'link',
    `${quote(existing)} -> ${quote(path)}`,
  );
}

/** A symbolic link at `path` that points to `target` (not resolved now: it may dangle). */
export async function symlink(loop: Loop | undefined, target: string, path: string): Promise<void> {
  validatePath(target, 'target');
  validatePath(path);
  await settle(
    native.symlink(nativeLoop(loop), target, path),
    'symlink',
    `${quote(target)} -> ${quote(path)}`,
  );
}

/** What the symbolic link at `path` points to, as stored. */
export async function readlink(loop: Loop | undefined, path: string): Promise<string> {
  validatePath(path);
  return (await settle(native.readlink(nativeLoop(loop), path), 'readlink', quote(path))) as string;
}

/** The canonical absolute path: symbolic links, `.` and `..` resolved. */
export async function realpath(loop: Loop | undefined, path: string): Promise<string> {
  validatePath(path);
  return (await settle(native.realpath(nativeLoop(loop), path), 'realpath', quote(path))) as string;
}

/**
 * Makes a new directory named `prefix` and six random characters, and
 * resolves with its path (as node:fs's mkdtemp).
 */
export async function mkdtemp(loop: Loop | undefined, prefix: string): Promise<string> {
  validatePath(prefix, 'prefix');
  // mkdtemp(3)'s template: libuv has the six trailing X's replaced.
  const template = `${prefix}XXXXXX`;
  return (await settle(
    native.mkdtemp(nativeLoop(loop), template),
    'mkdtemp',
    quote(template),
  )) as string;
}

/** A time for utime: seconds since the epoch, or a Date. */
export type FileTime = number | Date;

function toSeconds(time: unknown, name: string): number {
  if (time instanceof Date) time = time.getTime() / 1000;
  if (typeof time !== 'number' || !Number.isFinite(time)) {
    throw invalidArgType(name, 'a finite number of seconds or a Date', time);
  }
  return time;
}

/** Sets a file's access and modification times (seconds since the epoch, or Dates). */
export function utime(
  loop: Loop | undefined,
  path: string,
  atime: FileTime,
  mtime: FileTime,
): Promise<void> {
  return timePath('utime', loop, path, atime, mtime);
}

/** Like utime, but a symbolic link's own times change, not its target's. */
export function lutime(
  loop: Loop | undefined,
  path: string,
  atime: FileTime,
  mtime: FileTime,
): Promise<void> {
  return timePath('lutime', loop, path, atime, mtime);
}

async function timePath(
  call: 'utime' | 'lutime',
  loop: Loop | undefined,
  path: string,
  atime: FileTime,
  mtime: FileTime,
): Promise<void> {
  validatePath(path);
  const [a, m] = [toSeconds(atime, 'atime'), toSeconds(mtime, 'mtime')];
  await settle(native[call](nativeLoop(loop), path, a, m), call, quote(path));
}

export async function futime(
  loop: Loop | undefined,
  fd: number,
  atime: FileTime,
  mtime: FileTime,
): Promise<void> {
  validateFd(fd);
  const [a, m] = [toSeconds(atime, 'atime'), toSeconds(mtime, 'mtime')];
  await settle(native.futime(nativeLoop(loop), fd, a, m), 'futime');
}

/**
 * Resolves if the process may access `path` as `mode` asks (node:fs's
 * constants F_OK, R_OK, W_OK, X_OK, or'ed; default F_OK: it exists), and
 * rejects with the reason (ENOENT, EACCES) otherwise.
 */
export async function access(
  loop: Loop | undefined,
  path: string,
  mode: number = constants.F_OK,
): Promise<void> {
  validatePath(path);
  validateInteger(mode, 'mode', 0, 7);
  await settle(native.access(nativeLoop(loop), path, mode), 'access', quote(path));
}

/**
 * Copies the file at `from` to `to`. `flags` are node:fs's constants:
 * COPYFILE_EXCL (fail if `to` exists), COPYFILE_FICLONE (a copy-on-write
 * clone where the file system can, else a copy), COPYFILE_FICLONE_FORCE
 * (a clone or a failure).
 */
export async function copyfile(
  loop: Loop | undefined,
  from: string,
  to: string,
  flags = 0,
): Promise<void> {
  validatePath(from, 'from');
  validatePath(to, 'to');
  validateInteger(flags, 'flags', 0, 7);
  await settle(
    native.copyfile(nativeLoop(loop), from, to, flags),
    'copyfile',
    `${quote(from)} -> ${quote(to)}`,
  );
}
