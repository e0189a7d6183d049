// A Unix server's socket file on close. libuv (under both loops: asyncuv's
// Pipe and Node's net.Server) unlinks the path it bound when the listening
// handle closes, whatever is at that path by then. asyncio removes the file
// only if it is still the one the server bound (same st_dev and st_ino), so
// that a socket file someone else put there since is left alone
// (test_server.py: test_unix_server_cleanup_replaced).
//
// A server given a bound socket (createUnixServer's `sock`, a Pipe) treats
// its file as the handle's own close() would: libuv unlinks the path of a
// Pipe bound with bind(), never that of one opened from an fd (the server
// did not make that file, and leaves it alone).
import { existsSync, linkSync, renameSync, rmSync, statSync } from 'node:fs';
import type { Listener } from './server.js';
import type { UnixServerAddress } from './events.js';

let asideCount = 0;

/** The identity of the file at `path`, or null if there is none. */
function identity(path: string): string | null {
  try {
    const st = statSync(path);
    return `${st.dev}:${st.ino}`;
  } catch {
    return null;
  }
}

/**
 * Runs `close` (the close of a handle bound at `path`, which libuv may
 * make unlink it) keeping the file at `path`: the file gets a second name
 * (a hard link beside it) while `close` runs, and has its first name back
 * at once (both synchronous: a close unlinks before it returns). Returns
 * whether `close` removed the file; if there is no file, or no link can be
 * made, `close` runs as it is and this returns false.
 */
function closeKeepingFile(path: string, close: () => void): boolean {
  if (identity(path) === null) {
    close();
    return false;
  }
  const aside = `${path}.asyncuv-keep-${process.pid}-${asideCount++}`;
  try {
    linkSync(path, aside);
  } catch {
    close();
    return false;
  }
  let removed: boolean;
  try {
    close();
  } finally {
    removed = !existsSync(path);
    try {
      // A rename onto another name of the same file would leave `aside` there.
      if (removed) renameSync(aside, path);
      else rmSync(aside, { force: true });
    } catch {
      rmSync(aside, { force: true });
    }
  }
  return removed;
}

/**
 * Wraps the listener of a Unix server bound at `path` so that its close()
 * keeps a file that replaced the server's own (closeKeepingFile).
 */
export function keepReplacedSocketFile(
  listener: Listener<UnixServerAddress>,
  path: string,
): Listener<UnixServerAddress> {
  const ours = identity(path);
  return withClose(listener, () => {
    const now = identity(path);
    if (now === null || now === ours) listener.close();
    else closeKeepingFile(path, () => listener.close());
  });
}

/**
 * Closes `sock`, a Pipe bound to `path`, keeping its socket file where
 * libuv's close would unlink it: how NodeEventLoop, whose server listens
 * on a duplicate of the fd, lets go of the handle at once. Returns whether
 * the close would have removed the file (the handle bound it), so that
 * the server removes it when it closes instead.
 */
export function closeKeepingSocketFile(sock: { close(): void }, path: string): boolean {
  return closeKeepingFile(path, () => sock.close());
}

/**
 * A listener whose close() removes the socket file at `path` too, if it is
 * still the file there now (asyncio's cleanup_socket): the duty
 * closeKeepingSocketFile took from the handle.
 */
export function removeSocketFileOnClose(
  listener: Listener<UnixServerAddress>,
  path: string,
): Listener<UnixServerAddress> {
  const ours = identity(path);
  return withClose(listener, () => {
    listener.close();
    if (ours !== null && identity(path) === ours) rmSync(path, { force: true });
  });
}

/**
 * A listener whose close() leaves the socket file at `path`, whatever the
 * close of the handle under it would do (asyncio's cleanup_socket=False).
 */
export function keepSocketFile(
  listener: Listener<UnixServerAddress>,
  path: string,
): Listener<UnixServerAddress> {
  return withClose(listener, () => {
    closeKeepingFile(path, () => listener.close());
  });
}

/** `listener` with another close(). */
function withClose(
  listener: Listener<UnixServerAddress>,
  close: () => void,
): Listener<UnixServerAddress> {
  return { address: listener.address, start: () => listener.start(), close };
}
