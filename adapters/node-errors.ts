// Errors of the adapters: what Node's modules cannot do, and Node's own
// system errors turned into the UvError the loop layer promises.
import { UsageError } from '../errors/usage-error.js';
import { UvError } from '../handles/uv-error.js';

/**
 * Thrown by NodeEventLoop for what Node's public modules cannot do on this
 * Node version (SO_REUSEPORT on a TCP server before Node 22.12).
 */
export function notSupported(what: string): UsageError {
  return new UsageError(
    'ERR_NOT_SUPPORTED',
    `NodeEventLoop does not support ${what}: Node's modules cannot do it (use UvEventLoop)`,
  );
}

/**
 * Node's system errors carry libuv's negative errno and the syscall, so the
 * same UvError that UvEventLoop raises can be built from them; anything
 * else (TLS, usage errors) is passed through unchanged.
 */
export function toUvError(err: unknown): Error {
  if (err instanceof UvError) return err;
  if (err instanceof Error) {
    const sys = err as Error & {
      errno?: unknown;
      syscall?: unknown;
      address?: unknown;
      port?: unknown;
      path?: unknown;
      hostname?: unknown;
    };
    if (typeof sys.errno === 'number' && sys.errno < 0 && typeof sys.syscall === 'string') {
      const where =
        typeof sys.path === 'string'
          ? sys.path
          : typeof sys.address === 'string'
            ? `${sys.address}${typeof sys.port === 'number' ? `:${sys.port}` : ''}`
            : typeof sys.hostname === 'string'
              ? sys.hostname // node:dns's lookup errors name the host there
              : undefined;
      try {
        // Node names the program in a spawn error's syscall ('spawn ls');
        // libuv's syscall is 'spawn', with the program as the path.
        return new UvError(sys.errno, sys.syscall.split(' ')[0]!, where);
      } catch {
        return err;
      }
    }
    return err;
  }
  return new Error(String(err));
}
