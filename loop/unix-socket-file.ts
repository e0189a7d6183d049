// A Unix server's socket file on close. libuv (under both loops: asyncuv's
// Pipe and Node's net.Server) unlinks the path it bound when the listening
// handle closes, whatever is at that path by then. asyncio removes the file
// only if it is still the one the server bound (same st_dev and st_ino), so
// that a socket file someone else put there since is left alone
// (test_server.py: test_unix_server_cleanup_replaced).
import { linkSync, renameSync, rmSync, statSync } from 'node:fs';
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
 * Wraps the listener of a Unix server bound at `path` so that its close()
 * keeps a file that replaced the server's own: the file gets a second name
 * (a hard link beside it) while the listener closes and unlinks `path`, and
 * is renamed back at once (both synchronous: the listener's close unlinks
 * before it returns). If no link can be made, the listener closes as it is.
 */
export function keepReplacedSocketFile(
  listener: Listener<UnixServerAddress>,
  path: string,
): Listener<UnixServerAddress> {
  const ours = identity(path);
  return {
    address: listener.address,
    start: () => listener.start(),
    close: () => {
      const now = identity(path);
      if (now === null || now === ours) return listener.close();
      const aside = `${path}.asyncuv-keep-${process.pid}-${asideCount++}`;
      try {
        linkSync(path, aside);
      } catch {
        return listener.close();
      }
      try {
        listener.close();
      } finally {
        try {
          renameSync(aside, path);
        } catch {
          rmSync(aside, { force: true });
        }
      }
    },
  };
}
